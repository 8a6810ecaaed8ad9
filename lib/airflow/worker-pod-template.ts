import * as k8s from '../../imports/k8s';
import { Components, PodOptions, airflowLabels, recover } from '../core';
import type { KubernetesExecutorAirflow } from './kubernetes-executor-airflow';
import { airflowContainerSecurityContext, airflowPodSecurityContext } from '../security';
import { duplicateContainerNames } from './airflow-component';
import { WorkerOptions } from './airflow-options';
import { ContainerResources, NO_POD_OPTIONS, ResolvedPodOptions, airflowServiceAccount, resourceRequirements } from './pod-parts';
import { resolveExistingServiceAccount, resolveExtraContainers } from './component-extras';
import { invalid } from '../core';

/**
 * The name of the worker pod's container. The KubernetesExecutor fills in its `args` (the task command) and
 * merges a task's `executor_config={"pod_override": ...}` onto the container of this name.
 */
export const WORKER_CONTAINER_NAME = 'base';

/** Airflow's default `[core] killed_task_cleanup_time`: how long a task has to clean up after SIGTERM before it is killed. */
export const DEFAULT_KILLED_TASK_CLEANUP_TIME = 60;

/**
 * What a task pod needs after its cleanup time: the task runner reports the task's final state through the
 * execution API and uploads its log (remote logging) after the task process has gone.
 */
export const TASK_POD_SHUTDOWN_MARGIN_SECONDS = 30;

/**
 * A task pod's `terminationGracePeriodSeconds` with Airflow's defaults: {@link DEFAULT_KILLED_TASK_CLEANUP_TIME}
 * + {@link TASK_POD_SHUTDOWN_MARGIN_SECONDS}. The executor deletes a task pod once it has ended (nothing left to
 * wait for), but also a running one (a task cleared or marked failed, a pod stuck in its start): then the task
 * gets SIGTERM, its `on_kill()` runs, and Airflow kills it after `killed_task_cleanup_time`; the pod must outlive
 * that, or SIGKILL cuts `on_kill()` (a remote job left running) and the last log lines. The official chart's
 * 600 s (`workers.terminationGracePeriodSeconds`) is the Celery workers' drain time, which a task pod has no need of.
 */
export const TASK_POD_TERMINATION_GRACE_SECONDS = DEFAULT_KILLED_TASK_CLEANUP_TIME + TASK_POD_SHUTDOWN_MARGIN_SECONDS;

/** Options for {@link workerPodTemplate}. */
export interface WorkerPodTemplateOptions {
  /** The worker image (the same as the control plane's). */
  readonly image: string;
  /** The image pull policy. */
  readonly imagePullPolicy: string;
  /** The environment of the `base` container (on Airflow 2 also the database connection and fernet key, from Secrets). */
  readonly env: k8s.EnvVar[];
  /** The pod's volumes: dags, logs, data and the configuration ConfigMap. */
  readonly volumes: k8s.Volume[];
  /** The `base` container's mounts: every volume at its path, and `airflow.cfg`. */
  readonly volumeMounts: k8s.VolumeMount[];
  /** The ServiceAccount the worker pods run as. */
  readonly serviceAccountName: string;
  /** The pod's labels. */
  readonly labels: Record<string, string>;
  /**
   * How long a deleted task pod gets between SIGTERM and SIGKILL.
   * @default TASK_POD_TERMINATION_GRACE_SECONDS
   */
  readonly terminationGracePeriodSeconds?: number;
  /**
   * The `base` container's securityContext.
   * @default - airflowContainerSecurityContext(): read-only root file system
   */
  readonly containerSecurityContext?: k8s.SecurityContext;
  /**
   * The pod's securityContext.
   * @default - airflowPodSecurityContext(): uid 50000, gid 0, fsGroup 0
   */
  readonly podSecurityContext?: k8s.PodSecurityContext;
  /** The default CPU and memory of a task (override per task with `executor_config`). */
  readonly resources: ContainerResources;
  /**
   * Init containers: none, except git-sync's one-time sync in its sidecar mode (a documented start-time cost).
   * @default - none
   */
  readonly initContainers?: k8s.Container[];
  /**
   * The worker's pod options: placement, extra env, envFrom, volumes, labels and annotations.
   * @default - none
   */
  readonly pod?: ResolvedPodOptions;
}

