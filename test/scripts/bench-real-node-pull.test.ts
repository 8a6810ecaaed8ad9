// npm run bench's table of the image pull on the real node (scripts/bench.js realNodePullReport) from what
// test/runtime/real-node-pull.bench.ts records: one row per case, median (min-max) over the repetitions, and
// whether the kubelet pulled the image or found it present.

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { realNodePullReport } = require('../../scripts/bench.js') as { realNodePullReport: (results: any) => string[] };

const pulled = (pull: number, running: number) => ({ alreadyPresent: false, pullSeconds: pull, scheduledToPulled: Math.ceil(pull), scheduledToRunning: running });
const present = (running: number) => ({ alreadyPresent: true, scheduledToPulled: 0, scheduledToRunning: running });

test('one row per case: the pulls median (min-max), the present image with no pull, the DaemonSet apply -> ready', () => {
  const lines = realNodePullReport({
    measuredAt: '2026-12-05T10:00:00Z',
    machine: { cpus: 2, cpuModel: 'x', loadAverageAtStart: '2.00 1.00 1.00 1/100 5', loadAverageAtEnd: '3.00 1.00 1.00 1/100 5' },
    image: 'apache/airflow:3.2.2',
    imageSize: '1.0 GiB',
    imagePullPolicy: 'IfNotPresent',
    registry: 'a loopback registry',
    runs: [
      { absent: pulled(30, 32), present: present(1), prePull: { ...pulled(20, 22), appliedToReady: 24 }, afterPrePull: present(1) },
      { absent: pulled(40, 42), present: present(2), prePull: { ...pulled(10, 12), appliedToReady: 14 }, afterPrePull: present(0) },
      { absent: pulled(35, 37), present: present(1), prePull: { ...pulled(15, 17), appliedToReady: 19 }, afterPrePull: present(1) },
    ],
  });
  const text = lines.join('\n');
  expect(text).toContain('apache/airflow:3.2.2 (1.0 GiB in containerd)');
  expect(text).toContain('3 repetitions');
  expect(text).toContain('| (a) image absent | pulled | 35.0 (30.0-40.0) | 35.0 (30.0-40.0) | 37.0 (32.0-42.0) |');
  expect(text).toContain('| (b) image present | already present | - | 0.0 (0.0-0.0) | 1.0 (1.0-2.0) |');
  expect(text).toContain('| (c) the ImagePrePull pod (its init container), image absent | pulled | 15.0 (10.0-20.0) |');
  expect(text).toContain('| (c) then the task pod | already present | - | 0.0 (0.0-0.0) | 1.0 (0.0-1.0) |');
  expect(text).toContain('apply → ready 19.0 (14.0-24.0) s');
});

test('a run stopped early says so; a case with mixed results says how many found the image', () => {
  const text = realNodePullReport({
    measuredAt: 't',
    machine: {},
    image: 'i',
    registry: 'r',
    stoppedEarly: 'BENCH_PULL_STOP_AT passed before repetition 2',
    runs: [{ absent: present(1), present: present(1) }, { absent: pulled(5, 6) }],
  }).join('\n');
  expect(text).toContain('(BENCH_PULL_STOP_AT passed before repetition 2)');
  expect(text).toContain('| (a) image absent | 1/2 present |');
});
