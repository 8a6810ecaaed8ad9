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
  // YAML 1.1, as cdk8s writes it: kubectl reads YAML 1.1, where an unquoted `no` (Redis' `--appendonly no`) is false.
  fs.writeFileSync(target, objects.map((o) => stringify(o, { lineWidth: 0, version: '1.1' })).join('---\n'));
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
  // The claims go first. Deleted only through the namespace, a claim still holds its kubernetes.io/pvc-protection
  // finalizer when the namespace controller checks what is left after its first pass, and a finalizer makes the
  // controller wait 15/2 + 1 = 8 s before its next (finalizerEstimateSeconds in Kubernetes'
  // namespaced_resources_deleter.go): 10.8 s for the default chart's namespace even with no pod running. So: the
  // workload controllers (their pods orphaned: nothing waits on the garbage collector), every pod at once (no new
  // one comes), the claims (their finalizer goes with the last pod that used them), and the namespace once they
  // are gone, which its controller then removes in one pass: 6.2 s, of which 5 s is the controller's own
  // namespaceDeletionGracePeriod before it starts (a constant).
  kubectl(['delete', 'deployments,replicasets,statefulsets,daemonsets,jobs', '--all', '-n', namespace, '--cascade=orphan', '--wait=false']);
  kubectl(['delete', 'pods', '--all', '-n', namespace, '--grace-period=0', '--force', '--wait=false']);
  kubectl(['delete', 'persistentvolumeclaims', '--all', '-n', namespace, '--wait=false']);
  await waitFor(
    `the claims of namespace ${namespace} to be gone`,
    60_000,
    () => {
      kubectl(['delete', 'pods', '--all', '-n', namespace, '--grace-period=0', '--force', '--wait=false']);
      return kubectlJson(['get', 'persistentvolumeclaims', '-n', namespace]).items.length === 0;
    },
    () => kubectl(['get', 'pods,persistentvolumeclaims', '-n', namespace]).stdout,
    250,
  );
  kubectl(['delete', 'namespace', namespace, '--wait=false']);
  await waitFor(
    `namespace ${namespace} to be gone`,
    120_000,
    () => {
      kubectl(['delete', 'pods', '--all', '-n', namespace, '--grace-period=0', '--force', '--wait=false']);
      return getObject('namespace', namespace) === undefined;
    },
    () => kubectl(['get', 'all', '-n', namespace]).stdout,
    250,
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

/**
 * Which cluster kubectl talks to: `local`, the local control plane ({@link isLocalControlPlane}); `mutate`,
 * whether the tests may create cluster-wide objects ({@link mayMutateCluster}). Both false without a kubeconfig:
 * every test then fails in beforeAll with kubectl's own message.
 */
export function clusterAccess(): { local: boolean; mutate: boolean } {
  let local = false;
  let mutate = false;
  try {
    local = isLocalControlPlane();
    mutate = mayMutateCluster();
  } catch {
    // no kubeconfig
  }
  return { local, mutate };
}

/**
 * kubectl's stderr lines: every one is unexpected, Pod Security warnings included. The namespace warns at the
 * level it enforces, the one its pods meet (issue #23 item 7), so a cluster from 1.23 on prints no "Warning:
 * would violate PodSecurity" line either; 1.20 has no Pod Security admission (test/whole-chart/security.test.ts
 * computes the warnings instead).
 */
export function unexpectedStderr(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.trim() !== '');
}

/**
 * `kubectl apply --dry-run=server --validate=true` of `objects` (written to `dir/file`) succeeds, quietly, for
 * every one of them: no stderr but {@link unexpectedStderr}'s, exit 0, `<kind/name> created (server dry run)`
 * for each. Returns the lines kubectl printed.
 */
export function expectServerDryRun(dir: string, file: string, objects: any[]): string[] {
  const r = kubectl(['apply', '--dry-run=server', '--validate=true', '-f', writeYaml(dir, file, objects)]);
  expect(unexpectedStderr(r.stderr)).toEqual([]);
  expect(r.code).toBe(0);
  const lines = r.stdout.trim().split('\n');
  for (const o of objects) expect(lines).toContain(`${kubectlName(o)} created (server dry run)`);
  return lines;
}

/** The SelfSubjectRulesReview of `namespace` as its service account `serviceAccount` (with the groups a pod's token carries). */
export function rulesReview(namespace: string, serviceAccount: string): any {
  return kubectlJson(
    ['create', '-f', '-', `--as=system:serviceaccount:${namespace}:${serviceAccount}`,
      '--as-group=system:serviceaccounts', `--as-group=system:serviceaccounts:${namespace}`, '--as-group=system:authenticated'],
    JSON.stringify({ apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace } }),
  );
}

/** Pods of `namespace` that `selector` selects, as the server has them. */
export function podsOf(namespace: string, selector: string): any[] {
  return kubectlJson(['get', 'pods', '-n', namespace, '-l', selector]).items as any[];
}

