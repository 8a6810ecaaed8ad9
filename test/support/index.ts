// The test helpers, in one place: charts to build constructs in, the walkers that find objects, pods and
// containers in synthesized YAML, airflow.cfg parsing, label-selector evaluation and the validation-error
// catcher. Every unit test imports from here (`../support`); the domain scanners stay beside it:
// pod-checks.ts (the pod security rules) and secret-scan.ts (secret material in YAML).
import { App, Chart, Testing } from 'cdk8s';
import { Construct } from 'constructs';
import { parse } from 'yaml';
import {
  AirflowCdk8sValidationError,
  AirflowCdk8sValidationErrors,
  AirflowChart,
  AirflowChartProps,
  AirflowFeatures,
  AirflowOptions,
  AirflowSecrets,
  AirflowVolumes,
  KubernetesExecutorAirflow,
  KubernetesExecutorAirflowProps,
  MetadataDb,
  addAirflowFeatures,
} from '../../lib';
import { problemsWith } from '../../lib/core';
import { parseYaml } from './secret-scan';

/** A synthesized Kubernetes object (plain JSON). */
export type Manifest = any;

// ---------------------------------------------------------------------------------------------------------
// Charts

/**
 * An empty chart in a fresh app, as every construct of the library expects it: in a namespace ("airflow"
 * unless told), without resource-name hashes. `id` is the first segment of construct paths in messages.
 */
export function testChart(options: { id?: string; namespace?: string | null } = {}): Chart {
  const namespace = options.namespace === null ? undefined : (options.namespace ?? 'airflow');
  return new Chart(Testing.app(), options.id ?? 'test', { namespace, disableResourceNameHashes: true });
}

/** Builds something into a fresh {@link testChart} and synthesizes it: `{ built, objects }`. */
export function synthIn<T>(build: (chart: Chart) => T, options: { id?: string; namespace?: string | null } = {}): {
  built: T;
  objects: Manifest[];
} {
  const chart = testChart(options);
  const built = build(chart);
  return { built, objects: Testing.synth(chart) };
}

/** A chart in namespace "airflow" with the real volumes, secrets and database, and Airflow on them. */
export function airflowChart(props: Partial<KubernetesExecutorAirflowProps & AirflowOptions> = {}): {
  chart: Chart;
  airflow: KubernetesExecutorAirflow;
  features: AirflowFeatures;
  manifests: Manifest[];
} {
  const chart = testChart();
  const volumes = new AirflowVolumes(chart, 'volumes');
  const secrets = new AirflowSecrets(chart, 'secrets');
  const database = new MetadataDb(chart, 'db', { passwordSecret: secrets.databasePassword });
  const { gitSync, remoteLogging, logRetentionDays, metrics, celery, databaseCleanup, ...controlPlane } = props;
  const airflow = new KubernetesExecutorAirflow(chart, 'airflow', { volumes, database, secrets, ...controlPlane });
  const features = addAirflowFeatures(airflow, { gitSync, remoteLogging, logRetentionDays, metrics, celery, databaseCleanup });
  return { chart, airflow, features, manifests: synthAirflow(chart, airflow.generation.endOfLife !== undefined) };
}

/**
 * What synth warns for an Airflow 2 image: it is past its end of life upstream (the warning of
 * `endOfLifeWarning`, lib/airflow/control-plane-checks.ts).
 */
export const AIRFLOW_2_END_OF_LIFE_WARNING = /^Warning: \w+ at "[^"]*": Airflow 2\.\d+\.\d+ is Airflow 2, past its end of life upstream \(2026-04-22, /;

/**
 * Synthesizes a chart with Airflow in it; for an Airflow 2 image (`endOfLife`), checks that synth warns that
 * Airflow 2 is past its end of life, and nothing else, so that a green run prints no warning.
 */
export function synthAirflow(chart: Chart, endOfLife: boolean): Manifest[] {
  return endOfLife ? expectWarns(() => Testing.synth(chart), AIRFLOW_2_END_OF_LIFE_WARNING) : Testing.synth(chart);
}

/** Whether `props` choose an Airflow 2 image (by its tag or `airflowVersion`), whose synth warns of its end of life. */
export function isAirflow2(props: { image?: string; airflowVersion?: string }): boolean {
  return /^2\./.test(props.airflowVersion ?? '') || /:(slim-)?2\.\d+\.\d+/.test(props.image ?? '');
}

/**
 * The whole AirflowChart (id `airflow`, as main.ts) with `props`, synthesized: the chart, its objects, the
 * parsed airflow.cfg and the parsed worker pod template of ConfigMap `airflow-config`.
 */
