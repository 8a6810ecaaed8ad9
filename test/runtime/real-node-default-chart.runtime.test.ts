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
import { kubectl, kubectlJson, kubectlOk, REPO_ROOT, waitFor } from '../live/support/cluster';
import { recordRuntime } from './support/results';

const REAL = process.env.AIRFLOW_CDK8S_RUNTIME_NODE === 'real';
const NS = 'airflow';
const DIST = path.join(REPO_ROOT, 'dist', 'airflow.k8s.yaml');
const DATA = '/data';
const MARKER = path.join(DATA, '.airflow-cdk8s-real-node');
const COMPONENTS = ['scheduler', 'api-server', 'dag-processor', 'triggerer'];

const d = REAL ? describe : describe.skip;
const started = Date.now();
const timings: Record<string, number> = {};
const mark = (step: string) => {
  timings[step] = Math.round((Date.now() - started) / 1000);
};

/**
 * Deletes what dist/ created and waits until the namespace and the PersistentVolumes are gone, in short kubectl
 * calls (one `kubectl delete --wait` may take longer than the kubectl helper's 90 s).
 */
async function deleteChart(): Promise<void> {
  kubectl(['delete', '-f', DIST, '--ignore-not-found', '--wait=false']);
  await waitFor(
    'the namespace and the PersistentVolumes of dist/ to be gone',
    300_000,
    () => kubectl(['get', 'namespace', NS]).code !== 0 && !/airflow-/.test(kubectl(['get', 'pv', '-o', 'name']).stdout),
    () => kubectl(['-n', NS, 'get', 'all,pvc']).stdout,
    2000,
  );
}

function pods(): any[] {
  return kubectlJson(['-n', NS, 'get', 'pods', '-o', 'json']).items;
}

function podSummary(): string {
  return kubectl(['-n', NS, 'get', 'pods', '-o', 'wide']).stdout + kubectl(['-n', NS, 'get', 'events', '--sort-by=.lastTimestamp']).stdout.split('\n').filter((l) => !/Normal/.test(l)).slice(-15).join('\n');
}

function schedulerPod(): string {
  return kubectlOk(['-n', NS, 'get', 'pods', '-l', 'app.kubernetes.io/component=scheduler', '-o', 'jsonpath={.items[0].metadata.name}']).trim();
}

function inScheduler(cmd: string): string {
  return kubectlOk(['-n', NS, 'exec', schedulerPod(), '-c', 'scheduler', '--', 'bash', '-c', cmd]);
}

/** Memory of every running container from its cgroup (memory.max_usage_in_bytes includes the page cache). */
function cgroupMemory(): Record<string, { limitMiB: number; maxUsageMiB: number; rssMiB: number; failcnt: number; restarts: number }> {
  const out: Record<string, any> = {};
  const base = '/sys/fs/cgroup/memory/acdk8s-realnode/kubepods';
  const dirs: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 3 || !fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) { dirs.push(path.join(dir, e.name)); walk(path.join(dir, e.name), depth + 1); }
  };
  walk(base, 0);
  for (const p of pods()) {
    for (const cs of p.status.containerStatuses ?? []) {
      if (!cs.state.running) continue;
      const id = (cs.containerID ?? '').split('//').pop();
      const dir = dirs.find((x) => x.endsWith(`/pod${p.metadata.uid}/${id}`));
      if (!dir) continue;
      const read = (f: string) => Number(fs.readFileSync(path.join(dir, f), 'utf8').trim());
      const rss = Number(/^total_rss (\d+)$/m.exec(fs.readFileSync(path.join(dir, 'memory.stat'), 'utf8'))![1]);
      const component = p.metadata.labels?.['app.kubernetes.io/component'] ?? p.metadata.name;
      out[component === cs.name ? component : `${component}:${cs.name}`] = {
        limitMiB: read('memory.limit_in_bytes') >> 20,
        maxUsageMiB: read('memory.max_usage_in_bytes') >> 20,
        rssMiB: rss >> 20,
        failcnt: read('memory.failcnt'),
        restarts: cs.restartCount,
      };
    }
  }
  return out;
}

