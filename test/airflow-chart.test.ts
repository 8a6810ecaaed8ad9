import { Testing } from 'cdk8s';
import { AirflowChart } from '../lib';
import { parseQuantity } from '../lib/core/validators';
import { podSecurityViolations, PodSecurityLevel } from '../lib/security/pod-security';
import { airflowPodSpecs, find, parseCfg } from './support/airflow';

const chart = new AirflowChart(Testing.app(), 'airflow');
const manifests = Testing.synth(chart);
const cfg = parseCfg(find(manifests, 'ConfigMap', 'airflow-config').data['airflow.cfg']);

test('snapshot of the default chart', () => {
  expect(manifests).toMatchSnapshot();
});

test('the objects, by the names other components and the docs rely on', () => {
  const names = manifests.map((o) => `${o.kind}/${o.metadata.name}`);
  expect(names).toEqual(
    expect.arrayContaining([
      'Namespace/airflow',
      'PersistentVolumeClaim/airflow-dags-claim',
      'PersistentVolumeClaim/airflow-logs-claim',
      'PersistentVolumeClaim/airflow-data-claim',
      'StatefulSet/airflow-postgres',
      'Service/airflow-postgres',
      'ConfigMap/airflow-config',
      'Deployment/airflow-scheduler',
      'Deployment/airflow-api-server',
      'Deployment/airflow-dag-processor',
      'Deployment/airflow-triggerer',
      'Service/airflow-api-server',
      'Role/airflow-pod-launcher',
      'RoleBinding/airflow-pod-launcher',
      'ServiceAccount/airflow-scheduler',
      'ServiceAccount/airflow-worker',
      'ServiceAccount/airflow-api-server',
      'ServiceAccount/airflow-dag-processor',
      'ServiceAccount/airflow-triggerer',
      'ServiceAccount/airflow-db-migrate',
    ]),
  );
  expect(names.filter((n) => n.startsWith('Job/airflow-db-migrate-3-1-3-'))).toHaveLength(1);
  expect(names.filter((n) => n.startsWith('Job/airflow-create-user-'))).toHaveLength(1);
  expect(new Set(names).size).toBe(names.length);
});

test('the UI is reachable by port-forward to svc/airflow-api-server 8080', () => {
  const service = find(manifests, 'Service', 'airflow-api-server');
  expect(service.metadata.namespace).toBe('airflow');
  expect(service.spec.ports[0].port).toBe(8080);
  const pod = find(manifests, 'Deployment', 'airflow-api-server').spec.template;
  expect(pod.metadata.labels).toMatchObject(service.spec.selector);
  expect(pod.spec.containers[0].ports[0]).toMatchObject({ name: service.spec.ports[0].targetPort, containerPort: 8080 });
});

test('Airflow talks to the in-cluster database with the generated password, by reference', () => {
  const env = find(manifests, 'Deployment', 'airflow-scheduler').spec.template.spec.containers[0].env;
  const conn = env.find((e: any) => e.name === 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN').value;
  const service = find(manifests, 'Service', 'airflow-postgres');
  expect(conn).toBe(`postgresql://airflow:$(AIRFLOW_DB_PASSWORD)@${service.metadata.name}.airflow.svc.cluster.local:5432/airflow`);
  expect(env.find((e: any) => e.name === 'AIRFLOW_DB_PASSWORD').valueFrom.secretKeyRef).toEqual({
    name: 'airflow-secrets',
    key: 'db-password',
  });
  const postgresEnv = find(manifests, 'StatefulSet', 'airflow-postgres').spec.template.spec.containers[0].env;
  expect(postgresEnv.find((e: any) => e.name === 'POSTGRES_PASSWORD').valueFrom.secretKeyRef).toEqual({
    name: 'airflow-secrets',
    key: 'db-password',
  });
});

test('every Airflow pod mounts the chart claims, and dags where dags_folder says', () => {
  const claims = manifests.filter((o) => o.kind === 'PersistentVolumeClaim').map((o) => o.metadata.name);
  for (const [name, spec] of airflowPodSpecs(manifests)) {
    const used = spec.volumes.filter((v: any) => v.persistentVolumeClaim).map((v: any) => v.persistentVolumeClaim.claimName);
    expect([name, used]).toEqual([name, ['airflow-dags-claim', 'airflow-logs-claim', 'airflow-data-claim']]);
    for (const claim of used) expect(claims).toContain(claim);
    const dags = spec.containers[0].volumeMounts.find((m: any) => m.name === 'dags');
    expect([name, dags.mountPath]).toEqual([name, cfg.core.dags_folder]);
  }
});

test('the scheduler is bound to the pod-launcher Role in the chart namespace', () => {
  const binding = find(manifests, 'RoleBinding', 'airflow-pod-launcher');
  expect(binding.metadata.namespace).toBe('airflow');
  expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'airflow-scheduler', namespace: 'airflow' }]);
  expect(find(manifests, 'Deployment', 'airflow-scheduler').spec.template.spec.serviceAccountName).toBe('airflow-scheduler');
  expect(cfg.kubernetes_executor.namespace).toBe('airflow');
});

