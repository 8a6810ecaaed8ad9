// npm run bench's executor trade-off table (scripts/bench.js executorTradeoffReport) from what
// test/runtime/executor-tradeoff.bench.ts records: the makespan from the dag run's start and end, the percentiles
// of queued -> running and trigger -> done from the task instances, pods per second, and the tasks lost.

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { executorTradeoffReport, tradeoffFigures, percentile } = require('../../scripts/bench.js') as {
  executorTradeoffReport: (results: any) => string[];
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
