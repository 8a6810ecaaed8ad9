import { SecretKeyRef } from '../core';
import type { ComponentOptions, ResourceOptions } from '../airflow/airflow-options';

/**
 * A Celery broker outside the deployment (a managed Redis, RabbitMQ, ...): its URL, and where task results
 * go, both read from Secrets.
 */
export interface ExternalCeleryBroker {
  /**
   * The Secret key holding the whole broker URL, e.g.
   * `rediss://:<password>@redis.example.com:6380/0?ssl_cert_reqs=required` or
   * `amqp://airflow:<password>@rabbitmq.example.com:5672/airflow` (user and password percent-encoded). A
   * `rediss://` (TLS) URL must carry `ssl_cert_reqs` (`required`; `optional` and `none` are accepted but do not
   * verify the server): without it Celery's Redis result backend refuses the URL (`A rediss:// URL must have
   * parameter ssl_cert_reqs`), and on Airflow 3 the default result backend is this URL; kombu, the broker side,
   * would connect without checking the certificate. The URL is in a Secret, so this is not checked at synth.
   */
  readonly urlSecret: SecretKeyRef;

  /**
   * The Secret key holding the Celery result backend URL (`[celery] result_backend`), e.g.
   * `db+postgresql://...` or `redis://...`. Needed for a broker that cannot also keep results (RabbitMQ) on
   * Airflow 3, where the Celery workers have no database credentials.
   * @default - the metadata database where the Celery workers use it (Airflow 2), the broker URL where they
   *   do not (Airflow 3: fine for a Redis broker; a `rediss://` one with `ssl_cert_reqs` in it, see `urlSecret`)
   */
  readonly resultBackendSecret?: SecretKeyRef;
}

/** The Redis that serves as the Celery broker inside the cluster. */
export interface RedisBrokerOptions {
  /**
   * The Redis image: the official `redis` image or one built on it (runs `redis-server` as the non-root user
   * 999 of the official image; its entrypoint is not run).
   * @default RedisBroker.DEFAULT_IMAGE ("redis:8.6.7-alpine")
   */
  readonly image?: string;

  /**
   * CPU and memory of the Redis container. Redis is told to use at most 75% of the memory limit without
   * persistence, 50% with it (`--maxmemory`: a snapshot's fork may copy every page written meanwhile), and to
   * refuse writes beyond it rather than evict queued tasks (`noeviction`).
   * @default RedisBroker.DEFAULT_RESOURCES - 25m / 32Mi requested, 250m / 128Mi limit
   */
  readonly resources?: ResourceOptions;

  /**
   * Whether Redis snapshots its queue to its `emptyDir` (Redis' own `save` rules: after 3600 s and 1 change,
   * 300 s and 100, 60 s and 10000), so that a container restart (not a new pod: the `emptyDir` goes with the
   * pod) finds the tasks queued up to the last snapshot. Off, Redis keeps the queue in memory only
   * (`--save '' --appendonly no`): it never forks, and what a restart loses the scheduler queues again
   * (`[scheduler] task_queued_timeout`; docs/celery.md, "Redis and a backlog").
   * @default false
   */
  readonly persistence?: boolean;
}

/**
 * KEDA scales the Celery workers with the tasks waiting for them, as the official Helm chart's
 * `workers.keda` does: a ScaledObject whose PostgreSQL trigger runs, every `pollingIntervalSeconds`, a query on
 * the metadata database counting the Celery tasks `queued` or `running` on the workers' queues, divided by
 * the concurrency (rounded up): the number of worker pods those tasks fill. KEDA (v2, its operator and CRDs)
 * must be installed in the cluster; its operator connects to the database with the credentials of a
 * TriggerAuthentication that reads them from the database's Secret (nothing of them is in the YAML).
 */
export interface CeleryKedaOptions {
  /**
   * The fewest worker pods (KEDA's `minReplicaCount`). 0 lets KEDA stop every worker when no Celery task is
   * queued or running; the first one then waits for a worker pod to start (the official chart's default).
   * @default 0
   */
  readonly minReplicas?: number;

  /**
   * The most worker pods (KEDA's `maxReplicaCount`).
   * @default 10
   */
  readonly maxReplicas?: number;

  /**
   * How often KEDA runs the query, in seconds (`pollingInterval`).
   * @default 5
   */
  readonly pollingIntervalSeconds?: number;

  /**
   * How long KEDA waits after the last count above zero before scaling to `minReplicas` 0, in seconds
   * (`cooldownPeriod`; scaling between other counts follows the HPA's own scale-down window).
   * @default 30
   */
  readonly cooldownSeconds?: number;

  /**
   * The namespace KEDA's operator runs in (where KEDA's Helm chart installs it): with the chart's
   * `networkPolicies`, the in-cluster database accepts the operator's connections from there.
   * @default "keda"
   */
  readonly operatorNamespace?: string;
}

/**
 * A HorizontalPodAutoscaler (autoscaling/v2) scales the Celery workers on their CPU use, as the official Helm
 * chart's `workers.hpa` does. Needs the metrics API (metrics-server) in the cluster. CPU follows the tasks
 * only for tasks that compute in the worker; tasks that wait on other systems are better scaled by `keda`.
 */
