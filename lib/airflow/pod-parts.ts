import { Chart } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import * as k8s from '../../imports/k8s';
import {
  AirflowCdk8sValidationError,
  AirflowVersion,
  PodOptions,
  PodPlacementOptions,
  PodVolume,
  addCheck,
  airflowLabels,
  atSynth,
  invalid,
  resolveAtSynth,
  resourceRequirements,
  oneShotJobLabels,
  shortHash,
  podEnv,
  podEnvFrom,
  podExtraVolumeMounts,
  podExtraVolumes,
  podPlacementFields,
  podTemplateMetadata,
  validateByteQuantity,
  validateCpuQuantity,
  validatePodOptions,
} from '../core';
import { airflowContainerSecurityContext, airflowPodSecurityContext } from '../security';
import { claimsOfApp } from '../storage';
import type { KubernetesExecutorAirflow } from './kubernetes-executor-airflow';

/** The name of the init container that waits for `airflow db migrate` to have run. */
export const WAIT_FOR_MIGRATIONS_CONTAINER_NAME = 'wait-for-airflow-migrations';

/**
 * How long `airflow db check-migrations` waits for the migrations before it fails (the pod is then restarted
 * and waits again). The official chart waits 60 s; the first start on minikube (image pulls, a fresh
 * database, 2 CPUs shared by everything) takes longer, and every restart adds back-off.
 */
export const MIGRATION_WAIT_TIMEOUT_SECONDS = 600;

/** CPU and memory of one container: requests and limits, as Kubernetes quantities ("100m", "384Mi"). */
export interface ContainerResources {
  /** CPU request. */
  readonly cpuRequest: string;
  /** Memory request. */
  readonly memoryRequest: string;
  /** CPU limit. */
  readonly cpuLimit: string;
  /** Memory limit. */
  readonly memoryLimit: string;
}

/** The resources of `airflow db check-migrations`, the init container of every component (measured: 202 MiB RSS). */
export const ONE_SHOT_RESOURCES: ContainerResources = { cpuRequest: '50m', memoryRequest: '192Mi', cpuLimit: '500m', memoryLimit: '768Mi' };

/** The resources of `airflow users create` (measured: 239 MiB RSS). */
export const CREATE_USER_RESOURCES: ContainerResources = { cpuRequest: '50m', memoryRequest: '224Mi', cpuLimit: '500m', memoryLimit: '768Mi' };

/** Pod options made concrete for one pod: the fields, env entries, volumes and metadata they add. */
export interface ResolvedPodOptions {
  /** Pull secrets, node selection, priority: pod-spec fields. */
  readonly placement: Partial<k8s.PodSpec>;
  /** Extra env entries of the Airflow containers. */
  readonly env: k8s.EnvVar[];
  /** envFrom entries of the Airflow containers. */
  readonly envFrom: k8s.EnvFromSource[];
  /** Extra pod volumes. */
  readonly volumes: k8s.Volume[];
  /** Their mounts in the Airflow containers. */
  readonly volumeMounts: k8s.VolumeMount[];
  /** Extra pod labels. */
  readonly podLabels: Record<string, string>;
  /** Extra pod annotations. */
  readonly podAnnotations: Record<string, string>;
  /** Annotations of the pod's ServiceAccount. */
  readonly serviceAccountAnnotations: Record<string, string>;
}

/** No pod options at all. */
export const NO_POD_OPTIONS: ResolvedPodOptions = {
  placement: {},
  env: [],
  envFrom: [],
  volumes: [],
  volumeMounts: [],
  podLabels: {},
  podAnnotations: {},
  serviceAccountAnnotations: {},
};

/**
 * Variables on which the official image's entrypoint (`/entrypoint`) does work at every container start,
 * before the command: a task pod would install packages, migrate the database or create a user before each
 * task (and `_PIP_ADDITIONAL_REQUIREMENTS` also kills the container after 10 minutes); each with what it does.
 */
export const ENTRYPOINT_START_UP_ENV: Readonly<Record<string, string>> = {
  _PIP_ADDITIONAL_REQUIREMENTS: 'pip-installs packages at every start and kills the container 10 minutes later',
  _AIRFLOW_DB_MIGRATE: 'runs "airflow db migrate" at every start (the db-migrate Job does it once)',
  _AIRFLOW_DB_UPGRADE: 'runs "airflow db migrate" at every start (the db-migrate Job does it once)',
  _AIRFLOW_WWW_USER_CREATE: 'runs "airflow users create" at every start (the create-user Job does it once)',
};

