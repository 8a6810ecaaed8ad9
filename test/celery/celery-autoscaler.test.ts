// Celery workers that scale with load (issue #22, item 8): a KEDA ScaledObject like the official chart's, or an HPA on CPU.
import { Testing } from 'cdk8s';
import {
  AirflowChart,
  AirflowChartProps,
  AirflowSecrets,
  AirflowVolumes,
  CeleryWorkers,
  DatabaseConnection,
  ExternalMetadataDb,
  GitSyncMode,
  KubernetesExecutorAirflow,
  PostgresSslMode,
  celeryKedaQuery,
} from '../../lib';
import { kubernetesSchemaProblems, validationReport } from '../../validation';
import { byKind, errorOf, find, synthAirflow, testChart, validationError } from '../support';
import { findSecretMaterial } from '../support/secret-scan';

const chartOf = (props: AirflowChartProps) => new AirflowChart(Testing.app(), 'airflow', props);
const synth = (props: AirflowChartProps) => synthAirflow(chartOf(props), false);
const workers = (objects: any[]) => find(objects, 'Deployment', 'airflow-celery-worker');

/** Celery workers on a database of `connection`, synthesized: the chart's objects. */
function onExternalDb(connection: DatabaseConnection, keda: object = {}): any[] {
  const chart = testChart();
  const secrets = new AirflowSecrets(chart, 'secrets');
  const database = new ExternalMetadataDb(chart, 'db', { connection });
  const airflow = new KubernetesExecutorAirflow(chart, 'airflow', { volumes: new AirflowVolumes(chart, 'volumes'), database, secrets });
  new CeleryWorkers(airflow, 'celery', { airflow, keda });
  return Testing.synth(chart);
}

