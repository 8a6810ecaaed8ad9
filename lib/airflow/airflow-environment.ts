import * as k8s from '../../imports/k8s';
import { AirflowGeneration, IAirflowSecrets, secretEnv } from '../core';
import { IMetadataDatabase } from '../database';
import { AIRFLOW_CFG_PATH, AIRFLOW_CONFIG_VOLUME_NAME } from './airflow-configuration';
import { AIRFLOW_TMP_VOLUME_NAME } from './volume-use';

/** The environment of Airflow's containers: the control plane's and the task pods'. */
export interface AirflowEnvironment {
  /** The api-server/webserver, scheduler, dag-processor, triggerer and the one-shot Jobs. */
  readonly controlPlane: k8s.EnvVar[];
  /** The task pods (and the Celery workers, which run tasks the same way). */
  readonly worker: k8s.EnvVar[];
}

/**
 * The path of airflow.cfg, and the secrets by reference (never in airflow.cfg). Task pods: on Airflow 2 a
 * task talks to the database itself; on Airflow 3 it talks only to the api-server's Execution API (with a
 * token the scheduler gives it), so its pod gets no database credentials and no fernet key (connections come
 * back from the API already decrypted). CONNECTION_CHECK_MAX_COUNT=0: the image's entrypoint would otherwise
 * run `airflow db check` (a whole Python start, seconds) before the command; control-plane pods wait for the
 * database in their wait-for-db init container instead, and task start time is the KubernetesExecutor's weak
 * point.
 */
export function airflowEnvironment(
  generation: AirflowGeneration,
  database: IMetadataDatabase,
  secrets: IAirflowSecrets,
): AirflowEnvironment {
  const airflowConfig: k8s.EnvVar = { name: 'AIRFLOW_CONFIG', value: AIRFLOW_CFG_PATH };
  const noDbCheck: k8s.EnvVar = { name: 'CONNECTION_CHECK_MAX_COUNT', value: '0' };
  const databaseEnv: k8s.EnvVar[] = [airflowConfig, ...database.airflowConnectionEnv(), secretEnv('AIRFLOW__CORE__FERNET_KEY', secrets.fernetKey)];
  return {
    controlPlane: [...databaseEnv, ...generation.keyEnv(secrets), noDbCheck],
    worker: [...(generation.workersUseDatabase ? databaseEnv : [airflowConfig]), noDbCheck],
  };
}

/**
 * The env and volume names the library sets in every Airflow pod, which pod options may not take: the
 * environment's (`env`), the dags, logs and data volumes (`volumeNames`), the configuration's and `/tmp`'s.
 */
export function airflowReservedNames(env: AirflowEnvironment, volumeNames: readonly string[]): { env: string[]; volumes: string[] } {
  return {
    env: [...new Set([...env.controlPlane, ...env.worker].map((e) => e.name))],
    volumes: [...new Set([...volumeNames, AIRFLOW_CONFIG_VOLUME_NAME, AIRFLOW_TMP_VOLUME_NAME])],
  };
}
