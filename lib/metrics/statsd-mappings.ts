import * as yaml from 'js-yaml';

/** One rule of a statsd_exporter mapping file (`mappings:` entry). */
export interface StatsdMapping {
  /** The StatsD name it matches: a glob (`*` is one whole dot-separated field) or, with `matchType`, a regex. */
  readonly match: string;
  /**
   * `regex` for a regular expression; a glob otherwise.
   * @default - a glob
   */
  readonly matchType?: 'regex';
  /** The Prometheus metric name. */
  readonly name: string;
  /** Labels, their values from the captures (`$1` is the first `*` or group). */
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * Airflow's StatsD names, with the DAG, task, pool, executor, file and host in them, turned into Prometheus
 * metrics with labels. The official Helm chart's `files/statsd-mappings.yml` first, with its names and labels
 * (so that dashboards built for the chart read these metrics as they are), then the names Airflow 3.1 sends
 * that it does not map (read in Airflow 3.1's source: `dag.<dag_id>.<task_id>.queued_duration` /
 * `scheduled_duration`, `dag_processing.last_duration.<file>`, the pools' `queued`, `running`, `scheduled`
 * and `deferred` slots, the triggerer's per-host gauges, tasks removed from / restored to a DAG). One fix: the
 * chart matches `dagrun.dependency-check.*.*`, but Airflow sends `dagrun.dependency-check.<dag_id>`.
 *
 * Globs match only names with the same number of fields, so a DAG id or task id with a dot in it (Airflow
 * allows them) matches no rule and keeps the unmapped name (dots made underscores), as without a mapping.
 * The prefix is `[metrics] statsd_prefix`, "airflow".
 */
export const AIRFLOW_STATSD_MAPPINGS: readonly StatsdMapping[] = [
  // The official chart's rules.
  { match: 'airflow.dagrun.dependency-check.*', name: 'airflow_dagrun_dependency_check', labels: { dag_id: '$1' } },
  { match: 'airflow.operator_successes_(.*)', matchType: 'regex', name: 'airflow_operator_successes', labels: { operator: '$1' } },
  { match: 'airflow.operator_failures_(.*)', matchType: 'regex', name: 'airflow_operator_failures', labels: { operator: '$1' } },
  { match: 'airflow.scheduler_heartbeat', matchType: 'regex', name: 'airflow_scheduler_heartbeat', labels: { type: 'counter' } },
  { match: 'airflow.dag_processor_heartbeat', matchType: 'regex', name: 'airflow_dag_processor_heartbeat', labels: { type: 'counter' } },
  { match: 'airflow.dag.*.*.duration', name: 'airflow_task_duration', labels: { dag_id: '$1', task_id: '$2' } },
  { match: 'airflow.dagrun.duration.success.*', name: 'airflow_dagrun_duration', labels: { dag_id: '$1' } },
  { match: 'airflow.dagrun.duration.failed.*', name: 'airflow_dagrun_failed', labels: { dag_id: '$1' } },
  { match: 'airflow.dagrun.schedule_delay.*', name: 'airflow_dagrun_schedule_delay', labels: { dag_id: '$1' } },
  { match: 'airflow.dag_processing.last_runtime.*', name: 'airflow_dag_processing_last_runtime', labels: { dag_file: '$1' } },
  { match: 'airflow.dag_processing.last_run.seconds_ago.*', name: 'airflow_dag_processing_last_run_seconds_ago', labels: { dag_file: '$1' } },
  { match: 'airflow.pool.open_slots.*', name: 'airflow_pool_open_slots', labels: { pool: '$1' } },
  { match: 'airflow.pool.used_slots.*', name: 'airflow_pool_used_slots', labels: { pool: '$1' } },
  { match: 'airflow.pool.starving_tasks.*', name: 'airflow_pool_starving_tasks', labels: { pool: '$1' } },
  { match: 'airflow.executor.open_slots.*', name: 'airflow_executor_open_slots', labels: { executor: '$1' } },
  { match: 'airflow.executor.queued_tasks.*', name: 'airflow_executor_queued_tasks', labels: { executor: '$1' } },
  { match: 'airflow.executor.running_tasks.*', name: 'airflow_executor_running_tasks', labels: { executor: '$1' } },
  { match: 'airflow.ti.running.*.*.*', name: 'airflow_ti_running', labels: { queue: '$1', dag_id: '$2', task_id: '$3' } },
  { match: 'airflow.ti.queued.*.*.*', name: 'airflow_ti_queued', labels: { queue: '$1', dag_id: '$2', task_id: '$3' } },
  { match: 'airflow.ti.scheduled.*.*.*', name: 'airflow_ti_scheduled', labels: { queue: '$1', dag_id: '$2', task_id: '$3' } },
  { match: 'airflow.ti.deferred.*.*.*', name: 'airflow_ti_deferred', labels: { queue: '$1', dag_id: '$2', task_id: '$3' } },
  // Airflow 3.1's names the chart does not map.
  { match: 'airflow.dag.*.*.queued_duration', name: 'airflow_task_queued_duration', labels: { dag_id: '$1', task_id: '$2' } },
  { match: 'airflow.dag.*.*.scheduled_duration', name: 'airflow_task_scheduled_duration', labels: { dag_id: '$1', task_id: '$2' } },
  { match: 'airflow.dag_processing.last_duration.*', name: 'airflow_dag_processing_last_duration', labels: { dag_file: '$1' } },
  { match: 'airflow.pool.queued_slots.*', name: 'airflow_pool_queued_slots', labels: { pool: '$1' } },
  { match: 'airflow.pool.running_slots.*', name: 'airflow_pool_running_slots', labels: { pool: '$1' } },
  { match: 'airflow.pool.scheduled_slots.*', name: 'airflow_pool_scheduled_slots', labels: { pool: '$1' } },
  { match: 'airflow.pool.deferred_slots.*', name: 'airflow_pool_deferred_slots', labels: { pool: '$1' } },
  { match: 'airflow.triggerer.capacity_left.*', name: 'airflow_triggerer_capacity_left', labels: { hostname: '$1' } },
  { match: 'airflow.triggers.running.*', name: 'airflow_triggers_running', labels: { hostname: '$1' } },
  { match: 'airflow.task_removed_from_dag.*', name: 'airflow_task_removed_from_dag', labels: { dag_id: '$1' } },
  { match: 'airflow.task_restored_to_dag.*', name: 'airflow_task_restored_to_dag', labels: { dag_id: '$1' } },
];

/** The mapping file statsd_exporter reads (`--statsd.mapping-config`), as YAML. */
export function statsdMappingsYaml(mappings: readonly StatsdMapping[] = AIRFLOW_STATSD_MAPPINGS): string {
  return yaml.dump(
    {
      mappings: mappings.map((m) => ({
        match: m.match,
        ...(m.matchType ? { match_type: m.matchType } : {}),
        name: m.name,
        labels: { ...m.labels },
      })),
    },
    { lineWidth: -1, noRefs: true },
  );
}
