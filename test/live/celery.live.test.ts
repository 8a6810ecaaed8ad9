// Hybrid executors (issue #16) on a real Kubernetes API server: the chart with `celery` (Redis, Celery workers,
// their NetworkPolicy) passes the server-side dry run, applies, gives the new service accounts no rights, and
// on a minikube-sized Node the scheduler still places everything — and fewer task pods fit beside the
// always-on Celery pool. Its own namespace state and Node: it cleans up before and after, like the default
// chart's file (docs/live-tests.md).
import * as fs from 'fs';
import {
  controlPlaneScript,
  deleteClusterObjects,
  deleteNamespace,
  getObject,
  isLocalControlPlane,
  kubectl,
  kubectlJson,
  kubectlName,
  kubectlOk,
  mayMutateCluster,
  objectKey,
  recordResult,
  synthAirflow,
  tempDir,
  waitFor,
  writeYaml,
} from './support/cluster';
import { executorWorkerPod } from './support/executor-pod';

const NS = 'airflow';
const NODE = 'airflow-cdk8s-live-celery-node';
const WORKER_PREFIX = 'airflow-live-worker-';
const PROPS = { celery: {}, networkPolicies: true };

let LOCAL = false;
let MUTATE = false;
try {
  LOCAL = isLocalControlPlane();
  MUTATE = mayMutateCluster();
} catch {
  // no kubeconfig: every test fails in beforeAll with kubectl's own message
}
const testLocal = LOCAL ? test : test.skip;
/** kubectl's stderr less the Pod Security warnings of clusters from 1.23 on (the namespace warns at restricted). */
const unexpectedStderr = (stderr: string) =>
  stderr.split('\n').filter((line) => line.trim() !== '' && !/^Warning: would violate PodSecurity "restricted/.test(line));

const dir = tempDir('airflow-cdk8s-live-celery-');
const objects = synthAirflow(PROPS);
const pvs = () => objects.filter((o) => o.kind === 'PersistentVolume').map((o) => o.metadata.name);
let chartFile = '';
let mayCleanUp = false;

async function cleanUp(): Promise<void> {
  await deleteNamespace(NS);
  await deleteClusterObjects('persistentvolume', pvs());
  if (LOCAL) await deleteClusterObjects('node', [NODE]);
}

beforeAll(async () => {
  kubectlOk(['version']);
  if (!MUTATE && (getObject('namespace', NS) || pvs().some((pv) => getObject('persistentvolume', pv)))) {
    throw new Error(
      `The live tests apply and then delete the chart, but this cluster already has namespace ${NS} or its volumes. ` +
        'Run them on a scratch cluster, or set AIRFLOW_CDK8S_LIVE_MUTATE_CLUSTER=1 to let them replace it.',
    );
  }
  mayCleanUp = true;
  await cleanUp();
});

afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  if (!mayCleanUp || process.env.AIRFLOW_CDK8S_LIVE_KEEP === '1') return;
  await cleanUp();
});

