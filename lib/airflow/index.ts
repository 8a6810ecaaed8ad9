// The Airflow control plane: KubernetesExecutorAirflow and what it is made of (components, configuration,
// migrations, the admin user, the worker pod template, the pod-launcher RBAC). Imports from database/,
// storage/, security/ and core/.
export * from './airflow-config-keys';
export * from './airflow-configuration';
export * from './airflow-options';
export * from './airflow-feature';
export * from './airflow-feature-host';
export * from './control-plane-config';
export * from './control-plane-checks';
export * from './control-plane-components';
export * from './control-plane-image';
export * from './pod-parts';
export * from './component-extras';
export * from './airflow-component';
export * from './airflow-ingress';
export * from './volume-permissions';
export * from './worker-pod-template';
export * from './pod-launcher-rbac';
export * from './db-migrations';
export * from './admin-user';
export * from './kubernetes-executor-airflow';
