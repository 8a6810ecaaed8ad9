// Database cleanup (issue #22 item 10) on the real Airflow: the command of the CronJob's template, exactly as it
// is synthesized, succeeds against the runtime's Postgres and removes what is older than the retention.
//
// The local control plane is Kubernetes 1.20, which serves CronJobs as batch/v1beta1 only: the chart's batch/v1
// CronJob is checked by schema (test/database-cleanup/database-cleanup.test.ts) and left out of the apply here;
// its jobTemplate is applied as a Job (what the CronJob controller creates at each schedule).
//
// 1. The default chart with databaseCleanup: {} comes up to the migrated database.
// 2. A row of Airflow's `log` table is dated 100 days back (beyond the 90 days' retention), another is today.
// 3. The Job of the CronJob's template runs its command and completes; its log says what it cleaned.
// 4. The old row is gone from `log` and kept in the archive table; today's row is still there.
import { getObject, kubectl } from '../live/support/cluster';
import { RuntimeChain, Step, waitForAsync } from './support/chain';
import { newKubelet } from './support/real-kubelet';
import { defaultChart } from './support/variants';

const kubelet = newKubelet('database-cleanup');
const full = defaultChart({ databaseCleanup: {} });
const cron = full.objects.find((o) => o.kind === 'CronJob');
const variant = { ...full, id: 'database-cleanup', title: 'the default chart with databaseCleanup: {} (the CronJob run as a Job)', objects: full.objects.filter((o) => o.kind !== 'CronJob') };
const chain = new RuntimeChain(variant, kubelet);
const steps = chain.steps();
const names = Object.keys(steps);
const UP_TO_MIGRATED = names.slice(0, names.indexOf('airflow db migrate: the migration Job runs its command and completes') + 1);
const JOB = 'airflow-database-cleanup-now';
const OLD = 'acdk8s-cleanup-old';
const NEW = 'acdk8s-cleanup-new';

const step = (name: string, components: string[], run: () => Promise<void>, timeoutMs = 300_000): Step => ({ name, components, run, blocking: true, timeoutMs });
const register = (s: Step) => test(s.name, chain.jest(s), s.timeoutMs + 60_000);
const psql = (sql: string) => {
  const pod = chain.podOf('metadata-db').metadata.name;
  const r = kubelet.exec(chain.ns, pod, 'postgres', ['env', `PGPASSWORD=${chain.secretValues['db-password']}`, 'psql', '-h', '127.0.0.1', '-U', 'airflow', '-d', 'airflow', '-tAc', sql], 60);
  if (r.code !== 0) throw new Error(`psql exited ${r.code}: ${sql}\n${r.output.slice(-2000)}`);
  return r.output.trim();
};

chain.hooks({ recordTimings: false });

describe('runtime: the database cleanup CronJob\'s command against the metadata database', () => {
  test('the chart has the CronJob; the Job applied here is its template', () => {
    expect(cron.apiVersion).toBe('batch/v1');
    expect(cron.spec.jobTemplate.spec.template.spec.containers[0].args[2]).toContain('exec airflow db clean --clean-before-timestamp "${CLEAN_TS}" --yes --verbose');
  });

  for (const name of UP_TO_MIGRATED) register(steps[name]);

  register(step('a log row dated 100 days back and one of today', ['metadata-db'], async () => {
    psql(`insert into log (dttm, event, owner) values (now() - interval '100 days', '${OLD}', 'runtime'), (now(), '${NEW}', 'runtime')`);
    expect(psql(`select event from log where event like 'acdk8s-cleanup-%' order by event`)).toBe(`${NEW}\n${OLD}`);
  }));

  register(step('the CronJob\'s jobTemplate, run as a Job, completes: airflow db clean exactly as the CronJob runs it', ['database-cleanup'], async () => {
    const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: JOB, namespace: chain.ns, labels: cron.spec.jobTemplate.metadata?.labels }, spec: cron.spec.jobTemplate.spec };
    const r = kubectl(['apply', '-f', chain.writeYaml('database-cleanup-job.yaml', [job])]);
    if (r.code !== 0) throw new Error(`kubectl apply exited ${r.code}\n${r.stderr}`);
    await waitForAsync(
      `Job ${JOB} to complete`,
      480_000,
      () => {
        const st = getObject('job', JOB, chain.ns)?.status ?? {};
        if ((st.failed ?? 0) > 1) throw new Error(`Job ${JOB} failed: ${JSON.stringify(st)}`);
        return (st.succeeded ?? 0) >= 1;
      },
      () => kubectl(['get', 'pods', '-n', chain.ns, '-o', 'wide']).stdout,
      2000,
    );
    const pod = chain.pods(`job-name=${JOB}`).find((p) => p.status.phase === 'Succeeded')!;
    const live = getObject('pod', pod.metadata.name, chain.ns);
    expect(live.spec.containers[0].args).toEqual(cron.spec.jobTemplate.spec.template.spec.containers[0].args);
    const log = kubelet.log(chain.ns, pod.metadata.name, 'database-cleanup') ?? '';
    console.log(`RUNTIME [database-cleanup]: the cleanup's log (last lines):\n${log.split('\n').slice(-25).join('\n')}`);
    expect(log).toMatch(/^Cleaning up metadata DB entries older than \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/m);
  }, 600_000));

  register(step('the row older than the retention is gone from log and archived; today\'s row stays', ['metadata-db'], async () => {
    expect(psql(`select event from log where event like 'acdk8s-cleanup-%'`)).toBe(NEW);
    const archives = psql(`select table_name from information_schema.tables where table_name like '_airflow_deleted__log__%'`).split('\n').filter(Boolean);
    expect(archives.length).toBe(1);
    expect(psql(`select event from "${archives[0]}" where event = '${OLD}'`)).toBe(OLD);
    console.log(`RUNTIME [database-cleanup]: archive table ${archives[0]}; log rows left: ${psql('select count(*) from log')}`);
  }));
});
