// test/runtime/support/watch-stream.ts, the chain's task pod watch: every task pod the watch reports is kept, with
// its phases, also one that no poll saw (the emulated stage's CI of b1b30d4 missed per_task_resources' task light,
// a pod that lived 20 s between two polls).
import { recordTaskPodEvent, WatchEvent, WatchEvents } from '../runtime/support/watch-stream';

const pod = (name: string, phase: string, taskId: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name,
    labels: { dag_id: 'per_task_resources', task_id: taskId, kubernetes_executor: 'True' },
    annotations: { run_id: 'manual__1', note: 'a "quoted" {brace} and a \\ backslash' },
  },
  spec: { containers: [{ name: 'base', args: ['python', '-c', 'print("}{")'] }] },
  status: { phase },
});

// as kubectl prints them: pretty-printed documents back to back
const events: WatchEvent[] = [
  { type: 'ADDED', object: pod('light-1', 'Pending', 'light') },
  { type: 'MODIFIED', object: pod('light-1', 'Running', 'light') },
  { type: 'MODIFIED', object: pod('light-1', 'Succeeded', 'light') },
  { type: 'DELETED', object: pod('light-1', 'Succeeded', 'light') },
  { type: 'ADDED', object: pod('heavier-2', 'Pending', 'heavier') },
];
const stream = events.map((e) => `${JSON.stringify(e, null, 4)}\n`).join('');

test('the stream is cut into its events, wherever the chunks end (inside strings, escapes and braces too)', () => {
  for (const size of [1, 2, 3, 7, 64, 1000, stream.length]) {
    const w = new WatchEvents();
    const seen: WatchEvent[] = [];
    for (let i = 0; i < stream.length; i += size) seen.push(...w.push(stream.slice(i, i + size)));
    expect(seen).toEqual(events);
  }
});

test('a task pod seen only by the watch is kept as it appeared, with its phases and its deletion', () => {
  const pods = new Map<string, any>();
  const phases = new Map<string, string[]>();
  for (const e of new WatchEvents().push(stream)) recordTaskPodEvent(e, pods, phases);
  recordTaskPodEvent({ type: 'ERROR', object: { kind: 'Status', metadata: {}, message: 'too old resource version' } }, pods, phases);
  expect([...pods.values()].map((p) => p.metadata.labels.task_id).sort()).toEqual(['heavier', 'light']);
  expect(pods.get('light-1').status.phase).toBe('Pending');
  expect(phases.get('light-1')).toEqual(['Pending', 'Running', 'Succeeded', 'Deleted']);
  expect(phases.get('heavier-2')).toEqual(['Pending']);
});
