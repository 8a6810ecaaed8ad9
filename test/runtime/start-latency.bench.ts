// The start-latency benchmark (issue #17, `npm run bench`, docs/benchmark.md): the real Airflow of the runtime
// stage on a fresh synth of the default chart, and the time from a trigger to a finished task, split into the
// parts that belong to Airflow, to the kube-scheduler, to the (simulated) kubelet and to the task's own Python.
// Run by scripts/bench.js through scripts/test-runtime.sh with `--testMatch '**/start-latency.bench.ts'` (so not
// by `npm run test:runtime`); the raw samples go to build/start-latency.json, which scripts/bench.js turns into
// the table (startLatencyReport).
//
// Clocks: every process runs on this machine, so the host's clock is the one clock. Trigger: just before the
// REST call. Pod created / bound / deleted: when a watch on the API server (kubectl get -w) sees it. Task pod's
// process started: the runtime kubelet's "start" event (scripts/runtime/kubelet.py). Task running / done: the task
// instance's start_date / end_date as Airflow recorded them (the task's supervisor reports to the execution API).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT, getObject, kubectl } from '../live/support/cluster';
import { RuntimeChain, waitForAsync } from './support/chain';
import { Kubelet } from './support/kubelet';
import { PodWatch } from './support/pod-watch';
import { defaultChart } from './support/variants';

const RUNS = Math.max(1, Number(process.env.BENCH_LATENCY_RUNS ?? 5));
const RESULTS = process.env.BENCH_LATENCY_RESULTS ?? path.join(REPO_ROOT, 'build', 'start-latency.json');
const BENCH_DAGS = path.join(__dirname, 'bench-dags');
const ONE = 'start_latency_one';
const FANOUT = 'start_latency_fanout';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The runtime kubelet's events (events.jsonl): when it first acted on a pod, when container base started. */
function kubeletTimes(kubelet: Kubelet, ns: string, pod: string): { seen?: number; started?: number } {
  const file = path.join(kubelet.state, 'events.jsonl');
  if (!fs.existsSync(file)) return {};
  let seen: number | undefined;
  let started: number | undefined;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes(`"${ns}/${pod}"`)) continue;
    const e = JSON.parse(line);
    seen ??= e.t * 1000;
    if (e.event === 'start' && e.container === 'base') started ??= e.t * 1000;
  }
  return { seen, started };
}

/** An ISO timestamp of Airflow's (microseconds, an offset) in host milliseconds. */
function airflowTime(iso: string | null | undefined): number | undefined {
  if (!iso) return undefined;
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$/.exec(iso);
  if (!m) return Date.parse(iso);
  return Date.parse(`${m[1]}${m[3] ?? 'Z'}`) + (m[2] ? Number(m[2]) * 1000 : 0);
}

/** One task of one run: every timestamp, in milliseconds after the trigger. */
export interface TaskSample {
  taskId: string;
  state: string;
  /** Airflow: the task instance was queued (handed to the executor). */
  queued?: number;
  /** The KubernetesExecutor's pod appeared on the API server. */
  podCreated?: number;
  /** The kube-scheduler bound it to the node. */
  podBound?: number;
  /** The runtime kubelet first acted on it (its own poll of the API server, every 0.7 s). */
  kubeletSeen?: number;
  /** The kubelet started the task's process (container base). */
  processStarted?: number;
  /** The task instance's start_date: the task's supervisor told the execution API it runs. */
  taskRunning?: number;
  /** The task instance's end_date. */
  taskDone?: number;
  /** The pod's phase Succeeded reached the API server. */
  podSucceeded?: number;
  /** The executor deleted the pod. */
  podDeleted?: number;
}

export interface RunSample {
  runId: string;
  state: string;
  tasks: TaskSample[];
}

let chain: RuntimeChain;
let kubelet: Kubelet;
const watch = new PodWatch();
const results: any = {
  measuredAt: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))) },
  runs: RUNS,
  settings: [] as any[],
};

function save(): void {
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
}

