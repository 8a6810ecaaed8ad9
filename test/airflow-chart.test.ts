import { Testing } from 'cdk8s';
import { AirflowChart, ONE_SHOT_JOB_LABEL } from '../lib';
import { parseQuantity } from '../lib/core/validators';
import { podSecurityViolations, PodSecurityLevel } from '../lib/security/pod-security';
import { airflowPodSpecs, byKind, defaultVolumesOf, EXISTING_SECRETS, cfgOf, containersOf, find, podsOf, selects } from './support';
import { validationReport } from '../validation';

// The whole default chart. Its YAML is dist/ (main.ts's AirflowApp writes it as three files by box), the one golden copy: CI fails when dist/ differs
// from a fresh synth, and reviewers read the diff there. These tests pin what the YAML means: the objects and
// their names, how claims bind volumes, who runs as which ServiceAccount with which rules, what each pod mounts
// and reads, and how each component is probed.
const chart = new AirflowChart(Testing.app(), 'airflow');
const manifests = Testing.synth(chart);
const cfg = cfgOf(manifests);

test('the objects, by the names other components and the docs rely on, each once', () => {
  const names = manifests.map((o) => `${o.kind}/${o.metadata.name}`.replace(/-[0-9a-f]{8}$/, '-<hash>'));
  const components = ['api-server', 'dag-processor', 'scheduler', 'triggerer'];
  const accounts = [...components, 'create-user', 'db-migrate', 'postgres', 'secrets-bootstrap', 'volume-permissions', 'worker'];
  expect([...names].sort()).toEqual(
    [
      'Namespace/airflow',
      ...['dags', 'logs', 'data', 'postgres', 'postgres-keys'].flatMap((v) => [`PersistentVolume/airflow-${v}-volume`, `PersistentVolumeClaim/airflow-${v}-claim`]),
      ...accounts.map((a) => `ServiceAccount/airflow-${a}`),
      'Role/airflow-secrets-bootstrap',
      'RoleBinding/airflow-secrets-bootstrap',
      'Job/airflow-secrets-bootstrap-<hash>',
      'Job/airflow-volume-permissions-<hash>',
      'StatefulSet/airflow-postgres',
      'Service/airflow-postgres',
      'ConfigMap/airflow-config',
      ...components.map((c) => `Deployment/airflow-${c}`),
      'Service/airflow-api-server',
      'Role/airflow-pod-launcher',
      'RoleBinding/airflow-pod-launcher',
      'Job/airflow-db-migrate-3-2-2-<hash>',
      'Job/airflow-create-user-<hash>',
    ].sort(),
  );
  expect(new Set(names).size).toBe(names.length);
  // Cluster-scoped objects carry no namespace; everything else is in the chart's.
  for (const o of manifests) {
    const clusterScoped = ['Namespace', 'PersistentVolume'].includes(o.kind);
    expect([o.kind, o.metadata.name, o.metadata.namespace]).toEqual([o.kind, o.metadata.name, clusterScoped ? undefined : 'airflow']);
  }
});

test('every claim is bound to its own volume, both ways, on the unserved class, and kept on delete', () => {
  for (const pvc of byKind(manifests, 'PersistentVolumeClaim')) {
    const pv = find(manifests, 'PersistentVolume', pvc.spec.volumeName);
    expect([pvc.metadata.name, pv.metadata.name]).toEqual([pvc.metadata.name, pvc.metadata.name.replace(/-claim$/, '-volume')]);
    expect(pv.spec.claimRef).toEqual({ name: pvc.metadata.name, namespace: 'airflow' });
    expect([pv.spec.storageClassName, pvc.spec.storageClassName]).toEqual(['airflow-static', 'airflow-static']);
    expect(pv.spec.persistentVolumeReclaimPolicy).toBe('Retain');
    expect(pvc.spec.resources.requests.storage).toBe(pv.spec.capacity.storage);
  }
  // dags, logs, data; Postgres' data and the copy of the generated keys beside it
  expect(byKind(manifests, 'PersistentVolume')).toHaveLength(5);
});

