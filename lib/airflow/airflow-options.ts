import * as k8s from '../../imports/k8s';
import { DeploymentStrategy, PodOptions } from '../core';
import { AirflowConfigValues } from './airflow-config-keys';
import { ProbeTimings } from './component-extras';

/** CPU and memory of a container, as Kubernetes quantities; what is not given keeps its default. */
export interface ResourceOptions {
  /**
   * CPU request, e.g. "250m".
   * @default - the component's default
   */
  readonly cpuRequest?: string;
  /**
   * Memory request, e.g. "512Mi".
   * @default - the component's default
   */
  readonly memoryRequest?: string;
  /**
   * CPU limit.
   * @default - the component's default
   */
  readonly cpuLimit?: string;
  /**
   * Memory limit.
   * @default - the component's default
   */
  readonly memoryLimit?: string;
}

/**
 * Options of one long-running component (scheduler, api-server, dag-processor, triggerer): replicas,
 * resources, and pod options that override the chart-wide ones (maps merge key by key, lists are replaced).
 */
export interface ComponentOptions extends PodOptions {
  /**
   * How many pods. Airflow runs several schedulers, api-servers, dag-processors and triggerers at once on
   * Postgres (row locks). More than one adds a PodDisruptionBudget that keeps one running through node drains,
   * a preferred pod anti-affinity that spreads them over nodes (beside the pod options' `affinity`), and a
   * rollout that replaces one pod at a time (see `strategy`).
   * @default 1
   */
  readonly replicas?: number;

  /**
   * How the component's Deployment replaces its pods on a rollout: `DeploymentStrategy.rollingUpdate({
   * maxSurge, maxUnavailable })` or `DeploymentStrategy.recreate()`. A rolling update that may stop every
   * replica at once is refused: with several replicas, only `recreate()` does that, and only when asked for.
   * @default - the UI: a rolling update, a new pod first (maxSurge 1, maxUnavailable 0); the others: with one
   * replica `Recreate`, with several a rolling update of one pod at a time (maxSurge 0, maxUnavailable 1)
   */
  readonly strategy?: DeploymentStrategy;

  /**
   * CPU and memory of the component's container.
   * @default - COMPONENT_RESOURCES for the component
   */
  readonly resources?: ResourceOptions;

  /**
   * Containers of your own beside the component's (a proxy, an agent). Each needs a name no other container of
   * the pod has, a pinned image, CPU and memory requests and limits, and a securityContext no weaker than the
   * component's: what it leaves out takes the component's values (non-root, no privilege escalation, every
   * capability dropped, a read-only root file system), and what would weaken them is refused. A volume it mounts
   * must be in the pod (`extraVolumes`).
   * @default - none
   */
  readonly extraContainers?: k8s.Container[];

  /**
   * Init containers of your own, run after the library's (the waits for the database and its migrations) and
   * before the component starts; checked like `extraContainers`.
   * @default - none
   */
  readonly extraInitContainers?: k8s.Container[];

  /**
   * The timings of the liveness probe (the command stays `airflow jobs check` for the scheduler, dag-processor
   * and triggerer, the health endpoint for the UI). Refused where it could restart a healthy component: a timeout
   * under `MIN_PROBE_TIMEOUT_SECONDS` (20 s for `airflow jobs check`, 5 s over HTTP), fewer than
   * `MIN_LIVENESS_FAILURE_THRESHOLD` (3) failures, or fewer than `MIN_LIVENESS_WINDOW_SECONDS` (30) seconds of
   * failing (periodSeconds x failureThreshold).
   * @default - the component's: `airflow jobs check` every 60 s, 60 s timeout, 5 failures, after 120 s; the UI's
   * every 30 s, 30 s timeout, 5 failures
   */
  readonly livenessProbe?: ProbeTimings;

  /**
   * The timings of the readiness probe, where the component has one (the UI).
   * @default - the UI's: every 10 s, 10 s timeout, 3 failures
   */
  readonly readinessProbe?: ProbeTimings;

  /**
   * The timings of the startup probe, where the component has one (the UI). Refused when it gives the UI less
   * than `MIN_STARTUP_WINDOW_SECONDS` (60) to start, or a timeout under 5 s.
   * @default - the UI's: every 10 s, 10 s timeout, 60 failures (10 minutes to start)
   */
  readonly startupProbe?: ProbeTimings;

  /**
   * A ServiceAccount you manage (e.g. one with an IAM role for IRSA or a workload identity set up elsewhere), in
   * the chart's namespace: the component's pods run as it and the library creates none for the component (the
   * scheduler's RoleBinding then grants it the pod-launcher Role). Annotations the library or a feature would put
   * on the ServiceAccount (`serviceAccountAnnotations`, remote logging's) are refused: put them on yours.
   * @default - a ServiceAccount `airflow-<component>` created by the library
   */
  readonly existingServiceAccountName?: string;
}

