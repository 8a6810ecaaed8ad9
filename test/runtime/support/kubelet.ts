// The runtime tests' node: a Node object the real kube-scheduler binds pods to, and scripts/runtime/kubelet.py,
// which runs the pods bound to it from what the API server holds (docs/runtime-tests.md). One Kubelet per test
// file, with its own state directory (its node's host paths, the pods' logs, what each container ran).
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { controlPlaneScript, kubectl, REPO_ROOT, waitFor } from '../../live/support/cluster';

export const KUBELET_SCRIPT = path.join(REPO_ROOT, 'scripts', 'runtime', 'kubelet.py');
/** The host's Python (the kubelet uses the standard library only); scripts/test-runtime.sh installs it. */
export const HOST_PYTHON = process.env.AIRFLOW_CDK8S_RUNTIME_PYTHON ?? '/usr/bin/python3';

/** Where the runtime stage keeps its state (scripts/test-runtime.sh sets it; one directory per test file below). */
export const STATE_ROOT = process.env.AIRFLOW_CDK8S_RUNTIME_STATE ?? '/tmp/airflow-cdk8s-runtime';

/** The Airflow minor version (`3.2`) of an `apache/airflow:3.2.2[-python3.12]` image; undefined for other images. */
export function airflowMinorOf(image: string | undefined): string | undefined {
  return /^(?:docker\.io\/)?apache\/airflow:(\d+\.\d+)\.\d+/.exec(image ?? '')?.[1];
}

/**
 * The trixie root (scripts/runtime/build-root.sh) that serves `image`, as scripts/test-runtime.sh found or built it:
 * the root of the image's Airflow minor version (AIRFLOW_CDK8S_RUNTIME_ROOT_3_1, AIRFLOW_CDK8S_RUNTIME_ROOT_3_2), else
 * AIRFLOW_CDK8S_RUNTIME_ROOT, else the path build-root.sh gives for that minor version.
 */
export function runtimeRoot(image?: string): string {
  const minor = airflowMinorOf(image);
  const byMinor = minor ? process.env[`AIRFLOW_CDK8S_RUNTIME_ROOT_${minor.replace('.', '_')}`] : undefined;
  if (byMinor) return byMinor;
  if (!minor && process.env.AIRFLOW_CDK8S_RUNTIME_ROOT) return process.env.AIRFLOW_CDK8S_RUNTIME_ROOT;
  const r = spawnSync('bash', [path.join(REPO_ROOT, 'scripts', 'runtime', 'build-root.sh'), '--path'], {
    encoding: 'utf8',
    env: { ...process.env, ...(minor ? { AIRFLOW_CDK8S_RUNTIME_AIRFLOW: minor } : {}) },
  });
  return r.stdout.trim();
}

