// Hybrid executors (issue #16) on a real Kubernetes API server: the chart with `celery` (Redis, Celery workers,
// their NetworkPolicy) passes the server-side dry run, applies, gives the new service accounts no rights, and
// on a minikube-sized Node the scheduler still places everything — and fewer task pods fit beside the
// always-on Celery pool. Its own namespace state and Node: it cleans up before and after, like the default
// chart's file (docs/live-tests.md).
import * as fs from 'fs';
import * as path from 'path';
import {
  clusterAccess,
  controlPlaneScript,
  deleteClusterObjects,
  deleteNamespace,
  expectServerDryRun,
  fillWithTaskPods,
  getObject,
  kubectl,
  kubectlOk,
  recordResult,
  requestsOnNode,
  rulesReview,
  sumRequests,
  synthAirflow,
  tempDir,
  unexpectedStderr,
  waitFor,
  waitForWorkloadsOn,
  writeYaml,
} from './support/cluster';
import { executorWorkerPod } from './support/executor-pod';
import { DEFAULT_AIRFLOW_VERSION } from '../../lib';
import type { AirflowChartProps } from '../../lib';

const NS = 'airflow';
const NODE = 'airflow-cdk8s-live-celery-node';
const WORKER_PREFIX = 'airflow-live-worker-';
const PROPS = { celery: {}, networkPolicies: true };

const { local: LOCAL, mutate: MUTATE } = clusterAccess();
const testLocal = LOCAL ? test : test.skip;

const dir = tempDir('airflow-cdk8s-live-celery-');
const objects = synthAirflow(PROPS);
const pvs = () => objects.filter((o) => o.kind === 'PersistentVolume').map((o) => o.metadata.name);
let chartFile = '';
let mayCleanUp = false;

/** KEDA's CRDs as the library vendors them (imports/vendor/keda/, KEDA v2.20.2). */
const KEDA_CRD_DIR = path.join(__dirname, '..', '..', 'imports', 'vendor', 'keda');
const KEDA_CRDS = ['scaledobjects.keda.sh', 'triggerauthentications.keda.sh'];

async function cleanUp(): Promise<void> {
  await deleteNamespace(NS);
  await deleteClusterObjects('customresourcedefinition', KEDA_CRDS);
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
    const lines = expectServerDryRun(dir, 'rest.yaml', rest);
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

describe('Flower (celery.flower): server-side dry run', () => {
  const FLOWER = { basicAuthSecret: { name: 'flower-auth', key: 'basic-auth' } };
  test.each([
    ['with the in-cluster Redis, network policies and the UI open to an ingress namespace', {
      celery: { flower: FLOWER },
      networkPolicies: true,
      networkPolicyOptions: { apiServerSources: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }] },
    }],
    ['with an external broker and network policies', { celery: { externalBroker: { urlSecret: { name: 'broker', key: 'url' } }, flower: FLOWER }, networkPolicies: true }],
    ['Airflow 2.11, unauthenticated', { image: 'apache/airflow:2.11.0', celery: { flower: { unauthenticated: true } } }],
  ] as Array<[string, AirflowChartProps]>)('%s: every object is accepted, none stored', (_label, props) => {
    const variant = synthAirflow(props);
    kubectlOk(['apply', '-f', writeYaml(dir, 'namespace.yaml', variant.filter((o) => o.kind === 'Namespace'))]);
    const rest = variant.filter((o) => o.kind !== 'Namespace');
    const lines = expectServerDryRun(dir, 'rest.yaml', rest);
    expect(lines).toHaveLength(rest.length);
    expect(getObject('deployment', 'airflow-flower', NS)).toBeUndefined();
    expect(lines).toEqual(expect.arrayContaining([
      'deployment.apps/airflow-flower created (server dry run)',
      'service/airflow-flower created (server dry run)',
      'serviceaccount/airflow-flower created (server dry run)',
    ]));
    if (props.networkPolicies) {
      expect(lines).toContain(props.celery?.externalBroker
        ? 'networkpolicy.networking.k8s.io/airflow-broker-clients created (server dry run)'
        : 'networkpolicy.networking.k8s.io/airflow-flower created (server dry run)');
    }
  });
});