/**
 * The KubernetesExecutor's `pod_template_file`: the Pod every task runs in. One container named `base`,
 * `restartPolicy: Never`, the control plane's image, configuration and volumes, default task resources, no
 * ServiceAccount token, and no init containers (unless git-sync runs in its sidecar mode): a task pod's
 * start-up time is the KubernetesExecutor's known weakness, and nothing in the template adds to it. The executor sets the pod's name, namespace and the
 * container's args.
 * @returns the Pod manifest as plain JSON (quantities as strings)
 */
export function workerPodTemplate(options: WorkerPodTemplateOptions): Record<string, unknown> {
  const pod = options.pod ?? NO_POD_OPTIONS;
  return k8s.KubePod.manifest({
    metadata: {
      // Replaced by the executor with a name of its own for each task.
      name: 'placeholder-name',
      labels: { ...pod.podLabels, ...options.labels },
      ...(Object.keys(pod.podAnnotations).length ? { annotations: pod.podAnnotations } : {}),
    },
    spec: {
      ...pod.placement,
      serviceAccountName: options.serviceAccountName,
      automountServiceAccountToken: false,
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: options.terminationGracePeriodSeconds ?? TASK_POD_TERMINATION_GRACE_SECONDS,
      securityContext: options.podSecurityContext ?? airflowPodSecurityContext(),
      ...(options.initContainers?.length ? { initContainers: options.initContainers } : {}),
      containers: [
        {
          name: WORKER_CONTAINER_NAME,
          image: options.image,
          imagePullPolicy: options.imagePullPolicy,
          env: [...options.env, ...pod.env],
          ...(pod.envFrom.length ? { envFrom: pod.envFrom } : {}),
          resources: resourceRequirements(options.resources),
          securityContext: options.containerSecurityContext ?? airflowContainerSecurityContext(),
          volumeMounts: [...options.volumeMounts, ...pod.volumeMounts],
        },
      ],
      volumes: [...options.volumes, ...pod.volumes],
    },
  });
}

/** The worker pod template: the task pods' environment, volumes and options, with the features' init containers. */
export function renderWorkerPodTemplate(
  airflow: KubernetesExecutorAirflow,
  serviceAccountName: string,
  pod: ResolvedPodOptions,
  userInitContainers: readonly k8s.Container[] = [],
): Record<string, unknown> {
  return workerPodTemplate({
    image: airflow.workerImage,
    imagePullPolicy: airflow.imagePullPolicy,
    env: airflow.taskEnv(Components.WORKER),
    initContainers: [...airflow.contributed('initContainers', Components.WORKER), ...userInitContainers],
    volumes: [...airflow.airflowPodVolumes(Components.WORKER), ...airflow.contributed('volumes', Components.WORKER)],
    volumeMounts: airflow.airflowVolumeMounts(Components.WORKER),
    serviceAccountName,
    labels: airflowLabels(Components.WORKER),
    containerSecurityContext: airflow.airflowContainerSecurityContext(),
    podSecurityContext: airflow.airflowPodSecurityContext(),
    terminationGracePeriodSeconds: killedTaskCleanupTime(airflow.config) + TASK_POD_SHUTDOWN_MARGIN_SECONDS,
    resources: airflow.workerResources,
    pod,
  });
}

/** `[core] killed_task_cleanup_time` as the user set it (a whole number of seconds), or Airflow's default. */
function killedTaskCleanupTime(config: Readonly<Record<string, Readonly<Record<string, string | number | boolean>>>>): number {
  const value = Number(config.core?.killed_task_cleanup_time ?? DEFAULT_KILLED_TASK_CLEANUP_TIME);
  return Number.isInteger(value) && value >= 0 ? value : DEFAULT_KILLED_TASK_CLEANUP_TIME;
}

