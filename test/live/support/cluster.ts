// Helpers for the live-cluster tests: drive a real Kubernetes API server with kubectl (the one on PATH:
// scripts/test-live.sh puts the cached kubectl 1.20.2 first), synthesize charts in-process, and poll with
// timeouts instead of sleeping.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Testing } from 'cdk8s';
import { stringify } from 'yaml';
import { AirflowChart, AirflowChartProps } from '../../../lib';

/** The repository root. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/** The kubectl binary: $KUBECTL, else `kubectl` from PATH. */
export const KUBECTL = process.env.KUBECTL ?? 'kubectl';

/** The result of one kubectl run. */
export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs kubectl; never throws for a non-zero exit (see {@link kubectlOk}). */
export function kubectl(args: string[], input?: string): KubectlResult {
  const r = spawnSync(KUBECTL, ['--request-timeout=30s', ...args], {
    input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 90_000,
  });
  if (r.error) throw new Error(`kubectl ${args.join(' ')}: ${r.error.message}`);
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Runs kubectl and returns its stdout; throws with its stderr when it fails. */
export function kubectlOk(args: string[], input?: string): string {
  const r = kubectl(args, input);
  if (r.code !== 0) {
    throw new Error(`kubectl ${args.join(' ')} exited ${r.code}\n--- stderr ---\n${r.stderr}\n--- stdout ---\n${r.stdout}`);
  }
  return r.stdout;
}

/** Runs kubectl with `-o json` and parses the answer. */
export function kubectlJson(args: string[], input?: string): any {
  return JSON.parse(kubectlOk([...args, '-o', 'json'], input));
}

/** The object `kind/name` (in `namespace`), or undefined when it does not exist. */
export function getObject(kind: string, name: string, namespace?: string): any | undefined {
  const r = kubectl(['get', kind, name, '-o', 'json', ...(namespace ? ['-n', namespace] : [])]);
  if (r.code === 0) return JSON.parse(r.stdout);
  if (/NotFound|not found/.test(r.stderr)) return undefined;
  throw new Error(`kubectl get ${kind} ${name}: ${r.stderr}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it returns a value other than undefined/false, every `intervalMs`, for at most
 * `timeoutMs`; then throws with `what` and the last value `describe()` gives (for the failure message).
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => T | undefined | false,
  describe: () => string = () => '',
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}\n${describe()}`);
    }
    await sleep(intervalMs);
  }
}

/** The name of the cluster of kubectl's current context. */
export function currentClusterName(): string {
  return kubectlOk(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].name}']).trim();
}

/**
 * Whether kubectl talks to the local kubelet-less control plane of scripts/local-control-plane.sh (its
 * kubeconfig names the cluster `airflow-cdk8s`), rather than to minikube or another real cluster.
 */
export function isLocalControlPlane(): boolean {
  return currentClusterName() === 'airflow-cdk8s';
}

/**
 * Whether the tests may create and delete cluster-wide objects of their own (a default StorageClass,
 * look-alike PersistentVolumes, a Node) and replace an existing `airflow` namespace: always on the local
 * control plane, on any other cluster only with AIRFLOW_CDK8S_LIVE_MUTATE_CLUSTER=1.
 */
export function mayMutateCluster(): boolean {
  return isLocalControlPlane() || process.env.AIRFLOW_CDK8S_LIVE_MUTATE_CLUSTER === '1';
}

/** Synthesizes an AirflowChart (id `airflow`, like main.ts) and returns its objects. */
export function synthAirflow(props: AirflowChartProps = {}): any[] {
  return Testing.synth(new AirflowChart(Testing.app(), 'airflow', props));
}

/** A fresh temporary directory for YAML files. */
export function tempDir(prefix = 'airflow-cdk8s-live-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes objects as one multi-document YAML file and returns its path. */
export function writeYaml(dir: string, file: string, objects: any[]): string {
  const target = path.join(dir, file);
  fs.writeFileSync(target, objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n'));
  return target;
}

/** `kind/name` as kubectl prints it (`deployment.apps/airflow-scheduler`), for an object. */
export function kubectlName(o: any): string {
  const [group] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : [''];
  const kind = o.kind.toLowerCase();
  return `${group ? `${kind}.${group}` : kind}/${o.metadata.name}`;
}

/** The `kind` argument for kubectl get (`deployment.v1.apps`, `pod`) of an object. */
export function kubectlKind(o: any): string {
  const kind = o.kind.toLowerCase();
  if (!o.apiVersion.includes('/')) return kind;
  const [group, version] = o.apiVersion.split('/');
  return `${kind}.${version}.${group}`;
}

/** A human key for an object: `Kind namespace/name` or `Kind name`. */
export function objectKey(o: any): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

/** Runs scripts/local-control-plane.sh with the environment of this process. */
export function controlPlaneScript(args: string[]): string {
  return execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'local-control-plane.sh'), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
}

/**
 * Deletes the objects, forcing pods away first where needed: without a kubelet, a pod bound to a node never
 * finishes a graceful deletion, so namespaces holding such pods would hang in Terminating.
 */
export async function deleteNamespace(namespace: string): Promise<void> {
  if (!getObject('namespace', namespace)) return;
  kubectl(['delete', 'namespace', namespace, '--wait=false']);
  await waitFor(
    `namespace ${namespace} to be gone`,
    120_000,
    () => {
      kubectl(['delete', 'pods', '--all', '-n', namespace, '--grace-period=0', '--force', '--wait=false']);
      return getObject('namespace', namespace) === undefined;
    },
    () => kubectl(['get', 'all', '-n', namespace]).stdout,
    1000,
  );
}

/** Deletes cluster-scoped objects by kind and names (missing ones are fine) and waits until they are gone. */
export async function deleteClusterObjects(kind: string, names: string[]): Promise<void> {
  if (names.length === 0) return;
  kubectl(['delete', kind, ...names, '--ignore-not-found', '--wait=false']);
  await waitFor(
    `${kind} ${names.join(', ')} to be gone`,
    60_000,
    () => names.every((n) => getObject(kind, n) === undefined),
    () => kubectl(['get', kind, ...names]).stdout,
    500,
  );
}

/** Writes a measured result into build/live-results.json (merging with what is already there). */
export function recordResult(key: string, value: unknown): void {
  const file = path.join(REPO_ROOT, 'build', 'live-results.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let results: Record<string, unknown> = {};
  if (fs.existsSync(file)) {
    try {
      results = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      results = {};
    }
  }
  results[key] = value;
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
}