describe('autoscaling (celery.keda, celery.hpa): server-side dry run', () => {
  test("KEDA's vendored CRDs apply; then the ScaledObject and its TriggerAuthentication are accepted, none stored", async () => {
    // The CRD of ScaledObject has one CEL rule (x-kubernetes-validations, Kubernetes 1.25+: minReplicaCount <=
    // maxReplicaCount), a field kubectl's client-side validation for 1.20 does not know: applied without it, and
    // the 1.20 server drops the rule. The library refuses min > max at synth anyway.
    for (const file of fs.readdirSync(KEDA_CRD_DIR).filter((f) => f.endsWith('.yaml'))) {
      kubectlOk(['apply', '--validate=false', '-f', path.join(KEDA_CRD_DIR, file)]);
    }
    for (const crd of KEDA_CRDS) {
      await waitFor(`CRD ${crd} to be established`, 60_000, () =>
        (getObject('customresourcedefinition', crd)?.status?.conditions ?? []).some((c: any) => c.type === 'Established' && c.status === 'True'),
      );
    }
    const variant = synthAirflow({ celery: { keda: { maxReplicas: 4 } }, networkPolicies: true });
    kubectlOk(['apply', '-f', writeYaml(dir, 'namespace.yaml', variant.filter((o) => o.kind === 'Namespace'))]);
    const rest = variant.filter((o) => o.kind !== 'Namespace');
    const lines = expectServerDryRun(dir, 'keda.yaml', rest);
    expect(lines).toEqual(
      expect.arrayContaining([
        'scaledobject.keda.sh/airflow-celery-worker created (server dry run)',
        'triggerauthentication.keda.sh/airflow-celery-worker-keda created (server dry run)',
      ]),
    );
    // The server checks the custom resources against the CRD's schema: a wrong type is refused.
    const scaled = rest.find((o) => o.kind === 'ScaledObject');
    const bad = kubectl(['apply', '--dry-run=server', '-f', writeYaml(dir, 'bad-keda.yaml', [{ ...scaled, spec: { ...scaled.spec, minReplicaCount: 'zero' } }])]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/minReplicaCount.*integer/);
    expect(getObject('scaledobject.keda.sh', 'airflow-celery-worker', NS)).toBeUndefined();
  });

  test('the HPA: autoscaling/v2 is not served by Kubernetes 1.20; the same spec as autoscaling/v2beta2 is accepted', () => {
    const versions = kubectlOk(['api-versions']).split('\n');
    const variant = synthAirflow({ celery: { hpa: {} } });
    const hpa = variant.find((o) => o.kind === 'HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    console.log(`LIVE: autoscaling versions served: ${versions.filter((v) => v.startsWith('autoscaling/')).join(', ')}`);
    if (versions.includes('autoscaling/v2')) {
      expectServerDryRun(dir, 'hpa.yaml', [hpa]);
    } else {
      // autoscaling/v2 is GA from Kubernetes 1.23 (v2beta2 is removed in 1.26); its fields the library sets are
      // v2beta2's, unchanged.
      expect(versions).toContain('autoscaling/v2beta2');
      expectServerDryRun(dir, 'hpa.yaml', [{ ...hpa, apiVersion: 'autoscaling/v2beta2' }]);
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
      const review = rulesReview(NS, sa);
      const rules = (review.status.resourceRules ?? []).filter((r: any) => !(r.apiGroups ?? []).includes('authorization.k8s.io'));
      expect([sa, rules]).toEqual([sa, []]);
      expect(getObject('serviceaccount', sa, NS).automountServiceAccountToken).toBe(false);
    }
  });
});

describe('scheduling on a minikube-sized node (2 CPUs, 4 GiB) with the Celery pool', () => {
  testLocal('the control plane, Redis and the Celery worker are placed, then as many task pods as fit', async () => {
    controlPlaneScript(['add-node', NODE, '2', '4Gi']);
    const workloads = objects.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind));
    expect(workloads.map((w) => w.metadata.name)).toEqual(expect.arrayContaining(['airflow-redis', 'airflow-celery-worker']));
    await waitForWorkloadsOn(NODE, NS, workloads, 'every control-plane pod, Redis and the Celery worker to be bound to the node');

    const template = getObject('configmap', 'airflow-config', NS).data['pod_template_file.yaml'];
    const { fit, unschedulable } = await fillWithTaskPods({
      namespace: NS,
      prefix: WORKER_PREFIX,
      noun: 'task pod',
      build: (name, i) => executorWorkerPod(template, { name, namespace: NS, airflowVersion: DEFAULT_AIRFLOW_VERSION, taskId: `task_${i}` }),
    });
    expect(unschedulable?.message).toMatch(/Insufficient (cpu|memory)/);

    const onNode = requestsOnNode(NS, NODE, WORKER_PREFIX);
    const isCelery = ({ pod }: { pod: any }) => ['redis', 'celery-worker'].includes(pod.metadata.labels?.['app.kubernetes.io/component']);
    const requested = sumRequests(onNode);
    const celery = sumRequests(onNode.filter(isCelery));
    const jobs = sumRequests(onNode.filter((p) => !isCelery(p) && p.pod.metadata.labels?.['job-name']));
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
