// PgBouncer in front of the metadata database (issue #22 item 9).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Testing } from 'cdk8s';
import { AirflowChart, AirflowChartProps, AirflowSecrets, AirflowVolumes, DatabaseConnection, ExternalMetadataDb, KubernetesExecutorAirflow, MetadataDb, PgBouncer, PostgresSslMode } from '../../lib';
import { validationReport } from '../../validation';
import { airflowPodSpecs, envOf, find, isAirflow2, synthAirflow, testChart, validationError } from '../support';
import { findSecretMaterial } from '../support/secret-scan';

const chartOf = (props: AirflowChartProps) => new AirflowChart(Testing.app(), 'airflow', props);
const synth = (props: AirflowChartProps) => synthAirflow(chartOf(props), isAirflow2(props));
const iniOf = (objects: any[]): string => find(objects, 'ConfigMap', 'airflow-pgbouncer').data['pgbouncer.ini'];
const POOLED = 'postgresql://airflow:$(AIRFLOW_DB_PASSWORD)@airflow-pgbouncer.airflow.svc.cluster.local:6543/airflow';

describe('the chart with pgbouncer: {}', () => {
  const objects = synth({ pgbouncer: {} });
  const deployment = find(objects, 'Deployment', 'airflow-pgbouncer');
  const container = deployment.spec.template.spec.containers[0];

  test("pgbouncer.ini is the official chart's: transaction pooling, 100 clients, a pool of 10 to the in-cluster Postgres", () => {
    const ini = iniOf(objects);
    expect(ini).toMatch(/^airflow = host=airflow-postgres\.airflow\.svc\.cluster\.local port=5432 dbname=airflow pool_size=10$/m);
    for (const line of ['pool_mode = transaction', 'listen_port = 6543', 'auth_type = scram-sha-256', 'auth_file = /tmp/users.txt', 'max_client_conn = 100', 'ignore_startup_parameters = extra_float_digits', 'server_tls_sslmode = disable', 'stats_users = airflow']) {
      expect(ini.split('\n')).toContain(line);
    }
  });

  test('every Airflow pod connects to PgBouncer, with the password from the same Secret, and waits for PgBouncer', () => {
    const specs = airflowPodSpecs(objects);
    expect(specs.size).toBeGreaterThan(4);
    for (const [name, spec] of specs) {
      const airflow = spec.containers[0];
      const conn = airflow.env.find((e: any) => e.name === 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN');
      if (conn === undefined) continue; // no database credentials (Airflow 3 task-running pods)
      expect([name, conn.value]).toEqual([name, POOLED]);
      expect([name, envOf(airflow, 'AIRFLOW_DB_PASSWORD').valueFrom.secretKeyRef]).toEqual([name, { name: 'airflow-secrets', key: 'db-password' }]);
      const wait = (spec.initContainers ?? []).find((c: any) => c.name === 'wait-for-db');
      if (wait) expect([name, envOf(wait, 'DB_HOST').value, envOf(wait, 'DB_PORT').value]).toEqual([name, 'airflow-pgbouncer.airflow.svc.cluster.local', '6543']);
    }
  });

  test('PgBouncer writes its users file at start from the Secret: no password in the YAML', () => {
    expect(container.image).toBe(PgBouncer.DEFAULT_IMAGE);
    expect(container.command.slice(0, 2)).toEqual(['sh', '-c']);
    expect(container.command[2]).toMatch(/> \/tmp\/users\.txt\nexec \/usr\/bin\/pgbouncer \/etc\/pgbouncer-config\/pgbouncer\.ini$/);
    expect(envOf(container, 'AIRFLOW_DB_PASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'airflow-secrets', key: 'db-password' });
    expect(findSecretMaterial(objects)).toEqual([]);
    expect(validationReport(chartOf({ pgbouncer: {} }))).toEqual([]);
  });

  test('the start script writes the users file PgBouncer reads, a quote in the password doubled', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgbouncer-users-'));
    try {
      const script = container.command[2].replace(/\/tmp\/users\.txt/g, path.join(dir, 'users.txt')).replace(/exec \/usr\/bin\/pgbouncer .*$/, 'echo started');
      const out = execFileSync('sh', ['-c', script], { env: { PATH: process.env.PATH, PGBOUNCER_USER: 'airflow', AIRFLOW_DB_PASSWORD: 'pa"ss wo$rd' } }).toString();
      expect(out).toBe('started\n');
      expect(fs.readFileSync(path.join(dir, 'users.txt'), 'utf8')).toBe('"airflow" "pa""ss wo$rd"\n');
      expect(fs.statSync(path.join(dir, 'users.txt')).mode & 0o777).toBe(0o600);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("PgBouncer's pod waits for the database itself (the Airflow image's wait-for-db), so that waiting for PgBouncer means the database", () => {
    const init = deployment.spec.template.spec.initContainers;
    expect(init.map((c: any) => c.name)).toEqual(['wait-for-db']);
    expect(init[0].image).toBe(find(objects, 'Deployment', 'airflow-scheduler').spec.template.spec.containers[0].image);
    expect([envOf(init[0], 'DB_HOST').value, envOf(init[0], 'DB_PORT').value]).toEqual(['airflow-postgres.airflow.svc.cluster.local', '5432']);
    expect(init[0].securityContext).toMatchObject({ runAsUser: 50000, runAsNonRoot: true, readOnlyRootFilesystem: true });
  });

  test('runs as nobody, read-only root, no token; a Service on 6543', () => {
    expect(deployment.spec.template.spec.securityContext).toMatchObject({ runAsUser: 65534, runAsNonRoot: true });
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(deployment.spec.template.spec.automountServiceAccountToken).toBe(false);
    expect(find(objects, 'Service', 'airflow-pgbouncer').spec.ports).toEqual([{ name: 'pgbouncer', port: 6543, targetPort: 'pgbouncer', protocol: 'TCP' }]);
  });

  test('the default app is unchanged without it', () => {
    expect(synth({}).filter((o) => o.metadata.name === 'airflow-pgbouncer')).toEqual([]);
  });
});

test('Airflow 2: the task pods and the Celery workers connect through PgBouncer too', () => {
  const objects = synth({ pgbouncer: {}, image: 'apache/airflow:2.11.0', celery: {} });
  const template = find(objects, 'ConfigMap', 'airflow-config').data['pod_template_file.yaml'];
  expect(template).toContain('airflow-pgbouncer.airflow.svc.cluster.local:6543/airflow');
  const worker = find(objects, 'Deployment', 'airflow-celery-worker').spec.template.spec.containers[0];
  expect(envOf(worker, 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN').value).toBe(POOLED);
});

test('an external database: its host, port and sslmode towards it; the CA store for verify-full', () => {
  const chart = testChart();
  const database = new ExternalMetadataDb(chart, 'db', {
    connection: DatabaseConnection.postgres({ host: 'db.example.com', port: 5433, databaseName: 'meta', user: 'af', passwordSecret: { name: 'pg', key: 'pw' }, sslMode: PostgresSslMode.VERIFY_FULL }),
  });
  const pgbouncer = new PgBouncer(chart, 'pgbouncer', { database, metadataPoolSize: 5 });
  expect(pgbouncer.ini).toMatch(/^meta = host=db\.example\.com port=5433 dbname=meta pool_size=5$/m);
  expect(pgbouncer.ini.split('\n')).toEqual(expect.arrayContaining(['server_tls_sslmode = verify-full', 'server_tls_ca_file = /etc/ssl/certs/ca-certificates.crt', 'stats_users = af']));
  // Airflow to PgBouncer: in the cluster, no sslmode (and so no asyncpg URI of its own).
  expect(pgbouncer.airflowConnectionEnv()).toEqual([
    { name: 'AIRFLOW_DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'pg', key: 'pw' } } },
    { name: 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN', value: 'postgresql://af:$(AIRFLOW_DB_PASSWORD)@airflow-pgbouncer.airflow.svc.cluster.local:6543/meta' },
  ]);
  expect(pgbouncer.pooledDatabase).toBe(database);
});

test('KEDA behind PgBouncer queries the database itself', () => {
  const scaled = find(synth({ pgbouncer: {}, celery: { keda: {} } }), 'ScaledObject', 'airflow-celery-worker');
  expect(scaled.spec.triggers[0].metadata).toMatchObject({ host: 'airflow-postgres.airflow.svc.cluster.local', port: '5432' });
});

test('network policies: the clients reach PgBouncer, only PgBouncer the database', () => {
  const objects = synth({ pgbouncer: {}, networkPolicies: true, celery: { keda: {} } });
  const policy = (name: string) => find(objects, 'NetworkPolicy', name).spec;
  expect(policy('airflow-metadata-db').ingress[0].from).toEqual([
    { podSelector: { matchLabels: { 'app.kubernetes.io/component': 'pgbouncer' } } },
    { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'keda' } } },
  ]);
  expect(policy('airflow-metadata-db-clients').egress).toEqual([{ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'pgbouncer' } } }], ports: [{ protocol: 'TCP', port: 6543 }] }]);
  const own = policy('airflow-pgbouncer');
  expect(own.podSelector).toEqual({ matchLabels: { 'app.kubernetes.io/component': 'pgbouncer' } });
  expect(own.ingress[0].ports).toEqual([{ protocol: 'TCP', port: 6543 }]);
  expect(own.egress).toEqual([{ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'metadata-db' } } }], ports: [{ protocol: 'TCP', port: 5432 }] }]);
});

