// Composing the constructs in someone else's chart (issue #11): order does not matter, one secrets wiring,
// several deployments per cluster, and the chart reports its own bad inputs.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Chart, Testing } from 'cdk8s';
import {
  AirflowChart,
  AirflowNamespace,
  AirflowSecrets,
  AirflowVolumes,
  KubernetesExecutorAirflow,
  MetadataDb,
  PodSecurityLevel,
  StorageProvisioning,
} from '../../lib';
import * as k8s from '../../imports/k8s';
import { validationReport } from '../../validation';
import { podsOf, secretKeyRefs, synthAirflow } from '../support';

function chart(namespace = 'airflow', app = Testing.app(), id = 'test'): Chart {
  return new Chart(app, id, { namespace, disableResourceNameHashes: true });
}

/** Every pod spec of the synthesized objects, by `Kind/name` (the worker pod template as "worker pod template"). */
function podSpecs(objects: any[]): Map<string, any> {
  return new Map(podsOf(objects).map((p) => [p.object.endsWith('pod_template_file.yaml') ? 'worker pod template' : p.object, p.spec]));
}

/** The names of the Secrets every `secretKeyRef` of `objects` reads, the worker pod template's included. */
function secretRefNames(objects: any[]): Set<string> {
  return new Set(secretKeyRefs([...objects, ...[...podSpecs(objects).values()]]).map((ref) => ref.name));
}

/** A deployment composed by hand in `c` (volumes named after the chart, so that two charts share no PersistentVolume). */
function composedIn(c: Chart): Chart {
  const volumes = new AirflowVolumes(c, 'volumes', { namePrefix: c.node.id, provisioning: StorageProvisioning.hostPath({ hostRoot: `/data/${c.node.id}` }) });
  new AirflowSecrets(c, 'secrets');
  const database = new MetadataDb(c, 'db', { namePrefix: c.node.id, provisioning: StorageProvisioning.hostPath({ hostRoot: `/data/${c.node.id}` }) });
  new KubernetesExecutorAirflow(c, 'airflow', { volumes, database });
  return c;
}

/** The pieces of a deployment composed by hand, in a chart of one's own. */
function composed(namespace = 'airflow', secretName?: string) {
  const c = chart(namespace);
  new AirflowNamespace(c, 'namespace');
  const volumes = new AirflowVolumes(c, 'volumes');
  const secrets = new AirflowSecrets(c, 'secrets', secretName ? { secretName } : {});
  const database = new MetadataDb(c, 'db');
  const airflow = new KubernetesExecutorAirflow(c, 'airflow', { volumes, database });
  return { chart: c, volumes, secrets, database, airflow };
}

