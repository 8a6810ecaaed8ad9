// Facts about the official Airflow image (apache/airflow, Dockerfile in apache/airflow): its user and home.

/** The Airflow image's user: uid 50000 (`AIRFLOW_UID` of the official image). */
export const AIRFLOW_UID = 50000;
/** The Airflow image's group: 0, the root group, which the image's files are group-owned and writable by. */
export const AIRFLOW_GID = 0;
/** The image pull policies. */
export const IMAGE_PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;

/** `AIRFLOW_HOME` of the official image: `airflow.cfg`, the DAGs, logs and data folders live under it. */
export const AIRFLOW_HOME = '/opt/airflow';
