// The course's trade-off, measured (issue #24 item 1, `npm run bench`, docs/benchmark.md): the same short tasks
// run (a) by the KubernetesExecutor on the default chart, a pod per task, and (b) by one Celery worker
// (`celery: { concurrency: 8, defaultExecutor: true }`, parallelism 8 so that the worker's 8 processes can all
// be used), on the runtime stage's real Airflow with the emulated kubelet. Run by scripts/bench.js through
// scripts/test-runtime.sh with `--testMatch '**/executor-tradeoff.bench.ts'` (not by `npm run test:runtime`);
// the raw samples go to build/executor-tradeoff.json, which scripts/bench.js turns into the table
// (executorTradeoffReport).
//
// Per DAG run (test/runtime/bench-dags/executor_tradeoff.py: 40 tasks, then a fan-out of 20, one run each after
// one warm-up run of the fan-out): the task instances' queued_when / start_date / end_date and the dag run's
// start_date / end_date from the REST API (the metadata DB's task_instance and dag_run rows); task pods seen by a
// watch on the API server; CPU seconds (utime + stime, children reaped included) of every process in the
// scheduler's, the Celery worker's and the emulated kubelet's own process, from /proc, between the trigger and the
// run's end; the scheduler's largest RSS from the kubelet's /proc samples; /proc/loadavg.
//
// On the REAL node (AIRFLOW_CDK8S_RUNTIME_NODE=real: scripts/bench.js runs it so unless BENCH_TRADEOFF_REAL=0; the
// kubelet 1.20.2, containerd and runc of scripts/runtime/real-node.sh, docs/runtime-tests.md) the same DAGs run on
// the charts applied as a user applies them: dist/ for (a), and for (b) the app with the same Celery props
// synthesized into build/real-node-tradeoff-celery/. Before them, (a) also runs start_latency_one
// (test/runtime/bench-dags/start_latency.py) BENCH_TRADEOFF_SINGLE_RUNS times (7) after a warm-up: the single
// task's start path, each step from its own source (the trigger: the machine's clock just before the REST call;
// queued / running / done: the task instance's rows in the metadata DB; the pod created / bound / Succeeded /
// deleted: a watch on the API server stamped line by line; the sandbox's and the container's create, start and
// exit: containerd's own events, to the nanosecond). CPU from the cgroups (the scheduler's, the api-server's, the
// Celery worker's pod; all pods) and from /proc for the node's own processes (kubelet, containerd and its shims,
// kube-proxy); the scheduler's largest RSS from its container's cgroup, sampled every second. Results:
// build/executor-tradeoff-real-node.json (BENCH_TRADEOFF_RESULTS), printed by scripts/bench.js.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AirflowApp, AirflowChart } from '../../lib';
import { REPO_ROOT, kubectl, kubectlJson, kubectlOk, getObject, waitFor } from '../live/support/cluster';
import { RuntimeChain, Variant, waitForAsync } from './support/chain';
import { Kubelet } from './support/kubelet';
import { PodWatch } from './support/pod-watch';
import { DATA, NS, REAL_NODE, chartProgress, componentReady, deleteChart, jobsComplete, pods, podSummary, prepareData, readyWithoutRestart, removeChart } from './support/real-node';
import { CGROUP_ROOT, ContainerdEvents, HZ, NodeCpu, TaskPod, TaskPodWatch, airflowRest, dagRun, DagRun, forgetDbPod, kubepodsCpuNs, loadavg, machineCpu, podCpuNs, taskInstances, taskLog } from './support/real-node-bench';
import { celeryChart, defaultChart } from './support/variants';

const RESULTS = process.env.BENCH_TRADEOFF_RESULTS ?? path.join(REPO_ROOT, 'build', REAL_NODE ? 'executor-tradeoff-real-node.json' : 'executor-tradeoff.json');
const VARIANTS = (process.env.BENCH_TRADEOFF_VARIANTS ?? 'kubernetes,celery').split(',').map((v) => v.trim());
const BENCH_DAGS = path.join(__dirname, 'bench-dags');
const FORTY = 'executor_tradeoff_forty';
const FANOUT = 'executor_tradeoff_fanout';
const CLK_TCK = 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const results: any = {
  measuredAt: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadAverageAtStart: fs.readFileSync('/proc/loadavg', 'utf8').trim() },
  variants: [] as any[],
};

