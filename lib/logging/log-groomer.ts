import * as k8s from '../../imports/k8s';
import { airflowContainerSecurityContext } from '../security';
import { Components, invalid, validateInteger } from '../core';
import { AirflowContribution, IAirflowFeature } from '../airflow/airflow-feature';
import type { KubernetesExecutorAirflow } from '../airflow/kubernetes-executor-airflow';
import { ContainerResources, resourceRequirements } from '../airflow/pod-parts';

/** The name of the scheduler's sidecar that removes old task logs from the logs volume. */
export const LOG_GROOMER_CONTAINER_NAME = 'log-groomer';

/** CPU and memory of the log groomer: a shell loop that runs `find` every {@link LOG_GROOMER_INTERVAL_MINUTES} minutes. */
export const LOG_GROOMER_RESOURCES: ContainerResources = { cpuRequest: '10m', memoryRequest: '16Mi', cpuLimit: '100m', memoryLimit: '64Mi' };

/** How often the log groomer looks for old logs (the official chart's log groomer default). */
export const LOG_GROOMER_INTERVAL_MINUTES = 15;

/** The file the log groomer touches when it starts and after each round; its liveness probe checks its age. */
export const LOG_GROOMER_HEARTBEAT = '/tmp/log-groomer-heartbeat';

/** The log groomer's own emptyDir at `/tmp` (its root file system is read-only), where the heartbeat is. */
export const LOG_GROOMER_TMP_VOLUME_NAME = 'log-groomer-tmp';

/**
 * A round that has not ended after this many minutes means the loop is stuck (a `find` hanging on the volume)
 * or gone: two intervals, and 5 minutes for a long `find`.
 */
export const LOG_GROOMER_STALE_MINUTES = 2 * LOG_GROOMER_INTERVAL_MINUTES + 5;

/** Where a pod's ServiceAccount token is mounted into each container, unless the container mounts something there itself. */
export const SERVICE_ACCOUNT_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The empty volume the log groomer mounts over {@link SERVICE_ACCOUNT_TOKEN_PATH}: the scheduler's pod has a
 * token (it creates task pods), and the API server's ServiceAccount admission leaves a container alone that
 * already mounts something at that path, so the groomer never sees the token.
 */
export const NO_TOKEN_VOLUME_NAME = 'no-service-account-token';

/** Options for {@link logGroomerContainer}. */
export interface LogGroomerOptions {
  /** The image: the Airflow image, already on the node for the scheduler (bash and GNU find are all it uses). */
  readonly image: string;
  /** The image pull policy. */
  readonly imagePullPolicy: string;
  /** The pod-spec name of the logs volume. */
  readonly logsVolume: string;
  /** Where the logs volume is mounted (`[logging] base_log_folder`). */
  readonly logsPath: string;
  /** Task logs older than this many days are removed. */
  readonly retentionDays: number;
  /**
   * Whether the pod runs under OpenShift's restricted SCC: no fixed uid or gid.
   * @default false
   */
  readonly openShift?: boolean;
}

/**
 * The log groomer: a sidecar of the scheduler that, every 15 minutes, deletes `*.log` files older than
 * `retentionDays` from the logs volume, then folders left empty for an hour. It mounts the logs volume and
 * nothing else (no DAGs, no configuration, no Secret, no token: see {@link NO_TOKEN_VOLUME_NAME}), runs as
 * the Airflow user with the restricted security context, and bypasses the image's entrypoint (no Python
 * starts; bash is PID 1 and exits on SIGTERM).
 */