/** The extra volumes whose claims are checked already, by the construct they were checked for. */
const CLAIMS_CHECKED = new WeakMap<IConstruct, WeakSet<PodVolume>>();

/**
 * Refuses, at synth, an extra volume (`PodVolume.existingClaim`) that mounts a claim of the app's own storage
 * ({@link claimsOfApp}): the library mounts those where they belong, and through `extraVolumes` they would reach
 * every pod of the option, the database's data and keys included (task code reading and writing Postgres' files),
 * or the DAGs writable where tasks run. At synth, because the storage may be added after the pods. Each volume once
 * per construct: the chart-wide options are merged into each component's.
 */
function checkOwnClaims(scope: IConstruct, p: (name: string) => string, volumes: readonly PodVolume[]): void {
  const checked = CLAIMS_CHECKED.get(scope) ?? new WeakSet<PodVolume>();
  CLAIMS_CHECKED.set(scope, checked);
  const claims = volumes.flatMap((v, i) => (v.claimName !== undefined && !checked.has(v) ? [{ v, i }] : []));
  claims.forEach(({ v }) => checked.add(v));
  if (claims.length === 0) return;
  addCheck(scope, () => {
    const namespace = Chart.of(scope).namespace;
    const own = claimsOfApp(scope).filter((c) => c.namespace === namespace);
    return claims.flatMap(({ v, i }) => {
      const used = own.find((c) => c.claimName === v.claimName);
      if (!used) return [];
      return [
        new AirflowCdk8sValidationError(
          scope.constructor.name,
          scope.node.path,
          p(`extraVolumes[${i}].claimName`),
          v.claimName,
          `a claim the app's storage does not use: "${v.claimName}" is the claim of ${used.usedBy}, which the library mounts where it belongs (the metadata database's only into Postgres, the DAGs read-only where tasks run)`,
          'Mount a claim of its own for another folder; the Airflow volumes are in every Airflow pod already (AirflowVolumes).',
        ).message,
      ];
    });
  });
}

/**
 * `options` checked and made concrete in the name of `scope` (`property` names them in errors). An env
 * variable the library sets itself (`reservedEnv`) cannot be replaced, and Airflow settings
 * (`AIRFLOW__SECTION__KEY`) as literals are refused: they belong in `config`, which is checked against
 * Airflow's keys. Nor are the variables that make the image's entrypoint work at every start
 * ({@link ENTRYPOINT_START_UP_ENV}). Extra volumes may not reuse the name of a volume the pod has
 * (`reservedVolumes`).
 */
export function resolvePodOptions(
  scope: IConstruct,
  property: string,
  options: PodOptions,
  reservedEnv: readonly string[] = [],
  reservedVolumes: readonly string[] = [],
): ResolvedPodOptions {
  validatePodOptions(scope, property, options);
  const p = (name: string) => (property ? `${property}.${name}` : name);
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (reservedEnv.includes(name)) {
      invalid(scope, p(`env["${name}"]`), name, `a variable the library does not set itself (it sets ${reservedEnv.join(', ')})`);
    }
    if (ENTRYPOINT_START_UP_ENV[name] !== undefined) {
      invalid(
        scope,
        p(`env["${name}"]`),
        name,
        `a variable the image's entrypoint does not act on: "${name}" ${ENTRYPOINT_START_UP_ENV[name]}, in every pod it reaches (each task pod included)`,
        name === '_PIP_ADDITIONAL_REQUIREMENTS' ? 'Build your own image FROM apache/airflow with the packages, and set image.' : undefined,
      );
    }
    if (/^AIRFLOW__[A-Z0-9_]+__[A-Z0-9_]+$/.test(name) && value.isLiteral) {
      invalid(
        scope,
        p(`env["${name}"]`),
        name,
        'no Airflow setting as a literal variable: it would bypass the checks of airflow.cfg',
        'Put it in config ({ section: { key: value } }), or read a secret one with EnvValue.fromSecret.',
      );
    }
  }
  (options.extraVolumes ?? []).forEach((v, i) => {
    if (reservedVolumes.includes(v.name)) {
      invalid(scope, p(`extraVolumes[${i}].name`), v.name, `a volume name the pod does not use already (${reservedVolumes.join(', ')})`);
    }
  });
  checkOwnClaims(scope, p, options.extraVolumes ?? []);
  return {
    placement: podPlacementFields(options),
    env: podEnv(scope, property, options),
    envFrom: podEnvFrom(scope, property, options),
    volumes: podExtraVolumes(scope, property, options),
    volumeMounts: podExtraVolumeMounts(options),
    podLabels: { ...options.podLabels },
    podAnnotations: { ...options.podAnnotations },
    serviceAccountAnnotations: { ...options.serviceAccountAnnotations },
  };
}

