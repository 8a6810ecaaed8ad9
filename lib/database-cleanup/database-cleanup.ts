import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { Components, PodOptions, airflowLabels, invalid, refuseUnknownProps, validateInteger } from '../core';
import { AirflowContribution, IAirflowFeature } from '../airflow/airflow-feature';
import type { KubernetesExecutorAirflow } from '../airflow/kubernetes-executor-airflow';
import {
  ContainerResources,
  airflowContainer,
  airflowPodMetadata,
  airflowPodSpec,
  airflowServiceAccount,
  resolveResources,
  resourceRequirements,
} from '../airflow/pod-parts';

/** Options of {@link DatabaseCleanup}: the official chart's `databaseCleanup` values, typed. */
export interface DatabaseCleanupOptions {
  /**
   * When the cleanup runs: a five-field cron expression in the controller's time zone (UTC on most clusters),
   * or `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`. The official chart's default: Sundays at midnight.
   * @default "0 0 * * 0"
   */
  readonly schedule?: string;

  /**
   * Rows older than this many days are removed (`airflow db clean --clean-before-timestamp <now - days>`).
   * @default 90
   */
  readonly retentionDays?: number;

  /**
   * Whether the removed rows are dropped for good (`--skip-archive`) instead of kept in `_airflow_deleted__*`
   * archive tables of the same database (which then grow instead, until `airflow db drop-archived`).
   * @default false
   */
  readonly skipArchive?: boolean;

  /**
   * The tables to clean (`--tables`), among the ones `airflow db clean` knows for the Airflow version.
   * @default - every table it knows
   */
  readonly tables?: string[];

  /**
   * At most this many rows deleted or archived per transaction (`--batch-size`; Airflow 3.1 and later).
   * @default - none: one transaction per table
   */
  readonly batchSize?: number;

  /**
   * Whether the command reports what it does, table by table (`--verbose`), in the Job's log.
   * @default true
   */
  readonly verbose?: boolean;

  /**
   * CPU and memory of the cleanup container; what is not given keeps its default.
   * @default DatabaseCleanup.DEFAULT_RESOURCES - 100m / 192Mi requested, 1 CPU / 1Gi limit
   */
  readonly resources?: Partial<ContainerResources>;

  /**
   * How many finished Jobs the CronJob keeps, successful and failed each (`successfulJobsHistoryLimit`,
   * `failedJobsHistoryLimit`; the official chart's 1), with their pods and logs.
   * @default 1
   */
  readonly historyLimit?: number;

  /**
   * Pod options of the cleanup pod (`nodeSelector`, `tolerations`, `env`...), over the chart-wide ones.
   * @default - the chart-wide pod options
   */
  readonly pod?: PodOptions;
}

/** Props for {@link DatabaseCleanup}: the control plane whose database it cleans, and how. */
export interface DatabaseCleanupProps extends DatabaseCleanupOptions {
  /** The control plane: the CronJob runs its image with its environment (the database by reference) and security. */
  readonly airflow: KubernetesExecutorAirflow;
}

/**
 * The tables `airflow db clean --tables` accepts (`config_list` of airflow/utils/db_cleanup.py): Airflow 3.1
 * (apache/airflow 1d805cc1, September 2025, airflow-core/src/airflow/utils/db_cleanup.py) and Airflow 2.10
 * (apache/airflow 89b32e63, June 2024, airflow/utils/db_cleanup.py: `dataset_event` and `task_fail`, which
 * Airflow 3 renamed or dropped; no `_xcom_archive` or `dag_version`, which Airflow 3 added).
 */
export const DB_CLEAN_TABLES: Readonly<Record<2 | 3, readonly string[]>> = {
  3: [
    'job', 'dag', 'dag_run', 'asset_event', 'import_error', 'log', 'sla_miss', 'task_instance', 'task_instance_history', 'task_reschedule',
    'xcom', '_xcom_archive', 'callback_request', 'celery_taskmeta', 'celery_tasksetmeta', 'trigger', 'dag_version', 'deadline', 'session',
  ],
  2: [
    'job', 'dag', 'dag_run', 'dataset_event', 'import_error', 'log', 'sla_miss', 'task_fail', 'task_instance', 'task_instance_history',
    'task_reschedule', 'xcom', 'callback_request', 'celery_taskmeta', 'celery_tasksetmeta', 'trigger', 'session',
  ],
};

/** The Airflow release whose `airflow db clean` has `--batch-size` (apache/airflow#51510; `AirflowVersion.dbCleanHasBatchSize`). */
export const DB_CLEAN_BATCH_SIZE_VERSION = '3.1.0';

