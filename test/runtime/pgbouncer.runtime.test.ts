// PgBouncer (issue #22 item 9, "Proof") and the database cleanup (issue #22 item 10) on the real Airflow, on ONE
// deployment (issue #25 item 3: one Airflow start-up for both proofs; users turn both on together): the default
// chart with `pgbouncer: {}` and `databaseCleanup: {}`, every Airflow pod connecting to the metadata database
// through PgBouncer (transaction pooling), the cleanup's Job included, run as the default chain runs it:
// migrations, the admin user, the components healthy, a DAG run's task in its pod; then the cleanup.
//
// The PgBouncer pod's image (apache/airflow:airflow-pgbouncer-*, Alpine's /usr/bin/pgbouncer 1.23.1) is Debian
// trixie's pgbouncer 1.24 over the runtime root (scripts/runtime/build-layer.sh pgbouncer): on the real node
// (REAL_NODE_SUITES, where this suite runs) an OCI image scripts/runtime/build-images.sh builds from that layer and
// pushes to the node's registry under PgBouncer.DEFAULT_IMAGE; in the emulated stage the layer the kubelet mounts
// above the root for that image. Either way with the Deployment's own command, user, ConfigMap and users file.
//
// The cleanup: the local control plane is Kubernetes 1.20, which serves CronJobs as batch/v1beta1 only: the chart's
// batch/v1 CronJob is checked by schema (test/database-cleanup/database-cleanup.test.ts) and left out of the apply
// here; its jobTemplate is applied as a Job (what the CronJob controller creates at each schedule).
// 1. A row of Airflow's `log` table is dated 100 days back (beyond the 90 days' retention), another is today.
// 2. The Job of the CronJob's template runs its command (`airflow db clean`, through PgBouncer) and completes; its
//    log says what it cleaned.
// 3. The old row is gone from `log` and kept in the archive table; today's row is still there.
//
// What proves the path: the components' and Jobs' env (the cleanup's included) names PgBouncer's Service; the
// connection log (the real node's recorder: both ends of every pod's TCP sockets; the emulated kubelet: every
// connection through its Service proxy), read after the cleanup ran, has every connection to Postgres coming from
// the PgBouncer pod, and every component and Job connecting to PgBouncer (the cleanup's Job: there on the emulated
// kubelet; on the real node its connections are shorter than the recorder's samples, and the node's conntrack events
// while it runs show them going to PgBouncer's Service, none to Postgres); Postgres holds at most `metadataPoolSize`
// connections of Airflow (pg_stat_activity), fewer than PgBouncer's clients (SHOW CLIENTS).
//
// In namespace pgbouncer (issue #25 item 3: the real node runs two files at once, whose charts must share nothing):
// the PersistentVolumes pgbouncer-*-volume on /data/pgbouncer (AirflowChart's defaults for a namespace other than
// airflow); every Service name below is the chart's `airflow-<what>` in that namespace.
import { execFileSync } from 'child_process';
import * as path from 'path';
import { DEFAULT_AIRFLOW_IMAGE } from '../../lib';
import { getObject, kubectl, REPO_ROOT } from '../live/support/cluster';
import { RuntimeChain, Step, step, waitForAsync } from './support/chain';
import { RecordedConnection, RecordedPod, readConnections } from './support/connections';
import { ConntrackWatch, Tracked } from './support/node-connections';
import { airflowMinorOf } from './support/kubelet';
import { imageConfig, newKubelet } from './support/real-kubelet';
import { lifetimePeaks } from './support/memory';
import { defaultChart, outsideOwnNamespace } from './support/variants';

