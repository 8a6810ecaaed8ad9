import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { AirflowVersion, airflowLabels, atSynth } from '../core';
import { airflowContainerSecurityContext, airflowPodSecurityContext } from '../security';

/** The name of the init container that waits for `airflow db migrate` to have run. */
export const WAIT_FOR_MIGRATIONS_CONTAINER_NAME = 'wait-for-airflow-migrations';

/**
 * How long `airflow db check-migrations` waits for the migrations before it fails (the pod is then restarted
 * and waits again). The official chart waits 60 s; the first start on minikube (image pulls, a fresh
 * database, 2 CPUs shared by everything) takes longer, and every restart adds back-off.
 */
export const MIGRATION_WAIT_TIMEOUT_SECONDS = 600;

/** The resources of the short commands that run before or beside the components (check-migrations, create-user). */
export const ONE_SHOT_RESOURCES: ContainerResources = { cpuRequest: '50m', memoryRequest: '256Mi', cpuLimit: '500m', memoryLimit: '768Mi' };

/** What every Airflow pod of the control plane (Deployments and Jobs) is built from. */
export interface AirflowPodParts {
  /** The Airflow version. */
  readonly airflowVersion: AirflowVersion;
  /** The image. */
  readonly image: string;
  /** The image pull policy. */
  readonly imagePullPolicy: string;
  /** The environment of every control-plane container: `AIRFLOW_CONFIG` and the secrets, by reference. */
  readonly env: k8s.EnvVar[];
  /**
   * The pod volumes: dags, logs, data (...) and the configuration ConfigMap. Called at synth, so that volumes
   * added after the control plane was built are in every pod.
   */
  readonly volumes: () => k8s.Volume[];
  /** The container mounts: every volume at its path, and `airflow.cfg`. */
  readonly volumeMounts: () => k8s.VolumeMount[];
  /** sha256 of the configuration ConfigMap. */
  readonly configChecksum: string;
  /** The init container that waits until the database accepts connections. */
  readonly waitForDatabase: k8s.Container;
}

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

/** CPU and memory requests and limits, as Kubernetes quantities. */
export function resourceRequirements(r: ContainerResources): k8s.ResourceRequirements {
  return {
    requests: { cpu: k8s.Quantity.fromString(r.cpuRequest), memory: k8s.Quantity.fromString(r.memoryRequest) },
    limits: { cpu: k8s.Quantity.fromString(r.cpuLimit), memory: k8s.Quantity.fromString(r.memoryLimit) },
  };
}

/** A container of the control plane that is not given explicitly: name, resources, and what differs. */
export interface AirflowContainerOptions extends Partial<k8s.Container> {
  /** The container's name. */
  readonly name: string;
  /** Its CPU and memory requests and limits. */
  readonly resources: k8s.ResourceRequirements;
}

/**
 * An Airflow container of the control plane: the parts' image, pull policy, environment and mounts, and the
 * Airflow container securityContext; `options` adds the name, resources, command and anything that differs.
 */
export function airflowContainer(parts: AirflowPodParts, options: AirflowContainerOptions): k8s.Container {
  return {
    image: parts.image,
    imagePullPolicy: parts.imagePullPolicy,
    env: parts.env,
    volumeMounts: atSynth(() => parts.volumeMounts()),
    securityContext: airflowContainerSecurityContext(),
    ...options,
  };
}

/** The pod spec of a control-plane pod: the Airflow pod securityContext and the parts' volumes. */
export function airflowPodSpec(
  parts: AirflowPodParts,
  spec: Pick<k8s.PodSpec, 'serviceAccountName' | 'automountServiceAccountToken' | 'restartPolicy' | 'initContainers' | 'containers'>,
): k8s.PodSpec {
  return { ...spec, securityContext: airflowPodSecurityContext(), volumes: atSynth(() => parts.volumes()) };
}

/** The ServiceAccount `name` of a component; a token only where `automountToken` says the pod uses the API. */
export function airflowServiceAccount(
  scope: Construct,
  id: string,
  name: string,
  component: string,
  automountToken: boolean,
): k8s.KubeServiceAccount {
  return new k8s.KubeServiceAccount(scope, id, {
    metadata: { name, labels: airflowLabels(component) },
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