export function synthAirflowChart(props: AirflowChartProps = {}): {
  chart: AirflowChart;
  manifests: Manifest[];
  cfg: Record<string, Record<string, string>>;
  worker: any;
} {
  const chart = new AirflowChart(Testing.app(), 'airflow', props);
  const manifests = synthAirflow(chart, chart.airflow.generation.endOfLife !== undefined);
  const configMap = find(manifests, 'ConfigMap', 'airflow-config');
  return { chart, manifests, cfg: parseCfg(configMap.data['airflow.cfg']), worker: parse(configMap.data['pod_template_file.yaml']) };
}

/**
 * Secrets that already exist (`AirflowSecrets.fromExistingSecrets`, `AirflowChartProps.existingSecrets`):
 * keys spread over three Secrets, with names and keys unlike the generated ones, so that a reference that
 * still points at the generated Secret shows.
 */
export const EXISTING_SECRETS = {
  fernetKey: { name: 'vault-airflow', key: 'fernet' },
  apiSecretKey: { name: 'vault-airflow', key: 'api_secret_key' },
  jwtSecret: { name: 'vault-airflow', key: 'jwt.secret' },
  adminPassword: { name: 'airflow-admin', key: 'password' },
  databasePassword: { name: 'pg-credentials', key: 'password' },
} as const;

/**
 * The chart's secrets as the user's own Secret `airflow-secrets` (no objects): what the database and the
 * control plane find in the chart, at synth, when they are not given secrets.
 */
export function chartSecrets(chart: Chart): AirflowSecrets {
  const ref = (key: string) => ({ name: 'airflow-secrets', key });
  return AirflowSecrets.fromExistingSecrets(chart, 'secrets', {
    fernetKey: ref('fernet-key'),
    apiSecretKey: ref('api-secret-key'),
    jwtSecret: ref('jwt-secret'),
    adminPassword: ref('admin-password'),
    databasePassword: ref('db-password'),
  });
}

// ---------------------------------------------------------------------------------------------------------
// Errors

/**
 * The first refusal of what `fn` builds: the {@link AirflowCdk8sValidationError} it throws (a factory, or a
 * construct built outside the library's constructs), or the first problem of the
 * {@link AirflowCdk8sValidationErrors} that it throws or that synthesizing what it returns throws (a construct,
 * or `{ chart }`): the library's constructs record a refusal and synth reports them all at once. Fails the test
 * when there is no refusal, or another error.
 */
export function refusalsOf(fn: () => unknown): { first: AirflowCdk8sValidationError; all: readonly AirflowCdk8sValidationError[] } {
  let error: unknown;
  try {
    const built = fn();
    const scope = Construct.isConstruct(built) ? built : Construct.isConstruct((built as { chart?: unknown } | undefined)?.chart) ? (built as { chart: Construct }).chart : undefined;
    if (scope !== undefined) App.of(scope).synthYaml();
  } catch (e) {
    error = e;
  }
  if (error === undefined) throw new Error('expected an AirflowCdk8sValidationError, but nothing was thrown, at construction or at synth');
  if (error instanceof AirflowCdk8sValidationErrors) {
    expect(error.problems.length).toBeGreaterThan(0);
    return { first: error.problems[0], all: error.problems };
  }
  expect(error).toBeInstanceOf(AirflowCdk8sValidationError);
  // Thrown out of a constructor: after the problems its app recorded before it.
  const all = problemsWith(error as AirflowCdk8sValidationError);
  return { first: all[0], all };
}

/**
 * `build` and the synth of its app, as one function for `expect(...).toThrow(...)`: what it throws is the first
 * refusal ({@link refusalsOf}) where the synth reports the library's problems, so that a message can be matched
 * from its start; anything else as it is. `.not.toThrow()` on it means the whole app synthesizes.
 */
export function synthesizing(build: () => Construct): () => void {
  return () => {
    try {
      App.of(build()).synthYaml();
    } catch (error) {
      if (error instanceof AirflowCdk8sValidationErrors) throw error.problems[0];
      throw error instanceof AirflowCdk8sValidationError ? problemsWith(error)[0] : error;
    }
  };
}

/**
 * The {@link AirflowCdk8sValidationError} that `fn` gets ({@link refusalsOf}: thrown at construction, or the
 * first problem reported at synth); fails the test when there is none, or another error. With `property`, the
 * error must name it; with `message`, match it.
 */
export function validationError(fn: () => unknown, property?: string, message?: RegExp): AirflowCdk8sValidationError {
  const v = refusalsOf(fn).first;
  if (property !== undefined) expect(v.property).toBe(property);
  if (message !== undefined) expect(v.message).toMatch(message);
  return v;
}