const CRON_MACROS = ['@hourly', '@daily', '@midnight', '@weekly', '@monthly', '@yearly', '@annually'];
const CRON_FIELDS: ReadonlyArray<{ name: string; min: number; max: number; names?: readonly string[] }> = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

/** Why `schedule` is not a cron expression Kubernetes' CronJob controller takes, or undefined when it is. */
export function cronScheduleProblem(schedule: string): string | undefined {
  if (CRON_MACROS.includes(schedule)) return undefined;
  if (/^(CRON_)?TZ=/.test(schedule)) return 'a time zone in the schedule (CRON_TZ=/TZ=), which Kubernetes refuses in a CronJob';
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 5) return `${fields.length} field(s) instead of 5 (minute hour day-of-month month day-of-week)`;
  for (const [i, field] of fields.entries()) {
    const f = CRON_FIELDS[i];
    const value = (v: string): number | undefined => {
      const n = f.names?.indexOf(v.toUpperCase()) ?? -1;
      if (n >= 0) return f.min === 1 ? n + 1 : n;
      return /^\d+$/.test(v) ? Number(v) : undefined;
    };
    for (const part of field.split(',')) {
      const m = /^(\*|\?|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:\/(\d+))?$/.exec(part);
      if (!m) return `the ${f.name} field "${field}"`;
      if (m[2] !== undefined && Number(m[2]) < 1) return `the step of the ${f.name} field "${field}"`;
      if (m[1] === '*' || m[1] === '?') continue;
      const bounds = m[1].split('-').map(value);
      if (bounds.some((b) => b === undefined || b < f.min || b > f.max)) return `the ${f.name} field "${field}": ${f.min} to ${f.max}`;
      if (bounds.length === 2 && bounds[0]! > bounds[1]!) return `the range of the ${f.name} field "${field}"`;
    }
  }
  return undefined;
}

/**
 * `airflow db clean` on a schedule (the official chart's `databaseCleanup`): a CronJob `airflow-database-cleanup`
 * that removes the metadata database's rows older than `retentionDays` (task instances, DAG runs, XComs, logs,
 * jobs...), so that it does not grow for ever. Its pod is built like the control plane's Jobs: the Airflow image,
 * the control plane's environment (the database connection by `secretKeyRef`), `airflow.cfg`, the restricted
 * security context, the wait for the database, a ServiceAccount without a token. One run at a time
 * (`concurrencyPolicy: Forbid`), no retry beyond one (`backoffLimit: 1`, as the chart), one finished Job of
 * each kind kept.
 *
 * It is `batch/v1` CronJob, which Kubernetes serves from 1.21 (beta `batch/v1beta1` from 1.8 to 1.24).
 */
export class DatabaseCleanup extends Construct implements IAirflowFeature {
  /** The default resources of the cleanup container: those of `airflow db migrate` (DbMigrations), another one-shot Airflow CLI. */
  public static readonly DEFAULT_RESOURCES: ContainerResources = { cpuRequest: '100m', memoryRequest: '192Mi', cpuLimit: '1', memoryLimit: '1Gi' };

  /** How messages name this feature: the AirflowChart prop. */
  public readonly featureName = 'databaseCleanup';
  /** The cron schedule. */
  public readonly schedule: string;
  /** The retention in days. */
  public readonly retentionDays: number;
  /** Whether the removed rows are not archived. */
  public readonly skipArchive: boolean;
  /** The tables cleaned; empty for all. */
  public readonly tables: readonly string[];
  /** The batch size, if any. */
  public readonly batchSize: number | undefined;
  /** Whether the command is verbose. */
  public readonly verbose: boolean;
  /** The finished Jobs kept, of each kind. */
  public readonly historyLimit: number;
  /** The shell command the container runs (`bash -c <command>`). */
  public readonly command: string;
  /** The ServiceAccount (no token). */
  public readonly serviceAccount: k8s.KubeServiceAccount;
  /** The CronJob. */
  public readonly cronJob: k8s.KubeCronJob;

  constructor(scope: Construct, id: string, props: DatabaseCleanupProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'DatabaseCleanupProps');
    const airflow = props.airflow;
    if (!airflow || typeof airflow.addFeature !== 'function') invalid(this, 'airflow', airflow, 'the KubernetesExecutorAirflow whose database is cleaned');
    const p = (name: string) => `databaseCleanup.${name}`;