/** What every Airflow pod of the control plane (Deployments and Jobs) is built from. */
export interface AirflowPodParts {
  /** The Airflow version. */
  readonly airflowVersion: AirflowVersion;
  /** The image. */
  readonly image: string;
  /** The image pull policy. */
  readonly imagePullPolicy: string;
  /**
   * The environment of the pod's Airflow containers: `AIRFLOW_CONFIG`, the secrets by reference, and what
   * features add. Called at synth, so that features added after the control plane was built are in it.
   */
  readonly env: () => k8s.EnvVar[];
  /**
   * The pod volumes: dags, logs, data (...) and the configuration ConfigMap. Called at synth, so that volumes
   * added after the control plane was built are in every pod.
   */
  readonly volumes: () => k8s.Volume[];
  /** The container mounts: every volume at its path, and `airflow.cfg`, and what features add. */
  readonly volumeMounts: () => k8s.VolumeMount[];
  /**
   * The pod volumes features add (for their mounts above), for the one-shot Jobs; a Deployment's component adds
   * them with its sidecars' (control-plane-components.ts). Called at synth.
   * @default - none
   */
  readonly contributedVolumes?: () => k8s.Volume[];
  /** sha256 of the configuration ConfigMap. */
  readonly configChecksum: string;
  /**
   * The securityContext of the Airflow containers.
   * @default - airflowContainerSecurityContext(): read-only root file system
   */
  readonly containerSecurityContext?: k8s.SecurityContext;
  /**
   * The pod securityContext.
   * @default - airflowPodSecurityContext(): uid 50000, gid 0, fsGroup 0
   */
  readonly podSecurityContext?: k8s.PodSecurityContext;
  /** The init container that waits until the database accepts connections. */
  readonly waitForDatabase: k8s.Container;
  /**
   * The pod options of the pod (chart-wide merged with the component's).
   * @default - none
   */
  readonly pod?: ResolvedPodOptions;
}

/** CPU and memory requests and limits, as Kubernetes quantities: lib/core's, for the boxes below this one too. */
export { resourceRequirements };

/**
 * `given` over `defaults` (what is not given keeps its default), each quantity checked, requests at most
 * limits. `property` names the prop in error messages, e.g. "scheduler.resources".
 */
export function resolveResources(
  scope: IConstruct,
  property: string,
  defaults: ContainerResources,
  given: Partial<ContainerResources> | undefined,
): ContainerResources {
  const set = Object.fromEntries(Object.entries(given ?? {}).filter(([, v]) => v !== undefined));
  const r: ContainerResources = { ...defaults, ...set };
  const cpuReq = validateCpuQuantity(scope, `${property}.cpuRequest`, r.cpuRequest);
  const cpuLim = validateCpuQuantity(scope, `${property}.cpuLimit`, r.cpuLimit);
  const memReq = validateByteQuantity(scope, `${property}.memoryRequest`, r.memoryRequest);
  const memLim = validateByteQuantity(scope, `${property}.memoryLimit`, r.memoryLimit);
  if (cpuReq > cpuLim) invalid(scope, `${property}.cpuRequest`, r.cpuRequest, `at most the CPU limit (${JSON.stringify(r.cpuLimit)})`);
  if (memReq > memLim) invalid(scope, `${property}.memoryRequest`, r.memoryRequest, `at most the memory limit (${JSON.stringify(r.memoryLimit)})`);
  return r;
}

/** A container of the control plane that is not given explicitly: name, resources, and what differs. */
export interface AirflowContainerOptions extends Partial<k8s.Container> {
  /** The container's name. */
  readonly name: string;
  /** Its CPU and memory requests and limits. */
  readonly resources: k8s.ResourceRequirements;
  /**
   * Mounts beside the parts' volumes and the pod options' extra volumes.
   * @default - none
   */
  readonly extraVolumeMounts?: k8s.VolumeMount[];
  /**
   * Environment variables after the parts' (and before the pod options').
   * @default - none
   */
  readonly extraEnv?: k8s.EnvVar[] | (() => k8s.EnvVar[]);
}