function save(): void {
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
}

/**
 * CPU seconds of one process (0 once it is gone): its own (utime + stime), or with its reaped children (cutime +
 * cstime) too. The kubelet's children are the containers it started: its own share is `self` only.
 */
function cpuOfPid(pid: number, self = false): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields after the comm: state(0) ... utime(11) stime(12) cutime(13) cstime(14)
    return (Number(f[11]) + Number(f[12]) + (self ? 0 : Number(f[13]) + Number(f[14]))) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** CPU seconds of every process in the mount namespace of `pid` (a container's processes, as the kubelet counts them). */
function cpuOfContainer(pid: number | undefined): number {
  if (!pid) return 0;
  let ino: number;
  try {
    ino = fs.statSync(`/proc/${pid}/ns/mnt`).ino;
  } catch {
    return 0;
  }
  let sum = 0;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.statSync(`/proc/${d}/ns/mnt`).ino === ino) sum += cpuOfPid(Number(d));
    } catch {
      // gone
    }
  }
  return sum;
}

/** The emulated kubelet's own process (scripts/runtime/kubelet.py run --state <its state>). */
function kubeletPid(kubelet: Kubelet): number | undefined {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => a.endsWith('kubelet.py')) && argv.includes(kubelet.state) && !argv.includes('exec')) return Number(d);
    } catch {
      // gone
    }
  }
  return undefined;
}

/** The whole machine's busy CPU seconds (/proc/stat: every field but idle and iowait). */
function machineBusy(): number {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return (f.reduce((a, b) => a + b, 0) - f[3] - f[4]) / CLK_TCK;
}

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso.replace(/(\.\d{3})\d*/, '$1')) : undefined);

async function measureRun(chain: RuntimeChain, kubelet: Kubelet, watch: PodWatch, dagId: string): Promise<any> {
  const api = await chain.loggedIn();
  await waitForAsync('no task pod left from the previous run', 180_000, () => kubectl(['get', 'pods', '-n', chain.ns, '-l', 'kubernetes_executor=True', '-o', 'name']).stdout.trim() === '');
  const schedulerPid = chain.mainRecord('scheduler')?.pid;
  const workerPid = chain.variant.id === 'celery' ? chain.mainRecord('celery-worker')?.pid : undefined;
  const apiPid = chain.mainRecord('api-server')?.pid;
  const kPid = kubeletPid(kubelet);
  const before = { apiServer: cpuOfContainer(apiPid), scheduler: cpuOfContainer(schedulerPid), worker: cpuOfContainer(workerPid), kubelet: kPid ? cpuOfPid(kPid, true) : 0, machine: machineBusy() };
  const loadAtStart = fs.readFileSync('/proc/loadavg', 'utf8').trim();
  let schedulerRssKiB = 0;
  let loadMax = 0;
  const sampler = setInterval(() => {
    for (const c of kubelet.memory()) if (c.component === 'scheduler' && !c.init && c.namespace === chain.ns) schedulerRssKiB = Math.max(schedulerRssKiB, c.rssKiB);
    loadMax = Math.max(loadMax, Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]));
  }, 1000);
  const t0 = Date.now();
  const run = await api.ok('POST', `/dags/${dagId}/dagRuns`, { logical_date: null });
  const runId: string = run.dag_run_id;
  const enc = encodeURIComponent(runId);
  let dagRun: any;
  try {
    dagRun = await waitForAsync(
      `DAG run ${dagId} ${runId} to end`,
      900_000,
      async () => {
        const r = await api.ok('GET', `/dags/${dagId}/dagRuns/${enc}`);
        return ['success', 'failed'].includes(r.state) ? r : undefined;
      },
      () => kubectl(['get', 'pods', '-n', chain.ns, '-o', 'wide']).stdout,
      250,
    );
  } finally {
    clearInterval(sampler);
  }
  const tEnd = Date.now();
  const after = { apiServer: cpuOfContainer(apiPid), scheduler: cpuOfContainer(schedulerPid), worker: cpuOfContainer(workerPid), kubelet: kPid ? cpuOfPid(kPid, true) : 0, machine: machineBusy() };
  const tis: any[] = (await api.ok('GET', `/dags/${dagId}/dagRuns/${enc}/taskInstances?limit=100`)).task_instances;
  const pods = watch.of(runId).map((p) => p.created).filter((t): t is number => t !== undefined).sort((a, b) => a - b);
  const r = {
    dagId,
    runId,
    state: dagRun.state,
    triggerMs: t0,
    observedEndMs: tEnd,
    dagRunStart: dagRun.start_date,
    dagRunEnd: dagRun.end_date,
    tasks: tis.map((ti) => ({
      taskId: ti.task_id,
      state: ti.state,
      executor: ti.executor,
      hostname: ti.hostname,
      queued: ms(ti.queued_when)! - t0,
      running: ms(ti.start_date)! - t0,
      done: ms(ti.end_date)! - t0,
    })),
    podsCreated: pods.map((t) => t - t0),
    cpuSeconds: {
      scheduler: Number((after.scheduler - before.scheduler).toFixed(2)),
      apiServer: Number((after.apiServer - before.apiServer).toFixed(2)),
      celeryWorker: workerPid ? Number((after.worker - before.worker).toFixed(2)) : undefined,
      kubelet: Number((after.kubelet - before.kubelet).toFixed(2)),
      machine: Number((after.machine - before.machine).toFixed(2)),
    },
    schedulerMaxRssMiB: Math.round(schedulerRssKiB / 1024),
    loadavg: { start: loadAtStart, end: fs.readFileSync('/proc/loadavg', 'utf8').trim(), max1m: loadMax },
  };
  const done = Math.max(...r.tasks.map((t) => t.done));
  console.log(`BENCH [${chain.variant.id}] ${dagId}: ${r.state}; ${r.tasks.filter((t) => t.state === 'success').length}/${r.tasks.length} success; last task done after ${done} ms; cpu ${JSON.stringify(r.cpuSeconds)}`);
  return r;
}

