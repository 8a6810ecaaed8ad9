// What the real-node benchmarks share (test/runtime/real-node-task-cpu.bench.ts, the real-node half of
// test/runtime/executor-tradeoff.bench.ts; docs/benchmark.md): the machine's CPU, the pods' cgroups (v1, the
// kubelet's cgroupfs driver under --cgroup-root, scripts/runtime/real-node.sh), a watch on the task pods stamped by
// the machine's clock, the metadata database's rows (psql in the Postgres pod), the node's own processes' CPU
// (kubelet, containerd and its shims, kube-proxy: /proc), containerd's events (sandbox and container start, to the
// nanosecond), and the REST API called from the node's network namespace (a trigger stamped just before the call).
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { KUBECTL, REPO_ROOT, kubectl, kubectlJson, kubectlOk } from '../../live/support/cluster';
import { DATA, NS, componentPod } from './real-node';

export const CGROUP_ROOT = `/${process.env.AIRFLOW_CDK8S_NODE_NETNS ?? 'acdk8s-realnode'}`;
export const NODE_STATE = process.env.AIRFLOW_CDK8S_NODE_STATE ?? `${process.env.AIRFLOW_CDK8S_STATE ?? '/tmp/airflow-cdk8s-k8s'}-node`;
const REAL_NODE_SH = path.join(REPO_ROOT, 'scripts', 'runtime', 'real-node.sh');

// ------------------------------------------------------------------------------------------------ the machine

/** /proc/stat's busy and total jiffies of the whole machine. */
export function machineCpu(): { busy: number; total: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total };
}
export const HZ = 100;
export const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').trim();

/** A pod cgroup's cpuacct.usage (ns), or undefined when the pod has none (any QoS class). */
export function podCpuNs(uid: string): number | undefined {
  for (const qos of ['burstable/', 'besteffort/', '']) {
    const f = `/sys/fs/cgroup/cpuacct${CGROUP_ROOT}/kubepods/${qos}pod${uid}/cpuacct.usage`;
    if (fs.existsSync(f)) return Number(fs.readFileSync(f, 'utf8').trim());
  }
  return undefined;
}
export const kubepodsCpuNs = () => Number(fs.readFileSync(`/sys/fs/cgroup/cpuacct${CGROUP_ROOT}/kubepods/cpuacct.usage`, 'utf8').trim());

// ------------------------------------------------------------------------------------------------ the task pods

/** What a watch on the API server saw of one task pod; times are the machine's clock (ms) when each line came. */
export interface TaskPod {
  name: string;
  uid?: string;
  dagId?: string;
  taskId?: string;
  runId?: string;
  containerId?: string;
  cpuRequest?: string;
  created?: number;
  bound?: number;
  running?: number;
  succeeded?: number;
  deleted?: number;
  phase?: string;
  exitCode?: number;
  /** The API server's own times (RFC 3339, whole seconds): creationTimestamp, PodScheduled, the container's startedAt. */
  api?: { creationTimestamp?: string; podScheduled?: string; startedAt?: string };
}


/** Ends a watch started detached (its own process group): the whole group, the shell, kubectl and the loop. */
function stopGroup(proc: { pid?: number } | undefined): void {
  if (!proc?.pid) return;
  try {
    process.kill(-proc.pid, 'SIGTERM');
  } catch {
    /* gone already */
  }
}
/**
 * `kubectl get pods -w` on the task pods (label kubernetes_executor=True), each line stamped by `date` in a shell
 * loop as it arrives (jest's own event loop is blocked by the synchronous kubectl calls, so it would stamp late).
 */
export class TaskPodWatch {
  private proc: ChildProcess | undefined;
  private readonly file: string;

  /** `dir`: where the stamped lines go (watch.txt). */
  constructor(dir: string) {
    this.file = path.join(dir, 'watch.txt');
  }

