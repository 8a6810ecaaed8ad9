import { AIRFLOW_TMP_PATH, AIRFLOW_TMP_VOLUME_NAME } from './volume-use';
import { IConstruct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { AirflowCdk8sValidationError, AirflowGeneration, addCheck, AirflowVersion, IAirflowSecrets, MINIMUM_MULTIPLE_EXECUTORS_VERSION, chartSecretRef, invalid, parseImageReference, problemsOf, validateInteger, validateSecretKeyRef } from '../core';
import type { KubernetesExecutorAirflow } from './kubernetes-executor-airflow';
import { AirflowContribution } from './airflow-feature';
import { ResolvedPodOptions } from './pod-parts';
import { AirflowVolumes, StorageProvisioningMode } from '../storage';
import { ControlPlaneOptions } from './airflow-options';
import { AIRFLOW_CONFIG_VOLUME_NAME } from './airflow-configuration';

// The control plane's inputs that need more than a validator: each resolved once, in the name of `scope`.

/** The secrets given, checked; or references to the chart's AirflowSecrets, resolved at synth. */
export function resolveControlPlaneSecrets(scope: IConstruct, generation: AirflowGeneration, secrets: IAirflowSecrets | undefined): IAirflowSecrets {
  if (secrets === undefined) {
    const fromChart = (field: keyof IAirflowSecrets) => chartSecretRef(scope, field, `secrets.${field}`);
    return {
      fernetKey: fromChart('fernetKey'),
      apiSecretKey: fromChart('apiSecretKey'),
      adminPassword: fromChart('adminPassword'),
      ...(generation.usesJwtSecret ? { jwtSecret: fromChart('jwtSecret') } : {}),
    };
  }
  if (typeof secrets !== 'object' || secrets === null) {
    invalid(scope, 'secrets', secrets, 'the Secret keys of fernetKey, apiSecretKey, jwtSecret and adminPassword (AirflowSecrets)');
  }
  for (const field of ['fernetKey', 'apiSecretKey', 'adminPassword'] as const) validateSecretKeyRef(scope, `secrets.${field}`, secrets[field]);
  if (generation.usesJwtSecret) {
    if (secrets.jwtSecret === undefined) {
      invalid(
        scope,
        'secrets.jwtSecret',
        undefined,
        `a Secret key reference { name, key } on ${generation.name}: [api_auth] jwt_secret signs the tokens of the API and the execution API`,
      );
    }
    validateSecretKeyRef(scope, 'secrets.jwtSecret', secrets.jwtSecret);
  }
  return secrets;
}

/** Whether DAG files are parsed by a dag-processor of their own (required on Airflow 3). */
export function resolveStandaloneDagProcessor(scope: IConstruct, generation: AirflowGeneration, props: ControlPlaneOptions): boolean {
  const standalone = props.standaloneDagProcessor ?? generation.standaloneDagProcessorByDefault;
  if (generation.requiresStandaloneDagProcessor && !standalone) {
    invalid(scope, 'standaloneDagProcessor', false, `true (or unset) on ${generation.name}: its scheduler no longer parses DAG files, the dag-processor does`);
  }
  if (props.dagProcessor !== undefined && !standalone) {
    invalid(scope, 'dagProcessor', props.dagProcessor, 'nothing without a standalone dag-processor', 'Set standaloneDagProcessor: true.');
  }
  return standalone;
}

/** The slots of default_pool: `parallelism` unless given; fewer is allowed, with a warning. */
export function resolveDefaultPoolSlots(scope: IConstruct, given: number | undefined, parallelism: number, warnings: string[]): number {
  const slots = validateInteger(scope, 'defaultPoolSlots', given ?? parallelism, 1, 10_000);
  if (slots < parallelism) {
    warnings.push(
      `${scope.constructor.name} at "${scope.node.path}": defaultPoolSlots (${slots}) is smaller than parallelism ` +
        `(${parallelism}): at most ${slots} tasks of default_pool run at once. Raise defaultPoolSlots, or ` +
        'give tasks pools of their own.',
    );
  }
  return slots;
}

/** [logging] base_log_folder is set from the logs volume when the control plane is built: a later one is an error. */
export function refuseLogsVolumeAddedLater(scope: IConstruct, volumes: AirflowVolumes): void {
  const hadLogs = volumes.has('logs');
  addCheck(scope, () =>
    !hadLogs && volumes.has('logs')
      ? [
        `${scope.constructor.name} at "${scope.node.path}": the "logs" volume was added to ${volumes.node.path} after ` +
            'this construct was built, so [logging] base_log_folder does not point at it. Add it before (props.volumes of AirflowVolumes).',
      ]
      : [],
  );
}

/**
 * The warning for an image of a generation past its end of life upstream (Airflow 2: 2026-04-22, apache/airflow
 * README "Version Life Cycle"); undefined while the generation is supported. It still synthesizes: what works on
 * 2.7–2.11 keeps working, but Airflow publishes no more fixes, security fixes included.
 */
export function endOfLifeWarning(scope: IConstruct, generation: AirflowGeneration, version: AirflowVersion): string | undefined {
  if (generation.endOfLife === undefined) return undefined;
  return (
    `${scope.constructor.name} at "${scope.node.path}": Airflow ${version} is ${generation.name}, past its end of life upstream ` +
    `(${generation.endOfLife}, apache/airflow README "Version Life Cycle"): Apache Airflow publishes no more releases of it, ` +
    'security fixes included. It still deploys, but without what only Airflow 3 has here: task pods without database ' +
    'credentials (the execution API), the per-release configuration check. Plan the move to Airflow 3: see docs/airflow.md, "Airflow 2".'
  );
}

/**
 * `Always` makes the kubelet ask the registry before every container start: for the task pods, one
 * registry round trip (and, on Docker Hub, one pull counted against the rate limit) before each task.
 */
export function alwaysPullWarning(scope: IConstruct, image: string): string {
  const { tag, digest } = parseImageReference(image);
  return (
    `${scope.constructor.name} at "${scope.node.path}": imagePullPolicy "Always" makes every task pod ask the registry ` +
    'for the image before it starts (a round trip of its own per task, and on Docker Hub a pull counted against ' +
    'the rate limit; a registry outage stops every task). ' +
    (digest !== undefined
      ? 'The image is pinned by digest: "IfNotPresent" (the default) pulls it once per node.'
      : tag === undefined || tag === 'latest'
      ? `Give the image a tag of its own per build instead of "${tag ?? 'latest'}", and use "IfNotPresent".`
      : `The tag "${tag}" is pinned: "IfNotPresent" (the default) pulls it once per node.`) +
    ' See docs/task-start.md.'
  );
}

/** A feature's executor: only from the Airflow that runs several at once, each once. */
export function checkFeatureExecutor(scope: IConstruct, version: AirflowVersion, executors: string[], feature: string, executor: string): void {
  if (!version.supportsMultipleExecutors) {
    invalid(
      scope,
      feature,
      executor,
      `no ${executor} on Airflow ${version}: it runs beside the KubernetesExecutor ([core] executor = ` +
        `KubernetesExecutor,${executor}), and Airflow runs several executors at once only from ${MINIMUM_MULTIPLE_EXECUTORS_VERSION}`,
      `Use an image of Airflow ${MINIMUM_MULTIPLE_EXECUTORS_VERSION} or newer (2.11, 3.x), or leave ${feature} unset.`,
    );
  }
  if (executors.includes(executor)) invalid(scope, feature, executor, `an executor not in [core] executor already (${executors.join(',')})`);
}

/** A feature's env and volume names against the pod options of the pods they go to. */
export function checkFeatureNames(
  scope: IConstruct,
  pods: ReadonlyArray<{ property: string; component: string; pod: ResolvedPodOptions }>,
  selectorsOf: (component: string) => string[],
  feature: string,
  c: AirflowContribution,
): void {
  for (const { property, component, pod } of pods) {
    const selectors = selectorsOf(component);
    const p = (s: string) => (property ? `${property}.${s}` : s);
    for (const e of selectors.flatMap((s) => c.env?.[s] ?? [])) {
      if (pod.env.some((o) => o.name === e.name)) invalid(scope, p('env'), e.name, `an environment variable the ${feature} feature does not set (${e.name})`);
    }
    const volumes = [...selectors.flatMap((s) => c.volumes?.[s] ?? []), ...(c.dags?.volumes ?? []), ...(c.dags ? [c.dags.mount] : [])];
    for (const v of volumes) {
      if (pod.volumes.some((o) => o.name === v.name)) invalid(scope, p('extraVolumes'), v.name, `a volume name the ${feature} feature does not use (${v.name})`);
    }
  }
}

/** Annotations of a feature on a ServiceAccount, refused where the pod options set the same key otherwise. */
export function annotateServiceAccount(scope: IConstruct, feature: string, account: k8s.KubeServiceAccount, annotations: Record<string, string>): void {
  for (const [key, value] of Object.entries(annotations)) {
    const set = account.metadata.toJson().annotations?.[key];
    if (set !== undefined && set !== value) {
      invalid(scope, `${feature}.serviceAccountAnnotations["${key}"]`, value, `the value the pod options give ServiceAccount ${account.name} (${JSON.stringify(set)}), or another annotation`);
    }
    account.metadata.addAnnotation(key, value);
  }
}

/**
 *
 */
export function validateControlPlaneVolumes(scope: IConstruct, volumes: AirflowVolumes): AirflowVolumes {
  if (!volumes || !(volumes instanceof AirflowVolumes)) invalid(scope, 'volumes', volumes, 'the AirflowVolumes of the chart');
  if (volumes.has(AIRFLOW_CONFIG_VOLUME_NAME)) {
    invalid(scope, 'volumes', volumes.names, `no volume named "${AIRFLOW_CONFIG_VOLUME_NAME}" (the configuration's volume)`);
  }
  if (volumes.has(AIRFLOW_TMP_VOLUME_NAME)) {
    invalid(scope, 'volumes', volumes.names, `no volume named "${AIRFLOW_TMP_VOLUME_NAME}" (the emptyDir of every Airflow pod's ${AIRFLOW_TMP_PATH})`);
  }
  const tmp = volumes.all.find((v) => v.mountPath === AIRFLOW_TMP_PATH);
  if (tmp) {
    invalid(scope, `volumes.${tmp.name}.mountPath`, tmp.mountPath, `a path other than ${AIRFLOW_TMP_PATH}: every Airflow pod mounts an emptyDir there (its root file system is read-only)`);
  }
  return volumes;
}

/** At synth: the DAGs come from the `dags` volume or from a feature (git-sync in sidecar mode). */
export function missingDags(scope: IConstruct, volumes: AirflowVolumes, dagsFromFeature: boolean): string[] {
  if (volumes.has('dags') || dagsFromFeature) return [];
  return [
    `${scope.constructor.name} at "${scope.node.path}": property "volumes" received ${JSON.stringify(volumes.names)}; allowed: volumes that ` +
      'include "dags" (the DAGs folder of every component), unless a feature delivers the DAGs (git-sync in GitSyncMode.SIDECARS).',
  ];
}

/** Whether one of the contributions turns on `[logging] remote_logging` (RemoteLogging, or a feature of your own). */
export function remoteLoggingOn(contributions: readonly AirflowContribution[]): boolean {
  return contributions.some((c) => [true, 'true', 'True'].includes(c.config?.logging?.remote_logging as never));
}

/**
 * At synth (features may be added after the control plane): a `logs` emptyDir needs remote logging. Each pod's
 * emptyDir is deleted with the pod, so without an upload a task's log would be gone when its pod ends.
 */
export function logsEmptyDirWithoutRemoteLogging(scope: IConstruct, volumes: AirflowVolumes, remoteLogging: boolean): string[] {
  if (remoteLogging || !volumes.has('logs') || !volumes.get('logs').emptyDir) return [];
  return [
    new AirflowCdk8sValidationError(
      scope.constructor.name,
      scope.node.path,
      'volumes',
      { name: 'logs', emptyDir: true },
      'a "logs" emptyDir only with remote logging ([logging] remote_logging, set by RemoteLogging): each pod\'s emptyDir ' +
        'is deleted with the pod, so without an upload the log of every task would be lost when its pod ends, and the UI ' +
        '(another pod) could never read it',
      'Add remoteLogging: RemoteLogging.s3({ ... }) / .gcs({ ... }) / .azureBlob({ ... }) (airflow.addFeature(...) in a chart of your own), ' +
        'or give "logs" a ReadWriteMany claim (docs/storage.md).',
    ).message,
  ];
}

/**
 * The control plane's checks at synth: its warnings, printed by a synth that succeeds (one that fails prints its
 * problems only); the DAGs ({@link missingDags}) and a `logs` emptyDir ({@link logsEmptyDirWithoutRemoteLogging})
 * against what the features supply (`dagsFromFeature`, `contributions`), read at synth. What the features supply
 * is not known when one of them was refused (its problem is recorded in the control plane or in a construct
 * inside it): these two say nothing then, rather than blame the volumes for the refused feature.
 */
export function addControlPlaneChecks(
  airflow: KubernetesExecutorAirflow,
  dagsFromFeature: () => boolean,
  contributions: () => readonly AirflowContribution[],
): void {
  // Whether a refusal was recorded for the control plane or a construct inside it (a feature's included).
  const hasProblemWithin = (): boolean => {
    const path = airflow.node.path;
    return problemsOf(airflow).some((p) => p.constructPath === path || p.constructPath.startsWith(`${path}/`));
  };
  addCheck(airflow, () => (problemsOf(airflow).length === 0 && airflow.warnings.forEach((w) => console.warn(`Warning: ${w}`)), []));
  addCheck(airflow, () => (hasProblemWithin() ? [] : missingDags(airflow, airflow.volumes, dagsFromFeature())));
  addCheck(airflow, () => (hasProblemWithin() ? [] : logsEmptyDirWithoutRemoteLogging(airflow, airflow.volumes, remoteLoggingOn(contributions()))));
}

/**
 * Whether the volume-permissions Job runs: by default with hostPath volumes (the kubelet makes their folders
 * root:root 0755), not with a StorageClass, where it is asked for (a static NFS or Filestore share whose root
 * is root:root 0755; docs/storage.md). Asked for, it needs claims created here to fix, checked at synth.
 */
export function resolveFixVolumePermissions(scope: IConstruct, volumes: AirflowVolumes, given: boolean | undefined): boolean {
  if (given !== undefined && typeof given !== 'boolean') invalid(scope, 'fixVolumePermissions', given, 'true or false');
  const hostPath = volumes.provisioning.mode === StorageProvisioningMode.HOST_PATH;
  if (given === true && !hostPath) {
    addCheck(scope, () =>
        volumes.all.some((v) => v.storage !== undefined)
          ? []
          : [
            new AirflowCdk8sValidationError(
              scope.constructor.name,
              scope.node.path,
              'fixVolumePermissions',
              true,
              `false (or unset) when no volume of ${volumes.node.path} is a claim created here (${volumes.all.map((v) => `${v.name}: ${v.emptyDir ? 'emptyDir' : `existing claim ${v.claimName}`}`).join(', ')}): ` +
                'the Job fixes the roots of the claims the library creates, never an existing claim (its access modes are not known) nor an emptyDir',
            ).message,
          ],
    );
  }
  return given ?? hostPath;
}