describe('the chart with celery: server-side dry run with field validation', () => {
  test.each([
    ['Airflow 3 (the default image), with network policies', PROPS],
    ['Airflow 2.11, with network policies', { ...PROPS, image: 'apache/airflow:2.11.0' }],
    ['an external broker (no Redis)', { celery: { externalBroker: { urlSecret: { name: 'broker', key: 'url' } } } }],
  ])('%s: every object is accepted, none stored', (_label, props) => {
    const variant = synthAirflow(props);
    kubectlOk(['apply', '-f', writeYaml(dir, 'namespace.yaml', variant.filter((o) => o.kind === 'Namespace'))]);
    const rest = variant.filter((o) => o.kind !== 'Namespace');
    const r = kubectl(['apply', '--dry-run=server', '--validate=true', '-f', writeYaml(dir, 'rest.yaml', rest)]);
    expect(unexpectedStderr(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    for (const o of rest) expect(lines).toContain(`${kubectlName(o)} created (server dry run)`);
    expect(lines).toHaveLength(rest.length);
    expect(getObject('deployment', 'airflow-celery-worker', NS)).toBeUndefined();
    if (!('externalBroker' in props.celery)) {
      expect(lines).toEqual(
        expect.arrayContaining([
          'statefulset.apps/airflow-redis created (server dry run)',
          'service/airflow-redis created (server dry run)',
          'deployment.apps/airflow-celery-worker created (server dry run)',
          'networkpolicy.networking.k8s.io/airflow-redis created (server dry run)',
        ]),
      );
    }
  });
});

describe('applied', () => {
  test('every object is created; the Service selects the Redis pods of the StatefulSet', () => {
    chartFile = writeYaml(dir, 'airflow.k8s.yaml', objects);
    const r = kubectl(['apply', '-f', chartFile]);
    expect(unexpectedStderr(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    const service = getObject('service', 'airflow-redis', NS);
    expect(service.spec.ports).toEqual([{ name: 'redis', port: 6379, protocol: 'TCP', targetPort: 'redis' }]);
    const sts = getObject('statefulset', 'airflow-redis', NS);
    expect(sts.spec.template.metadata.labels).toMatchObject(service.spec.selector);
  });

  test('the Celery workers\' and Redis\' service accounts may do nothing at all (SelfSubjectRulesReview)', () => {
    for (const sa of ['airflow-celery-worker', 'airflow-redis']) {
      const review = kubectlJson(
        ['create', '-f', '-', `--as=system:serviceaccount:${NS}:${sa}`, '--as-group=system:serviceaccounts', `--as-group=system:serviceaccounts:${NS}`, '--as-group=system:authenticated'],
        JSON.stringify({ apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: NS } }),
      );
      const rules = (review.status.resourceRules ?? []).filter((r: any) => !(r.apiGroups ?? []).includes('authorization.k8s.io'));
      expect([sa, rules]).toEqual([sa, []]);
      expect(getObject('serviceaccount', sa, NS).automountServiceAccountToken).toBe(false);
    }
  });
});

/** A pod's effective requests: the larger of the sum over its containers and its largest init container. */
function effectiveRequests(spec: any): { cpu: number; memoryMi: number } {
  const cpu = (q?: string) => (!q ? 0 : q.endsWith('m') ? Number(q.slice(0, -1)) : Number(q) * 1000);
  const mi = (q?: string) => (!q ? 0 : q.endsWith('Gi') ? Number(q.slice(0, -2)) * 1024 : q.endsWith('Mi') ? Number(q.slice(0, -2)) : Number(q) / 2 ** 20);
  const sum = (cs: any[] = []) => cs.reduce((a, c) => ({ cpu: a.cpu + cpu(c.resources?.requests?.cpu), memoryMi: a.memoryMi + mi(c.resources?.requests?.memory) }), { cpu: 0, memoryMi: 0 });
  const main = sum(spec.containers);
  for (const c of spec.initContainers ?? []) {
    main.cpu = Math.max(main.cpu, cpu(c.resources?.requests?.cpu));
    main.memoryMi = Math.max(main.memoryMi, mi(c.resources?.requests?.memory));
  }
  return main;
}

const podsOf = (selector: string) => kubectlJson(['get', 'pods', '-n', NS, '-l', selector]).items as any[];

describe('scheduling on a minikube-sized node (2 CPUs, 4 GiB) with the Celery pool', () => {
  testLocal('the control plane, Redis and the Celery worker are placed, then as many task pods as fit', async () => {
    controlPlaneScript(['add-node', NODE, '2', '4Gi']);
    const workloads = objects.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind));
    expect(workloads.map((w) => w.metadata.name)).toEqual(expect.arrayContaining(['airflow-redis', 'airflow-celery-worker']));
    const selectorOf = (w: any) =>
      w.kind === 'Job' ? `job-name=${w.metadata.name}` : Object.entries(w.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',');
    await waitFor(
      'every control-plane pod, Redis and the Celery worker to be bound to the node',
      120_000,
      () =>
        workloads.every((w) => {
          const pods = podsOf(selectorOf(w));
          const want = w.kind === 'Job' ? (w.spec.parallelism ?? 1) : (w.spec.replicas ?? 1);
          return pods.length >= want && pods.every((p) => p.spec.nodeName === NODE);
        }),
      () => workloads.map((w) => `${objectKey(w)}: ${podsOf(selectorOf(w)).map((p) => `${p.metadata.name}@${p.spec.nodeName ?? '-'}`).join(' ') || 'no pod'}`).join('\n'),
      1000,
    );

    const template = getObject('configmap', 'airflow-config', NS).data['pod_template_file.yaml'];
    let fit = 0;
    let unschedulable: any;
    for (let i = 1; i <= 40 && !unschedulable; i++) {
      const name = `${WORKER_PREFIX}${i}`;
      kubectlOk(['create', '-f', '-'], JSON.stringify(executorWorkerPod(template, { name, namespace: NS, airflowVersion: '3.1.3', taskId: `task_${i}` })));
      const outcome = await waitFor(`task pod ${name} to be scheduled or found unschedulable`, 60_000, () => {
        const pod = getObject('pod', name, NS);
        if (pod?.spec?.nodeName) return 'scheduled';
        const condition = (pod?.status?.conditions ?? []).find((c: any) => c.type === 'PodScheduled');
        return condition?.status === 'False' && condition.reason === 'Unschedulable' ? condition : undefined;
      });
      if (outcome === 'scheduled') fit++;
      else unschedulable = outcome;
    }
    expect(unschedulable?.message).toMatch(/Insufficient (cpu|memory)/);

    const requested = { cpu: 0, memoryMi: 0 };
    const celery = { cpu: 0, memoryMi: 0 };
    const jobs = { cpu: 0, memoryMi: 0 };
    for (const pod of kubectlJson(['get', 'pods', '-n', NS, '--field-selector', `spec.nodeName=${NODE}`]).items) {
      if (pod.metadata.name.startsWith(WORKER_PREFIX)) continue;
      const r = effectiveRequests(pod.spec);
      requested.cpu += r.cpu;
      requested.memoryMi += r.memoryMi;
      const component = pod.metadata.labels?.['app.kubernetes.io/component'];
      const into = ['redis', 'celery-worker'].includes(component) ? celery : pod.metadata.labels?.['job-name'] ? jobs : undefined;
      if (into) {
        into.cpu += r.cpu;
        into.memoryMi += r.memoryMi;
      }
    }
    console.log(`LIVE: with celery, task pods that fit on a 2 CPU / 4Gi node beside the control plane and the Celery pool: ${fit}`);
    console.log(
      `LIVE: requests on the node: everything but task pods ${requested.cpu}m CPU, ${requested.memoryMi}Mi ` +
        `(of which Redis + Celery worker ${celery.cpu}m, ${celery.memoryMi}Mi; one-shot Jobs ${jobs.cpu}m, ${jobs.memoryMi}Mi); next: ${unschedulable.message}`,
    );
    recordResult('celeryTaskPodsThatFit', {
      node: { cpu: '2', memory: '4Gi' },
      celery: PROPS.celery,
      requestsBesideTaskPods: { cpu: `${requested.cpu}m`, memory: `${requested.memoryMi}Mi` },
      celeryPoolRequests: { cpu: `${celery.cpu}m`, memory: `${celery.memoryMi}Mi` },
      oneShotJobRequests: { cpu: `${jobs.cpu}m`, memory: `${jobs.memoryMi}Mi` },
      taskPodsThatFit: fit,
      firstUnschedulable: unschedulable.message,
      measuredAt: new Date().toISOString(),
    });
    expect(fit).toBeGreaterThanOrEqual(1);
  });
});
