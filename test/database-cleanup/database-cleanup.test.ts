// Database cleanup (issue #22 item 10): `airflow db clean` on a schedule, the official chart's databaseCleanup
// (chart 1.19.0, templates/database-cleanup/database-cleanup-cronjob.yaml): a batch/v1 CronJob, one run at a time,
// built like the control plane's Jobs (image, environment with the database by reference, airflow.cfg,
// restricted security, no token). Off by default.
import { spawnSync } from 'child_process';
import { Testing } from 'cdk8s';
import { AirflowChart, DB_CLEAN_TABLES, DatabaseCleanup, cronScheduleProblem } from '../../lib';
import { validationReport } from '../../validation';
import { airflowChart, find, synthAirflowChart, validationError } from '../support';
import { airflowPodViolations } from '../support/pod-checks';

const cronOf = (props: ConstructorParameters<typeof AirflowChart>[2] = {}) => find(synthAirflowChart(props).manifests, 'CronJob', 'airflow-database-cleanup');

describe('off by default', () => {
  test('the default chart has no CronJob and no cleanup ServiceAccount', () => {
    const { manifests } = synthAirflowChart();
    expect(manifests.filter((o) => o.kind === 'CronJob' || /database-cleanup/.test(o.metadata.name))).toEqual([]);
  });
});

describe('databaseCleanup: {}: the official chart\'s defaults', () => {
  const { manifests, chart } = synthAirflowChart({ databaseCleanup: {} });
  const cron = find(manifests, 'CronJob', 'airflow-database-cleanup');
  const pod = cron.spec.jobTemplate.spec.template.spec;
  const container = pod.containers[0];
  const migrate = manifests.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-db-migrate-'))!.spec.template.spec;

  test('batch/v1, Sundays at midnight, one run at a time, one finished Job of each kind kept, one retry', () => {
    expect(cron.apiVersion).toBe('batch/v1');
    expect(cron.spec).toMatchObject({ schedule: '0 0 * * 0', concurrencyPolicy: 'Forbid', successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 1 });
    expect(cron.spec.jobTemplate.spec.backoffLimit).toBe(1);
    expect(pod.restartPolicy).toBe('Never');
  });

  test('runs the chart\'s command: rows older than 90 days, archived, verbose', () => {
    expect(container.args).toEqual([
      'bash',
      '-c',
      'CLEAN_TS=$(date -d "-90 days" +"%Y-%m-%dT%H:%M:%S"); echo "Cleaning up metadata DB entries older than ${CLEAN_TS}"; ' +
        'exec airflow db clean --clean-before-timestamp "${CLEAN_TS}" --yes --verbose',
    ]);
    expect(chart.features.databaseCleanup?.retentionDays).toBe(90);
  });

  test('the migration Job\'s image, environment (the database password by secretKeyRef), airflow.cfg and security; no token', () => {
    expect(container.image).toBe(migrate.containers[0].image);
    expect(container.env).toEqual(migrate.containers[0].env);
    expect(container.env.find((e: any) => e.name === 'AIRFLOW_DB_PASSWORD')?.valueFrom?.secretKeyRef).toBeDefined();
    expect(container.env.every((e: any) => e.valueFrom !== undefined || !/PASSWORD|SECRET|KEY/.test(e.name))).toBe(true);
    expect(container.volumeMounts.map((m: any) => m.mountPath).sort()).toEqual(['/opt/airflow/airflow.cfg', '/tmp']);
    expect(pod.initContainers.map((c: any) => c.name)).toEqual(migrate.initContainers.map((c: any) => c.name));
    expect(pod.serviceAccountName).toBe('airflow-database-cleanup');
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(find(manifests, 'ServiceAccount', 'airflow-database-cleanup').automountServiceAccountToken).toBe(false);
    expect(airflowPodViolations(pod)).toEqual([]);
    expect(container.resources).toEqual({ requests: { cpu: '100m', memory: '192Mi' }, limits: { cpu: '1', memory: '1Gi' } });
    expect(DatabaseCleanup.DEFAULT_RESOURCES).toEqual({ cpuRequest: '100m', memoryRequest: '192Mi', cpuLimit: '1', memoryLimit: '1Gi' });
  });

  test('passes the schema (Kubernetes 1.28\'s batch/v1 CronJob) and the cross-object checks', () => {
    expect(validationReport(new AirflowChart(Testing.app(), 'airflow', { databaseCleanup: {} }), { existingSecrets: ['airflow-secrets'] })).toEqual([]);
  });

  test('the command runs as bash runs it: the timestamp is retentionDays before now, in the format Airflow parses', () => {
    // the part before exec, run by this machine's bash and GNU date (the official image is Debian: the same date)
    const script = container.args[2].split('exec ')[0] + 'echo "$CLEAN_TS"';
    const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH, TZ: 'UTC' } });
    expect(r.status).toBe(0);
    const [echo, ts] = r.stdout.trim().split('\n');
    expect(ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    expect(echo).toBe(`Cleaning up metadata DB entries older than ${ts}`);
    const days = (Date.now() - Date.parse(`${ts}Z`)) / 86_400_000;
    expect(Math.abs(days - 90)).toBeLessThan(0.01);
  });
});

