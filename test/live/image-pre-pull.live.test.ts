// ImagePrePull on a real API server (issue #17, docs/task-start.md): a chart for a real cluster (StorageClass
// provisioning, so the pre-pull DaemonSet is on) passes the server-side dry run; and on the local control plane
// the real DaemonSet controller and kube-scheduler put a pre-pull pod on exactly the nodes where a task pod from
// the chart's own pod template can be scheduled, asked node by node.
import * as fs from 'fs';
import { DEFAULT_AIRFLOW_VERSION, StorageProvisioning } from '../../lib';
import {
  clusterAccess,
  controlPlaneScript,
  deleteClusterObjects,
  deleteNamespace,
  expectServerDryRun,
  getObject,
  kubectl,
  kubectlJson,
  kubectlOk,
  synthAirflow,
  tempDir,
  waitFor,
  writeYaml,
} from './support/cluster';
import { executorWorkerPod } from './support/executor-pod';

const NS = 'airflow-prepull';
/** Nodes of this file, by whether a task pod may run there (the worker's nodeSelector, tolerations and affinity). */
const NODES: ReadonlyArray<{ name: string; labels: Record<string, string>; taint?: string; taskPods: boolean }> = [
  { name: 'prepull-live-tasks-spot', labels: { 'node-pool': 'tasks' }, taint: 'spot=true:NoSchedule', taskPods: true },
  { name: 'prepull-live-tasks', labels: { 'node-pool': 'tasks' }, taskPods: true },
  { name: 'prepull-live-tasks-gpu', labels: { 'node-pool': 'tasks' }, taint: 'gpu=true:NoSchedule', taskPods: false },
  { name: 'prepull-live-web', labels: { 'node-pool': 'web' }, taskPods: false },
];

const { local: LOCAL } = clusterAccess();
const testLocal = LOCAL ? test : test.skip;

const objects = synthAirflow({
  namespace: NS,
  provisioning: StorageProvisioning.storageClass('efs-sc'),
  imagePullSecrets: ['regcred'],
  nodeSelector: { 'node-pool': 'control-plane' },
  worker: {
    nodeSelector: { 'node-pool': 'tasks' },
    tolerations: [{ key: 'spot', operator: 'Exists', effect: 'NoSchedule' }],
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In', values: ['linux'] }] }],
        },
      },
    },
  },
});
const daemonSet = objects.find((o) => o.kind === 'DaemonSet');
const podTemplate = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'airflow-config').data['pod_template_file.yaml'];
const dir = tempDir('airflow-cdk8s-live-prepull-');

async function cleanUp(): Promise<void> {
  await deleteNamespace(NS);
  if (LOCAL) await deleteClusterObjects('node', NODES.map((n) => n.name));
}

beforeAll(async () => {
  kubectlOk(['version']);
  if (!LOCAL && getObject('namespace', NS)) throw new Error(`namespace ${NS} exists already: run the live tests on a scratch cluster`);
  await cleanUp();
});

afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  if (process.env.AIRFLOW_CDK8S_LIVE_KEEP !== '1') await cleanUp();
});

describe('a chart for a real cluster, with the pre-pull DaemonSet', () => {
  test('apps/v1 DaemonSet is served', () => {
    const kinds = JSON.parse(kubectlOk(['get', '--raw', '/apis/apps/v1'])).resources.map((r: any) => r.kind);
    expect(kinds).toContain('DaemonSet');
    expect(daemonSet.apiVersion).toBe('apps/v1');
  });

  test('the server-side dry run accepts every object, the DaemonSet and its ServiceAccount included', () => {
    kubectlOk(['apply', '-f', writeYaml(dir, 'namespace.yaml', objects.filter((o) => o.kind === 'Namespace'))]);
    const rest = objects.filter((o) => o.kind !== 'Namespace');
    const lines = expectServerDryRun(dir, 'rest.yaml', rest);
    expect(lines).toContain('daemonset.apps/airflow-image-pre-pull created (server dry run)');
    expect(getObject('daemonset', 'airflow-image-pre-pull', NS)).toBeUndefined();
  });
});