async function measureVariant(variant: Variant): Promise<void> {
  const kubelet = new Kubelet(`tradeoff-${variant.id}`);
  const chain = new RuntimeChain(variant, kubelet);
  const watch = new PodWatch();
  const record: any = { id: variant.id, title: variant.title, config: {}, runs: [] };
  results.variants.push(record);
  await chain.setUp();
  try {
    const dagsPv = chain.objectsOf('PersistentVolume').find((pv) => pv.metadata.labels?.['app.kubernetes.io/component'] === 'dags-storage');
    const dags = kubelet.hostPath(dagsPv.spec.hostPath.path);
    fs.copyFileSync(path.join(BENCH_DAGS, 'executor_tradeoff.py'), path.join(dags, 'executor_tradeoff.py'));
    fs.chownSync(path.join(dags, 'executor_tradeoff.py'), 50000, 0);
    const steps = chain.steps();
    const names = Object.keys(steps);
    const upTo = names.indexOf('the DAGs are parsed with no import errors');
    const tUp = Date.now();
    for (const name of names.slice(0, upTo + 1)) {
      if (!steps[name].blocking) continue;
      const err = await chain.execute(steps[name]);
      if (err) throw err;
    }
    if (variant.id === 'celery') {
      await waitForAsync('Deployment airflow-celery-worker to be available', 420_000, () => (getObject('deployment', 'airflow-celery-worker', chain.ns)?.status?.availableReplicas ?? 0) >= 1, undefined, 2000);
      const pod = chain.podOf('celery-worker').metadata.name;
      await waitForAsync('the Celery worker to be ready', 240_000, () => /celery@\S+ ready\./.test(kubelet.log(chain.ns, pod, 'celery-worker') ?? ''), () => kubelet.logTail(chain.ns, pod, 'celery-worker', 30), 2000);
    }
    record.upSeconds = Math.round((Date.now() - tUp) / 1000);
    for (const [s, k] of [['core', 'parallelism'], ['core', 'executor'], ['celery', 'worker_concurrency'], ['kubernetes_executor', 'worker_pods_creation_batch_size'], ['workers', 'min_heartbeat_interval']]) record.config[`${s}.${k}`] = chain.airflowCfg(s, k);
    const api = await chain.loggedIn();
    await waitForAsync('the benchmark DAGs in the REST API', 240_000, async () => {
      const have = (await api.ok('GET', '/dags?limit=100')).dags.map((d: any) => d.dag_id);
      return have.includes(FORTY) && have.includes(FANOUT);
    });
    for (const dagId of [FORTY, FANOUT]) await api.ok('PATCH', `/dags/${dagId}`, { is_paused: false });
    watch.start(chain.ns);
    await sleep(5000);
    record.warmUp = await measureRun(chain, kubelet, watch, FANOUT);
    save();
    for (const dagId of [FORTY, FANOUT]) {
      await sleep(3000);
      const r = await measureRun(chain, kubelet, watch, dagId);
      record.runs.push(r);
      save();
      // tasks lost must be 0: a task that did not succeed fails the benchmark (its figures are saved above)
      expect(r.tasks.filter((t: any) => t.state !== 'success').map((t: any) => `${t.taskId}: ${t.state}`)).toEqual([]);
      expect(r.tasks).toHaveLength(dagId === FORTY ? 40 : 20);
    }
  } finally {
    watch.stop();
    save();
    await chain.tearDown();
  }
}

