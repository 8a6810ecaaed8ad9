// Celery workers beside the KubernetesExecutor (hybrid executors) and their Redis broker: a feature that plugs
// into the control plane (lib/airflow). Imports from airflow/, database/ (the
// autoscaler's query runs on the metadata database), security/ and core/.
export * from './celery-options';
export * from './redis-broker';
export * from './celery-workers';
export * from './celery-autoscaler';
export * from './flower';
