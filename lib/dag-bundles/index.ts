// Airflow 3's DAG bundles from Git: `[dag_processor] dag_bundle_config_list`. A feature that plugs into the
// control plane (lib/airflow). Imports from airflow/ and core/.
export * from './git-dag-bundles';
