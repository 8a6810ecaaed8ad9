import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import {
  Components,
  atSynth,
  chartPodDefaults,
  hardenedContainerSecurityContext,
  namedPortService,
  PodPlacementOptions,
  REDIS_PORT,
  SecretKeyRef,
  airflowLabels,
  podPlacementFields,
  podTemplateMetadata,
  secretEnv,
  selectorLabels,
  invalid,
  validateByteQuantity,
  validateImage,
  validateSecretKeyRef,
  refuseUnknownProps,
} from '../core';
import { RedisBrokerOptions } from './celery-options';
import { ContainerResources, airflowServiceAccount, resolveResources, resourceRequirements } from '../airflow/pod-parts';

/** Props for {@link RedisBroker}. */
export interface RedisBrokerProps extends RedisBrokerOptions {
  /** Where Redis' password is (`--requirepass`); the Celery clients read the same key. */
  readonly passwordSecret: SecretKeyRef;

  /**
   * Where the pod runs and how it is labelled (pull secrets, node selection, priority, pod labels and
   * annotations); Redis is not an Airflow pod, so it takes no env or volumes.
   * @default - none
   */
  readonly placement?: PodPlacementOptions;
}

/** The uid of the official Redis image's `redis` user (Debian and Alpine variants). */
export const REDIS_UID = 999;
/** The gid the Redis container runs with: the Alpine variant's `redis` group (any gid works: /data is an emptyDir). */
export const REDIS_GID = 1000;

/** The environment variable that carries the password into the Redis container (from its Secret). */
export const REDIS_PASSWORD_ENV = 'REDIS_PASSWORD';

/**
 * The Celery broker inside the cluster: Redis in a one-replica StatefulSet (`airflow-redis`) and a ClusterIP
 * Service of the same name on 6379. Password-protected (`--requirepass`, from a Secret; no value in the YAML),
 * run as the image's non-root user 999 with the restricted security context, a read-only root file system
 * and no ServiceAccount token. Redis keeps its queue in memory only (`--save '' --appendonly no`: it never
 * forks for a snapshot), unless `persistence` is on: then it snapshots to an `emptyDir` with its own `save`
 * rules, which a container restart finds (a new pod does not). Tasks a restart loses are queued again by the
 * scheduler after `[scheduler] task_queued_timeout`. Its memory is capped below the container limit with
 * `noeviction` (75% of it, 50% with persistence, for the snapshot fork's copy-on-write): full, Redis refuses
 * new tasks instead of dropping queued ones.
 */
export class RedisBroker extends Construct {
  /** The default image: the official Redis 8.6 image, Alpine variant, pinned by tag. */
  public static readonly DEFAULT_IMAGE = 'redis:8.6.7-alpine';

  /** The default resources: an idle broker uses a few MiB; the limit bounds a backlog of queued tasks. */
  public static readonly DEFAULT_RESOURCES: ContainerResources = {
    cpuRequest: '25m',
    memoryRequest: '32Mi',
    cpuLimit: '250m',
    memoryLimit: '128Mi',
  };

  /** The name of the StatefulSet, its Service and its ServiceAccount. */
  public readonly name: string;
  /** The image. */
  public readonly image: string;
  /** The container's resources. */
  public readonly resources: ContainerResources;
  /** `--maxmemory`: 75% of the memory limit without persistence, 50% with it, in bytes. */
  public readonly maxMemoryBytes: number;
  /** Whether Redis snapshots its queue to its `emptyDir`. */
  public readonly persistence: boolean;
  /** The ServiceAccount (no token). */
  public readonly serviceAccount: k8s.KubeServiceAccount;
  /** The StatefulSet. */
  public readonly statefulSet: k8s.KubeStatefulSet;
  /** The Service (`airflow-redis:6379`). */
  public readonly service: k8s.KubeService;

  constructor(scope: Construct, id: string, props: RedisBrokerProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'RedisBrokerProps');
    this.name = `airflow-${Components.REDIS}`;
    this.image = validateImage(this, 'image', props.image ?? RedisBroker.DEFAULT_IMAGE);
    const passwordSecret = validateSecretKeyRef(this, 'passwordSecret', props.passwordSecret);
    this.resources = resolveResources(this, 'resources', RedisBroker.DEFAULT_RESOURCES, props.resources);
    if (props.persistence !== undefined && typeof props.persistence !== 'boolean') invalid(this, 'persistence', props.persistence, 'true or false');
    this.persistence = props.persistence ?? false;
    // A snapshot forks Redis: the child shares the parent's pages until the parent writes them, and each page
    // written meanwhile is copied (and charged to the container). With persistence the dataset keeps half of the
    // limit, so that a fork that copies all of it still fits; without, Redis never forks and keeps 25% for its
    // own buffers (clients' input and output buffers).
    const limitBytes = validateByteQuantity(this, 'resources.memoryLimit', this.resources.memoryLimit);
    this.maxMemoryBytes = Math.floor(limitBytes * (this.persistence ? 0.5 : 0.75));
    const labels = airflowLabels(Components.REDIS);
    const selector = selectorLabels(Components.REDIS);
    const placement = props.placement ?? {};

