// npm run bench's executor trade-off table (scripts/bench.js executorTradeoffReport) from what
// test/runtime/executor-tradeoff.bench.ts records: the makespan from the dag run's start and end, the percentiles
// of queued -> running and trigger -> done from the task instances, pods per second, and the tasks lost.

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { executorTradeoffReport, realNodeStartPathReport, tradeoffFigures, percentile } = require('../../scripts/bench.js') as {
  executorTradeoffReport: (results: any) => string[];
  realNodeStartPathReport: (results: any) => string[];
  tradeoffFigures: (run: any) => Record<string, any>;
  percentile: (xs: number[], p: number) => number;
};

/** Task i of 20: queued at 1 s + 0.1 s * i, running 3 s later, done 1 s after that; the last one failed. */
const tasks = Array.from({ length: 20 }, (_, i) => ({
  taskId: `work_${i}`,
  state: i === 19 ? 'failed' : 'success',
  queued: 1000 + 100 * i,
  running: 4000 + 100 * i,
  done: 5000 + 100 * i,
}));
const run = {
  dagId: 'executor_tradeoff_fanout',
  state: 'failed',
  dagRunStart: '2026-12-05T06:00:00.500Z',
  dagRunEnd: '2026-12-05T06:00:08.500Z',
  tasks,
  podsCreated: Array.from({ length: 20 }, (_, i) => 2000 + 100 * i),
  cpuSeconds: { scheduler: 3.21, kubelet: 1.5, machine: 20 },
  schedulerMaxRssMiB: 700,
  loadavg: { start: '2.00 1.00 1.00 1/100 5', end: '3.00 1.00 1.00 1/100 5', max1m: 4.2 },
};

test('percentile: nearest rank', () => {
  expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
  expect(percentile(Array.from({ length: 20 }, (_, i) => i + 1), 95)).toBe(19);
  expect(percentile([7], 95)).toBe(7);
});

test('the figures of one run: makespan from the dag run, percentiles from the task instances, pods per second, tasks lost', () => {
  const f = tradeoffFigures(run);
  expect(f.makespan).toBe(8);
  expect(f.q2rP50).toBe(3);
  expect(f.q2rP95).toBe(3);
  expect(f.t2dP50).toBeCloseTo(5.9); // the 10th of 20: 5000 + 900 ms
  expect(f.t2dP95).toBeCloseTo(6.8); // the 19th
  expect(f.pods).toBe(20);
  expect(f.podsPerSecond).toBeCloseTo(20 / 1.9);
  expect(f.lost).toBe(1);
});

test('the table: one column per executor and DAG, the tasks lost and the kubelet on rows of their own', () => {
  const lines = executorTradeoffReport({
    measuredAt: '2026-12-05T06:00:00Z',
    machine: { cpus: 2, cpuModel: 'x', loadAverageAtStart: '2.00 1.00 1.00 1/100 5' },
    variants: [
      { id: 'kubernetes', title: 'KE', config: { 'core.parallelism': '4' }, runs: [run] },
      { id: 'celery', title: 'Celery', config: { 'core.parallelism': '8' }, runs: [{ ...run, podsCreated: [], cpuSeconds: { ...run.cpuSeconds, celeryWorker: 9 } }] },
    ],
  });
  const text = lines.join('\n');
  expect(text).toContain('| | KE, 20 tasks | Celery, 20 tasks |');
  expect(text).toContain('| makespan (dag run start → end), s | 8.00 | 8.00 |');
  expect(text).toContain('| makespan / (CPU the tasks need / 2 CPUs) | 0.80 | 0.80 |');
  expect(text).toContain('| task pods created (per second, first to last) | 20 (10.53/s) | 0 |');
  expect(text).toContain('| Celery worker CPU seconds | - | 9.00 |');
  expect(text).toContain('| **tasks lost** (not success) | 1 | 1 |');
  expect(text).toContain('- celery: Celery; core.parallelism = 8');
});

