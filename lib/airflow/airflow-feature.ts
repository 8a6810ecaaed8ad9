import * as k8s from '../../imports/k8s';
import { AirflowConfigValues } from './airflow-config-keys';
import type { KubernetesExecutorAirflow } from './kubernetes-executor-airflow';

/**
 * Groups of Airflow's pods a feature adds to. A contribution is keyed by one of these, or by one component's
 * name (`Components.SCHEDULER`, `Components.WORKER` for the task pods, `Components.CELERY_WORKER`...).
 */
export const AirflowPods = {
  /** Every Airflow pod of the control plane: the UI, the scheduler, the dag-processor, the triggerer and the one-shot Jobs. */
  CONTROL_PLANE: 'control-plane',
  /** Every pod that runs tasks: the task pods (worker pod template) and the Celery workers. */
  TASKS: 'tasks',
  /** The long-running pods that read DAG files: the DAG parser (the dag-processor, or the scheduler when it parses) and the triggerer. */
  DAG_READERS: 'dag-readers',
} as const;

/** Things added to pods, by the pods they go to: an {@link AirflowPods} group or a component's name. */
export type PodContributions<T> = Readonly<Record<string, readonly T[]>>;

/** Where the DAG files come from when a feature delivers them instead of the `dags` volume (git-sync). */
export interface DagsSource {
  /** `[core] dags_folder`. */
  readonly folder: string;
  /** The mount of the DAGs in every Airflow container, in place of the `dags` volume's. */
  readonly mount: k8s.VolumeMount;
  /**
   * Pod volumes for that mount (e.g. an emptyDir every pod syncs into), in every Airflow pod.
   * @default - none: the mount uses the `dags` volume
   */
  readonly volumes?: k8s.Volume[];
}

/**
 * What a feature adds to a deployment. Everything is optional; the control plane applies it to the pods and
 * files it renders at synth, so a feature added at any point of the composition reaches every pod.
 */
export interface AirflowContribution {
  /**
   * Options of `airflow.cfg` the feature sets. The user may not set them in `config` (the error names the
   * feature), and two features may not set one option to different values.
   * @default - none
   */
  readonly config?: AirflowConfigValues;

  /**
   * Options of `airflow.cfg` the feature chooses and the user may change in `config`.
   * @default - none
   */
  readonly defaultConfig?: AirflowConfigValues;

  /**
   * An executor the feature runs beside the KubernetesExecutor (`[core] executor`; Airflow 2.10+), and
   * whether it is the default one (first in the list).
   * @default - none
   */
  readonly executor?: { readonly name: string; readonly isDefault?: boolean };

  /**
   * The DAG files, when the feature delivers them (`[core] dags_folder` and the mount); one feature at most.
   * @default - the `dags` volume
   */
  readonly dags?: DagsSource;

  /**
   * Environment variables of the Airflow container, by pods (values from Secrets by reference only).
   * @default - none
   */
  readonly env?: PodContributions<k8s.EnvVar>;

  /**
   * Pod volumes, by pods (for the sidecars and init containers below, or the Airflow container's mounts).
   * @default - none
   */
  readonly volumes?: PodContributions<k8s.Volume>;

  /**
   * Mounts of the Airflow container, by pods.
   * @default - none
   */
  readonly volumeMounts?: PodContributions<k8s.VolumeMount>;

  /**
   * Containers beside Airflow's, by pods.
   * @default - none
   */
  readonly sidecars?: PodContributions<k8s.Container>;

  /**
   * Init containers, by pods; they run after the library's own (the database and migration waits).
   * @default - none
   */
  readonly initContainers?: PodContributions<k8s.Container>;

  /**
   * Annotations of the ServiceAccounts of the long-running components and the task pods, by pods (e.g. a
   * cloud identity for remote logging).
   * @default - none
   */
  readonly serviceAccountAnnotations?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/**
 * A feature that plugs into the control plane ({@link KubernetesExecutorAirflow.addFeature}): Celery workers,
 * git-sync, remote logging, the log groomer, metrics, or your own. A feature with objects of its own (a
 * Deployment, a Service) is a construct that creates them and adds itself; one without can be a plain object.
 */
export interface IAirflowFeature {
  /** How messages name the feature, e.g. "metrics" (the AirflowChart prop) or a construct's path. */
  readonly featureName: string;

  /**
   * What the feature adds. Called once, when the feature is added, with the control plane (its image,
   * version, volumes and options are final by then).
   */
  contribute(airflow: KubernetesExecutorAirflow): AirflowContribution;
}