describe('refused', () => {
  test.each([
    [{ metadataPoolSize: 50, maxClientConn: 20 }, 'metadataPoolSize', /at most maxClientConn \(20\): PgBouncer opens a server connection only for a client/],
    [{ maxClientConn: 0 }, 'maxClientConn', /a whole number from 1 to 100000/],
    [{ metadataPoolSize: 0 }, 'metadataPoolSize', /a whole number from 1 to 10000/],
    [{ image: 'apache/airflow' }, 'image', /an image pinned by a tag or a digest/],
  ])('%j', (pgbouncer, property, message) => {
    validationError(() => chartOf({ pgbouncer: pgbouncer as any }), property, message);
  });

  test('an unknown option, by name', () => {
    expect(() => Testing.synth(chartOf({ pgbouncer: { poolSize: 5 } as any }))).toThrow(/property "pgbouncer.poolSize" received 5; allowed: a prop of PgBouncerOptions/);
  });

  test('a database whose URI is in a Secret: PgBouncer needs its parts', () => {
    const chart = testChart();
    const database = MetadataDb.fromConnectionUriSecret(chart, 'db', { uriSecret: { name: 'db', key: 'uri' } });
    validationError(() => new PgBouncer(chart, 'pgbouncer', { database }), 'database', /a database given by its parts .* a connection URI Secret hides from synth/);
  });

  test('a database of your own kind', () => {
    const chart = testChart();
    const real = new ExternalMetadataDb(chart, 'db', { connection: DatabaseConnection.postgres({ host: 'db.example.com', passwordSecret: { name: 'pg', key: 'pw' } }) });
    const database = { airflowConnectionEnv: () => real.airflowConnectionEnv(), waitForDatabaseContainer: (image: string) => real.waitForDatabaseContainer(image) };
    validationError(() => new PgBouncer(chart, 'pgbouncer', { database }), 'database', /the metadata database: a MetadataDb, or MetadataDb\.external/);
  });
});

test('with your own chart: give PgBouncer to the control plane as its database', () => {
  const chart = testChart();
  const secrets = new AirflowSecrets(chart, 'secrets');
  const db = new MetadataDb(chart, 'db', { passwordSecret: secrets.databasePassword });
  const database = new PgBouncer(chart, 'pgbouncer', { database: db });
  new KubernetesExecutorAirflow(chart, 'airflow', { volumes: new AirflowVolumes(chart, 'volumes'), database, secrets });
  const scheduler = find(Testing.synth(chart), 'Deployment', 'airflow-scheduler').spec.template.spec.containers[0];
  expect(envOf(scheduler, 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN').value).toBe('postgresql://airflow:$(AIRFLOW_DB_PASSWORD)@airflow-pgbouncer.airflow.svc.cluster.local:6543/airflow');
});
