import { Chart } from 'cdk8s';
import { IConstruct } from 'constructs';
import * as k8s from '../imports/k8s';
import { invalid, validateDnsSubdomain, validateImage, validateInteger } from './validation';

/** A key of a Kubernetes Secret. */
export interface SecretKeyRef {
  /** The Secret's name (in the chart's namespace). */
  readonly name: string;
  /** The key within the Secret. */
  readonly key: string;
}

/**
 * libpq's `sslmode`: how (and whether) the connection to an external Postgres is encrypted and verified.
 * `VERIFY_FULL` is the one that also checks the server's certificate and host name.
 */
export enum PostgresSslMode {
  /** No TLS. */
  DISABLE = 'disable',
  /** Plain first, TLS if the server insists. */
  ALLOW = 'allow',
  /** TLS if the server offers it (libpq's default). */
  PREFER = 'prefer',
  /** TLS always, without checking the server certificate. */
  REQUIRE = 'require',
  /** TLS always, the server certificate must be signed by a trusted CA. */
  VERIFY_CA = 'verify-ca',
  /** TLS always, trusted CA and matching host name. */
  VERIFY_FULL = 'verify-full',
}

/**
 * What Airflow needs to know about its metadata database, whichever way it is provided
 * (the in-cluster `MetadataDb` or an external database via `MetadataDb.external(...)` /
 * `MetadataDb.fromConnectionUriSecret(...)`).
 */
export interface IMetadataDatabase {
  /**
   * The host Airflow connects to (for the in-cluster database, the Service's DNS name
   * `airflow-postgres.<namespace>.svc.cluster.local`); undefined when a whole connection URI comes from a
   * Secret.
   */
  readonly host: string | undefined;
  /** The TCP port; undefined when a whole connection URI comes from a Secret. */
  readonly port: number | undefined;
  /** The database name; undefined when a whole connection URI comes from a Secret. */
  readonly databaseName: string | undefined;
  /** The user Airflow connects as; undefined when a whole connection URI comes from a Secret. */
  readonly user: string | undefined;
  /** Where the password is; undefined when a whole connection URI comes from a Secret. */
  readonly passwordSecret: SecretKeyRef | undefined;
  /** Where the whole connection URI is, when it comes from a Secret; undefined otherwise. */
  readonly connectionUriSecret: SecretKeyRef | undefined;
  /** The `sslmode` of the connection; undefined when not set (libpq then uses `prefer`). */
  readonly sslMode: PostgresSslMode | undefined;

  /**
   * Environment variables that give Airflow its `[database] sql_alchemy_conn`
   * (`AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`) without the password in clear: the password (or the whole
   * URI) is read from its Secret by reference. Put them in a container's `env` in this order (Kubernetes
   * expands `$(AIRFLOW_DB_PASSWORD)` only from entries defined earlier in the list).
   */
  airflowConnectionEnv(): k8s.EnvVar[];

  /**
   * An init container named `wait-for-db` that exits 0 once the database accepts TCP connections, and 1
   * with a clear log line after a bounded wait.
   * @param image an image with bash and coreutils' `timeout` (the Airflow image)
   * @param securityContext the container securityContext to use
   */
  waitForDatabaseContainer(image: string, securityContext?: k8s.SecurityContext): k8s.Container;
}

/** The Postgres port. */
export const POSTGRES_PORT = 5432;

/** The default database name and user. */
export const DEFAULT_METADATA_DATABASE_NAME = 'airflow';
/** The default user Airflow connects as. */
export const DEFAULT_METADATA_DATABASE_USER = 'airflow';

/** The default password: key `db-password` of the generated Secret `airflow-secrets`. */
export const DEFAULT_METADATA_DATABASE_PASSWORD_SECRET: SecretKeyRef = { name: 'airflow-secrets', key: 'db-password' };

/** The environment variable that carries the password into Airflow containers (from its Secret). */
export const DATABASE_PASSWORD_ENV = 'AIRFLOW_DB_PASSWORD';

/** The name of the init container that waits for the database. */
export const WAIT_FOR_DB_CONTAINER_NAME = 'wait-for-db';

/** How long `wait-for-db` waits by default before it fails (the pod is then restarted by its controller). */
export const DEFAULT_WAIT_FOR_DB_TIMEOUT_SECONDS = 300;

// A user or database name usable as-is in a connection URI (only URL-unreserved characters) and as a
// Postgres name (at most 63 bytes).
const POSTGRES_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,62}$/;

/** A Postgres user or database name that can be written into a connection URI without escaping. */
export function validatePostgresName(scope: IConstruct, property: string, value: unknown): string {
  if (typeof value !== 'string' || !POSTGRES_NAME.test(value)) {
    invalid(
      scope,
      property,
      value,
      "a Postgres name of 1 to 63 characters: letters, digits, '_', '.' and '-', starting with a letter or '_' " +
        '(so that it needs no escaping in a connection URI)',
      typeof value === 'string' && /^[A-Za-z_]/.test(value) && value.length <= 63
        ? `Did you mean ${JSON.stringify(value.replace(/[^A-Za-z0-9_.-]/g, '_'))}?`
        : undefined,
    );
  }
  return value;
}

