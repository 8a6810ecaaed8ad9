// What the real-node suites share (issue #27, docs/runtime-tests.md "The real node"): the machine's /data that
// the chart's hostPath volumes name (as on minikube's node), applying and deleting a chart's YAML as a user does,
// kubectl into the pods, a DAG run triggered in the scheduler, and each running container's memory from its
// cgroup. Only for AIRFLOW_CDK8S_RUNTIME_NODE=real (`npm run test:runtime:real`).
import * as fs from 'fs';
import * as path from 'path';
import { defaultHostRoot } from '../../../lib/core';
import { deleteNamespace, kubectl, kubectlJson, kubectlOk, waitFor } from '../../live/support/cluster';
import { parseAllDocuments } from 'yaml';
import { recordRuntime } from './results';

export const REAL_NODE = process.env.AIRFLOW_CDK8S_RUNTIME_NODE === 'real';
/**
 * The namespace of the helpers below unless they are given another: the benches' and AirflowChart's default. A suite
 * that may run beside another (two files at once on the real node, on the machine's /data) deploys into a namespace of
 * its own and passes it to each helper.
 */
export const NS = 'airflow';
export const DATA = '/data';
const MARKER = path.join(DATA, '.airflow-cdk8s-real-node');
/** The real node's pods' cgroups (memory hierarchy; scripts/runtime/real-node.sh's cgroup root, /<its network namespace>). */
const CGROUP_KUBEPODS = `/sys/fs/cgroup/memory/${process.env.AIRFLOW_CDK8S_NODE_NETNS ?? 'acdk8s-realnode'}/kubepods`;

/** The objects of `yaml` (a file, or a folder such as dist/ whose *.yaml files it reads). */
export function chartObjects(yaml: string): any[] {
  const files = fs.statSync(yaml).isDirectory() ? fs.readdirSync(yaml).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(yaml, f)) : [yaml];
  return files.flatMap((f) => parseAllDocuments(fs.readFileSync(f, 'utf8')).map((d) => d.toJSON())).filter((o) => o?.kind);
}

/**
 * The host folder of the chart's hostPath volumes in namespace `ns`: AirflowChart's default hostRoot ("/data" in
 * namespace "airflow", "/data/<namespace>" in any other).
 */
export function hostRoot(ns = NS): string {
  return defaultHostRoot(ns);
}

/**
 * Deletes what `yaml` (a file or a folder such as dist/) created in namespace `ns`, as fast as the chain's
 * teardown: the namespace as test/live/support/cluster.ts deleteNamespace does it (the pods force-deleted, so the
 * real kubelet kills their containers after its 2 s minimum instead of each pod's terminationGracePeriodSeconds: this
 * is a test's teardown, not a check of the chart's shutdown), then the cluster-scoped objects of `yaml` (the
 * PersistentVolumes), waiting until the namespace and `yaml`'s own PersistentVolumes are gone (another test file's
 * chart may run beside this one: jest's two workers) and until the node has no cgroup left of those pods (their
 * containers really ended, so nothing writes to /data any more), in short kubectl calls.
 */
