import { IConstruct } from 'constructs';
import * as k8s from '../../imports/k8s';
import {
  chartSecretRef,
  invalid,
  POSTGRES_PORT,
  SecretKeyRef,
  secretEnv,
  validateChoice,
  validatePort,
  validateSecretKeyRef,
} from '../core';

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

/** The default database name. */
export const DEFAULT_METADATA_DATABASE_NAME = 'airflow';
/** The default user Airflow connects as. */
export const DEFAULT_METADATA_DATABASE_USER = 'airflow';

/** The environment variable that carries the password into Airflow containers (from its Secret). */
export const DATABASE_PASSWORD_ENV = 'AIRFLOW_DB_PASSWORD';

/** Options of {@link DatabaseConnection.postgres}: where a Postgres is and how Airflow logs in. */
export interface PostgresConnectionOptions {
  /** The database host: a DNS name or an IPv4 address, without scheme or port. */
  readonly host: string;

  /**
   * The TCP port.
   * @default 5432
   */
  readonly port?: number;

  /**
   * The database name.
   * @default "airflow"
   */
  readonly databaseName?: string;

  /**
   * The user Airflow connects as.
   * @default "airflow"
   */
  readonly user?: string;

  /**
   * The Secret key that holds the user's password. The password is written into the connection URI as is,
   * so it must contain only URL-unreserved characters (letters, digits, `-`, `.`, `_`, `~`); otherwise
   * store a percent-encoded URI and use {@link DatabaseConnection.fromUriSecret}.
   * @default - `databasePassword` of the chart's AirflowSecrets (resolved at synth)
   */
  readonly passwordSecret?: SecretKeyRef;

  /**
   * libpq's sslmode, written as `?sslmode=` on the connection URI (and as `?ssl=` on the asyncpg URI that
   * Airflow 3.1+ reads from `AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC`). Managed databases usually want
   * `PostgresSslMode.REQUIRE` or `VERIFY_FULL`.
   * @default - not set: libpq's own default, "prefer"
   */
  readonly sslMode?: PostgresSslMode;
}

/** A Postgres connection, checked: host, port, database, user and the password's Secret key. */
export interface ResolvedPostgresConnection {
  /** The database host. */
  readonly host: string;
  /** The TCP port. */
  readonly port: number;
  /** The database name. */
  readonly databaseName: string;
  /** The user Airflow connects as. */
  readonly user: string;
  /** Where the password is. */
  readonly passwordSecret: SecretKeyRef;
  /** The sslmode; undefined when not set. */
  readonly sslMode: PostgresSslMode | undefined;
}

/**
 * How Airflow reaches its metadata database: a Postgres described by host, port, database, user and a
 * password Secret ({@link DatabaseConnection.postgres}), or a whole connection URI kept in a Secret
 * ({@link DatabaseConnection.fromUriSecret}). Either way no password is ever in the YAML.
 */
export class DatabaseConnection {
  /** A Postgres reached at `host:port/databaseName` as `user`, with the password in a Secret. */
  public static postgres(options: PostgresConnectionOptions): DatabaseConnection {
    return new DatabaseConnection(options, undefined);
  }

  /**
   * A whole SQLAlchemy connection URI kept in a Secret, e.g.
   * `postgresql://airflow:p%40ss@db.example.com:5432/airflow?sslmode=require` (user and password
   * percent-encoded).
   */
  public static fromUriSecret(uriSecret: SecretKeyRef): DatabaseConnection {
    return new DatabaseConnection(undefined, uriSecret);
  }

  private constructor(
    private readonly postgresOptions: PostgresConnectionOptions | undefined,
    private readonly uriSecret: SecretKeyRef | undefined,
  ) {}

  /**
   * The connection checked in `scope`'s name: the Postgres parts, or the URI's Secret key.
   * @internal
   */
  public _resolve(scope: IConstruct): { readonly postgres?: ResolvedPostgresConnection; readonly uriSecret?: SecretKeyRef } {
    if (this.uriSecret !== undefined) return { uriSecret: validateSecretKeyRef(scope, 'connectionUriSecret', this.uriSecret) };
    const o = this.postgresOptions ?? ({} as PostgresConnectionOptions);
    if (o.host === undefined) {
      invalid(
        scope,
        'host',
        o.host,
        'the host of the external database, or a "connectionUriSecret" instead',
        'For a database inside the cluster, use new MetadataDb(...).',
      );
    }
    return {
      postgres: {
        host: validateDatabaseHost(scope, 'host', o.host),
        port: validatePort(scope, 'port', o.port ?? POSTGRES_PORT),
        databaseName: validatePostgresName(scope, 'databaseName', o.databaseName ?? DEFAULT_METADATA_DATABASE_NAME),
        user: validatePostgresName(scope, 'user', o.user ?? DEFAULT_METADATA_DATABASE_USER),
        passwordSecret:
          o.passwordSecret === undefined
            ? chartSecretRef(scope, 'databasePassword', 'passwordSecret')
            : validateSecretKeyRef(scope, 'passwordSecret', o.passwordSecret),
        sslMode: o.sslMode === undefined ? undefined : validateChoice(scope, 'sslMode', o.sslMode, Object.values(PostgresSslMode)),
      },
    };
  }
}

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

/**
 * The environment of an Airflow container for a Postgres whose password is in a Secret:
 * `AIRFLOW_DB_PASSWORD` from the Secret, then `AIRFLOW__DATABASE__SQL_ALCHEMY_CONN` referring to it as
 * `$(AIRFLOW_DB_PASSWORD)`. With an sslmode, also `AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC` (Airflow 3.1+):
 * Airflow derives its asyncpg URI from the sync one, and asyncpg rejects `sslmode` as a query parameter
 * (it takes `ssl`). With a URI Secret, `AIRFLOW__DATABASE__SQL_ALCHEMY_CONN` straight from it.
 */
export function airflowConnectionEnv(connection: {
  readonly postgres?: ResolvedPostgresConnection;
  readonly uriSecret?: SecretKeyRef;
}): k8s.EnvVar[] {
  if (connection.uriSecret) return [secretEnv('AIRFLOW__DATABASE__SQL_ALCHEMY_CONN', connection.uriSecret)];
  const p = connection.postgres!;
  const authority = `${p.user}:$(${DATABASE_PASSWORD_ENV})@${p.host}:${p.port}/${p.databaseName}`;
  const env: k8s.EnvVar[] = [
    secretEnv(DATABASE_PASSWORD_ENV, p.passwordSecret),
    { name: 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN', value: `postgresql://${authority}${p.sslMode ? `?sslmode=${p.sslMode}` : ''}` },
  ];
  if (p.sslMode) {
    env.push({ name: 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC', value: `postgresql+asyncpg://${authority}?ssl=${p.sslMode}` });
  }
  return env;
}
