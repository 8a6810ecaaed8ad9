// Hybrid executors (issue #16): Celery workers and their Redis broker beside the KubernetesExecutor.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import {
  AirflowApp,
  AirflowChart,
  AirflowChartProps,
  AirflowSecrets,
  AirflowVolumes,
  CeleryWorkers,
  GitSyncMode,
  KubernetesExecutorAirflow,
  MetadataDb,
  RedisBroker,
  RemoteLogging,
} from '../../lib';
import { DeploymentStrategy, EnvValue } from '../../lib/core';
import { podSecurityLevelOf } from '../../lib/security/pod-security';
import { validationReport } from '../../validation';
import { errorOf, find, isAirflow2, parseCfg, podsOf, synthAirflow } from '../support';
import { findSecretMaterial } from '../support/secret-scan';

const synth = (props: AirflowChartProps = {}) => synthAirflow(new AirflowChart(Testing.app(), 'airflow', props), isAirflow2(props));
const cfgOf = (objects: any[]) => parseCfg(find(objects, 'ConfigMap', 'airflow-config').data['airflow.cfg']);
const containerOf = (objects: any[], kind: string, name: string) => find(objects, kind, name).spec.template.spec.containers[0];
const envOf = (objects: any[], kind: string, name: string): any[] => containerOf(objects, kind, name).env;
const envNames = (env: any[]) => env.map((e) => e.name);
/** The secrets bootstrap Job (named after its pod spec: `airflow-secrets-bootstrap-<hash>`). */
const bootstrapJob = (objects: any[]) => {
  const jobs = objects.filter((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-secrets-bootstrap-'));
  expect(jobs).toHaveLength(1);
  return jobs[0];
};
const bootstrapScriptOf = (objects: any[]): string => bootstrapJob(objects).spec.template.spec.containers[0].command[2];

const celery = synth({ celery: {} });
const celery2 = synth({ image: 'apache/airflow:2.11.0', celery: {} });

describe('without celery nothing changes', () => {
  test('the default app synthesizes byte for byte what dist/ holds', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'celery-dist-'));
    try {
      const app = new AirflowApp({ outdir });
      new AirflowChart(app, 'airflow'); // main.ts
      app.synth();
      const dist = path.join(__dirname, '..', '..', 'dist');
      expect(fs.readdirSync(outdir).sort()).toEqual(fs.readdirSync(dist).sort());
      for (const file of fs.readdirSync(dist)) {
        expect({ file, same: fs.readFileSync(path.join(outdir, file)).equals(fs.readFileSync(path.join(dist, file))) }).toEqual({ file, same: true });
      }
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });

  test('no broker, no workers, one executor, and a bootstrap Job that generates the five keys of old', () => {
    const objects = synth();
    expect(objects.filter((o) => /redis|celery/.test(o.metadata.name))).toEqual([]);
    expect(cfgOf(objects).core.executor).toBe('KubernetesExecutor');
    expect(cfgOf(objects).celery).toBeUndefined();
    expect(bootstrapScriptOf(objects)).not.toContain('redis-password');
  });
});

describe('the executors', () => {
  test('[core] executor lists the KubernetesExecutor first, so that tasks get a pod unless they ask for Celery', () => {
    expect(cfgOf(celery).core.executor).toBe('KubernetesExecutor,CeleryExecutor');
    expect(cfgOf(celery).celery).toEqual({ worker_concurrency: '2' });
  });

  test('with the in-cluster Redis, a broker read waits at most BROKER_SOCKET_TIMEOUT_SECONDS (a worker blocked in a read reconnects); config may change it; not set for an external broker', () => {
    expect(CeleryWorkers.BROKER_SOCKET_TIMEOUT_SECONDS).toBe(10);
    const timeout = { socket_timeout: String(CeleryWorkers.BROKER_SOCKET_TIMEOUT_SECONDS) };
    expect(cfgOf(celery).celery_broker_transport_options).toEqual(timeout);
    expect(cfgOf(celery2).celery_broker_transport_options).toEqual(timeout);
    const tuned = synth({ celery: {}, config: { celery_broker_transport_options: { socket_timeout: 30, socket_keepalive: true } } });
    expect(cfgOf(tuned).celery_broker_transport_options).toEqual({ socket_timeout: '30', socket_keepalive: 'True' });
    const external = synth({ celery: { externalBroker: { urlSecret: { name: 'broker', key: 'url' } } } });
    expect(cfgOf(external).celery_broker_transport_options).toBeUndefined();
    expect(cfgOf(synth()).celery_broker_transport_options).toBeUndefined();
  });

  test('with defaultExecutor the CeleryExecutor comes first', () => {
    const objects = synth({ celery: { defaultExecutor: true, concurrency: 4 } });
    expect(cfgOf(objects).core.executor).toBe('CeleryExecutor,KubernetesExecutor');
    expect(cfgOf(objects).celery.worker_concurrency).toBe('4');
  });

  test.each(['2.10.0', '2.11.0', '3.0.0', '3.1.3'])('Airflow %s runs both', (version) => {
    const airflow = new AirflowChart(Testing.app(), 'airflow', { image: `apache/airflow:${version}`, celery: {} }).airflow;
    expect(airflow.executors).toEqual(['KubernetesExecutor', 'CeleryExecutor']);
  });

  test.each(['2.7.3', '2.9.3'])('Airflow %s is refused with a clear message: it runs one executor only', (version) => {
    expect(errorOf(() => synth({ image: `apache/airflow:${version}`, celery: { replicas: 1 } }))).toBe(
      `KubernetesExecutorAirflow at "airflow/airflow": property "celery" received {"replicas":1}; allowed: no Celery workers on ` +
        `Airflow ${version}: they run beside the KubernetesExecutor ([core] executor = KubernetesExecutor,CeleryExecutor), and ` +
        'Airflow runs several executors at once only from 2.10.0. Use an image of Airflow 2.10.0 or newer (2.11, 3.x), or leave celery unset.',
    );
  });

  test('the executor and the workers\' settings are the library\'s: config cannot set them, nor the broker URL (a secret)', () => {
    expect(errorOf(() => synth({ celery: {}, config: { core: { executor: 'CeleryExecutor' } } }))).toMatch(
      /property "config\.core\.executor" received "CeleryExecutor"; allowed: an option the library does not set itself; it sets core\.executor = KubernetesExecutor\. Use the "celery" prop instead\./,
    );
    expect(errorOf(() => synth({ celery: {}, config: { celery: { worker_concurrency: 8 } } }))).toMatch(/Use the "celery\.concurrency" prop instead/);
    expect(errorOf(() => synth({ config: { celery: { broker_url: 'redis://:pw@redis:6379/0' } } }))).toMatch(
      /property "config\.celery\.broker_url" received "\(value not shown\)"; allowed: an option that is not a secret/,
    );
  });
});

