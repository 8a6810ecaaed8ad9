// Metric names (issue #20 item 10): the statsd-exporter reads a mapping file that turns the ids in Airflow's
// StatsD names into Prometheus labels.
//
// No statsd_exporter binary runs here (no network to fetch one). The mapping is checked with a small matcher
// that follows statsd_exporter's own rules (pkg/mapper/mapper.go and pkg/mapper/fsm/fsm.go, v0.2x):
// - a mapping file is YAML with `mappings:`; each entry needs a name matching metricNameRE, label names
//   matching labelNameRE, and a glob `match` matching metricLineRE (the checks InitFromYAMLString makes);
// - a glob is split on "."; it matches a name with the same number of fields, literal fields equal, each `*`
//   one whole field, captured as $1, $2...; of several matching globs the first in the file wins (ordering is
//   on by default);
// - regex rules (match_type: regex) are tried only when no glob matched, in file order, unanchored (Go's
//   FindStringSubmatchIndex), and $1 expands the groups;
// - a name no rule matches keeps its StatsD name with "." made "_" (the exporter's default escaping).
import { parse } from 'yaml';
import { AIRFLOW_STATSD_MAPPINGS, STATSD_MAPPINGS_CHECKSUM_ANNOTATION, STATSD_MAPPINGS_PATH, statsdMappingsYaml } from '../../lib';
import { sha256 } from '../../lib/core';
import { find, synthAirflowChart as synth } from '../support';

const statsdMetricRE = '[a-zA-Z_](-?[a-zA-Z0-9_])*';
const templateReplaceRE = '(\\$\\{?\\d+\\}?)';
const metricLineRE = new RegExp(`^(\\*\\.|${statsdMetricRE}\\.)+(\\*|${statsdMetricRE})$`);
const metricNameRE = new RegExp(`^([a-zA-Z_]|${templateReplaceRE})([a-zA-Z0-9_]|${templateReplaceRE})*$`);
const labelNameRE = /^[a-zA-Z_][a-zA-Z0-9_]+$/;

interface FileMapping {
  match: string;
  match_type?: string;
  name: string;
  labels: Record<string, string>;
}

/** What statsd_exporter would export for `statsdName` under `mappings`: the metric name and its labels. */
function mapName(mappings: FileMapping[], statsdName: string): { name: string; labels: Record<string, string> } {
  const fields = statsdName.split('.');
  const expand = (template: string, captures: string[]) => template.replace(/\$\{?(\d+)\}?/g, (_m, n) => captures[Number(n) - 1] ?? '');
  for (const m of mappings.filter((x) => x.match_type !== 'regex')) {
    const glob = m.match.split('.');
    if (glob.length !== fields.length) continue;
    const captures: string[] = [];
    if (glob.every((g, i) => (g === '*' ? (captures.push(fields[i]), true) : g === fields[i]))) {
      return { name: expand(m.name, captures), labels: Object.fromEntries(Object.entries(m.labels).map(([k, v]) => [k, expand(v, captures)])) };
    }
  }
  for (const m of mappings.filter((x) => x.match_type === 'regex')) {
    const found = new RegExp(m.match).exec(statsdName);
    if (found) {
      const groups = found.slice(1);
      return { name: expand(m.name, groups), labels: Object.fromEntries(Object.entries(m.labels).map(([k, v]) => [k, expand(v, groups)])) };
    }
  }
  return { name: statsdName.replace(/\./g, '_'), labels: {} };
}

const file = parse(statsdMappingsYaml()) as { mappings: FileMapping[] };