describe('order does not matter: what is added later is in the YAML', () => {
  test('a volume added after the control plane is mounted in every Airflow pod and the worker pod template', () => {
    const { chart: c, volumes, airflow } = composed();
    volumes.addVolume({ name: 'plugins' });
    const objects = Testing.synth(c);
    expect(objects.find((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === 'airflow-plugins-claim')).toBeDefined();
    const specs = podSpecs(objects);
    const airflowPods = [...specs.entries()].filter(
      ([name]) => !name.includes('postgres') && !name.includes('secrets-bootstrap') && !name.includes('volume-permissions'),
    );
    expect(airflowPods.map(([name]) => name)).toEqual(
      expect.arrayContaining(['Deployment/airflow-scheduler', 'Deployment/airflow-api-server', 'worker pod template']),
    );
    expect(airflowPods.length).toBe(7); // 4 Deployments, 2 Jobs, the template
    for (const [name, spec] of airflowPods) {
      expect([name, spec.volumes.find((v: any) => v.name === 'plugins')]).toEqual([
        name,
        { name: 'plugins', persistentVolumeClaim: { claimName: 'airflow-plugins-claim' } },
      ]);
      expect([name, spec.containers[0].volumeMounts.find((m: any) => m.name === 'plugins')]).toEqual([
        name,
        { name: 'plugins', mountPath: '/opt/airflow/plugins' },
      ]);
    }
    // The Job that makes the static volumes writable for uid 50000 sees it too.
    const permissions = [...specs.entries()].find(([name]) => name.includes('volume-permissions'))![1];
    expect(permissions.volumes.map((v: any) => v.name)).toEqual(['dags', 'logs', 'data', 'plugins']);
    // The template object handed out is what is synthesized, and a copy that cannot be changed by mistake.
    expect((airflow.workerPodTemplate as any).spec.volumes.map((v: any) => v.name)).toContain('plugins');
    expect(() => {
      (airflow.workerPodTemplate as any).spec.restartPolicy = 'Always';
    }).toThrow(TypeError);
  });

  test('the migration Job is named after its pod spec as synthesized, with the late volume', () => {
    const before = composed();
    const after = composed();
    after.volumes.addVolume({ name: 'plugins' });
    const job = (objects: any[]) => objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-db-migrate-'));
    const a = job(Testing.synth(before.chart));
    const b = job(Testing.synth(after.chart));
    expect(a.metadata.name).not.toBe(b.metadata.name);
    expect(b.metadata.name).toBe(after.airflow.migrations.jobName);
  });

  test('a logs volume added after the control plane is refused at synth, not silently unconfigured', () => {
    const c = chart();
    const volumes = new AirflowVolumes(c, 'volumes', { volumes: [{ name: 'dags' }] });
    new AirflowSecrets(c, 'secrets');
    new KubernetesExecutorAirflow(c, 'airflow', { volumes, database: new MetadataDb(c, 'db') });
    volumes.addVolume({ name: 'logs' });
    expect(() => Testing.synth(c)).toThrow(
      /KubernetesExecutorAirflow at "test\/airflow": the "logs" volume was added to test\/volumes after this construct was built/,
    );
  });

  test("the namespace's Pod Security labels follow every pod in it, a privileged pod added last included", () => {
    const { chart: c } = composed();
    const level = () => Testing.synth(c).find((o) => o.kind === 'Namespace').metadata.labels['pod-security.kubernetes.io/enforce'];
    expect(level()).toBe(PodSecurityLevel.BASELINE); // Postgres starts as root
    new k8s.KubeDaemonSet(c, 'node-agent', {
      spec: {
        selector: { matchLabels: { app: 'agent' } },
        template: {
          metadata: { labels: { app: 'agent' } },
          spec: { containers: [{ name: 'agent', image: 'agent:1', securityContext: { privileged: true } }] },
        },
      },
    });
    expect(level()).toBe(PodSecurityLevel.PRIVILEGED);
  });

  test('a namespace composed by hand gets the Pod Security labels too; the user may set them', () => {
    const c = chart();
    new AirflowNamespace(c, 'namespace', { labels: { 'pod-security.kubernetes.io/warn': 'baseline' } });
    new k8s.KubePod(c, 'pod', { spec: { containers: [{ name: 'x', image: 'x:1' }] } });
    const labels = Testing.synth(c).find((o) => o.kind === 'Namespace').metadata.labels;
    expect(labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': PodSecurityLevel.BASELINE, // no runAsNonRoot etc.: baseline, not restricted
      'pod-security.kubernetes.io/warn': 'baseline',
      'pod-security.kubernetes.io/audit': PodSecurityLevel.RESTRICTED,
    });
  });
});

