// Persistent storage: the dags, logs and data volumes and the claims pinned to them (or provisioned by a
// StorageClass). Imports only from core/.
export * from './storage-provisioning';
export * from './persistent-storage';
export * from './airflow-volumes';
export * from './plus-volume';
