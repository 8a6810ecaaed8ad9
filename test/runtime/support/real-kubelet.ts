// The runtime tests' node on the real node (issue #27): the interface of the emulated Kubelet (kubelet.ts) with
// every fact taken from the real thing. The pods are run by the kubelet 1.20, containerd and runc that
// scripts/runtime/real-node.sh started for the whole run (scripts/test-runtime.sh, AIRFLOW_CDK8S_RUNTIME_NODE=real);
// each test file starts a recorder (real-node-recorder.py) that reads, for every container runc starts, the OCI spec
// containerd gave runc (args, env, cwd, mounts, read-only root) and the process's actual Uid/Gid/Groups/CapEff/
// NoNewPrivs from /proc, and samples each container's memory (its processes' RSS and PSS, its cgroup's usage and
// limit). Logs come from `kubectl logs` (or /var/log/pods once the pod is gone), exec is `kubectl exec`, events are
// the API server's Events, and a hostPath volume's path is the machine's own path (the real node shares the
// machine's file system, as minikube's node has its own).
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { KUBECTL, kubectl, REPO_ROOT, waitFor } from '../../live/support/cluster';
import { ContainerMemory, ContainerRecord, ExecResult, HOST_PYTHON, Kubelet, RuntimeKubelet, runtimeRoot, STATE_ROOT } from './kubelet';
import { claimData, REAL_NODE } from './real-node';

const RECORDER = path.join(REPO_ROOT, 'test', 'runtime', 'support', 'real-node-recorder.py');
/** The real node's state directory and Node name (scripts/runtime/real-node.sh's defaults). */
export const NODE_STATE = process.env.AIRFLOW_CDK8S_NODE_STATE ?? `${process.env.AIRFLOW_CDK8S_STATE ?? '/tmp/airflow-cdk8s-k8s'}-node`;
export const NODE_NAME = process.env.AIRFLOW_CDK8S_NODE_NAME ?? 'airflow-cdk8s-real-node';
const NETNS = process.env.AIRFLOW_CDK8S_NODE_NETNS ?? 'acdk8s-realnode';
const CGROUP_ROOT = `/${NETNS}`;
const REGISTRY = `http://127.0.0.1:${process.env.AIRFLOW_CDK8S_REGISTRY_PORT ?? '21500'}`;
const imageConfigs = new Map<string, any>();

