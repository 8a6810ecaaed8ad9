// Issue #22 items 2, 4, 5, 6 on a real Kubernetes API server: a chart with a task image of its own, containers and
// init containers of the user's own in every component, the task pods and the Celery workers, probe timings on
// every probe, and ServiceAccounts the user manages passes the server-side dry run with field validation; the
// pod-launcher RoleBinding gives the scheduler's own ServiceAccount the executor's rights (and the library's
// `airflow-scheduler` none: it is not made); the task pod the executor would create from the template is accepted
// under the user's ServiceAccount, which must exist (the ServiceAccount admission checks it). Its own namespace,
// deleted before and after (docs/live-tests.md).
import * as fs from 'fs';
import * as k8s from '../../imports/k8s';
import { AirflowChartProps, DEFAULT_AIRFLOW_VERSION, StorageProvisioning } from '../../lib';
import { deleteNamespace, expectServerDryRun, getObject, kubectl, kubectlOk, synthAirflow, tempDir, unexpectedStderr, writeYaml } from './support/cluster';
import { executorWorkerPod } from './support/executor-pod';

const NS = 'airflow-cdk8s-live-pods';
/** A task image of the team's own, built FROM the control plane's Airflow (the default): its tag names that release. */
const TASK_IMAGE = `registry.example.com/team/airflow-tasks:${DEFAULT_AIRFLOW_VERSION}-extras`;
const ACCOUNTS = { scheduler: 'scheduler-identity', ui: 'ui-identity', tasks: 'tasks-identity', celery: 'celery-identity' };

const q = (v: string) => k8s.Quantity.fromString(v);
const own = (name: string): k8s.Container => ({
  name,
  image: 'busybox:1.36',
  command: ['sh', '-c', 'sleep 3600'],
  resources: { requests: { cpu: q('10m'), memory: q('16Mi') }, limits: { cpu: q('50m'), memory: q('32Mi') } },
});

/** Every option of issue #22 items 2, 4, 5 and 6 on, on a cluster with a StorageClass (so the image pre-pull is on too). */
const PROPS: AirflowChartProps = {
  namespace: NS,
  provisioning: StorageProvisioning.storageClass('standard'),
  scheduler: {
    livenessProbe: { periodSeconds: 30, timeoutSeconds: 30, failureThreshold: 6, initialDelaySeconds: 60 },
    extraContainers: [own('proxy')],
    extraInitContainers: [own('fetch-certs')],
    existingServiceAccountName: ACCOUNTS.scheduler,
  },
  apiServer: {
    startupProbe: { periodSeconds: 5, failureThreshold: 24 },
    readinessProbe: { periodSeconds: 5, timeoutSeconds: 3 },
    livenessProbe: { periodSeconds: 15, timeoutSeconds: 10, failureThreshold: 4 },
    extraContainers: [own('auth-proxy')],
    existingServiceAccountName: ACCOUNTS.ui,
  },
  dagProcessor: { livenessProbe: { timeoutSeconds: 45 }, extraInitContainers: [own('warm-cache')] },
  triggerer: { livenessProbe: { failureThreshold: 8 }, extraContainers: [own('agent')] },
  worker: { image: TASK_IMAGE, extraInitContainers: [own('fetch-model')], existingServiceAccountName: ACCOUNTS.tasks },
  celery: {
    livenessProbe: { periodSeconds: 45 },
    extraContainers: [own('agent')],
    extraInitContainers: [own('warm-up')],
    existingServiceAccountName: ACCOUNTS.celery,
  },
};

const dir = tempDir('airflow-cdk8s-live-pods-');
const objects = synthAirflow(PROPS);

/** `kubectl auth can-i` as a service account of the namespace (with the groups a pod's token carries). */
function canI(serviceAccount: string, verb: string, resource: string): boolean {
  const r = kubectl([
    'auth', 'can-i', verb, resource, '-n', NS,
    `--as=system:serviceaccount:${NS}:${serviceAccount}`,
    '--as-group=system:serviceaccounts',
    `--as-group=system:serviceaccounts:${NS}`,
    '--as-group=system:authenticated',
  ]);
  if (r.code === 0 && r.stdout.trim() === 'yes') return true;
  if (r.code === 1 && r.stdout.trim().startsWith('no')) return false;
  throw new Error(`kubectl auth can-i ${verb} ${resource} as ${serviceAccount}: exit ${r.code} ${r.stdout} ${r.stderr}`);
}

beforeAll(async () => {
  kubectlOk(['version']);
  await deleteNamespace(NS);
  // The namespace (the namespace-lifecycle admission refuses objects of one that does not exist, dry run or not),
  // and the ServiceAccounts the user manages, made as the user would, beside the chart.
  kubectlOk(['apply', '-f', writeYaml(dir, 'namespace.yaml', objects.filter((o) => o.kind === 'Namespace'))]);
  for (const account of Object.values(ACCOUNTS)) kubectlOk(['create', 'serviceaccount', account, '-n', NS]);
});

afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  if (process.env.AIRFLOW_CDK8S_LIVE_KEEP === '1') return;
  await deleteNamespace(NS);
});