/** Triggers `dagId` once, waits for the run to end and its pods to be deleted, and returns what was seen. */
async function measureRun(dagId: string): Promise<RunSample> {
  const api = await chain.loggedIn();
  await waitForAsync('no task pod left from the previous run', 120_000, () => kubectl(['get', 'pods', '-n', chain.ns, '-l', 'kubernetes_executor=True', '-o', 'name']).stdout.trim() === '');
  const t0 = Date.now();
  const run = await api.ok('POST', `/dags/${dagId}/dagRuns`, { logical_date: null });
  const runId: string = run.dag_run_id;
  const enc = encodeURIComponent(runId);
  const state = await waitForAsync(
    `DAG run ${dagId} ${runId} to end`,
    600_000,
    async () => {
      const r = await api.ok('GET', `/dags/${dagId}/dagRuns/${enc}`);
      return ['success', 'failed'].includes(r.state) ? (r.state as string) : undefined;
    },
    () => kubectl(['get', 'pods', '-n', chain.ns, '-o', 'wide']).stdout,
    250,
  );
  const tis: any[] = (await api.ok('GET', `/dags/${dagId}/dagRuns/${enc}/taskInstances`)).task_instances;
  await waitForAsync(
    `the task pods of ${runId} to be deleted`,
    180_000,
    () => tis.every((ti) => watch.of(runId).some((p) => p.taskId === ti.task_id && p.deleted !== undefined)),
    () => JSON.stringify(watch.of(runId)),
    250,
  );
  const rel = (t: number | undefined) => (t === undefined ? undefined : t - t0);
  const tasks = tis.map((ti): TaskSample => {
    const pod = watch.of(runId).find((p) => p.taskId === ti.task_id)!;
    const k = kubeletTimes(kubelet, chain.ns, pod.name);
    return {
      taskId: ti.task_id,
      state: ti.state,
      queued: rel(airflowTime(ti.queued_when)),
      podCreated: rel(pod.created),
      podBound: rel(pod.bound),
      kubeletSeen: rel(k.seen),
      processStarted: rel(k.started),
      taskRunning: rel(airflowTime(ti.start_date)),
      taskDone: rel(airflowTime(ti.end_date)),
      podSucceeded: rel(pod.succeeded),
      podDeleted: rel(pod.deleted),
    };
  });
  return { runId, state, tasks };
}

/** One warm-up run of each DAG (not counted: first reads of Airflow's files), then RUNS measured runs of each. */
async function measureSetting(id: string, title: string, config: Record<string, string | undefined>): Promise<void> {
  const setting: any = { id, title, config, one: [], fanout: [] };
  results.settings.push(setting);
  for (const dagId of [ONE, FANOUT]) {
    const key = dagId === ONE ? 'one' : 'fanout';
    const warm = await measureRun(dagId);
    setting[`${key}WarmUp`] = warm;
    for (let i = 0; i < RUNS; i++) {
      await sleep(2000);
      const r = await measureRun(dagId);
      setting[key].push(r);
      const first = r.tasks.reduce((a, t) => Math.min(a, t.podCreated ?? Infinity), Infinity);
      const done = r.tasks.reduce((a, t) => Math.max(a, t.taskDone ?? 0), 0);
      console.log(`BENCH [${id}] ${dagId} run ${i + 1}/${RUNS}: ${r.state}; first pod created after ${first} ms, last task done after ${done} ms`);
      save();
    }
  }
  results.loadAverageAtEnd = os.loadavg().map((l) => Number(l.toFixed(2)));
  save();
}

beforeAll(async () => {
  kubelet = new Kubelet('start-latency');
  chain = new RuntimeChain(defaultChart(), kubelet);
  await chain.setUp();
  // the benchmark's DAGs beside the repository's, owned like them
  const dagsPv = chain.objectsOf('PersistentVolume').find((pv) => pv.metadata.labels?.['app.kubernetes.io/component'] === 'dags-storage');
  const dags = kubelet.hostPath(dagsPv.spec.hostPath.path);
  for (const f of fs.readdirSync(BENCH_DAGS).filter((x) => x.endsWith('.py'))) {
    fs.copyFileSync(path.join(BENCH_DAGS, f), path.join(dags, f));
    fs.chownSync(path.join(dags, f), 50000, 0);
  }
}, 300_000);