describe('one secrets wiring: a custom Secret name is used everywhere', () => {
  test('every secretKeyRef names the Secret the bootstrap Job creates, and the plugin finds no broken reference', () => {
    const { chart: c } = composed('airflow', 'data-team-airflow');
    const objects = Testing.synth(c);
    expect([...secretRefNames(objects)]).toEqual(['data-team-airflow']);
    const job = objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-secrets-bootstrap-'));
    expect(job.metadata.annotations['airflow-cdk8s/creates-secret']).toBe('data-team-airflow');
    expect(validationReport(c)).toEqual([]);
  });

  test('with the secrets added after the constructs that read them', () => {
    const c = chart();
    const volumes = new AirflowVolumes(c, 'volumes');
    const database = new MetadataDb(c, 'db');
    new KubernetesExecutorAirflow(c, 'airflow', { volumes, database });
    new AirflowSecrets(c, 'secrets', { secretName: 'late' });
    expect([...secretRefNames(Testing.synth(c))]).toEqual(['late']);
  });

  test('Secrets you manage: references to them only, and they pass the plugin when declared existing', () => {
    const c = chart();
    const volumes = new AirflowVolumes(c, 'volumes');
    const secrets = AirflowSecrets.fromExistingSecrets(c, 'secrets', {
      fernetKey: { name: 'vault-airflow', key: 'fernet' },
      apiSecretKey: { name: 'vault-airflow', key: 'api' },
      jwtSecret: { name: 'vault-airflow', key: 'jwt' },
      adminPassword: { name: 'vault-admin', key: 'password' },
      databasePassword: { name: 'vault-db', key: 'password' },
    });
    new KubernetesExecutorAirflow(c, 'airflow', { volumes, database: new MetadataDb(c, 'db') });
    expect([...secretRefNames(Testing.synth(c))].sort()).toEqual(['vault-admin', 'vault-airflow', 'vault-db']);
    expect(secrets.secretNames).toEqual(['vault-admin', 'vault-airflow', 'vault-db']);
    expect(validationReport(c, { existingSecrets: secrets.secretNames })).toEqual([]);
    expect(validationReport(c).join('\n')).toMatch(/^Secret "vault-db" in namespace "airflow" is neither in the output, .* Read by 7 objects: /m);
  });

  test('no AirflowSecrets and no references: synth says which construct needs which key', () => {
    const c = chart();
    new MetadataDb(c, 'db');
    expect(() => Testing.synth(c)).toThrow(
      /MetadataDb at "test\/db": property "passwordSecret" received undefined; allowed: a Secret key reference \{ name, key \}, or an AirflowSecrets in the same chart to take "databasePassword" from \(there is none\)/,
    );
  });

  test('two AirflowSecrets in one chart: which one to read is not guessed', () => {
    const c = chart();
    new AirflowSecrets(c, 'a', { secretName: 'a' });
    AirflowSecrets.fromExistingSecrets(c, 'b', {
      fernetKey: { name: 'b', key: 'f' },
      apiSecretKey: { name: 'b', key: 'a' },
      adminPassword: { name: 'b', key: 'p' },
      databasePassword: { name: 'b', key: 'd' },
    });
    new MetadataDb(c, 'db');
    expect(() => Testing.synth(c)).toThrow(/the chart has several AirflowSecrets \("test\/a", "test\/b"\)/);
  });

  test('jwtSecret is required on Airflow 3 only', () => {
    const existing = {
      fernetKey: { name: 's', key: 'f' },
      apiSecretKey: { name: 's', key: 'a' },
      adminPassword: { name: 's', key: 'p' },
      databasePassword: { name: 's', key: 'd' },
    };
    const objects = synthAirflow(new AirflowChart(Testing.app(), 'a2', { image: 'apache/airflow:2.11.0', existingSecrets: existing }), true);
    const env = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'airflow-webserver').spec.template.spec.containers[0].env;
    expect(env.map((e: any) => e.name)).toContain('AIRFLOW__WEBSERVER__SECRET_KEY');
    expect(env.map((e: any) => e.name)).not.toContain('AIRFLOW__API_AUTH__JWT_SECRET');
    expect(() => Testing.synth(new AirflowChart(Testing.app(), 'a3', { existingSecrets: existing }))).toThrow(
      /KubernetesExecutorAirflow at "a3\/airflow": property "secrets\.jwtSecret" received undefined; allowed: a Secret key reference \{ name, key \} on Airflow 3/,
    );
  });
});