afterAll(() => {
  if (REAL_NODE) return;
  results.loadAverageAtEnd = fs.readFileSync('/proc/loadavg', 'utf8').trim();
  save();
});

(REAL_NODE ? describe.skip : describe)('the executor trade-off on the real Airflow: KubernetesExecutor against one Celery worker', () => {
  if (VARIANTS.includes('kubernetes')) {
    test('(a) the KubernetesExecutor on the default chart', () => measureVariant({ ...defaultChart(), id: 'kubernetes' }), 3_600_000);
  }
  if (VARIANTS.includes('kubernetes-heartbeat-5')) {
    // Airflow's own [workers] min_heartbeat_interval (5 s), against the chart's 1 s: the same runs, one after the other
    test("(a') the KubernetesExecutor on the default chart with Airflow's min_heartbeat_interval = 5", () =>
      measureVariant({ ...defaultChart({ config: { workers: { min_heartbeat_interval: 5 } } }), id: 'kubernetes-heartbeat-5' }), 3_600_000);
  }
  if (VARIANTS.includes('celery')) {
    test('(b) one Celery worker, concurrency 8 (the CeleryExecutor the default, parallelism 8)', () =>
      measureVariant(celeryChart({ parallelism: 8, celery: { concurrency: 8, defaultExecutor: true } })), 3_600_000);
  }
});

// ------------------------------------------------------------------------------------------------ on the real node

const SINGLE = 'start_latency_one';
const SINGLE_RUNS = Math.max(0, Number(process.env.BENCH_TRADEOFF_SINGLE_RUNS ?? 7));
/** The trade-off's DAGs to run on the real node (both by default; one, for a short run while developing). */
const REAL_DAGS = (process.env.BENCH_TRADEOFF_DAGS ?? `${FORTY},${FANOUT}`).split(',').map((v) => v.trim()).filter(Boolean);
/** No run starts after this time (ISO 8601), so that the bench gives the runtime lock back before a deadline. */
const STOP_AT = process.env.BENCH_TRADEOFF_STOP_AT ? Date.parse(process.env.BENCH_TRADEOFF_STOP_AT) : Infinity;
const DIST = path.join(REPO_ROOT, 'dist');
const CELERY_OUT = path.join(REPO_ROOT, 'build', 'real-node-tradeoff-celery');
const COMPONENTS = ['scheduler', 'api-server', 'dag-processor', 'triggerer'];

/** The chart's airflow.cfg (ConfigMap airflow-config) as section.key -> value. */
function liveAirflowCfg(): Record<string, string> {
  const cfg: string = kubectlJson(['-n', NS, 'get', 'configmap', 'airflow-config', '-o', 'json']).data['airflow.cfg'];
  const out: Record<string, string> = {};
  let section = '';
  for (const line of cfg.split('\n')) {
    const s = /^\[(.+)\]$/.exec(line.trim());
    if (s) section = s[1];
    const kv = /^([a-z_]+)\s*=\s*(.*)$/.exec(line.trim());
    if (kv) out[`${section}.${kv[1]}`] = kv[2];
  }
  return out;
}

/** A running container's cgroup folder (memory subsystem) from its pod's uid and container id. */
function containerMemoryDir(uid: string, containerId: string): string | undefined {
  for (const qos of ['burstable/', 'besteffort/', '']) {
    const d = `/sys/fs/cgroup/memory${CGROUP_ROOT}/kubepods/${qos}pod${uid}/${containerId}`;
    if (fs.existsSync(d)) return d;
  }
  return undefined;
}

