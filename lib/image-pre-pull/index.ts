// Task start: the DaemonSet that keeps the task pods' images on their nodes. A feature that plugs into the
// control plane (lib/airflow). Imports from airflow/, security/ and core/.
export * from './image-pre-pull';
