// The chart with `celery: {}` on the real node (issue #27 with issue #16's hybrid executors, docs/celery.md): the
// real-node counterpart of celery.runtime.test.ts. The app is synthesized as a user's main.ts would
// (`new AirflowChart(app, 'airflow', { celery: {} })` in an AirflowApp) into build/real-node-celery/ and applied
// with `kubectl apply -f` on that folder; every pod is run by the real kubelet, containerd and runc from the
// images pulled from the node's registry, Redis from the image built from Debian's redis-server under the tag
// RedisBroker.DEFAULT_IMAGE names (scripts/runtime/build-images.sh). The Jobs complete, the four components, Redis
// and the Celery worker get Ready, the worker connects to the broker, and a run of hybrid_executors succeeds:
// quick_check on the Celery worker, in_its_own_pod in a pod of the KubernetesExecutor; then every container's
// memory stays under its cgroup limit. Runs only on the real node (`npm run test:runtime:real`).
import * as fs from 'fs';
import * as path from 'path';
import { AirflowApp, AirflowChart, RedisBroker } from '../../lib';
import { kubectl, kubectlOk, REPO_ROOT, waitFor } from '../live/support/cluster';
import { recordRuntime } from './support/results';
import { cgroupMemory, chartProgress, componentPod, DATA, dagParsed, deleteChart, jobsComplete, memoryReport, NS, prepareData, readyWithoutRestart, REAL_NODE, removeChart, triggerAndWait } from './support/real-node';

const OUT = path.join(REPO_ROOT, 'build', 'real-node-celery');
const COMPONENTS = ['scheduler', 'api-server', 'dag-processor', 'triggerer', 'redis', 'celery-worker'];

const d = REAL_NODE ? describe : describe.skip;
const { timings, mark, setApplied, needApplied } = chartProgress(OUT);

d('runtime: the chart with Celery workers on the real node', () => {
  beforeAll(async () => {
    fs.rmSync(OUT, { recursive: true, force: true });
    const app = new AirflowApp({ outdir: OUT });
    new AirflowChart(app, 'airflow', { celery: {} });
    app.synth();
    await deleteChart(OUT);
    prepareData(path.join(REPO_ROOT, 'dags'));
  }, 360_000);

  afterAll(() => removeChart(OUT, ['realNode', 'celery', 'timingsSeconds'], timings), 360_000);

  test('kubectl apply -f on the synthesized folder is accepted; Redis is the image lib names', () => {
    const text = fs.readdirSync(OUT).map((f) => fs.readFileSync(path.join(OUT, f), 'utf8')).join('\n');
    expect(text).toContain(`image: ${RedisBroker.DEFAULT_IMAGE}`);
    kubectlOk(['apply', '-f', OUT]);
    setApplied();
    mark('applied');
  });

  test('the Jobs complete', async () => {
    needApplied();
    await jobsComplete(4);
    mark('jobsComplete');
  }, 960_000);

  test('the four components, Redis and the Celery worker are Ready, none restarted', async () => {
    needApplied();
    await readyWithoutRestart('the components, Redis and the Celery worker Ready', COMPONENTS);
    mark('componentsReady');
  }, 960_000);

  test('Redis runs as uid 999 gid 1000 and answers only with the password; the worker is connected to it', async () => {
    needApplied();
    const redis = componentPod('redis');
    expect(kubectlOk(['-n', NS, 'exec', redis, '-c', 'redis', '--', 'id', '-u']).trim()).toBe('999');
    expect(kubectlOk(['-n', NS, 'exec', redis, '-c', 'redis', '--', 'id', '-g']).trim()).toBe('1000');
    // without REDISCLI_AUTH: refused (the readiness probe, which passed, sends it)
    expect(kubectl(['-n', NS, 'exec', redis, '-c', 'redis', '--', 'env', '-u', 'REDISCLI_AUTH', 'redis-cli', 'ping']).stdout).toMatch(/NOAUTH|Authentication required/);
    const worker = componentPod('celery-worker');
    await waitFor('the Celery worker to report ready', 240_000, () => /celery@\S+ ready\./.test(kubectl(['-n', NS, 'logs', worker, '-c', 'celery-worker']).stdout), () => kubectl(['-n', NS, 'logs', worker, '-c', 'celery-worker', '--tail', '30']).stdout, 3000);
    mark('workerReady');
  }, 360_000);

  test('a run of hybrid_executors succeeds: quick_check on the Celery worker, in_its_own_pod in its own pod', async () => {
    needApplied();
    await dagParsed('hybrid_executors');
    const { run, state, seconds } = await triggerAndWait('hybrid_executors');
    mark('dagRunEnded');
    const worker = componentPod('celery-worker');
    const safe = run.replace(/[^A-Za-z0-9_.-]+/g, '_');
    const read = (task: string) => {
      const f = path.join(DATA, 'data', `hybrid_executors-${safe}-${task}.txt`);
      return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : `(no ${f})`;
    };
    const quick = read('quick_check');
    const own = read('in_its_own_pod');
    console.log(`RUNTIME [real node, celery]: hybrid_executors ${state} in ${seconds} s\n${quick}${own}`);
    expect(state).toBe('success');
    expect(quick).toContain(`quick_check ran on ${worker} `);
    expect(own).toMatch(/^in_its_own_pod ran on hybrid-executors-in-its-own-pod-\w+ /);
    expect(kubectl(['-n', NS, 'logs', worker, '-c', 'celery-worker']).stdout).toMatch(/Executing workload in Celery/);
    recordRuntime(['realNode', 'celery', 'run'], { triggerToSuccessSeconds: seconds });
  }, 960_000);

  test('memory: every running container under its cgroup limit (at most 80%); no OOM kill', () => {
    needApplied();
    const m = cgroupMemory();
    const { over, oomKilled } = memoryReport('RUNTIME [real node, celery]: memory from the cgroups', m);
    recordRuntime(['realNode', 'celery', 'memory'], m);
    for (const c of COMPONENTS) expect(m[c]).toBeDefined();
    expect(over).toEqual([]);
    expect(oomKilled).toEqual([]);
  });
});
