// MetadataDb: Postgres in the cluster on a pinned volume, what Airflow reads from it, its options and inputs.
import { Testing, Yaml } from 'cdk8s';
import {
  IMetadataDatabase,
  MetadataDb,
  PodSecurityLevel,
  StorageProvisioning,
  airflowContainerSecurityContext,
} from '../../lib';
import { resolveAtSynth } from '../../lib/core/lazy';
import { podSecurityLevelOf, podSecurityViolations } from '../../lib/security/pod-security';
import { chartSecrets, containersOf, find, Manifest, objectIds, synthIn, testChart, validationError } from '../support';


function synthDb(props: ConstructorParameters<typeof MetadataDb>[2] = {}): { db: MetadataDb; objects: Manifest[] } {
  const { built, objects } = synthIn((c) => {
    const db = new MetadataDb(c, 'metadata-db', props);
    chartSecrets(c); // after the database: it finds them at synth
    return db;
  });
  return { db: built, objects };
}

const podSpecOf = (objects: Manifest[]) => find(objects, 'StatefulSet', 'airflow-postgres').spec.template.spec;
const postgresContainer = (objects: Manifest[]) => podSpecOf(objects).containers.find((c: any) => c.name === 'postgres');

/** Every env entry of every container and init container of every pod template in `objects`. */
function allEnv(objects: Manifest[]): any[] {
  return objects.flatMap((o) => containersOf(o.spec?.template?.spec)).flatMap((c) => c.env ?? []);
}

/** The capabilities the Pod Security Standard "baseline" level allows to add. */
const BASELINE_CAPABILITIES = [
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE',
  'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
];