const NAMESPACE = 'pgbouncer';
// the recorder's connection log ("every connection to Postgres comes from the PgBouncer pod")
const kubelet = newKubelet('pgbouncer', { connections: true });
const full = defaultChart({ pgbouncer: {}, databaseCleanup: {}, namespace: NAMESPACE });
const cron = full.objects.find((o) => o.kind === 'CronJob');
const variant = {
  ...full,
  id: 'pgbouncer',
  title: 'the default chart with pgbouncer: {} and databaseCleanup: {} (every Airflow pod through PgBouncer; the cleanup CronJob run as a Job)',
  objects: full.objects.filter((o) => o.kind !== 'CronJob'),
};
const chain = new RuntimeChain(variant, kubelet);
const steps = chain.steps();
const names = Object.keys(steps);
const DELETED = 'the executor deletes the task pod';
const LAST = 'no container restarted, and the scheduler log has no RBAC denial';
const pgbouncer = variant.objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'airflow-pgbouncer');
const POOL_SIZE = 10; // PgBouncer's default metadataPoolSize
const JOB = 'airflow-database-cleanup-now';
const OLD = 'acdk8s-cleanup-old';
const NEW = 'acdk8s-cleanup-new';
/** What the cleanup's Job step saw, for the check after it (real node): the file's conntrack events while the Job ran. */
const cleanupRun: { podIP?: string; initFinishedAt?: number; tracked: Tracked[] } = { tracked: [] };

const register = (s: Step) => test(s.name, chain.jest(s), s.timeoutMs + 60_000);
/** psql in the Postgres container, as the database's user with the Secret's password, to `host`:`port`/`database`. */
const psql = (sql: string, target: { host: string; port: number; database: string } = { host: '127.0.0.1', port: 5432, database: 'airflow' }, tuplesOnly = true) => {
  const pod = chain.podOf('metadata-db').metadata.name;
  const r = kubelet.exec(chain.ns, pod, 'postgres', [
    'env', `PGPASSWORD=${chain.secretValues['db-password']}`, 'psql', '-h', target.host, '-p', String(target.port), '-U', 'airflow', '-d', target.database, tuplesOnly ? '-tAc' : '-Ac', sql,
  ], 60);
  if (r.code !== 0) throw new Error(`psql to ${target.host}:${target.port}/${target.database} exited ${r.code}: ${sql}\n${r.output.slice(-2000)}`);
  return r.output.trim();
};
const podIP = (component: string): string => {
  const ip = chain.podOf(component)?.status?.podIP;
  if (!ip) throw new Error(`no pod IP for ${component}`);
  return ip;
};

// The emulated stage: the layer before the kubelet starts (registered before the chain's hooks: jest runs beforeAll
// in order). The real node pulls the image build-images.sh pushed (scripts/test-runtime.sh pushes the images first).
beforeAll(() => {
  if (kubelet.real) return;
  // Above the root the kubelet serves the chart's image from: that of the default image's Airflow minor version (3.2
  // for apache/airflow:3.2.2; build-layer.sh's root is build-root.sh's, which takes AIRFLOW_CDK8S_RUNTIME_AIRFLOW).
  const layer = execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'runtime', 'build-layer.sh'), 'pgbouncer'], {
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, AIRFLOW_CDK8S_RUNTIME_AIRFLOW: airflowMinorOf(DEFAULT_AIRFLOW_IMAGE) },
  }).trim();
  console.log(`RUNTIME [pgbouncer]: the PgBouncer image from ${layer}`);
}, 660_000);
chain.hooks({ recordTimings: false });

// On the real node, every TCP connection the node's kernel tracks while this file runs: the Jobs' connections to
// PgBouncer can be too short for the recorder's samples (0.2 s apart, fewer under load: with another test file beside
// this one, the migration Job's were missed once), the kernel's conntrack events miss none. A second source for the
// connection-log step below, and the source of the cleanup Job's check (the events while the Job ran).
const fileRun = kubelet.real ? new ConntrackWatch('tcp') : undefined;
beforeAll(() => fileRun?.start());
afterAll(() => fileRun?.stop());

