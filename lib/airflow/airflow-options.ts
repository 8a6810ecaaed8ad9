import { AirflowConfigValues } from './airflow-config-keys';
import { CeleryOptions } from './celery-options';

/**
 * How Airflow runs: image and version, which components, concurrency, task pods' defaults, your own
 * settings and the first admin user. Shared by `KubernetesExecutorAirflowProps` and `AirflowChartProps`, so
 * that every option is set the same way whether you compose the constructs yourself or use the chart.
 */
export interface AirflowOptions {
  /**
   * The Airflow image of every component and every task pod: the official image, or your own built on it
   * (for example one built inside minikube's docker).
   * @default DEFAULT_AIRFLOW_IMAGE - "apache/airflow:3.1.3"
   */
  readonly image?: string;

  /**
   * The Airflow version in the image, `major.minor.patch`. Required when the image's tag does not name it
   * (`my-airflow:latest`); otherwise read from the tag (`apache/airflow:3.1.3-python3.12` is 3.1.3).
   * Supported: 3.x, and 2.x from 2.7.0 (2.11 is the tested Airflow 2 line).
   * @default - the version in the image's tag
   */
  readonly airflowVersion?: string;

  /**
   * The image pull policy. `IfNotPresent` suits pinned tags and images built into the node's docker
   * (minikube), which `Always` would try to pull from a registry and fail.
   * @default "IfNotPresent"
   */
  readonly imagePullPolicy?: string;

  /**
   * Whether to run the triggerer, which runs deferrable operators' triggers (without it, deferred tasks
   * never resume).
   * @default true
   */
  readonly triggerer?: boolean;

  /**
   * Whether DAG files are parsed by a standalone `airflow dag-processor`. Airflow 3 always needs one;
   * Airflow 2's scheduler parses DAG files itself unless this is on (`[scheduler] standalone_dag_processor`).
   * @default - true on Airflow 3, false on Airflow 2
   */
  readonly standaloneDagProcessor?: boolean;

  /**
   * `[core] parallelism`: at most this many task instances run at once.
   * @default 4
   */
  readonly parallelism?: number;

  /**
   * `[core] default_pool_task_slot_count`: the slots of `default_pool`, which bounds the tasks that run at
   * once (2 keeps task pods from swamping a minikube node). Airflow applies it when `airflow db migrate`
   * creates the pool; change an existing pool in the UI or with `airflow pools set`.
   * @default 2
   */
  readonly defaultPoolSlots?: number;

  /**
   * `[kubernetes_executor] worker_pods_creation_batch_size`: how many task pods the scheduler creates in one
   * scheduling loop. Airflow's default, 1, starts one task per loop; equal to `parallelism` lets one loop
   * start every task that may run.
   * @default - the same as `parallelism`
   */
  readonly workerPodsCreationBatchSize?: number;

  /**
   * Whether the pods of failed tasks are deleted too (`[kubernetes_executor] delete_worker_pods_on_failure`).
   * Task logs are on the logs volume either way; keep failed pods (false) to inspect them with kubectl.
   * @default true
   */
  readonly deleteFailedWorkerPods?: boolean;

  /**
   * The default CPU request of a task pod (override per task with `executor_config`).
   * @default "100m"
   */
  readonly workerCpuRequest?: string;

  /**
   * The default memory request of a task pod.
   * @default "384Mi"
   */
  readonly workerMemoryRequest?: string;

  /**
   * The default CPU limit of a task pod.
   * @default "1"
   */
  readonly workerCpuLimit?: string;

  /**
   * The default memory limit of a task pod.
   * @default "1Gi"
   */
  readonly workerMemoryLimit?: string;

  /**
   * Your own Airflow settings, `{ section: { key: value } }`, checked against the keys of the Airflow major
   * version and rendered into `airflow.cfg`. Options the library sets itself, and secrets, are rejected.
   * @default - none
   */
  readonly config?: AirflowConfigValues;

  /**
   * Whether a Job creates the first admin user of the UI (password from the secrets' `adminPassword`).
   * @default true
   */
  readonly createAdminUser?: boolean;

  /**
   * The admin user's name.
   * @default "admin"
   */
  readonly adminUsername?: string;

  /**
   * The admin user's e-mail address.
   * @default "admin@example.com"
   */
  readonly adminEmail?: string;

  /**
   * The cluster's DNS domain, for the in-cluster URLs of the Services (the execution API, the database).
   * @default "cluster.local"
   */
  readonly clusterDomain?: string;

  /**
   * Celery workers beside the KubernetesExecutor (hybrid executors, Airflow 2.10+): `[core] executor` becomes
   * `KubernetesExecutor,CeleryExecutor`, a small pool of always-running workers takes the tasks that say
   * `executor="CeleryExecutor"` from a Redis broker in the cluster, and every other task still gets a pod.
   * See docs/celery.md for when to send which tasks where.
   * @default - none: the KubernetesExecutor alone, no broker, no workers
   */
  readonly celery?: CeleryOptions;
}
