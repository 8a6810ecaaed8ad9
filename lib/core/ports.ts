/**
 * The port of the UI: `airflow api-server` on Airflow 3 and `airflow webserver` on Airflow 2 both listen on
 * 8080 (`[api] port` / `[webserver] web_server_port` default, the official image's EXPOSE).
 */
export const AIRFLOW_UI_PORT = 8080;

/** The Postgres port. */
export const POSTGRES_PORT = 5432;

/** The port PgBouncer listens on (`PgBouncer`): the official Helm chart's `ports.pgbouncer`. */
export const PGBOUNCER_PORT = 6543;

/** The Redis port (the Celery broker). */
export const REDIS_PORT = 6379;

/** The port of Flower's UI: `[celery] flower_port`'s default, the official Helm chart's `ports.flowerUI`. */
export const FLOWER_PORT = 5555;

/** The StatsD port Airflow sends its metrics to (UDP), served by the statsd-exporter. */
export const STATSD_PORT = 9125;

/** The port on which the statsd-exporter serves its Prometheus metrics (`/metrics`). */
export const STATSD_METRICS_PORT = 9102;