describe('the Redis broker', () => {
  test('a one-replica StatefulSet and a ClusterIP Service airflow-redis on 6379, the official image pinned by tag', () => {
    const sts = find(celery, 'StatefulSet', 'airflow-redis');
    const service = find(celery, 'Service', 'airflow-redis');
    expect(service.spec).toMatchObject({ type: 'ClusterIP', ports: [{ name: 'redis', port: 6379, targetPort: 'redis', protocol: 'TCP' }] });
    expect(sts.spec.serviceName).toBe('airflow-redis');
    expect(sts.spec.replicas).toBe(1);
    expect(sts.spec.template.metadata.labels).toMatchObject(service.spec.selector);
    const c = sts.spec.template.spec.containers[0];
    expect(c.image).toBe(RedisBroker.DEFAULT_IMAGE);
    expect(c.image).toMatch(/^redis:\d+\.\d+\.\d+-alpine$/);
    expect(c.ports).toEqual([{ name: 'redis', containerPort: 6379, protocol: 'TCP' }]);
    expect(c.command).toEqual(['redis-server']);
    expect(c.args).toEqual([
      '--port', '6379', '--requirepass', '$(REDIS_PASSWORD)', '--dir', '/data',
      '--maxmemory', String(Math.floor(128 * 2 ** 20 * 0.75)), '--maxmemory-policy', 'noeviction',
      // No persistence by default: no snapshot, so no fork (docs/celery.md, "Redis and a backlog").
      '--save', '', '--appendonly', 'no',
    ]);
    expect(c.env).toEqual([{ name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'airflow-secrets', key: 'redis-password' } } }]);
    expect(c.readinessProbe.exec.command.join(' ')).toContain('REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -p 6379 ping');
  });

  test('its password is a new key of the generated Secret, created by the bootstrap Job (which adds it to an existing Secret)', () => {
    const job = bootstrapJob(celery);
    const script = bootstrapScriptOf(celery);
    expect(script).toContain('"redis-password": password(),');
    // An existing Secret (Celery turned on in an installation) gets the keys it lacks, and keeps the others.
    expect(script).toContain('missing = sorted(k for k in values if k not in have)');
    expect(script).toContain('call("PATCH", item, patch, "application/merge-patch+json")');
    expect(job.metadata.annotations['airflow-cdk8s/creates-secret']).toBe('airflow-secrets');
    // a new pod spec, so a new Job (the old one's pod template could not change)
    expect(job.metadata.name).not.toBe(bootstrapJob(synth()).metadata.name);
  });

  test('non-root (the image\'s uid 999), restricted, read-only root, no token, no service links', () => {
    const spec = find(celery, 'StatefulSet', 'airflow-redis').spec.template.spec;
    expect(spec.securityContext).toMatchObject({ runAsUser: 999, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(spec.containers[0].securityContext).toMatchObject({
      runAsUser: 999,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(podSecurityLevelOf(spec)).toBe('restricted');
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(find(celery, 'ServiceAccount', 'airflow-redis').automountServiceAccountToken).toBe(false);
    expect(spec.enableServiceLinks).toBe(false);
    expect(spec.volumes).toEqual([{ name: 'data', emptyDir: { sizeLimit: '128Mi' } }]);
  });

  test('image and resources can be set; memory limit sizes --maxmemory; bad values are refused', () => {
    const objects = synth({ celery: { redis: { image: 'valkey/valkey:8.1.4-alpine', resources: { memoryLimit: '256Mi' } } } });
    const c = containerOf(objects, 'StatefulSet', 'airflow-redis');
    expect(c.image).toBe('valkey/valkey:8.1.4-alpine');
    expect(c.args[c.args.indexOf('--maxmemory') + 1]).toBe(String(192 * 2 ** 20));
    expect(errorOf(() => synth({ celery: { redis: { resources: { memoryRequest: '1Gi' } } } }))).toMatch(
      /RedisBroker at "airflow\/airflow\/celery\/redis": property "resources\.memoryRequest" received "1Gi"; allowed: at most the memory limit \("128Mi"\)/,
    );
  });
});

describe('Redis and a backlog: persistence is a choice, and sized', () => {
  test('off by default: --save "" and --appendonly no (Redis never forks), maxmemory 75% of the limit', () => {
    const c = containerOf(synth({ celery: {} }), 'StatefulSet', 'airflow-redis');
    expect(c.args.slice(c.args.indexOf('--save'))).toEqual(['--save', '', '--appendonly', 'no']);
    expect(c.args.filter((a: string) => a === '--save')).toHaveLength(1);
  });

  test('persistence: Redis\' default save rules; maxmemory half the limit so a fork copying every page fits; the emptyDir holds two snapshots', () => {
    const objects = synth({ celery: { redis: { persistence: true } } });
    const sts = find(objects, 'StatefulSet', 'airflow-redis');
    const c = sts.spec.template.spec.containers[0];
    expect(c.args.slice(c.args.indexOf('--save'))).toEqual(['--save', '3600', '1', '--save', '300', '100', '--save', '60', '10000', '--appendonly', 'no']);
    const maxmemory = Number(c.args[c.args.indexOf('--maxmemory') + 1]);
    const limit = 128 * 2 ** 20;
    expect(maxmemory).toBe(limit / 2);
    // the fork's worst case: the dataset twice (parent + every page copied) within the container's limit
    expect(2 * maxmemory).toBeLessThanOrEqual(limit);
    // dump.rdb and its temporary successor, each at most the dataset, within the emptyDir
    expect(sts.spec.template.spec.volumes).toEqual([{ name: 'data', emptyDir: { sizeLimit: '128Mi' } }]);
    expect(2 * maxmemory).toBeLessThanOrEqual(limit);
  });

  test('persistence must be a boolean', () => {
    expect(errorOf(() => synth({ celery: { redis: { persistence: 'yes' as unknown as boolean } } }))).toMatch(
      /^RedisBroker at "airflow\/airflow\/celery\/redis": property "persistence" received "yes"; allowed: true or false\.$/,
    );
  });
});

describe('the Celery worker Deployment', () => {
  const deployment = find(celery, 'Deployment', 'airflow-celery-worker');
  const spec = deployment.spec.template.spec;
  const worker = spec.containers[0];

  test('runs `airflow celery worker` with its concurrency and queues, from the control plane\'s image and configuration', () => {
    expect(worker.args).toEqual(['bash', '-c', 'exec airflow celery worker --concurrency 2 --queues default --skip-serve-logs']);
    expect(worker.image).toBe('apache/airflow:3.2.2');
    const objects = synth({ celery: { replicas: 3, concurrency: 8, queues: ['default', 'sensors', 'api.calls'] } });
    const d = find(objects, 'Deployment', 'airflow-celery-worker');
    expect(d.spec.replicas).toBe(3);
    expect(d.spec.template.spec.containers[0].args[2]).toBe('exec airflow celery worker --concurrency 8 --queues default,sensors,api.calls --skip-serve-logs');
    // the same volumes and airflow.cfg as the scheduler; rolled when airflow.cfg changes
    const scheduler = find(celery, 'Deployment', 'airflow-scheduler').spec.template;
    // (the scheduler's pod also has its log groomer's empty volumes; the scheduler mounts no dags nor data)
    const claim = (name: string) => ({ name, persistentVolumeClaim: { claimName: `airflow-${name}-claim` } });
    const [, ...schedulerRest] = scheduler.spec.volumes.filter((v: any) => !['no-service-account-token', 'log-groomer-tmp'].includes(v.name));
    expect(spec.volumes).toEqual([claim('dags'), claim('logs'), claim('data'), ...schedulerRest]);
    // dags read-only (a task cannot add a DAG file), logs and data read-write, airflow.cfg and /tmp as the scheduler's
    expect(worker.volumeMounts).toEqual([
      { name: 'dags', mountPath: '/opt/airflow/dags', readOnly: true },
      { name: 'logs', mountPath: '/opt/airflow/logs' },
      { name: 'data', mountPath: '/opt/airflow/data' },
      ...scheduler.spec.containers[0].volumeMounts.filter((m: any) => !m.mountPath.includes('pod_template') && m.name !== 'logs'),
    ]);
    expect(deployment.spec.template.metadata.annotations['checksum/airflow-config']).toBe(scheduler.metadata.annotations['checksum/airflow-config']);
  });

  test('stops warm: a long grace period, SIGTERM to the worker only, one pod at a time', () => {
    expect(spec.terminationGracePeriodSeconds).toBe(600);
    expect(worker.env).toContainEqual({ name: 'DUMB_INIT_SETSID', value: '0' });
    expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } });
    expect(find(synth({ celery: { terminationGracePeriodSeconds: 3600 } }), 'Deployment', 'airflow-celery-worker').spec.template.spec.terminationGracePeriodSeconds).toBe(3600);
  });

  test('the strategy of ComponentOptions is taken, and checked against the replicas', () => {
    const surge = synth({ celery: { replicas: 2, strategy: DeploymentStrategy.rollingUpdate({ maxSurge: 1, maxUnavailable: 1 }) } });
    expect(find(surge, 'Deployment', 'airflow-celery-worker').spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } });
    expect(errorOf(() => synth({ celery: { replicas: 2, strategy: DeploymentStrategy.rollingUpdate({ maxUnavailable: 2 }) } }))).toMatch(
      /^CeleryWorkers at "airflow\/airflow\/celery": property "strategy\.maxUnavailable" received 2; allowed: at most 1 \(of replicas: 2\)/,
    );
  });

  test('its liveness probe pings the worker through the broker, as the official chart does', () => {
    expect(worker.livenessProbe.exec.command).toEqual([
      'sh',
      '-c',
      'exec python -m celery --broker "$AIRFLOW__CELERY__BROKER_URL" inspect ping --destination "celery@$(hostname)" --timeout 10',
    ]);
    expect(worker.livenessProbe).toMatchObject({ periodSeconds: 60, failureThreshold: 5 });
    expect(worker.readinessProbe).toBeUndefined();
  });

  test('no Kubernetes API token, the restricted security context as Airflow\'s user', () => {
    expect(spec.serviceAccountName).toBe('airflow-celery-worker');
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(find(celery, 'ServiceAccount', 'airflow-celery-worker').automountServiceAccountToken).toBe(false);
    expect(celery.filter((o) => o.kind === 'RoleBinding').flatMap((b) => b.subjects.map((s: any) => s.name))).not.toContain('airflow-celery-worker');
    expect(spec.securityContext).toMatchObject({ runAsUser: 50000, runAsGroup: 0, runAsNonRoot: true });
    expect(podSecurityLevelOf(spec)).toBe('restricted');
  });

  test('Airflow 3: no database credentials and no fernet key (tasks use the execution API); results kept in Redis', () => {
    expect(envNames(worker.env)).toEqual([
      'AIRFLOW_CONFIG',
      'CONNECTION_CHECK_MAX_COUNT',
      'AIRFLOW_BROKER_PASSWORD',
      'AIRFLOW__CELERY__BROKER_URL',
      'AIRFLOW__CELERY__RESULT_BACKEND',
      'DUMB_INIT_SETSID',
    ]);
    const broker = 'redis://:$(AIRFLOW_BROKER_PASSWORD)@airflow-redis.airflow.svc.cluster.local:6379';
    expect(worker.env).toContainEqual({ name: 'AIRFLOW__CELERY__BROKER_URL', value: `${broker}/0` });
    expect(worker.env).toContainEqual({ name: 'AIRFLOW__CELERY__RESULT_BACKEND', value: `${broker}/1` });
    // the same environment as the task pods, plus the broker's
    const template: any = new AirflowChart(Testing.app(), 'airflow', { celery: {} }).airflow.workerPodTemplate;
    expect(worker.env.slice(0, 2)).toEqual(template.spec.containers[0].env);
  });

  test('Airflow 2: the database connection and the fernet key (a task talks to the database there); results in the database', () => {
    const env = envOf(celery2, 'Deployment', 'airflow-celery-worker');
    expect(envNames(env)).toEqual([
      'AIRFLOW_CONFIG',
      'AIRFLOW_DB_PASSWORD',
      'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN',
      'AIRFLOW__CORE__FERNET_KEY',
      'CONNECTION_CHECK_MAX_COUNT',
      'AIRFLOW_BROKER_PASSWORD',
      'AIRFLOW__CELERY__BROKER_URL',
      'AIRFLOW__CELERY__RESULT_BACKEND',
      'DUMB_INIT_SETSID',
    ]);
    expect(env).toContainEqual({ name: 'AIRFLOW__CELERY__RESULT_BACKEND', value: 'db+$(AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)' });
    expect(envNames(env)).not.toContain('AIRFLOW__WEBSERVER__SECRET_KEY');
  });

  test('options are checked: queues must include the default queue, concurrency and replicas are bounded', () => {
    expect(errorOf(() => synth({ celery: { queues: ['sensors'] } }))).toBe(
      'CeleryWorkers at "airflow/airflow/celery": property "queues" received ["sensors"]; allowed: a list that includes "default" ' +
        '([operators] default_queue): Celery tasks without a queue go there, and no other worker would take them. Did you mean ["default","sensors"]?',
    );
    expect(find(synth({ celery: { queues: ['main'] }, config: { operators: { default_queue: 'main' } } }), 'Deployment', 'airflow-celery-worker')
      .spec.template.spec.containers[0].args[2]).toContain('--queues main ');
    expect(errorOf(() => synth({ celery: { queues: ['default', 'a,b'] } }))).toMatch(/property "queues\[1\]" received "a,b"; allowed: a queue name/);
    expect(errorOf(() => synth({ celery: { queues: [] } }))).toMatch(/property "queues" received \[\]/);
    expect(errorOf(() => synth({ celery: { concurrency: 0 } }))).toMatch(/property "celery\.concurrency" received 0/);
    expect(errorOf(() => synth({ celery: { replicas: 0 } }))).toMatch(/CeleryWorkers at "airflow\/airflow\/celery": property "replicas" received 0/);
    expect(errorOf(() => synth({ celery: { resources: { cpuRequest: '2' } } }))).toMatch(/property "resources\.cpuRequest" received "2"; allowed: at most the CPU limit \("1"\)/);
  });

  test('pod options: placement, labels, env and volumes of the celery options reach the worker pods', () => {
    const objects = synth({
      celery: {
        nodeSelector: { pool: 'warm' },
        tolerations: [{ key: 'warm', operator: 'Exists', effect: 'NoSchedule' }],
        podLabels: { team: 'data' },
        env: { HTTP_TIMEOUT: EnvValue.fromValue('30') },
      },
    });
    const t = find(objects, 'Deployment', 'airflow-celery-worker').spec.template;
    expect(t.spec.nodeSelector).toEqual({ pool: 'warm' });
    expect(t.spec.tolerations).toEqual([{ key: 'warm', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(t.metadata.labels).toMatchObject({ team: 'data', 'app.kubernetes.io/component': 'celery-worker' });
    expect(t.spec.containers[0].env).toContainEqual({ name: 'HTTP_TIMEOUT', value: '30' });
  });

  test('the chart-wide pod options reach the workers, merged with the celery ones; Redis takes the chart-wide placement only', () => {
    const objects = synth({
      nodeSelector: { disk: 'ssd' },
      podLabels: { team: 'data' },
      imagePullSecrets: ['regcred'],
      env: { TZ: EnvValue.fromValue('UTC') },
      celery: { nodeSelector: { pool: 'warm' }, podLabels: { tier: 'warm' }, serviceAccountAnnotations: { 'iam.gke.io/gcp-service-account': 'celery@p.iam' } },
    });
    const worker = find(objects, 'Deployment', 'airflow-celery-worker').spec.template;
    expect(worker.spec.nodeSelector).toEqual({ disk: 'ssd', pool: 'warm' }); // maps merge key by key
    expect(worker.metadata.labels).toMatchObject({ team: 'data', tier: 'warm' });
    expect(worker.spec.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(worker.spec.containers[0].env).toContainEqual({ name: 'TZ', value: 'UTC' });
    expect(find(objects, 'ServiceAccount', 'airflow-celery-worker').metadata.annotations).toEqual({ 'iam.gke.io/gcp-service-account': 'celery@p.iam' });
    const redis = find(objects, 'StatefulSet', 'airflow-redis').spec.template;
    expect(redis.spec.nodeSelector).toEqual({ disk: 'ssd' });
    expect(redis.spec.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(redis.metadata.labels).toMatchObject({ team: 'data', 'app.kubernetes.io/component': 'redis' });
    expect(envNames(redis.spec.containers[0].env)).toEqual(['REDIS_PASSWORD']);
  });

  test('git-sync in its sidecar mode: the workers read DAG files, so they sync them themselves', () => {
    const objects = synth({ celery: {}, gitSync: { repository: 'https://github.com/org/dags.git', mode: GitSyncMode.SIDECARS } });
    const spec = find(objects, 'Deployment', 'airflow-celery-worker').spec.template.spec;
    expect(spec.containers.map((c: any) => c.name)).toEqual(['celery-worker', 'git-sync']);
    expect(spec.containers[1].args).not.toContain('--one-time'); // continuously, like the dag-processor's
    expect(spec.volumes.find((v: any) => v.name === 'dags')).toEqual({ name: 'dags', emptyDir: {} });
    expect(spec.containers[0].volumeMounts).toContainEqual({ name: 'dags', mountPath: '/opt/airflow/dags', readOnly: true });
    // Issue #20: a worker takes tasks as soon as it starts, so it starts only once a one-time sync has put the DAGs there.
    expect(spec.initContainers.map((c: any) => c.name)).toEqual(['git-sync-init']);
    expect(spec.initContainers[0].args).toEqual([...spec.containers[1].args.filter((a: string) => !a.startsWith('--http-bind')), '--one-time']);
    expect(spec.initContainers[0].volumeMounts).toEqual(spec.containers[1].volumeMounts);
    const shared = find(synth({ celery: {}, gitSync: { repository: 'https://github.com/org/dags.git' } }), 'Deployment', 'airflow-celery-worker').spec.template.spec;
    expect(shared.containers.map((c: any) => c.name)).toEqual(['celery-worker']); // the shared volume, read-only
    expect(shared.initContainers).toBeUndefined();
    expect(shared.containers[0].volumeMounts.find((m: any) => m.name === 'dags')).toMatchObject({ readOnly: true });
  });

  test('remote logging: the workers upload task logs like task pods, with the same connection and cloud identity', () => {
    const annotations = { 'iam.gke.io/gcp-service-account': 'logs@project.iam.gserviceaccount.com' };
    const objects = synth({ celery: {}, remoteLogging: RemoteLogging.gcs({ bucket: 'team-logs', serviceAccountAnnotations: annotations }) });
    expect(find(objects, 'ServiceAccount', 'airflow-celery-worker').metadata.annotations).toEqual(annotations);
    const withSecret = synth({ celery: {}, remoteLogging: RemoteLogging.gcs({ bucket: 'team-logs', connectionSecret: { name: 'gcp-logs', key: 'json' } }) });
    const template: any = new AirflowChart(Testing.app(), 'airflow', { celery: {}, remoteLogging: RemoteLogging.gcs({ bucket: 'team-logs', connectionSecret: { name: 'gcp-logs', key: 'json' } }) }).airflow.workerPodTemplate;
    const remoteEnv = template.spec.containers[0].env.filter((e: any) => e.valueFrom?.secretKeyRef?.name === 'gcp-logs');
    expect(remoteEnv.length).toBeGreaterThan(0);
    for (const e of remoteEnv) expect(envOf(withSecret, 'Deployment', 'airflow-celery-worker')).toContainEqual(e);
  });

  test('the variables the library sets cannot be replaced by pod options', () => {
    expect(errorOf(() => synth({ celery: { env: { DUMB_INIT_SETSID: EnvValue.fromValue('1') } } }))).toMatch(
      /KubernetesExecutorAirflow at "airflow\/airflow": property "celery\.env\["DUMB_INIT_SETSID"\]" received "DUMB_INIT_SETSID"; allowed: a variable the library does not set itself/,
    );
    expect(errorOf(() => synth({ celery: { env: { AIRFLOW__CELERY__BROKER_URL: EnvValue.fromSecret({ name: 'b', key: 'u' }) } } }))).toMatch(
      /property "celery\.env\["AIRFLOW__CELERY__BROKER_URL"\]" received "AIRFLOW__CELERY__BROKER_URL"; allowed: a variable the library does not set itself/,
    );
  });
});

describe('no secret value in the YAML', () => {
  test.each([
    ['Airflow 3', celery],
    ['Airflow 2', celery2],
  ])('%s: the broker password is only ever a secretKeyRef or a $(VAR) reference; the secret scan finds nothing', (_label, objects) => {
    expect(findSecretMaterial(objects)).toEqual([]);
    const literals: string[] = [];
    const walk = (v: any, where: string): void => {
      if (typeof v === 'string' && /redis:\/\//.test(v) && !/redis:\/\/:\$\(AIRFLOW_BROKER_PASSWORD\)@/.test(v)) literals.push(`${where}: ${v}`);
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
      else if (v && typeof v === 'object') Object.entries(v).forEach(([k, x]) => walk(x, `${where}.${k}`));
    };
    walk(objects, '');
    expect(literals).toEqual([]);
    const refs = objects.flatMap((o) => JSON.stringify(o).match(/"secretKeyRef":\{[^}]*"key":"redis-password"[^}]*\}/g) ?? []);
    expect(refs.length).toBe(4); // Redis, the scheduler's Airflow containers (its own and the migration wait), the workers
    expect(cfgOf(objects).celery?.broker_url).toBeUndefined();
    expect(validationReport(new AirflowChart(Testing.app(), 'airflow', { celery: {} }))).toEqual([]);
  });

  test('only the scheduler and the workers get the broker\'s environment; the scheduler\'s password reference is optional', () => {
    for (const name of ['airflow-api-server', 'airflow-dag-processor', 'airflow-triggerer']) {
      expect([name, envNames(envOf(celery, 'Deployment', name)).filter((n) => /CELERY|BROKER/.test(n))]).toEqual([name, []]);
    }
    const scheduler = envOf(celery, 'Deployment', 'airflow-scheduler');
    expect(scheduler.find((e) => e.name === 'AIRFLOW_BROKER_PASSWORD')).toEqual({
      name: 'AIRFLOW_BROKER_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'airflow-secrets', key: 'redis-password', optional: true } },
    });
    expect(envOf(celery, 'Deployment', 'airflow-celery-worker').find((e) => e.name === 'AIRFLOW_BROKER_PASSWORD').valueFrom.secretKeyRef.optional).toBeUndefined();
  });
});

describe('the broker password: generated, or brought', () => {
  test('composed by hand in any order, the generated Secret gets the key, under its custom name', () => {
    const c = new Chart(Testing.app(), 'test', { namespace: 'team-a', disableResourceNameHashes: true });
    const volumes = new AirflowVolumes(c, 'volumes');
    const airflow = new KubernetesExecutorAirflow(c, 'airflow', { volumes, database: new MetadataDb(c, 'db') });
    new CeleryWorkers(c, 'celery', { airflow }); // a feature added from one's own chart
    new AirflowSecrets(c, 'secrets', { secretName: 'team-a-airflow' }); // added last
    const objects = Testing.synth(c);
    expect(bootstrapScriptOf(objects)).toContain('"redis-password": password(),');
    expect(containerOf(objects, 'StatefulSet', 'airflow-redis').env[0].valueFrom.secretKeyRef).toEqual({ name: 'team-a-airflow', key: 'redis-password' });
    expect(envOf(objects, 'Deployment', 'airflow-celery-worker')).toContainEqual({
      name: 'AIRFLOW__CELERY__BROKER_URL',
      value: 'redis://:$(AIRFLOW_BROKER_PASSWORD)@airflow-redis.team-a.svc.cluster.local:6379/0',
    });
  });

  test('existing Secrets: brokerPassword is required, and used', () => {
    const existing = {
      fernetKey: { name: 'vault', key: 'fernet' },
      apiSecretKey: { name: 'vault', key: 'api' },
      jwtSecret: { name: 'vault', key: 'jwt' },
      adminPassword: { name: 'vault', key: 'admin' },
      databasePassword: { name: 'vault', key: 'db' },
    };
    expect(errorOf(() => synth({ existingSecrets: existing, celery: {} }))).toBe(
      'KubernetesExecutorAirflow at "airflow/airflow": property "secrets.brokerPassword" received undefined; allowed: a Secret key reference ' +
        "{ name, key } of the Celery broker's password, when Celery workers run with the in-cluster broker. Add brokerPassword to " +
        'AirflowSecrets.fromExistingSecrets(...) / existingSecrets, or give celery an externalBroker.',
    );
    const objects = synth({ existingSecrets: { ...existing, brokerPassword: { name: 'vault-redis', key: 'password' } }, celery: {} });
    expect(containerOf(objects, 'StatefulSet', 'airflow-redis').env[0].valueFrom.secretKeyRef).toEqual({ name: 'vault-redis', key: 'password' });
    expect(objects.filter((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-secrets-bootstrap'))).toEqual([]);
  });

  test('an external broker: no Redis, the URL from its Secret, results in the database (Airflow 2) or the broker (Airflow 3)', () => {
    const externalBroker = { urlSecret: { name: 'broker', key: 'url' } };
    const objects = synth({ celery: { externalBroker } });
    expect(objects.filter((o) => /redis/.test(o.metadata.name))).toEqual([]);
    expect(bootstrapScriptOf(objects)).not.toContain('redis-password');
    expect(envOf(objects, 'Deployment', 'airflow-celery-worker').slice(2, 4)).toEqual([
      { name: 'AIRFLOW__CELERY__BROKER_URL', valueFrom: { secretKeyRef: { name: 'broker', key: 'url' } } },
      { name: 'AIRFLOW__CELERY__RESULT_BACKEND', value: '$(AIRFLOW__CELERY__BROKER_URL)' },
    ]);
    // your own Secret: required by the scheduler too (a missing URL would leave it on Airflow's default broker)
    expect(envOf(objects, 'Deployment', 'airflow-scheduler')).toContainEqual({
      name: 'AIRFLOW__CELERY__BROKER_URL',
      valueFrom: { secretKeyRef: { name: 'broker', key: 'url' } },
    });
    const a2 = synth({ image: 'apache/airflow:2.11.0', celery: { externalBroker } });
    expect(envOf(a2, 'Deployment', 'airflow-celery-worker')).toContainEqual({ name: 'AIRFLOW__CELERY__RESULT_BACKEND', value: 'db+$(AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)' });
    const withResults = synth({ celery: { externalBroker: { ...externalBroker, resultBackendSecret: { name: 'broker', key: 'results' } } } });
    expect(envOf(withResults, 'Deployment', 'airflow-celery-worker')).toContainEqual({
      name: 'AIRFLOW__CELERY__RESULT_BACKEND',
      valueFrom: { secretKeyRef: { name: 'broker', key: 'results' } },
    });
    expect(errorOf(() => synth({ celery: { externalBroker, redis: { image: 'redis:8' } } }))).toMatch(/property "redis" received .*allowed: no redis options with an externalBroker/);
  });
});

describe('a TLS broker (rediss://)', () => {
  const externalBroker = { urlSecret: { name: 'broker', key: 'url' } };

  test('docs/celery.md\'s and the prop\'s rediss:// examples carry ssl_cert_reqs (Celery\'s Redis result backend refuses one without)', () => {
    const docs = fs.readFileSync(path.join(__dirname, '../../docs/celery.md'), 'utf8');
    const examples = [...docs.matchAll(/rediss:\/\/[^\s`'"]+/g)].map((m) => m[0]).filter((url) => url.includes('@')); // URLs, not the scheme named in prose
    expect(examples.length).toBeGreaterThan(0);
    for (const url of examples) expect(url).toMatch(/[?&]ssl_cert_reqs=required\b/);
    const options = fs.readFileSync(path.join(__dirname, '../../lib/celery/celery-options.ts'), 'utf8');
    for (const [url] of options.matchAll(/rediss:\/\/[^\s`]+/g)) if (url.includes('@')) expect(url).toMatch(/\?ssl_cert_reqs=required$/);
  });

  test('[celery] ssl_active with the in-cluster Redis is refused: it serves plain redis://', () => {
    expect(errorOf(() => synth({ celery: {}, config: { celery: { ssl_active: true } } }))).toMatch(
      /^KubernetesExecutorAirflow at "airflow\/airflow": property "config\.celery\.ssl_active" received "True"; allowed: false \(or unset\) with the in-cluster broker: its Redis serves plain redis:\/\/ without TLS.* Remove config\.celery\.ssl_active, or give celery an externalBroker that serves TLS \(rediss:\/\/\)\.$/,
    );
    expect(() => synth({ celery: {}, config: { celery: { ssl_active: false } } })).not.toThrow();
  });

  test('[celery] ssl_active needs ssl_cacert: Airflow hands the empty path to redis-py as the CA file', () => {
    expect(errorOf(() => synth({ celery: { externalBroker }, config: { celery: { ssl_active: 'true' } } }))).toMatch(
      /^KubernetesExecutorAirflow at "airflow\/airflow": property "config\.celery\.ssl_cacert" received undefined; allowed: the path of a CA file mounted in the scheduler and the Celery workers.* end the rediss:\/\/ URL in your Secret with \?ssl_cert_reqs=required/,
    );
    const objects = synth({ celery: { externalBroker }, config: { celery: { ssl_active: true, ssl_cacert: '/etc/ssl/broker/ca.crt' } } });
    expect(envOf(objects, 'Deployment', 'airflow-celery-worker')).toContainEqual({ name: 'AIRFLOW__CELERY__RESULT_BACKEND', value: '$(AIRFLOW__CELERY__BROKER_URL)' });
  });
});

describe('network policies', () => {
  const policies = (objects: any[]) => Object.fromEntries(objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => [o.metadata.name, o]));

  test('only the scheduler and the Celery workers reach Redis; the task pods, the UI and everything else do not', () => {
    const p = policies(synth({ celery: {}, networkPolicies: true }));
    expect(p['airflow-redis'].spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/component': 'redis' } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [
            {
              podSelector: {
                matchLabels: { 'app.kubernetes.io/part-of': 'airflow' },
                matchExpressions: [{ key: 'app.kubernetes.io/component', operator: 'In', values: ['scheduler', 'celery-worker'] }],
              },
            },
          ],
          ports: [{ protocol: 'TCP', port: 6379 }],
        },
      ],
    });
  });

  test('the database admits the Celery workers on Airflow 2 only', () => {
    const clients = (objects: any[]) => policies(objects)['airflow-metadata-db'].spec.ingress[0].from[0].podSelector.matchExpressions[0].values;
    expect(clients(synth({ celery: {}, networkPolicies: true }))).not.toContain('celery-worker');
    expect(clients(synth({ image: 'apache/airflow:2.11.0', celery: {}, networkPolicies: true }))).toEqual(expect.arrayContaining(['worker', 'celery-worker']));
  });

  test('no Redis policy without Redis (no celery, or an external broker)', () => {
    expect(policies(synth({ networkPolicies: true }))['airflow-redis']).toBeUndefined();
    expect(policies(synth({ celery: { externalBroker: { urlSecret: { name: 'b', key: 'u' } } }, networkPolicies: true }))['airflow-redis']).toBeUndefined();
  });
});