  start(): void {
    const jsonpath = [
      '{.type}', '{.object.metadata.name}', '{.object.metadata.uid}', '{.object.spec.nodeName}', '{.object.status.phase}',
      '{.object.metadata.labels.dag_id}', '{.object.metadata.labels.task_id}', '{.object.metadata.annotations.run_id}',
      '{.object.status.containerStatuses[0].containerID}', '{.object.spec.containers[0].resources.requests.cpu}',
      '{.object.status.containerStatuses[0].state.terminated.exitCode}',
      // the API server's own times, whole seconds (1.20)
      '{.object.metadata.creationTimestamp}', '{.object.status.conditions[?(@.type=="PodScheduled")].lastTransitionTime}',
      '{.object.status.containerStatuses[0].state.running.startedAt}{.object.status.containerStatuses[0].state.terminated.startedAt}',
    ].join('|');
    const kc = [KUBECTL, 'get', 'pods', '-n', NS, '-l', 'kubernetes_executor=True', '-w', '--output-watch-events', '-o', `jsonpath=${jsonpath}{"\\n"}`]
      .map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    this.proc = spawn('bash', ['-c', `${kc} | while IFS= read -r l; do printf '%s|%s\\n' "$(date +%s%3N)" "$l"; done >'${this.file}'`], { stdio: 'ignore', detached: true });
  }

  pods(): Map<string, TaskPod> {
    const out = new Map<string, TaskPod>();
    if (!fs.existsSync(this.file)) return out;
    for (const line of fs.readFileSync(this.file, 'utf8').split('\n')) {
      const [t, type, name, uid, node, phase, dagId, taskId, runId, containerId, cpu, exitCode, creationTimestamp, podScheduled, startedAt] = line.trim().split('|');
      if (!name) continue;
      const at = Number(t);
      const p = out.get(name) ?? { name };
      out.set(name, p);
      p.uid ||= uid || undefined;
      p.dagId ||= dagId || undefined;
      p.taskId ||= taskId || undefined;
      p.runId ||= runId || undefined;
      p.containerId ||= containerId?.split('//').pop() || undefined;
      p.cpuRequest ||= cpu || undefined;
      if (type === 'ADDED') p.created ??= at;
      if (node) p.bound ??= at;
      if (phase === 'Running') p.running ??= at;
      if (phase === 'Succeeded' || phase === 'Failed') p.succeeded ??= at;
      if (type === 'DELETED') p.deleted ??= at;
      if (phase) p.phase = phase;
      if (exitCode) p.exitCode = Number(exitCode);
      p.api ??= {};
      p.api.creationTimestamp ||= creationTimestamp || undefined;
      p.api.podScheduled ||= podScheduled || undefined;
      p.api.startedAt ||= startedAt || undefined;
    }
    return out;
  }

  stop(): void {
    stopGroup(this.proc);
  }
}

// ------------------------------------------------------------------------------------------------ Airflow's side

let dbPod = '';
/** Forget the Postgres pod {@link sql} found (after the chart was deleted and applied again). */
export function forgetDbPod(): void {
  dbPod = '';
}

/** Rows of `query` from the metadata database (psql in the Postgres pod, its own user and password). */
export function sql(query: string): string[][] {
  dbPod ||= componentPod('metadata-db');
  const out = kubectlOk(['-n', NS, 'exec', dbPod, '-c', 'postgres', '--', 'bash', '-c', 'for b in /usr/lib/postgresql/*/bin; do PATH="$b:$PATH"; done; PGPASSWORD="$POSTGRES_PASSWORD" psql -X -q -U "$POSTGRES_USER" -d "$POSTGRES_DB" -At -F "|" -c "$1"', '_', query]);
  return out.split('\n').filter((l) => l.trim()).map((l) => l.split('|'));
}
export const ms = (x: string | undefined) => (x ? Number(x) : undefined);
export const epochMs = (col: string) => `extract(epoch from ${col})*1000`;
export const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