afterAll(async () => {
  watch.stop();
  save();
  await chain.tearDown();
}, 300_000);

describe('start latency: trigger -> task pod -> task done, on the real Airflow', () => {
  test('the default chart comes up (the blocking steps of the runtime chain, up to the parsed DAGs)', async () => {
    const steps = chain.steps();
    const names = Object.keys(steps);
    const upTo = names.indexOf('the DAGs are parsed with no import errors');
    for (const name of names.slice(0, upTo + 1)) {
      if (!steps[name].blocking) continue;
      const err = await chain.execute(steps[name]);
      if (err) throw err;
    }
    const api = await chain.loggedIn();
    await waitForAsync('the benchmark DAGs in the REST API', 240_000, async () => {
      const have = (await api.ok('GET', '/dags?limit=100')).dags.map((d: any) => d.dag_id);
      return have.includes(ONE) && have.includes(FANOUT);
    });
    for (const dagId of [ONE, FANOUT]) await api.ok('PATCH', `/dags/${dagId}`, { is_paused: false });
    watch.start(chain.ns);
  }, 2_400_000);

  test('the default chart: worker_pods_creation_batch_size = parallelism = 4', async () => {
    await measureSetting('default', 'the default chart (worker_pods_creation_batch_size = parallelism = 4)', {
      'kubernetes_executor.worker_pods_creation_batch_size': chain.airflowCfg('kubernetes_executor', 'worker_pods_creation_batch_size'),
      'scheduler.scheduler_idle_sleep_time': chain.airflowCfg('scheduler', 'scheduler_idle_sleep_time') ?? '1 (Airflow default)',
    });
  }, 3_600_000);

  test('changed: worker_pods_creation_batch_size = 1 (Airflow\'s own default)', async () => {
    const changed = defaultChart({ workerPodsCreationBatchSize: 1 }).objects;
    const component = (o: any) => o.spec?.template?.metadata?.labels?.['app.kubernetes.io/component'];
    const subset = changed.filter((o) => (o.kind === 'ConfigMap' && o.data?.['airflow.cfg']) || (o.kind === 'Deployment' && component(o) === 'scheduler'));
    const before = chain.podOf('scheduler').metadata.name;
    const r = kubectl(['apply', '-f', chain.writeYaml('batch-1.yaml', subset)]);
    if (r.code !== 0) throw new Error(`kubectl apply: ${r.stderr}`);
    const name = subset.find((o) => o.kind === 'Deployment').metadata.name;
    await waitForAsync(
      'the scheduler Deployment to roll out its new pod, and the old one to go',
      900_000,
      () => {
        const d = getObject('deployment', name, chain.ns);
        const pods = chain.pods('app.kubernetes.io/component=scheduler');
        return (
          d?.status?.observedGeneration >= d?.metadata?.generation &&
          d?.status?.updatedReplicas === 1 &&
          d?.status?.availableReplicas === 1 &&
          pods.length === 1 &&
          pods[0].metadata.name !== before
        );
      },
      () => kubectl(['get', 'pods', '-n', chain.ns, '-l', 'app.kubernetes.io/component=scheduler', '-o', 'wide']).stdout,
      2000,
    );
    expect(chain.airflowCfg('kubernetes_executor', 'worker_pods_creation_batch_size')).toBe('1');
    await sleep(15_000); // the new scheduler's first loops (adopting, its executor's watcher)
    await measureSetting('batch-1', "worker_pods_creation_batch_size = 1 (Airflow's default; the chart sets parallelism)", {
      'kubernetes_executor.worker_pods_creation_batch_size': '1',
      'scheduler.scheduler_idle_sleep_time': chain.airflowCfg('scheduler', 'scheduler_idle_sleep_time') ?? '1 (Airflow default)',
    });
  }, 3_600_000);
});