describe('the namespace and the pods', () => {
  test('the namespace still enforces baseline (Postgres); the Redis and worker pods meet restricted', () => {
    expect(find(celery, 'Namespace', 'airflow').metadata.labels['pod-security.kubernetes.io/enforce']).toBe('baseline');
    const levels = podsOf(celery)
      .filter((p) => ['redis', 'celery-worker'].includes(p.labels['app.kubernetes.io/component']))
      .map((p) => `${p.object} ${podSecurityLevelOf(p.spec)}`);
    expect(levels).toEqual(['StatefulSet/airflow-redis restricted', 'Deployment/airflow-celery-worker restricted']);
  });

  test('the construct exposes what it made', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow', { celery: { replicas: 2, queues: ['default', 'quick'] } });
    const workers = chart.features.celery!;
    expect(chart.airflow.features).toContain(workers);
    expect(workers).toBeInstanceOf(CeleryWorkers);
    expect([workers.name, workers.replicas, workers.concurrency, workers.queues]).toEqual(['airflow-celery-worker', 2, 2, ['default', 'quick']]);
    expect(workers.broker?.name).toBe('airflow-redis');
    expect([workers.serviceAccount?.name, workers.broker?.serviceAccount.name]).toEqual(['airflow-celery-worker', 'airflow-redis']);
  });
});