export interface DagRun { state: string; queuedAt?: number; start?: number; end?: number }
export function dagRun(dagId: string, runId: string): DagRun {
  const [r] = sql(`select state, ${epochMs('queued_at')}, ${epochMs('start_date')}, ${epochMs('end_date')} from dag_run where dag_id = ${quote(dagId)} and run_id = ${quote(runId)}`);
  return r ? { state: r[0], queuedAt: ms(r[1]), start: ms(r[2]), end: ms(r[3]) } : { state: '' };
}

export interface TaskInstance { taskId: string; state: string; hostname: string; scheduled?: number; queued?: number; start?: number; end?: number; tryNumber: number }
export function taskInstances(dagId: string, runId: string): TaskInstance[] {
  return sql(
    `select task_id, state, hostname, ${epochMs('scheduled_dttm')}, ${epochMs('queued_dttm')}, ${epochMs('start_date')}, ${epochMs('end_date')}, try_number ` +
      `from task_instance where dag_id = ${quote(dagId)} and run_id = ${quote(runId)} order by task_id`,
  ).map((r) => ({ taskId: r[0], state: r[1], hostname: r[2], scheduled: ms(r[3]), queued: ms(r[4]), start: ms(r[5]), end: ms(r[6]), tryNumber: Number(r[7]) }));
}

/**
 * The end of a task's log from the logs volume (the node's /data/logs, the chart's hostPath), every attempt, and the
 * scheduler's log lines that name the task: why it failed.
 */
export function taskLog(dagId: string, runId: string, taskId: string): string {
  const dir = path.join(DATA, 'logs', `dag_id=${dagId}`, `run_id=${runId}`, `task_id=${taskId}`);
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => path.join(dir, f)) : [];
  const tail = (text: string, n: number) => text.split('\n').slice(-n).join('\n');
  const logs = files.map((f) => `--- ${path.basename(f)}\n${tail(fs.readFileSync(f, 'utf8'), 40)}`).join('\n');
  const scheduler = kubectl(['-n', NS, 'logs', componentPod('scheduler'), '-c', 'scheduler', '--since=5m']).stdout
    .split('\n').filter((l) => l.includes(taskId) && l.includes(dagId)).slice(-15).join('\n');
  return `${logs || `no log under ${dir}`}\n--- the scheduler's lines on it\n${scheduler}`;
}

/**
 * One call of Airflow's REST API as the admin (the password from the Secret airflow-secrets), made by
 * support/airflow-rest.py in the node's network namespace against the api-server pod's IP: `t` is the machine's
 * clock (ms) just before the call (after the login), so a trigger's time is not the kubectl round trips'.
 */
