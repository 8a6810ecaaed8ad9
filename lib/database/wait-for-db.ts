import * as k8s from '../../imports/k8s';
import { POSTGRES_PORT, SecretKeyRef, resourceRequirements, secretEnv } from '../core';

/** The name of the init container that waits for the database. */
export const WAIT_FOR_DB_CONTAINER_NAME = 'wait-for-db';

/** How long `wait-for-db` waits by default before it fails (the pod is then restarted by its controller). */
export const DEFAULT_WAIT_FOR_DB_TIMEOUT_SECONDS = 300;

/**
 * The part of the `wait-for-db` script that finds `DB_HOST` and `DB_PORT` in `DB_URI` (never printed), and
 * checks them: only for a database known by a connection URI in a Secret (`MetadataDb.fromConnectionUriSecret`),
 * since a host and port given at synth are validated there.
 */
export const WAIT_FOR_DB_URI_SCRIPT = [
  'authority="${DB_URI#*://}"',
  'authority="${authority%%/*}"',
  'authority="${authority%%\\?*}"',
  'authority="${authority##*@}"',
  'case "$authority" in',
  '  *:*) DB_HOST="${authority%:*}"; DB_PORT="${authority##*:}" ;;',
  `  *) DB_HOST="$authority"; DB_PORT=${POSTGRES_PORT} ;;`,
  'esac',
  'case "${DB_HOST:-}" in',
  '  ""|*[!A-Za-z0-9.-]*) echo "wait-for-db: cannot find a host name in the database connection settings" >&2; exit 1 ;;',
  'esac',
  'case "${DB_PORT:-}" in',
  '  ""|*[!0-9]*) echo "wait-for-db: cannot find a port number in the database connection settings" >&2; exit 1 ;;',
  'esac',
].join('\n');

/**
 * The `wait-for-db` script: a TCP connect to `DB_HOST`:`DB_PORT` through bash's `/dev/tcp` every 2 seconds
 * until `WAIT_TIMEOUT_SECONDS`. Six lines, so that the half a dozen pods that carry it stay readable; with a
 * connection URI, {@link WAIT_FOR_DB_URI_SCRIPT} comes first. It contains no `$(`: Kubernetes would try to
 * expand that in a container's command.
 */
export const WAIT_FOR_DB_SCRIPT = [
  'echo "wait-for-db: waiting up to ${WAIT_TIMEOUT_SECONDS}s for the metadata database at ${DB_HOST}:${DB_PORT} to accept TCP connections"',
  'until timeout 5 bash -c \'exec 3<>"/dev/tcp/$0/$1"\' "$DB_HOST" "$DB_PORT" 2>/dev/null; do',
  '  [ "$SECONDS" -lt "$WAIT_TIMEOUT_SECONDS" ] || { echo "wait-for-db: gave up after ${SECONDS}s: ${DB_HOST}:${DB_PORT} does not accept TCP connections (is the database running, and do the host, port and network policies allow it?)" >&2; exit 1; }',
  '  sleep 2',
  'done',
  'echo "wait-for-db: ${DB_HOST}:${DB_PORT} accepts connections (after ${SECONDS}s)"',
].join('\n');


/** The CPU and memory of the wait-for-db init container: 10m / 32Mi requested, 100m / 64Mi limit. */
export const WAIT_FOR_DB_RESOURCES = { cpuRequest: '10m', memoryRequest: '32Mi', cpuLimit: '100m', memoryLimit: '64Mi' } as const;
/** Options of {@link waitForDatabaseContainer}. */
export interface WaitForDatabaseOptions {
  /** The image (with bash and `timeout`). */
  readonly image: string;
  /**
   * The container securityContext.
   * @default - none
   */
  readonly securityContext?: k8s.SecurityContext;
  /** The seconds to wait before failing. */
  readonly timeoutSeconds: number;
  /**
   * The host to wait for.
   * @default - required unless `uriSecret` is given
   */
  readonly host?: string;
  /**
   * The port to wait for.
   * @default - required unless `uriSecret` is given
   */
  readonly port?: number;
  /**
   * The Secret key holding a connection URI to take host and port from.
   * @default - none: `host` and `port` are used
   */
  readonly uriSecret?: SecretKeyRef;
}

/** The `wait-for-db` init container (used by both the in-cluster and the external database). */
export function waitForDatabaseContainer(options: WaitForDatabaseOptions): k8s.Container {
  const env: k8s.EnvVar[] = options.uriSecret
    ? [secretEnv('DB_URI', options.uriSecret)]
    : [
        { name: 'DB_HOST', value: options.host },
        { name: 'DB_PORT', value: String(options.port) },
      ];
  env.push({ name: 'WAIT_TIMEOUT_SECONDS', value: String(options.timeoutSeconds) });
  return {
    name: WAIT_FOR_DB_CONTAINER_NAME,
    image: options.image,
    command: ['bash', '-c', options.uriSecret ? `${WAIT_FOR_DB_URI_SCRIPT}\n${WAIT_FOR_DB_SCRIPT}` : WAIT_FOR_DB_SCRIPT],
    env,
    resources: resourceRequirements(WAIT_FOR_DB_RESOURCES),
    ...(options.securityContext ? { securityContext: options.securityContext } : {}),
  };
}
