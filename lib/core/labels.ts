// The labels every object of the deployment carries, and the component names they use, in one place:
// Deployments select their pods by them, NetworkPolicies admit pods by them, and the tests find pods by them.

/** `app.kubernetes.io/name`: `airflow` on every object of the deployment. */
export const NAME_LABEL = 'app.kubernetes.io/name';
/** `app.kubernetes.io/part-of`: `airflow` on every object of the deployment. */
export const PART_OF_LABEL = 'app.kubernetes.io/part-of';
/** `app.kubernetes.io/component`: which part of the deployment an object belongs to. */
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
/** `app.kubernetes.io/version`: the Airflow version the deployment runs (a migration Job: the one it ran for). */
export const VERSION_LABEL = 'app.kubernetes.io/version';
/** `app.kubernetes.io/instance`: which deployment an object belongs to (the namespace's name: one per namespace). */
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
/** `app.kubernetes.io/managed-by`: the tool that makes the objects ({@link MANAGED_BY}). */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** The value of {@link MANAGED_BY_LABEL}. */
export const MANAGED_BY = 'airflow-cdk8s';
/** The value of {@link NAME_LABEL} and {@link PART_OF_LABEL}. */
export const APP_NAME = 'airflow';

/**
 * The component names (values of {@link COMPONENT_LABEL}), in Airflow's own words where Airflow has one.
 * Which of them a deployment runs depends on the Airflow generation (`AirflowGeneration`).
 */
export const Components = {
  /** `airflow api-server` (Airflow 3): the UI, the REST API and the execution API. */
  API_SERVER: 'api-server',
  /** `airflow webserver` (Airflow 2): the UI and the REST API. */
  WEBSERVER: 'webserver',
  /** `airflow scheduler`. */
  SCHEDULER: 'scheduler',
  /** `airflow dag-processor`. */
  DAG_PROCESSOR: 'dag-processor',
  /** `airflow triggerer`. */
  TRIGGERER: 'triggerer',
  /** The KubernetesExecutor's task pods. */
  WORKER: 'worker',
  /** `airflow celery worker`: the CeleryExecutor's long-running workers (hybrid executors). */
  CELERY_WORKER: 'celery-worker',
  /** The Celery broker inside the cluster (Redis). */
  REDIS: 'redis',
  /** `airflow celery flower`: Flower, the Celery workers' web UI (`celery.flower`). */
  FLOWER: 'flower',
  /** PgBouncer in front of the metadata database (`PgBouncer`). */
  PGBOUNCER: 'pgbouncer',
  /** The `airflow db migrate` Job. */
  DB_MIGRATE: 'db-migrate',
  /** The Job that creates the first admin user. */
  CREATE_USER: 'create-user',
  /** The CronJob that runs `airflow db clean` (`DatabaseCleanup`). */
  DATABASE_CLEANUP: 'database-cleanup',
  /** The Job that makes the static hostPath volumes writable for Airflow's user. */
  VOLUME_PERMISSIONS: 'volume-permissions',
  /** The Job that generates the Secret. */
  SECRETS_BOOTSTRAP: 'secrets-bootstrap',
  /** The DaemonSet that keeps the images of the task pods on their nodes (`ImagePrePull`). */
  IMAGE_PRE_PULL: 'image-pre-pull',
  /** The generated Secret. */
  SECRETS: 'secrets',
  /** The ConfigMap with `airflow.cfg` and the pod template. */
  CONFIG: 'config',
  /** The Namespace. */
  NAMESPACE: 'namespace',
  /** The in-cluster Postgres. */
  METADATA_DB: 'metadata-db',
  /** The in-cluster Postgres's volume and claim. */
  METADATA_DB_STORAGE: 'metadata-db-storage',
  /** The volume and claim where the generated secrets keep a copy of their values, beside Postgres' data. */
  METADATA_DB_KEYS: 'metadata-db-keys',
  /** The git-sync Deployment that writes the DAGs from git into the dags volume. */
  GIT_SYNC: 'git-sync',
  /** The statsd-exporter that turns Airflow's StatsD metrics into Prometheus metrics. */
  STATSD: 'statsd',
} as const;

/** The labels of a component's objects and pods: name, part-of and component. */
export function airflowLabels(component: string): Record<string, string> {
  return { [NAME_LABEL]: APP_NAME, [PART_OF_LABEL]: APP_NAME, [COMPONENT_LABEL]: component };
}

/** The labels a component's Deployment selects its pods by (immutable once applied): name and component. */
export function selectorLabels(component: string): Record<string, string> {
  return { [NAME_LABEL]: APP_NAME, [COMPONENT_LABEL]: component };
}

/**
 * The annotation by which an object says it creates a Secret at deploy time (the secrets bootstrap Job): the
 * validation plugin then accepts references to that Secret although it is not in the YAML.
 */
export const CREATES_SECRET_ANNOTATION = 'airflow-cdk8s/creates-secret';

/**
 * `airflow-cdk8s/one-shot-job: "true"`: the label of the Jobs named after their pod spec
 * (`airflow-db-migrate-<version>-<hash>`, `airflow-create-user-<hash>`, `airflow-secrets-bootstrap-<hash>`,
 * `airflow-volume-permissions-<hash>`), on the Job only (a Job's pod template is immutable). A changed pod spec
 * is a new Job beside the old one; this label lets `kubectl apply --prune` delete the old ones (docs/airflow.md,
 * "Old Jobs").
 */
export const ONE_SHOT_JOB_LABEL = 'airflow-cdk8s/one-shot-job';

/** {@link ONE_SHOT_JOB_LABEL} as a label map, for a Job's metadata. */
export function oneShotJobLabels(): Record<string, string> {
  return { [ONE_SHOT_JOB_LABEL]: 'true' };
}
