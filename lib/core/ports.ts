/**
 * The port of the UI: `airflow api-server` on Airflow 3 and `airflow webserver` on Airflow 2 both listen on
 * 8080 (`[api] port` / `[webserver] web_server_port` default, the official image's EXPOSE).
 */
export const AIRFLOW_UI_PORT = 8080;

/** The Postgres port. */
export const POSTGRES_PORT = 5432;

/** The Redis port (the Celery broker). */
export const REDIS_PORT = 6379;