describe(`runtime: the default chart with pgbouncer: {} and databaseCleanup: {}, in namespace ${NAMESPACE}`, () => {
  test(`the chart shares nothing with another suite's: namespace ${NAMESPACE}, its volumes ${NAMESPACE}-*-volume on /data/${NAMESPACE}`, () => {
    expect(chain.ns).toBe(NAMESPACE);
    expect(chain.objectsOf('PersistentVolume').map((pv) => pv.metadata.name).sort()).toEqual(
      ['dags', 'data', 'logs', 'postgres', 'postgres-keys'].map((v) => `${NAMESPACE}-${v}-volume`).sort(),
    );
    expect(outsideOwnNamespace(variant, NAMESPACE)).toEqual([]);
  });

  test('the chart has the CronJob; the Job applied here is its template', () => {
    expect(cron.apiVersion).toBe('batch/v1');
    expect(cron.spec.jobTemplate.spec.template.spec.containers[0].args[2]).toContain('exec airflow db clean --clean-before-timestamp "${CLEAN_TS}" --yes --verbose');
  });

  test('every Airflow component and Job (the cleanup CronJob\'s included) connects to PgBouncer\'s Service, not to Postgres', () => {
    const host = `airflow-pgbouncer.${chain.ns}.svc.cluster.local`;
    // The CronJob's pod template as a pod of its own (the Job this file applies from it).
    const pods = [
      ...variant.objects.filter((o) => ['Deployment', 'Job'].includes(o.kind) && o.metadata.name !== 'airflow-pgbouncer'),
      { kind: 'CronJob', metadata: cron.metadata, spec: cron.spec.jobTemplate.spec },
    ];
    const clients = pods.filter((o) => (o.spec.template.spec.containers[0].env ?? []).some((e: any) => e.name === 'AIRFLOW_DB_HOST' || e.name === 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN'));
    expect(clients.length).toBeGreaterThanOrEqual(5);
    expect(clients.map((o) => o.metadata.name)).toContain('airflow-database-cleanup');
    for (const o of clients) {
      const env = o.spec.template.spec.containers[0].env;
      const conn = env.find((e: any) => e.name === 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN')?.value ?? '';
      expect({ name: o.metadata.name, conn }).toEqual({ name: o.metadata.name, conn: expect.stringContaining(`@${host}:6543/`) });
    }
  });

  for (const name of names.slice(0, names.indexOf(DELETED) + 1)) register(steps[name]);

  register(step("PgBouncer runs its Deployment's command as 65534 from its image, and its pod is Ready", ['pgbouncer'], async () => {
    await waitForAsync(
      'Deployment airflow-pgbouncer to be available',
      120_000,
      () => (getObject('deployment', 'airflow-pgbouncer', chain.ns)?.status?.availableReplicas ?? 0) >= 1,
      () => kubectl(['get', 'pods', '-n', chain.ns, '-l', 'app.kubernetes.io/component=pgbouncer', '-o', 'wide']).stdout,
    );
    const rec = chain.mainRecord('pgbouncer')!;
    const c = pgbouncer.spec.template.spec.containers[0];
    expect(rec.argv).toEqual([...c.command, ...(c.args ?? [])]);
    expect([rec.uid, rec.gid]).toEqual([65534, 65534]);
    const pod = chain.podOf('pgbouncer').metadata.name;
    const version = kubelet.exec(chain.ns, pod, 'pgbouncer', ['/usr/bin/pgbouncer', '--version'], 30);
    console.log(`RUNTIME [pgbouncer]: ${version.output.split('\n')[0]}`);
    expect(version.output).toMatch(/^PgBouncer 1\.\d+/);
    if (kubelet.real) {
      // The image build-images.sh pushed, pulled from the node's registry, with the official image's entrypoint.
      const status = getObject('pod', pod, chain.ns).status.containerStatuses.find((s: any) => s.name === 'pgbouncer');
      expect({ image: status.image, ours: status.image.endsWith(c.image) }).toEqual({ image: status.image, ours: true });
      expect(status.imageID).toMatch(/apache\/airflow@sha256:[0-9a-f]{64}$/);
      expect(imageConfig(c.image).Entrypoint).toEqual(['/usr/bin/pgbouncer', '-u', 'nobody', '/etc/pgbouncer/pgbouncer.ini']);
    }
  }));

  // The database cleanup, after the chain and PgBouncer's own checks, before the connection log is read (so that it
  // covers the cleanup's Job). Not blocking: a failed cleanup leaves PgBouncer's checks below to report on their own.
  register(step('a log row dated 100 days back and one of today', ['metadata-db'], async () => {
    psql(`insert into log (dttm, event, owner) values (now() - interval '100 days', '${OLD}', 'runtime'), (now(), '${NEW}', 'runtime')`);
    expect(psql(`select event from log where event like 'acdk8s-cleanup-%' order by event`)).toBe(`${NEW}\n${OLD}`);
  }, { blocking: false }));

  register(step('the CronJob\'s jobTemplate, run as a Job, completes: airflow db clean exactly as the CronJob runs it, through PgBouncer', ['database-cleanup', 'pgbouncer'], async () => {
    const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: JOB, namespace: chain.ns, labels: cron.spec.jobTemplate.metadata?.labels }, spec: cron.spec.jobTemplate.spec };
    // On the real node, every TCP connection the node's kernel tracked while the Job ran (its pods' connections to a
    // Service are DNATed there; the file's conntrack watch): a short Job's connections can end between two samples of
    // the recorder.
    const started = Date.now() / 1000;
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
    ).finally(async () => {
      if (!kubelet.real) return;
      await new Promise((res) => setTimeout(res, 1000)); // conntrack's last events written out
      const ended = Date.now() / 1000;
      cleanupRun.tracked = fileRun!.tracked().filter((c) => c.t >= started && c.t <= ended);
    });
    const pod = chain.pods(`job-name=${JOB}`).find((p) => p.status.phase === 'Succeeded')!;
    const live = getObject('pod', pod.metadata.name, chain.ns);
    cleanupRun.podIP = live.status.podIP ?? kubelet.records().find((x) => x.namespace === chain.ns && x.pod === pod.metadata.name && x.podIP)?.podIP;
    const finished = live.status.initContainerStatuses?.find((c: any) => c.name === 'wait-for-db')?.state?.terminated?.finishedAt;
    cleanupRun.initFinishedAt = finished ? Date.parse(finished) / 1000 : undefined;
    expect(live.spec.containers[0].args).toEqual(cron.spec.jobTemplate.spec.template.spec.containers[0].args);
    const log = kubelet.log(chain.ns, pod.metadata.name, 'database-cleanup') ?? '';
    console.log(`RUNTIME [pgbouncer, database-cleanup]: the cleanup's log (last lines):\n${log.split('\n').slice(-25).join('\n')}`);
    expect(log).toMatch(/^Cleaning up metadata DB entries older than \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/m);
  }, { blocking: false, timeoutMs: 600_000 }));

  register(step('the row older than the retention is gone from log and archived; today\'s row stays', ['metadata-db'], async () => {
    expect(psql(`select event from log where event like 'acdk8s-cleanup-%'`)).toBe(NEW);
    const archives = psql(`select table_name from information_schema.tables where table_name like '_airflow_deleted__log__%'`).split('\n').filter(Boolean);
    expect(archives.length).toBe(1);
    expect(psql(`select event from "${archives[0]}" where event = '${OLD}'`)).toBe(OLD);
    console.log(`RUNTIME [pgbouncer, database-cleanup]: archive table ${archives[0]}; log rows left: ${psql('select count(*) from log')}`);
  }, { blocking: false }));

  // The real node's connection log is the recorder's samples (every 0.2 s): the cleanup's connections last less (its
  // first run: none seen). The node's kernel saw each of them: the cleanup pod's connections to PgBouncer's Service
  // (DNATed to PgBouncer's pod, port 6543), one of them `airflow db clean`'s (at least 1 s after the wait-for-db init
  // container, whose own TCP check is the other), none to Postgres' pod or Service. (The emulated kubelet records
  // every connection through its Service proxy: there the connection-log step below checks the cleanup's Job.)
  if (kubelet.real) register(step("the cleanup Job's connections went to PgBouncer's Service, none to Postgres (the node's conntrack events while it ran)", ['database-cleanup', 'pgbouncer'], async () => {
    const bouncerIP = podIP('pgbouncer');
    const dbIP = podIP('metadata-db');
    const services = Object.fromEntries(['airflow-pgbouncer', 'airflow-postgres'].map((n) => [n, getObject('service', n, chain.ns)?.spec?.clusterIP]));
    const mine = cleanupRun.tracked.filter((c) => c.src === cleanupRun.podIP);
    console.log(`RUNTIME [pgbouncer, database-cleanup]: conntrack while the cleanup Job ran: ${cleanupRun.tracked.length} new TCP connection(s) on the node; the cleanup pod's (${cleanupRun.podIP}; PgBouncer ${bouncerIP}, Postgres ${dbIP}, Services ${JSON.stringify(services)}; wait-for-db finished ${cleanupRun.initFinishedAt}):\n${mine.map((c) => c.line).join('\n')}${fileRun?.err ? `\nconntrack: ${fileRun.err.trim()}` : ''}`);
    expect(cleanupRun.podIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(cleanupRun.initFinishedAt).toBeGreaterThan(0);
    const toBouncer = mine.filter((c) => c.dst === services['airflow-pgbouncer'] && c.dport === 6543 && c.replySrc === bouncerIP && c.replySport === 6543);
    const toDb = mine.filter((c) => c.replySrc === dbIP || c.dst === dbIP || c.dst === services['airflow-postgres']);
    expect(toDb.map((c) => c.line)).toEqual([]);
    expect(toBouncer.length).toBeGreaterThanOrEqual(2);
    expect(toBouncer.filter((c) => c.t >= cleanupRun.initFinishedAt! + 1).length).toBeGreaterThanOrEqual(1);
  }, { blocking: false, timeoutMs: 60_000 }));

  register(step('every connection to Postgres comes from the PgBouncer pod; the components and Jobs (the cleanup\'s included) connect to PgBouncer (the kubelet\'s connection log)', ['metadata-db', 'pgbouncer'], async () => {
    const records = readConnections(kubelet.state).filter((r) => r.source.pod?.namespace === chain.ns);
    const component = (pod: RecordedPod | null) => pod?.labels['app.kubernetes.io/component'] ?? 'the node';
    const toDb = records.filter((r) => component(r.destination.pod) === 'metadata-db');
    const toBouncer = records.filter((r) => component(r.destination.pod) === 'pgbouncer');
    const count = (rs: RecordedConnection[]) => Object.entries(rs.reduce<Record<string, number>>((m, r) => ({ ...m, [component(r.source.pod)]: (m[component(r.source.pod)] ?? 0) + 1 }), {})).map(([k, v]) => `${k}: ${v}`).join(', ');
    console.log(`RUNTIME [pgbouncer]: connections to Postgres by source: ${count(toDb)}; to PgBouncer by source: ${count(toBouncer)}`);
    expect(toDb.length).toBeGreaterThan(0);
    expect([...new Set(toDb.map((r) => component(r.source.pod)))]).toEqual(['pgbouncer']);
    const clients = new Set(toBouncer.map((r) => component(r.source.pod)));
    if (kubelet.real) {
      // the node's conntrack events since the file began: connections to PgBouncer's Service (DNATed to its pod, port
      // 6543), by the component of the pod whose IP opened them (the recorder's records and the API server's pods)
      const bouncerIP = podIP('pgbouncer');
      const service = getObject('service', 'airflow-pgbouncer', chain.ns)?.spec?.clusterIP;
      const componentOfIP = new Map<string, string>();
      for (const r of kubelet.records().filter((x) => x.namespace === chain.ns && x.podIP && x.component)) componentOfIP.set(r.podIP!, r.component!);
      for (const p of chain.pods('app.kubernetes.io/component')) if (p.status?.podIP) componentOfIP.set(p.status.podIP, p.metadata.labels['app.kubernetes.io/component']);
      const tracked = fileRun!.tracked().filter((c) => c.dst === service && c.dport === 6543 && c.replySrc === bouncerIP && c.replySport === 6543);
      const seen = new Set(tracked.map((c) => componentOfIP.get(c.src)).filter((c): c is string => !!c));
      console.log(`RUNTIME [pgbouncer]: conntrack saw connections to PgBouncer's Service from: ${[...seen].sort().join(', ')}; the recorder missed: ${[...seen].filter((c) => !clients.has(c)).sort().join(', ') || 'none'}`);
      for (const c of seen) clients.add(c);
    }
    // The cleanup's Job: here on the emulated kubelet (every connection through its proxy); on the real node the
    // conntrack step above (the recorder's samples miss a connection this short), whose result is printed here too.
    console.log(`RUNTIME [pgbouncer]: the recorder saw the cleanup Job connect to PgBouncer: ${clients.has('database-cleanup')}`);
    for (const c of [...chain.components(), 'db-migrate', 'create-user', ...(kubelet.real ? [] : ['database-cleanup'])]) expect({ c, client: clients.has(c) }).toEqual({ c, client: true });
    expect(toBouncer.every((r) => r.destination.port === 6543)).toBe(true);
  }));

  register(step("Postgres' connections of Airflow are PgBouncer's server connections, at most metadataPoolSize (pg_stat_activity, SHOW POOLS, SHOW CLIENTS)", ['metadata-db', 'pgbouncer'], async () => {
    const console_ = { host: podIP('pgbouncer'), port: 6543, database: 'pgbouncer' };
    let last = '';
    let addresses: string[] = [];
    // The two sides are read one after the other: retried until they agree (a pool changes only when a client waits).
    await waitForAsync('Postgres and PgBouncer to agree on the number of server connections', 60_000, () => {
      const rows = psql("select coalesce(host(client_addr), 'local') || ' ' || usename || ' ' || state from pg_stat_activity where datname = 'airflow' and backend_type = 'client backend' and pid <> pg_backend_pid()")
        .split('\n').filter(Boolean);
      addresses = [...new Set(rows.map((r) => r.split(' ')[0]))];
      const [header, ...lines] = psql('SHOW POOLS', console_, false).split('\n');
      const columns = header.split('|');
      const pool = lines.map((l) => l.split('|')).find((f) => f[0] === 'airflow')!;
      const server = columns.reduce((n, c, i) => (c.startsWith('sv_') ? n + Number(pool[i]) : n), 0);
      const clients = psql('SHOW CLIENTS', console_).split('\n').filter((l) => l.split('|')[2] === 'airflow');
      last = `pg_stat_activity: ${rows.length} connection(s) of Airflow\n${rows.join('\n')}\nSHOW POOLS:\n${header}\n${lines.join('\n')}\nSHOW CLIENTS (database airflow): ${clients.length}`;
      return rows.length === server && server >= 1 && server <= POOL_SIZE && clients.length >= 1 ? true : undefined;
    }, () => last, 3000);
    console.log(`RUNTIME [pgbouncer]: ${last}`);
    // On the real node a Service's connection keeps its client's address (kube-proxy's DNAT; the emulated kubelet's
    // userspace proxy shows its own for every client): every Airflow connection Postgres holds is PgBouncer's pod's.
    if (kubelet.real) expect(addresses).toEqual([podIP('pgbouncer')]);
  }, { blocking: false }));

  register(step("PgBouncer's largest memory sample (the kubelet's 1 s samples, over the whole run)", ['pgbouncer'], async () => {
    const m = lifetimePeaks(kubelet, chain.ns).pgbouncer;
    console.log(`RUNTIME [pgbouncer]: PgBouncer's largest sample: RSS ${m?.rssMiB} MiB, PSS ${m?.pssMiB} MiB, limit ${m?.limitMiB} MiB`);
    expect(m?.rssMiB).toBeGreaterThan(0);
    expect(m.rssOfLimitPercent).toBeLessThanOrEqual(80);
  }, { blocking: false }));

  if (kubelet.real) register(chain.cgroupMemoryStep([...chain.components(), 'pgbouncer']));
  register(steps[LAST]);
});
