// What a task pod of the default chart uses, and what its CPU request (100m) does, measured on the REAL node
// (issue #24 item 3, docs/task-start.md "The task pod's requests"): the kubelet 1.20.2 of scripts/runtime/real-node.sh
// runs the pods under cgroup v1 (cgroupfs driver, `--cgroup-root /acdk8s-realnode`), so a pod's CPU request becomes
// its cgroup's cpu.shares (100m -> 102, 1 CPU -> 1024) and its CPU limit a CFS quota. Run by scripts/bench.js
// (`npm run bench`, BENCH_TASK_CPU=0 skips it) through scripts/test-runtime.sh with AIRFLOW_CDK8S_RUNTIME_NODE=real
// --testMatch '**/real-node-task-cpu.bench.ts' (not by `npm run test:runtime`); the samples go to
// build/real-node-task-cpu.json (BENCH_TASK_CPU_RESULTS), which scripts/bench.js prints (taskCpuReport).
//
// dist/ applied as a user applies it (the default chart: scheduler, api-server, dag-processor, triggerer and
// Postgres on the same 2-CPU node as the task pods), with dags/ and test/runtime/bench-dags/task_cpu.py in /data/dags.
// test/runtime/support/cgroup-sampler.py reads every pod's cgroup every 0.2 s (BENCH_TASK_CPU_INTERVAL) from the
// machine's /sys/fs/cgroup: the pod's CPU time (cpuacct.usage, hierarchical, so its last value is the pod's total),
// the kernel's peak of its memory usage (memory.max_usage_in_bytes, page cache included), the largest sampled RSS
// and working set, cpu.shares, the CFS quota and its throttling. A `kubectl get pods -w` stamped by the machine's
// clock line by line gives the task pods' created / bound / running / succeeded / deleted; the task instances'
// scheduled_dttm, queued_dttm, start_date (running) and end_date come from the metadata database (psql in the
// Postgres pod, not the Airflow CLI, whose seconds of CPU in the scheduler's container would compete with the tasks).
//
//   (1) write_to_data_volume (dags/), one task pod: a warm-up run, then BENCH_TASK_CPU_RUNS (3) runs.
//   (2) task_cpu_fanout_<variant>: four tasks of 1 s of CPU each at once, BENCH_TASK_CPU_FANOUT_RUNS (3) rounds, the
//       variants (BENCH_TASK_CPU_VARIANTS: default,1cpu; 250m is there too) alternating within a round.
// Each run: the dag run's start -> end (the makespan), per task scheduled -> queued -> running -> done, the pod's
// CPU seconds, memory and throttling, and the CPU the control plane's pods, the node's pods and the whole machine
// used from the trigger to the last task pod's deletion.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT, effectiveRequests, kubectl, kubectlJson, kubectlOk, waitFor } from '../live/support/cluster';
import { DATA, NS, REAL_NODE, chartProgress, dagParsed, deleteChart, inScheduler, jobsComplete, pods, prepareData, readyWithoutRestart, removeChart } from './support/real-node';
import { CGROUP_ROOT, DagRun, HZ, TaskPodWatch, dagRun, kubepodsCpuNs, loadavg, machineCpu, podCpuNs, taskInstances, taskLog } from './support/real-node-bench';

const DIST = path.join(REPO_ROOT, 'dist');
const COMPONENTS = ['scheduler', 'api-server', 'dag-processor', 'triggerer'];
const RESULTS = process.env.BENCH_TASK_CPU_RESULTS ?? path.join(REPO_ROOT, 'build', 'real-node-task-cpu.json');
const RUNS = Math.max(1, Number(process.env.BENCH_TASK_CPU_RUNS ?? 3));
const FANOUT_RUNS = Math.max(0, Number(process.env.BENCH_TASK_CPU_FANOUT_RUNS ?? 3));
const VARIANTS = (process.env.BENCH_TASK_CPU_VARIANTS ?? 'default,1cpu').split(',').map((v) => v.trim()).filter(Boolean);
const INTERVAL = Number(process.env.BENCH_TASK_CPU_INTERVAL ?? 0.2);
/** No run starts after this time (ISO 8601), so that the bench ends before a deadline. */
const STOP_AT = process.env.BENCH_TASK_CPU_STOP_AT ? Date.parse(process.env.BENCH_TASK_CPU_STOP_AT) : Infinity;
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'real-node-task-cpu-'));

