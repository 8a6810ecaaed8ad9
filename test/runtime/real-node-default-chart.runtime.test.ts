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
import { kubectlJson, kubectlOk, REPO_ROOT } from '../live/support/cluster';
import { recordRuntime } from './support/results';
import { cgroupMemory, chartProgress, DATA, dagParsed, deleteChart, jobsComplete, memoryReport, NS, prepareData, readyWithoutRestart, REAL_NODE, removeChart, triggerAndWait } from './support/real-node';

/** dist/ as a user applies it: `kubectl apply -f dist/` reads its three files in name order (AirflowApp). */
const DIST = path.join(REPO_ROOT, 'dist');
const COMPONENTS = ['scheduler', 'api-server', 'dag-processor', 'triggerer'];

const d = REAL_NODE ? describe : describe.skip;
const { timings, mark, setApplied, needApplied } = chartProgress('dist/');

d('runtime: the default chart on the real node', () => {
  beforeAll(async () => {
    await deleteChart(DIST);
    prepareData(path.join(REPO_ROOT, 'dags'));
  }, 360_000);

  afterAll(() => removeChart(DIST, ['realNode', 'defaultChart', 'timingsSeconds'], timings), 360_000);

  test('kubectl apply -f dist/ is accepted', () => {
    kubectlOk(['apply', '-f', DIST]);
    setApplied();
    mark('applied');
  });

  test('the Jobs complete (secrets bootstrap, volume permissions, migrations, admin user)', async () => {
    needApplied();
    await jobsComplete(4);
    mark('jobsComplete');
  }, 960_000);

  test('scheduler, api-server, dag-processor and triggerer are Ready, none restarted', async () => {
    needApplied();
    await readyWithoutRestart('the four components Ready', COMPONENTS);
    mark('componentsReady');
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
