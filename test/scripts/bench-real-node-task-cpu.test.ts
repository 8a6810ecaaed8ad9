// npm run bench's tables of the task pod's CPU and memory and of its CPU request under contention on the real node
// (scripts/bench.js taskCpuReport) from what test/runtime/real-node-task-cpu.bench.ts records: median (min-max)
// over the counted runs (successful ones), the fan-out's task rows over every task of every run.

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { taskCpuReport } = require('../../scripts/bench.js') as { taskCpuReport: (taskCpuResults: any) => string[] };

const cpuTask = (cpuSeconds: number, peak: number, rss: number, extra: Record<string, unknown> = {}) => ({
  taskId: 'write_file', state: 'success', cpuShares: 102, cpuSeconds, peakUsageMiB: peak, peakRssMiB: rss, peakWorkingSetMiB: peak - 10,
  cgroupSeconds: 8, scheduledToRunning: 4, runningToDone: 2, throttled: { periods: 50, throttledPeriods: 1, throttledSeconds: 0.01 }, ...extra,
});
const fanRun = (makespan: number, shares: number, bound: number, state = 'success') => ({
  state,
  makespan,
  tasks: [0, 1, 2, 3].map((i) => ({ ...cpuTask(3 + i / 10, 250, 200), state: state === 'failed' && i === 0 ? 'failed' : 'success', cpuShares: shares, podCreatedToBound: bound * i, scheduledToDone: makespan - 1 })),
  controlPlaneCpuSeconds: { scheduler: 2, 'api-server': 1.5 },
  nodePodsCpuSeconds: 20,
  machineBusyCpuSeconds: 40,
  windowSeconds: 30,
  loadavg: { start: '3.00 2.00 1.00 1/100 5' },
});

const taskCpuResults = {
  measuredAt: '2026-12-05T10:00:00Z',
  machine: { cpus: 2, cpuModel: 'x', loadAverageAtStart: '2.00', loadAverageAtEnd: '3.00' },
  node: { allocatableCpu: '2', allocatableMemory: '4Gi', requestedCpuMilliByTheChartsPods: 770 },
  cgroups: 'v1',
  samplerIntervalSeconds: 0.2,
  sampler: { samples: 900, cpuSeconds: 4 },
  single: {
    runs: [
      { state: 'success', tasks: [cpuTask(2.5, 240, 190)] },
      { state: 'success', tasks: [cpuTask(3.5, 260, 210)] },
      { state: 'success', tasks: [cpuTask(3.0, 250, 200)] },
      { state: 'failed', tasks: [cpuTask(99, 999, 999)] },
    ],
  },
  fanout: {
    workCpuSeconds: 1,
    variants: [
      { id: 'default', cpuRequest: '100m', runs: [fanRun(20, 102, 0), fanRun(24, 102, 0)] },
      { id: '1cpu', cpuRequest: '1', runs: [fanRun(60, 1024, 10), fanRun(70, 1024, 12, 'failed')] },
    ],
  },
};

test('the single task pod: CPU time, peak memory and RSS, median (min-max) of the successful runs', () => {
  const text = taskCpuReport(taskCpuResults).join('\n');
  expect(text).toContain('allocatable 2 CPU / 4Gi; the default chart\'s pods request 770m CPU');
  expect(text).toContain('3 runs after a warm-up');
  expect(text).toContain('| the pod\'s CPU time (its cgroup\'s `cpuacct.usage`), s | 3.00 (2.50-3.50) |');
  expect(text).toContain('| its peak memory, page cache included (`memory.max_usage_in_bytes`), MiB | 250.0 (240.0-260.0) |');
  expect(text).toContain('| its largest sampled RSS (`total_rss`), MiB | 200.0 (190.0-210.0) |');
  expect(text).toContain('| cpu.shares | 102 |');
});

test('the fan-out: one column per CPU request, failed runs not counted', () => {
  const text = taskCpuReport(taskCpuResults).join('\n');
  expect(text).toContain('| | default: request 100m, runs 2 | 1cpu: request 1, runs 1 |');
  expect(text).toContain('| cpu.shares of a task pod | 102 | 1024 |');
  expect(text).toContain('| **makespan** (dag run start → end), s | 22.0 (20.0-24.0) | 60.0 |');
  expect(text).toContain('| task pod created → bound (Pending for room), s | 0.0 | 15.0 (0.0-30.0) |');
  expect(text).toContain('| scheduler CPU s, trigger → pods deleted | 2.00 | 2.00 |');
  expect(text).toContain('**Runs that did not succeed (not counted above): 1cpu round ?: 1 of 4 tasks not success.**');
});