/** Options of the UI component (`airflow api-server`; `airflow webserver` on Airflow 2) and its Service. */
export interface ApiServerOptions extends ComponentOptions {
  /**
   * The type of the UI's Service.
   * @default "ClusterIP" - reach it with `kubectl port-forward svc/airflow-api-server 8080`, or an Ingress
   */
  readonly serviceType?: string;

  /**
   * Annotations of the UI's Service (e.g. a cloud load balancer's settings).
   * @default - none
   */
  readonly serviceAnnotations?: Record<string, string>;
}

/** Options of the triggerer. */
export interface TriggererOptions extends ComponentOptions {
  /**
   * Whether to run the triggerer, which runs deferrable operators' triggers (without it, deferred tasks never
   * resume).
   * @default true
   */
  readonly enabled?: boolean;
}

/** Options of the task pods (the worker pod template): image, default resources, pod options, ServiceAccount. */
export interface WorkerOptions extends PodOptions {
  /**
   * The image of the task pods, e.g. your own built FROM the control plane's image with the Python packages
   * your tasks need: the pod template's `base` container and `[kubernetes_executor]
   * worker_container_repository`/`worker_container_tag` follow it, and `ImagePrePull` keeps it on the nodes.
   * It must hold the same Airflow as the control plane: a tag naming another Airflow version is refused; an
   * image whose tag names none (`my-tasks:2024-06-01`, `latest`, a digest) is taken as the same version. The
   * Celery workers, which run tasks too, run it as well.
   * @default - the control plane's `image`
   */
  readonly image?: string;

  /**
   * Init containers of your own in every task pod, after the features' (git-sync's first sync in its sidecar
   * mode); checked like `ComponentOptions.extraContainers`. Each runs before every task: its start is added to
   * every task's (see docs/task-start.md).
   * @default - none
   */
  readonly extraInitContainers?: k8s.Container[];

  /**
   * Containers beside the task's `base` container: refused. The KubernetesExecutor learns that a task ended
   * from its pod's phase (Succeeded or Failed), and a pod whose sidecar keeps running stays Running after the
   * task: the executor would hold its slot of `parallelism` for ever. Use `extraInitContainers`, with
   * `restartPolicy: "Always"` for one that runs beside the task (a sidecar, which Kubernetes stops when the task's
   * container ends; Kubernetes 1.29 and later).
   * @default - none
   */
  readonly extraContainers?: k8s.Container[];

  /**
   * A ServiceAccount you manage for the task pods (the pod template's `serviceAccountName`), e.g. with the
   * cloud identity your tasks use; the library creates none for them.
   * @default - a ServiceAccount `airflow-worker` created by the library
   */
  readonly existingServiceAccountName?: string;

  /**
   * The default CPU and memory of a task pod; a task overrides them with
   * `executor_config={"pod_override": ...}`.
   * @default DEFAULT_WORKER_RESOURCES - 100m / 256Mi requested, 1 CPU / 1Gi limit
   */
  readonly resources?: ResourceOptions;
}

/** Options of the one-shot Jobs (`airflow db migrate`). */
export interface JobOptions extends PodOptions {
  /**
   * CPU and memory of the Job's container.
   * @default DbMigrations.DEFAULT_RESOURCES - 100m / 192Mi requested, 1 CPU / 1Gi limit
   */
  readonly resources?: ResourceOptions;
}

/** An Ingress (networking.k8s.io/v1) in front of the UI. */
export interface IngressOptions {
  /** The host name users reach the UI at, e.g. "airflow.example.com". */
  readonly host: string;

  /**
   * The path the UI is served under, e.g. "/airflow". Airflow serves every page and API under it
   * (`[api] base_url`), and the task pods reach the execution API under it too.
   * @default "/"
   */
  readonly path?: string;

  /**
   * The IngressClass (`spec.ingressClassName`).
   * @default - the cluster's default IngressClass
   */
  readonly className?: string;

  /**
   * A Secret of type `kubernetes.io/tls` with the host's certificate; the UI's URL is then https, and the UI's
   * Flask app (FAB) takes the scheme of its absolute URLs, such as the OAuth callback, from the Ingress's
   * X-Forwarded-Proto (`enable_proxy_fix`, `proxy_fix_x_proto` 1, no other forwarded header trusted; your own
   * `config` may change these).
   * @default - no TLS: the URL is http
   */
  readonly tlsSecretName?: string;

  /**
   * Annotations of the Ingress (e.g. for cert-manager or the controller).
   * @default - none
   */
  readonly annotations?: Record<string, string>;
}

/**
 * How the control plane runs: image and version, which components, concurrency, task pods' defaults, your
 * own settings and the first admin user. Shared by `KubernetesExecutorAirflowProps` and `AirflowChartProps`
 * (through `AirflowOptions`, which adds the features), so that every option is set the same way whether you
 * compose the constructs yourself or use the chart.
 */