    this.schedule = props.schedule ?? '0 0 * * 0';
    const problem = typeof this.schedule === 'string' ? cronScheduleProblem(this.schedule) : 'not a string';
    if (problem !== undefined) {
      invalid(this, p('schedule'), this.schedule, `a cron expression of 5 fields (minute hour day-of-month month day-of-week), such as "0 3 * * *", or @hourly, @daily, @weekly, @monthly, @yearly; this one has ${problem}`);
    }
    this.retentionDays = validateInteger(this, p('retentionDays'), props.retentionDays ?? 90, 1, 36_500);
    this.skipArchive = flag(this, p('skipArchive'), props.skipArchive ?? false);
    this.verbose = flag(this, p('verbose'), props.verbose ?? true);
    this.historyLimit = validateInteger(this, p('historyLimit'), props.historyLimit ?? 1, 0, 100);

    const known = DB_CLEAN_TABLES[airflow.generation.major];
    if (props.tables !== undefined && (!Array.isArray(props.tables) || props.tables.length === 0)) {
      invalid(this, p('tables'), props.tables, 'a non-empty list of table names, or unset for every table');
    }
    this.tables = [...(props.tables ?? [])];
    this.tables.forEach((t, i) => {
      if (typeof t !== 'string' || !known.includes(t)) {
        invalid(this, p(`tables[${i}]`), t, `a table "airflow db clean" knows on Airflow ${airflow.airflowVersion}: ${known.join(', ')}`);
      }
      if (this.tables.indexOf(t) !== i) invalid(this, p(`tables[${i}]`), t, 'each table once');
    });
    if (props.batchSize !== undefined && !airflow.airflowVersion.dbCleanHasBatchSize) {
      invalid(this, p('batchSize'), props.batchSize, `unset on Airflow ${airflow.airflowVersion}: "airflow db clean --batch-size" exists from Airflow ${DB_CLEAN_BATCH_SIZE_VERSION}`);
    }
    this.batchSize = props.batchSize === undefined ? undefined : validateInteger(this, p('batchSize'), props.batchSize, 1, 1_000_000);
    const resources = resolveResources(this, p('resources'), DatabaseCleanup.DEFAULT_RESOURCES, props.resources);

    // The official chart's command (chart/values.yaml databaseCleanup.args, chart 1.19.0), with the values in it.
    const flags = [
      ...(this.skipArchive ? ['--skip-archive'] : []),
      ...(this.verbose ? ['--verbose'] : []),
      ...(this.batchSize !== undefined ? ['--batch-size', String(this.batchSize)] : []),
      ...(this.tables.length ? ['--tables', this.tables.join(',')] : []),
    ];
    this.command = [
      `CLEAN_TS=$(date -d "-${this.retentionDays} days" +"%Y-%m-%dT%H:%M:%S");`,
      'echo "Cleaning up metadata DB entries older than ${CLEAN_TS}";',
      ['exec airflow db clean --clean-before-timestamp "${CLEAN_TS}" --yes', ...flags].join(' '),
    ].join(' ');

    const component = Components.DATABASE_CLEANUP;
    const name = `airflow-${component}`;
    const parts = airflow.airflowPodPartsFor(component, 'databaseCleanup.pod', props.pod);
    this.serviceAccount = airflowServiceAccount(this, 'service-account', name, component, false, parts.pod?.serviceAccountAnnotations);
    const labels = airflowLabels(component);
    const podSpec = airflowPodSpec(parts, {
      serviceAccountName: name,
      automountServiceAccountToken: false,
      restartPolicy: 'Never',
      initContainers: [parts.waitForDatabase],
      containers: [airflowContainer(parts, { name: component, args: ['bash', '-c', this.command], resources: resourceRequirements(resources) })],
    });
    this.cronJob = new k8s.KubeCronJob(this, 'cron-job', {
      metadata: { name, labels },
      spec: {
        schedule: this.schedule,
        concurrencyPolicy: 'Forbid',
        successfulJobsHistoryLimit: this.historyLimit,
        failedJobsHistoryLimit: this.historyLimit,
        jobTemplate: {
          metadata: { labels },
          spec: { backoffLimit: 1, template: { metadata: airflowPodMetadata(parts, labels), spec: podSpec } },
        },
      },
    });
    airflow.addFeature(this);
  }

  /** Nothing for the control plane's pods: the CronJob is the cleanup's own. */
  public contribute(): AirflowContribution {
    return {};
  }
}

function flag(scope: Construct, property: string, value: unknown): boolean {
  if (typeof value !== 'boolean') invalid(scope, property, value, 'true or false');
  return value;
}