test('each workload runs as its own ServiceAccount, and only two Roles exist, each bound to one account', () => {
  for (const pod of podsOf(manifests)) {
    const component = pod.labels['app.kubernetes.io/component'];
    const expected = component === 'metadata-db' ? 'airflow-postgres' : `airflow-${component}`;
    expect([pod.object, pod.spec.serviceAccountName]).toEqual([pod.object, expected]);
    if (expected) find(manifests, 'ServiceAccount', expected);
  }
  expect(find(manifests, 'Role', 'airflow-pod-launcher').rules).toEqual([
    { apiGroups: [''], resources: ['pods'], verbs: ['create', 'delete', 'get', 'list', 'patch', 'watch'] },
    { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
    { apiGroups: [''], resources: ['events'], verbs: ['list'] },
  ]);
  expect(find(manifests, 'Role', 'airflow-secrets-bootstrap').rules).toEqual([
    { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    { apiGroups: [''], resources: ['secrets'], resourceNames: ['airflow-secrets'], verbs: ['get', 'patch'] },
  ]);
  const bindings = byKind(manifests, 'RoleBinding').map((b) => [b.roleRef.kind, b.roleRef.name, b.subjects]);
  expect(bindings.sort()).toEqual([
    ['Role', 'airflow-pod-launcher', [{ kind: 'ServiceAccount', name: 'airflow-scheduler', namespace: 'airflow' }]],
    ['Role', 'airflow-secrets-bootstrap', [{ kind: 'ServiceAccount', name: 'airflow-secrets-bootstrap', namespace: 'airflow' }]],
  ]);
  // A token only where the API is used: the scheduler (task pods) and the bootstrap Job (the Secret).
  const withToken = podsOf(manifests).filter((p) => p.spec.automountServiceAccountToken !== false).map((p) => p.object);
  expect(withToken.sort()).toEqual(['Deployment/airflow-scheduler', expect.stringMatching(/^Job\/airflow-secrets-bootstrap-[0-9a-f]{8}$/)]);
});

test('every long-running container is probed: the api-server over HTTP, Postgres with pg_isready, the rest with jobs check', () => {
  const probes: Record<string, string[]> = {};
  for (const o of [...byKind(manifests, 'Deployment'), ...byKind(manifests, 'StatefulSet')]) {
    const c = o.spec.template.spec.containers[0];
    probes[o.metadata.name] = ['startupProbe', 'readinessProbe', 'livenessProbe']
      .filter((p) => c[p])
      .map((p) => `${p}: ${c[p].httpGet ? `GET ${c[p].httpGet.path}` : c[p].exec.command.join(' ').replace(/^.*exec airflow /, 'airflow ').split(' --')[0]}`);
  }
  expect(probes).toEqual({
    // Liveness on /api/v2/version, which answers without the database: an outage of Postgres does not restart the UI.
    'airflow-api-server': ['startupProbe: GET /execution/health', 'readinessProbe: GET /api/v2/monitor/health', 'livenessProbe: GET /api/v2/version'],
    'airflow-scheduler': ['livenessProbe: airflow jobs check'],
    'airflow-dag-processor': ['livenessProbe: airflow jobs check'],
    'airflow-triggerer': ['livenessProbe: airflow jobs check'],
    'airflow-postgres': ['startupProbe: pg_isready', 'readinessProbe: pg_isready', 'livenessProbe: pg_isready'],
  });
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

test('every Airflow pod mounts the chart claims it uses, and dags (read-only) where dags_folder says', () => {
  const claims = manifests.filter((o) => o.kind === 'PersistentVolumeClaim').map((o) => o.metadata.name);
  for (const [name, spec] of airflowPodSpecs(manifests)) {
    const used = spec.volumes.filter((v: any) => v.persistentVolumeClaim).map((v: any) => v.persistentVolumeClaim.claimName);
    expect([name, used]).toEqual([name, defaultVolumesOf(name).map((v) => `airflow-${v}-claim`)]);
    for (const claim of used) expect(claims).toContain(claim);
    const dags = spec.containers[0].volumeMounts.find((m: any) => m.name === 'dags');
    if (used.includes('airflow-dags-claim')) expect([name, dags]).toEqual([name, { name: 'dags', mountPath: cfg.core.dags_folder, readOnly: true }]);
  }
});

test('the scheduler is bound to the pod-launcher Role in the chart namespace', () => {
  const binding = find(manifests, 'RoleBinding', 'airflow-pod-launcher');
  expect(binding.metadata.namespace).toBe('airflow');
  expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'airflow-scheduler', namespace: 'airflow' }]);
  expect(find(manifests, 'Deployment', 'airflow-scheduler').spec.template.spec.serviceAccountName).toBe('airflow-scheduler');
  expect(cfg.kubernetes_executor.namespace).toBe('airflow');
});

test('the one-shot Jobs are named after their pod spec and labelled for the prune of old ones, on the Job only', () => {
  const jobs = byKind(manifests, 'Job');
  expect(jobs.map((j) => j.metadata.name.replace(/-[0-9a-f]{8}$/, '')).sort()).toEqual([
    'airflow-create-user', 'airflow-db-migrate-3-2-2', 'airflow-secrets-bootstrap', 'airflow-volume-permissions',
  ]);
  for (const job of jobs) {
    expect([job.metadata.name, job.metadata.labels[ONE_SHOT_JOB_LABEL]]).toEqual([job.metadata.name, 'true']);
    // not on the pod template: it is immutable, so a new label there would fail the apply over an existing Job
    expect([job.metadata.name, job.spec.template.metadata.labels[ONE_SHOT_JOB_LABEL]]).toEqual([job.metadata.name, undefined]);
  }
  // nothing else carries it: `kubectl apply --prune -l` with it applies and prunes these Jobs only (docs/airflow.md)
  expect(manifests.filter((o) => o.metadata.labels?.[ONE_SHOT_JOB_LABEL] !== undefined)).toEqual(jobs);
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
        if (/PASSWORD|SECRET|FERNET/.test(e.name) && !/_(NAME|PATH)$/.test(e.name)) expect([o.metadata.name, e.name, e.value]).toEqual([o.metadata.name, e.name, undefined]);
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
  // Sized from the runtime stage's measurements (issue #15): 1744Mi always on (the log groomer's 16Mi
  // included) and 256Mi per task pod; 3344Mi before, with [api] workers = 4 sizes.
  expect({ cpu: Math.round(cpu * 1000), memoryMi: memory / 2 ** 20 }).toEqual({ cpu: 960, memoryMi: 2768 });
});

test('the namespace enforces and warns at baseline (the Postgres entrypoint starts as root) and audits at restricted', () => {
  expect(find(manifests, 'Namespace', 'airflow').metadata.labels).toMatchObject({
    'pod-security.kubernetes.io/enforce': 'baseline',
    'pod-security.kubernetes.io/warn': 'baseline',
    'pod-security.kubernetes.io/audit': 'restricted',
  });
});

describe('bring-your-own secrets', () => {
  const existingSecrets = EXISTING_SECRETS;

  test('nothing is generated and every reference points at the named Secrets', () => {
    const objects = Testing.synth(new AirflowChart(Testing.app(), 'airflow', { existingSecrets }));
    expect(objects.filter((o) => /secrets-bootstrap/.test(o.metadata.name))).toEqual([]);
    const refs = new Set<string>();
    JSON.stringify(objects, (key, value) => {
      if (key === 'secretKeyRef') refs.add(`${value.name}/${value.key}`);
      return value;
    });
    expect([...refs].sort()).toEqual(['vault-airflow/api_secret_key', 'vault-airflow/fernet', 'vault-airflow/jwt.secret', 'airflow-admin/password', 'pg-credentials/password'].sort());
    const postgres = objects.find((o) => o.kind === 'StatefulSet');
    expect(postgres.spec.template.spec.containers[0].env).toContainEqual({
      name: 'POSTGRES_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'pg-credentials', key: 'password' } },
    });
  });

  test('the in-cluster Postgres needs its password named', () => {
    const { databasePassword: _omitted, ...withoutDb } = existingSecrets;
    expect(() => Testing.synth(new AirflowChart(Testing.app(), 'airflow', { existingSecrets: withoutDb }))).toThrow(
      /AirflowChart at "airflow": property "existingSecrets\.databasePassword" received undefined; allowed: a Secret key holding the password/,
    );
  });
});

test('networkPolicies adds the policies, which admit exactly the pods that use the database', () => {
  const objects = Testing.synth(new AirflowChart(Testing.app(), 'airflow', { networkPolicies: true }));
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  expect(policies.map((p) => p.metadata.name).sort()).toEqual([
    'airflow-api-server', 'airflow-default-deny', 'airflow-dns', 'airflow-execution-api-clients', 'airflow-kubernetes-api',
    'airflow-metadata-db', 'airflow-metadata-db-clients', 'airflow-task-egress',
  ]);
  const db = policies.find((p) => p.metadata.name === 'airflow-metadata-db');
  const postgres = objects.find((o) => o.kind === 'StatefulSet');
  expect(selects(db.spec.podSelector, postgres.spec.template.metadata.labels)).toBe(true);
  const admitted = (labels: Record<string, string>) =>
    db.spec.ingress.some((rule: any) => rule.from.some((peer: any) => peer.podSelector && selects(peer.podSelector, labels)));
  // Every pod that gets the database connection (Deployments and Jobs) may reach Postgres...
  for (const o of objects.filter((x) => ['Deployment', 'Job'].includes(x.kind))) {
    const usesDb = containersOf(o.spec.template.spec).some((c: any) =>
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

describe('createNamespace: false, to deploy into a namespace you already manage (issue #21)', () => {
  const mine = new AirflowChart(Testing.app(), 'airflow', { namespace: 'team-data', createNamespace: false });
  const objects = Testing.synth(mine);

  test('no Namespace object: nothing creates or relabels the namespace', () => {
    expect(byKind(objects, 'Namespace')).toEqual([]);
    expect(mine.airflowNamespace).toBeUndefined();
    // Everything else is the chart in that namespace, object for object.
    const created = Testing.synth(new AirflowChart(Testing.app(), 'airflow', { namespace: 'team-data' }));
    const ids = (list: any[]) => list.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(ids(objects)).toEqual(ids(created.filter((o) => o.kind !== 'Namespace')));
    for (const o of objects.filter((x) => x.kind !== 'PersistentVolume')) expect([o.kind, o.metadata.namespace]).toEqual([o.kind, 'team-data']);
  });

  test('it validates (schema and cross-object checks), as the default chart does', () => {
    expect(validationReport(mine)).toEqual([]);
  });

  test('the level the namespace must allow is the one the Namespace would enforce', () => {
    expect(mine.podSecurityLevel).toBe(PodSecurityLevel.BASELINE);
    const created = new AirflowChart(Testing.app(), 'airflow', { namespace: 'team-data' });
    const ns = find(Testing.synth(created), 'Namespace');
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe(mine.podSecurityLevel);
  });

  test('true (the default) emits it', () => {
    expect(byKind(Testing.synth(new AirflowChart(Testing.app(), 'airflow', { createNamespace: true })), 'Namespace')).toHaveLength(1);
  });
});

describe('the recommended labels and one naming rule (issue #23 item 6)', () => {
  const RECOMMENDED = ['name', 'instance', 'version', 'component', 'part-of', 'managed-by'].map((l) => `app.kubernetes.io/${l}`);

  test('every object carries the six recommended labels, the Namespace, the volumes, the claims and Postgres included', () => {
    for (const o of manifests) {
      const labels = o.metadata.labels ?? {};
      expect({ object: `${o.kind}/${o.metadata.name}`, missing: RECOMMENDED.filter((l) => !labels[l]) }).toEqual({ object: `${o.kind}/${o.metadata.name}`, missing: [] });
      expect([labels['app.kubernetes.io/name'], labels['app.kubernetes.io/part-of']]).toEqual(['airflow', 'airflow']);
      expect(labels['app.kubernetes.io/instance']).toBe('airflow');
      expect(labels['app.kubernetes.io/version']).toBe('3.2.2');
      expect(labels['app.kubernetes.io/managed-by']).toBe('airflow-cdk8s');
    }
    expect(find(manifests, 'Namespace').metadata.labels['app.kubernetes.io/component']).toBe('namespace');
    expect(find(manifests, 'StatefulSet', 'airflow-postgres').metadata.labels['app.kubernetes.io/component']).toBe('metadata-db');
  });

  test('no selector holds version, instance or managed-by (selectors are immutable), and pod templates keep their labels', () => {
    const selectors = manifests.flatMap((o) => [o.spec?.selector?.matchLabels, o.kind === 'Service' ? o.spec.selector : undefined]).filter(Boolean);
    expect(selectors.length).toBeGreaterThan(0);
    for (const s of selectors) {
      expect(Object.keys(s).filter((k) => /version|instance|managed-by/.test(k))).toEqual([]);
    }
    // pod templates are left as they were: only the migration Job's pods had (and have) the version they migrate to
    for (const pod of podsOf(manifests)) {
      const allowed = pod.object.startsWith('Job/airflow-db-migrate-') ? /instance|managed-by/ : /version|instance|managed-by/;
      expect({ pod: pod.object, labels: Object.keys(pod.labels).filter((k) => allowed.test(k)) }).toEqual({ pod: pod.object, labels: [] });
    }
  });

  test("an object's own labels and the chart's labels win over the recommended ones", () => {
    const objects = Testing.synth(new AirflowChart(Testing.app(), 'airflow', { labels: { 'app.kubernetes.io/instance': 'prod', team: 'data' } }));
    for (const o of objects) expect([o.metadata.labels['app.kubernetes.io/instance'], o.metadata.labels.team]).toEqual(['prod', 'data']);
    // the migration Job's version is the one it ran for: the same one here
    const migrate = byKind(objects, 'Job').find((j) => j.metadata.name.startsWith('airflow-db-migrate-'))!;
    expect(migrate.metadata.labels['app.kubernetes.io/version']).toBe('3.2.2');
  });

  test('namespaced objects are airflow-* in every namespace; only the cluster-scoped volumes take the namespace as prefix', () => {
    const objects = Testing.synth(new AirflowChart(Testing.app(), 'team-a', { namespace: 'team-a' }));
    for (const o of objects) {
      const expected = o.kind === 'PersistentVolume' ? /^team-a-[a-z-]+-volume$/ : o.kind === 'Namespace' ? /^team-a$/ : /^airflow-/;
      expect(`${o.kind}/${o.metadata.name}`).toMatch(new RegExp(`^${o.kind}/${expected.source.slice(1)}`));
    }
    expect(find(objects, 'StatefulSet', 'airflow-postgres').metadata.namespace).toBe('team-a');
    expect(find(objects, 'PersistentVolume', 'team-a-postgres-volume').spec.claimRef).toEqual({ name: 'airflow-postgres-claim', namespace: 'team-a' });
    expect(find(objects, 'PersistentVolumeClaim', 'airflow-dags-claim').spec.volumeName).toBe('team-a-dags-volume');
    expect(find(objects, 'Namespace').metadata.labels['app.kubernetes.io/instance']).toBe('team-a');
  });
});

test('any valid namespace name deploys with the defaults: 63 characters, or starting with a digit (DNS-1123 labels both)', () => {
  // The PersistentVolumes' prefix defaults to the namespace's name; it was capped at 40 characters (and, for
  // Postgres, had to start with a letter) from when it also named namespaced objects, so a valid namespace was
  // refused by default with a message about a namePrefix the user never set.
  for (const namespace of ['a'.repeat(30) + '-' + 'b'.repeat(32), '2024-airflow']) {
    const objects = Testing.synth(new AirflowChart(Testing.app(), 'airflow', { namespace }));
    const pvs = objects.filter((o) => o.kind === 'PersistentVolume').map((o) => o.metadata.name).sort();
    expect(pvs).toEqual(['dags', 'data', 'logs', 'postgres', 'postgres-keys'].map((n) => `${namespace}-${n}-volume`).sort());
    for (const pv of objects.filter((o) => o.kind === 'PersistentVolume')) expect(pv.spec.claimRef.namespace).toBe(namespace);
  }
});