describe('KEDA', () => {
  const objects = synth({ celery: { keda: { maxReplicas: 4 } } });
  const scaled = find(objects, 'ScaledObject', 'airflow-celery-worker');
  const auth = find(objects, 'TriggerAuthentication', 'airflow-celery-worker-keda');

  test('the ScaledObject scales the workers Deployment between min and max, polling and cooling down as the official chart does', () => {
    expect(scaled.apiVersion).toBe('keda.sh/v1alpha1');
    expect(scaled.spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'airflow-celery-worker' },
      minReplicaCount: 0,
      maxReplicaCount: 4,
      pollingInterval: 5,
      cooldownPeriod: 30,
    });
    expect(scaled.spec.triggers).toHaveLength(1);
    expect(scaled.spec.triggers[0].type).toBe('postgresql');
    // One worker pod per unit of the query, which already divides by the concurrency.
    expect(scaled.spec.triggers[0].metadata.targetQueryValue).toBe('1');
  });

  test("the trigger counts the Celery tasks queued or running on the workers' queues, divided by the concurrency", () => {
    expect(scaled.spec.triggers[0].metadata.query).toBe(
      "SELECT ceil(COUNT(*)::decimal / 2) FROM task_instance WHERE (state='running' OR state='queued') AND queue IN ('default') " +
        "AND executor IN ('CeleryExecutor', 'airflow.providers.celery.executors.celery_executor.CeleryExecutor')",
    );
    const other = find(synth({ celery: { keda: {}, concurrency: 8, queues: ['default', 'sensors'], defaultExecutor: true } }), 'ScaledObject', 'airflow-celery-worker');
    // Celery is the default executor: tasks that name none (NULL) are Celery's.
    expect(other.spec.triggers[0].metadata.query).toBe(
      "SELECT ceil(COUNT(*)::decimal / 8) FROM task_instance WHERE (state='running' OR state='queued') AND queue IN ('default', 'sensors') " +
        "AND (executor IS NULL OR executor IN ('CeleryExecutor', 'airflow.providers.celery.executors.celery_executor.CeleryExecutor'))",
    );
  });

  test('KEDA logs in to the in-cluster database by its full DNS name, the password read from the Secret by the TriggerAuthentication', () => {
    expect(scaled.spec.triggers[0].authenticationRef).toEqual({ name: 'airflow-celery-worker-keda' });
    expect(scaled.spec.triggers[0].metadata).toMatchObject({
      host: 'airflow-postgres.airflow.svc.cluster.local',
      port: '5432',
      userName: 'airflow',
      dbName: 'airflow',
      sslmode: 'disable',
    });
    expect(auth.spec).toEqual({ secretTargetRef: [{ parameter: 'password', name: 'airflow-secrets', key: 'db-password' }] });
    expect(findSecretMaterial(objects)).toEqual([]);
  });

  test('an external database: its host, port and sslmode; a connection URI Secret as KEDA\'s "connection"', () => {
    const parts = onExternalDb(
      DatabaseConnection.postgres({ host: 'db.example.com', port: 6432, user: 'af', databaseName: 'meta', passwordSecret: { name: 'pg', key: 'pw' }, sslMode: PostgresSslMode.VERIFY_FULL }),
    );
    expect(find(parts, 'ScaledObject').spec.triggers[0].metadata).toMatchObject({ host: 'db.example.com', port: '6432', userName: 'af', dbName: 'meta', sslmode: 'verify-full' });
    expect(find(parts, 'TriggerAuthentication').spec.secretTargetRef).toEqual([{ parameter: 'password', name: 'pg', key: 'pw' }]);
    const unset = onExternalDb(DatabaseConnection.postgres({ host: 'db.example.com', passwordSecret: { name: 'pg', key: 'pw' } }));
    expect(find(unset, 'ScaledObject').spec.triggers[0].metadata.sslmode).toBe('prefer');
    const uri = onExternalDb(DatabaseConnection.fromUriSecret({ name: 'db-uri', key: 'uri' }));
    const metadata = find(uri, 'ScaledObject').spec.triggers[0].metadata;
    expect(Object.keys(metadata).sort()).toEqual(['query', 'targetQueryValue']);
    expect(find(uri, 'TriggerAuthentication').spec.secretTargetRef).toEqual([{ parameter: 'connection', name: 'db-uri', key: 'uri' }]);
  });

  test('the Deployment leaves replicas to the autoscaler (a fixed count would reset it at every apply)', () => {
    expect(workers(objects).spec).not.toHaveProperty('replicas');
    expect(workers(synth({ celery: {} })).spec.replicas).toBe(1);
  });

  test("the objects pass the validation plugin, which checks them against KEDA's CRD schema", () => {
    expect(validationReport(chartOf({ celery: { keda: {} } }))).toEqual([]);
    expect(kubernetesSchemaProblems(scaled)).toEqual([]);
    expect(kubernetesSchemaProblems(auth)).toEqual([]);
    const typo = { ...scaled, spec: { ...scaled.spec, pollingIntervall: 5, minReplicaCount: 'zero' } };
    expect(kubernetesSchemaProblems(typo).map((p) => p.field).sort()).toEqual(['spec.minReplicaCount', 'spec.pollingIntervall']);
  });

  test("with networkPolicies, the in-cluster database also accepts KEDA's operator from its namespace", () => {
    const policy = find(synth({ networkPolicies: true, celery: { keda: { operatorNamespace: 'autoscaling' } } }), 'NetworkPolicy', 'airflow-metadata-db');
    expect(policy.spec.ingress[0].from).toContainEqual({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'autoscaling' } } });
    const without = find(synth({ networkPolicies: true, celery: {} }), 'NetworkPolicy', 'airflow-metadata-db');
    expect(without.spec.ingress[0].from).toHaveLength(1);
  });
});

describe('HPA', () => {
  const objects = synth({ celery: { hpa: { maxReplicas: 3 } } });

  test('an autoscaling/v2 HPA on the workers\' CPU, at least one pod, the Deployment without replicas', () => {
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'airflow-celery-worker');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'airflow-celery-worker' },
      minReplicas: 1,
      maxReplicas: 3,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }],
    });
    expect(workers(objects).spec).not.toHaveProperty('replicas');
    // Every container of the worker pod has a CPU request, which the utilization is computed against.
    for (const c of workers(objects).spec.template.spec.containers) expect([c.name, c.resources?.requests?.cpu]).toEqual([c.name, expect.any(String)]);
    expect(byKind(objects, 'ScaledObject')).toEqual([]);
    expect(validationReport(chartOf({ celery: { hpa: {} } }))).toEqual([]);
  });
});