d('runtime: the default chart on the real node', () => {
  beforeAll(async () => {
    if (fs.existsSync(DATA) && !fs.existsSync(MARKER)) throw new Error(`${DATA} exists and is not this test's (no ${MARKER}): not touching it`);
    await deleteChart();
    fs.rmSync(DATA, { recursive: true, force: true });
    for (const dir of ['dags', 'logs', 'data']) {
      fs.mkdirSync(path.join(DATA, dir), { recursive: true });
      fs.chownSync(path.join(DATA, dir), 50000, 0);
      fs.chmodSync(path.join(DATA, dir), 0o775);
    }
    fs.writeFileSync(MARKER, '');
    for (const f of fs.readdirSync(path.join(REPO_ROOT, 'dags')).filter((x) => x.endsWith('.py'))) {
      fs.copyFileSync(path.join(REPO_ROOT, 'dags', f), path.join(DATA, 'dags', f));
      fs.chownSync(path.join(DATA, 'dags', f), 50000, 0);
    }
  }, 360_000);

  afterAll(async () => {
    recordRuntime(['realNode', 'defaultChart', 'timingsSeconds'], timings);
    if (process.env.AIRFLOW_CDK8S_RUNTIME_KEEP === '1') return;
    try {
      await deleteChart();
    } finally {
      if (fs.existsSync(MARKER)) fs.rmSync(DATA, { recursive: true, force: true });
    }
  }, 360_000);

  test('kubectl apply -f dist/ is accepted', () => {
    kubectlOk(['apply', '-f', DIST]);
    mark('applied');
  });

  test('the Jobs complete (secrets bootstrap, volume permissions, migrations, admin user)', async () => {
    const jobs = kubectlJson(['-n', NS, 'get', 'jobs', '-o', 'json']).items.map((j: any) => j.metadata.name);
    expect(jobs.length).toBeGreaterThanOrEqual(4);
    await waitFor('every Job to complete', 900_000, () => kubectlJson(['-n', NS, 'get', 'jobs', '-o', 'json']).items.every((j: any) => (j.status.succeeded ?? 0) >= 1), podSummary, 3000);
    mark('jobsComplete');
  }, 960_000);

  test('scheduler, api-server, dag-processor and triggerer are Ready, none restarted', async () => {
    await waitFor(
      'the four components Ready',
      900_000,
      () => COMPONENTS.every((c) => pods().some((p) => p.metadata.labels?.['app.kubernetes.io/component'] === c && p.status.conditions?.find((x: any) => x.type === 'Ready')?.status === 'True')),
      podSummary,
      3000,
    );
    mark('componentsReady');
    for (const p of pods().filter((x) => COMPONENTS.includes(x.metadata.labels?.['app.kubernetes.io/component']))) {
      for (const cs of p.status.containerStatuses) expect(`${p.metadata.name}/${cs.name}: ${cs.restartCount}`).toBe(`${p.metadata.name}/${cs.name}: 0`);
    }
  }, 960_000);

  test('a run of write_to_data_volume: the executor\'s task pod runs on the real node and succeeds', async () => {
    await waitFor('the DAG write_to_data_volume parsed', 300_000, () => /write_to_data_volume/.test(kubectl(['-n', NS, 'exec', schedulerPod(), '-c', 'scheduler', '--', 'airflow', 'dags', 'list', '-o', 'plain']).stdout), podSummary, 5000);
    inScheduler('airflow dags unpause write_to_data_volume >/dev/null');
    const t0 = Date.now();
    const run = /manual__[^\s"|]+/.exec(inScheduler('airflow dags trigger write_to_data_volume -o json'))?.[0];
    expect(run).toBeDefined();
    let state = '';
    await waitFor(
      `run ${run} to end`,
      600_000,
      () => {
        const out = inScheduler('airflow dags list-runs write_to_data_volume -o json 2>/dev/null');
        const runs = JSON.parse(out.slice(out.indexOf('[')));
        state = runs.find((r: any) => r.run_id === run)?.state ?? '';
        return state === 'success' || state === 'failed';
      },
      podSummary,
      5000,
    );
    expect(state).toBe('success');
    const seconds = Math.round((Date.now() - t0) / 1000);
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
    console.log(`RUNTIME [real node, default chart]: memory from the cgroups\n${Object.entries(m).map(([k, v]) => `${k.padEnd(28)} limit ${String(v.limitMiB).padStart(5)} MiB  largest ${String(v.maxUsageMiB).padStart(5)} MiB (${Math.round((100 * v.maxUsageMiB) / v.limitMiB)}%)  rss ${v.rssMiB} MiB  failcnt ${v.failcnt}  restarts ${v.restarts}`).join('\n')}`);
    recordRuntime(['realNode', 'defaultChart', 'memory'], m);
    for (const c of COMPONENTS) expect(m[c]).toBeDefined();
    const over = Object.entries(m).filter(([, v]) => v.maxUsageMiB > 0.8 * v.limitMiB).map(([k, v]) => `${k}: ${v.maxUsageMiB}/${v.limitMiB} MiB`);
    expect(over).toEqual([]);
    const oom = pods().flatMap((p) => (p.status.containerStatuses ?? []).filter((cs: any) => cs.lastState?.terminated?.reason === 'OOMKilled').map((cs: any) => `${p.metadata.name}/${cs.name}`));
    expect(oom).toEqual([]);
  });
});