export interface ControlPlaneOptions extends PodOptions {
  /**
   * The Airflow image of every component and every task pod: the official image, or your own built on it
   * (for example one built inside minikube's docker).
   * @default DEFAULT_AIRFLOW_IMAGE - "apache/airflow:3.2.2"
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
   * Whether DAG files are parsed by a standalone `airflow dag-processor`. Airflow 3 always needs one;
   * Airflow 2's scheduler parses DAG files itself unless this is on (`[scheduler] standalone_dag_processor`).
   * @default - true on Airflow 3, false on Airflow 2
   */
  readonly standaloneDagProcessor?: boolean;

  /**
   * `[core] parallelism`: at most this many task instances run at once (4 fit a 2 CPU / 4 GiB minikube node
   * beside the control plane).
   * @default 4
   */
  readonly parallelism?: number;

  /**
   * `[core] default_pool_task_slot_count`: the slots of `default_pool`, which bounds the tasks of that pool
   * that run at once. Airflow applies it when `airflow db migrate` creates the pool; change an existing pool in
   * the UI or with `airflow pools set`. Fewer slots than `parallelism` is reported at synth.
   * @default - the same as `parallelism`
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
   * The admin user's first name.
   * @default "Admin"
   */
  readonly adminFirstName?: string;

  /**
   * The admin user's last name.
   * @default "User"
   */
  readonly adminLastName?: string;

  /**
   * The admin user's FAB role: "Admin", "Op", "User", "Viewer" or "Public".
   * @default "Admin"
   */
  readonly adminRole?: string;

  /**
   * The cluster's DNS domain, for the in-cluster URLs of the Services (the execution API, the database).
   * @default "cluster.local"
   */
  readonly clusterDomain?: string;

  /**
   * The scheduler: replicas, resources, pod options.
   * @default - one scheduler with COMPONENT_RESOURCES.scheduler and the chart-wide pod options
   */
  readonly scheduler?: ComponentOptions;

  /**
   * The UI (api-server; the webserver on Airflow 2): replicas, resources, pod options, its Service.
   * @default - one api-server with COMPONENT_RESOURCES and a ClusterIP Service
   */
  readonly apiServer?: ApiServerOptions;

  /**
   * The dag-processor: replicas, resources, pod options.
   * @default - one dag-processor where it runs (always on Airflow 3)
   */
  readonly dagProcessor?: ComponentOptions;

  /**
   * The triggerer: whether it runs, replicas, resources, pod options.
   * @default - one triggerer
   */
  readonly triggerer?: TriggererOptions;

  /**
   * The task pods: default resources and pod options.
   * @default DEFAULT_WORKER_RESOURCES - 100m / 256Mi requested, 1 CPU / 1Gi limit; the chart-wide pod options
   */
  readonly worker?: WorkerOptions;

  /**
   * The migration Job (`airflow db migrate`): resources and pod options.
   * @default - the chart-wide pod options
   */
  readonly migrations?: JobOptions;

  /**
   * An Ingress in front of the UI. It also sets `[api] base_url` (`[webserver] base_url` on Airflow 2) to its
   * URL, and keeps the in-cluster execution API URL under the same path.
   * @default - no Ingress: reach the UI with `kubectl port-forward`
   */
  readonly ingress?: IngressOptions;

  /**
   * Whether a one-shot Job makes the volumes writable for Airflow's user (uid 50000, gid 0). With hostPath
   * volumes (minikube) it fixes their folders: the kubelet creates them as root:root 0755, and `fsGroup` does
   * not apply to hostPath; folders mounted with `minikube mount` are left alone (their owner is the mount's
   * --uid/--gid). With a StorageClass, true makes it fix the roots of the ReadWriteMany claims the library
   * creates, for shares whose root is root:root 0755 (static NFS, Filestore: `fsGroup` does not apply to most
   * ReadWriteMany drivers); a root uid 50000 or gid 0 may already write is left alone. It runs as root with the
   * CHOWN and FOWNER capabilities (Pod Security baseline), and takes over only an empty folder or its own.
   * See docs/storage.md.
   * @default - true with hostPath volumes, false with a StorageClass
   */
  readonly fixVolumePermissions?: boolean;

  /**
   * Run on OpenShift under its restricted SCC (`restricted-v2`): every pod of the chart runs under the uid the
   * platform assigns from the namespace's range, in the root group (gid 0), with the fsGroup it assigns: no pod
   * sets `runAsUser`, `runAsGroup` or `fsGroup` (the SCC refuses a uid outside the range), the official Airflow
   * image's files are group-writable by gid 0, and Postgres, Redis and the image pre-pull run without a uid of
   * their own too. Refused with hostPath volumes (the SCC allows none) and with `fixVolumePermissions` (a root
   * Job); use a StorageClass whose volumes take the fsGroup, or make a share's root group-writable by gid 0.
   * See docs/secrets-and-security.md.
   * @default false
   */
  readonly openShift?: boolean;
}