/** What a root says it holds (its .airflow-cdk8s-root: suite, python, airflow, postgres). */
export function rootInfo(root: string): Record<string, string> {
  const f = path.join(root, '.airflow-cdk8s-root');
  if (!fs.existsSync(f)) return {};
  return Object.fromEntries(fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** What the kubelet recorded when it started a container (scripts/runtime/kubelet.py, Pod.start_container). */
export interface ContainerRecord {
  readonly namespace: string;
  readonly pod: string;
  readonly podUID: string;
  readonly container: string;
  readonly restart: number;
  readonly init: boolean;
  readonly pid: number;
  readonly image: string;
  readonly entrypointNotRun: string[] | null;
  readonly argv: string[];
  readonly env: Record<string, string>;
  readonly workdir: string;
  /** sourceId: the real node only, device:inode of the source when the container started (a subPath is a bind mount). */
  readonly mounts: { source: string; target: string; readOnly: boolean; sourceId?: string }[];
  readonly hostname: string;
  readonly podIP: string;
  /** The user and group the process ran as. */
  readonly uid: number;
  readonly gid: number;
  readonly groups: number[];
  readonly caps: string[];
  readonly noNewPrivs: boolean;
  readonly readOnlyRootFilesystem: boolean;
  readonly component: string | undefined;
  readonly labels: Record<string, string>;
  readonly startedAt: string;
  readonly resources: any;
}

/** Memory of one running container, summed over its processes (every process in its mount namespace). */
export interface ContainerMemory {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly init: boolean;
  readonly component: string | undefined;
  readonly labels: Record<string, string>;
  readonly restart: number;
  readonly processes: number;
  readonly rssKiB: number;
  readonly pssKiB: number;
  readonly peak: { rssKiB: number; pssKiB: number };
  readonly commands: string[];
  readonly resources: any;
  /** The real node only: the container's memory cgroup (usage and its peak include the page cache). */
  readonly cgroup?: { usageKiB: number; maxUsageKiB: number; limitKiB: number; totalRssKiB: number; failcnt: number };
}

/**
 * What the runtime tests ask of their node: the emulated kubelet ({@link Kubelet}, scripts/runtime/kubelet.py) or
 * the real node (RealKubelet, test/runtime/support/real-kubelet.ts: the kubelet 1.20, containerd and runc of
 * scripts/runtime/real-node.sh). newKubelet (real-kubelet.ts) picks one by AIRFLOW_CDK8S_RUNTIME_NODE.
 */
export interface RuntimeKubelet {
  readonly id: string;
  /** Whether this is the real node (some facts differ: docs/runtime-tests.md "What the real node showed"). */
  readonly real: boolean;
  /** This file's own directory (what the node recorded). */
  readonly state: string;
  /** The root the chart's Airflow image comes from (the emulated kubelet serves it; the real node's image is built from it). */
  readonly root: string;
  hostPath(p: string): string;
  /**
   * The argv this node runs for a container of a pod spec: its command and args; the emulated kubelet runs args
   * without the image's entrypoint (entrypointNotRun), the real node runs the image's ENTRYPOINT before them.
   */
  argvFor(container: any): string[];
  /**
   * Starts this file's node for its chart of `image`; `namespace`: the chart's, whose containers alone the real node's
   * recorder records (a file beside it runs another namespace; the emulated kubelet runs this file's pods only).
   */
  start(image?: string, namespace?: string): Promise<void>;
  stop(): void;
  tail(rel: string, lines?: number): string;
  records(): ContainerRecord[];
  record(ns: string, pod: string, container: string): ContainerRecord | undefined;
  log(ns: string, pod: string, container: string): string | undefined;
  logTail(ns: string, pod: string, container: string, lines?: number): string;
  exec(ns: string, pod: string, container: string, argv: string[], timeoutSeconds?: number): ExecResult;
  memory(): ContainerMemory[];
  peaks(): ContainerMemory[];
  events(podFilter?: RegExp): string;
}

export interface ExecResult {
  readonly code: number;
  readonly output: string;
}

export class Kubelet implements RuntimeKubelet {
  public readonly real = false;
  public readonly state: string;
  private proc: ChildProcess | undefined;
  /** The root the kubelet serves the images from (set by {@link start}: the root of the chart's Airflow version). */
  public root = '';

  constructor(public readonly id: string, public readonly node = 'airflow-cdk8s-runtime-node') {
    this.state = path.join(STATE_ROOT, id);
  }

  /** The directory that stands for the node's `path` (hostPath volumes, PersistentVolumes' hostPath). */
  hostPath(p: string): string {
    return path.join(this.state, 'node', p);
  }

  argvFor(container: any): string[] {
    return [...(container.command ?? []), ...(container.args ?? [])];
  }

  /**
   * Starts the kubelet on a fresh state directory and registers its Node (2 CPUs / 4Gi, like minikube's default,
   * unless AIRFLOW_CDK8S_RUNTIME_NODE_CPU/_MEMORY say otherwise).
   */
  async start(image?: string): Promise<void> {
    this.root = runtimeRoot(image);
    if (!fs.existsSync(path.join(this.root, '.airflow-cdk8s-root'))) {
      throw new Error(`no runtime root for ${image ?? 'the default image'} at ${this.root}: scripts/test-runtime.sh builds it ` +
        `(for Airflow 3.2 from the bundle scripts/runtime/make-bundle-3.2.sh makes, docs/runtime-tests.md)`);
    }
    this.stopSync(); // leftovers of a crashed run of the same file
    fs.rmSync(this.state, { recursive: true, force: true });
    fs.mkdirSync(this.state, { recursive: true, mode: 0o700 });
    const log = fs.openSync(path.join(this.state, 'kubelet.log'), 'a');
    this.proc = spawn(
      HOST_PYTHON,
      [KUBELET_SCRIPT, 'run', '--state', this.state, '--root', this.root, '--node', this.node],
      { stdio: ['ignore', log, log], detached: true, env: process.env },
    );
    fs.closeSync(log);
    this.proc.unref(); // the kubelet outlives nothing: stop() ends it, scripts/test-runtime.sh cleans up after a crash
    await waitFor(
      'the runtime kubelet to start (its pod network up, kubelet.pid written)',
      30_000,
      () => fs.existsSync(path.join(this.state, 'kubelet.pid')) && fs.existsSync(path.join(this.state, 'stats.json')),
      () => this.tail('kubelet.log', 30),
      200,
    );
    controlPlaneScript([
      'add-node',
      this.node,
      process.env.AIRFLOW_CDK8S_RUNTIME_NODE_CPU ?? '2',
      process.env.AIRFLOW_CDK8S_RUNTIME_NODE_MEMORY ?? '4Gi',
    ]);
  }

  /** Stops the kubelet: it stops every container (SIGTERM, then SIGKILL) and removes its pod network. */
  stop(): void {
    this.stopSync();
    kubectl(['delete', 'node', this.node, '--ignore-not-found', '--wait=false']);
  }

  private stopSync(): void {
    spawnSync(HOST_PYTHON, [KUBELET_SCRIPT, 'stop', '--state', this.state], { stdio: 'ignore', timeout: 120_000 });
    this.proc = undefined;
  }

  /** The last `lines` lines of a file of the state directory. */
  tail(rel: string, lines = 40): string {
    const f = path.join(this.state, rel);
    if (!fs.existsSync(f)) return `(no ${f})`;
    const all = fs.readFileSync(f, 'utf8').split('\n');
    return all.slice(-lines - 1).join('\n');
  }

  /** Every container the kubelet started (the latest record per pod and container). */
  records(): ContainerRecord[] {
    const base = path.join(this.state, 'pods');
    if (!fs.existsSync(base)) return [];
    const out: ContainerRecord[] = [];
    for (const d of fs.readdirSync(base)) {
      const cdir = path.join(base, d, 'containers');
      if (!fs.existsSync(cdir)) continue;
      for (const f of fs.readdirSync(cdir)) {
        if (!f.endsWith('.json')) continue;
        try {
          out.push(JSON.parse(fs.readFileSync(path.join(cdir, f), 'utf8')));
        } catch {
          // being written: the next call sees it
        }
      }
    }
    return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }

  /** The record of `container` in pod `pod` (namespace `ns`), if the kubelet started it. */
  record(ns: string, pod: string, container: string): ContainerRecord | undefined {
    return this.records().find((r) => r.namespace === ns && r.pod === pod && r.container === container);
  }

  /** The pod directory of a pod (logs/, containers/, volumes/, hosts). */
  podDir(ns: string, pod: string): string | undefined {
    const base = path.join(this.state, 'pods');
    if (!fs.existsSync(base)) return undefined;
    const dirs = fs
      .readdirSync(base)
      .filter((d) => d.startsWith(`${ns}_${pod}_`))
      .map((d) => path.join(base, d));
    return dirs.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  }

  /** The log of a container (its latest restart), or undefined when it never started. */
  log(ns: string, pod: string, container: string): string | undefined {
    const dir = this.podDir(ns, pod);
    if (!dir) return undefined;
    const logs = fs
      .readdirSync(path.join(dir, 'logs'))
      .filter((f) => new RegExp(`^${container}-\\d+\\.log$`).test(f))
      .sort((a, b) => Number(a.match(/-(\d+)\.log$/)![1]) - Number(b.match(/-(\d+)\.log$/)![1]));
    if (logs.length === 0) return undefined;
    return fs.readFileSync(path.join(dir, 'logs', logs[logs.length - 1]), 'utf8');
  }

  /** The last lines of a container's log, for failure messages. */
  logTail(ns: string, pod: string, container: string, lines = 40): string {
    const text = this.log(ns, pod, container);
    if (text === undefined) return `(container ${container} of pod ${ns}/${pod} never started)`;
    return text.split('\n').slice(-lines - 1).join('\n');
  }

  /** Runs argv in a running container (its namespaces, root, user and environment), like `kubectl exec`. */
  exec(ns: string, pod: string, container: string, argv: string[], timeoutSeconds = 300): ExecResult {
    const r = spawnSync(
      HOST_PYTHON,
      [KUBELET_SCRIPT, 'exec', '--state', this.state, '--timeout', String(timeoutSeconds), ns, pod, container, '--', ...argv],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: (timeoutSeconds + 30) * 1000 },
    );
    return { code: r.status ?? -1, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  }

  /** Memory of every running container now (the kubelet samples /proc every second). */
  memory(): ContainerMemory[] {
    const f = path.join(this.state, 'stats.json');
    if (!fs.existsSync(f)) return [];
    try {
      return Object.values(JSON.parse(fs.readFileSync(f, 'utf8')).containers) as ContainerMemory[];
    } catch {
      return [];
    }
  }

  /**
   * The largest memory sample of every container this kubelet ran (finished ones included: Jobs, init containers,
   * task pods), with the processes it had then.
   */
  peaks(): ContainerMemory[] {
    const f = path.join(this.state, 'stats.json');
    if (!fs.existsSync(f)) return [];
    try {
      return Object.values(JSON.parse(fs.readFileSync(f, 'utf8')).peaks ?? {}) as ContainerMemory[];
    } catch {
      return [];
    }
  }

  /** The kubelet's event log (status reports, container starts and exits), for failure messages. */
  events(podFilter?: RegExp): string {
    const f = path.join(this.state, 'events.jsonl');
    if (!fs.existsSync(f)) return '';
    return fs
      .readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => l && (!podFilter || podFilter.test(l)))
      .slice(-40)
      .join('\n');
  }
}
