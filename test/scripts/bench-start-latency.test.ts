// npm run bench's start-latency table (scripts/bench.js startLatencyReport) from the samples the runtime stage
// records (test/runtime/start-latency.bench.ts): each phase is the difference of the right two timestamps, and
// the fan-out table shows how far apart the task pods of one run were created.

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startLatencyReport, taskPhases } = require('../../scripts/bench.js') as {
  startLatencyReport: (results: any) => { lines: string[] };
  taskPhases: (t: any) => Record<string, number | undefined>;
};

/** A task whose timestamps (ms after the trigger) are shifted by `shift`. */
const task = (taskId: string, shift = 0, extra: Record<string, number> = {}) => ({
  taskId,
  state: 'success',
  queued: 500 + shift,
  podCreated: 700 + shift,
  podBound: 720 + shift,
  kubeletSeen: 1100 + shift,
  processStarted: 1300 + shift,
  taskRunning: 4300 + shift,
  taskDone: 6300 + shift,
  podSucceeded: 6600 + shift,
  podDeleted: 7000 + shift,
  ...extra,
});

const results = {
  measuredAt: '2026-12-01T04:00:00.000Z',
  machine: { cpus: 2, cpuModel: 'AMD EPYC', loadAverageAtStart: [1.5, 1.2, 1] },
  loadAverageAtEnd: [2, 1.5, 1.2],
  runs: 3,
  settings: [
    {
      id: 'default',
      title: 'the default chart',
      one: [0, 100, 200].map((s, i) => ({ runId: `r${i}`, state: 'success', tasks: [task('noop', s)] })),
      fanout: [{ runId: 'f0', state: 'success', tasks: [0, 1, 2, 3].map((i) => task(`noop_${i}`, i * 10)) }],
    },
    {
      id: 'batch-1',
      title: 'worker_pods_creation_batch_size = 1',
      one: [{ runId: 'r3', state: 'success', tasks: [task('noop')] }],
      fanout: [
        { runId: 'f1', state: 'success', tasks: [0, 1, 2, 3].map((i) => task(`noop_${i}`, i * 1000)) },
        { runId: 'f2', state: 'failed', tasks: [task('noop_0', 0, { taskDone: 60000 }), { ...task('noop_1'), state: 'failed' }] },
      ],
    },
  ],
};

test('each phase is the difference of its two timestamps', () => {
  expect(taskPhases(task('noop'))).toEqual({
    toQueued: 500,
    queuedToCreated: 200,
    toCreated: 700,
    createdToBound: 20,
    kubelet: 580,
    processToRunning: 3000,
    createdToRunning: 3600,
    runningToDone: 2000,
    doneToSucceeded: 300,
    succeededToDeleted: 400,
    total: 6300,
  });
  expect(taskPhases({ taskId: 'x', podCreated: 700 }).createdToBound).toBeUndefined();
});

test('the tables: median (min-max) in seconds per setting, the simulated kubelet named, failed runs flagged', () => {
  const lines = startLatencyReport(results).lines;
  expect(lines).toContain('| Phase | (1) default | (2) batch-1 |');
  expect(lines).toContain('| **trigger → task pod created** | 0.80 (0.70-0.90) | 0.70 (0.70-0.70) |');
  expect(lines).toContain('| bound → task process started (**simulated kubelet**: its 0.7 s poll, namespaces, mounts) | 0.58 (0.58-0.58) | 0.58 (0.58-0.58) |');
  expect(lines).toContain('| **trigger → task done** | 6.40 (6.30-6.50) | 6.30 (6.30-6.30) |');
  expect(lines).toContain('| **first → last task pod created** | 0.03 (0.03-0.03) | 3.00 (3.00-3.00) |');
  expect(lines).toContain('**Runs that did not succeed (not counted above): batch-1 f2: failed (tasks noop_0 success, noop_1 failed).**');
  // the failed run's 60 s are not in the fan-out's "every task done"
  expect(lines).toContain('| trigger → every task done | 6.33 (6.33-6.33) | 9.30 (9.30-9.30) |');
  expect(lines).toContain('4 tasks at once (`start_latency_fanout`, parallelism 4; runs counted: (1) 1, (2) 1):');
  expect(lines.join('\n')).toMatch(/the simulated kubelet's part is 0\.58 s; without it, 3\.02 s are the kube-scheduler's and the task's own start/);
});

test('nothing recorded', () => {
  expect(startLatencyReport({ settings: [] }).lines).toContain('No runs recorded.');
});
