import { Chart } from 'cdk8s';
import { IConstruct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { invalid, validateImage, validateInteger } from '../core';
import { ResolvedPostgresConnection, airflowConnectionEnv } from './database-connection';
import { waitForDatabaseContainer } from './wait-for-db';

/**
 * What the Airflow control plane needs of its metadata database, whichever way it is provided: the
 * in-cluster `MetadataDb`, or an external database (`MetadataDb.external(...)`,
 * `MetadataDb.fromConnectionUriSecret(...)`). Implement it to bring a database of your own kind.
 */
export interface IMetadataDatabase {
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

/**
 * A connection pooler in front of a metadata database (`PgBouncer`): Airflow connects to it, and it knows the
 * database behind it.
 */
export interface IPooledMetadataDatabase extends IMetadataDatabase {
  /** The database behind the pooler, for a client outside Airflow's pods that connects to it itself (KEDA's operator). */
  readonly pooledDatabase: IMetadataDatabase;
}

/** The database behind `database` when it is a pooler ({@link IPooledMetadataDatabase}); `database` itself otherwise. */
export function directDatabaseOf(database: IMetadataDatabase): IMetadataDatabase {
  return (database as Partial<IPooledMetadataDatabase>).pooledDatabase ?? database;
}

/** How long `wait-for-db` may wait: 1 second to 1 hour. */
export function validateWaitTimeout(scope: IConstruct, property: string, value: unknown): number {
  return validateInteger(scope, property, value, 1, 3600);
}

/**
 * The connection of a metadata database and how long Airflow waits for it: what both kinds of metadata
 * database are built on.
 */
export interface MetadataDatabaseConnection {
  /**
   * The Postgres parts; undefined when the whole URI is in a Secret.
   * @default - none: the whole URI is in `uriSecret`
   */
  readonly postgres?: ResolvedPostgresConnection;
  /**
   * The Secret key of the whole URI; undefined when the parts are given.
   * @default - none: the parts are in `postgres`
   */
  readonly uriSecret?: { readonly name: string; readonly key: string };
  /** Seconds `wait-for-db` waits before it fails. */
  readonly waitTimeoutSeconds: number;
}

/** {@link IMetadataDatabase} for a connection, the image checked in the name of `scope`. */
export function metadataDatabaseOf(scope: IConstruct, connection: MetadataDatabaseConnection): IMetadataDatabase {
  return {
    airflowConnectionEnv: () => airflowConnectionEnv(connection),
    waitForDatabaseContainer: (image, securityContext) =>
      waitForDatabaseContainer({
        image: validateImage(scope, 'waitForDatabaseContainer.image', image),
        securityContext,
        timeoutSeconds: connection.waitTimeoutSeconds,
        host: connection.postgres?.host,
        port: connection.postgres?.port,
        uriSecret: connection.uriSecret,
      }),
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