describe('refused', () => {
  test.each([
    [{ keda: {}, hpa: {} }, 'hpa', /nothing when "keda" is set/],
    [{ keda: {}, replicas: 2 }, 'replicas', /nothing with keda: the autoscaler sets the number of worker pods/],
    [{ hpa: {}, replicas: 2 }, 'replicas', /nothing with hpa/],
    [{ keda: { minReplicas: 5, maxReplicas: 2 } }, 'keda.minReplicas', /at most keda.maxReplicas \(2\)/],
    [{ hpa: { minReplicas: 6 } }, 'hpa.minReplicas', /at most hpa.maxReplicas \(5\)/],
    [{ hpa: { minReplicas: 0 } }, 'hpa.minReplicas', /HPAScaleToZero feature gate .* Use keda for workers that stop/],
    [{ keda: { maxReplicas: 0 } }, 'keda.maxReplicas', /a whole number from 1 to 100/],
    [{ keda: { pollingIntervalSeconds: 0 } }, 'keda.pollingIntervalSeconds', /a whole number from 1 to 3600/],
    [{ keda: { operatorNamespace: 'KEDA' } }, 'keda.operatorNamespace', /a DNS-1123 label/],
    [{ hpa: { targetCpuUtilization: 150 } }, 'hpa.targetCpuUtilization', /a whole number from 1 to 100/],
    [{ keda: 'on' }, 'keda', /an object of minReplicas/],
  ])('%j', (celery, property, message) => {
    validationError(() => chartOf({ celery: celery as any }), property, message);
  });

  test('keda with a metadata database of your own kind, whose connection KEDA cannot be given', () => {
    const chart = testChart();
    const real = new ExternalMetadataDb(chart, 'db', { connection: DatabaseConnection.postgres({ host: 'db.example.com', passwordSecret: { name: 'pg', key: 'pw' } }) });
    const database = { airflowConnectionEnv: () => real.airflowConnectionEnv(), waitForDatabaseContainer: (image: string) => real.waitForDatabaseContainer(image) };
    const airflow = new KubernetesExecutorAirflow(chart, 'airflow', { volumes: new AirflowVolumes(chart, 'volumes'), database, secrets: new AirflowSecrets(chart, 'secrets') });
    validationError(() => new CeleryWorkers(airflow, 'celery', { airflow, keda: {} }), 'keda', /a metadata database whose connection KEDA can be given: MetadataDb, .*Use hpa instead/);
    expect(() => new CeleryWorkers(airflow, 'celery-hpa', { airflow, hpa: {} })).not.toThrow();
  });

  test('an unknown option of keda, by name', () => {
    expect(errorOf(() => Testing.synth(chartOf({ celery: { keda: { maxReplica: 3 } as any } })))).toMatch(/property "celery.keda.maxReplica".*Did you mean "maxReplicas"/);
  });

  test('an HPA with a sidecar that has no CPU request, at synth', () => {
    const chart = chartOf({ celery: { hpa: {} }, gitSync: { repository: 'https://github.com/org/dags.git', mode: GitSyncMode.SIDECARS } });
    const sidecars = chart.airflow.contributed('sidecars', 'celery-worker') as any[];
    if (sidecars.every((c) => c.resources?.requests?.cpu !== undefined)) {
      // git-sync's sidecar has a CPU request: the workers synthesize.
      expect(() => Testing.synth(chart)).not.toThrow();
    }
    const bare = chartOf({ celery: { hpa: {} } });
    bare.airflow.addFeature({ featureName: 'bare', contribute: () => ({ sidecars: { 'celery-worker': [{ name: 'bare', image: 'busybox:1.37' }] } }) });
    expect(errorOf(() => Testing.synth(bare))).toMatch(/property "hpa" received \{\}; allowed: only with a CPU request on every container .* the sidecar "bare" has none/);
  });
});

test('celeryKedaQuery is what the ScaledObject runs', () => {
  expect(celeryKedaQuery({ concurrency: 3, queues: ['q'], celeryIsDefault: false })).toMatch(/^SELECT ceil\(COUNT\(\*\)::decimal \/ 3\) FROM task_instance .* AND queue IN \('q'\) AND executor IN /);
});