describe('the mapping file', () => {
  test('is YAML that statsd_exporter accepts: names, label names and glob matches of its own forms', () => {
    expect(Object.keys(file)).toEqual(['mappings']);
    expect(file.mappings).toHaveLength(AIRFLOW_STATSD_MAPPINGS.length);
    for (const m of file.mappings) {
      expect(Object.keys(m).filter((k) => !['match', 'match_type', 'name', 'labels'].includes(k))).toEqual([]);
      expect(m.name).toMatch(metricNameRE);
      for (const label of Object.keys(m.labels)) expect(label).toMatch(labelNameRE);
      if (m.match_type === 'regex') {
        expect(() => new RegExp(m.match)).not.toThrow();
      } else {
        expect(m.match).toMatch(metricLineRE);
        // every $n refers to a capture the glob has
        const stars = m.match.split('.').filter((f) => f === '*').length;
        for (const v of Object.values(m.labels)) for (const [, n] of v.matchAll(/\$\{?(\d+)\}?/g)) expect(Number(n)).toBeLessThanOrEqual(stars);
      }
    }
    // no two globs match the same names (the first would hide the second)
    const globs = file.mappings.filter((m) => m.match_type !== 'regex').map((m) => m.match);
    expect(new Set(globs).size).toBe(globs.length);
  });

  test('one Prometheus metric name has one set of label names (the exporter drops samples that differ)', () => {
    const byName = new Map<string, string>();
    for (const m of file.mappings) {
      const keys = Object.keys(m.labels).sort().join(',');
      expect(byName.get(m.name) ?? keys).toBe(keys);
      byName.set(m.name, keys);
    }
  });

  test.each<[string, string, Record<string, string>]>([
    // names as Airflow 3.1 sends them (airflow-core and task-sdk source), with statsd_prefix "airflow"
    ['airflow.dag.hybrid_executors.quick_check.duration', 'airflow_task_duration', { dag_id: 'hybrid_executors', task_id: 'quick_check' }],
    ['airflow.dag.hybrid_executors.quick_check.queued_duration', 'airflow_task_queued_duration', { dag_id: 'hybrid_executors', task_id: 'quick_check' }],
    ['airflow.dagrun.duration.success.per_task_resources', 'airflow_dagrun_duration', { dag_id: 'per_task_resources' }],
    ['airflow.dagrun.duration.failed.per_task_resources', 'airflow_dagrun_failed', { dag_id: 'per_task_resources' }],
    ['airflow.dagrun.schedule_delay.per_task_resources', 'airflow_dagrun_schedule_delay', { dag_id: 'per_task_resources' }],
    ['airflow.dagrun.dependency-check.per_task_resources', 'airflow_dagrun_dependency_check', { dag_id: 'per_task_resources' }],
    ['airflow.ti.running.default.hybrid_executors.quick_check', 'airflow_ti_running', { queue: 'default', dag_id: 'hybrid_executors', task_id: 'quick_check' }],
    ['airflow.pool.open_slots.default_pool', 'airflow_pool_open_slots', { pool: 'default_pool' }],
    ['airflow.pool.running_slots.default_pool', 'airflow_pool_running_slots', { pool: 'default_pool' }],
    ['airflow.executor.open_slots.KubernetesExecutor', 'airflow_executor_open_slots', { executor: 'KubernetesExecutor' }],
    ['airflow.executor.queued_tasks.CeleryExecutor', 'airflow_executor_queued_tasks', { executor: 'CeleryExecutor' }],
    ['airflow.dag_processing.last_duration.hybrid_executors', 'airflow_dag_processing_last_duration', { dag_file: 'hybrid_executors' }],
    ['airflow.dag_processing.last_run.seconds_ago.hybrid_executors', 'airflow_dag_processing_last_run_seconds_ago', { dag_file: 'hybrid_executors' }],
    ['airflow.triggerer.capacity_left.airflow-triggerer-6d9f7c5b4-x2x7q', 'airflow_triggerer_capacity_left', { hostname: 'airflow-triggerer-6d9f7c5b4-x2x7q' }],
    ['airflow.operator_successes_PythonOperator', 'airflow_operator_successes', { operator: 'PythonOperator' }],
    ['airflow.operator_failures_BashOperator', 'airflow_operator_failures', { operator: 'BashOperator' }],
    ['airflow.scheduler_heartbeat', 'airflow_scheduler_heartbeat', { type: 'counter' }],
    // no id in the name: unmapped, the exporter's own name
    ['airflow.scheduler.scheduler_loop_duration', 'airflow_scheduler_scheduler_loop_duration', {}],
    ['airflow.executor.open_slots', 'airflow_executor_open_slots', {}],
    // a DAG id with a dot has one field more: no rule matches, as with no mapping at all
    ['airflow.dag.team.etl.load.duration', 'airflow_dag_team_etl_load_duration', {}],
  ])('%s -> %s %j', (statsdName, name, labels) => {
    expect(mapName(file.mappings, statsdName)).toEqual({ name, labels });
  });

  test('without the mapping every DAG and task is a metric of its own (what the exporter did before)', () => {
    expect(mapName([], 'airflow.dag.hybrid_executors.quick_check.duration').name).toBe('airflow_dag_hybrid_executors_quick_check_duration');
  });
});

describe('metrics: true mounts it', () => {
  const { manifests } = synth({ metrics: true });
  const configMap = find(manifests, 'ConfigMap', 'airflow-statsd');
  const pod = find(manifests, 'Deployment', 'airflow-statsd').spec.template;
  const container = pod.spec.containers[0];

  test('a ConfigMap airflow-statsd with mappings.yml, read by --statsd.mapping-config from its read-only mount', () => {
    expect(configMap.data['mappings.yml']).toBe(statsdMappingsYaml());
    expect(container.args).toContain(`--statsd.mapping-config=${STATSD_MAPPINGS_PATH}`);
    expect(STATSD_MAPPINGS_PATH).toBe('/etc/statsd-exporter/mappings.yml');
    expect(container.volumeMounts).toEqual([{ name: 'mappings', mountPath: '/etc/statsd-exporter', readOnly: true }]);
    expect(pod.spec.volumes).toEqual([{ name: 'mappings', configMap: { name: 'airflow-statsd' } }]);
  });

  test('a new mapping rolls the exporter: its pod template carries the file\'s sha256', () => {
    expect(pod.metadata.annotations[STATSD_MAPPINGS_CHECKSUM_ANNOTATION]).toBe(sha256(configMap.data['mappings.yml']));
  });
});