const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/** A reference to a key of a Secret: a DNS-1123 subdomain name and a valid Secret key. */
export function validateSecretKeyRef(scope: IConstruct, property: string, value: unknown): SecretKeyRef {
  if (typeof value !== 'object' || value === null) {
    invalid(scope, property, value, 'a Secret key reference { name, key }');
  }
  const ref = value as SecretKeyRef;
  validateDnsSubdomain(scope, `${property}.name`, ref.name);
  if (typeof ref.key !== 'string' || ref.key.length === 0 || ref.key.length > 253 || !SECRET_KEY.test(ref.key)) {
    invalid(scope, `${property}.key`, ref.key, "a Secret key: 1 to 253 characters of letters, digits, '-', '_' and '.'");
  }
  return { name: ref.name, key: ref.key };
}

const DNS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A host name (lowercase DNS name, at most 253 characters) or an IPv4 address. */
export function validateDatabaseHost(scope: IConstruct, property: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 253 || !DNS_NAME.test(value)) {
    invalid(
      scope,
      property,
      value,
      'a host name (lowercase DNS name) or an IPv4 address, without scheme, port or path, ' +
        'such as "airflow-db.abc123.eu-west-1.rds.amazonaws.com"',
      typeof value === 'string' && DNS_NAME.test(value.toLowerCase())
        ? `Did you mean ${JSON.stringify(value.toLowerCase())}?`
        : typeof value === 'string' && /^[a-z]+:\/\//i.test(value)
          ? 'Give the host only; the port goes in "port".'
          : undefined,
    );
  }
  return value;
}

/** How long wait-for-db waits: 1 second to 1 hour. */
export function validateWaitTimeout(scope: IConstruct, property: string, value: unknown): number {
  return validateInteger(scope, property, value, 1, 3600);
}

/** Everything a Postgres connection is made of, when the password is a Secret key. */
export interface PostgresConnectionParts {
  /** The database host. */
  readonly host: string;
  /** The TCP port. */
  readonly port: number;
  /** The database name. */
  readonly databaseName: string;
  /** The user Airflow connects as. */
  readonly user: string;
  /** Where the user's password is; it must be URL-safe, it goes into the URI unescaped. */
  readonly passwordSecret: SecretKeyRef;
  /**
   * The libpq sslmode.
   * @default - none in the URI (libpq's own default, "prefer")
   */
  readonly sslMode?: PostgresSslMode;
}

/**
 * The environment of an Airflow container for a Postgres whose password is in a Secret:
 * `AIRFLOW_DB_PASSWORD` from the Secret, then `AIRFLOW__DATABASE__SQL_ALCHEMY_CONN` referring to it as
 * `$(AIRFLOW_DB_PASSWORD)`. With an sslmode, also `AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC` (Airflow 3.1+):
 * Airflow derives its asyncpg URI from the sync one, and asyncpg rejects `sslmode` as a query parameter
 * (it takes `ssl`).
 */
export function postgresConnectionEnv(parts: PostgresConnectionParts): k8s.EnvVar[] {
  const authority = `${parts.user}:$(${DATABASE_PASSWORD_ENV})@${parts.host}:${parts.port}/${parts.databaseName}`;
  const env: k8s.EnvVar[] = [
    {
      name: DATABASE_PASSWORD_ENV,
      valueFrom: { secretKeyRef: { name: parts.passwordSecret.name, key: parts.passwordSecret.key } },
    },
    {
      name: 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN',
      value: `postgresql://${authority}${parts.sslMode ? `?sslmode=${parts.sslMode}` : ''}`,
    },
  ];
  if (parts.sslMode) {
    env.push({
      name: 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC',
      value: `postgresql+asyncpg://${authority}?ssl=${parts.sslMode}`,
    });
  }
  return env;
}

/**
 * The `wait-for-db` script. It reads `DB_HOST`/`DB_PORT`, or parses them out of `DB_URI` (never printed),
 * and retries a TCP connect through bash's `/dev/tcp` every 2 seconds until `WAIT_TIMEOUT_SECONDS`.
 * It contains no `$(`: Kubernetes would try to expand that in a container's command.
 */