const rssOf = (dir: string | undefined): number => {
  if (!dir) return 0;
  try {
    return Number(/^total_rss (\d+)$/m.exec(fs.readFileSync(path.join(dir, 'memory.stat'), 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
};

const realD = REAL_NODE ? describe : describe.skip;
const progress = chartProgress('the trade-off charts');

realD('the executor trade-off, and the single task\'s start path, on the real node', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'executor-tradeoff-real-'));
  const watch = new TaskPodWatch(work);
  const ctrEvents = new ContainerdEvents(work);
  const nodeCpu = new NodeCpu();
  const real: any = {
    measuredAt: new Date().toISOString(),
    node: 'real',
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryMiB: Math.round(os.totalmem() / 2 ** 20), loadAverageAtStart: loadavg() },
    variants: [] as any[],
  };
  const saveReal = () => {
    real.loadAverageAtEnd = loadavg();
    fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
    fs.writeFileSync(RESULTS, `${JSON.stringify(real, null, 2)}\n`);
  };
  /** The long-running pods of the applied chart: uid -> component. */
  let controlPlane = new Map<string, string>();
  let schedulerMemoryDir: string | undefined;
  let applied: string | undefined;

  /** Copies the benchmark's DAGs beside the repository's into the node's /data/dags (a fresh /data). */
  function freshData(): void {
    prepareData(path.join(REPO_ROOT, 'dags'));
    for (const f of ['executor_tradeoff.py', 'start_latency.py']) {
      fs.copyFileSync(path.join(BENCH_DAGS, f), path.join(DATA, 'dags', f));
      fs.chownSync(path.join(DATA, 'dags', f), 50000, 0);
    }
  }

  /** Applies `folder` as a user does, waits for it, and unpauses the benchmark's DAGs; the variant's record. */
  async function up(id: string, title: string, folder: string, components: string[]): Promise<any> {
    forgetDbPod();
    const tUp = Date.now();
    kubectlOk(['apply', '-f', folder]);
    applied = folder;
    progress.setApplied();
    await jobsComplete(4);
    await readyWithoutRestart(`${components.join(', ')} Ready`, components);
    if (components.includes('celery-worker')) {
      const worker = pods().find((p) => p.metadata.labels?.['app.kubernetes.io/component'] === 'celery-worker').metadata.name;
      await waitFor('the Celery worker to report ready', 240_000, () => /celery@\S+ ready\./.test(kubectl(['-n', NS, 'logs', worker, '-c', 'celery-worker']).stdout), undefined, 3000);
    }
    const want = [SINGLE, FORTY, FANOUT];
    await waitFor('the benchmark DAGs in the REST API', 420_000, () => {
      try {
        const have = airflowRest('GET', '/dags?limit=100').body.dags.map((x: any) => x.dag_id);
        return want.every((w) => have.includes(w));
      } catch {
        return false;
      }
    }, podSummary, 5000);
    for (const dagId of want) airflowRest('PATCH', `/dags/${dagId}`, { is_paused: false });
    controlPlane = new Map(pods().filter((p) => p.status.phase === 'Running' && !p.metadata.labels?.kubernetes_executor).map((p) => [p.metadata.uid, p.metadata.labels?.['app.kubernetes.io/component'] ?? p.metadata.name]));
    const scheduler = pods().find((p) => p.metadata.labels?.['app.kubernetes.io/component'] === 'scheduler');
    const sid = scheduler.status.containerStatuses.find((c: any) => c.name === 'scheduler').containerID.split('//').pop();
    schedulerMemoryDir = containerMemoryDir(scheduler.metadata.uid, sid);
    const cfg = liveAirflowCfg();
    const keys = ['core.parallelism', 'core.executor', 'celery.worker_concurrency', 'kubernetes_executor.worker_pods_creation_batch_size', 'workers.min_heartbeat_interval', 'scheduler.scheduler_idle_sleep_time'];
    const record = { id, title, config: Object.fromEntries(keys.map((k) => [k, cfg[k]])), upSeconds: Math.round((Date.now() - tUp) / 1000), runs: [] as any[] };
    real.variants.push(record);
    saveReal();
    progress.mark(`${id}Up`);
    return record;
  }

  async function down(folder: string): Promise<void> {
    await deleteChart(folder);
    applied = undefined;
  }

  /** One warm-up run of the fan-out, then one run of each of REAL_DAGS into `v.runs`, each saved as it ends. */
  async function measureRealRuns(v: any, executor: 'kubernetes' | 'celery'): Promise<void> {
    v.warmUp = await measureRealRun(executor, FANOUT);
    saveReal();
    for (const dagId of REAL_DAGS) {
      await new Promise((r) => setTimeout(r, 3000));
      v.runs.push(await measureRealRun(executor, dagId));
      saveReal();
    }
  }

  /** Triggers `dagId` through the REST API, waits for its end (and, with task pods, their deletion): its figures. */
  async function measureRealRun(variantId: string, dagId: string): Promise<any> {
    if (Date.now() > STOP_AT) throw new Error(`BENCH_TRADEOFF_STOP_AT ${process.env.BENCH_TRADEOFF_STOP_AT} passed before a run of ${dagId} (${variantId}): the runs so far are saved`);
    await waitFor('no task pod left from the previous run', 300_000, () => kubectl(['-n', NS, 'get', 'pods', '-l', 'kubernetes_executor=True', '-o', 'name']).stdout.trim() === '', undefined, 1000);
    const byComponent = (snap: Map<string, number>) => {
      const out: Record<string, number> = {};
      for (const [uid, c] of controlPlane) out[c] = (out[c] ?? 0) + (snap.get(uid) ?? 0);
      return out;
    };
    const cpSnap = () => new Map([...controlPlane.keys()].map((uid) => [uid, podCpuNs(uid) ?? 0]));
    const load0 = loadavg();
    const m0 = machineCpu();
    const k0 = kubepodsCpuNs();
    const cp0 = cpSnap();
    const n0 = nodeCpu.snapshot();
    let rssMax = 0;
    let loadMax = 0;
    const sampler = setInterval(() => {
      rssMax = Math.max(rssMax, rssOf(schedulerMemoryDir));
      loadMax = Math.max(loadMax, Number(loadavg().split(' ')[0]));
    }, 1000);
    let trigger: { t: number; body: any };
    let run: DagRun = { state: '' };
    let windowEnd: any;
    try {
      trigger = airflowRest('POST', `/dags/${dagId}/dagRuns`, { logical_date: null });
      const runId0: string = trigger.body.dag_run_id;
      // Each look at the metadata DB is a kubectl exec and a psql (CPU in the Postgres pod): for the single task,
      // first the watch (a file read) until its pod has ended, then the DB every second.
      if (dagId === SINGLE) await waitFor(`the task pod of ${runId0} to end`, 300_000, () => [...watch.pods().values()].some((p) => p.runId === runId0 && p.succeeded !== undefined), undefined, 200);
      await waitFor(`run ${runId0} of ${dagId} to end`, 900_000, () => ['success', 'failed'].includes((run = dagRun(dagId, runId0)).state), () => kubectl(['-n', NS, 'get', 'pods', '-o', 'wide']).stdout, 1000);
      windowEnd = { at: Date.now(), m: machineCpu(), k: kubepodsCpuNs(), cp: cpSnap(), n: nodeCpu.snapshot() };
    } finally {
      clearInterval(sampler);
    }
    const t0 = trigger.t;
    const runId: string = trigger.body.dag_run_id;
    const tis = taskInstances(dagId, runId);
    const kubernetes = variantId === 'kubernetes';
    if (kubernetes) {
      await waitFor(`the task pods of ${runId} deleted`, 300_000, () => {
        const mine = [...watch.pods().values()].filter((p) => p.runId === runId);
        return mine.length >= tis.length && mine.every((p) => p.deleted !== undefined);
      }, () => JSON.stringify([...watch.pods().values()].filter((p) => p.runId === runId)), 500);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const gone = { at: Date.now(), m: machineCpu(), k: kubepodsCpuNs(), cp: cpSnap(), n: nodeCpu.snapshot() };
    const podsOfRun = [...watch.pods().values()].filter((p) => p.runId === runId);
    const cpuOf = (w: any) => {
      const cp1 = byComponent(w.cp);
      const cpb = byComponent(cp0);
      const cp = Object.fromEntries(Object.keys(cp1).map((c) => [c, Math.round((cp1[c] - cpb[c]) / 1e7) / 100]));
      const cpSum = Object.values(cp).reduce((a, b) => a + b, 0);
      const node = NodeCpu.delta(n0, w.n);
      const kube = Math.round((w.k - k0) / 1e7) / 100;
      return {
        scheduler: cp.scheduler,
        apiServer: cp['api-server'],
        celeryWorker: cp['celery-worker'],
        controlPlane: cp,
        taskPods: Math.round((kube - cpSum) * 100) / 100,
        nodePods: kube,
        kubelet: node.kubelet ?? 0,
        containerd: node.containerd ?? 0,
        containerdShims: node['containerd-shim'] ?? 0,
        kubeProxy: node['kube-proxy'] ?? 0,
        machine: Math.round(((w.m.busy - m0.busy) / HZ) * 100) / 100,
        seconds: (w.at - t0) / 1000,
      };
    };
    const iso = (x: number | undefined) => (x === undefined ? undefined : new Date(x).toISOString());
    const rel = (x: number | undefined) => (x === undefined ? undefined : Math.round(x - t0));
    const r: any = {
      dagId,
      runId,
      state: run.state,
      triggerMs: t0,
      dagRunStart: iso(run.start),
      dagRunEnd: iso(run.end),
      tasks: tis.map((ti) => ({ taskId: ti.taskId, state: ti.state, tryNumber: ti.tryNumber, hostname: ti.hostname, queued: rel(ti.queued), running: rel(ti.start), done: rel(ti.end) })),
      podsCreated: podsOfRun.map((p) => p.created).filter((x): x is number => x !== undefined).sort((a, b) => a - b).map((x) => x - t0),
      // trigger -> the run's end seen (as on the emulated stage), and trigger -> the last task pod deleted
      cpuSeconds: cpuOf(windowEnd),
      cpuSecondsToPodsGone: kubernetes ? cpuOf(gone) : undefined,
      schedulerMaxRssMiB: Math.round(rssMax / 2 ** 20),
      loadavg: { start: load0, end: loadavg(), max1m: loadMax },
    };
    const failed = tis.filter((ti) => ti.state !== 'success');
    if (failed.length) r.failedTaskLogs = Object.fromEntries(failed.map((ti) => [ti.taskId, taskLog(dagId, runId, ti.taskId)]));
    if (dagId === SINGLE) r.path = startPath(t0, podsOfRun[0], tis[0]);
    const done = Math.max(...r.tasks.map((t: any) => t.done ?? 0));
    console.log(`BENCH [real node ${variantId}] ${dagId}: ${r.state}; ${r.tasks.filter((t: any) => t.state === 'success').length}/${r.tasks.length} success; last task done after ${done} ms; cpu ${JSON.stringify(r.cpuSeconds)}${r.path ? `; path ${JSON.stringify(r.path)}` : ''}`);
    return r;
  }

  /** The single task's path, each step in ms after the trigger, and the API server's own (whole second) times. */
  function startPath(t0: number, pod: TaskPod | undefined, ti: any): any {
    const ev = ctrEvents.events();
    const rel = (x: number | undefined) => (x === undefined ? undefined : Math.round(x - t0));
    const base = pod?.containerId;
    const at = (topic: string, id: string | undefined) => (id ? ev.find((e) => e.topic === topic && e.containerId === id)?.t : undefined);
    const baseCreated = at('/containers/create', base);
    // the sandbox: the last pause container created after the pod and before its container
    const sandbox = ev.filter((e) => e.topic === '/containers/create' && /pause/.test(e.image ?? '') && pod?.created !== undefined && e.t >= pod.created - 1000 && (baseCreated === undefined || e.t <= baseCreated)).pop();
    return {
      queued: rel(ti?.queued),
      podCreated: rel(pod?.created),
      podBound: rel(pod?.bound),
      sandboxCreated: rel(sandbox?.t),
      sandboxStarted: rel(at('/tasks/start', sandbox?.containerId)),
      containerCreated: rel(baseCreated),
      containerStarted: rel(at('/tasks/start', base)),
      running: rel(ti?.start),
      done: rel(ti?.end),
      containerExited: rel(at('/tasks/exit', base)),
      podSucceeded: rel(pod?.succeeded),
      podDeleted: rel(pod?.deleted),
      api: pod?.api,
    };
  }

  beforeAll(async () => {
    await deleteChart(DIST);
    freshData();
    watch.start();
    ctrEvents.start();
    nodeCpu.start();
    const node = kubectlJson(['get', 'nodes']).items[0];
    real.nodeInfo = { name: node.metadata.name, allocatable: node.status.allocatable, kubelet: node.status.nodeInfo.kubeletVersion, containerRuntime: node.status.nodeInfo.containerRuntimeVersion, kernel: node.status.nodeInfo.kernelVersion };
  }, 600_000);

  afterAll(async () => {
    watch.stop();
    ctrEvents.stop();
    nodeCpu.stop();
    saveReal();
    fs.rmSync(work, { recursive: true, force: true });
    await removeChart(applied ?? DIST, ['realNode', 'executorTradeoff', 'timingsSeconds'], progress.timings);
  }, 600_000);

  if (VARIANTS.includes('kubernetes')) {
    test(`(a) the KubernetesExecutor on the default chart (dist/): ${SINGLE} ${SINGLE_RUNS} times, then ${REAL_DAGS.join(', ')}`, async () => {
      const v = await up('kubernetes', 'the default chart (dist/, applied as a user applies it)', DIST, COMPONENTS);
      if (SINGLE_RUNS > 0) {
        v.singleWarmUp = await measureRealRun('kubernetes', SINGLE);
        v.single = [];
        for (let i = 0; i < SINGLE_RUNS; i++) {
          await new Promise((r) => setTimeout(r, 2000));
          v.single.push(await measureRealRun('kubernetes', SINGLE));
          saveReal();
        }
        progress.mark('singleDone');
      }
      await measureRealRuns(v, 'kubernetes');
      progress.mark('kubernetesDone');
      for (const r of [...(v.single ?? []), ...v.runs]) expect(r.tasks.filter((t: any) => t.state !== 'success').map((t: any) => `${r.dagId} ${t.taskId}: ${t.state}`)).toEqual([]);
      await down(DIST);
    }, 3_600_000);
  }

  // (a'') the KubernetesExecutor with another `parallelism` (and so worker_pods_creation_batch_size and the default
  // pool's slots): BENCH_TRADEOFF_VARIANTS=kubernetes-parallelism-<n>, the DAGs only, synthesized into build/.
  for (const id of VARIANTS.filter((x) => /^kubernetes-parallelism-\d+$/.test(x))) {
    const parallelism = Number(id.split('-').pop());
    test(`(a'') the KubernetesExecutor with parallelism ${parallelism}: ${REAL_DAGS.join(', ')}`, async () => {
      if (applied) await down(applied);
      await deleteChart(DIST);
      freshData();
      const out = path.join(REPO_ROOT, 'build', `real-node-tradeoff-${id}`);
      fs.rmSync(out, { recursive: true, force: true });
      const app = new AirflowApp({ outdir: out });
      new AirflowChart(app, 'airflow', { parallelism });
      app.synth();
      const v = await up(id, `the default chart with parallelism: ${parallelism}`, out, COMPONENTS);
      await measureRealRuns(v, 'kubernetes');
      progress.mark(`${id}Done`);
      for (const r of v.runs) expect(r.tasks.filter((t: any) => t.state !== 'success').map((t: any) => `${r.dagId} ${t.taskId}: ${t.state}`)).toEqual([]);
    }, 3_600_000);
  }

  if (VARIANTS.includes('celery')) {
    test(`(b) one Celery worker, concurrency 8 (parallelism 8), synthesized into build/real-node-tradeoff-celery/: ${REAL_DAGS.join(', ')}`, async () => {
      if (applied) await down(applied);
      await deleteChart(DIST);
      freshData();
      fs.rmSync(CELERY_OUT, { recursive: true, force: true });
      const app = new AirflowApp({ outdir: CELERY_OUT });
      new AirflowChart(app, 'airflow', { parallelism: 8, celery: { concurrency: 8, defaultExecutor: true } });
      app.synth();
      const v = await up('celery', 'the default chart with celery: { concurrency: 8, defaultExecutor: true } and parallelism: 8 (Redis, one Celery worker)', CELERY_OUT, [...COMPONENTS, 'redis', 'celery-worker']);
      expect(componentReady('celery-worker')).toBe(true);
      await measureRealRuns(v, 'celery');
      progress.mark('celeryDone');
      for (const r of v.runs) expect(r.tasks.filter((t: any) => t.state !== 'success').map((t: any) => `${r.dagId} ${t.taskId}: ${t.state}`)).toEqual([]);
    }, 3_600_000);
  }
});