/**
 * The message of the error `f` throws (any error, not only a validation error), or, when `f` returns a construct,
 * the error its app's synth throws; fails the test when there is none. A synth that fails with one problem of the library and nothing else gives that problem's message.
 */
export function errorOf(f: () => unknown): string {
  try {
    // A construct (or something with its chart) that `f` builds is synthesized: refusals are reported there.
    const built = f();
    const scope = Construct.isConstruct(built) ? built : Construct.isConstruct((built as { chart?: unknown } | undefined)?.chart) ? (built as { chart: Construct }).chart : undefined;
    if (scope !== undefined) App.of(scope).synthYaml();
  } catch (e) {
    if (e instanceof AirflowCdk8sValidationErrors && e.problems.length === 1 && e.others.length === 0) return e.problems[0].message;
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

/** Synthesizes `chart` with console.warn caught: it must print `Warning: <warning>` (cdk8s's form of a construct warning). */
export function expectSynthWarns(chart: Chart, warning: string): void {
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  try {
    Testing.synth(chart);
    expect(warn).toHaveBeenCalledWith(`Warning: ${warning}`);
  } finally {
    warn.mockRestore();
  }
}

/**
 * Runs `build` with console.warn spied on (so a green run prints no warning), and checks what it warned:
 * each of `expected` at least once, nothing else. Returns what `build` returned.
 */
export function expectWarns<T>(build: () => T, ...expected: RegExp[]): T {
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  try {
    const result = build();
    const said = warn.mock.calls.map((c) => String(c[0]));
    for (const e of expected) expect([e, said.some((s) => e.test(s))]).toEqual([e, true]);
    for (const s of said) expect([s, expected.some((e) => e.test(s))]).toEqual([s, true]);
    return result;
  } finally {
    warn.mockRestore();
  }
}

/** Builds {@link airflowChart} with `props` and returns the validation error it throws (or fails the test). */
export function airflowError(props: Partial<KubernetesExecutorAirflowProps & AirflowOptions>): AirflowCdk8sValidationError {
  return validationError(() => airflowChart(props));
}

// ---------------------------------------------------------------------------------------------------------
// Finding objects

/** The object of `kind` named `name` (the first of that kind without a name); throws, listing what there is. */
export function find(manifests: Manifest[], kind: string, name?: string): Manifest {
  const found = manifests.find((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
  if (!found) {
    const present = manifests.map((o) => `${o.kind}/${o.metadata?.name}`).join(', ');
    throw new Error(`no ${kind}${name === undefined ? '' : `/${name}`} among ${present}`);
  }
  return found;
}

/** The objects of `kind`, in order. */
export function byKind(manifests: Manifest[], kind: string): Manifest[] {
  return manifests.filter((o) => o.kind === kind);
}

/** `apiVersion Kind/name` of each object, in order. */
export function objectIds(manifests: Manifest[]): string[] {
  return manifests.map((o) => `${o.apiVersion} ${o.kind}/${o.metadata.name}`);
}

/** The parsed airflow.cfg of the ConfigMap: section -> key -> raw value. */
export function parseCfg(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1];
      out[section] = {};
      continue;
    }
    const eq = line.indexOf(' = ');
    out[section][line.slice(0, eq)] = line.slice(eq + 3);
  }
  return out;
}

/** The airflow.cfg of ConfigMap `airflow-config`, parsed. */
export function cfgOf(manifests: Manifest[]): Record<string, Record<string, string>> {
  return parseCfg(find(manifests, 'ConfigMap', 'airflow-config').data['airflow.cfg']);
}

// ---------------------------------------------------------------------------------------------------------
// Pods and containers

/** A pod spec found in the synthesized objects. */
export interface FoundPod {
  /** `Kind/name` of the object that holds it (for a ConfigMap: `ConfigMap/name key`). */
  readonly object: string;
  /** The pod's labels. */
  readonly labels: Record<string, string>;
  /** The pod spec (plain JSON). */
  readonly spec: any;
}

/**
 * Every pod spec in `objects`: Pods, the templates of Deployments, StatefulSets, DaemonSets, ReplicaSets,
 * Jobs and CronJobs, and Pods in YAML documents inside ConfigMaps (the worker `pod_template_file.yaml`).
 */
export function podsOf(objects: Manifest[]): FoundPod[] {
  const found: FoundPod[] = [];
  for (const o of objects) {
    const name = `${o.kind}/${o.metadata?.name}`;
    switch (o.kind) {
      case 'Pod':
        found.push({ object: name, labels: o.metadata?.labels ?? {}, spec: o.spec });
        break;
      case 'Deployment':
      case 'StatefulSet':
      case 'DaemonSet':
      case 'ReplicaSet':
      case 'Job':
        found.push({ object: name, labels: o.spec?.template?.metadata?.labels ?? {}, spec: o.spec?.template?.spec });
        break;
      case 'CronJob': {
        const t = o.spec?.jobTemplate?.spec?.template;
        found.push({ object: name, labels: t?.metadata?.labels ?? {}, spec: t?.spec });
        break;
      }
      case 'ConfigMap':
        for (const [key, value] of Object.entries<any>(o.data ?? {})) {
          if (typeof value !== 'string' || !/\.ya?ml$/.test(key)) continue;
          for (const doc of parseYaml(value)) {
            if (doc?.kind === 'Pod') found.push({ object: `${name} ${key}`, labels: doc.metadata?.labels ?? {}, spec: doc.spec });
          }
        }
        break;
      default:
        break;
    }
  }
  return found;
}

/**
 * The pod specs of the Airflow control plane (Deployments and Jobs labelled part-of airflow, not the
 * database's, the secrets bootstrap's or the volume-permissions Job's, nor the pods beside Airflow that run
 * no Airflow: git-sync, the statsd-exporter and PgBouncer), by `Kind/name`.
 */
export function airflowPodSpecs(manifests: Manifest[]): Map<string, any> {
  const out = new Map<string, any>();
  for (const pod of podsOf(manifests)) {
    if (!/^(Deployment|Job)\//.test(pod.object)) continue;
    const component = pod.labels['app.kubernetes.io/component'];
    if (pod.labels['app.kubernetes.io/part-of'] !== 'airflow' || ['metadata-db', 'secrets-bootstrap', 'volume-permissions', 'git-sync', 'statsd', 'pgbouncer'].includes(component)) continue;
    out.set(pod.object, pod.spec);
  }
  return out;
}

/** Every `secretKeyRef` (`{ name, key }`) anywhere inside `value` (objects and arrays, walked depth-first). */
export function secretKeyRefs(value: unknown): Array<{ name: string; key: string }> {
  const refs: Array<{ name: string; key: string }> = [];
  const walk = (v: any): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      if (v.secretKeyRef) refs.push(v.secretKeyRef);
      Object.values(v).forEach(walk);
    }
  };
  walk(value);
  return refs;
}