export const WAIT_FOR_DB_SCRIPT = [
  'set -u',
  'if [ -n "${DB_URI:-}" ]; then',
  '  authority="${DB_URI#*://}"',
  '  authority="${authority%%/*}"',
  '  authority="${authority%%\\?*}"',
  '  authority="${authority##*@}"',
  '  case "$authority" in',
  '    *:*) DB_HOST="${authority%:*}"; DB_PORT="${authority##*:}" ;;',
  `    *) DB_HOST="$authority"; DB_PORT=${POSTGRES_PORT} ;;`,
  '  esac',
  'fi',
  'case "${DB_HOST:-}" in',
  '  ""|*[!A-Za-z0-9.-]*) echo "wait-for-db: cannot find a host name in the database connection settings" >&2; exit 1 ;;',
  'esac',
  'case "${DB_PORT:-}" in',
  '  ""|*[!0-9]*) echo "wait-for-db: cannot find a port number in the database connection settings" >&2; exit 1 ;;',
  'esac',
  'echo "wait-for-db: waiting up to ${WAIT_TIMEOUT_SECONDS}s for the metadata database at ${DB_HOST}:${DB_PORT} to accept TCP connections"',
  'until timeout 5 bash -c \'exec 3<>"/dev/tcp/$0/$1"\' "$DB_HOST" "$DB_PORT" 2>/dev/null; do',
  '  if [ "$SECONDS" -ge "$WAIT_TIMEOUT_SECONDS" ]; then',
  '    echo "wait-for-db: gave up after ${SECONDS}s: ${DB_HOST}:${DB_PORT} does not accept TCP connections (is the database running, and do the host, port and network policies allow it?)" >&2',
  '    exit 1',
  '  fi',
  '  sleep 2',
  'done',
  'echo "wait-for-db: ${DB_HOST}:${DB_PORT} accepts connections (after ${SECONDS}s)"',
].join('\n');

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
    ? [{ name: 'DB_URI', valueFrom: { secretKeyRef: { name: options.uriSecret.name, key: options.uriSecret.key } } }]
    : [
        { name: 'DB_HOST', value: options.host },
        { name: 'DB_PORT', value: String(options.port) },
      ];
  env.push({ name: 'WAIT_TIMEOUT_SECONDS', value: String(options.timeoutSeconds) });
  return {
    name: WAIT_FOR_DB_CONTAINER_NAME,
    image: options.image,
    command: ['bash', '-c', WAIT_FOR_DB_SCRIPT],
    env,
    resources: {
      requests: { cpu: k8s.Quantity.fromString('10m'), memory: k8s.Quantity.fromString('32Mi') },
      limits: { cpu: k8s.Quantity.fromString('100m'), memory: k8s.Quantity.fromString('64Mi') },
    },
    ...(options.securityContext ? { securityContext: options.securityContext } : {}),
  };
}

const METADATA_DATABASE_MARK = Symbol.for('airflow-cdk8s.MetadataDatabase');

/**
 * Marks `database` as its chart's metadata database, and rejects a second one in the same chart
 * (an in-cluster `MetadataDb` and an external database at once, or two of either).
 */
export function markSoleMetadataDatabase(database: IConstruct): void {
  const chart = Chart.of(database);
  const other = chart.node
    .findAll()
    .find((c) => c !== database && (c as unknown as Record<symbol, unknown>)[METADATA_DATABASE_MARK] === true);
  if (other) {
    invalid(
      database,
      'metadata database',
      `${other.constructor.name} at "${other.node.path}"`,
      'one metadata database per chart: either the in-cluster MetadataDb or an external one ' +
        '(MetadataDb.external / MetadataDb.fromConnectionUriSecret), not both',
    );
  }
  Object.defineProperty(database, METADATA_DATABASE_MARK, { value: true, enumerable: false });
}

/** A metadata database as a construct that knows how long Airflow waits for it. */
export interface IWaitableMetadataDatabase extends IMetadataDatabase, IConstruct {
  /** Seconds `wait-for-db` waits before it fails. */
  readonly waitTimeoutSeconds: number;
}

/**
 * `airflowConnectionEnv()` of any metadata database: the whole URI from its Secret, or the URI composed
 * from host, port, database and user with the password by reference.
 */
export function metadataDatabaseConnectionEnv(db: IMetadataDatabase): k8s.EnvVar[] {
  if (db.connectionUriSecret) {
    const { name, key } = db.connectionUriSecret;
    return [{ name: 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN', valueFrom: { secretKeyRef: { name, key } } }];
  }
  return postgresConnectionEnv({
    host: db.host!,
    port: db.port!,
    databaseName: db.databaseName!,
    user: db.user!,
    passwordSecret: db.passwordSecret!,
    sslMode: db.sslMode,
  });
}

/** `waitForDatabaseContainer()` of any metadata database, the image checked in the database's name. */
export function metadataDatabaseWaitContainer(
  db: IWaitableMetadataDatabase,
  image: string,
  securityContext?: k8s.SecurityContext,
): k8s.Container {
  return waitForDatabaseContainer({
    image: validateImage(db, 'waitForDatabaseContainer.image', image),
    securityContext,
    timeoutSeconds: db.waitTimeoutSeconds,
    host: db.host,
    port: db.port,
    uriSecret: db.connectionUriSecret,
  });
}
