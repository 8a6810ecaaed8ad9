import { Construct } from 'constructs';
import * as k8s from '../imports/k8s';
import {
  DEFAULT_METADATA_DATABASE_NAME,
  DEFAULT_METADATA_DATABASE_PASSWORD_SECRET,
  DEFAULT_METADATA_DATABASE_USER,
  DEFAULT_WAIT_FOR_DB_TIMEOUT_SECONDS,
  IMetadataDatabase,
  IWaitableMetadataDatabase,
  markSoleMetadataDatabase,
  metadataDatabaseConnectionEnv,
  metadataDatabaseWaitContainer,
  POSTGRES_PORT,
  PostgresSslMode,
  SecretKeyRef,
  validateDatabaseHost,
  validatePostgresName,
  validateSecretKeyRef,
  validateWaitTimeout,
} from './metadata-database';
import { invalid, validateChoice, validatePort } from './validation';

/**
 * Props for {@link ExternalMetadataDb}: a Postgres that is not created by this library (a managed database
 * such as RDS, Cloud SQL or Azure Database, or one you run yourself).
 *
 * Give either `host` (with `port`, `databaseName`, `user`, `passwordSecret`, `sslMode`) or
 * `connectionUriSecret` (a Secret key holding the whole URI), not both. The static factories
 * `MetadataDb.external(...)` and `MetadataDb.fromConnectionUriSecret(...)` say the same thing more plainly.
 */
export interface ExternalMetadataDbProps {
  /**
   * The database host: a DNS name or an IPv4 address, without scheme or port.
   * @default - none; required unless `connectionUriSecret` is given
   */
  readonly host?: string;

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
   * store a percent-encoded URI and use `connectionUriSecret`.
   * @default - key "db-password" of Secret "airflow-secrets"
   */
  readonly passwordSecret?: SecretKeyRef;

  /**
   * libpq's sslmode, written as `?sslmode=` on the connection URI (and as `?ssl=` on the asyncpg URI that
   * Airflow 3.1+ reads from `AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC`).
   * @default - not set: libpq's own default, "prefer"
   */
  readonly sslMode?: PostgresSslMode;

  /**
   * A Secret key holding the whole SQLAlchemy connection URI, e.g.
   * `postgresql://airflow:p%40ss@db.example.com:5432/airflow?sslmode=require`. Excludes every other
   * connection prop.
   * @default - none; the URI is built from `host`, `port`, `databaseName`, `user` and `passwordSecret`
   */
  readonly connectionUriSecret?: SecretKeyRef;

  /**
   * How long the `wait-for-db` init container waits for the database to accept TCP connections, in seconds.
   * @default 300
   */
  readonly waitTimeoutSeconds?: number;
}

/**
 * A metadata database that exists outside the chart: no Kubernetes objects are created, only what Airflow
 * needs to reach it ({@link IMetadataDatabase}).
 */
export class ExternalMetadataDb extends Construct implements IWaitableMetadataDatabase {
  public readonly host: string | undefined;
  public readonly port: number | undefined;
  public readonly databaseName: string | undefined;
  public readonly user: string | undefined;
  public readonly passwordSecret: SecretKeyRef | undefined;
  public readonly connectionUriSecret: SecretKeyRef | undefined;
  public readonly sslMode: PostgresSslMode | undefined;

  /** How long `wait-for-db` waits, in seconds. */
  public readonly waitTimeoutSeconds: number;

  constructor(scope: Construct, id: string, props: ExternalMetadataDbProps = {}) {
    super(scope, id);
    this.waitTimeoutSeconds = validateWaitTimeout(
      this,
      'waitTimeoutSeconds',
      props.waitTimeoutSeconds ?? DEFAULT_WAIT_FOR_DB_TIMEOUT_SECONDS,
    );

    if (props.connectionUriSecret !== undefined) {
      const clashes = (['host', 'port', 'databaseName', 'user', 'passwordSecret', 'sslMode'] as const).filter(
        (p) => props[p] !== undefined,
      );
      if (clashes.length > 0) {
        invalid(
          this,
          clashes[0],
          props[clashes[0]],
          'nothing when "connectionUriSecret" is given: the URI in the Secret already says where the database ' +
            'is and how to log in',
          `Remove ${clashes.map((c) => JSON.stringify(c)).join(', ')}, or drop "connectionUriSecret".`,
        );
      }
      this.connectionUriSecret = validateSecretKeyRef(this, 'connectionUriSecret', props.connectionUriSecret);
      this.host = undefined;
      this.port = undefined;
      this.databaseName = undefined;
      this.user = undefined;
      this.passwordSecret = undefined;
      this.sslMode = undefined;
    } else {
      if (props.host === undefined) {
        invalid(
          this,
          'host',
          props.host,
          'the host of the external database, or a "connectionUriSecret" instead',
          'For a database inside the cluster, use new MetadataDb(...).',
        );
      }
      this.host = validateDatabaseHost(this, 'host', props.host);
      this.port = validatePort(this, 'port', props.port ?? POSTGRES_PORT);
      this.databaseName = validatePostgresName(this, 'databaseName', props.databaseName ?? DEFAULT_METADATA_DATABASE_NAME);
      this.user = validatePostgresName(this, 'user', props.user ?? DEFAULT_METADATA_DATABASE_USER);
      this.passwordSecret = validateSecretKeyRef(
        this,
        'passwordSecret',
        props.passwordSecret ?? DEFAULT_METADATA_DATABASE_PASSWORD_SECRET,
      );
      this.sslMode =
        props.sslMode === undefined
          ? undefined
          : validateChoice(this, 'sslMode', props.sslMode, Object.values(PostgresSslMode));
      this.connectionUriSecret = undefined;
    }
    markSoleMetadataDatabase(this);
  }

  public airflowConnectionEnv(): k8s.EnvVar[] {
    return metadataDatabaseConnectionEnv(this);
  }

  public waitForDatabaseContainer(image: string, securityContext?: k8s.SecurityContext): k8s.Container {
    return metadataDatabaseWaitContainer(this, image, securityContext);
  }
}

/** Options of `MetadataDb.external(...)`: where an external Postgres is and how Airflow logs in. */
export interface ExternalMetadataDbOptions {
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
   * The Secret key that holds the password (URL-unreserved characters only, see
   * {@link ExternalMetadataDbProps.passwordSecret}).
   * @default - key "db-password" of Secret "airflow-secrets"
   */
  readonly passwordSecret?: SecretKeyRef;

  /**
   * libpq's sslmode. Managed databases usually want `PostgresSslMode.REQUIRE` or `VERIFY_FULL`.
   * @default - not set: libpq's own default, "prefer"
   */
  readonly sslMode?: PostgresSslMode;

  /**
   * How long `wait-for-db` waits for the database, in seconds.
   * @default 300
   */
  readonly waitTimeoutSeconds?: number;
}

/** Options of `MetadataDb.fromConnectionUriSecret(...)`. */
export interface ConnectionUriSecretOptions {
  /** The Secret key holding the whole SQLAlchemy connection URI (user and password percent-encoded). */
  readonly uriSecret: SecretKeyRef;

  /**
   * How long `wait-for-db` waits for the database, in seconds.
   * @default 300
   */
  readonly waitTimeoutSeconds?: number;
}
