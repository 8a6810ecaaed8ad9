// Security: Airflow's secrets (generated in the cluster or brought by you), the pods' security contexts and
// Pod Security Standard levels, the Namespace with its admission labels, and optional NetworkPolicies.
// Imports only from core/.
export * from './pod-security';
export * from './airflow-secrets';
export * from './airflow-namespace';
export * from './network-policies';