describe('several deployments per cluster', () => {
  test('namespace airflow keeps exactly the course names; another namespace derives its cluster-scoped names', () => {
    const app = Testing.app();
    const objects = [
      ...Testing.synth(new AirflowChart(app, 'course')),
      ...Testing.synth(new AirflowChart(app, 'team-a', { namespace: 'team-a' })),
      ...Testing.synth(new AirflowChart(app, 'team-b', { namespace: 'team-b' })),
    ];
    const pvs = objects.filter((o) => o.kind === 'PersistentVolume').map((o) => `${o.metadata.name} ${o.spec.hostPath.path}`);
    expect(pvs.sort()).toEqual(
      [
        'airflow-dags-volume /data/dags',
        'airflow-logs-volume /data/logs',
        'airflow-data-volume /data/data',
        'airflow-postgres-volume /data/postgres',
        'airflow-postgres-keys-volume /data/postgres-keys',
        ...['team-a', 'team-b'].flatMap((ns) => ['dags', 'logs', 'data', 'postgres', 'postgres-keys'].map((v) => `${ns}-${v}-volume /data/${ns}/${v}`)),
      ].sort(),
    );
    // Every cluster-scoped name is unique across the app, and each claim is pinned to its own namespace's volume.
    const cluster = objects.filter((o) => ['PersistentVolume', 'Namespace'].includes(o.kind)).map((o) => `${o.kind}/${o.metadata.name}`);
    expect(new Set(cluster).size).toBe(cluster.length);
    for (const pv of objects.filter((o) => o.kind === 'PersistentVolume')) {
      const claim = objects.find(
        (o) => o.kind === 'PersistentVolumeClaim' && o.metadata.namespace === pv.spec.claimRef.namespace && o.metadata.name === pv.spec.claimRef.name,
      );
      expect([pv.metadata.name, claim?.spec.volumeName]).toEqual([pv.metadata.name, pv.metadata.name]);
    }
    expect(() => app.synth()).not.toThrow();
  });

  test('a clash forced by equal prefixes and host roots fails synth, naming both constructs', () => {
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'clash-')) });
    new AirflowChart(app, 'team-a', { namespace: 'team-a', namePrefix: 'shared', hostRoot: '/data/shared' });
    new AirflowChart(app, 'team-b', { namespace: 'team-b', namePrefix: 'shared', hostRoot: '/data/shared' });
    let message = '';
    try {
      app.synth();
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(
      /PersistentStorage at "team-a\/volumes\/dags": property "PersistentVolume name" received "shared-dags-volume"; allowed: a name no other construct of the app gives a PersistentVolume: it is cluster-scoped, and "team-b\/volumes\/dags\/volume" makes one named the same/,
    );
    expect(message).toMatch(/PersistentStorage at "team-a\/volumes\/dags": property "hostPath" received "\/data\/shared\/dags"; allowed: a host folder no other volume of the app uses: "team-b\/volumes\/dags" uses it too/);
    // Each clash once (issue #23): the five volumes' names and folders (dags, logs, data, Postgres' and its keys'),
    // 10 lines; both sides used to report it.
    expect(message.split('\n').filter((l) => l.startsWith('  ['))).toHaveLength(10);
    expect(message).not.toContain('PersistentStorage at "team-b/');
  });
});

