import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { DeploymentStrategy, airflowLabels, atSynth, componentDeployment, namedPortService, refuseUnknownProps, resolveDeploymentStrategy, selectorLabels, spreadOverNodes, validateChoice, validateInteger } from '../core';
import { CONFIG_CHECKSUM_ANNOTATION } from './airflow-configuration';
import {
  AirflowContainerOptions,
  AirflowPodParts,
  ContainerResources,
  airflowContainer,
  airflowPodMetadata,
  airflowPodSpec,
  airflowServiceAccount,
  resourceRequirements,
  waitForMigrationsContainer,
} from './pod-parts';

/** The HTTP port of a component, and the Service in front of it. */
export interface AirflowComponentPort {
  /** The container port, named `http`. */
  readonly containerPort: number;
  /** The Service port (the Service is named like the Deployment). */
  readonly servicePort: number;
  /**
   * The Service's type.
   * @default "ClusterIP"
   */
  readonly serviceType?: string;
  /**
   * The Service's annotations.
   * @default - none
   */
  readonly serviceAnnotations?: Record<string, string>;
}

/** The Service types. */
export const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer'] as const;

/** Props for {@link AirflowComponent}. */
export interface AirflowComponentProps {
  /** What the Airflow pods are built from: image, environment, volumes, the wait-for-db container. */
  readonly parts: AirflowPodParts;

  /** The component's name, `app.kubernetes.io/component` (`scheduler`, `api-server`, ...). */
  readonly component: string;

  /** The Airflow command the container runs, e.g. `airflow scheduler`. */
  readonly command: string;

  /** The container's CPU and memory requests and limits. */
  readonly resources: ContainerResources;

  /**
   * How many pods. More than one adds a PodDisruptionBudget (`minAvailable: 1`), a preferred pod anti-affinity
   * that spreads them over nodes, and a rolling update that keeps at least one running.
   * @default 1
   */
  readonly replicas?: number;

  /**
   * Whether the pod gets a Kubernetes API token: only a component that uses the API (the scheduler, which
   * creates task pods) should.
   * @default false
   */
  readonly automountServiceAccountToken?: boolean;

  /**
   * The HTTP port the component serves, and a ClusterIP Service in front of it.
   * @default - no port and no Service
   */
  readonly port?: AirflowComponentPort;

  /**
   * The startup probe.
   * @default - none
   */
  readonly startupProbe?: k8s.Probe;

  /**
   * The readiness probe.
   * @default - none
   */
  readonly readinessProbe?: k8s.Probe;

  /**
   * The liveness probe.
   * @default - none
   */
  readonly livenessProbe?: k8s.Probe;

  /**
   * Mounts beside the parts' volumes (e.g. the worker pod template for the scheduler).
   * @default - none
   */
  readonly extraVolumeMounts?: k8s.VolumeMount[];

  /**
   * Environment variables of the component's container beside the parts' (not of its init containers), e.g.
   * the Celery broker's for the scheduler.
   * @default - none
   */
  readonly extraEnv?: () => k8s.EnvVar[];

  /**
   * Containers beside the component's own (the scheduler's log groomer, git-sync in its sidecar mode).
   * @default - none
   */
  readonly sidecars?: () => k8s.Container[];

  /**
   * Init containers after the database and migration waits (e.g. a first git-sync), read at synth.
   * @default - none
   */
  readonly extraInitContainers?: () => k8s.Container[];

  /**
   * Pod volumes beside the parts' volumes, for the sidecars.
   * @default - none
   */
  readonly extraVolumes?: () => k8s.Volume[];

  /**
   * How long Kubernetes waits after SIGTERM before it kills the pod (`terminationGracePeriodSeconds`).
   * @default - Kubernetes' default, 30 s
   */
  readonly terminationGracePeriodSeconds?: number;