/** GET from the node's registry (on the node's loopback, scripts/runtime/real-node.sh), as JSON. */
function registryGet(url: string, accept: string): any {
  const r = spawnSync('nsenter', [`--net=/var/run/netns/${NETNS}`, '--', 'curl', '-fsS', '-H', `Accept: ${accept}`, `${REGISTRY}${url}`], { encoding: 'utf8', timeout: 30_000, maxBuffer: 16 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`GET ${REGISTRY}${url} in the node's network namespace: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * The config of `image` (Entrypoint, Cmd, User...) as the node's registry serves it to containerd: the image the
 * real node pulled (docker.io's and registry.k8s.io's names are mirrored there).
 */
export function imageConfig(image: string): any {
  if (imageConfigs.has(image)) return imageConfigs.get(image);
  const ref = image.replace(/^(docker\.io|registry\.k8s\.io)\//, '');
  const at = ref.lastIndexOf(':');
  let repo = at > ref.lastIndexOf('/') ? ref.slice(0, at) : ref;
  const tag = at > ref.lastIndexOf('/') ? ref.slice(at + 1) : 'latest';
  if (!repo.includes('/')) repo = `library/${repo}`;
  const accept = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';
  const manifest = registryGet(`/v2/${repo}/manifests/${tag}`, accept);
  const config = registryGet(`/v2/${repo}/blobs/${manifest.config.digest}`, '*/*').config ?? {};
  imageConfigs.set(image, config);
  return config;
}

/** The emulated kubelet, or the real node when AIRFLOW_CDK8S_RUNTIME_NODE=real. */
export function newKubelet(id: string, options: RealKubeletOptions = {}): RuntimeKubelet {
  return REAL_NODE ? new RealKubelet(id, options) : new Kubelet(id);
}

/** What a test file asks of the real node's recorder besides its records and memory samples. */
export interface RealKubeletOptions {
  /**
   * Record the pods' TCP connections (connections.jsonl, support/connections.ts), as the emulated kubelet always does.
   * Only for a file that reads them: sampling them took most of the recorder's CPU (real-node-recorder.py).
   * @default false
   */
  readonly connections?: boolean;
}

/** What real-node-recorder.py wrote for one container. */
interface RawRecord extends Omit<ContainerRecord, 'restart' | 'startedAt' | 'entrypointNotRun'> {
  readonly id: string;
  readonly seenAt: number;
  readonly running: string[];
}

export class RealKubelet implements RuntimeKubelet {
  public readonly real = true;
  public readonly state: string;
  public root = '';
  private proc: ChildProcess | undefined;

  constructor(public readonly id: string, private readonly options: RealKubeletOptions = {}) {
    this.state = path.join(STATE_ROOT, id);
  }

  /** A hostPath volume's path is the machine's own (the real node's kubelet mounts it from there). */
  hostPath(p: string): string {
    return path.join('/', p);
  }

  /** The image's ENTRYPOINT (unless the container has a command), then the args (or the image's CMD), as the CRI runs them. */
  argvFor(container: any): string[] {
    const config = container.command ? {} : imageConfig(container.image);
    return [...(container.command ?? config.Entrypoint ?? []), ...(container.args ?? (container.command ? [] : config.Cmd ?? []))];
  }

  /**
   * Checks that the real node is Ready, claims the machine's /data (refusing one this harness did not create) and
   * starts the recorder. The node itself runs for the whole stage (scripts/test-runtime.sh), as does /data: each
   * file removes its own host folders (RuntimeChain.tearDown), another may be using others beside it.
   */
  async start(image?: string, namespace?: string): Promise<void> {
    // The root the node's apache/airflow image was built from (scripts/runtime/build-images.sh).
    this.root = runtimeRoot(image);
    const ready = kubectl(['get', 'node', NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
    if (ready.stdout.trim() !== 'True') {
      throw new Error(`the real node ${NODE_NAME} is not Ready (${ready.stdout}${ready.stderr}): scripts/test-runtime.sh starts it when AIRFLOW_CDK8S_RUNTIME_NODE=real`);
    }
    this.stopRecorder();
    fs.rmSync(this.state, { recursive: true, force: true });
    fs.mkdirSync(this.state, { recursive: true, mode: 0o700 });
    claimData();
    const log = fs.openSync(path.join(this.state, 'recorder.log'), 'a');
    this.proc = spawn(HOST_PYTHON, [RECORDER, this.state, NODE_STATE, KUBECTL, CGROUP_ROOT], {
      stdio: ['ignore', log, log],
      detached: true,
      env: { ...process.env, AIRFLOW_CDK8S_RECORDER_NAMESPACES: namespace ?? '', AIRFLOW_CDK8S_RECORDER_CONNECTIONS: this.options.connections ? '1' : '0' },
    });
    fs.closeSync(log);
    fs.writeFileSync(path.join(this.state, 'recorder.pid'), String(this.proc.pid));
    this.proc.unref();
    await waitFor('the real node recorder to start', 30_000, () => fs.existsSync(path.join(this.state, 'stats.json')), () => this.tail('recorder.log'), 200);
  }

  /** Stops the recorder. The node keeps running. */
  stop(): void {
    this.stopRecorder();
  }

  private stopRecorder(): void {
    const f = path.join(this.state, 'recorder.pid');
    if (!fs.existsSync(f)) return;
    const pid = Number(fs.readFileSync(f, 'utf8'));
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
    fs.rmSync(f, { force: true });
    this.proc = undefined;
  }

  tail(rel: string, lines = 40): string {
    const f = path.join(this.state, rel);
    if (!fs.existsSync(f)) return `(no ${f})`;
    return fs.readFileSync(f, 'utf8').split('\n').slice(-lines - 1).join('\n');
  }

  private raw(): RawRecord[] {
    const dir = path.join(this.state, 'records');
    if (!fs.existsSync(dir)) return [];
    const out: RawRecord[] = [];
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.json'))) {
      try {
        out.push(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
      } catch {
        // being replaced: the next call sees it
      }
    }
    return out.sort((a, b) => a.seenAt - b.seenAt);
  }

  /**
   * Every container the real node started (the latest per pod and container; `restart` counts the earlier ones).
   * Two fields differ from the emulated kubelet's: `startedAt` is when the recorder first saw the container's own
   * program running (within 0.2 s of its start), and `entrypointNotRun` is always null: runc runs the image's
   * entrypoint as the OCI spec says (`argv` is that spec's args, the image's ENTRYPOINT included when the
   * container has no `command`).
   */
  records(): ContainerRecord[] {
    const latest = new Map<string, { r: RawRecord; n: number }>();
    for (const r of this.raw()) {
      const k = `${r.namespace}/${r.pod}/${r.container}`;
      latest.set(k, { r, n: (latest.get(k)?.n ?? -1) + 1 });
    }
    return [...latest.values()].map(({ r, n }) => ({
      ...r,
      restart: n,
      entrypointNotRun: null,
      startedAt: new Date(r.seenAt * 1000).toISOString(),
    }));
  }

  record(ns: string, pod: string, container: string): ContainerRecord | undefined {
    return this.records().find((r) => r.namespace === ns && r.pod === pod && r.container === container);
  }

  /** `kubectl logs` of the container; once its pod is gone, the kubelet's file under /var/log/pods (while it lasts). */
  log(ns: string, pod: string, container: string): string | undefined {
    const r = kubectl(['logs', '-n', ns, pod, '-c', container]);
    if (r.code === 0) return r.stdout;
    const dirs = fs.existsSync('/var/log/pods') ? fs.readdirSync('/var/log/pods').filter((d) => d.startsWith(`${ns}_${pod}_`)) : [];
    for (const d of dirs) {
      const cdir = path.join('/var/log/pods', d, container);
      if (!fs.existsSync(cdir)) continue;
      const files = fs.readdirSync(cdir).filter((f) => /^\d+\.log$/.test(f)).sort((a, b) => parseInt(a) - parseInt(b));
      if (files.length === 0) continue;
      // CRI log lines: "<time> <stream> <P|F> <text>"
      return fs.readFileSync(path.join(cdir, files[files.length - 1]), 'utf8').split('\n').map((l) => l.replace(/^\S+ (stdout|stderr) [PF] /, '')).join('\n');
    }
    return undefined;
  }

  logTail(ns: string, pod: string, container: string, lines = 40): string {
    const text = this.log(ns, pod, container);
    if (text === undefined) return `(no log of container ${container} of pod ${ns}/${pod})`;
    return text.split('\n').slice(-lines - 1).join('\n');
  }

  /** `kubectl exec`: the API server, the real kubelet and containerd run argv in the container. */
  exec(ns: string, pod: string, container: string, argv: string[], timeoutSeconds = 300): ExecResult {
    const r = spawnSync(KUBECTL, ['exec', '-n', ns, pod, '-c', container, '--', ...argv], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      timeout: timeoutSeconds * 1000,
    });
    return { code: r.status ?? -1, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  }

  private stats(): any {
    const f = path.join(this.state, 'stats.json');
    try {
      return JSON.parse(fs.readFileSync(f, 'utf8'));
    } catch {
      return {};
    }
  }

  private withRestart(cs: any[]): ContainerMemory[] {
    const byId = new Map(this.raw().map((r) => [r.id, r]));
    const restarts = new Map(this.records().map((r) => [`${r.namespace}/${r.pod}/${r.container}`, r.restart]));
    return cs.map((c) => ({ ...c, restart: restarts.get(`${c.namespace}/${c.pod}/${c.container}`) ?? 0, peak: c.peak ?? { rssKiB: c.rssKiB, pssKiB: c.pssKiB }, labels: c.labels ?? byId.get(c.id)?.labels ?? {} }));
  }

  /** Memory of every running container now: its cgroup's processes (the recorder samples every second). */
  memory(): ContainerMemory[] {
    return this.withRestart(Object.values(this.stats().containers ?? {}));
  }

  /** The largest sample of every container the real node ran while this file's recorder ran. */
  peaks(): ContainerMemory[] {
    return this.withRestart(Object.values(this.stats().peaks ?? {}));
  }

  /** The API server's Events of pods, one JSON line each in the emulated kubelet's form ("pod": "ns/name", "event"). */
  events(podFilter?: RegExp): string {
    const r = kubectl(['get', 'events', '--all-namespaces', '-o', 'json']);
    if (r.code !== 0) return '';
    const items: any[] = JSON.parse(r.stdout).items.filter((e: any) => e.involvedObject?.kind === 'Pod');
    items.sort((a, b) => String(a.lastTimestamp ?? a.eventTime).localeCompare(String(b.lastTimestamp ?? b.eventTime)));
    return items
      .map((e) => `{"time": "${e.lastTimestamp ?? e.eventTime}", "pod": "${e.involvedObject.namespace}/${e.involvedObject.name}", "event": "${e.reason}", "message": ${JSON.stringify(e.message ?? '')}}`)
      .filter((l) => !podFilter || podFilter.test(l))
      .slice(-40)
      .join('\n');
  }
}

