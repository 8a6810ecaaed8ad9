import { execFile } from 'child_process';
import * as net from 'net';
import { Chart, Testing, Yaml } from 'cdk8s';
import {
  AirflowCdk8sValidationError,
  ExternalMetadataDb,
  IMetadataDatabase,
  MetadataDb,
  PodSecurityLevel,
  PostgresSslMode,
  StorageProvisioning,
  AirflowSecrets,
  airflowContainerSecurityContext,
  DatabaseConnection,
} from '../lib';
import { podSecurityLevelOf, podSecurityViolations } from '../lib/security/pod-security';
import * as k8s from '../imports/k8s';
import { resolveAtSynth } from '../lib/core/lazy';

function chart(namespace = 'airflow'): Chart {
  return new Chart(Testing.app(), 'test', { namespace, disableResourceNameHashes: true });
}

/** The chart's secrets, as the user's own Secret `airflow-secrets` (no objects): what MetadataDb reads by default. */
function chartSecrets(c: Chart): AirflowSecrets {
  const ref = (key: string) => ({ name: 'airflow-secrets', key });
  return AirflowSecrets.fromExistingSecrets(c, 'secrets', {
    fernetKey: ref('fernet-key'),
    apiSecretKey: ref('api-secret-key'),
    jwtSecret: ref('jwt-secret'),
    adminPassword: ref('admin-password'),
    databasePassword: ref('db-password'),
  });
}

function synthDb(props: ConstructorParameters<typeof MetadataDb>[2] = {}): { db: MetadataDb; objects: any[] } {
  const c = chart();
  const db = new MetadataDb(c, 'metadata-db', props);
  chartSecrets(c); // after the database: it finds them at synth
  return { db, objects: Testing.synth(c) };
}