describe('chart-wide pod settings reach every pod, whichever order the constructs are composed in (issue #20 item 6)', () => {
  const IMAGE = 'registry.example.com/data/airflow:3.1.3';
  const placement = {
    imagePullSecrets: ['regcred'],
    nodeSelector: { pool: 'airflow' },
    tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'airflow', effect: 'NoSchedule' }],
    priorityClassName: 'airflow',
    podLabels: { team: 'data' },
    podAnnotations: { 'example.com/owner': 'data' },
  };

  /** The control plane before or after the secrets and the database. */
  function build(order: 'control plane first' | 'control plane last', secretsProps = {}, dbProps = {}): any[] {
    const c = chart();
    new AirflowNamespace(c, 'namespace');
    const volumes = new AirflowVolumes(c, 'volumes');
    const database = new MetadataDb(c, 'db', dbProps);
    const controlPlane = () => new KubernetesExecutorAirflow(c, 'airflow', { volumes, database, image: IMAGE, imagePullPolicy: 'Never', ...placement });
    if (order === 'control plane first') controlPlane();
    new AirflowSecrets(c, 'secrets', secretsProps);
    if (order === 'control plane last') controlPlane();
    return Testing.synth(c);
  }

  test.each(['control plane first', 'control plane last'] as const)('%s: every pod has the pull secret and the placement; Airflow pods run the private image', (order) => {
    const objects = build(order);
    const pods = podsOf(objects);
    expect(pods.map((p) => p.object)).toEqual(
      expect.arrayContaining(['StatefulSet/airflow-postgres', expect.stringMatching(/^Job\/airflow-secrets-bootstrap-/), 'ConfigMap/airflow-config pod_template_file.yaml']),
    );
    for (const pod of pods) {
      expect([pod.object, pod.spec.imagePullSecrets]).toEqual([pod.object, [{ name: 'regcred' }]]);
      expect([pod.object, pod.spec.nodeSelector, pod.spec.tolerations, pod.spec.priorityClassName]).toEqual([
        pod.object, placement.nodeSelector, placement.tolerations, 'airflow',
      ]);
      expect([pod.object, pod.labels.team]).toEqual([pod.object, 'data']);
      // Every image is the private one, but Postgres' own.
      for (const container of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
        expect([pod.object, container.name, container.image]).toEqual([
          pod.object, container.name, pod.object === 'StatefulSet/airflow-postgres' ? MetadataDb.DEFAULT_IMAGE : IMAGE,
        ]);
      }
    }
    const templates = objects.filter((o) => ['StatefulSet', 'Job', 'Deployment'].includes(o.kind)).map((o) => o.spec.template.metadata);
    for (const metadata of templates) expect(metadata.annotations).toMatchObject(placement.podAnnotations);
    const bootstrap = objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-secrets-bootstrap-'));
    expect(bootstrap.spec.template.spec.containers[0]).toMatchObject({ image: IMAGE, imagePullPolicy: 'Never' });
  });

  test('both orders give the same YAML, the bootstrap Job named after its pod spec with the image in it', () => {
    const first = build('control plane first');
    const last = build('control plane last');
    const names = (objects: any[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(names(last)).toEqual(names(first));
    const job = (objects: any[]) => objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-secrets-bootstrap-'));
    expect(job(last)).toEqual(job(first));
    const plain = Testing.synth(composed().chart);
    expect(job(first).metadata.name).not.toBe(job(plain).metadata.name); // a new image: a new Job
  });

  test("explicit props keep winning: the Job's own image (with its own pull policy), the database's own pull secrets and labels", () => {
    const objects = build('control plane last', { image: 'python:3.12-slim', nodeSelector: { pool: 'jobs' } }, { imagePullSecrets: ['db-regcred'], podLabels: { team: 'dba' } });
    const bootstrap = objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-secrets-bootstrap-'));
    // An image of its own is not Airflow's: the Airflow pull policy ("Never", a local image) does not follow it.
    expect(bootstrap.spec.template.spec.containers[0]).toMatchObject({ image: 'python:3.12-slim', imagePullPolicy: 'IfNotPresent' });
    expect(bootstrap.spec.template.spec).toMatchObject({ imagePullSecrets: [{ name: 'regcred' }], nodeSelector: { pool: 'jobs' } });
    const postgres = objects.find((o) => o.kind === 'StatefulSet').spec.template;
    expect(postgres.spec.imagePullSecrets).toEqual([{ name: 'db-regcred' }]);
    expect(postgres.metadata.labels).toMatchObject({ team: 'dba', 'app.kubernetes.io/component': 'metadata-db' });
    expect(postgres.spec.nodeSelector).toEqual(placement.nodeSelector);
  });

  test("AirflowChart with every feature: the features' pods too (Celery workers, Redis, git-sync, statsd, image pre-pull)", () => {
    const c = new AirflowChart(Testing.app(), 'airflow', {
      imagePullSecrets: ['regcred'],
      provisioning: StorageProvisioning.storageClass('efs-sc'),
      celery: {},
      metrics: true,
      gitSync: { repository: 'https://example.com/dags.git' },
    });
    const pods = podsOf(Testing.synth(c));
    expect(pods.length).toBe(14);
    for (const pod of pods) expect([pod.object, pod.spec.imagePullSecrets]).toEqual([pod.object, [{ name: 'regcred' }]]);
  });

  test('without a control plane in the chart: the defaults, as before', () => {
    const c = chart();
    new AirflowSecrets(c, 'secrets');
    new MetadataDb(c, 'db');
    const objects = Testing.synth(c);
    const bootstrap = objects.find((o) => o.kind === 'Job');
    expect(bootstrap.spec.template.spec.containers[0]).toMatchObject({ image: 'apache/airflow:3.2.2', imagePullPolicy: 'IfNotPresent' });
    for (const pod of podsOf(objects)) expect(pod.spec.imagePullSecrets).toBeUndefined();
  });

  test("the control plane of another chart is not this chart's", () => {
    const app = Testing.app();
    const other = chart('team-b', app, 'other');
    composedIn(other);
    const mine = chart('team-a', app, 'mine');
    new AirflowSecrets(mine, 'secrets');
    const objects = Testing.synth(mine);
    expect(objects.find((o) => o.kind === 'Job').spec.template.spec.containers[0].image).toBe('apache/airflow:3.2.2');
  });
});

