// Database cleanup: the CronJob that runs `airflow db clean`. A feature that plugs into the control plane
// (lib/airflow). Imports from airflow/ and core/.
export * from './database-cleanup';