  /**
   * Whether the Deployment rolls without downtime by default (a new pod first, then the old one goes: the UI).
   * Otherwise, with one replica, the old pod stops before the new one starts (`Recreate`): one scheduler,
   * dag-processor or triggerer at a time is enough on a small node, and a second one during a rollout would
   * only compete for its CPU; with several, one pod at a time is replaced (`maxSurge: 0`, `maxUnavailable: 1`),
   * the others keep running. `strategy` overrides both.
   * @default false
   */
  readonly rollingUpdate?: boolean;

  /**
   * How the Deployment replaces its pods on a rollout.
   * @default - see `rollingUpdate`
   */
  readonly strategy?: DeploymentStrategy;

  /**
   * The option names of this component in messages (`scheduler`, `apiServer`...).
   * @default - the component's name
   */
  readonly property?: string;

  /**
   * Containers of the user's own beside the component's and the features' sidecars, already checked
   * (`resolveExtraContainers`).
   * @default - none
   */
  readonly extraContainers?: k8s.Container[];

  /**
   * Init containers of the user's own, after the library's and the features', already checked.
   * @default - none
   */
  readonly userInitContainers?: k8s.Container[];

  /**
   * A ServiceAccount the user manages: the pods run as it, and none is created.
   * @default - a ServiceAccount named like the Deployment, created here
   */
  readonly existingServiceAccountName?: string;
}

/**
 * One long-running component of the Airflow control plane: its ServiceAccount, its Deployment (waiting for
 * the database and its migrations in init containers, then running the Airflow command) and, for a component
 * that serves HTTP, its Service. The api-server (webserver on Airflow 2), the scheduler, the dag-processor and
 * the triggerer are each one of these.
 */
export class AirflowComponent extends Construct {
  /** The component's name (`scheduler`). */
  public readonly component: string;

  /** The name of the Deployment, its ServiceAccount and its Service: `airflow-<component>`. */
  public readonly name: string;

  /** The ServiceAccount; undefined when the pods run as a ServiceAccount the user manages. */
  public readonly serviceAccount: k8s.KubeServiceAccount | undefined;

  /** The name of the ServiceAccount the pods run as: the library's (`name`) or the user's own. */
  public readonly serviceAccountName: string;

  /** The Deployment. */
  public readonly deployment: k8s.KubeDeployment;

  /** The Service; undefined for a component without a port. */
  public readonly service: k8s.KubeService | undefined;

  /** The PodDisruptionBudget; undefined with one replica. */
  public readonly podDisruptionBudget: k8s.KubePodDisruptionBudget | undefined;

  /** The number of pods. */
  public readonly replicas: number;

  constructor(scope: Construct, id: string, props: AirflowComponentProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'AirflowComponentProps');
    const parts = props.parts;
    this.component = props.component;
    this.name = `airflow-${props.component}`;
    const labels = airflowLabels(props.component);
    const selector = selectorLabels(props.component);
    const automount = props.automountServiceAccountToken ?? false;
    this.replicas = validateInteger(this, 'replicas', props.replicas ?? 1, 1, 100);

    this.serviceAccountName = props.existingServiceAccountName ?? this.name;
    this.serviceAccount = props.existingServiceAccountName === undefined
      ? airflowServiceAccount(this, 'service-account', this.name, props.component, automount, parts.pod?.serviceAccountAnnotations)
      : undefined;

    const container: Partial<AirflowContainerOptions> = {
      args: ['bash', '-c', `exec ${props.command}`],
      ...(props.extraEnv ? { extraEnv: props.extraEnv } : {}),
      ...(props.extraVolumeMounts ? { extraVolumeMounts: props.extraVolumeMounts } : {}),
      ...(props.port ? { ports: [{ name: 'http', containerPort: props.port.containerPort, protocol: 'TCP' }] } : {}),
      ...(props.startupProbe ? { startupProbe: props.startupProbe } : {}),
      ...(props.readinessProbe ? { readinessProbe: props.readinessProbe } : {}),
      ...(props.livenessProbe ? { livenessProbe: props.livenessProbe } : {}),
    };