describe('two Airflow deployments in one namespace (issue #20 item 5)', () => {
  function synthError(app: App): string {
    try {
      app.synth();
    } catch (e) {
      return (e as Error).message;
    }
    return '';
  }

  test('two KubernetesExecutorAirflow in one chart: synth refuses the second, naming both', () => {
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'two-')) });
    const c = chart('airflow', app);
    const volumes = new AirflowVolumes(c, 'volumes');
    new AirflowSecrets(c, 'secrets');
    const database = new MetadataDb(c, 'db');
    new KubernetesExecutorAirflow(c, 'airflow', { volumes, database });
    new KubernetesExecutorAirflow(c, 'airflow-2', { volumes, database });
    const message = synthError(app);
    expect(message).toContain(
      'KubernetesExecutorAirflow at "test/airflow-2": property "Chart.namespace" received "airflow"; allowed: a namespace no other ' +
        'Airflow control plane of the app deploys into: "test/airflow" deploys one into "airflow" already, and both would make the same ' +
        'namespaced objects (the Deployments airflow-scheduler..., the ConfigMap airflow-config, the Roles), the one applied last ' +
        'overwriting the other. Give each deployment a namespace of its own: namePrefix and hostRoot rename the ' +
        'PersistentVolumes and their folders only: namespaced objects are airflow-* in every namespace.',
    );
    expect(message).not.toContain('[test/airflow] KubernetesExecutorAirflow'); // the first one is fine
  });

  test('two charts of one app with one namespace and their own namePrefix and hostRoot: refused, naming both', () => {
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'two-')) });
    new AirflowChart(app, 'team-a', { namespace: 'team', createNamespace: false, namePrefix: 'a', hostRoot: '/data/a' });
    new AirflowChart(app, 'team-b', { namespace: 'team', createNamespace: false, namePrefix: 'b', hostRoot: '/data/b' });
    expect(synthError(app)).toMatch(
      /KubernetesExecutorAirflow at "team-b\/airflow": property "Chart.namespace" received "team"; allowed: a namespace no other Airflow control plane of the app deploys into: "team-a\/airflow" deploys one into "team" already/,
    );
    // Charts of one's own too, and Testing.synth (chart.toJson) validates the whole app as well.
    const app2 = Testing.app();
    const [one, two] = ['one', 'two'].map((id) => composedIn(chart('team', app2, id)));
    expect(() => Testing.synth(one)).toThrow(/KubernetesExecutorAirflow at "two\/airflow": .*"one\/airflow" deploys one into "team" already/);
    expect(two).toBeDefined();
  });

  test('one per namespace is fine, in one app', () => {
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'two-')) });
    new AirflowChart(app, 'team-a', { namespace: 'team-a' });
    new AirflowChart(app, 'team-b', { namespace: 'team-b' });
    expect(synthError(app)).toBe('');
  });
});

describe('the chart reports its own bad inputs', () => {
  test('a bad namespace is reported by AirflowChart, as its "namespace" property', () => {
    expect(() => Testing.synth(new AirflowChart(Testing.app(), 'x', { namespace: 'Team_A' }))).toThrow(
      /^AirflowChart at "x": property "namespace" received "Team_A"; allowed: a DNS-1123 label.* Did you mean "team-a"\?$/,
    );
  });

  test('in a chart of your own, the first construct that needs the namespace reports it', () => {
    const c = chart('Team_A');
    expect(() => new AirflowNamespace(c, 'namespace')).toThrow(/^AirflowNamespace at "test\/namespace": property "Chart\.namespace" received "Team_A"/);
    expect(() => new AirflowVolumes(c, 'volumes')).toThrow(/^AirflowVolumes at "test\/volumes": property "Chart\.namespace" received "Team_A"/);
  });

  test('hostRoot is for hostPath volumes, and given once', () => {
    expect(() => Testing.synth(new AirflowChart(Testing.app(), 'x', { hostRoot: '/mnt/team', provisioning: StorageProvisioning.storageClass('efs') }))).toThrow(
      /AirflowChart at "x": property "hostRoot" received "\/mnt\/team"; allowed: no hostRoot with StorageProvisioning\.storageClass/,
    );
    expect(() =>
      Testing.synth(new AirflowChart(Testing.app(), 'x', { hostRoot: '/mnt/team', provisioning: StorageProvisioning.hostPath({ hostRoot: '/mnt' }) })),
    ).toThrow(/property "hostRoot" received "\/mnt\/team"; allowed: either hostRoot or provisioning/);
  });
});