describe('MetadataDb in the cluster, on minikube (hostPath, the default)', () => {
  const { db, objects } = synthDb();
  const pod = podSpecOf(objects);
  const postgres = postgresContainer(objects);

  test('snapshot', () => {
    expect(objects).toMatchSnapshot();
  });

  test('creates the pinned volume and claim, the Service and the StatefulSet, with their fixed names', () => {
    expect(objectIds(objects)).toEqual([
      'v1 PersistentVolume/airflow-postgres-volume',
      'v1 PersistentVolumeClaim/airflow-postgres-claim',
      'v1 PersistentVolume/airflow-postgres-keys-volume',
      'v1 PersistentVolumeClaim/airflow-postgres-keys-claim',
      'v1 Service/airflow-postgres',
      'v1 ServiceAccount/airflow-postgres',
      'apps/v1 StatefulSet/airflow-postgres',
    ]);
    expect(find(objects, 'Service', 'airflow-postgres').metadata.namespace).toBe('airflow');
    expect(find(objects, 'StatefulSet', 'airflow-postgres').metadata.namespace).toBe('airflow');
    expect(find(objects, 'PersistentVolume', 'airflow-postgres-volume').metadata.namespace).toBeUndefined();
  });

  test('the keys volume beside the data: pinned, Retain, on <hostRoot>/postgres-keys, mounted by the secrets bootstrap Job only', () => {
    const pv = find(objects, 'PersistentVolume', 'airflow-postgres-keys-volume');
    expect(pv.spec).toMatchObject({
      hostPath: { path: '/data/postgres-keys', type: 'DirectoryOrCreate' },
      claimRef: { name: 'airflow-postgres-keys-claim', namespace: 'airflow' },
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: 'airflow-static',
      accessModes: ['ReadWriteOnce'],
    });
    expect(find(objects, 'PersistentVolumeClaim', 'airflow-postgres-keys-claim').spec.volumeName).toBe('airflow-postgres-keys-volume');
    expect(db.keysStorage?.claimName).toBe('airflow-postgres-keys-claim');
    // Postgres never mounts it; the bootstrap Job of the chart's AirflowSecrets does
    expect(JSON.stringify(pod)).not.toContain('keys');
    const job = objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-secrets-bootstrap-'));
    if (job) expect(job.spec.template.spec.volumes).toEqual([{ name: 'secrets-copy', persistentVolumeClaim: { claimName: 'airflow-postgres-keys-claim' } }]);
  });

  test('no keys volume with a StorageClass: the claim, and the data, go with the namespace', () => {
    const { db: sc, objects: scObjects } = synthDb({ provisioning: StorageProvisioning.storageClass('gp3') });
    expect(sc.keysStorage).toBeUndefined();
    expect(objectIds(scObjects).filter((id) => id.includes('keys'))).toEqual([]);
  });

  test('the claim is pinned to its hostPath volume both ways, and the pod mounts that claim', () => {
    const pv = find(objects, 'PersistentVolume', 'airflow-postgres-volume');
    const pvc = find(objects, 'PersistentVolumeClaim', 'airflow-postgres-claim');
    expect(pv.spec.hostPath).toEqual({ path: '/data/postgres', type: 'DirectoryOrCreate' });
    expect(pv.spec.claimRef).toEqual({ name: 'airflow-postgres-claim', namespace: 'airflow' });
    expect(pvc.spec.volumeName).toBe('airflow-postgres-volume');
    expect(pv.spec.storageClassName).toBe('airflow-static');
    expect(pvc.spec.storageClassName).toBe('airflow-static');
    expect(pv.spec.persistentVolumeReclaimPolicy).toBe('Retain');
    expect(pvc.spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(db.storage.claim.name).toBe('airflow-postgres-claim');

    const sts = find(objects, 'StatefulSet', 'airflow-postgres');
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
    const service = find(objects, 'Service', 'airflow-postgres');
    const sts = find(objects, 'StatefulSet', 'airflow-postgres');
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
      requests: { cpu: '100m', memory: '128Mi' }, // the runtime stage measured about 80 MiB PSS
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
    const pvc = find(objects, 'PersistentVolumeClaim', 'airflow-postgres-claim');
    expect(pvc.spec.storageClassName).toBe('gp3');
    expect(pvc.spec.volumeName).toBeUndefined();
    expect(pvc.spec.resources.requests.storage).toBe('20Gi');
    expect(podSpecOf(objects).volumes[0].persistentVolumeClaim.claimName).toBe('airflow-postgres-claim');
  });

  test('user, database, Secret, names and resources flow into every place that uses them', () => {
    const c = testChart({ namespace: 'data' });
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
    // namePrefix names the cluster-scoped volume only: namespaced objects are airflow-* in every namespace
    const sts = find(objects, 'StatefulSet', 'airflow-postgres');
    const container = sts.spec.template.spec.containers[0];
    expect(find(objects, 'Service', 'airflow-postgres')).toBeDefined();
    expect(find(objects, 'PersistentVolumeClaim', 'airflow-postgres-claim')).toBeDefined();
    expect(find(objects, 'PersistentVolume', 'team-a-postgres-volume').spec.claimRef).toEqual({ name: 'airflow-postgres-claim', namespace: 'data' });
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
    expect(db.host).toBe('airflow-postgres.data.svc.corp.internal');
    expect(db.airflowConnectionEnv()[1].value).toBe(
      'postgresql://scheduler_user:$(AIRFLOW_DB_PASSWORD)@airflow-postgres.data.svc.corp.internal:5432/airflow_meta',
    );
    expect(db.waitForDatabaseContainer('apache/airflow:3.1.3').env).toContainEqual({
      name: 'WAIT_TIMEOUT_SECONDS',
      value: '60',
    });
  });
});

test('a namespace whose name starts with a digit (a valid DNS-1123 label) is the default prefix: namePrefix names only the PersistentVolumes, whose names may start with one', () => {
  // It was refused with "a DNS-1035 label that starts with a letter (Service names must)", a rule from when the
  // prefix also named the Service (now airflow-postgres in every namespace).
  const c = testChart({ namespace: '2024-airflow' });
  new MetadataDb(c, 'db');
  chartSecrets(c);
  const objects = Testing.synth(c);
  expect(find(objects, 'PersistentVolume', '2024-airflow-postgres-volume').spec.claimRef).toEqual({ name: 'airflow-postgres-claim', namespace: '2024-airflow' });
  expect(find(objects, 'Service', 'airflow-postgres')).toBeDefined();
  const own = testChart({ namespace: 'data' });
  new MetadataDb(own, 'db', { namePrefix: '7team' });
  chartSecrets(own);
  expect(find(Testing.synth(own), 'PersistentVolume', '7team-postgres-volume')).toBeDefined();
});

describe('MetadataDb rejects bad input', () => {
  test.each([
    ['user', { user: 'air flow' }],
    ['user', { user: 'airflow@server' }],
    ['databaseName', { databaseName: '1airflow' }],
    ['databaseName', { databaseName: '' }],
    ['passwordSecret.name', { passwordSecret: { name: 'Airflow_Secrets', key: 'db-password' } }],
    ['passwordSecret.key', { passwordSecret: { name: 'airflow-secrets', key: 'db password' } }],
    ['namePrefix', { namePrefix: 'Airflow' }],
    ['namePrefix', { namePrefix: 'airflow_' }],
    ['clusterDomain', { clusterDomain: 'cluster.local.' }],
    ['image', { image: 'Postgres:17' }],
    ['storageSize', { storageSize: '5GB' }],
    ['memoryRequest', { memoryRequest: '2Gi', memoryLimit: '1Gi' }],
    ['cpuRequest', { cpuRequest: '2', cpuLimit: '1' }],
    ['waitTimeoutSeconds', { waitTimeoutSeconds: 0 }],
  ])('in-cluster: bad %s', (property, props) => {
    validationError(() => synthDb(props as any), property as string, /^MetadataDb at "test\/metadata-db"/);
  });

  test('a chart without a namespace', () => {
    validationError(() => new MetadataDb(testChart({ namespace: null }), 'db'), 'Chart.namespace');
  });

  test('a bad image for wait-for-db', () => {
    const { db } = synthDb();
    validationError(() => db.waitForDatabaseContainer('not an image'), 'waitForDatabaseContainer.image');
  });
});

test('no keys volume when the secrets are brought (AirflowSecrets.fromExistingSecrets): nothing is generated, nothing to copy', () => {
  const { built } = synthIn((c) => new MetadataDb(c, 'metadata-db', { secrets: chartSecrets(c) }));
  expect(built.keysStorage).toBeUndefined();
});