/**
 * An Airflow container of the control plane: the parts' image, pull policy, environment and mounts (with the
 * pod options' env, envFrom and extra volumes), and the Airflow container securityContext; `options` adds
 * the name, resources, command and anything that differs.
 */
export function airflowContainer(parts: AirflowPodParts, options: AirflowContainerOptions): k8s.Container {
  const pod = parts.pod ?? NO_POD_OPTIONS;
  const { extraVolumeMounts, extraEnv, ...rest } = options;
  return {
    image: parts.image,
    imagePullPolicy: parts.imagePullPolicy,
    env: atSynth(() => [...parts.env(), ...(typeof extraEnv === 'function' ? extraEnv() : (extraEnv ?? [])), ...pod.env]),
    ...(pod.envFrom.length ? { envFrom: pod.envFrom } : {}),
    volumeMounts: atSynth(() => [...parts.volumeMounts(), ...pod.volumeMounts, ...(extraVolumeMounts ?? [])]),
    securityContext: parts.containerSecurityContext ?? airflowContainerSecurityContext(),
    ...rest,
  };
}

/**
 * The pod spec of a control-plane pod: the Airflow pod securityContext, the parts' volumes, the pod
 * options' placement and extra volumes, and `extraVolumes` (for sidecars).
 */
export function airflowPodSpec(
  parts: AirflowPodParts,
  spec: Pick<k8s.PodSpec, 'serviceAccountName' | 'automountServiceAccountToken' | 'restartPolicy' | 'terminationGracePeriodSeconds' | 'initContainers' | 'containers'>,
  extraVolumes: () => k8s.Volume[] = () => [],
): k8s.PodSpec {
  const pod = parts.pod ?? NO_POD_OPTIONS;
  return {
    ...spec,
    ...pod.placement,
    securityContext: parts.podSecurityContext ?? airflowPodSecurityContext(),
    volumes: atSynth(() => [...parts.volumes(), ...pod.volumes, ...extraVolumes()]),
  };
}

/** The pod template metadata of a component: its labels (over the pod options'), and annotations. */
export function airflowPodMetadata(
  parts: AirflowPodParts,
  labels: Record<string, string>,
  annotations: Record<string, string> = {},
): k8s.ObjectMeta {
  return podTemplateMetadata(labels, parts.pod ?? NO_POD_OPTIONS, annotations);
}

/**
 * What a pod of the control plane's `component` is built from (its components', its Jobs', and the features'
 * Airflow pods): the image, the control plane's environment (`controlPlaneEnv`) and what the features add to
 * `component`, its volumes, the configuration's checksum, the security contexts, the database wait, and the pod
 * options `resolvePod` checks and makes concrete (last, as the control plane records them).
 */
export function controlPlanePodParts(
  airflow: KubernetesExecutorAirflow,
  controlPlaneEnv: readonly k8s.EnvVar[],
  component: string,
  resolvePod: () => ResolvedPodOptions,
): AirflowPodParts {
  return {
    airflowVersion: airflow.airflowVersion,
    image: airflow.image,
    imagePullPolicy: airflow.imagePullPolicy,
    env: () => [...controlPlaneEnv, ...airflow.contributed('env', component)],
    volumes: () => airflow.airflowPodVolumes(component),
    volumeMounts: () => airflow.airflowVolumeMounts(component),
    contributedVolumes: () => airflow.contributed('volumes', component),
    configChecksum: airflow.configuration.checksumAtSynth(),
    containerSecurityContext: airflow.airflowContainerSecurityContext(),
    podSecurityContext: airflow.airflowPodSecurityContext(),
    // The database's wait-for-db runs in the Airflow image: give it the same pull policy (a local
    // ":latest" image would otherwise default to Always and fail to pull).
    waitForDatabase: { ...airflow.database.waitForDatabaseContainer(airflow.image, airflow.airflowContainerSecurityContext()), imagePullPolicy: airflow.imagePullPolicy },
    pod: resolvePod(),
  };
}

/** The ServiceAccount `name` of a component; a token only where `automountToken` says the pod uses the API. */
export function airflowServiceAccount(
  scope: Construct,
  id: string,
  name: string,
  component: string,
  automountToken: boolean,
  annotations: Record<string, string> = {},
): k8s.KubeServiceAccount {
  return new k8s.KubeServiceAccount(scope, id, {
    metadata: { name, labels: airflowLabels(component), ...(Object.keys(annotations).length ? { annotations } : {}) },
    automountServiceAccountToken: automountToken,
  });
}

