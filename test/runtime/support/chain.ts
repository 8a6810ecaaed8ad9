// The runtime chain: named steps that take a synthesized chart from `kubectl apply` to a task that the
// KubernetesExecutor ran in a pod of its own, each with a clear failure message and the log tail of the
// component it concerns (docs/runtime-tests.md). The test files register the steps as jest tests, in order;
// the harness self-tests run some of them on deliberately broken YAML and assert which one fails.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {
  deleteClusterObjects,
  deleteNamespace,
  getObject,
  KUBECTL,
  kubectl,
  kubectlJson,
  kubectlOk,
  REPO_ROOT,
  tempDir,
  writeYaml,
} from '../../live/support/cluster';
import { parse } from 'yaml';
import { AirflowApi, http } from './airflow-api';
import { ContainerRecord, RuntimeKubelet } from './kubelet';
import { claimNamespace, NAMESPACE_CLAIMS } from './namespace-claim';
import { cgroupMemory, hostFoldersOf, memoryReport, removeHostFolders } from './real-node';
import { recordRuntime } from './results';
import { recordTaskPodEvent, WatchEvents } from './watch-stream';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls an async probe until it returns something other than undefined/false; throws with `describe()` on timeout. */
export async function waitForAsync<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  describe: () => string | Promise<string> = () => '',
  intervalMs = 1000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as T;
      lastError = '';
    } catch (e) {
      lastError = (e as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}\n${await describe()}`);
    }
    await sleep(intervalMs);
  }
}

/** The components of the chart, by their app.kubernetes.io/component label. */
export const COMPONENTS = ['api-server', 'scheduler', 'dag-processor', 'triggerer'] as const;
export type Component = (typeof COMPONENTS)[number];

/** A chart to run: its synthesized objects and a short id (results, state directory). */
export interface Variant {
  readonly id: string;
  readonly title: string;
  readonly objects: any[];
}

/** One named step of the chain. */
export interface Step {
  readonly name: string;
  /** Components (app.kubernetes.io/component labels) whose log tails a failure shows. */
  readonly components: string[];
  /** A failed blocking step means every later step cannot run (they fail with "not run: ..."). */
  readonly blocking: boolean;
  readonly timeoutMs: number;
  readonly run: () => Promise<void>;
}

/** A step a test file adds to the chain's: blocking unless told (a failure stops every later step), 300 s unless told. */
export function step(name: string, components: string[], run: () => Promise<void>, opts: { blocking?: boolean; timeoutMs?: number } = {}): Step {
  return { name, components, run, blocking: opts.blocking ?? true, timeoutMs: opts.timeoutMs ?? 300_000 };
}

/** The result of running steps outside jest (the harness self-tests). */
export interface ChainOutcome {
  readonly failedStep?: string;
  readonly message?: string;
  readonly passed: string[];
}

/** device:inode of a file (as real-node-recorder.py writes a mount's sourceId). */
const fileId = (p: string) => {
  const st = fs.statSync(p);
  return `${st.dev}:${st.ino}`;
};

const label = (o: any, k: string) => o?.metadata?.labels?.[k] ?? o?.spec?.template?.metadata?.labels?.[k];
const componentOf = (o: any) => label(o, 'app.kubernetes.io/component');

export class RuntimeChain {
  public readonly ns: string;
  public readonly dir = tempDir('airflow-cdk8s-runtime-');
  public api: AirflowApi | undefined;
  /** The run ids of the DAG runs this chain triggered, by DAG id. */
  public readonly runs: Record<string, string> = {};
  /** Task pods as the API server held them when they appeared, by pod name. */
  public readonly taskPods = new Map<string, any>();
  /** Phases of task pods seen by a watch on the API server, by pod name. */
  public readonly phases = new Map<string, string[]>();
  /**
   * The last log read of each task pod's container `base` while the pod lived, by pod name ({@link keepTaskLogs}):
   * the executor deletes a task pod soon after it ends, and the kubelet its log folder with it; under load (two runtime
   * files at once) both were gone before a failed run's step could read why it failed.
   */
  public readonly taskLogs = new Map<string, string>();
  public readonly timings: { name: string; seconds: number; ok: boolean }[] = [];
  /** When each step that passed ended (ms since the epoch), by name: the last run of it. */
  public readonly passedAt = new Map<string, number>();
  private failedBlocking: string | undefined;
  private releaseNamespace: (() => void) | undefined;
  private watch: ChildProcess | undefined;
  public secretValues: Record<string, string> = {};
  public findings: { configLint?: string[] } = {};
  /**
   * How long "the executor deletes the task pod" waits. The executor deletes a task pod within about a second of
   * its end (1.1 s at most in the CI runs of this round), so 90 s is ample; the harness's broken Role, which makes
   * the step fail on purpose, need not wait that long to prove it.
   */
  public taskPodDeletionTimeoutMs = 90_000;

  constructor(public readonly variant: Variant, public readonly kubelet: RuntimeKubelet) {
    const ns = variant.objects.find((o) => o.kind === 'Namespace');
    this.ns = ns?.metadata.name ?? variant.objects.find((o) => o.metadata?.namespace)?.metadata.namespace;
  }

  // ------------------------------------------------------------------------------------------ the chart's parts
  objectsOf(kind: string): any[] {
    return this.variant.objects.filter((o) => o.kind === kind);
  }

  deployment(component: string): any | undefined {
    return this.objectsOf('Deployment').find((d) => componentOf(d) === component);
  }

  job(component: string): any | undefined {
    return this.objectsOf('Job').find((j) => componentOf(j) === component);
  }

  /** The chart's Airflow image (the scheduler's container): the kubelet serves it from the root of its minor version. */
  airflowImage(): string | undefined {
    const d = this.deployment('scheduler');
    return d?.spec.template.spec.containers[0]?.image;
  }

  /** The Airflow components the chart runs (a chart may leave out the triggerer). */
  components(): Component[] {
    return COMPONENTS.filter((c) => this.deployment(c));
  }

  configMap(): any {
    return this.objectsOf('ConfigMap').find((c) => c.data?.['airflow.cfg']);
  }

  /** A value of airflow.cfg in the ConfigMap the API server holds. */
  airflowCfg(section: string, key: string): string | undefined {
    const cm = getObject('configmap', this.configMap().metadata.name, this.ns);
    const cfg: string = cm?.data?.['airflow.cfg'] ?? '';
    let current = '';
    for (const line of cfg.split('\n')) {
      const s = line.match(/^\[(.+)\]\s*$/);
      if (s) current = s[1];
      const kv = line.match(/^([A-Za-z0-9_]+)\s*=\s*(.*)$/);
      if (kv && current === section && kv[1] === key) return kv[2].trim();
    }
    return undefined;
  }

  /** Every (Secret, key) the pods of the chart read, with who reads it. */
  secretRefs(): Map<string, Set<string>> {
    const refs = new Map<string, Set<string>>();
    const add = (name: string, key: string, who: string) => {
      const k = `${name}/${key}`;
      if (!refs.has(k)) refs.set(k, new Set());
      refs.get(k)!.add(who);
    };
    const walk = (o: any, who: string) => {
      if (Array.isArray(o)) o.forEach((x) => walk(x, who));
      else if (o && typeof o === 'object') {
        if (o.secretKeyRef && !o.secretKeyRef.optional) add(o.secretKeyRef.name, o.secretKeyRef.key, who);
        if (o.secretRef && !o.secretRef.optional) add(o.secretRef.name, '*', who);
        if (o.secret?.secretName && !o.secret.optional) add(o.secret.secretName, '*', who);
        Object.values(o).forEach((v) => walk(v, who));
      }
    };
    for (const o of this.variant.objects) {
      if (['Deployment', 'StatefulSet', 'Job'].includes(o.kind)) walk(o.spec.template.spec, `${o.kind} ${o.metadata.name}`);
    }
    return refs;
  }

  /** The Secret name the chart's own secrets come from: the bootstrap Job's SECRET_NAME. */
  bootstrapSecretName(): string | undefined {
    const job = this.job('secrets-bootstrap');
    return job?.spec.template.spec.containers[0].env?.find((e: any) => e.name === 'SECRET_NAME')?.value;
  }

  // ------------------------------------------------------------------------------------------ pods and logs
  /** The pods of the namespace with a label selector, as the API server holds them now. */
  pods(selector: string): any[] {
    return kubectlJson(['get', 'pods', '-n', this.ns, '-l', selector]).items;
  }

  /** The newest pod of a component (by creation), or undefined. */
  podOf(component: string): any | undefined {
    const pods = this.pods(`app.kubernetes.io/component=${component}`);
    return pods.sort((a, b) => b.metadata.creationTimestamp.localeCompare(a.metadata.creationTimestamp))[0];
  }

  /** The log tails of the components' newest containers, for failure messages. */
  tails(components: string[], lines = 40): string {
    const parts: string[] = [];
    for (const component of components) {
      const recs = this.kubelet
        .records()
        .filter((r) => r.namespace === this.ns && r.component === component && r.container !== 'wait-for-db');
      if (recs.length === 0) {
        parts.push(`--- ${component}: no container of this component was started by the kubelet`);
        continue;
      }
      const pod = recs[recs.length - 1].pod;
      for (const r of recs.filter((x) => x.pod === pod)) {
        parts.push(`--- last ${lines} lines of ${component} (pod ${r.pod}, container ${r.container}) ---\n${this.kubelet.logTail(this.ns, r.pod, r.container, lines)}`);
      }
      const denials = this.grep(component, /Forbidden|\(403\)|forbidden/, 5);
      if (denials) parts.push(`--- ${component}: lines about denied API requests ---\n${denials}`);
    }
    const events = this.kubelet.events(new RegExp(`"pod": "${this.ns}/`));
    if (events) parts.push(`--- the kubelet's last events in ${this.ns} ---\n${events.split('\n').slice(-12).join('\n')}`);
    return parts.join('\n');
  }

  /** The last `max` lines of a component's newest main container log that match `rx`. */
  grep(component: string, rx: RegExp, max = 5): string {
    const r = this.mainRecord(component);
    if (!r) return '';
    const log = this.kubelet.log(this.ns, r.pod, r.container) ?? '';
    return log
      .split('\n')
      .filter((l) => rx.test(l))
      .slice(-max)
      .map((l) => l.slice(0, 400))
      .join('\n');
  }

  /** The record of the newest main container of a component. */
  mainRecord(component: string): ContainerRecord | undefined {
    const recs = this.kubelet.records().filter((r) => r.namespace === this.ns && r.component === component && !r.init);
    // The component's own container (named like the component), not a sidecar started after it (the
    // scheduler's log groomer, git-sync in its sidecar mode).
    const own = recs.filter((r) => r.container === component);
    return (own.length > 0 ? own : recs)[(own.length > 0 ? own : recs).length - 1];
  }

  /** Waits until `job` has a succeeded pod; fails at once when one failed. The pods of `component` explain a timeout. */
  private async waitForJob(job: any, component: string, timeoutMs: number): Promise<void> {
    await waitForAsync(
      `Job ${job.metadata.name} to complete`,
      timeoutMs,
      () => {
        const j = getObject('job', job.metadata.name, this.ns);
        if ((j?.status?.failed ?? 0) > 0) throw new Error(`Job ${job.metadata.name} has ${j.status.failed} failed pod(s)`);
        return (j?.status?.succeeded ?? 0) >= 1;
      },
      () => kubectl(['get', 'pods', '-n', this.ns, '-l', `app.kubernetes.io/component=${component}`, '-o', 'wide']).stdout,
      2000,
    );
  }

  // ------------------------------------------------------------------------------------------ running steps
  /** A jest test body for a step: refuses to run after a failed blocking step, times the step, explains failures. */
  jest(step: Step): () => Promise<void> {
    return async () => {
      const outcome = await this.execute(step);
      if (outcome) throw outcome;
    };
  }

  /** Runs a step; returns the error (already explained) or undefined. */
  async execute(step: Step): Promise<Error | undefined> {
    if (this.failedBlocking) {
      return new Error(`not run: the earlier step "${this.failedBlocking}" failed`);
    }
    const t0 = Date.now();
    try {
      await step.run();
      this.timings.push({ name: step.name, seconds: (Date.now() - t0) / 1000, ok: true });
      this.passedAt.set(step.name, Date.now());
      return undefined;
    } catch (e) {
      this.timings.push({ name: step.name, seconds: (Date.now() - t0) / 1000, ok: false });
      if (step.blocking) this.failedBlocking = step.name;
      const err = e as Error;
      err.message = `[${this.variant.id}] ${step.name}: ${err.message}\n${this.tails(step.components)}`;
      return err;
    }
  }

  /** Runs steps in order until one fails (for the harness self-tests). */
  async runSteps(steps: Step[]): Promise<ChainOutcome> {
    const passed: string[] = [];
    for (const step of steps) {
      const err = await this.execute(step);
      if (err) return { failedStep: step.name, message: err.message, passed };
      passed.push(step.name);
    }
    return { passed };
  }

  /** Lets later steps run again after a failure the caller expected (harness self-tests). */
  clearFailure(): void {
    this.failedBlocking = undefined;
  }

  // ------------------------------------------------------------------------------------------ set-up, tear-down
  /** The node's host folders as the README prepares them: `minikube mount --uid 50000 --gid 0` of dags/logs/data. */
  prepareHostFolders(): void {
    for (const pv of this.objectsOf('PersistentVolume')) {
      const hp = pv.spec.hostPath?.path;
      const name = pv.metadata.labels?.['app.kubernetes.io/component'] ?? '';
      if (!hp || name.startsWith('metadata-db')) continue; // Postgres' data and keys: the kubelet creates them (root, 0755)
      const dir = this.kubelet.hostPath(hp);
      fs.mkdirSync(dir, { recursive: true });
      if (name === 'dags-storage') {
        for (const f of fs.readdirSync(path.join(REPO_ROOT, 'dags'))) {
          if (f.endsWith('.py')) fs.copyFileSync(path.join(REPO_ROOT, 'dags', f), path.join(dir, f));
        }
      }
      for (const f of [dir, ...fs.readdirSync(dir).map((x) => path.join(dir, x))]) fs.chownSync(f, 50000, 0);
      fs.chmodSync(dir, 0o775);
    }
  }

  /** Deletes what the chart put into the cluster (the namespace, its volumes) and waits until it is gone. */
  async cleanUp(): Promise<void> {
    await deleteNamespace(this.ns);
    await deleteClusterObjects(
      'persistentvolume',
      this.objectsOf('PersistentVolume').map((pv) => pv.metadata.name),
    );
  }

  /**
   * What every runtime file does before its steps: its namespace claimed (a file running beside it must not hold it:
   * support/namespace-claim.ts), the chart of a crashed run deleted, the kubelet started, the host folders prepared
   * (on the real node, the chart's own folders of a crashed run removed first).
   */
  async setUp(): Promise<void> {
    this.releaseNamespace = claimNamespace(NAMESPACE_CLAIMS, this.ns, `${path.basename(expect.getState().testPath ?? '')} (${this.variant.id})`);
    await this.cleanUp();
    await this.kubelet.start(this.airflowImage(), this.ns);
    if (this.kubelet.real) removeHostFolders(hostFoldersOf(this.variant.objects));
    this.prepareHostFolders();
  }

  /**
   * What every runtime file does last: unless AIRFLOW_CDK8S_RUNTIME_KEEP=1, the chart deleted, on the real node its
   * volumes' host folders removed (the node and /data serve the whole run), the kubelet stopped, the namespace freed.
   */
  async tearDown(): Promise<void> {
    if (process.env.AIRFLOW_CDK8S_RUNTIME_KEEP === '1') return;
    await this.cleanUp();
    if (this.kubelet.real) removeHostFolders(hostFoldersOf(this.variant.objects));
    this.kubelet.stop();
    this.releaseNamespace?.();
  }

  /**
   * Registers a runtime file's beforeAll ({@link setUp}) and afterAll: `stop` (the file's own samplers), the
   * phase watch stopped, the step timings recorded (unless `recordTimings` is false), then {@link tearDown}.
   */
  hooks(options: { recordTimings: boolean; stop?: () => void }): void {
    beforeAll(() => this.setUp(), 300_000);
    afterAll(async () => {
      options.stop?.();
      this.stopPhaseWatch();
      if (options.recordTimings) this.recordTimings();
      await this.tearDown();
    }, 300_000);
  }

  /**
   * Starts a watch of the task pods (kubectl get -w, the whole objects): their phases, so that Running and Succeeded
   * are seen on the API, and each pod as the API server held it when it appeared ({@link taskPods}). A task pod lives
   * a few seconds once it ends (the executor deletes it): polls for the pods missed one that lived 20 s (the emulated
   * stage's CI of b1b30d4: per_task_resources' task light, beside the real node's stage); the watch sees them all.
   */
  startPhaseWatch(): void {
    this.stopPhaseWatch();
    const events = new WatchEvents();
    this.watch = spawn(KUBECTL, [
      'get', 'pods', '-n', this.ns, '-l', 'kubernetes_executor=True', '-w', '--output-watch-events', '-o', 'json',
    ], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.watch.stdout!.setEncoding('utf8');
    this.watch.stdout!.on('data', (chunk: string) => {
      for (const e of events.push(chunk)) recordTaskPodEvent(e, this.taskPods, this.phases);
    });
  }

  stopPhaseWatch(): void {
    this.watch?.kill();
    this.watch = undefined;
  }

  /** Remembers task pods as the API server holds them while they exist (they are deleted when they end). */
  captureTaskPods(): void {
    for (const p of this.pods('kubernetes_executor=True')) {
      if (!this.taskPods.has(p.metadata.name)) this.taskPods.set(p.metadata.name, p);
    }
  }

  /** Reads the log of each task pod of the DAG's run that the kubelet still has, and keeps it in {@link taskLogs}. */
  keepTaskLogs(dagId: string): void {
    for (const p of this.taskPodsOf(dagId)) {
      if (this.taskLogs.has(p.metadata.name) && this.phases.get(p.metadata.name)?.includes('Deleted')) continue;
      const text = this.kubelet.log(this.ns, p.metadata.name, 'base');
      if (text) this.taskLogs.set(p.metadata.name, text);
    }
  }

  /** The task pod's log: the kubelet's while it has it, else the last one {@link keepTaskLogs} read. */
  taskLog(pod: string): string | undefined {
    return this.kubelet.log(this.ns, pod, 'base') || this.taskLogs.get(pod);
  }

  writeYaml(file: string, objects: any[]): string {
    return writeYaml(this.dir, file, objects);
  }

  // ------------------------------------------------------------------------------------------ Airflow helpers
  /** The UI's Service as a user in the cluster reaches it, under the path of `[api] base_url` (an Ingress's sub-path). */
  async apiBase(): Promise<string> {
    return `${this.serviceRoot()}${this.basePath()}`;
  }

  /** The UI's Service's ClusterIP and port, without any path. */
  serviceRoot(): string {
    const svc = this.objectsOf('Service').find((s) => componentOf(s) === 'api-server' || componentOf(s) === 'webserver');
    const live = kubectlJson(['get', 'service', svc.metadata.name, '-n', this.ns]);
    return `http://${live.spec.clusterIP}:${live.spec.ports[0].port}`;
  }

  /** The path of `[api] base_url` in the chart's airflow.cfg ("/airflow"), or "" without one. */
  basePath(): string {
    const cfg: string = this.configMap().data['airflow.cfg'];
    const api = /^\[api\]\n((?:(?!\[).*\n)*)/m.exec(cfg)?.[1] ?? '';
    const url = /^base_url\s*=\s*(.+)$/m.exec(api)?.[1]?.trim();
    return url ? new URL(url).pathname.replace(/\/$/, '') : '';
  }

  async loggedIn(): Promise<AirflowApi> {
    if (this.api) return this.api;
    const api = new AirflowApi(await this.apiBase());
    const r = await api.login('admin', this.secretValues['admin-password']);
    if (r.status !== 200 && r.status !== 201) throw new Error(`POST /auth/token as admin: HTTP ${r.status} ${r.text.slice(0, 300)}`);
    this.api = api;
    return api;
  }

  /** Unpauses and triggers a DAG through the REST API; remembers and returns the run id. */
  async trigger(dagId: string): Promise<string> {
    const api = await this.loggedIn();
    await api.ok('PATCH', `/dags/${dagId}`, { is_paused: false });
    const run = await api.ok('POST', `/dags/${dagId}/dagRuns`, { logical_date: null });
    this.runs[dagId] = run.dag_run_id;
    return run.dag_run_id;
  }

  /** Waits until a DAG run ends; returns its state and its task instances' states. */
  async runEnd(dagId: string, timeoutMs: number): Promise<{ state: string; tasks: Record<string, string> }> {
    const api = await this.loggedIn();
    const runId = this.runs[dagId];
    const enc = encodeURIComponent(runId);
    const state = await waitForAsync(
      `DAG run ${dagId} ${runId} to end`,
      timeoutMs,
      async () => {
        this.captureTaskPods();
        this.keepTaskLogs(dagId);
        const run = await api.ok('GET', `/dags/${dagId}/dagRuns/${enc}`);
        return ['success', 'failed'].includes(run.state) ? (run.state as string) : undefined;
      },
      async () => {
        const tis = await api.call('GET', `/dags/${dagId}/dagRuns/${enc}/taskInstances`);
        return `task instances: ${JSON.stringify((tis.body?.task_instances ?? []).map((t: any) => [t.task_id, t.state]))}`;
      },
      2000,
    );
    const tis = await api.ok('GET', `/dags/${dagId}/dagRuns/${enc}/taskInstances`);
    const tasks: Record<string, string> = {};
    for (const t of tis.task_instances) tasks[t.task_id] = t.state;
    return { state, tasks };
  }

  /** The task pods of a DAG run (from the captured API objects). */
  taskPodsOf(dagId: string): any[] {
    const runId = this.runs[dagId];
    return [...this.taskPods.values()].filter((p) => p.metadata.labels.dag_id === dagId && p.metadata.annotations?.run_id === runId);
  }

  // ------------------------------------------------------------------------------------------ the steps
  steps(): Record<string, Step> {
    const s: Record<string, Step> = {};
    const add = (name: string, components: string[], run: () => Promise<void>, opts: { blocking?: boolean; timeoutMs?: number } = {}) => {
      s[name] = { name, components, run, blocking: opts.blocking ?? true, timeoutMs: opts.timeoutMs ?? 300_000 };
      return name;
    };
    /** ['api-server'] on Airflow 3, whose api-server serves the execution API the task pods call; [] on Airflow 2. */
    const executionApi = this.objectsOf('Service').some((svc) => componentOf(svc) === 'api-server') ? ['api-server'] : [];

    add('kubectl apply: the API server takes every object of the synthesized YAML', [], async () => {
      const file = this.writeYaml('chart.yaml', this.variant.objects);
      const r = kubectl(['apply', '-f', file]);
      if (r.code !== 0 || r.stderr.trim() !== '') throw new Error(`kubectl apply exited ${r.code}\n${r.stderr}\n${r.stdout}`);
      const lines = r.stdout.trim().split('\n');
      expect(lines.length).toBe(this.variant.objects.length);
    });

    const secretName = this.bootstrapSecretName();
    // Keys generated on demand (docs/celery.md): the Celery broker's password when the chart runs Redis.
    const onDemand = ['redis-password'].filter((k) => (this.job('secrets-bootstrap')?.spec.template.spec.containers[0].command?.[2] ?? '').includes(`"${k}": `));
    add(`the secrets bootstrap Job creates Secret ${secretName ?? '(none)'} with the five generated keys${onDemand.map((k) => ` and ${k}`).join('')}`, ['secrets-bootstrap'], async () => {
      const job = this.job('secrets-bootstrap');
      if (!job) throw new Error('the chart has no secrets bootstrap Job (existing Secrets are not generated by this harness)');
      await waitForAsync(
        `Job ${job.metadata.name} to complete`,
        180_000,
        () => (getObject('job', job.metadata.name, this.ns)?.status?.succeeded ?? 0) >= 1,
        () => kubectl(['get', 'job,pods', '-n', this.ns, '-l', 'app.kubernetes.io/component=secrets-bootstrap', '-o', 'wide']).stdout,
      );
      const secret = getObject('secret', secretName!, this.ns);
      if (!secret) throw new Error(`the Job completed but Secret ${this.ns}/${secretName} does not exist`);
      this.secretValues = Object.fromEntries(
        Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
      );
      expect(Object.keys(this.secretValues).sort()).toEqual(['admin-password', 'api-secret-key', 'db-password', 'fernet-key', 'jwt-secret', ...onDemand].sort());
      // a Fernet key: 32 bytes, url-safe base64
      expect(Buffer.from(this.secretValues['fernet-key'], 'base64url').length).toBe(32);
      expect(secret.metadata.annotations?.['airflow-cdk8s/generated-by']).toBe('job/airflow-secrets-bootstrap');
    });

    add('every Secret and key the pods reference exists in the namespace', [], async () => {
      const missing: string[] = [];
      for (const [ref, who] of this.secretRefs()) {
        const [name, key] = ref.split('/');
        const secret = getObject('secret', name, this.ns);
        if (!secret) missing.push(`Secret ${name} (read by ${[...who].join(', ')})`);
        else if (key !== '*' && !(key in (secret.data ?? {}))) missing.push(`key ${key} of Secret ${name} (read by ${[...who].join(', ')})`);
      }
      if (missing.length > 0) {
        throw new Error(
          `the pods read Secrets that do not exist in namespace ${this.ns} (the kubelet refuses to start them: CreateContainerConfigError):\n  ` +
            `${missing.join('\n  ')}\nSecrets that exist: ${kubectl(['get', 'secrets', '-n', this.ns, '-o', 'name']).stdout.split('\n').filter((l) => !l.includes('-token-')).join(' ')}`,
        );
      }
    });

    add('Postgres: the StatefulSet pod initialises its database (user, database, scram-sha-256) and becomes Ready', ['metadata-db'], async () => {
      const sts = this.objectsOf('StatefulSet').find((x) => componentOf(x) === 'metadata-db');
      const env = Object.fromEntries(sts.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
      await waitForAsync(
        `StatefulSet ${sts.metadata.name} to have a ready replica`,
        180_000,
        () => (getObject('statefulset', sts.metadata.name, this.ns)?.status?.readyReplicas ?? 0) >= 1,
        () => kubectl(['get', 'pods', '-n', this.ns, '-l', 'app.kubernetes.io/component=metadata-db', '-o', 'wide']).stdout,
      );
      const pod = this.podOf('metadata-db');
      const c = sts.spec.template.spec.containers[0].name;
      const psql = (password: string, sql: string) =>
        this.kubelet.exec(this.ns, pod.metadata.name, c, [
          'env', `PGPASSWORD=${password}`, 'psql', '-h', '127.0.0.1', '-U', env.POSTGRES_USER, '-d', env.POSTGRES_DB, '-tAc', sql,
        ], 60);
      const good = psql(this.secretValues['db-password'], "select current_user || ' ' || current_database() || ' ' || (select substr(rolpassword, 1, 13) from pg_authid where rolname = current_user)");
      expect(good).toEqual({ code: 0, output: `${env.POSTGRES_USER} ${env.POSTGRES_DB} SCRAM-SHA-256\n` });
      const bad = psql('not-the-password', 'select 1');
      expect(bad.code).not.toBe(0);
      expect(bad.output).toContain('password authentication failed');
    });

    const migrate = this.job('db-migrate');
    add('airflow db migrate: the migration Job runs its command and completes', ['db-migrate'], async () => {
      await this.waitForJob(migrate, 'db-migrate', 600_000);
      // what ran is the Job's own command, from the pod the Job controller created
      const c = migrate.spec.template.spec.containers[0];
      const rec = this.mainRecord('db-migrate')!;
      expect(rec.argv).toEqual(this.kubelet.argvFor(c));
      expect(Object.keys(rec.env)).toEqual(expect.arrayContaining(c.env.map((e: any) => e.name)));
      expect(rec.env.AIRFLOW__DATABASE__SQL_ALCHEMY_CONN).toContain(this.secretValues['db-password']);
    }, { timeoutMs: 660_000 });

    add('airflow db check-migrations: the wait-for-airflow-migrations init container of every Deployment passes', this.components(), async () => {
      for (const component of this.components()) {
        await waitForAsync(
          `the init containers of the ${component} pod to succeed`,
          300_000,
          () => {
            const pod = this.podOf(component);
            const st: any[] = pod?.status?.initContainerStatuses ?? [];
            const bad = st.find((x) => x.state?.terminated && x.state.terminated.exitCode !== 0);
            if (bad) throw new Error(`init container ${bad.name} of ${pod.metadata.name} exited ${bad.state.terminated.exitCode}`);
            return st.length > 0 && st.every((x) => x.state?.terminated?.exitCode === 0);
          },
          () => JSON.stringify(this.podOf(component)?.status?.initContainerStatuses ?? [], null, 1),
          2000,
        );
      }
    }, { timeoutMs: 900_000 });

    const createUser = this.job('create-user');
    add('the admin user Job (FAB airflow users create) completes', ['create-user'], async () => {
      await this.waitForJob(createUser, 'create-user', 300_000);
      expect(this.kubelet.log(this.ns, this.mainRecord('create-user')!.pod, 'create-user')).toMatch(/User "?admin"? created with role "?Admin"?/);
    });

    add("api-server, scheduler, dag-processor and triggerer run their Deployments' commands and become available", this.components(), async () => {
      for (const component of this.components()) {
        const d = this.deployment(component);
        await waitForAsync(
          `Deployment ${d.metadata.name} to be available`,
          420_000,
          () => (getObject('deployment', d.metadata.name, this.ns)?.status?.availableReplicas ?? 0) >= 1,
          () => kubectl(['get', 'pods', '-n', this.ns, '-l', `app.kubernetes.io/component=${component}`, '-o', 'wide']).stdout,
          2000,
        );
        const c = d.spec.template.spec.containers[0];
        const rec = this.mainRecord(component)!;
        expect(rec.argv).toEqual(this.kubelet.argvFor(c));
        for (const e of c.env ?? []) expect(rec.env).toHaveProperty(e.name);
        expect([rec.uid, rec.gid]).toEqual([c.securityContext?.runAsUser ?? d.spec.template.spec.securityContext.runAsUser, c.securityContext?.runAsGroup ?? d.spec.template.spec.securityContext.runAsGroup]);
      }
    }, { timeoutMs: 1_800_000 });

    add('airflow config lint (its findings are reported)', ['scheduler'], async () => {
      const pod = this.podOf('scheduler');
      const r = this.kubelet.exec(this.ns, pod.metadata.name, 'scheduler', ['airflow', 'config', 'lint'], 180);
      const findings = r.output.split('\n').filter((l) => /^\s+- /.test(l));
      this.findings.configLint = findings;
      console.log(`RUNTIME [${this.variant.id}]: airflow config lint: ${findings.length} finding(s)${findings.length ? `\n${findings.join('\n')}` : ''}`);
      if (r.code !== 0) throw new Error(`airflow config lint exited ${r.code}:\n${r.output.slice(-3000)}`);
      expect(r.output).toMatch(/No issues found|Found issues|deprecat|removed|found/i);
    }, { blocking: false });

    add('GET /api/v2/monitor/health: the metadata database and every component are healthy', ['api-server', ...this.components().filter((c) => c !== 'api-server')], async () => {
      const base = await this.apiBase();
      const api = new AirflowApi(base);
      const want = ['metadatabase', ...this.components().filter((c) => c !== 'api-server').map((c) => c.replace('-', '_'))];
      let last = '';
      await waitForAsync(
        `${base}/api/v2/monitor/health to report ${want.join(', ')} healthy`,
        300_000,
        async () => {
          const r = await api.health();
          last = `HTTP ${r.status} ${r.text.slice(0, 600)}`;
          return r.status === 200 && want.every((k) => r.body?.[k]?.status === 'healthy');
        },
        () => `last answer: ${last}`,
        3000,
      );
    }, { timeoutMs: 360_000 });

    // The execution API initialises itself on its first request (Cadwyn's versioned routers: seconds of CPU, the
    // api-server answering nothing meanwhile; docs/airflow.md): the startup probe asks /execution/health so
    // that this happens before the pod is Ready. Measured against /api/v2/version just before it (the same way there,
    // the same overhead), a request that paid it would take seconds longer.
    if (executionApi.length > 0) {
      add("the execution API answers at once when the api-server is Ready (the startup probe's request initialised it)", ['api-server'], async () => {
        const base = await this.apiBase();
        const timed = async (url: string) => {
          const t0 = Date.now();
          const r = await http('GET', url);
          return { ...r, ms: Date.now() - t0 };
        };
        const version = await timed(`${base}/api/v2/version`);
        const health = await timed(`${base}/execution/health`);
        console.log(`RUNTIME [${this.variant.id}]: GET /api/v2/version ${version.ms} ms, then GET /execution/health ${health.ms} ms`);
        expect([version.status, health.status, health.body]).toEqual([200, 200, { status: 'healthy' }]);
        expect(health.ms - version.ms).toBeLessThan(1500);
      }, { blocking: false });
    }

    for (const component of ['scheduler', 'dag-processor', 'triggerer']) {
      const d = this.deployment(component);
      const liveness = d?.spec.template.spec.containers[0].livenessProbe;
      const probe = liveness?.exec?.command;
      if (!probe) continue;
      add(`liveness probe of ${d.metadata.name}: ${probe[probe.length - 1]}`, [component], async () => {
        // As the kubelet judges it: the container is restarted only after failureThreshold failures in a row
        // (here at most 15 s apart instead of periodSeconds, to keep the stage short).
        const attempts = liveness.failureThreshold ?? 3;
        const failures: string[] = [];
        for (let i = 1; i <= attempts; i++) {
          const pod = this.podOf(component);
          const r = this.kubelet.exec(this.ns, pod.metadata.name, d.spec.template.spec.containers[0].name, probe, liveness.timeoutSeconds ?? 60);
          if (r.code === 0) {
            if (failures.length) console.log(`RUNTIME [${this.variant.id}]: the liveness probe of ${d.metadata.name} failed ${failures.length} time(s) before passing:\n${failures.join('\n')}`);
            return;
          }
          failures.push(`attempt ${i}: exit ${r.code}: ${r.output.trim().split('\n').slice(-3).join(' | ').slice(0, 500)}`);
          if (i < attempts) await sleep(Math.min(liveness.periodSeconds ?? 10, 15) * 1000);
        }
        throw new Error(`the probe failed ${attempts} times in a row (failureThreshold): the kubelet would restart the container\n${failures.join('\n')}`);
      }, { blocking: false, timeoutMs: 600_000 });
    }

    add('the admin user logs in: POST /auth/token with the password of the Secret', ['api-server'], async () => {
      this.api = undefined;
      await this.loggedIn();
    });

    add('the DAGs are parsed with no import errors', ['dag-processor'], async () => {
      const api = await this.loggedIn();
      const want = fs.readdirSync(path.join(REPO_ROOT, 'dags')).filter((f) => f.endsWith('.py')).map((f) => f.replace(/\.py$/, ''));
      await waitForAsync(
        `the DAGs ${want.join(', ')} in the REST API`,
        240_000,
        async () => {
          const dags = await api.ok('GET', '/dags?limit=100');
          const have = dags.dags.map((d: any) => d.dag_id);
          return want.every((w) => have.includes(w));
        },
        async () => JSON.stringify(await api.ok('GET', '/importErrors')),
        3000,
      );
      const errors = await api.ok('GET', '/importErrors');
      expect(errors.import_errors).toEqual([]);
    });

    // ------------------------------------------------------------------ a task, run by the executor
    add('trigger write_to_data_volume through the REST API', ['api-server', 'scheduler'], async () => {
      this.startPhaseWatch();
      const runId = await this.trigger('write_to_data_volume');
      expect(runId).toMatch(/^manual__/);
    });

    add('the KubernetesExecutor creates the task pod, as ServiceAccount airflow-scheduler', ['scheduler'], async () => {
      const pod = await waitForAsync(
        'the KubernetesExecutor to create a pod for write_to_data_volume',
        180_000,
        () => {
          this.captureTaskPods();
          return this.taskPodsOf('write_to_data_volume')[0];
        },
        () => kubectl(['get', 'pods', '-n', this.ns, '-o', 'wide']).stdout,
        500,
      );
      const template = this.configMap().data['pod_template_file.yaml'];
      expect(pod.metadata.labels).toMatchObject({ dag_id: 'write_to_data_volume', task_id: 'write_file', kubernetes_executor: 'True' });
      expect(pod.spec.containers.map((c: any) => c.name)).toEqual(['base']);
      expect(template).toContain(`serviceAccountName: ${pod.spec.serviceAccountName}`);
      // The identity the scheduler uses: the token mounted in its container, reviewed by the API server
      const sched = this.podOf('scheduler');
      const rec = this.mainRecord('scheduler')!;
      expect(rec.env.KUBECONFIG).toBeUndefined();
      const token = this.kubelet.exec(this.ns, sched.metadata.name, 'scheduler', ['cat', '/var/run/secrets/kubernetes.io/serviceaccount/token'], 30);
      expect(token.code).toBe(0);
      const review = JSON.parse(
        kubectlOk(['create', '-o', 'json', '-f', '-'], JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: token.output.trim() } })),
      );
      expect(review.status.user.username).toBe(`system:serviceaccount:${this.ns}:airflow-scheduler`);
    });

    add('the kubelet runs the task pod as the API server holds it: command, env, uid/gid, volumes', ['worker'], async () => {
      const pod = this.taskPodsOf('write_to_data_volume')[0];
      const name = pod.metadata.name;
      const rec = await waitForAsync(`the kubelet to start container base of ${name}`, 120_000, () => this.kubelet.record(this.ns, name, 'base'));
      const base = pod.spec.containers[0];
      expect(rec.podUID).toBe(pod.metadata.uid);
      expect(rec.argv).toEqual(this.kubelet.argvFor(base));
      const own = [...(base.command ?? []), ...(base.args ?? [])];
      expect(rec.argv.slice(rec.argv.length - own.length, rec.argv.length - own.length + 3)).toEqual(['python', '-m', 'airflow.sdk.execution_time.execute_workload']);
      for (const e of base.env ?? []) expect(rec.env[e.name]).toBe(e.value);
      const psc = pod.spec.securityContext ?? {};
      expect(rec.uid).toBe(base.securityContext?.runAsUser ?? psc.runAsUser);
      expect(rec.gid).toBe(base.securityContext?.runAsGroup ?? psc.runAsGroup);
      expect(rec.groups).toEqual(psc.fsGroup !== undefined ? [psc.fsGroup] : []);
      expect(rec.noNewPrivs).toBe(base.securityContext?.allowPrivilegeEscalation === false);
      expect(rec.hostname).toBe(name);
      // every volumeMount is bound from what its volume names in the API: claim -> bound volume's hostPath, ConfigMap
      for (const vm of base.volumeMounts) {
        const m = rec.mounts.find((x) => x.target === vm.mountPath);
        if (!m) throw new Error(`volumeMount ${vm.mountPath} was not mounted`);
        const vol = pod.spec.volumes.find((v: any) => v.name === vm.name);
        if (vol.persistentVolumeClaim) {
          const pvc = kubectlJson(['get', 'pvc', vol.persistentVolumeClaim.claimName, '-n', this.ns]);
          const pv = kubectlJson(['get', 'pv', pvc.spec.volumeName]);
          const want = path.join(this.kubelet.hostPath(pv.spec.hostPath.path), vm.subPath ?? '');
          // The real kubelet bind-mounts a subPath from its own volume-subpaths folder: the same file, another path.
          if (this.kubelet.real) expect(m.sourceId).toBe(fileId(want));
          else expect(m.source).toBe(want);
        } else if (vol.configMap && vm.subPath) {
          const cm = kubectlJson(['get', 'configmap', vol.configMap.name, '-n', this.ns]);
          expect(fs.readFileSync(m.source, 'utf8')).toBe(cm.data[vm.subPath]);
        }
        expect(m.readOnly).toBe(Boolean(vm.readOnly));
      }
      if (rec.entrypointNotRun) console.log(`RUNTIME [${this.variant.id}]: the task pod ran its args without the image's entrypoint ${rec.entrypointNotRun.join(' ')}`);
    }, { blocking: false });

    add("the task pod's phases are reported through the pod status API: Pending, Running, then Succeeded or Failed", ['worker'], async () => {
      const name = this.taskPodsOf('write_to_data_volume')[0].metadata.name;
      const seen = await waitForAsync(
        `a watch on the API server to see ${name} Running, then Succeeded or Failed`,
        300_000,
        () => {
          this.keepTaskLogs('write_to_data_volume'); // before the end is seen: the pod still exists
          const p = this.phases.get(name) ?? [];
          const end = Math.max(p.indexOf('Succeeded'), p.indexOf('Failed'));
          return p.includes('Running') && end > p.indexOf('Running') ? p : undefined;
        },
        () => `phases seen: ${JSON.stringify(this.phases.get(name))}`,
      );
      expect(seen[0]).toBe('Pending');
    }, { blocking: false });

    // Airflow 3's task pods call the api-server's execution API (on the real node in CI of b1b30d4, every call of one
    // task timed out): its log beside the task's when the run fails
    add('the task instance and the DAG run succeed', ['worker', 'scheduler', ...executionApi], async () => {
      const end = await this.runEnd('write_to_data_volume', 300_000);
      if (end.state !== 'success' || end.tasks.write_file !== 'success') {
        const pod = this.taskPodsOf('write_to_data_volume')[0]?.metadata.name;
        const errors = pod ? (this.taskLog(pod) ?? '').split('\n').filter((l) => /error|refused|Errno|failed|Traceback/i.test(l)).slice(-8) : [];
        throw new Error(
          `DAG run ${this.runs.write_to_data_volume}: ${end.state}, task write_file: ${end.tasks.write_file}\n` +
            `the task pod reaches the execution API at execution_api_server_url = ${this.airflowCfg('core', 'execution_api_server_url')} (airflow.cfg of ConfigMap ${this.configMap().metadata.name})\n` +
            (errors.length ? `errors in the task pod's log:\n${errors.map((l) => l.slice(0, 400)).join('\n')}` : ''),
        );
      }
    }, { blocking: false });

    add('the task wrote its file into the data volume', ['worker'], async () => {
      const pv = this.objectsOf('PersistentVolume').find((v) => v.metadata.labels?.['app.kubernetes.io/component'] === 'data-storage');
      const dir = this.kubelet.hostPath(pv.spec.hostPath.path);
      const safe = this.runs.write_to_data_volume.replace(/[^A-Za-z0-9_.-]+/g, '_');
      const file = path.join(dir, `write_to_data_volume-${safe}.txt`);
      if (!fs.existsSync(file)) throw new Error(`${file} does not exist; the data volume holds: ${fs.readdirSync(dir).join(', ') || '(nothing)'}`);
      const pod = this.taskPodsOf('write_to_data_volume')[0].metadata.name;
      expect(fs.readFileSync(file, 'utf8')).toContain(`by task pod ${pod} for run ${this.runs.write_to_data_volume}`);
      expect(fs.statSync(file).uid).toBe(50000);
    }, { blocking: false });

    add('the executor deletes the task pod', ['scheduler'], async () => {
      const name = this.taskPodsOf('write_to_data_volume')[0].metadata.name;
      await waitForAsync(
        `the KubernetesExecutor to delete pod ${name} (delete_worker_pods)`,
        this.taskPodDeletionTimeoutMs,
        () => getObject('pod', name, this.ns) === undefined,
        () => `pod ${name}: ${kubectl(['get', 'pod', name, '-n', this.ns, '-o', 'wide']).stdout}\nphases seen: ${JSON.stringify(this.phases.get(name))}`,
      );
      // The phase watch (kubectl get -w, another process) prints the DELETED event a moment after the API server
      // stops serving the pod: a step that began after the deletion once read the phases in between (CI
      // rehearsal of de877bf: ["Pending", "Running", "Succeeded"], the step 64 ms). Wait for the watch to say so.
      await waitForAsync(
        `the phase watch to see pod ${name} deleted`,
        15_000,
        () => this.phases.get(name)?.includes('Deleted') ?? false,
        () => `phases seen: ${JSON.stringify(this.phases.get(name))}`,
        200,
      );
      expect(this.phases.get(name)).toContain('Deleted');
    }, { blocking: false });

    add('per_task_resources: the pod_override resources are merged into container base, and both tasks succeed', ['scheduler', 'worker'], async () => {
      const template = this.configMap().data['pod_template_file.yaml'];
      const templateResources = parse(template).spec.containers.find((c: any) => c.name === 'base').resources;
      await this.trigger('per_task_resources');
      const end = await this.runEnd('per_task_resources', 480_000);
      this.captureTaskPods();
      const pods = this.taskPodsOf('per_task_resources');
      const byTask = Object.fromEntries(pods.map((p) => [p.metadata.labels.task_id, p]));
      expect(Object.keys(byTask).sort()).toEqual(['heavier', 'light']);
      const base = (p: any) => p.spec.containers.find((c: any) => c.name === 'base');
      expect(base(byTask.heavier).resources).toEqual({ requests: { cpu: '200m', memory: '512Mi' }, limits: { cpu: '1', memory: '1536Mi' } });
      expect(base(byTask.light).resources).toEqual(templateResources);
      // the override changed resources only: the rest of container base is the template's
      expect(base(byTask.heavier).image).toBe(base(byTask.light).image);
      expect(base(byTask.heavier).volumeMounts).toEqual(base(byTask.light).volumeMounts);
      expect(end).toEqual({ state: 'success', tasks: { light: 'success', heavier: 'success' } });
    }, { blocking: false, timeoutMs: 600_000 });

    add('no container restarted, and the scheduler log has no RBAC denial', ['scheduler'], async () => {
      const restarted = kubectlJson(['get', 'pods', '-n', this.ns]).items.flatMap((p: any) =>
        [...(p.status.containerStatuses ?? []), ...(p.status.initContainerStatuses ?? [])]
          .filter((c: any) => c.restartCount > 0)
          .map((c: any) => `${p.metadata.name}/${c.name}: ${c.restartCount} restart(s)`),
      );
      expect(restarted).toEqual([]);
      expect(this.grep('scheduler', /Forbidden|\(403\)/)).toBe('');
    }, { blocking: false });

    return s;
  }

  /**
   * The real node's memory rule (docs/runtime-tests.md "The real node"): what the kernel charges and enforces,
   * memory.max_usage_in_bytes of every running container's cgroup (page cache included) at most 80% of its
   * memory.limit_in_bytes, and no container OOM-killed. `components`: those that must be among them.
   */
  cgroupMemoryStep(components: string[]): Step {
    return {
      name: 'memory: every running container under its cgroup limit (largest usage, page cache included, at most 80%); no OOM kill',
      components: [],
      blocking: false,
      timeoutMs: 30_000,
      run: async () => {
        if (!this.kubelet.real) throw new Error('the cgroups of the real node: AIRFLOW_CDK8S_RUNTIME_NODE=real');
        const m = cgroupMemory(this.ns);
        const { over, oomKilled } = memoryReport(`RUNTIME [${this.variant.id}, real node]: memory from the cgroups`, m, this.ns);
        recordRuntime(['memory', 'cgroups', this.variant.id], m);
        for (const c of components) expect(m[c]).toBeDefined();
        expect(over).toEqual([]);
        expect(oomKilled).toEqual([]);
      },
    };
  }

  /** Records this chain's step timings in build/runtime-results.json. */
  recordTimings(): void {
    recordRuntime(['variants', this.variant.id], {
      title: this.variant.title,
      namespace: this.ns,
      steps: this.timings,
      seconds: Math.round(this.timings.reduce((a, t) => a + t.seconds, 0)),
      configLintFindings: this.findings.configLint,
    });
  }
}