/**
 * The task pods' own init containers (`worker.extraInitContainers`), checked like a component's; `worker.extraContainers`
 * is refused: the KubernetesExecutor learns that a task ended from its pod's phase, which a sidecar still running
 * keeps at Running (cncf.kubernetes `KubernetesJobWatcher.process_status` acts on Succeeded and Failed only).
 */
export function resolveWorkerExtraContainers(
  airflow: KubernetesExecutorAirflow,
  extraContainers: readonly k8s.Container[] | undefined,
  extraInitContainers: readonly k8s.Container[] | undefined,
): k8s.Container[] {
  if (extraContainers !== undefined && extraContainers.length > 0) {
    invalid(
      airflow,
      'worker.extraContainers',
      extraContainers.map((c) => c?.name),
      'none: the KubernetesExecutor learns that a task ended from its pod\'s phase (Succeeded or Failed), and a container ' +
        "still running beside the task's keeps the pod Running: the executor would hold its slot of parallelism for ever",
      'Run it in worker.extraInitContainers: before the task, or beside it with restartPolicy: "Always" (a sidecar Kubernetes stops when the task\'s container ends, from Kubernetes 1.29 on).',
    );
  }
  return resolveExtraContainers(airflow, 'worker.extraInitContainers', extraInitContainers, {
    reservedNames: [WORKER_CONTAINER_NAME],
    securityContext: airflow.airflowContainerSecurityContext(),
  });
}

/** The task pods' template as {@link createWorkerPodTemplate} wired it into the control plane. */
export interface WorkerPodTemplateWiring {
  /** The task pods' ServiceAccount (`airflow-worker`); undefined when `worker.existingServiceAccountName` names the user's. */
  readonly serviceAccount: k8s.KubeServiceAccount | undefined;
  /** `worker.existingServiceAccountName`, checked; undefined when the library creates the ServiceAccount. */
  readonly existingServiceAccountName: string | undefined;
  /** Renders the worker pod template (read at synth, and by `workerPodTemplate`). */
  readonly render: () => Record<string, unknown>;
}

/**
 * The task pods' template wired into the control plane: the `worker` pod options (resolved by `resolvePod`, which
 * records them for the features' name checks), the task pods' ServiceAccount (or the user's), their own init
 * containers, the template set beside `airflow.cfg` in the configuration, and its container names checked at synth.
 */
export function createWorkerPodTemplate(
  airflow: KubernetesExecutorAirflow,
  worker: WorkerOptions | undefined,
  resolvePod: (podOptions: PodOptions) => ResolvedPodOptions,
): WorkerPodTemplateWiring {
  const { image: _image, extraInitContainers, extraContainers, existingServiceAccountName, ...workerPodOptions } = worker ?? {};
  const workerPod = resolvePod(workerPodOptions);
  const workerAccount = recover(airflow, () => resolveExistingServiceAccount(airflow, 'worker', existingServiceAccountName, workerPod.serviceAccountAnnotations), undefined);
  const serviceAccount = workerAccount === undefined
    ? airflowServiceAccount(airflow, 'worker-service-account', `airflow-${Components.WORKER}`, Components.WORKER, false, workerPod.serviceAccountAnnotations)
    : undefined;
  const workerInit = recover(airflow, () => resolveWorkerExtraContainers(airflow, extraContainers, extraInitContainers), []);
  const render = () => renderWorkerPodTemplate(airflow, workerAccount ?? serviceAccount!.name, workerPod, workerInit);
  airflow.configuration.setWorkerPodTemplate(render);
  airflow.node.addValidation({
    validate: () => {
      const spec = (render() as { spec: k8s.PodSpec }).spec;
      return duplicateContainerNames(airflow, 'worker.extraInitContainers', [...(spec.initContainers ?? []), ...spec.containers]);
    },
  });
  return { serviceAccount, existingServiceAccountName: workerAccount, render };
}