/** OpenShift mode (item 7) with every pod the chart can have: no fixed uid, gid or fsGroup anywhere. */
const OPENSHIFT: AirflowChartProps = {
  namespace: NS,
  openShift: true,
  provisioning: StorageProvisioning.storageClass('standard'),
  celery: {},
  gitSync: { repository: 'https://github.com/org/dags.git' },
  metrics: true,
  logRetentionDays: 7,
  scheduler: { extraContainers: [own('proxy')] },
};

describe('issue #22: the task image, containers of your own, probe timings, your own ServiceAccounts', () => {
  test('server-side dry run with field validation: every object is accepted, none stored', () => {
    const rest = objects.filter((o) => o.kind !== 'Namespace');
    const lines = expectServerDryRun(dir, 'rest.yaml', rest);
    expect(lines).toHaveLength(rest.length);
    // The library made no ServiceAccount where the user brings one.
    const accounts = objects.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name);
    expect(accounts).not.toEqual(expect.arrayContaining(['airflow-scheduler']));
    expect(accounts.filter((a) => ['airflow-scheduler', 'airflow-api-server', 'airflow-worker', 'airflow-celery-worker'].includes(a))).toEqual([]);
    expect(getObject('deployment', 'airflow-scheduler', NS)).toBeUndefined();
  });

  test("the pod-launcher RoleBinding, applied, gives the scheduler's own ServiceAccount the executor's rights, and no one else", () => {
    const rbac = objects.filter((o) => (o.kind === 'Role' || o.kind === 'RoleBinding') && o.metadata.name === 'airflow-pod-launcher');
    expect(rbac).toHaveLength(2);
    kubectlOk(['apply', '-f', writeYaml(dir, 'rbac.yaml', rbac)]);
    expect(canI(ACCOUNTS.scheduler, 'create', 'pods')).toBe(true);
    expect(canI(ACCOUNTS.scheduler, 'delete', 'pods')).toBe(true);
    expect(canI(ACCOUNTS.scheduler, 'get', 'secrets')).toBe(false);
    for (const other of [ACCOUNTS.ui, ACCOUNTS.tasks, ACCOUNTS.celery, 'airflow-scheduler']) expect(canI(other, 'create', 'pods')).toBe(false);
  });

  test('the task pod the executor creates from the template is accepted: the task image, the init container, the user\'s ServiceAccount', () => {
    const template = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'airflow-config').data['pod_template_file.yaml'];
    const pod = executorWorkerPod(template, { name: 'pods-live-task', namespace: NS, airflowVersion: DEFAULT_AIRFLOW_VERSION });
    const r = kubectl(['create', '--dry-run=server', '--validate=true', '-o', 'json', '-f', '-'], JSON.stringify(pod));
    expect(unexpectedStderr(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    const created = JSON.parse(r.stdout);
    expect(created.spec.serviceAccountName).toBe(ACCOUNTS.tasks);
    expect(created.spec.containers.map((c: any) => [c.name, c.image])).toEqual([['base', TASK_IMAGE]]);
    expect(created.spec.initContainers.map((c: any) => c.name)).toEqual(['fetch-model']);
    expect(created.spec.initContainers[0].securityContext).toEqual(created.spec.containers[0].securityContext);
    expect(getObject('pod', 'pods-live-task', NS)).toBeUndefined();
  });

  test('a task pod under a ServiceAccount that does not exist is refused by the server (why the user must create it first)', () => {
    const template = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'airflow-config').data['pod_template_file.yaml'];
    const pod = executorWorkerPod(template, { name: 'pods-live-task-2', namespace: NS, airflowVersion: DEFAULT_AIRFLOW_VERSION });
    pod.spec.serviceAccountName = 'not-created';
    const r = kubectl(['create', '--dry-run=server', '-f', '-'], JSON.stringify(pod));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/serviceaccount "not-created" not found/);
  });

  test('OpenShift mode (item 7): every object is accepted, and so is the task pod, none with a fixed uid', () => {
    const openShift = synthAirflow(OPENSHIFT).filter((o) => o.kind !== 'Namespace');
    // The pod-launcher RBAC applied above would be "configured", not "created": the dry run starts from none.
    kubectlOk(['delete', 'role,rolebinding', 'airflow-pod-launcher', '-n', NS]);
    const lines = expectServerDryRun(dir, 'openshift.yaml', openShift);
    expect(lines).toHaveLength(openShift.length);
    const template = openShift.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'airflow-config').data['pod_template_file.yaml'];
    const pod = executorWorkerPod(template, { name: 'pods-live-openshift-task', namespace: NS, airflowVersion: DEFAULT_AIRFLOW_VERSION });
    // The library's airflow-worker ServiceAccount is in the dry run only: the task pod runs as one that exists.
    pod.spec.serviceAccountName = ACCOUNTS.tasks;
    const r = kubectl(['create', '--dry-run=server', '--validate=true', '-o', 'json', '-f', '-'], JSON.stringify(pod));
    expect(unexpectedStderr(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    const created = JSON.parse(r.stdout);
    expect(created.spec.securityContext).toEqual({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(created.spec.containers[0].securityContext.runAsUser).toBeUndefined();
  });
});