export function airflowRest(method: string, apiPath: string, body?: unknown): { t: number; status: number; body: any } {
  const pod = kubectlJson(['-n', NS, 'get', 'pods', '-l', 'app.kubernetes.io/component=api-server', '-o', 'json']).items.find((p: any) => p.status.podIP && p.status.phase === 'Running');
  if (!pod) throw new Error('no running api-server pod');
  const port = pod.spec.containers.find((c: any) => c.name === 'api-server')?.ports?.[0]?.containerPort ?? 8080;
  const password = Buffer.from(kubectlOk(['-n', NS, 'get', 'secret', 'airflow-secrets', '-o', 'jsonpath={.data.admin-password}']).trim(), 'base64').toString();
  const args = ['exec', 'python3', path.join(__dirname, 'airflow-rest.py'), `http://${pod.status.podIP}:${port}`, 'admin', method, apiPath, ...(body === undefined ? [] : [JSON.stringify(body)])];
  const r = spawnSync('bash', [REAL_NODE_SH, ...args], { input: password, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`airflow-rest.py ${method} ${apiPath} exited ${r.status}: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  if (out.status < 200 || out.status >= 300) throw new Error(`${method} /api/v2${apiPath}: HTTP ${out.status} ${JSON.stringify(out.body).slice(0, 500)}`);
  return out;
}

// ------------------------------------------------------------------------------------------------ the node's processes

const CLK_TCK = 100;

/** utime + stime of one process, in seconds (undefined once it is gone). */
function procCpu(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** The node's own processes by role: the pids real-node.sh recorded, and the containerd shims of its socket. */
function nodeProcesses(): Map<number, string> {
  const out = new Map<number, string>();
  for (const role of ['kubelet', 'containerd', 'kube-proxy']) {
    const f = path.join(NODE_STATE, 'pids', `${role}.pid`);
    if (fs.existsSync(f)) out.set(Number(fs.readFileSync(f, 'utf8').trim()), role);
  }
  const sock = `${NODE_STATE}/containerd.sock`;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim() !== 'containerd-shim') continue;
      if (fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').includes(sock)) out.set(Number(d), 'containerd-shim');
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * The CPU seconds of the node's own processes (kubelet, containerd, the containerd shims, kube-proxy: utime +
 * stime from /proc, their own, not the containers'), sampled every second so that a shim that exits within a window
 * still counts up to its last sample.
 */
export class NodeCpu {
  private timer: NodeJS.Timeout | undefined;
  private last = new Map<number, { role: string; cpu: number }>();

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The latest CPU seconds of every process seen so far (pid -> role, seconds). */
  snapshot(): Map<number, { role: string; cpu: number }> {
    this.sample();
    return new Map([...this.last].map(([pid, v]) => [pid, { ...v }]));
  }

  /** CPU seconds per role between two snapshots (a process that appeared in between counts from 0). */
  static delta(before: Map<number, { role: string; cpu: number }>, after: Map<number, { role: string; cpu: number }>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [pid, v] of after) out[v.role] = (out[v.role] ?? 0) + v.cpu - (before.get(pid)?.cpu ?? 0);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Math.round(v * 100) / 100]));
  }

  private sample(): void {
    for (const [pid, role] of nodeProcesses()) {
      const cpu = procCpu(pid);
      if (cpu !== undefined) this.last.set(pid, { role, cpu });
    }
  }
}

// ------------------------------------------------------------------------------------------------ containerd's events

/** One event of `ctr events` (namespace k8s.io): the time to the nanosecond as ms, its topic and its fields. */
export interface ContainerdEvent {
  t: number;
  topic: string;
  containerId?: string;
  image?: string;
  exitStatus?: number;
}

/**
 * `ctr events` on the node's containerd, stamped by containerd itself (to the nanosecond): /containers/create (with
 * the image, so a sandbox shows as the pause image), /tasks/create, /tasks/start, /tasks/exit of every container.
 */
export class ContainerdEvents {
  private proc: ChildProcess | undefined;
  private readonly file: string;

  constructor(dir: string) {
    this.file = path.join(dir, 'ctr-events.txt');
  }

  start(): void {
    this.proc = spawn('bash', [REAL_NODE_SH, 'exec', 'ctr', '--address', `${NODE_STATE}/containerd.sock`, 'events'], { stdio: ['ignore', fs.openSync(this.file, 'w'), 'ignore'], detached: true });
  }

  events(): ContainerdEvent[] {
    if (!fs.existsSync(this.file)) return [];
    const out: ContainerdEvent[] = [];
    for (const line of fs.readFileSync(this.file, 'utf8').split('\n')) {
      // 2026-12-05 12:00:00.123456789 +0000 UTC k8s.io /tasks/start {"container_id":"...","pid":1}
      const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)? ([+-]\d\d)(\d\d) \S+ (\S+) (\/\S+) (.*)$/.exec(line.trim());
      if (!m || m[6] !== 'k8s.io') continue;
      const t = Date.parse(`${m[1]}T${m[2]}${m[4]}:${m[5]}`) + (m[3] ? Number(m[3]) * 1000 : 0);
      let f: any = {};
      try {
        f = JSON.parse(m[8]);
      } catch {
        // not JSON
      }
      out.push({ t, topic: m[7], containerId: f.container_id ?? f.id, image: f.image, exitStatus: f.exit_status });
    }
    return out;
  }

  stop(): void {
    stopGroup(this.proc);
  }
}