/**
 * Waits (2 minutes) until the real kube-scheduler has bound every pod of `workloads` (Deployments,
 * StatefulSets, Jobs: as many as their replicas or parallelism) to `node`; a timeout lists where each pod is.
 */
export async function waitForWorkloadsOn(node: string, namespace: string, workloads: any[], what: string): Promise<void> {
  const selectorOf = (w: any) =>
    w.kind === 'Job' ? `job-name=${w.metadata.name}` : Object.entries(w.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',');
  await waitFor(
    what,
    120_000,
    () =>
      workloads.every((w) => {
        const pods = podsOf(namespace, selectorOf(w));
        const want = w.kind === 'Job' ? (w.spec.parallelism ?? 1) : (w.spec.replicas ?? 1);
        return pods.length >= want && pods.every((p) => p.spec.nodeName === node);
      }),
    () => workloads.map((w) => `${objectKey(w)}: ${podsOf(namespace, selectorOf(w)).map((p) => `${p.metadata.name}@${p.spec.nodeName ?? '-'}`).join(' ') || 'no pod'}`).join('\n'),
    1000,
  );
}

/**
 * Creates task pods (`<prefix>1`, `<prefix>2`, ...: at most 40), each as `build` makes it, one at a time, until the kube-scheduler finds one Unschedulable. `onScheduled` is called with the
 * name of each pod that was scheduled. Returns how many were, and the Unschedulable condition (undefined after 40).
 */
export async function fillWithTaskPods(options: {
  namespace: string;
  prefix: string;
  /** What the pods are called in the waits' messages ("worker pod", "task pod"). */
  noun: string;
  build: (name: string, i: number) => any;
  onScheduled?: (name: string) => void;
}): Promise<{ fit: number; unschedulable: any }> {
  const { namespace, prefix } = options;
  let fit = 0;
  let unschedulable: any;
  for (let i = 1; i <= 40 && !unschedulable; i++) {
    const name = `${prefix}${i}`;
    kubectlOk(['create', '-f', '-'], JSON.stringify(options.build(name, i)));
    const outcome = await waitFor(`${options.noun} ${name} to be scheduled or found unschedulable`, 60_000, () => {
      const pod = getObject('pod', name, namespace);
      if (pod?.spec?.nodeName) return 'scheduled';
      const condition = (pod?.status?.conditions ?? []).find((c: any) => c.type === 'PodScheduled');
      return condition?.status === 'False' && condition.reason === 'Unschedulable' ? condition : undefined;
    });
    if (outcome === 'scheduled') {
      options.onScheduled?.(name);
      fit++;
    } else {
      unschedulable = outcome;
    }
  }
  return { fit, unschedulable };
}

/** CPU (millicores) and memory (MiB) requests. */
export interface Requests {
  cpu: number;
  memoryMi: number;
}

/** A pod's effective requests: the larger of the sum over its containers and its largest init container. */
export function effectiveRequests(spec: any): Requests {
  const cpu = (q?: string) => (!q ? 0 : q.endsWith('m') ? Number(q.slice(0, -1)) : Number(q) * 1000);
  const mi = (q?: string) => (!q ? 0 : q.endsWith('Gi') ? Number(q.slice(0, -2)) * 1024 : q.endsWith('Mi') ? Number(q.slice(0, -2)) : Number(q) / 2 ** 20);
  const sum = (cs: any[] = []) => cs.reduce((a, c) => ({ cpu: a.cpu + cpu(c.resources?.requests?.cpu), memoryMi: a.memoryMi + mi(c.resources?.requests?.memory) }), { cpu: 0, memoryMi: 0 });
  const main = sum(spec.containers);
  for (const c of spec.initContainers ?? []) {
    main.cpu = Math.max(main.cpu, cpu(c.resources?.requests?.cpu));
    main.memoryMi = Math.max(main.memoryMi, mi(c.resources?.requests?.memory));
  }
  return main;
}

/** Every pod of `namespace` bound to `node`, except those named `<exceptPrefix>...`, with its effective requests. */
export function requestsOnNode(namespace: string, node: string, exceptPrefix: string): Array<{ pod: any; requests: Requests }> {
  return (kubectlJson(['get', 'pods', '-n', namespace, '--field-selector', `spec.nodeName=${node}`]).items as any[])
    .filter((pod) => !pod.metadata.name.startsWith(exceptPrefix))
    .map((pod) => ({ pod, requests: effectiveRequests(pod.spec) }));
}

/** The sum of the requests of `pods`. */
export function sumRequests(pods: Array<{ requests: Requests }>): Requests {
  const total = { cpu: 0, memoryMi: 0 };
  for (const { requests } of pods) {
    total.cpu += requests.cpu;
    total.memoryMi += requests.memoryMi;
  }
  return total;
}