export interface CeleryHpaOptions {
  /**
   * The fewest worker pods. At least 1: an HPA scales to 0 only with the HPAScaleToZero feature gate.
   * @default 1
   */
  readonly minReplicas?: number;

  /**
   * The most worker pods.
   * @default 5
   */
  readonly maxReplicas?: number;

  /**
   * The average CPU use of the worker pods, in percent of their CPU request, that the HPA keeps them at.
   * @default 80
   */
  readonly targetCpuUtilization?: number;
}

/**
 * Flower, the Celery workers' web UI (`airflow celery flower`, as the official Helm chart's `flower` runs it): a
 * Deployment `airflow-flower` and a ClusterIP Service on `[celery] flower_port` 5555. Flower can revoke and
 * terminate running tasks and shut workers down (its REST API, `/api/task/revoke`, `/api/worker/shutdown`), so it
 * is never served without a login unless `unauthenticated` says so.
 */
export interface FlowerOptions {
  /**
   * The Secret key holding Flower's basic auth (`[celery] flower_basic_auth`, given to Flower as
   * `AIRFLOW__CELERY__FLOWER_BASIC_AUTH`): `user:password`, or several separated by commas
   * (`alice:pw1,bob:pw2`). A reference only: the value is never in the YAML.
   * @default - none: refused unless `unauthenticated` is true
   */
  readonly basicAuthSecret?: SecretKeyRef;

  /**
   * Serve Flower without a login: anyone who reaches its port can revoke and kill tasks and shut workers down.
   * Only with no `basicAuthSecret`; for a Flower behind an authenticating proxy.
   * @default false
   */
  readonly unauthenticated?: boolean;

  /**
   * CPU and memory of the Flower container.
   * @default Flower.DEFAULT_RESOURCES - 50m / 256Mi requested, 500m / 512Mi limit
   */
  readonly resources?: ResourceOptions;
}

/**
 * Celery workers beside the KubernetesExecutor (hybrid executors, Airflow 2.10+): `[core] executor` lists
 * both, a task picks the CeleryExecutor with `executor="CeleryExecutor"`, and a small pool of always-running
 * workers takes it from a Redis broker within a second instead of starting a pod for it. `replicas` is the
 * number of worker pods (no PodDisruptionBudget: a stopping worker finishes its tasks), `resources` those of a
 * worker container, in which its tasks run (default `CeleryWorkers.DEFAULT_RESOURCES`: 200m / 512Mi requested,
 * 1 CPU / 2Gi limit); the worker pods get the chart-wide pod options merged with these, Redis the chart-wide
 * placement.
 */
export interface CeleryOptions extends ComponentOptions {
  /**
   * How many tasks one worker pod runs at once (`airflow celery worker --concurrency`, `[celery]
   * worker_concurrency`): each is a process of its own, so memory grows with it.
   * @default 2
   */
  readonly concurrency?: number;

  /**
   * The Celery queues the workers take tasks from (`--queues`); a task picks one with `queue=`. Must include
   * the default queue (`[operators] default_queue`, "default"): tasks sent to Celery without a `queue` go
   * there, and no other worker would take them.
   * @default ["default"]
   */
  readonly queues?: string[];

  /**
   * How long a stopping worker (rollout, scale-down, node drain) may finish its running tasks after SIGTERM
   * before it is killed; it takes no new task meanwhile (Celery's warm shutdown). Set it above your longest
   * Celery task.
   * @default 600
   */
  readonly terminationGracePeriodSeconds?: number;

  /**
   * Whether the CeleryExecutor is the default executor (first in `[core] executor`): tasks without
   * `executor=` then go to the Celery workers, and those that want a pod say `executor="KubernetesExecutor"`.
   * @default false - the KubernetesExecutor stays the default
   */
  readonly defaultExecutor?: boolean;

  /**
   * Scale the workers with the queued and running Celery tasks, by KEDA (instead of a fixed `replicas`; not
   * with `hpa`). See docs/celery.md, "Autoscaling".
   * @default - none: `replicas` worker pods
   */
  readonly keda?: CeleryKedaOptions;

  /**
   * Scale the workers on their CPU use, by a HorizontalPodAutoscaler (instead of a fixed `replicas`; not with
   * `keda`). See docs/celery.md, "Autoscaling".
   * @default - none: `replicas` worker pods
   */
  readonly hpa?: CeleryHpaOptions;

  /**
   * A broker outside the deployment instead of Redis in the cluster.
   * @default - Redis in the cluster (a one-replica StatefulSet), its password in the generated Secret
   */
  readonly externalBroker?: ExternalCeleryBroker;

  /**
   * Flower, the Celery workers' web UI, with its login from a Secret (see FlowerOptions and docs/celery.md,
   * "Flower").
   * @default - no Flower
   */
  readonly flower?: FlowerOptions;

  /**
   * The Redis in the cluster (unless `externalBroker`).
   * @default - the official Redis image with RedisBroker.DEFAULT_RESOURCES
   */
  readonly redis?: RedisBrokerOptions;
}
