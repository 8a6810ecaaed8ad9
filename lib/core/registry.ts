import { App, Chart } from 'cdk8s';
import { IConstruct } from 'constructs';
import { AirflowCdk8sValidationError, addCheck, invalid } from './errors';
import { atSynth } from './lazy';
import type { PodPlacementOptions } from './pod-options';
import { SecretKeyRef } from './secret-key-ref';

/**
 * Where Airflow's own secrets are: what the metadata database and the Airflow control plane read, by
 * reference. `AirflowSecrets` (generated in the cluster) and `AirflowSecrets.fromExistingSecrets` (Secrets
 * you manage) both provide it; implement it to bring references of your own.
 */
export interface IAirflowSecrets {
  /** Where `[core] fernet_key` is. */
  readonly fernetKey: SecretKeyRef;
  /** Where `[api] secret_key` (Airflow 2: `[webserver] secret_key`) is. */
  readonly apiSecretKey: SecretKeyRef;
  /**
   * Where `[api_auth] jwt_secret` is. Required on Airflow 3; Airflow 2 does not read it.
   * @default - none: an Airflow 2 deployment
   */
  readonly jwtSecret?: SecretKeyRef;
  /** Where the Airflow admin user's password is. */
  readonly adminPassword: SecretKeyRef;
  /**
   * Where the metadata database password is.
   * @default - none: the database gets its password elsewhere (e.g. an external database whose whole
   *   connection URI comes from a Secret)
   */
  readonly databasePassword?: SecretKeyRef;
  /**
   * Where the password of the Celery broker inside the cluster (Redis) is: letters and digits, or other
   * URL-unreserved characters (`-._~`), since it is written into the broker URL as is. Required when Celery
   * workers run with that broker.
   * @default - none: no Celery broker in the cluster, or an external one (`celery.externalBroker`)
   */
  readonly brokerPassword?: SecretKeyRef;
}

/**
 * Secrets the chart's generated Secret holds only when a construct of the chart needs them (the other keys are
 * always generated): the Celery broker's password.
 */
export const ON_DEMAND_SECRETS: ReadonlyArray<keyof IAirflowSecrets> = ['brokerPassword'];

const REQUESTED = new WeakMap<IConstruct, Set<keyof IAirflowSecrets>>();

/**
 * Says that a construct of `scope`'s chart reads `field` of the chart's Airflow secrets, so that a generated
 * Secret includes it (see {@link ON_DEMAND_SECRETS}). Call it when the construct is built: the generated
 * Secret's content is decided at synth, whatever the order the constructs were added in.
 */
export function requestAirflowSecret(scope: IConstruct, field: keyof IAirflowSecrets): void {
  const chart = Chart.of(scope);
  const set = REQUESTED.get(chart) ?? new Set<keyof IAirflowSecrets>();
  set.add(field);
  REQUESTED.set(chart, set);
}

/** The on-demand secrets some construct of `scope`'s chart reads ({@link requestAirflowSecret}), sorted. */
export function requestedAirflowSecrets(scope: IConstruct): Array<keyof IAirflowSecrets> {
  return [...(REQUESTED.get(Chart.of(scope)) ?? [])].filter((f) => ON_DEMAND_SECRETS.includes(f)).sort();
}

const SECRETS = Symbol.for('airflow-cdk8s.AirflowSecrets');

/** Marks `construct` as its chart's Airflow secrets, which constructs without their own references use. */
export function registerAirflowSecrets(construct: IConstruct & IAirflowSecrets): void {
  Object.defineProperty(construct, SECRETS, { value: true, enumerable: false });
}

/** The Airflow secrets constructs of the chart that holds `scope`, in the order they were added. */
export function airflowSecretsOf(scope: IConstruct): Array<IConstruct & IAirflowSecrets> {
  return Chart.of(scope)
    .node.findAll()
    .filter((c): c is IConstruct & IAirflowSecrets => (c as unknown as Record<symbol, unknown>)[SECRETS] === true);
}

/** Pod specs that are not in an ApiObject's template (the worker pod template inside a ConfigMap). */
export interface IPodSpecSource extends IConstruct {
  /** The pod specs as they will be synthesized, as plain JSON. */
  podSpecs(): unknown[];
}

const POD_SPECS = Symbol.for('airflow-cdk8s.PodSpecSource');

/** Marks `construct` as a source of pod specs (see {@link podSpecSourcesIn}). */
export function registerPodSpecSource(construct: IPodSpecSource): void {
  Object.defineProperty(construct, POD_SPECS, { value: true, enumerable: false });
}

/** Every pod spec source of the app that holds `scope`, in namespace `namespace`. */
export function podSpecSourcesIn(scope: IConstruct, namespace: string): IPodSpecSource[] {
  return App.of(scope)
    .node.findAll()
    .filter(
      (c): c is IPodSpecSource =>
        (c as unknown as Record<symbol, unknown>)[POD_SPECS] === true && Chart.of(c).namespace === namespace,
    );
}

/**
 * A reference to `field` of the chart's Airflow secrets, resolved at synth (so the chart's `AirflowSecrets`
 * may be added before or after the construct that reads it). Synth fails, naming `scope` and `property`, when
 * the chart has no Airflow secrets, has several, or they lack the field.
 */