export async function deleteChart(yaml: string, ns = NS): Promise<void> {
  const uids: string[] = kubectl(['get', 'namespace', ns]).code === 0 ? pods(ns).map((p) => p.metadata.uid) : [];
  const pvs = fs.existsSync(yaml) ? chartObjects(yaml).filter((o) => o.kind === 'PersistentVolume').map((o) => o.metadata.name) : [];
  await deleteNamespace(ns);
  kubectl(['delete', '-f', yaml, '--ignore-not-found', '--wait=false']);
  await waitFor(
    `the namespace and the PersistentVolumes of ${yaml} to be gone`,
    300_000,
    () => kubectl(['get', 'namespace', ns]).code !== 0 && !kubectl(['get', 'pv', '-o', 'name']).stdout.split('\n').some((l) => pvs.includes(l.replace(/^persistentvolume\//, '').trim())),
    () => kubectl(['get', 'namespace,pv']).stdout,
    250,
  );
  await waitFor(`the containers of the ${uids.length} pods of ${ns} to end on the node`, 120_000, () => podCgroups(uids).length === 0, () => podCgroups(uids).join('\n'), 250);
}

/** The real node's pod cgroups (memory hierarchy) left of the pods `uids`. */
function podCgroups(uids: readonly string[]): string[] {
  if (!REAL_NODE || uids.length === 0) return [];
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 2 || !fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      if (uids.some((u) => e.name === `pod${u}`)) found.push(path.join(dir, e.name));
      else if (!e.name.startsWith('pod')) walk(path.join(dir, e.name), depth + 1);
    }
  };
  walk(CGROUP_KUBEPODS, 0);
  return found;
}

/**
 * The machine's /data as the README prepares it (`minikube mount --uid 50000 --gid 0`): dags (with the repository's
 * DAGs), logs and data owned by 50000:0, each made afresh, under the chart's host folder in namespace `ns` (hostRoot).
 * Refuses a /data it did not create.
 */
export function prepareData(dagsDir: string, ns = NS): void {
  claimData();
  const root = hostRoot(ns);
  for (const dir of ['dags', 'logs', 'data']) {
    removeHostFolders([path.join(root, dir)]);
    fs.mkdirSync(path.join(root, dir), { recursive: true });
    fs.chownSync(path.join(root, dir), 50000, 0);
    fs.chmodSync(path.join(root, dir), 0o775);
  }
  for (const f of fs.readdirSync(dagsDir).filter((x) => x.endsWith('.py'))) {
    fs.copyFileSync(path.join(dagsDir, f), path.join(root, 'dags', f));
    fs.chownSync(path.join(root, 'dags', f), 50000, 0);
  }
}

/**
 * The machine's /data for this run: made, with this harness's marker, when missing; a /data without the marker is
 * not this harness's and is refused. Never emptied here: two test files can run side by side on it (jest's two workers,
 * docs/runtime-tests.md "Two files at once"), each in a namespace of its own with host folders of its own, which it
 * removes itself (removeHostFolders); scripts/test-runtime.sh removes a marked /data before and after the run.
 */
export function claimData(): void {
  if (fs.existsSync(DATA) && !fs.existsSync(MARKER)) throw new Error(`${DATA} exists and is not this test's (no ${MARKER}): not touching it`);
  fs.mkdirSync(DATA, { recursive: true });
  fs.writeFileSync(MARKER, '');
}

/** The host folders of the hostPath PersistentVolumes among `objects` (a chart's), as the node sees them. */
export function hostFoldersOf(objects: any[]): string[] {
  return objects.filter((o) => o.kind === 'PersistentVolume' && o.spec?.hostPath?.path).map((o) => path.join('/', o.spec.hostPath.path));
}

/**
 * Removes `folders`, each inside the marked /data (a test file's own: its chart's volumes), never /data itself nor
 * anything outside it; nothing without the marker (a /data that is not this harness's).
 */
export function removeHostFolders(folders: readonly string[]): void {
  if (!fs.existsSync(MARKER)) return;
  for (const f of folders) {
    const rel = path.relative(DATA, path.resolve(f));
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`${f} is not a folder inside ${DATA}: not removing it`);
    fs.rmSync(f, { recursive: true, force: true });
  }
}

export function pods(ns = NS): any[] {
  return kubectlJson(['-n', ns, 'get', 'pods', '-o', 'json']).items;
}

export function podSummary(ns = NS): string {
  return kubectl(['-n', ns, 'get', 'pods', '-o', 'wide']).stdout + kubectl(['-n', ns, 'get', 'events', '--sort-by=.lastTimestamp']).stdout.split('\n').filter((l) => !/Normal/.test(l)).slice(-15).join('\n');
}

/** Whether a pod of `component` (app.kubernetes.io/component) is Ready. */
export function componentReady(component: string, ns = NS): boolean {
  return pods(ns).some((p) => p.metadata.labels?.['app.kubernetes.io/component'] === component && p.status.conditions?.find((x: any) => x.type === 'Ready')?.status === 'True');
}

