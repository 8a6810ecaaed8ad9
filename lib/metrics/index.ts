// Airflow's metrics for Prometheus: the StatsD exporter. A feature that plugs into the control plane
// (lib/airflow). Imports from airflow/, security/ and core/.
export * from './statsd-exporter';
export * from './statsd-mappings';