test('only Kubernetes 1.20 APIs', () => {
  const served = ['v1', 'apps/v1', 'batch/v1', 'rbac.authorization.k8s.io/v1', 'networking.k8s.io/v1'];
  for (const o of manifests) expect([o.kind, served.includes(o.apiVersion)]).toEqual([o.kind, true]);
  expect(manifests.filter((o) => o.kind === 'CronJob')).toEqual([]);
});

test('every Airflow pod meets the restricted Pod Security Standard', () => {
  for (const [name, spec] of airflowPodSpecs(manifests)) {
    expect([name, podSecurityViolations(spec, PodSecurityLevel.RESTRICTED)]).toEqual([name, []]);
  }
});

test('no secret value anywhere in the YAML', () => {
  const text = JSON.stringify(manifests);
  expect(text).not.toMatch(/"kind":"Secret"/);
  for (const o of manifests) {
    const spec = o.spec?.template?.spec;
    for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
      for (const e of c.env ?? []) {
        if (/PASSWORD|SECRET|FERNET/.test(e.name) && !e.name.endsWith('_NAME')) expect([o.metadata.name, e.name, e.value]).toEqual([o.metadata.name, e.name, undefined]);
      }
    }
  }
});

test('the steady-state requests fit a 2 CPU / 4 GiB minikube node with parallelism task pods running', () => {
  let cpu = 0;
  let memory = 0;
  const workloads = manifests.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
  for (const w of workloads) {
    for (const c of w.spec.template.spec.containers) {
      cpu += parseQuantity(String(c.resources.requests.cpu))!;
      memory += parseQuantity(String(c.resources.requests.memory))!;
    }
  }
  const pod: any = chart.airflow.workerPodTemplate;
  // The default pool follows parallelism: that many task pods run at once.
  const slots = Number(cfg.core.parallelism);
  expect(Number(cfg.core.default_pool_task_slot_count)).toBe(slots);
  cpu += slots * parseQuantity(pod.spec.containers[0].resources.requests.cpu)!;
  memory += slots * parseQuantity(pod.spec.containers[0].resources.requests.memory)!;
  // minikube's own pods request about 0.75 CPU and 0.2 GiB of the node's 2 CPU / ~3.8 GiB allocatable.
  expect(cpu).toBeLessThanOrEqual(1.25);
  expect(memory).toBeLessThanOrEqual(3.6 * 2 ** 30);
  expect({ cpu: Math.round(cpu * 1000), memoryMi: memory / 2 ** 20 }).toEqual({ cpu: 950, memoryMi: 3328 });
});

test('the namespace enforces baseline (the Postgres entrypoint starts as root) and warns at restricted', () => {
  expect(find(manifests, 'Namespace', 'airflow').metadata.labels).toMatchObject({
    'pod-security.kubernetes.io/enforce': 'baseline',
    'pod-security.kubernetes.io/warn': 'restricted',
    'pod-security.kubernetes.io/audit': 'restricted',
  });
});