describe('on the local control plane: the pre-pull pods cover exactly the nodes task pods can run on', () => {
  testLocal('one pre-pull pod per node where a task pod from the template is schedulable, none elsewhere', async () => {
    for (const n of NODES) {
      controlPlaneScript(['add-node', n.name, '2', '4Gi']);
      kubectlOk(['label', 'node', n.name, '--overwrite', ...Object.entries(n.labels).map(([k, v]) => `${k}=${v}`)]);
      if (n.taint) kubectlOk(['taint', 'node', n.name, n.taint, '--overwrite']);
    }
    const accounts = ['airflow-image-pre-pull', 'airflow-worker'];
    const own = objects.filter((o) => o.kind === 'DaemonSet' || (o.kind === 'ServiceAccount' && accounts.includes(o.metadata.name)));
    kubectlOk(['apply', '-f', writeYaml(dir, 'pre-pull.yaml', own)]);

    // The kube-scheduler's verdict, node by node: a task pod from the pod template, pinned to one node. Its
    // volumes are left out (their claims would have to be bound first); its node selection is the template's.
    for (const n of NODES) {
      const pod = executorWorkerPod(podTemplate, { name: `task-on-${n.name}`, namespace: NS, airflowVersion: DEFAULT_AIRFLOW_VERSION });
      delete pod.spec.volumes;
      for (const c of pod.spec.containers) delete c.volumeMounts;
      const pin = { matchFields: [{ key: 'metadata.name', operator: 'In', values: [n.name] }] };
      const required = pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
      pod.spec.affinity = {
        ...pod.spec.affinity,
        nodeAffinity: {
          ...pod.spec.affinity?.nodeAffinity,
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: (required?.nodeSelectorTerms ?? [{}]).map((t: any) => ({ ...t, ...pin })),
          },
        },
      };
      kubectlOk(['create', '-f', '-'], JSON.stringify(pod));
    }
    const verdict = await waitFor(
      'each pinned task pod to be scheduled or found unschedulable',
      90_000,
      () => {
        const out: Record<string, boolean> = {};
        for (const n of NODES) {
          const pod = getObject('pod', `task-on-${n.name}`, NS);
          if (pod?.spec?.nodeName) out[n.name] = true;
          else if ((pod?.status?.conditions ?? []).some((c: any) => c.type === 'PodScheduled' && c.reason === 'Unschedulable')) out[n.name] = false;
          else return undefined;
        }
        return out;
      },
      () => kubectl(['get', 'pods', '-n', NS, '-o', 'wide']).stdout,
      1000,
    );
    expect(verdict).toEqual(Object.fromEntries(NODES.map((n) => [n.name, n.taskPods])));

    // The DaemonSet controller's: a pod for each node it targets, bound there by the kube-scheduler.
    const prePullNodes = await waitFor(
      'the pre-pull pods to be bound to their nodes',
      90_000,
      () => {
        const ds = getObject('daemonset', 'airflow-image-pre-pull', NS);
        const pods = kubectlJson(['get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/component=image-pre-pull']).items as any[];
        const wanted = ds?.status?.desiredNumberScheduled;
        if (wanted === undefined || pods.length !== wanted || !pods.every((p) => p.spec.nodeName)) return undefined;
        return pods.map((p) => p.spec.nodeName as string).filter((name) => NODES.some((n) => n.name === name)).sort();
      },
      () => kubectl(['get', 'daemonset,pods', '-n', NS, '-o', 'wide']).stdout,
      1000,
    );
    expect(prePullNodes).toEqual(Object.keys(verdict).filter((name) => verdict[name]).sort());
    console.log(`LIVE: pre-pull pods on ${prePullNodes.join(', ')}; task pods schedulable on the same nodes only`);
  });
});
