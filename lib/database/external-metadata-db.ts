import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { invalid, SecretKeyRef, refuseUnknownProps } from '../core';
import { DatabaseConnection, PostgresConnectionOptions, PostgresSslMode } from './database-connection';
import { IMetadataDatabase, markSoleMetadataDatabase, metadataDatabaseOf, validateWaitTimeout } from './metadata-database';
import { DEFAULT_WAIT_FOR_DB_TIMEOUT_SECONDS } from './wait-for-db';

/**
 * Props for {@link ExternalMetadataDb}: a Postgres that is not created by this library (a managed database
 * such as RDS, Cloud SQL or Azure Database, or one you run yourself). `MetadataDb.external(...)` and
 * `MetadataDb.fromConnectionUriSecret(...)` say the same thing more plainly.
 */
export interface ExternalMetadataDbProps {
  /** How Airflow reaches the database: `DatabaseConnection.postgres({...})` or `DatabaseConnection.fromUriSecret(...)`. */
  readonly connection: DatabaseConnection;

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
export class ExternalMetadataDb extends Construct implements IMetadataDatabase {
  /** The database host; undefined when the whole connection URI comes from a Secret. */
  public readonly host: string | undefined;
  /** The TCP port; undefined when the whole connection URI comes from a Secret. */
  public readonly port: number | undefined;
  /** The database name; undefined when the whole connection URI comes from a Secret. */
  public readonly databaseName: string | undefined;
  /** The user Airflow connects as; undefined when the whole connection URI comes from a Secret. */
  public readonly user: string | undefined;
  /** Where the password is; undefined when the whole connection URI comes from a Secret. */
  public readonly passwordSecret: SecretKeyRef | undefined;
  /** Where the whole connection URI is, when it comes from a Secret; undefined otherwise. */
  public readonly connectionUriSecret: SecretKeyRef | undefined;
  /** The `sslmode` of the connection; undefined when not set (libpq then uses `prefer`). */
  public readonly sslMode: PostgresSslMode | undefined;
  /** How long `wait-for-db` waits, in seconds. */
  public readonly waitTimeoutSeconds: number;

  private readonly database: IMetadataDatabase;

  constructor(scope: Construct, id: string, props: ExternalMetadataDbProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'ExternalMetadataDbProps');
    if (!(props?.connection instanceof DatabaseConnection)) {
      invalid(this, 'connection', props?.connection, 'DatabaseConnection.postgres({ host, ... }) or DatabaseConnection.fromUriSecret({ name, key })');
    }
    this.waitTimeoutSeconds = validateWaitTimeout(this, 'waitTimeoutSeconds', props.waitTimeoutSeconds ?? DEFAULT_WAIT_FOR_DB_TIMEOUT_SECONDS);
    const connection = props.connection._resolve(this);
    this.host = connection.postgres?.host;
    this.port = connection.postgres?.port;
    this.databaseName = connection.postgres?.databaseName;
    this.user = connection.postgres?.user;
    this.passwordSecret = connection.postgres?.passwordSecret;
    this.sslMode = connection.postgres?.sslMode;
    this.connectionUriSecret = connection.uriSecret;
    this.database = metadataDatabaseOf(this, { ...connection, waitTimeoutSeconds: this.waitTimeoutSeconds });
    markSoleMetadataDatabase(this);
  }

  /** The database connection env of Airflow's containers: see {@link IMetadataDatabase.airflowConnectionEnv}. */
  public airflowConnectionEnv(): k8s.EnvVar[] {
    return this.database.airflowConnectionEnv();
  }

  /** The init container that waits for the database: see {@link IMetadataDatabase.waitForDatabaseContainer}. */
  public waitForDatabaseContainer(image: string, securityContext?: k8s.SecurityContext): k8s.Container {
    return this.database.waitForDatabaseContainer(image, securityContext);
  }
}

/** Options of `MetadataDb.external(...)`: where an external Postgres is, how Airflow logs in, how long to wait. */
export interface ExternalMetadataDbOptions extends PostgresConnectionOptions {
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