if (!REAL_NODE) console.log('real-node-task-cpu.bench.ts: skipped: it reads the real node\'s cgroups (AIRFLOW_CDK8S_RUNTIME_NODE=real)');

/** The CPU request of each fan-out DAG (test/runtime/bench-dags/task_cpu.py). */
const VARIANT_REQUEST: Record<string, string> = { default: '100m (the pod template\'s)', '250m': '250m', '1cpu': '1' };

// ------------------------------------------------------------------------------------------------ the sampler

interface CgroupRecord {
  firstSeen?: number;
  lastSeen?: number;
  cpuNs?: number;
  maxUsageBytes?: number;
  maxRssBytes?: number;
  maxWorkingSetBytes?: number;
  shares?: number;
  cfsQuotaUs?: number;
  cfsPeriodUs?: number;
  memoryLimitBytes?: number;
  cpuStat?: Record<string, number>;
  exitSeen?: boolean;
}
interface PodCgroup extends CgroupRecord {
  qos: string;
  containers: Record<string, CgroupRecord>;
}

class Sampler {
  private proc: ChildProcess | undefined;
  readonly file = path.join(WORK, 'cgroups.json');

  start(): void {
    this.proc = spawn('/usr/bin/python3', [path.join(__dirname, 'support', 'cgroup-sampler.py'), this.file, CGROUP_ROOT, String(INTERVAL)], { stdio: ['ignore', 'ignore', 'inherit'] });
  }

  /** The last state written (every second). */
  read(): { samples: number; samplerCpuSeconds: number; pods: Record<string, PodCgroup> } {
    return fs.existsSync(this.file) ? JSON.parse(fs.readFileSync(this.file, 'utf8')) : { samples: 0, samplerCpuSeconds: 0, pods: {} };
  }

  async stop(): Promise<void> {
    if (!this.proc || this.proc.exitCode !== null) return;
    const exited = new Promise((resolve) => this.proc!.once('exit', resolve));
    this.proc.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
  }
}


// ------------------------------------------------------------------------------------------------ the bench

const d = REAL_NODE ? describe : describe.skip;
const { timings, mark, setApplied, needApplied } = chartProgress('dist/');

