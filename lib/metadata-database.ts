import * as k8s from '../imports/k8s';

/** A key of a Kubernetes Secret. */
export interface SecretKeyRef {
  /** The Secret's name (in the chart's namespace). */
  readonly name: string;
  /** The key within the Secret. */
  readonly key: string;
}

/**
 * What Airflow needs to know about its metadata database, whichever way it is provided
 * (the in-cluster `MetadataDb` or an external database).
 */
export interface IMetadataDatabase {
  /** The host Airflow connects to (for the in-cluster database, the Service's DNS name). */
  readonly host: string;
  /** The TCP port. */
  readonly port: number;
  /** The database name. */
  readonly databaseName: string;
  /** The user Airflow connects as (undefined when a whole connection URI comes from a Secret). */
  readonly user: string | undefined;
  /** Where the password is (undefined when a whole connection URI comes from a Secret). */
  readonly passwordSecret: SecretKeyRef | undefined;

  /**
   * Environment variables that give Airflow its `[database] sql_alchemy_conn`
   * (`AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`) without the password in clear: the password (or the whole
   * URI) is read from its Secret by reference.
   */
  airflowConnectionEnv(): k8s.EnvVar[];

  /**
   * An init container that exits once the database accepts TCP connections.
   * @param image an image with bash (the Airflow image)
   * @param securityContext the container securityContext to use
   */
  waitForDatabaseContainer(image: string, securityContext?: k8s.SecurityContext): k8s.Container;
}
