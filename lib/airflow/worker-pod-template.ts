import * as k8s from '../../imports/k8s';
import { Components, airflowLabels } from '../core';
import type { KubernetesExecutorAirflow } from './kubernetes-executor-airflow';
import { airflowContainerSecurityContext, airflowPodSecurityContext } from '../security';
import { ContainerResources, NO_POD_OPTIONS, ResolvedPodOptions, resourceRequirements } from './pod-parts';

/**
 * The name of the worker pod's container. The KubernetesExecutor fills in its `args` (the task command) and
 * merges a task's `executor_config={"pod_override": ...}` onto the container of this name.
 */
export const WORKER_CONTAINER_NAME = 'base';

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
      securityContext: airflowPodSecurityContext(),
      ...(options.initContainers?.length ? { initContainers: options.initContainers } : {}),
      containers: [
        {
          name: WORKER_CONTAINER_NAME,
          image: options.image,
          imagePullPolicy: options.imagePullPolicy,
          env: [...options.env, ...pod.env],
          ...(pod.envFrom.length ? { envFrom: pod.envFrom } : {}),
          resources: resourceRequirements(options.resources),
          securityContext: airflowContainerSecurityContext(),
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
): Record<string, unknown> {
  return workerPodTemplate({
    image: airflow.workerImage,
    imagePullPolicy: airflow.imagePullPolicy,
    env: airflow.taskEnv(Components.WORKER),
    initContainers: airflow.contributed('initContainers', Components.WORKER),
    volumes: [...airflow.airflowPodVolumes(), ...airflow.contributed('volumes', Components.WORKER)],
    volumeMounts: airflow.airflowVolumeMounts(Components.WORKER),
    serviceAccountName,
    labels: airflowLabels(Components.WORKER),
    resources: airflow.workerResources,
    pod,
  });
}