d('bench: the task pod\'s CPU and memory on the real node, and its CPU request under contention', () => {
  const sampler = new Sampler();
  const watch = new TaskPodWatch(WORK);
  /** The long-running pods' uid -> component (their CPU during each run). */
  const controlPlane = new Map<string, string>();
  const results: any = {
    measuredAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryMiB: Math.round(os.totalmem() / 2 ** 20), loadAverageAtStart: loadavg() },
    cgroups: `v1 (the kubelet's cgroupfs driver): /sys/fs/cgroup/{cpu,cpuacct,memory}${CGROUP_ROOT}/kubepods/<qos>/pod<uid>/<container id>`,
    samplerIntervalSeconds: INTERVAL,
    single: { dagId: 'write_to_data_volume', runs: [] as any[] },
    fanout: { tasks: 4, workCpuSeconds: 1, variants: VARIANTS.map((id) => ({ id, dagId: `task_cpu_fanout_${id}`, cpuRequest: VARIANT_REQUEST[id], runs: [] as any[] })) },
  };
  const save = () => {
    results.machine.loadAverageAtEnd = loadavg();
    const s = sampler.read();
    results.sampler = { samples: s.samples, cpuSeconds: s.samplerCpuSeconds };
    fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
    fs.writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  };

  /** Triggers `dagId` in the scheduler, waits for the run's end and its task pods' deletion; the run's figures. */
  async function measuredRun(dagId: string): Promise<any> {
    const load0 = loadavg();
    const m0 = machineCpu();
    const k0 = kubepodsCpuNs();
    const cp0 = new Map([...controlPlane.keys()].map((uid) => [uid, podCpuNs(uid) ?? 0]));
    const schedulerUid = [...controlPlane].find(([, c]) => c === 'scheduler')?.[0];
    const t0 = Date.now();
    const runId = /manual__[^\s"|]+/.exec(inScheduler(`airflow dags trigger ${dagId} -o json`))?.[0];
    if (!runId) throw new Error(`airflow dags trigger ${dagId} named no run`);
    const triggered = Date.now();
    // The trigger is an Airflow CLI process in the scheduler's container: its CPU is counted in the scheduler's pod.
    const triggerCliCpuSeconds = schedulerUid ? Math.round(((podCpuNs(schedulerUid) ?? 0) - (cp0.get(schedulerUid) ?? 0)) / 1e6) / 1000 : undefined;
    let run: DagRun = { state: '' };
    await waitFor(`run ${runId} of ${dagId} to end`, 900_000, () => ['success', 'failed'].includes((run = dagRun(dagId, runId)).state), () => kubectl(['-n', NS, 'get', 'pods', '-o', 'wide']).stdout, 1000);
    const tis = taskInstances(dagId, runId);
    // The task pods deleted by the executor (the cgroups' last samples are then the pods' totals); one more write
    // of the sampler after that.
    await waitFor(`the task pods of ${runId} deleted`, 300_000, () => {
      const mine = [...watch.pods().values()].filter((p) => p.runId === runId);
      return mine.length >= tis.length && mine.every((p) => p.deleted !== undefined);
    }, () => JSON.stringify([...watch.pods().values()].filter((p) => p.runId === runId)), 500);
    await new Promise((r) => setTimeout(r, 1500));
    const m1 = machineCpu();
    const k1 = kubepodsCpuNs();
    const end = Date.now();
    const cgroups = sampler.read().pods;
    const podsOfRun = [...watch.pods().values()].filter((p) => p.runId === runId);
    const base = run.start!;
    const rel = (x: number | undefined) => (x === undefined ? undefined : Math.round(x - base) / 1000);
    const span = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : Math.round(b - a) / 1000);
    const mib = (b: number | undefined) => (b === undefined ? undefined : Math.round((10 * b) / 2 ** 20) / 10);
    const tasks = tis.map((ti) => {
      const pod = podsOfRun.find((p) => p.name === ti.hostname) ?? podsOfRun.find((p) => p.taskId === ti.taskId);
      const cg = pod?.uid ? cgroups[pod.uid] : undefined;
      const ctr = cg && pod?.containerId ? cg.containers[pod.containerId] : undefined;
      return {
        taskId: ti.taskId,
        state: ti.state,
        tryNumber: ti.tryNumber,
        pod: pod?.name,
        podPhase: pod?.phase,
        exitCode: pod?.exitCode,
        cpuRequest: pod?.cpuRequest,
        cpuShares: cg?.shares,
        cfsQuotaUs: cg?.cfsQuotaUs,
        memoryLimitMiB: mib(cg?.memoryLimitBytes),
        // seconds from the dag run's start (the database's clock and the watch's are the same machine's)
        at: { scheduled: rel(ti.scheduled), queued: rel(ti.queued), podCreated: rel(pod?.created), podBound: rel(pod?.bound), podRunning: rel(pod?.running), running: rel(ti.start), done: rel(ti.end), podSucceeded: rel(pod?.succeeded), podDeleted: rel(pod?.deleted) },
        scheduledToRunning: span(ti.scheduled, ti.start),
        queuedToRunning: span(ti.queued, ti.start),
        runningToDone: span(ti.start, ti.end),
        scheduledToDone: span(ti.scheduled, ti.end),
        podCreatedToBound: span(pod?.created, pod?.bound),
        // the pod's cgroup: its CPU time (every container; the pause container's is a few ms), memory, throttling
        cpuSeconds: cg?.cpuNs === undefined ? undefined : Math.round(cg.cpuNs / 1e6) / 1000,
        containerCpuSeconds: ctr?.cpuNs === undefined ? undefined : Math.round(ctr.cpuNs / 1e6) / 1000,
        exitSeen: ctr?.exitSeen ?? false,
        // the cgroup's last read came after the watch saw the pod Succeeded: its CPU time is the whole pod's
        readAfterSucceeded: cg?.lastSeen !== undefined && pod?.succeeded !== undefined && cg.lastSeen >= pod.succeeded,
        cgroupSeconds: span(cg?.firstSeen, cg?.lastSeen),
        peakUsageMiB: mib(cg?.maxUsageBytes),
        containerPeakUsageMiB: mib(ctr?.maxUsageBytes),
        peakRssMiB: mib(cg?.maxRssBytes),
        peakWorkingSetMiB: mib(cg?.maxWorkingSetBytes),
        throttled: cg?.cpuStat ? { periods: cg.cpuStat.nr_periods, throttledPeriods: cg.cpuStat.nr_throttled, throttledSeconds: Math.round(cg.cpuStat.throttled_time / 1e6) / 1000 } : undefined,
      };
    });
    const controlPlaneCpuSeconds: Record<string, number> = {};
    for (const [uid, component] of controlPlane) {
      const now = podCpuNs(uid);
      if (now !== undefined) controlPlaneCpuSeconds[component] = Math.round((now - cp0.get(uid)!) / 1e6) / 1000;
    }
    const failedTaskLogs = Object.fromEntries(tis.filter((ti) => ti.state !== 'success').map((ti) => [ti.taskId, taskLog(dagId, runId, ti.taskId)]));
    const out = {
      runId,
      ...(Object.keys(failedTaskLogs).length ? { failedTaskLogs } : {}),
      state: run.state,
      triggerCliSeconds: (triggered - t0) / 1000,
      triggerCliCpuSeconds,
      makespan: span(run.start, run.end),
      firstScheduledToLastDone: span(Math.min(...tis.map((t) => t.scheduled ?? Infinity)), Math.max(...tis.map((t) => t.end ?? -Infinity))),
      queuedAtToStart: span(run.queuedAt, run.start),
      tasks,
      taskPodsCpuSeconds: Math.round(1000 * tasks.reduce((a, t) => a + (t.cpuSeconds ?? 0), 0)) / 1000,
      controlPlaneCpuSeconds,
      // from the trigger (the CLI's seconds in the scheduler's container included) to the pods' deletion
      windowSeconds: (end - t0) / 1000,
      nodePodsCpuSeconds: Math.round((k1 - k0) / 1e6) / 1000,
      machineBusyCpuSeconds: Math.round(((m1.busy - m0.busy) / HZ) * 100) / 100,
      loadavg: { start: load0, end: loadavg() },
    };
    for (const [task, log] of Object.entries(failedTaskLogs)) console.log(`BENCH [real node task cpu] ${dagId} ${runId} ${task} FAILED; its log's end:\n${log}`);
    console.log(`BENCH [real node task cpu] ${dagId} ${runId}: ${run.state}, makespan ${out.makespan} s; tasks: ${tasks.map((t) => `${t.taskId} ${t.state} req ${t.cpuRequest} shares ${t.cpuShares} sched->run ${t.scheduledToRunning} run->done ${t.runningToDone} cpu ${t.cpuSeconds} s (exit seen ${t.exitSeen}) peak ${t.peakUsageMiB} MiB rss ${t.peakRssMiB} MiB`).join('; ')}; control plane ${JSON.stringify(controlPlaneCpuSeconds)}; node pods ${out.nodePodsCpuSeconds} s, machine ${out.machineBusyCpuSeconds} s in ${out.windowSeconds} s; load ${out.loadavg.start} -> ${out.loadavg.end}`);
    return out;
  }

  beforeAll(async () => {
    await deleteChart(DIST);
    prepareData(path.join(REPO_ROOT, 'dags'));
    const dag = path.join(DATA, 'dags', 'task_cpu.py');
    fs.copyFileSync(path.join(__dirname, 'bench-dags', 'task_cpu.py'), dag);
    fs.chownSync(dag, 50000, 0);
    sampler.start();
    watch.start();
  }, 360_000);

  afterAll(async () => {
    watch.stop();
    await sampler.stop();
    save();
    fs.rmSync(WORK, { recursive: true, force: true });
    await removeChart(DIST, ['realNode', 'taskCpu', 'timingsSeconds'], timings);
  }, 360_000);

  test('the default chart applied (dist/), its Jobs complete, its four components Ready', async () => {
    kubectlOk(['apply', '-f', DIST]);
    setApplied();
    mark('applied');
    await jobsComplete(4);
    await readyWithoutRestart('the four components Ready', COMPONENTS);
    mark('componentsReady');
    await dagParsed('task_cpu_fanout_1cpu');
    await dagParsed('write_to_data_volume');
    inScheduler(['write_to_data_volume', ...VARIANTS.map((v) => `task_cpu_fanout_${v}`)].map((id) => `airflow dags unpause ${id} >/dev/null`).join(' && '));
    mark('dagsReady');
    const node = kubectlJson(['get', 'nodes']).items[0];
    const running = pods().filter((p) => p.status.phase === 'Running');
    for (const p of running) controlPlane.set(p.metadata.uid, p.metadata.labels?.['app.kubernetes.io/component'] ?? p.metadata.name);
    const requested = running.reduce((a, p) => a + effectiveRequests(p.spec).cpu, 0);
    results.node = {
      allocatableCpu: node.status.allocatable.cpu,
      allocatableMemory: node.status.allocatable.memory,
      requestedCpuMilliByTheChartsPods: requested,
      requestedCpuByPod: Object.fromEntries(running.map((p) => [p.metadata.labels?.['app.kubernetes.io/component'] ?? p.metadata.name, effectiveRequests(p.spec).cpu])),
    };
    const kubepodsShares = (f: string) => Number(fs.readFileSync(`/sys/fs/cgroup/cpu${CGROUP_ROOT}/kubepods/${f}`, 'utf8').trim());
    results.node.kubepodsCpuShares = kubepodsShares('cpu.shares');
    results.node.burstableCpuShares = kubepodsShares('burstable/cpu.shares');
    save();
  }, 1_800_000);

  test(`(1) write_to_data_volume: its task pod's CPU and memory from its cgroup (a warm-up, then ${RUNS} runs)`, async () => {
    needApplied();
    results.single.warmUp = await measuredRun('write_to_data_volume');
    save();
    for (let i = 1; i <= RUNS; i++) {
      if (Date.now() > STOP_AT) {
        results.single.stoppedEarly = `BENCH_TASK_CPU_STOP_AT ${process.env.BENCH_TASK_CPU_STOP_AT} passed before run ${i}`;
        break;
      }
      const r = await measuredRun('write_to_data_volume');
      results.single.runs.push(r);
      save();
      expect(r.state).toBe('success');
      expect(r.tasks[0].cpuShares).toBe(102);
      expect(r.tasks[0].cpuSeconds).toBeGreaterThan(0.5);
    }
    mark('singleDone');
  }, 1_800_000);

  test(`(2) four tasks at once: ${VARIANTS.join(' / ')} CPU requests, ${FANOUT_RUNS} rounds`, async () => {
    needApplied();
    for (let round = 1; round <= FANOUT_RUNS; round++) {
      for (const v of results.fanout.variants) {
        if (Date.now() > STOP_AT) {
          results.fanout.stoppedEarly = `BENCH_TASK_CPU_STOP_AT ${process.env.BENCH_TASK_CPU_STOP_AT} passed before round ${round} of ${v.id}`;
          break;
        }
        const r = await measuredRun(v.dagId);
        v.runs.push({ round, ...r });
        save();
      }
      if (results.fanout.stoppedEarly) break;
    }
    mark('fanoutDone');
    // Every variant ran, and each had a successful run to count (a failed run is kept, with its tasks' logs).
    for (const v of results.fanout.variants) expect({ variant: v.id, success: v.runs.some((r: any) => r.state === 'success') }).toEqual({ variant: v.id, success: true });
  }, 3_600_000);
});