const named = (objects: any[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);

const podSpecOf = (objects: any[]) => named(objects, 'StatefulSet', 'airflow-postgres').spec.template.spec;
const postgresContainer = (objects: any[]) => podSpecOf(objects).containers.find((c: any) => c.name === 'postgres');

/** Every env entry of every container and init container of every pod template in `objects`. */
function allEnv(objects: any[]): any[] {
  return objects
    .filter((o) => o.spec?.template?.spec)
    .flatMap((o) => [...(o.spec.template.spec.containers ?? []), ...(o.spec.template.spec.initContainers ?? [])])
    .flatMap((c) => c.env ?? []);
}

/** The capabilities the Pod Security Standard "baseline" level allows to add. */
const BASELINE_CAPABILITIES = [
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE',
  'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
];

function expectValidationError(fn: () => unknown, property: string, pattern?: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(AirflowCdk8sValidationError);
  const v = error as AirflowCdk8sValidationError;
  expect(v.property).toBe(property);
  if (pattern) expect(v.message).toMatch(pattern);
}

describe('MetadataDb in the cluster, on minikube (hostPath, the default)', () => {
  const { db, objects } = synthDb();
  const pod = podSpecOf(objects);
  const postgres = postgresContainer(objects);

  test('snapshot', () => {
    expect(objects).toMatchSnapshot();
  });

  test('creates the pinned volume and claim, the Service and the StatefulSet, with their fixed names', () => {
    expect(objects.map((o) => `${o.apiVersion} ${o.kind}/${o.metadata.name}`)).toEqual([
      'v1 PersistentVolume/airflow-postgres-volume',
      'v1 PersistentVolumeClaim/airflow-postgres-claim',
      'v1 Service/airflow-postgres',
      'apps/v1 StatefulSet/airflow-postgres',
    ]);
    expect(named(objects, 'Service', 'airflow-postgres').metadata.namespace).toBe('airflow');
    expect(named(objects, 'StatefulSet', 'airflow-postgres').metadata.namespace).toBe('airflow');
    expect(named(objects, 'PersistentVolume', 'airflow-postgres-volume').metadata.namespace).toBeUndefined();
  });

  test('the claim is pinned to its hostPath volume both ways, and the pod mounts that claim', () => {
    const pv = named(objects, 'PersistentVolume', 'airflow-postgres-volume');
    const pvc = named(objects, 'PersistentVolumeClaim', 'airflow-postgres-claim');
    expect(pv.spec.hostPath).toEqual({ path: '/data/postgres', type: 'DirectoryOrCreate' });
    expect(pv.spec.claimRef).toEqual({ name: 'airflow-postgres-claim', namespace: 'airflow' });
    expect(pvc.spec.volumeName).toBe('airflow-postgres-volume');
    expect(pv.spec.storageClassName).toBe('airflow-static');
    expect(pvc.spec.storageClassName).toBe('airflow-static');
    expect(pv.spec.persistentVolumeReclaimPolicy).toBe('Retain');
    expect(pvc.spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(db.storage.claim.name).toBe('airflow-postgres-claim');

    const sts = named(objects, 'StatefulSet', 'airflow-postgres');
    expect(sts.spec.volumeClaimTemplates).toBeUndefined();
    const dataVolume = pod.volumes.find((v: any) => v.persistentVolumeClaim);
    expect(dataVolume.persistentVolumeClaim).toEqual({ claimName: 'airflow-postgres-claim' });
    expect(postgres.volumeMounts).toContainEqual({ name: dataVolume.name, mountPath: '/var/lib/postgresql/data' });
    expect(pod.volumes.some((v: any) => v.hostPath)).toBe(false);
  });

  test('PGDATA is a subdirectory of the data mount', () => {
    const pgdata = postgres.env.find((e: any) => e.name === 'PGDATA').value;
    expect(pgdata).toBe('/var/lib/postgresql/data/pgdata');
    const mount = postgres.volumeMounts.find((m: any) => pgdata.startsWith(`${m.mountPath}/`));
    expect(mount.name).toBe('data');
  });

  test('the Service selects the Postgres pod, on the container port named postgres', () => {
    const service = named(objects, 'Service', 'airflow-postgres');
    const sts = named(objects, 'StatefulSet', 'airflow-postgres');
    const podLabels = sts.spec.template.metadata.labels;
    expect(service.spec.type).toBe('ClusterIP');
    expect(Object.keys(service.spec.selector).length).toBeGreaterThan(0);
    for (const [k, v] of Object.entries(service.spec.selector)) expect(podLabels[k]).toBe(v);
    for (const [k, v] of Object.entries(sts.spec.selector.matchLabels)) expect(podLabels[k]).toBe(v);
    expect(podLabels).toEqual({ 'app.kubernetes.io/name': 'airflow', 'app.kubernetes.io/component': 'metadata-db' });
    expect(service.spec.ports).toEqual([{ name: 'postgres', port: 5432, targetPort: 'postgres', protocol: 'TCP' }]);
    expect(postgres.ports).toEqual([{ name: 'postgres', containerPort: 5432, protocol: 'TCP' }]);
    expect(sts.spec.serviceName).toBe(service.metadata.name);
    expect(sts.spec.replicas).toBe(1);
  });

  test('the official postgres image at a pinned major and minor version', () => {
    expect(postgres.image).toBe('postgres:17.10-bookworm');
    expect(postgres.image).toMatch(/^postgres:\d+\.\d+/);
    expect(postgres.command).toBeUndefined(); // keep the image's entrypoint: it runs initdb on first start
  });

  test('startup, readiness and liveness probes run pg_isready over TCP for the Airflow user and database', () => {
    const expected = [
      'pg_isready', '--host=127.0.0.1', '--port=5432', '--username=airflow', '--dbname=airflow', '--timeout=3', '--quiet',
    ];
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      expect(postgres[probe].exec.command).toEqual(expected);
      expect(postgres[probe].timeoutSeconds).toBeGreaterThan(3); // longer than pg_isready's own timeout
    }
    // The startup probe gives initdb time before liveness may restart the pod.
    expect(postgres.startupProbe.periodSeconds * postgres.startupProbe.failureThreshold).toBeGreaterThanOrEqual(300);
  });

  test('credentials come from the Secret by reference; no password literal anywhere', () => {
    const env = Object.fromEntries(postgres.env.map((e: any) => [e.name, e]));
    expect(env.POSTGRES_USER).toEqual({ name: 'POSTGRES_USER', value: 'airflow' });
    expect(env.POSTGRES_DB).toEqual({ name: 'POSTGRES_DB', value: 'airflow' });
    expect(env.POSTGRES_PASSWORD).toEqual({
      name: 'POSTGRES_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'airflow-secrets', key: 'db-password' } },
    });
    // No password-less "trust" logins, not even on the socket or the loopback.
    expect(env.POSTGRES_INITDB_ARGS.value).toBe('--auth-local=scram-sha-256 --auth-host=scram-sha-256');
    expect(env.POSTGRES_HOST_AUTH_METHOD).toBeUndefined();
    for (const e of allEnv(objects)) {
      if (/PASSWORD|SECRET|TOKEN|KEY/.test(e.name)) {
        expect(e.value).toBeUndefined();
        expect(e.valueFrom.secretKeyRef).toBeDefined();
      }
    }
    expect(objects.some((o) => o.kind === 'Secret')).toBe(false);
    const yaml = Yaml.stringify(...objects);
    expect(yaml).not.toMatch(/trust/);
    expect(yaml).not.toMatch(/password:\s*\S/i);
  });

  test('the pod meets the Pod Security Standard "baseline" level (not "restricted": the entrypoint starts as root)', () => {
    expect(pod.hostNetwork).toBeUndefined();
    expect(pod.hostPID).toBeUndefined();
    expect(pod.hostIPC).toBeUndefined();
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext.seccompProfile).toEqual({ type: 'RuntimeDefault' });
    for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
      const sc = c.securityContext;
      expect(sc.privileged).toBe(false);
      expect(sc.allowPrivilegeEscalation).toBe(false);
      expect(sc.capabilities.drop).toEqual(['ALL']);
      for (const cap of sc.capabilities.add ?? []) expect(BASELINE_CAPABILITIES).toContain(cap);
      expect(c.ports?.some((p: any) => p.hostPort)).toBeFalsy();
    }
    expect(podSecurityViolations(pod, PodSecurityLevel.BASELINE)).toEqual([]);
    expect(podSecurityLevelOf(pod)).toBe(PodSecurityLevel.BASELINE);
    expect(postgres.securityContext.capabilities.add).toEqual(['CHOWN', 'DAC_OVERRIDE', 'SETGID', 'SETUID']);
    expect(postgres.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(postgres.securityContext.runAsNonRoot).toBeUndefined();
    // With a read-only root, the socket directory and /tmp are writable emptyDirs.
    for (const path of ['/var/run/postgresql', '/tmp']) {
      const mount = postgres.volumeMounts.find((m: any) => m.mountPath === path);
      expect(pod.volumes.find((v: any) => v.name === mount.name).emptyDir).toBeDefined();
    }
  });

  test('resource requests and limits sized for minikube', () => {
    expect(postgres.resources).toEqual({
      requests: { cpu: '100m', memory: '256Mi' },
      limits: { cpu: '1', memory: '1Gi' },
    });
  });

  test('synthesis is deterministic', () => {
    expect(JSON.stringify(synthDb().objects)).toBe(JSON.stringify(objects));
  });
});