export function logGroomerContainer(options: LogGroomerOptions): k8s.Container {
  const folder = shellQuote(options.logsPath);
  const minutes = options.retentionDays * 24 * 60;
  const script = [
    // On SIGTERM (bash is PID 1): stop the sleep and exit at once, not after the grace period.
    "trap 'kill $! 2>/dev/null; exit 0' TERM INT",
    `touch ${LOG_GROOMER_HEARTBEAT}`,
    'while true; do',
    `  removed=$(find ${folder} -xdev -mindepth 1 -type f -name '*.log' -mmin +${minutes} -delete -print | wc -l)`,
    `  find ${folder} -xdev -mindepth 1 -type d -empty -mmin +60 -delete`,
    `  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) log-groomer: removed $removed task log files older than ${options.retentionDays} days"`,
    `  touch ${LOG_GROOMER_HEARTBEAT}`,
    `  sleep ${LOG_GROOMER_INTERVAL_MINUTES * 60} & wait $!`,
    'done',
  ].join('\n');
  return {
    name: LOG_GROOMER_CONTAINER_NAME,
    image: options.image,
    imagePullPolicy: options.imagePullPolicy,
    command: ['bash', '-c', script],
    resources: resourceRequirements(LOG_GROOMER_RESOURCES),
    // The loop is alive while it ends a round now and then: a heartbeat older than two rounds restarts it.
    livenessProbe: {
      exec: { command: ['bash', '-c', `find ${LOG_GROOMER_HEARTBEAT} -mmin -${LOG_GROOMER_STALE_MINUTES} | grep -q .`] },
      periodSeconds: 60,
      timeoutSeconds: 10,
      failureThreshold: 3,
    },
    securityContext: airflowContainerSecurityContext(true, options.openShift ?? false),
    volumeMounts: [
      { name: options.logsVolume, mountPath: options.logsPath },
      { name: LOG_GROOMER_TMP_VOLUME_NAME, mountPath: '/tmp' },
      { name: NO_TOKEN_VOLUME_NAME, mountPath: SERVICE_ACCOUNT_TOKEN_PATH, readOnly: true },
    ],
  };
}

/** The groomer's `/tmp`: the heartbeat only. */
export function logGroomerTmpVolume(): k8s.Volume {
  return { name: LOG_GROOMER_TMP_VOLUME_NAME, emptyDir: { sizeLimit: k8s.Quantity.fromString('1Mi') } };
}

/** The empty volume the groomer mounts over the token path. */
export function noTokenVolume(): k8s.Volume {
  return { name: NO_TOKEN_VOLUME_NAME, emptyDir: { sizeLimit: k8s.Quantity.fromString('1Mi') } };
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, "'\\''")}'`;
}

/** How many days task logs stay on the logs volume unless `logRetentionDays` says otherwise. */
export const DEFAULT_LOG_RETENTION_DAYS = 15;

/**
 * Log retention as a feature of the control plane ({@link IAirflowFeature}): the log groomer in the scheduler's
 * pod, removing task logs older than `retentionDays` from the logs volume. `airflow.addFeature(new LogGroomer(7))`;
 * AirflowChart adds it from `logRetentionDays` (15 days by default).
 */
export class LogGroomer implements IAirflowFeature {
  /** How messages name this feature: the AirflowChart prop. */
  public readonly featureName = 'logRetentionDays';

  /** @param retentionDays Task logs older than this many days are removed (1 to 3650). */
  constructor(public readonly retentionDays: number = DEFAULT_LOG_RETENTION_DAYS) {}

  /** The groomer beside the scheduler, with the logs volume and the empty volume over the token path. */
  public contribute(airflow: KubernetesExecutorAirflow): AirflowContribution {
    validateInteger(airflow, this.featureName, this.retentionDays, 1, 3650);
    if (!airflow.volumes.has('logs')) {
      invalid(airflow, this.featureName, this.retentionDays, `0 or unset: there is no "logs" volume (${airflow.volumes.names.join(', ')}) to remove task logs from`);
    }
    const logs = airflow.volumes.get('logs');
    const container = logGroomerContainer({
      image: airflow.image,
      imagePullPolicy: airflow.imagePullPolicy,
      logsVolume: logs.name,
      logsPath: logs.mountPath,
      retentionDays: this.retentionDays,
      openShift: airflow.openShift,
    });
    return { sidecars: { [Components.SCHEDULER]: [container] }, volumes: { [Components.SCHEDULER]: [noTokenVolume(), logGroomerTmpVolume()] } };
  }
}