/** The init containers, then the containers, of a pod spec. */
export function containersOf(spec: any): any[] {
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
}

/** The env entry `name` of a container, or undefined. */
export function envOf(container: any, name: string): any {
  return (container.env ?? []).find((e: any) => e.name === name);
}

// ---------------------------------------------------------------------------------------------------------
// Label selectors

/** Whether a Kubernetes label selector (matchLabels AND matchExpressions) selects `labels`, as the API server does. */
export function selects(selector: any, labels: Record<string, string>): boolean {
  const byLabels = Object.entries<string>(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpressions = (selector.matchExpressions ?? []).every((e: any) => {
    switch (e.operator) {
      case 'In':
        return e.values.includes(labels[e.key]);
      case 'NotIn':
        return !e.values.includes(labels[e.key]);
      case 'Exists':
        return e.key in labels;
      case 'DoesNotExist':
        return !(e.key in labels);
      default:
        throw new Error(`unknown operator ${e.operator}`);
    }
  });
  return byLabels && byExpressions;
}

// ---------------------------------------------------------------------------------------------------------
// Comparing objects

/** Every leaf of a JSON value as `a.b[0].c` -> value; with `arraysAsLeaves`, arrays are leaves, not walked. */
export function leaves(value: unknown, options: { arraysAsLeaves?: boolean } = {}, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (v: unknown, p: string): void => {
    if (Array.isArray(v) && !options.arraysAsLeaves) v.forEach((item, i) => walk(item, `${p}[${i}]`));
    else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, child] of Object.entries(v)) walk(child, p ? `${p}.${k}` : k);
    } else out.set(p, v);
  };
  walk(value, prefix);
  return out;
}

/**
 * The default volumes (dags, logs, data) the Airflow pod `object` ("Deployment/airflow-scheduler",
 * "Job/airflow-db-migrate-...") mounts, in order (lib/airflow/volume-use.ts): each pod only what it uses.
 */
export function defaultVolumesOf(object: string, major: 2 | 3 = 3): string[] {
  const name = object.replace(/^[A-Za-z]+\/airflow-/, '');
  if (/^(api-server|webserver)$/.test(name)) return ['logs'];
  if (name === 'scheduler') return major === 2 ? ['dags', 'logs'] : ['logs'];
  if (name === 'dag-processor') return ['dags', 'logs'];
  if (name === 'triggerer') return ['dags', 'logs', 'data'];
  if (name.startsWith('db-migrate')) return major === 2 ? ['dags'] : [];
  if (name.startsWith('create-user')) return [];
  return ['dags', 'logs', 'data'];
}
