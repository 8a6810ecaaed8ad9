// DAG delivery from git: git-sync as a Deployment writing the dags volume, or as sidecars and init containers.
// A feature that plugs into the control plane (lib/airflow). Imports from airflow/, storage/, security/ and core/.
export * from './git-sync-credentials';
export * from './git-sync-dags';