describe('bring-your-own secrets', () => {
  const existingSecrets = {
    fernetKey: { name: 'vault-airflow', key: 'fernet' },
    apiSecretKey: { name: 'vault-airflow', key: 'api' },
    jwtSecret: { name: 'vault-airflow', key: 'jwt' },
    adminPassword: { name: 'vault-airflow', key: 'admin' },
    databasePassword: { name: 'vault-postgres', key: 'password' },
  };

  test('nothing is generated and every reference points at the named Secrets', () => {
    const objects = Testing.synth(new AirflowChart(Testing.app(), 'airflow', { existingSecrets }));
    expect(objects.filter((o) => /secrets-bootstrap/.test(o.metadata.name))).toEqual([]);
    const refs = new Set<string>();
    JSON.stringify(objects, (key, value) => {
      if (key === 'secretKeyRef') refs.add(`${value.name}/${value.key}`);
      return value;
    });
    expect([...refs].sort()).toEqual(['vault-airflow/api', 'vault-airflow/fernet', 'vault-airflow/jwt', 'vault-airflow/admin', 'vault-postgres/password'].sort());
    const postgres = objects.find((o) => o.kind === 'StatefulSet');
    expect(postgres.spec.template.spec.containers[0].env).toContainEqual({
      name: 'POSTGRES_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'vault-postgres', key: 'password' } },
    });
  });

  test('the in-cluster Postgres needs its password named', () => {
    const { databasePassword: _omitted, ...withoutDb } = existingSecrets;
    expect(() => new AirflowChart(Testing.app(), 'airflow', { existingSecrets: withoutDb })).toThrow(
      /AirflowChart at "airflow": property "existingSecrets\.databasePassword" received undefined; allowed: a Secret key holding the password/,
    );
  });
});

/** Whether a Kubernetes label selector (matchLabels and matchExpressions) selects `labels`. */
function selects(selector: any, labels: Record<string, string>): boolean {
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpressions = (selector.matchExpressions ?? []).every((e: any) => {
    switch (e.operator) {
      case 'In': return e.values.includes(labels[e.key]);
      case 'NotIn': return !e.values.includes(labels[e.key]);
      case 'Exists': return e.key in labels;
      case 'DoesNotExist': return !(e.key in labels);
      default: throw new Error(`unknown operator ${e.operator}`);
    }
  });
  return byLabels && byExpressions;
}

test('networkPolicies adds the policies, which admit exactly the pods that use the database', () => {
  const objects = Testing.synth(new AirflowChart(Testing.app(), 'airflow', { networkPolicies: true }));
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  expect(policies.map((p) => p.metadata.name).sort()).toEqual(['airflow-api-server', 'airflow-metadata-db']);
  const db = policies.find((p) => p.metadata.name === 'airflow-metadata-db');
  const postgres = objects.find((o) => o.kind === 'StatefulSet');
  expect(selects(db.spec.podSelector, postgres.spec.template.metadata.labels)).toBe(true);
  const admitted = (labels: Record<string, string>) =>
    db.spec.ingress.some((rule: any) => rule.from.some((peer: any) => peer.podSelector && selects(peer.podSelector, labels)));
  // Every pod that gets the database connection (Deployments and Jobs) may reach Postgres...
  for (const o of objects.filter((x) => ['Deployment', 'Job'].includes(x.kind))) {
    const spec = o.spec.template.spec;
    const usesDb = [...spec.containers, ...(spec.initContainers ?? [])].some((c: any) =>
      (c.env ?? []).some((e: any) => e.name === 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN'),
    );
    expect({ pod: o.metadata.name, admitted: admitted(o.spec.template.metadata.labels) }).toEqual({ pod: o.metadata.name, admitted: usesDb });
  }
  // ...and an Airflow 3 task pod may not: it talks to the api-server only.
  const worker = (find(objects, 'ConfigMap', 'airflow-config').data['pod_template_file.yaml'] as string);
  expect(admitted({ 'app.kubernetes.io/name': 'airflow', 'app.kubernetes.io/part-of': 'airflow', 'app.kubernetes.io/component': 'worker' })).toBe(false);
  expect(worker).toContain('app.kubernetes.io/component: worker');
  expect(Testing.synth(new AirflowChart(Testing.app(), 'airflow')).some((o) => o.kind === 'NetworkPolicy')).toBe(false);
});