export function chartSecretRef(scope: IConstruct, field: keyof IAirflowSecrets, property: string): SecretKeyRef {
  const ref = (): SecretKeyRef => {
    const found = airflowSecretsOf(scope);
    const paths = found.map((s) => `"${s.node.path}"`).join(', ');
    if (found.length !== 1) {
      invalid(
        scope,
        property,
        undefined,
        found.length === 0
          ? `a Secret key reference { name, key }, or an AirflowSecrets in the same chart to take "${field}" from (there is none)`
          : `a Secret key reference { name, key }: the chart has several AirflowSecrets (${paths}), so which one to read is not clear`,
      );
    }
    const value = found[0][field];
    if (value === undefined) {
      invalid(scope, property, undefined, `a Secret key reference { name, key }: the chart's AirflowSecrets at ${paths} has no "${field}"`);
    }
    return value;
  };
  return { name: atSynth(() => ref().name), key: atSynth(() => ref().key) };
}

/**
 * What a chart's Airflow control plane (`KubernetesExecutorAirflow`) tells the other pods of its chart: the
 * image it runs and how its pods are pulled, placed and labelled. The pods the library makes beside it
 * (the secrets bootstrap Job, Postgres) read it at synth, so they get the chart-wide settings whichever
 * order the constructs were added in.
 */
export interface IChartPodDefaults extends IConstruct {
  /** The Airflow image. */
  readonly image: string;
  /** Its pull policy. */
  readonly imagePullPolicy: string;
  /** The chart-wide pull secrets, node selection, priority, pod labels and annotations. */
  readonly placement: PodPlacementOptions;
  /**
   * Whether the pods run under OpenShift's restricted SCC: no fixed uid, gid or fsGroup (the platform assigns them).
   * @default false
   */
  readonly openShift?: boolean;
}

const CONTROL_PLANE = Symbol.for('airflow-cdk8s.ControlPlane');

/**
 * Marks `construct` as an Airflow control plane: its chart's pods take its image and placement
 * ({@link chartPodDefaults}), and synth fails when another control plane of the app deploys into the same
 * namespace: both would make the same namespaced objects (Deployments, the ConfigMap `airflow-config`, Roles...),
 * and the one applied last would overwrite the other.
 */
export function registerControlPlane(construct: IChartPodDefaults): void {
  Object.defineProperty(construct, CONTROL_PLANE, { value: true, enumerable: false });
  addCheck(construct, () => secondControlPlane(construct));
}

function isControlPlane(c: IConstruct): c is IChartPodDefaults {
  return (c as unknown as Record<symbol, unknown>)[CONTROL_PLANE] === true;
}

/** The Airflow control planes of the app that holds `scope` deploying into `namespace`, in the app's tree order. */
export function controlPlanesIn(scope: IConstruct, namespace: string): IChartPodDefaults[] {
  return App.of(scope)
    .node.findAll()
    .filter((c): c is IChartPodDefaults => isControlPlane(c) && Chart.of(c).namespace === namespace);
}

/**
 * The control plane of the chart that holds `scope`, whose image and placement the chart's other pods take;
 * undefined when the chart has none. (A second one in the namespace fails synth: {@link registerControlPlane}.)
 */
export function chartPodDefaults(scope: IConstruct): IChartPodDefaults | undefined {
  const chart = Chart.of(scope);
  return chart.node.findAll().find((c): c is IChartPodDefaults => isControlPlane(c) && Chart.of(c) === chart);
}

function secondControlPlane(construct: IChartPodDefaults): string[] {
  const namespace = Chart.of(construct).namespace;
  if (namespace === undefined) return [];
  const all = controlPlanesIn(construct, namespace);
  const index = all.indexOf(construct);
  if (index <= 0) return [];
  return [
    new AirflowCdk8sValidationError(
      construct.constructor.name,
      construct.node.path,
      'Chart.namespace',
      namespace,
      `a namespace no other Airflow control plane of the app deploys into: "${all[0].node.path}" deploys one into ` +
        `"${namespace}" already, and both would make the same namespaced objects (the Deployments airflow-scheduler..., ` +
        'the ConfigMap airflow-config, the Roles), the one applied last overwriting the other',
      'Give each deployment a namespace of its own: namePrefix and hostRoot rename the PersistentVolumes and their folders only: namespaced objects are airflow-* in every namespace.',
    ).message,
  ];
}

/**
 * A volume where the chart's generated Airflow secrets keep a copy of their values: the claim the secrets
 * bootstrap Job mounts, and the node folder behind it. Registered by the construct whose data outlives the
 * namespace (the in-cluster metadata database on a Retain hostPath volume), so the keys that unlock that data
 * live exactly as long as it does.
 */
export interface SecretsCopyStore {
  /** The PersistentVolumeClaim the bootstrap Job mounts. */
  readonly claimName: string;
  /** The node folder behind the claim (for messages and docs). */
  readonly hostPath: string;
  /** The path of the construct that registered it. */
  readonly registeredBy: string;
}

const COPY_STORES = new WeakMap<IConstruct, SecretsCopyStore[]>();

/** Registers a {@link SecretsCopyStore} in `scope`'s chart, for the chart's generated Airflow secrets. */
export function registerSecretsCopyStore(scope: IConstruct, store: SecretsCopyStore): void {
  const chart = Chart.of(scope);
  COPY_STORES.set(chart, [...(COPY_STORES.get(chart) ?? []), store]);
}

/** The {@link SecretsCopyStore}s of `scope`'s chart, in the order they were registered. */
export function secretsCopyStoresOf(scope: IConstruct): SecretsCopyStore[] {
  return [...(COPY_STORES.get(Chart.of(scope)) ?? [])];
}