describe('MetadataDb: what Airflow needs from it', () => {
  const { db } = synthDb();

  test('host, port, database, user and password location as typed values', () => {
    expect(db.host).toBe('airflow-postgres.airflow.svc.cluster.local');
    expect(db.port).toBe(5432);
    expect(db.databaseName).toBe('airflow');
    expect(db.user).toBe('airflow');
    // Not given: the chart's AirflowSecrets' databasePassword, resolved at synth.
    expect(resolveAtSynth(db.passwordSecret)).toEqual({ name: 'airflow-secrets', key: 'db-password' });
    expect(db.serviceName).toBe(db.service.name);
    expect(db.statefulSet.name).toBe('airflow-postgres');
  });

  test('airflowConnectionEnv: the password from its Secret first, then the URI that refers to it', () => {
    const d: IMetadataDatabase = db; // what the control plane uses
    expect(resolveAtSynth(d.airflowConnectionEnv())).toEqual([
      { name: 'AIRFLOW_DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'airflow-secrets', key: 'db-password' } } },
      {
        name: 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN',
        value: 'postgresql://airflow:$(AIRFLOW_DB_PASSWORD)@airflow-postgres.airflow.svc.cluster.local:5432/airflow',
      },
    ]);
  });

  test('waitForDatabaseContainer: a bash TCP wait named wait-for-db with a bounded wait', () => {
    const sc = airflowContainerSecurityContext();
    const c = db.waitForDatabaseContainer('apache/airflow:3.1.3', sc);
    expect(c.name).toBe('wait-for-db');
    expect(c.image).toBe('apache/airflow:3.1.3');
    expect(c.command![0]).toBe('bash');
    expect(c.command![2]).toContain('/dev/tcp/');
    expect(c.command!.join(' ')).not.toContain('$('); // Kubernetes would try to expand it
    expect(c.env).toEqual([
      { name: 'DB_HOST', value: 'airflow-postgres.airflow.svc.cluster.local' },
      { name: 'DB_PORT', value: '5432' },
      { name: 'WAIT_TIMEOUT_SECONDS', value: '300' },
    ]);
    expect(c.securityContext).toBe(sc);
    expect(c.resources?.limits).toBeDefined();
  });
});

describe('MetadataDb options', () => {
  test('StorageClass provisioning: only a claim on the class, no PersistentVolume', () => {
    const { objects } = synthDb({ provisioning: StorageProvisioning.storageClass('gp3'), storageSize: '20Gi' });
    expect(objects.filter((o) => o.kind === 'PersistentVolume')).toEqual([]);
    const pvc = named(objects, 'PersistentVolumeClaim', 'airflow-postgres-claim');
    expect(pvc.spec.storageClassName).toBe('gp3');
    expect(pvc.spec.volumeName).toBeUndefined();
    expect(pvc.spec.resources.requests.storage).toBe('20Gi');
    expect(podSpecOf(objects).volumes[0].persistentVolumeClaim.claimName).toBe('airflow-postgres-claim');
  });

  test('user, database, Secret, names and resources flow into every place that uses them', () => {
    const c = chart('data');
    const db = new MetadataDb(c, 'db', {
      user: 'scheduler_user',
      databaseName: 'airflow_meta',
      passwordSecret: { name: 'pg-credentials', key: 'password' },
      namePrefix: 'team-a',
      clusterDomain: 'corp.internal',
      memoryLimit: '2Gi',
      image: 'registry.example.com:5000/postgres:16.9-bookworm',
      waitTimeoutSeconds: 60,
    });
    const objects = Testing.synth(c);
    const sts = named(objects, 'StatefulSet', 'team-a-postgres');
    const container = sts.spec.template.spec.containers[0];
    expect(named(objects, 'Service', 'team-a-postgres')).toBeDefined();
    expect(named(objects, 'PersistentVolumeClaim', 'team-a-postgres-claim')).toBeDefined();
    expect(named(objects, 'PersistentVolume', 'team-a-postgres-volume').spec.claimRef.namespace).toBe('data');
    expect(container.image).toBe('registry.example.com:5000/postgres:16.9-bookworm');
    expect(container.env).toContainEqual({ name: 'POSTGRES_USER', value: 'scheduler_user' });
    expect(container.env).toContainEqual({ name: 'POSTGRES_DB', value: 'airflow_meta' });
    expect(container.env).toContainEqual({
      name: 'POSTGRES_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'pg-credentials', key: 'password' } },
    });
    expect(container.readinessProbe.exec.command).toContain('--username=scheduler_user');
    expect(container.readinessProbe.exec.command).toContain('--dbname=airflow_meta');
    expect(container.resources.limits.memory).toBe('2Gi');
    expect(db.host).toBe('team-a-postgres.data.svc.corp.internal');
    expect(db.airflowConnectionEnv()[1].value).toBe(
      'postgresql://scheduler_user:$(AIRFLOW_DB_PASSWORD)@team-a-postgres.data.svc.corp.internal:5432/airflow_meta',
    );
    expect(db.waitForDatabaseContainer('apache/airflow:3.1.3').env).toContainEqual({
      name: 'WAIT_TIMEOUT_SECONDS',
      value: '60',
    });
  });
});

describe('External metadata database', () => {
  test('host mode creates no objects and builds the URI with sslmode (and the asyncpg URI with ssl)', () => {
    const c = chart();
    const db = MetadataDb.external(c, 'db', {
      host: 'airflow.abc123.eu-west-1.rds.amazonaws.com',
      user: 'airflow_app',
      databaseName: 'airflow_prod',
      passwordSecret: { name: 'rds-airflow', key: 'password' },
      sslMode: PostgresSslMode.VERIFY_FULL,
    });
    expect(db).toBeInstanceOf(ExternalMetadataDb);
    expect(Testing.synth(c)).toEqual([]);
    expect(db.host).toBe('airflow.abc123.eu-west-1.rds.amazonaws.com');
    expect(db.port).toBe(5432);
    expect(db.sslMode).toBe('verify-full');
    const authority = 'airflow_app:$(AIRFLOW_DB_PASSWORD)@airflow.abc123.eu-west-1.rds.amazonaws.com:5432/airflow_prod';
    expect(db.airflowConnectionEnv()).toEqual([
      { name: 'AIRFLOW_DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'rds-airflow', key: 'password' } } },
      { name: 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN', value: `postgresql://${authority}?sslmode=verify-full` },
      { name: 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC', value: `postgresql+asyncpg://${authority}?ssl=verify-full` },
    ]);
    expect(db.waitForDatabaseContainer('apache/airflow:3.1.3').env).toEqual([
      { name: 'DB_HOST', value: 'airflow.abc123.eu-west-1.rds.amazonaws.com' },
      { name: 'DB_PORT', value: '5432' },
      { name: 'WAIT_TIMEOUT_SECONDS', value: '300' },
    ]);
  });

  test("host mode defaults: port 5432, airflow/airflow, the chart's secrets' databasePassword, no sslmode", () => {
    const c = chart();
    const db = MetadataDb.external(c, 'db', { host: '10.0.3.7', port: 6432 });
    chartSecrets(c);
    expect(resolveAtSynth(db.airflowConnectionEnv())).toEqual([
      { name: 'AIRFLOW_DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'airflow-secrets', key: 'db-password' } } },
      { name: 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN', value: 'postgresql://airflow:$(AIRFLOW_DB_PASSWORD)@10.0.3.7:6432/airflow' },
    ]);
  });

  test('URI mode: the whole URI from its Secret, and wait-for-db reads host and port from it', () => {
    const c = chart();
    const db = MetadataDb.fromConnectionUriSecret(c, 'db', { uriSecret: { name: 'airflow-db', key: 'uri' } });
    expect(Testing.synth(c)).toEqual([]);
    expect([db.host, db.port, db.databaseName, db.user, db.passwordSecret]).toEqual([
      undefined, undefined, undefined, undefined, undefined,
    ]);
    expect(db.connectionUriSecret).toEqual({ name: 'airflow-db', key: 'uri' });
    expect(db.airflowConnectionEnv()).toEqual([
      { name: 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN', valueFrom: { secretKeyRef: { name: 'airflow-db', key: 'uri' } } },
    ]);
    expect(db.waitForDatabaseContainer('apache/airflow:3.1.3').env).toEqual([
      { name: 'DB_URI', valueFrom: { secretKeyRef: { name: 'airflow-db', key: 'uri' } } },
      { name: 'WAIT_TIMEOUT_SECONDS', value: '300' },
    ]);
  });
});

describe('failures', () => {
  test.each([0, 70000, 5432.5, '5432'])('bad port %p', (port) => {
    expectValidationError(
      () => MetadataDb.external(chart(), 'db', { host: 'db.example.com', port: port as number }),
      'port',
      /ExternalMetadataDb at "test\/db": property "port" received .*; allowed: a whole number from 1 to 65535/,
    );
  });

  test.each([
    ['user', { user: 'air flow' }],
    ['user', { user: 'airflow@server' }],
    ['databaseName', { databaseName: '1airflow' }],
    ['databaseName', { databaseName: '' }],
    ['passwordSecret.name', { passwordSecret: { name: 'Airflow_Secrets', key: 'db-password' } }],
    ['passwordSecret.key', { passwordSecret: { name: 'airflow-secrets', key: 'db password' } }],
    ['namePrefix', { namePrefix: 'Airflow' }],
    ['namePrefix', { namePrefix: '1airflow' }],
    ['clusterDomain', { clusterDomain: 'cluster.local.' }],
    ['image', { image: 'Postgres:17' }],
    ['storageSize', { storageSize: '5GB' }],
    ['memoryRequest', { memoryRequest: '2Gi', memoryLimit: '1Gi' }],
    ['cpuRequest', { cpuRequest: '2', cpuLimit: '1' }],
    ['waitTimeoutSeconds', { waitTimeoutSeconds: 0 }],
  ])('in-cluster: bad %s', (property, props) => {
    expectValidationError(() => synthDb(props as any), property as string, /^MetadataDb at "test\/metadata-db"/);
  });

  test.each([
    ['host', { host: 'postgres://db.example.com:5432' }, /the port goes in "port"/],
    ['host', { host: 'DB.example.com' }, /Did you mean "db.example.com"/],
    ['user', { host: 'db.example.com', user: 'bad/user' }, /Postgres name/],
    ['sslMode', { host: 'db.example.com', sslMode: 'required' }, /one of "disable"/],
    ['connectionUriSecret.name', { connectionUriSecret: { name: 'bad name', key: 'uri' } }, /DNS-1123 subdomain/],
  ])('external: bad %s', (property, props, pattern) => {
    const p = props as any;
    const connection = p.connectionUriSecret ? DatabaseConnection.fromUriSecret(p.connectionUriSecret) : DatabaseConnection.postgres(p);
    expectValidationError(() => new ExternalMetadataDb(chart(), 'db', { connection }), property as string, pattern);
  });

  test('external: neither a host nor a URI Secret', () => {
    expectValidationError(() => new ExternalMetadataDb(chart(), 'db', { connection: DatabaseConnection.postgres({} as any) }), 'host', /new MetadataDb/);
  });

  test('the connection is made by a factory: a plain object with both a host and a URI Secret is refused', () => {
    expectValidationError(
      () =>
        new ExternalMetadataDb(chart(), 'db', {
          connection: { host: 'db.example.com', connectionUriSecret: { name: 'airflow-db', key: 'uri' } } as any,
        }),
      'connection',
      /DatabaseConnection\.postgres/,
    );
  });

  test('both modes at once: an in-cluster and an external database in one chart, in either order', () => {
    const c1 = chart();
    new MetadataDb(c1, 'in-cluster');
    expectValidationError(
      () => MetadataDb.external(c1, 'external', { host: 'db.example.com' }),
      'metadata database',
      /MetadataDb at \\"test\/in-cluster\\".*one metadata database per chart/,
    );
    const c2 = chart();
    MetadataDb.fromConnectionUriSecret(c2, 'external', { uriSecret: { name: 'airflow-db', key: 'uri' } });
    expectValidationError(() => new MetadataDb(c2, 'in-cluster'), 'metadata database', /ExternalMetadataDb/);
  });

  test('a chart without a namespace', () => {
    const noNamespace = new Chart(Testing.app(), 'test', { disableResourceNameHashes: true });
    expectValidationError(() => new MetadataDb(noNamespace, 'db'), 'Chart.namespace');
  });

  test('a bad image for wait-for-db', () => {
    const { db } = synthDb();
    expectValidationError(() => db.waitForDatabaseContainer('not an image'), 'waitForDatabaseContainer.image');
  });
});

/** Runs a container's command with its plain env entries (plus `extraEnv`, as the kubelet would fill from Secrets). */
function runContainer(
  container: k8s.Container,
  extraEnv: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  // HOME=/nonexistent: bash would source ~/.bashrc when its stdin is a socket, as execFile's is.
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', ...extraEnv };
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  const [file, ...args] = container.command!;
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as any).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('wait-for-db really waits (bash against a real TCP socket)', () => {
  let server: net.Server;
  let openPort: number;
  let closedPort: number;

  beforeAll(async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    openPort = (server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('exits 0 once the port accepts connections', async () => {
    const db = MetadataDb.external(chart(), 'db', { host: '127.0.0.1', port: openPort });
    const result = await runContainer(db.waitForDatabaseContainer('apache/airflow:3.1.3'));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`wait-for-db: 127.0.0.1:${openPort} accepts connections`);
  });

  test('gives up with a clear message after the bounded wait', async () => {
    const db = MetadataDb.external(chart(), 'db', { host: '127.0.0.1', port: closedPort, waitTimeoutSeconds: 1 });
    const result = await runContainer(db.waitForDatabaseContainer('apache/airflow:3.1.3'));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`wait-for-db: gave up after`);
    expect(result.stderr).toContain(`127.0.0.1:${closedPort} does not accept TCP connections`);
  });

  test('URI mode: finds host and port in the URI and never prints the password', async () => {
    const db = MetadataDb.fromConnectionUriSecret(chart(), 'db', { uriSecret: { name: 'airflow-db', key: 'uri' } });
    const uri = `postgresql+psycopg2://airflow:s3cr%40t%2Fpw@127.0.0.1:${openPort}/airflow?sslmode=require`;
    const result = await runContainer(db.waitForDatabaseContainer('apache/airflow:3.1.3'), { DB_URI: uri });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`127.0.0.1:${openPort} accepts connections`);
    expect(result.stdout + result.stderr).not.toContain('s3cr');
  });

  test('URI mode: a URI without a host fails at once, without printing the URI', async () => {
    const db = MetadataDb.fromConnectionUriSecret(chart(), 'db', { uriSecret: { name: 'airflow-db', key: 'uri' } });
    const result = await runContainer(db.waitForDatabaseContainer('apache/airflow:3.1.3'), {
      DB_URI: 'postgresql://airflow:s3cret@/airflow?host=/var/run/postgresql',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot find a host name');
    expect(result.stdout + result.stderr).not.toContain('s3cret');
  });
});