    const main = airflowContainer(parts, { name: props.component, resources: resourceRequirements(props.resources), ...container });
    const spec = airflowPodSpec(parts, {
      serviceAccountName: this.serviceAccountName,
      automountServiceAccountToken: automount,
      ...(props.terminationGracePeriodSeconds !== undefined ? { terminationGracePeriodSeconds: props.terminationGracePeriodSeconds } : {}),
      initContainers: atSynth(() => [parts.waitForDatabase, waitForMigrationsContainer(parts), ...(props.extraInitContainers?.() ?? []), ...(props.userInitContainers ?? [])]),
      containers: atSynth(() => [main, ...(props.sidecars?.() ?? []), ...(props.extraContainers ?? [])]),
    }, props.extraVolumes);
    // The features' containers are known at synth only: one name twice in the pod is reported then.
    this.node.addValidation({ validate: () => duplicateContainerNames(this, `${props.property ?? props.component}.extraContainers`, [
      ...[parts.waitForDatabase, waitForMigrationsContainer(parts), ...(props.extraInitContainers?.() ?? []), ...(props.userInitContainers ?? [])],
      ...[main, ...(props.sidecars?.() ?? []), ...(props.extraContainers ?? [])],
    ]) });
    // Several replicas: spread over nodes, beside the pod options' own affinity (never instead of it).
    const podSpec: k8s.PodSpec = this.replicas > 1 ? { ...spec, affinity: spreadOverNodes(spec.affinity, selector) } : spec;
    this.deployment = componentDeployment(this, 'deployment', {
      name: this.name,
      labels,
      selector,
      replicas: this.replicas,
      strategy: this.strategy(props),
      podMetadata: airflowPodMetadata(parts, labels, { [CONFIG_CHECKSUM_ANNOTATION]: parts.configChecksum }),
      podSpec,
    });

    const serviceType = validateChoice(this, 'port.serviceType', props.port?.serviceType ?? 'ClusterIP', SERVICE_TYPES);
    this.service = props.port
      ? namedPortService(this, 'service', {
        name: this.name,
        labels,
        selector,
        type: serviceType,
        annotations: props.port.serviceAnnotations,
        ports: [{ name: 'http', port: props.port.servicePort }],
      })
      : undefined;

    this.podDisruptionBudget =
      this.replicas > 1
        ? new k8s.KubePodDisruptionBudget(this, 'pod-disruption-budget', {
          metadata: { name: this.name, labels },
          spec: { minAvailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: selector } },
        })
        : undefined;
  }

  /** The Deployment's strategy: the one given, else by `rollingUpdate` and the replicas (see the props). */
  private strategy(props: AirflowComponentProps): k8s.DeploymentStrategy {
    // The UI: a new pod first, then an old one goes (the official chart's api-server and webserver default).
    // Several schedulers, dag-processors or triggerers: one pod at a time, never one above `replicas` (a
    // rollout on a full node does not wait for room for a surge pod), the others keep working. One: Recreate.
    const fallback = props.rollingUpdate
      ? DeploymentStrategy.rollingUpdate({ maxSurge: 1, maxUnavailable: 0 })
      : this.replicas > 1
        ? DeploymentStrategy.rollingUpdate({ maxSurge: 0, maxUnavailable: 1 })
        : DeploymentStrategy.recreate();
    return resolveDeploymentStrategy(this, `${props.property ?? props.component}.strategy`, props.strategy, fallback, this.replicas);
  }
}

/** The container names that appear twice in a pod (init containers included), as messages of a construct validation. */
export function duplicateContainerNames(scope: Construct, property: string, containers: readonly k8s.Container[]): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const c of containers) (seen.has(c.name) ? twice : seen).add(c.name);
  return [...twice].map(
    (name) =>
      `${scope.constructor.name} at "${scope.node.path}": property "${property}" received a container named ` +
      `"${name}"; allowed: a name no other container of the pod has (a feature's sidecar or init container has it too): ` +
      'Kubernetes refuses two containers of one name.',
  );
}
