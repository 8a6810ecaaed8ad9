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
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT, kubectl, getObject } from '../live/support/cluster';
import { RuntimeChain, Variant, waitForAsync } from './support/chain';
import { Kubelet } from './support/kubelet';
import { PodWatch } from './support/pod-watch';
import { celeryChart, defaultChart } from './support/variants';

const RESULTS = process.env.BENCH_TRADEOFF_RESULTS ?? path.join(REPO_ROOT, 'build', 'executor-tradeoff.json');
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
  results.loadAverageAtEnd = fs.readFileSync('/proc/loadavg', 'utf8').trim();
  save();
});

describe('the executor trade-off on the real Airflow: KubernetesExecutor against one Celery worker', () => {
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
