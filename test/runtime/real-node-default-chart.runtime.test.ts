// The default app's YAML (dist/) on the real node (issue #27, docs/runtime-tests.md "The real node"): applied as a
// user applies it, every pod run by the real kubelet, containerd and runc from the images pulled from the node's
// registry; the Jobs complete, the four components get Ready, a DAG run's task pod (created by the
// KubernetesExecutor) runs and succeeds, and every container's memory stays under its cgroup limit. Runs only when
// scripts/test-runtime.sh started the real node (AIRFLOW_CDK8S_RUNTIME_NODE=real, `npm run test:runtime:real`).
//
// The real node's hostPath volumes are the machine's own paths, as on minikube's node: the chart's /data/dags,
// /data/logs, /data/data, /data/postgres and /data/postgres-keys. The test prepares the first three as the README
// does (`minikube mount --uid 50000 --gid 0`) and removes /data afterwards; it refuses a /data it did not create.
import * as fs from 'fs';
import * as path from 'path';
import { kubectlJson, kubectlOk, REPO_ROOT, waitFor } from '../live/support/cluster';
import { recordRuntime } from './support/results';
import { cgroupMemory, componentReady, DATA, dagParsed, deleteChart, memoryReport, NS, pods, podSummary, prepareData, REAL_NODE, removeData, triggerAndWait } from './support/real-node';

/** dist/ as a user applies it: `kubectl apply -f dist/` reads its three files in name order (AirflowApp). */
const DIST = path.join(REPO_ROOT, 'dist');
const COMPONENTS = ['scheduler', 'api-server', 'dag-processor', 'triggerer'];

const d = REAL_NODE ? describe : describe.skip;
const started = Date.now();
const timings: Record<string, number> = {};
const mark = (step: string) => {
  timings[step] = Math.round((Date.now() - started) / 1000);
};
/** Set once dist/ is applied: the waits after it fail at once rather than for 15 minutes each when it was not. */
let applied = false;
const needApplied = () => {
  if (!applied) throw new Error('dist/ was not applied (see the first test)');
};

d('runtime: the default chart on the real node', () => {
  beforeAll(async () => {
    await deleteChart(DIST);
    prepareData(path.join(REPO_ROOT, 'dags'));
  }, 360_000);

  afterAll(async () => {
    recordRuntime(['realNode', 'defaultChart', 'timingsSeconds'], timings);
    if (process.env.AIRFLOW_CDK8S_RUNTIME_KEEP === '1') return;
    try {
      await deleteChart(DIST);
    } finally {
      removeData();
    }
  }, 360_000);

  test('kubectl apply -f dist/ is accepted', () => {
    kubectlOk(['apply', '-f', DIST]);
    applied = true;
    mark('applied');
  });

  test('the Jobs complete (secrets bootstrap, volume permissions, migrations, admin user)', async () => {
    needApplied();
    const jobs = kubectlJson(['-n', NS, 'get', 'jobs', '-o', 'json']).items.map((j: any) => j.metadata.name);
    expect(jobs.length).toBeGreaterThanOrEqual(4);
    await waitFor('every Job to complete', 900_000, () => kubectlJson(['-n', NS, 'get', 'jobs', '-o', 'json']).items.every((j: any) => (j.status.succeeded ?? 0) >= 1), podSummary, 3000);
    mark('jobsComplete');
  }, 960_000);

  test('scheduler, api-server, dag-processor and triggerer are Ready, none restarted', async () => {
    needApplied();
    await waitFor(
      'the four components Ready',
      900_000,
      () => COMPONENTS.every(componentReady),
      podSummary,
      3000,
    );
    mark('componentsReady');
    for (const p of pods().filter((x) => COMPONENTS.includes(x.metadata.labels?.['app.kubernetes.io/component']))) {
      for (const cs of p.status.containerStatuses) expect(`${p.metadata.name}/${cs.name}: ${cs.restartCount}`).toBe(`${p.metadata.name}/${cs.name}: 0`);
    }
  }, 960_000);

  test('a run of write_to_data_volume: the executor\'s task pod runs on the real node and succeeds', async () => {
    needApplied();
    await dagParsed('write_to_data_volume');
    const { state, seconds } = await triggerAndWait('write_to_data_volume');
    expect(state).toBe('success');
    mark('taskRunSucceeded');
    const file = fs.readdirSync(path.join(DATA, 'data')).find((f) => f.startsWith('write_to_data_volume-'));
    expect(file).toBeDefined();
    const text = fs.readFileSync(path.join(DATA, 'data', file!), 'utf8');
    expect(text).toMatch(/by task pod write-to-data-volume-write-file-\w+ for run manual__/);
    const taskPod = /by task pod (\S+)/.exec(text)![1];
    const ev = kubectlJson(['-n', NS, 'get', 'events', '--field-selector', `involvedObject.name=${taskPod}`, '-o', 'json']).items.map((e: any) => `${e.reason}: ${e.message}`);
    console.log(`RUNTIME [real node, default chart]: trigger to success ${seconds} s; task pod ${taskPod}: ${ev.join(' | ')}`);
    expect(ev.some((e: string) => /^Started: /.test(e))).toBe(true);
    recordRuntime(['realNode', 'defaultChart', 'task'], { triggerToSuccessSeconds: seconds, events: ev });
  }, 960_000);

  test('memory: every running container under its cgroup limit (largest usage, page cache included, at most 80%); no OOM kill', () => {
    const m = cgroupMemory();
    const { over, oomKilled } = memoryReport('RUNTIME [real node, default chart]: memory from the cgroups', m);
    recordRuntime(['realNode', 'defaultChart', 'memory'], m);
    for (const c of COMPONENTS) expect(m[c]).toBeDefined();
    expect(over).toEqual([]);
    expect(oomKilled).toEqual([]);
  });
});
