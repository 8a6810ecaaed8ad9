// Task logs: remote logging to an object store, and the log groomer that keeps the logs volume small.
// Features that plug into the control plane (lib/airflow). Imports from airflow/, security/ and core/.
export * from './remote-logging';
export * from './log-groomer';
