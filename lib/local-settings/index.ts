// airflow_local_settings.py (pod_mutation_hook, cluster policies) in every Airflow container and task pod. A
// feature that plugs into the control plane (lib/airflow). Imports from airflow/ and core/.
export * from './airflow-local-settings';