test('on the real node: the node\'s own processes and the task pods\' cgroups on rows of their own, no emulated kubelet row', () => {
  const lines = executorTradeoffReport({
    measuredAt: '2026-12-05T12:00:00Z',
    node: 'real',
    nodeInfo: { kubelet: 'v1.20.2', containerRuntime: 'containerd://1.6.20', allocatable: { cpu: '2', memory: '4Gi' } },
    machine: { cpus: 2, cpuModel: 'x', loadAverageAtStart: '2.00 1.00 1.00 1/100 5' },
    variants: [{ id: 'kubernetes', title: 'KE', config: {}, runs: [{ ...run, cpuSeconds: { scheduler: 1, taskPods: 60.5, kubelet: 3.25, containerd: 1.5, containerdShims: 0.75, kubeProxy: 0.1, machine: 80 } }] }],
  });
  const text = lines.join('\n');
  expect(text).toContain('The real node (v1.20.2 kubelet, containerd://1.6.20, allocatable 2 CPU / 4Gi)');
  expect(text).toContain("| task pods' CPU seconds (their cgroups) | 60.50 |");
  expect(text).toContain("| the node's own: kubelet / containerd / its shims / kube-proxy CPU seconds | 3.25 / 1.50 / 0.75 / 0.10 |");
  expect(text).not.toContain('emulated kubelet');
});

test('the single task\'s start path on the real node: each step\'s p50 / p95, and trigger -> done with and without the node\'s start of the pod', () => {
  // run i: queued at 1 s, pod created 0.1 s later, bound 0.01 s later, sandbox 0.2 + 0.1 s, container 0.05 + 0.05 s,
  // the task running 2 s after its container started (+ 0.1 s * i), done 0.3 s later
  const path = (i: number) => {
    const p: any = { queued: 1000, podCreated: 1100, podBound: 1110, sandboxCreated: 1310, sandboxStarted: 1410, containerCreated: 1460, containerStarted: 1510 };
    p.running = p.containerStarted + 2000 + 100 * i;
    p.done = p.running + 300;
    p.containerExited = p.done + 500;
    p.podSucceeded = p.containerExited + 400;
    p.podDeleted = p.podSucceeded + 100;
    return p;
  };
  const single = Array.from({ length: 5 }, (_, i) => ({ state: 'success', path: path(i), cpuSecondsToPodsGone: { taskPods: 3 + i / 10 } }));
  const lines = realNodeStartPathReport({ variants: [{ id: 'kubernetes', single }] });
  const text = lines.join('\n');
  expect(text).toContain('5 runs after a warm-up, one at a time, 5 success');
  expect(text).toContain('| trigger → task instance queued (the scheduler\'s loop) | 1.00 / 1.00 (1.00-1.00) |');
  expect(text).toContain('| bound → sandbox created (the kubelet sees the pod; containerd) | 0.20 / 0.20 (0.20-0.20) |');
  expect(text).toContain('| container started → task running (Python, the imports, ti_run) | 2.20 / 2.40 (2.00-2.40) |');
  // trigger -> done: 1.51 + 2.0..2.4 + 0.3 = 3.81..4.21; the node's start (bound -> container started) 0.40
  expect(text).toContain('| **trigger → task done** | **4.01 / 4.21 (3.81-4.21)** |');
  expect(text).toContain('| of it the node\'s start of the pod (bound → container started: the kubelet, containerd, runc) | 0.40 / 0.40 (0.40-0.40) |');
  expect(text).toContain('| trigger → task done without the node\'s start (the issue\'s goal: p50 at most 2 s) | 3.61 / 3.81 (3.41-3.81) |');
  expect(text).toContain('| the task pod\'s CPU seconds (its cgroup, trigger → pod deleted) | 3.20 (3.00-3.40) |');
  expect(realNodeStartPathReport({ variants: [] })).toEqual(['No single-task run on the real node in this measurement.']);
});