export function componentPod(component: string, ns = NS): string {
  return kubectlOk(['-n', ns, 'get', 'pods', '-l', `app.kubernetes.io/component=${component}`, '-o', 'jsonpath={.items[0].metadata.name}']).trim();
}

export function inScheduler(cmd: string, ns = NS): string {
  return kubectlOk(['-n', ns, 'exec', componentPod('scheduler', ns), '-c', 'scheduler', '--', 'bash', '-c', cmd]);
}

/** Waits until the scheduler's Airflow lists `dagId` (the dag-processor parsed it). */
export async function dagParsed(dagId: string, ns = NS): Promise<void> {
  await waitFor(`the DAG ${dagId} parsed`, 300_000, () => new RegExp(dagId).test(kubectl(['-n', ns, 'exec', componentPod('scheduler', ns), '-c', 'scheduler', '--', 'airflow', 'dags', 'list', '-o', 'plain']).stdout), () => podSummary(ns), 5000);
}

/** Unpauses and triggers `dagId` in the scheduler (`airflow dags trigger`), waits for the run's end: its id and state. */
export async function triggerAndWait(dagId: string, timeoutMs = 600_000, ns = NS): Promise<{ run: string; state: string; seconds: number }> {
  inScheduler(`airflow dags unpause ${dagId} >/dev/null`, ns);
  const t0 = Date.now();
  const run = /manual__[^\s"|]+/.exec(inScheduler(`airflow dags trigger ${dagId} -o json`, ns))?.[0];
  if (run === undefined) throw new Error(`airflow dags trigger ${dagId} named no run`);
  let state = '';
  await waitFor(
    `run ${run} of ${dagId} to end`,
    timeoutMs,
    () => {
      const out = inScheduler(`airflow dags list-runs ${dagId} -o json 2>/dev/null`, ns);
      const runs = JSON.parse(out.slice(out.indexOf('[')));
      state = runs.find((r: any) => r.run_id === run)?.state ?? '';
      return state === 'success' || state === 'failed';
    },
    () => podSummary(ns),
    5000,
  );
  return { run, state, seconds: Math.round((Date.now() - t0) / 1000) };
}

export interface ContainerMemory {
  readonly limitMiB: number;
  readonly maxUsageMiB: number;
  readonly rssMiB: number;
  readonly failcnt: number;
  readonly restarts: number;
}

/** Memory of every running container from its cgroup (memory.max_usage_in_bytes includes the page cache). */
export function cgroupMemory(ns = NS): Record<string, ContainerMemory> {
  const out: Record<string, ContainerMemory> = {};
  const base = CGROUP_KUBEPODS;
  const dirs: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 3 || !fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) { dirs.push(path.join(dir, e.name)); walk(path.join(dir, e.name), depth + 1); }
  };
  walk(base, 0);
  for (const p of pods(ns)) {
    for (const cs of p.status.containerStatuses ?? []) {
      if (!cs.state.running) continue;
      const id = (cs.containerID ?? '').split('//').pop();
      const dir = dirs.find((x) => x.endsWith(`/pod${p.metadata.uid}/${id}`));
      if (!dir) continue;
      const read = (f: string) => Number(fs.readFileSync(path.join(dir, f), 'utf8').trim());
      // MiB by division, not `>> 20`: a shift works on 32-bit signed integers, so a 2Gi limit came out as -2048.
      const mib = (bytes: number) => Math.floor(bytes / 2 ** 20);
      const rss = Number(/^total_rss (\d+)$/m.exec(fs.readFileSync(path.join(dir, 'memory.stat'), 'utf8'))![1]);
      const component = p.metadata.labels?.['app.kubernetes.io/component'] ?? p.metadata.name;
      out[component === cs.name ? component : `${component}:${cs.name}`] = {
        limitMiB: mib(read('memory.limit_in_bytes')),
        maxUsageMiB: mib(read('memory.max_usage_in_bytes')),
        rssMiB: mib(rss),
        failcnt: read('memory.failcnt'),
        restarts: cs.restartCount,
      };
    }
  }
  return out;
}

