export * from './validation';
export * from './scope';
export * from './storage-provisioning';
export * from './persistent-storage';
export * from './airflow-namespace';
export * from './airflow-volumes';
export * from './airflow-chart';