/**
 * The init container that waits until `airflow db migrate` has brought the database to the image's schema
 * (`airflow db check-migrations`), so that no component starts on a half-migrated database.
 */
export function waitForMigrationsContainer(parts: AirflowPodParts): k8s.Container {
  return airflowContainer(parts, {
    name: WAIT_FOR_MIGRATIONS_CONTAINER_NAME,
    args: ['bash', '-c', `exec airflow db check-migrations --migration-wait-timeout=${MIGRATION_WAIT_TIMEOUT_SECONDS}`],
    resources: resourceRequirements(ONE_SHOT_RESOURCES),
  });
}

/** What {@link oneShotJob} builds a Job from. */
export interface OneShotJobOptions {
  /** What the Airflow pods are built from. */
  readonly parts: AirflowPodParts;
  /** The component (`db-migrate`, `create-user`). */
  readonly component: string;
  /** The ServiceAccount the Job runs as (created, without a token). */
  readonly serviceAccountName: string;
  /** The start of the Job's name; the first 8 hex digits of the sha256 of its pod spec follow. */
  readonly namePrefix: string;
  /**
   * Labels of the Job and its pod, beside the component's.
   * @default - none
   */
  readonly extraLabels?: Record<string, string>;
  /** The init containers. */
  readonly initContainers: k8s.Container[];
  /** The one container. */
  readonly container: k8s.Container;
}

/**
 * A one-shot Job of the control plane and its ServiceAccount (no token). A Job's pod template is immutable,
 * so the Job is named after what it runs: `<namePrefix>-<first 8 hex digits of the sha256 of its pod spec>`,
 * computed at synth. Applying the same YAML again changes nothing; a changed pod spec is a new Job.
 */
export function oneShotJob(scope: Construct, options: OneShotJobOptions): { serviceAccount: k8s.KubeServiceAccount; job: k8s.KubeJob; jobName: () => string } {
  const { parts } = options;
  const labels = { ...airflowLabels(options.component), ...options.extraLabels };
  const serviceAccount = airflowServiceAccount(
    scope,
    'service-account',
    options.serviceAccountName,
    options.component,
    false,
    parts.pod?.serviceAccountAnnotations,
  );
  const podSpec = airflowPodSpec(parts, {
    serviceAccountName: options.serviceAccountName,
    automountServiceAccountToken: false,
    restartPolicy: 'OnFailure',
    initContainers: options.initContainers,
    containers: [options.container],
  }, () => parts.contributedVolumes?.() ?? []);
  const jobName = () => `${options.namePrefix}-${shortHash(resolveAtSynth(podSpec))}`;
  const job = new k8s.KubeJob(scope, 'job', {
    metadata: { name: atSynth(jobName), labels: { ...labels, ...oneShotJobLabels() } },
    spec: { backoffLimit: 6, template: { metadata: airflowPodMetadata(parts, labels), spec: podSpec } },
  });
  return { serviceAccount, job, jobName };
}

const POD_OPTION_KEYS = [
  'imagePullSecrets',
  'nodeSelector',
  'tolerations',
  'affinity',
  'topologySpreadConstraints',
  'priorityClassName',
  'podLabels',
  'podAnnotations',
  'env',
  'envFrom',
  'extraVolumes',
  'serviceAccountAnnotations',
] as const;

const PLACEMENT_KEYS = ['imagePullSecrets', 'nodeSelector', 'tolerations', 'affinity', 'topologySpreadConstraints', 'priorityClassName', 'podLabels', 'podAnnotations'] as const;

/** The pod options among the props (the chart-wide ones). */
export function pickPodOptions(props: PodOptions): PodOptions {
  return withoutUndefined(Object.fromEntries(POD_OPTION_KEYS.map((k) => [k, props[k]]))) as PodOptions;
}

/** The placement and metadata options only (for pods that are not Airflow's: Postgres, the bootstrap Job). */
export function pickPlacement(options: PodPlacementOptions): PodPlacementOptions {
  return withoutUndefined(Object.fromEntries(PLACEMENT_KEYS.map((k) => [k, options[k]]))) as PodPlacementOptions;
}

function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** `value`, frozen all the way down (what a getter hands out that must not be changed in place). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