/** The memory table printed by the suites, and the containers over 80% of their limit and those OOM-killed. */
export function memoryReport(title: string, m: Record<string, ContainerMemory>, ns = NS): { over: string[]; oomKilled: string[] } {
  console.log(`${title}\n${Object.entries(m).map(([k, v]) => `${k.padEnd(28)} limit ${String(v.limitMiB).padStart(5)} MiB  largest ${String(v.maxUsageMiB).padStart(5)} MiB (${Math.round((100 * v.maxUsageMiB) / v.limitMiB)}%)  rss ${v.rssMiB} MiB  failcnt ${v.failcnt}  restarts ${v.restarts}`).join('\n')}`);
  const over = Object.entries(m).filter(([, v]) => v.maxUsageMiB > 0.8 * v.limitMiB).map(([k, v]) => `${k}: ${v.maxUsageMiB}/${v.limitMiB} MiB`);
  const oomKilled = pods(ns).flatMap((p) => (p.status.containerStatuses ?? []).filter((cs: any) => cs.lastState?.terminated?.reason === 'OOMKilled').map((cs: any) => `${p.metadata.name}/${cs.name}`));
  return { over, oomKilled };
}

/**
 * What every real-node chart file tracks: the seconds from the file's start at each step (`mark`), and whether its
 * chart was applied, so that the waits after a failed apply fail at once rather than for 15 minutes each.
 */
export function chartProgress(what: string): { timings: Record<string, number>; mark: (step: string) => void; setApplied: () => void; needApplied: () => void } {
  const started = Date.now();
  const timings: Record<string, number> = {};
  let applied = false;
  return {
    timings,
    mark: (step) => {
      timings[step] = Math.round((Date.now() - started) / 1000);
    },
    setApplied: () => {
      applied = true;
    },
    needApplied: () => {
      if (!applied) throw new Error(`${what} was not applied (see the first test)`);
    },
  };
}

/** Waits until every Job of the namespace `ns` (at least `min`, all made by the apply) has succeeded. */
export async function jobsComplete(min: number, ns = NS): Promise<void> {
  const jobs = kubectlJson(['-n', ns, 'get', 'jobs', '-o', 'json']).items.map((j: any) => j.metadata.name);
  if (jobs.length < min) throw new Error(`${jobs.length} Jobs after the apply (${jobs.join(', ')}), expected at least ${min}`);
  await waitFor('every Job to complete', 900_000, () => kubectlJson(['-n', ns, 'get', 'jobs', '-o', 'json']).items.every((j: any) => (j.status.succeeded ?? 0) >= 1), () => podSummary(ns), 3000);
}

/** Waits until every component of `components` in namespace `ns` is Ready; then none of their containers may have restarted. */
export async function readyWithoutRestart(what: string, components: readonly string[], ns = NS): Promise<void> {
  await waitFor(what, 900_000, () => components.every((c) => componentReady(c, ns)), () => podSummary(ns), 3000);
  for (const p of pods(ns).filter((x) => components.includes(x.metadata.labels?.['app.kubernetes.io/component']))) {
    for (const cs of p.status.containerStatuses) {
      if (cs.restartCount !== 0) throw new Error(`${p.metadata.name}/${cs.name} restarted ${cs.restartCount} times`);
    }
  }
}

/** afterAll of a chart file: records its timings, then deletes the chart (in namespace `ns`) and its volumes' host folders (unless kept). */
export async function removeChart(yaml: string, timingsKey: string[], timings: Record<string, number>, ns = NS): Promise<void> {
  recordRuntime(timingsKey, timings);
  if (process.env.AIRFLOW_CDK8S_RUNTIME_KEEP === '1') return;
  const t0 = Date.now();
  const folders = fs.existsSync(yaml) ? hostFoldersOf(chartObjects(yaml)) : [];
  try {
    await deleteChart(yaml, ns);
  } finally {
    removeHostFolders(folders);
    console.log(`RUNTIME [real node]: teardown of ${path.basename(yaml)}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}