    this.serviceAccount = airflowServiceAccount(this, 'service-account', this.name, Components.REDIS, false);

    const ping: k8s.Probe = {
      // redis-cli reads the password from REDISCLI_AUTH (not from its command line, where `ps` would show it).
      exec: { command: ['sh', '-c', `REDISCLI_AUTH="$${REDIS_PASSWORD_ENV}" redis-cli -p ${REDIS_PORT} ping | grep -q PONG`] },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 3,
    };

    this.statefulSet = new k8s.KubeStatefulSet(this, 'stateful-set', {
      metadata: { name: this.name, labels },
      spec: {
        serviceName: this.name,
        replicas: 1,
        selector: { matchLabels: selector },
        template: {
          metadata: podTemplateMetadata(labels, placement),
          spec: {
            ...podPlacementFields(placement),
            serviceAccountName: this.name,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            terminationGracePeriodSeconds: 30,
            // On OpenShift (the control plane's openShift) no uid, gid or fsGroup: the restricted SCC assigns them.
            securityContext: atSynth(() => ({
              ...(chartPodDefaults(this)?.openShift ? {} : { runAsUser: REDIS_UID, runAsGroup: REDIS_GID, fsGroup: REDIS_GID }),
              runAsNonRoot: true,
              seccompProfile: { type: 'RuntimeDefault' },
            })),
            containers: [
              {
                name: Components.REDIS,
                image: this.image,
                imagePullPolicy: 'IfNotPresent',
                // redis-server itself, not the image's entrypoint (which would load the Redis 8 modules a
                // broker does not use). The password is expanded by the kubelet from the Secret.
                command: ['redis-server'],
                args: [
                  '--port', String(REDIS_PORT),
                  '--requirepass', `$(${REDIS_PASSWORD_ENV})`,
                  '--dir', '/data',
                  '--maxmemory', String(this.maxMemoryBytes),
                  '--maxmemory-policy', 'noeviction',
                  ...(this.persistence
                    ? // Redis' default save rules, written out (one --save per rule: a rule is two words).
                      ['--save', '3600', '1', '--save', '300', '100', '--save', '60', '10000', '--appendonly', 'no']
                    : ['--save', '', '--appendonly', 'no']),
                ],
                env: [secretEnv(REDIS_PASSWORD_ENV, passwordSecret)],
                ports: [{ name: 'redis', containerPort: REDIS_PORT, protocol: 'TCP' }],
                readinessProbe: ping,
                livenessProbe: { ...ping, initialDelaySeconds: 10, periodSeconds: 30 },
                resources: resourceRequirements(this.resources),
                securityContext: hardenedContainerSecurityContext({
                  user: {
                    runAsUser: atSynth(() => (chartPodDefaults(this)?.openShift ? undefined : REDIS_UID)),
                    runAsGroup: atSynth(() => (chartPodDefaults(this)?.openShift ? undefined : REDIS_GID)),
                  },
                  runAsNonRoot: true,
                }),
                volumeMounts: [{ name: 'data', mountPath: '/data' }],
              },
            ],
            // Redis' working directory. With persistence it holds dump.rdb and, while a snapshot is written, its
            // temporary successor: two files, each at most the dataset (maxmemory, half the limit), so the
            // memory limit bounds both. Without, nothing is written there.
            volumes: [{ name: 'data', emptyDir: { sizeLimit: k8s.Quantity.fromString(this.resources.memoryLimit) } }],
          },
        },
      },
    });

    this.service = namedPortService(this, 'service', { name: this.name, labels, selector, ports: [{ name: 'redis', port: REDIS_PORT }] });
  }

  /** The in-cluster DNS name of the Service (`airflow-redis.<namespace>.svc.<clusterDomain>`). */
  public host(namespace: string, clusterDomain: string): string {
    return `${this.name}.${namespace}.svc.${clusterDomain}`;
  }

}
