import { createHash } from 'crypto';
import { Construct } from 'constructs';
import * as k8s from '../imports/k8s';
import { AirflowVersion } from './airflow-version';
import { airflowContainerSecurityContext, airflowPodSecurityContext } from './pod-security';

/** The label every object of the Airflow deployment carries: `app.kubernetes.io/name: airflow`. */
export const AIRFLOW_NAME_LABEL = 'app.kubernetes.io/name';
/** The label naming the component: `app.kubernetes.io/component`. */
export const AIRFLOW_COMPONENT_LABEL = 'app.kubernetes.io/component';

/** The labels of a component's objects and pods. */
export function airflowLabels(component: string): Record<string, string> {
  return {
    [AIRFLOW_NAME_LABEL]: 'airflow',
    'app.kubernetes.io/part-of': 'airflow',
    [AIRFLOW_COMPONENT_LABEL]: component,
  };
}

/** The name of the init container that waits for `airflow db migrate` to have run. */
export const WAIT_FOR_MIGRATIONS_CONTAINER_NAME = 'wait-for-airflow-migrations';

/**
 * How long `airflow db check-migrations` waits for the migrations before it fails (the pod is then restarted
 * and waits again). The official chart waits 60 s; the first start on minikube (image pulls, a fresh
 * database, 2 CPUs shared by everything) takes longer, and every restart adds back-off.
 */
export const MIGRATION_WAIT_TIMEOUT_SECONDS = 600;

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
  /** The pod volumes: dags, logs, data (...) and the configuration ConfigMap. */
  readonly volumes: k8s.Volume[];
  /** The container mounts: every volume at its path, and `airflow.cfg`. */
  readonly volumeMounts: k8s.VolumeMount[];
  /** sha256 of the configuration ConfigMap. */
  readonly configChecksum: string;
  /** The init container that waits until the database accepts connections. */
  readonly waitForDatabase: k8s.Container;
}

/** CPU and memory requests and limits, as Kubernetes quantities. */
export function resourceRequirements(cpuRequest: string, memoryRequest: string, cpuLimit: string, memoryLimit: string): k8s.ResourceRequirements {
  return {
    requests: { cpu: k8s.Quantity.fromString(cpuRequest), memory: k8s.Quantity.fromString(memoryRequest) },
    limits: { cpu: k8s.Quantity.fromString(cpuLimit), memory: k8s.Quantity.fromString(memoryLimit) },
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
    volumeMounts: parts.volumeMounts,
    securityContext: airflowContainerSecurityContext(),
    ...options,
  };
}

/** The pod spec of a control-plane pod: the Airflow pod securityContext and the parts' volumes. */
export function airflowPodSpec(
  parts: AirflowPodParts,
  spec: Pick<k8s.PodSpec, 'serviceAccountName' | 'automountServiceAccountToken' | 'restartPolicy' | 'initContainers' | 'containers'>,
): k8s.PodSpec {
  return { ...spec, securityContext: airflowPodSecurityContext(), volumes: parts.volumes };
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
    resources: resourceRequirements('50m', '256Mi', '500m', '768Mi'),
  });
}

/** JSON with object keys sorted, so that equal values give equal strings whatever the insertion order. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The first 8 hex digits of the sha256 of `value`'s stable JSON. */
export function shortHash(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('hex').slice(0, 8);
}