describe('options', () => {
  test('every flag of the chart\'s command, and the pod options over the chart-wide ones', () => {
    const cron = cronOf({
      nodeSelector: { pool: 'airflow' },
      databaseCleanup: {
        schedule: '30 2 * * MON-FRI',
        retentionDays: 14,
        skipArchive: true,
        verbose: false,
        batchSize: 5000,
        tables: ['xcom', 'log'],
        historyLimit: 3,
        resources: { memoryLimit: '2Gi' },
        pod: { tolerations: [{ key: 'batch', operator: 'Exists' }] },
      },
    });
    const pod = cron.spec.jobTemplate.spec.template.spec;
    expect(cron.spec).toMatchObject({ schedule: '30 2 * * MON-FRI', successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 3 });
    expect(pod.containers[0].args[2]).toMatch(/date -d "-14 days".*--yes --skip-archive --batch-size 5000 --tables xcom,log$/);
    expect(pod.containers[0].resources.limits.memory).toBe('2Gi');
    expect(pod.nodeSelector).toEqual({ pool: 'airflow' });
    expect(pod.tolerations).toEqual([{ key: 'batch', operator: 'Exists' }]);
  });

  test('Airflow 2: its own table names', () => {
    const { manifests } = airflowChart({ image: 'apache/airflow:2.11.0', databaseCleanup: { tables: ['task_fail', 'dataset_event'] } });
    expect(find(manifests, 'CronJob', 'airflow-database-cleanup').spec.jobTemplate.spec.template.spec.containers[0].args[2]).toMatch(/--tables task_fail,dataset_event$/);
  });

  test('the table lists: Airflow 3 renamed dataset_event to asset_event and dropped task_fail', () => {
    expect(DB_CLEAN_TABLES[3]).toContain('asset_event');
    expect(DB_CLEAN_TABLES[3]).not.toContain('task_fail');
    expect(DB_CLEAN_TABLES[2]).toContain('dataset_event');
    expect(DB_CLEAN_TABLES[2]).not.toContain('_xcom_archive');
  });
});

describe('refused at synth', () => {
  const error = (databaseCleanup: unknown, extra: object = {}) => validationError(() => new AirflowChart(Testing.app(), 'airflow', { ...extra, databaseCleanup } as never));

  test.each([
    ['0 0 * *', /this one has 4 field\(s\) instead of 5/],
    ['61 * * * *', /the minute field "61": 0 to 59/],
    ['0 0 * * 8', /the day of week field "8": 0 to 7/],
    ['CRON_TZ=Europe/Paris 0 0 * * *', /a time zone in the schedule/],
    ['every sunday', /instead of 5/],
  ])('schedule %j', (schedule, message) => {
    const e = error({ schedule });
    expect(e.property).toBe('databaseCleanup.schedule');
    expect(e.message).toMatch(message);
    expect(e.message).toMatch(/^DatabaseCleanup at "airflow\/airflow\/database-cleanup": property "databaseCleanup.schedule" received/);
  });

  test('a table airflow db clean does not know, named with the version and the list', () => {
    const e = error({ tables: ['task_fail'] });
    expect(e.property).toBe('databaseCleanup.tables[0]');
    expect(e.message).toContain('allowed: a table "airflow db clean" knows on Airflow 3.2.2: job, dag, dag_run, asset_event');
    expect(error({ tables: ['log', 'log'] }).message).toMatch(/each table once/);
    expect(error({ tables: [] }).property).toBe('databaseCleanup.tables');
  });

  test('batchSize before Airflow 3.1', () => {
    const e = validationError(() => airflowChart({ image: 'apache/airflow:3.0.6', databaseCleanup: { batchSize: 100 } }));
    expect(e.property).toBe('databaseCleanup.batchSize');
    expect(e.message).toMatch(/"airflow db clean --batch-size" exists from Airflow 3\.1\.0/);
  });

  test.each([
    [{ retentionDays: 0 }, 'databaseCleanup.retentionDays'],
    [{ retentionDays: 1.5 }, 'databaseCleanup.retentionDays'],
    [{ batchSize: 0 }, 'databaseCleanup.batchSize'],
    [{ skipArchive: 'yes' }, 'databaseCleanup.skipArchive'],
    [{ historyLimit: -1 }, 'databaseCleanup.historyLimit'],
    [{ resources: { memoryRequest: '4Gi' } }, 'databaseCleanup.resources.memoryRequest'],
    [{ retentionDay: 30 }, 'databaseCleanup.retentionDay'],
  ])('%j', (value, property) => {
    expect(error(value).property).toBe(property);
  });

  test('not an object', () => {
    expect(error(true).message).toMatch(/property "databaseCleanup" received true; allowed: the cleanup options/);
  });
});

describe('the schedule checker', () => {
  test.each(['0 0 * * 0', '*/15 * * * *', '0 3 1,15 * *', '0 0 1 JAN-JUN *', '@daily', '@weekly', '5 4 * * sun'])('takes %j', (s) => {
    expect(cronScheduleProblem(s)).toBeUndefined();
  });
  test.each(['', '* * * * * *', '5-1 * * * *', '*/0 * * * *', '0 24 * * *', '0 0 0 * *'])('refuses %j', (s) => {
    expect(cronScheduleProblem(s)).toBeDefined();
  });
});

describe('with networkPolicies: the cleanup pod reaches the database', () => {
  test('database-cleanup is among the database clients of both policies', () => {
    const { manifests } = synthAirflowChart({ databaseCleanup: {}, networkPolicies: true });
    const clients = find(manifests, 'NetworkPolicy', 'airflow-metadata-db-clients');
    expect(clients.spec.podSelector.matchExpressions[0].values).toContain('database-cleanup');
    const db = find(manifests, 'NetworkPolicy', 'airflow-metadata-db');
    expect(JSON.stringify(db.spec.ingress)).toContain('database-cleanup');
  });
});
