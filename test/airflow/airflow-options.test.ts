// Every prop reaches the YAML and its resolved readonly field (the talis-cdk8s-constructs "Required<Props>"
// test). The props are typed Required<...> and the checks are a mapped type over the same keys: a new prop
// does not compile until it is given a value here and a check that finds it in the output.
import { Testing } from 'cdk8s';
import {
  AirflowChart,
  AirflowChartProps,
  AirflowFeatures,
  AirflowOptions,
  AirflowSecrets,
  AirflowVolumes,
  COMPONENT_RESOURCES,
  DatabaseConnection,
  DEFAULT_AIRFLOW_IMAGE,
  ExternalMetadataDb,
  KubernetesExecutorAirflow,
  KubernetesExecutorAirflowProps,
  EnvFrom,
  EnvValue,
  OAuthProvider,
  PodVolume,
  RemoteLogging,
  StorageProvisioning,
  addAirflowFeatures,
} from '../../lib';
import { AIRFLOW_2_END_OF_LIFE_WARNING, airflowChart, airflowPodSpecs, defaultVolumesOf, byKind, cfgOf, containersOf, envOf, errorOf, EXISTING_SECRETS, expectWarns, find, Manifest, testChart } from '../support';

/** What a check sees: the construct (its resolved readonly fields) and the synthesized objects. */
interface Built {
  readonly airflow: KubernetesExecutorAirflow;
  readonly features: AirflowFeatures;
  readonly objects: Manifest[];
}

/** One check per key of T: the value set for it is found in the output. */
type Checks<T> = { readonly [K in keyof Required<T>]: (built: Built) => void };

/**
 * Every AirflowOptions prop set to a value other than its default. Airflow 2, because only there can
 * `standaloneDagProcessor` differ from its default (Airflow 3 always runs one).
 */
const EVERY_OPTION: Required<AirflowOptions> = {
  image: 'registry.example.com/team/airflow:build-42',
  airflowVersion: '2.11.0',
  imagePullPolicy: 'Always',
  standaloneDagProcessor: true,
  parallelism: 12,
  defaultPoolSlots: 16, // at least parallelism, or a warning says that the pool, not parallelism, bounds tasks
  workerPodsCreationBatchSize: 6,
  deleteFailedWorkerPods: false,
  config: { core: { default_task_retries: 3 } },
  createAdminUser: true, // false is the only other value; it drops the Job (test/airflow/admin-user.test.ts)
  adminUsername: 'ops-admin',
  adminEmail: 'ops@example.org',
  adminFirstName: 'Ops',
  adminLastName: 'Team',
  adminRole: 'Op',
  clusterDomain: 'corp.internal',
  scheduler: { replicas: 2 },
  apiServer: { serviceType: 'NodePort' },
  dagProcessor: { resources: { cpuRequest: '200m' } },
  triggerer: { replicas: 3 }, // enabled: false drops it (test/airflow/kubernetes-executor-airflow.test.ts)
  worker: { resources: { cpuRequest: '200m', memoryRequest: '500Mi', cpuLimit: '2', memoryLimit: '3Gi' } },
  migrations: { resources: { memoryLimit: '2Gi' } },
  ingress: { host: 'airflow.example.com' },
  fixVolumePermissions: false,
  openShift: false, // true needs volumes from a StorageClass: test/airflow/component-extras.test.ts
  env: { TZ: EnvValue.fromValue('Europe/Paris') },
  envFrom: [EnvFrom.configMap('team-env')],
  extraVolumes: [PodVolume.configMap('team-config', { configMapName: 'team-config', mountPath: '/opt/team' })],
  serviceAccountAnnotations: { 'example.com/role': 'airflow' },
  imagePullSecrets: ['regcred'],
  nodeSelector: { 'node-pool': 'airflow' },
  tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'airflow', effect: 'NoSchedule' }],
  affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, preference: { matchExpressions: [{ key: 'ssd', operator: 'Exists' }] } }] } },
  topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway' }],
  priorityClassName: 'airflow-high',
  podLabels: { team: 'data' },
  podAnnotations: { 'example.com/owner': 'data-team' },
  gitSync: { repository: 'https://git.example.com/team/dags.git', branch: 'release', subPath: 'dags' },
  remoteLogging: RemoteLogging.gcs({ bucket: 'team-logs', connectionSecret: { name: 'gcp-logs', key: 'json' } }),
  logRetentionDays: 0, // the KubernetesExecutorAirflow below has no logs volume; 7 days: test/logging/log-groomer.test.ts
  metrics: true,
  celery: { replicas: 2, concurrency: 3, queues: ['default', 'api'], defaultExecutor: true },
  databaseCleanup: { retentionDays: 30, schedule: '0 3 * * *', tables: ['task_fail', 'log'] },
  auth: {
    oauth: [OAuthProvider.keycloak({ clientId: 'airflow', clientSecret: { name: 'keycloak-airflow', key: 'client-secret' }, url: 'https://sso.example.com', realm: 'data' })],
    rolesMapping: { 'airflow-admins': ['Admin'] },
  },
  airflowLocalSettings: 'def pod_mutation_hook(pod):\n    pod.metadata.labels["team"] = "data"\n',
};

/** The Celery broker's password (with `celery`, existing Secrets must have it). */
const BROKER_PASSWORD = { name: 'redis-credentials', key: 'password' };

const scheduler = ({ objects }: Built) => find(objects, 'Deployment', 'airflow-scheduler').spec.template.spec.containers[0];
const workerPod = ({ airflow }: Built) => (airflow.workerPodTemplate as any).spec;
/** The Airflow pods: the control plane's Deployments and Jobs, and the worker pod template. */
function airflowPods(b: Built): Array<{ name: string; metadata: any; spec: any }> {
  const out = [...airflowPodSpecs(b.objects).keys()].map((name) => {
    const [kind, objectName] = name.split('/');
    const template = find(b.objects, kind, objectName).spec.template;
    return { name, metadata: template.metadata, spec: template.spec };
  });
  const worker = b.airflow.workerPodTemplate as any;
  return [...out, { name: 'worker', metadata: worker.metadata, spec: worker.spec }];
}
const eachAirflowPod = (b: Built, check: (spec: any, name: string) => void) => {
  for (const pod of airflowPods(b)) check(pod.spec, pod.name);
  expect(airflowPods(b).length).toBeGreaterThan(4);
};
const eachAirflowPodTemplate = (b: Built, check: (metadata: any) => void) => airflowPods(b).forEach((pod) => check(pod.metadata));
const eachAirflowContainer = (b: Built, check: (container: any) => void) =>
  airflowPods(b).forEach((pod) => containersOf(pod.spec).filter((c) => c.name !== 'wait-for-db').forEach(check));
const adminJob = ({ objects }: Built) => byKind(objects, 'Job').find((j) => j.metadata.name.startsWith('airflow-create-user-'));

const OPTION_CHECKS: Checks<AirflowOptions> = {
  auth: (b) => {
    // Airflow 2 (EVERY_OPTION): the webserver reads [webserver] config_file.
    const auth = b.features.auth!;
    expect(auth.providerNames).toEqual(['keycloak']);
    expect(cfgOf(b.objects).webserver.config_file).toBe('/opt/airflow/webserver_config.py');
    const ui = find(b.objects, 'Deployment', 'airflow-webserver').spec.template.spec;
    expect(ui.volumes).toContainEqual({ name: 'webserver-config', configMap: { name: auth.configMap.name } });
    expect(ui.containers[0].volumeMounts).toContainEqual({ name: 'webserver-config', mountPath: '/opt/airflow/webserver_config.py', subPath: 'webserver_config.py', readOnly: true });
    expect(envOf(ui.containers[0], 'AIRFLOW_AUTH_KEYCLOAK_CLIENT_SECRET').valueFrom.secretKeyRef).toEqual({ name: 'keycloak-airflow', key: 'client-secret' });
    expect(find(b.objects, 'ConfigMap', auth.configMap.name).data['webserver_config.py']).toContain('AUTH_ROLES_MAPPING = {\n    "airflow-admins": ["Admin"],\n}');
    // The UI alone reads it.
    expect(envOf(scheduler(b), 'AIRFLOW_AUTH_KEYCLOAK_CLIENT_SECRET')).toBeUndefined();
  },
  airflowLocalSettings: (b) => {
    const settings = b.features.localSettings!;
    expect(find(b.objects, 'ConfigMap', settings.configMap.name).data['airflow_local_settings.py']).toBe(EVERY_OPTION.airflowLocalSettings);
    eachAirflowContainer(b, (c) => expect(c.volumeMounts).toContainEqual({ name: 'airflow-local-settings', mountPath: '/opt/airflow/config/airflow_local_settings.py', subPath: 'airflow_local_settings.py', readOnly: true }));
  },
  image: (b) => {
    expect(b.airflow.image).toBe(EVERY_OPTION.image);
    for (const [name, spec] of airflowPodSpecs(b.objects)) {
      for (const c of containersOf(spec)) expect([name, c.name, c.image]).toEqual([name, c.name, EVERY_OPTION.image]);
    }
    expect(workerPod(b).containers[0].image).toBe(EVERY_OPTION.image);
    expect(cfgOf(b.objects).kubernetes_executor).toMatchObject({
      worker_container_repository: 'registry.example.com/team/airflow',
      worker_container_tag: 'build-42',
    });
  },
  airflowVersion: (b) => {
    expect(b.airflow.airflowVersion.toString()).toBe('2.11.0');
    expect(b.airflow.uiComponent).toBe('webserver');
    expect(byKind(b.objects, 'Job').map((j) => j.metadata.name)).toContainEqual(expect.stringMatching(/^airflow-db-migrate-2-11-0-/));
  },
  imagePullPolicy: (b) => {
    expect(b.airflow.imagePullPolicy).toBe('Always');
    for (const [name, spec] of airflowPodSpecs(b.objects)) {
      for (const c of containersOf(spec)) expect([name, c.name, c.imagePullPolicy]).toEqual([name, c.name, 'Always']);
    }
    expect(workerPod(b).containers[0].imagePullPolicy).toBe('Always');
  },

  standaloneDagProcessor: (b) => {
    expect(b.airflow.standaloneDagProcessor).toBe(true);
    expect(cfgOf(b.objects).scheduler.standalone_dag_processor).toBe('True');
    find(b.objects, 'Deployment', 'airflow-dag-processor');
  },
  parallelism: (b) => {
    expect(b.airflow.parallelism).toBe(12);
    expect(cfgOf(b.objects).core.parallelism).toBe('12');
  },
  defaultPoolSlots: (b) => {
    expect(b.airflow.defaultPoolSlots).toBe(16);
    expect(cfgOf(b.objects).core.default_pool_task_slot_count).toBe('16');
  },
  workerPodsCreationBatchSize: (b) => {
    expect(b.airflow.workerPodsCreationBatchSize).toBe(6);
    expect(cfgOf(b.objects).kubernetes_executor.worker_pods_creation_batch_size).toBe('6');
  },
  deleteFailedWorkerPods: (b) => {
    expect(b.airflow.deleteFailedWorkerPods).toBe(false);
    expect(cfgOf(b.objects).kubernetes_executor.delete_worker_pods_on_failure).toBe('False');
  },




  config: (b) => {
    expect(b.airflow.config).toEqual({ core: { default_task_retries: 3 } });
    expect(cfgOf(b.objects).core.default_task_retries).toBe('3');
  },
  createAdminUser: (b) => {
    expect(b.airflow.createAdminUser).toBe(true);
    expect(b.airflow.adminUser?.jobName).toBe(adminJob(b).metadata.name);
  },
  adminUsername: (b) => {
    expect(b.airflow.adminUsername).toBe('ops-admin');
    expect(envOf(adminJob(b).spec.template.spec.containers[0], 'AIRFLOW_ADMIN_USERNAME')).toEqual({ name: 'AIRFLOW_ADMIN_USERNAME', value: 'ops-admin' });
  },
  adminEmail: (b) => {
    expect(b.airflow.adminEmail).toBe('ops@example.org');
    expect(envOf(adminJob(b).spec.template.spec.containers[0], 'AIRFLOW_ADMIN_EMAIL')).toEqual({ name: 'AIRFLOW_ADMIN_EMAIL', value: 'ops@example.org' });
  },
  adminFirstName: (b) => {
    expect(b.airflow.adminFirstName).toBe('Ops');
    expect(envOf(adminJob(b).spec.template.spec.containers[0], 'AIRFLOW_ADMIN_FIRSTNAME')).toEqual({ name: 'AIRFLOW_ADMIN_FIRSTNAME', value: 'Ops' });
  },
  adminLastName: (b) => {
    expect(b.airflow.adminLastName).toBe('Team');
    expect(envOf(adminJob(b).spec.template.spec.containers[0], 'AIRFLOW_ADMIN_LASTNAME')).toEqual({ name: 'AIRFLOW_ADMIN_LASTNAME', value: 'Team' });
  },
  adminRole: (b) => {
    expect(b.airflow.adminRole).toBe('Op');
    expect(adminJob(b).spec.template.spec.containers[0].args[2]).toContain('airflow users create --role Op --username');
  },
  clusterDomain: (b) => {
    expect(b.airflow.clusterDomain).toBe('corp.internal');
    // Airflow 2 names no Service of its own in airflow.cfg; Airflow 3's tasks find the execution API by it.
    const { manifests } = airflowChart({ clusterDomain: EVERY_OPTION.clusterDomain });
    expect(cfgOf(manifests).core.execution_api_server_url).toBe('http://airflow-api-server.airflow.svc.corp.internal:8080/execution/');
  },
  scheduler: (b) => {
    expect(find(b.objects, 'Deployment', 'airflow-scheduler').spec.replicas).toBe(2);
  },
  apiServer: (b) => {
    expect(find(b.objects, 'Service', 'airflow-webserver').spec.type).toBe('NodePort');
  },
  dagProcessor: (b) => {
    expect(find(b.objects, 'Deployment', 'airflow-dag-processor').spec.template.spec.containers[0].resources.requests.cpu).toBe('200m');
  },
  triggerer: (b) => {
    expect(b.airflow.triggerer).toBe(true);
    expect(find(b.objects, 'Deployment', 'airflow-triggerer').spec.replicas).toBe(3);
  },
  worker: (b) => {
    expect(b.airflow.workerResources).toEqual({ cpuRequest: '200m', memoryRequest: '500Mi', cpuLimit: '2', memoryLimit: '3Gi' });
    expect(workerPod(b).containers[0].resources).toEqual({ requests: { cpu: '200m', memory: '500Mi' }, limits: { cpu: '2', memory: '3Gi' } });
  },
  migrations: (b) => {
    const job = byKind(b.objects, 'Job').find((j) => j.metadata.name.startsWith('airflow-db-migrate-'));
    expect(job.spec.template.spec.containers[0].resources.limits.memory).toBe('2Gi');
  },
  ingress: (b) => {
    expect(b.airflow.ingress?.url).toBe('http://airflow.example.com');
    expect(find(b.objects, 'Ingress').spec.rules[0].host).toBe('airflow.example.com');
    expect(cfgOf(b.objects).webserver.base_url).toBe('http://airflow.example.com');
  },
  fixVolumePermissions: (b) => {
    expect(b.airflow.fixVolumePermissions).toBe(false);
    expect(b.objects.filter((o) => /volume-permissions/.test(o.metadata.name))).toEqual([]);
  },
  openShift: (b) => {
    expect(b.airflow.openShift).toBe(false);
    eachAirflowPod(b, (spec) => expect(spec.securityContext.runAsUser).toBe(50000));
  },
  env: (b) => eachAirflowContainer(b, (c) => expect(envOf(c, 'TZ')).toEqual({ name: 'TZ', value: 'Europe/Paris' })),
  envFrom: (b) => eachAirflowContainer(b, (c) => expect(c.envFrom).toEqual([{ configMapRef: { name: 'team-env' } }])),
  extraVolumes: (b) => {
    eachAirflowPod(b, (spec) => expect(spec.volumes).toContainEqual({ name: 'team-config', configMap: { name: 'team-config' } }));
    eachAirflowContainer(b, (c) => expect(c.volumeMounts).toContainEqual({ name: 'team-config', mountPath: '/opt/team', readOnly: true }));
  },
  serviceAccountAnnotations: (b) => {
    const annotated = byKind(b.objects, 'ServiceAccount').filter((a) => a.metadata.annotations?.['example.com/role'] === 'airflow');
    expect(annotated.map((a) => a.metadata.name)).toContain('airflow-worker');
  },
  imagePullSecrets: (b) => eachAirflowPod(b, (spec) => expect(spec.imagePullSecrets).toEqual([{ name: 'regcred' }])),
  nodeSelector: (b) => eachAirflowPod(b, (spec) => expect(spec.nodeSelector).toEqual({ 'node-pool': 'airflow' })),
  tolerations: (b) => eachAirflowPod(b, (spec) => expect(spec.tolerations).toEqual(EVERY_OPTION.tolerations)),
  affinity: (b) => {
    // kept as given on every pod; the scheduler (replicas: 2 above) adds its spread over nodes beside it
    eachAirflowPod(b, (spec) => expect(spec.affinity).toMatchObject(EVERY_OPTION.affinity));
    const scheduler = find(b.objects, 'Deployment', 'airflow-scheduler').spec.template.spec.affinity;
    expect(Object.keys(scheduler).sort()).toEqual(['nodeAffinity', 'podAntiAffinity']);
    expect(scheduler.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
  },
  topologySpreadConstraints: (b) => eachAirflowPod(b, (spec) => expect(spec.topologySpreadConstraints).toEqual(EVERY_OPTION.topologySpreadConstraints)),
  priorityClassName: (b) => eachAirflowPod(b, (spec) => expect(spec.priorityClassName).toBe('airflow-high')),
  podLabels: (b) => eachAirflowPodTemplate(b, (metadata) => expect(metadata.labels.team).toBe('data')),
  podAnnotations: (b) => eachAirflowPodTemplate(b, (metadata) => expect(metadata.annotations['example.com/owner']).toBe('data-team')),
  gitSync: (b) => {
    expect(b.features.gitSync?.dagsFolder).toBe('/opt/airflow/dags/git-sync/repo/dags');
    expect(cfgOf(b.objects).core.dags_folder).toBe(b.features.gitSync!.dagsFolder);
    expect(find(b.objects, 'Deployment', 'airflow-git-sync').spec.template.spec.containers[0].args).toContain('--ref=release');
    expect(workerPod(b).initContainers).toBeUndefined();
  },
  remoteLogging: (b) => {
    expect(b.features.remoteLogging).toBe(EVERY_OPTION.remoteLogging);
    expect(cfgOf(b.objects).logging).toMatchObject({ remote_logging: 'True', remote_base_log_folder: 'gs://team-logs', remote_log_conn_id: 'google_cloud_default' });
    const conn = { name: 'AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT', valueFrom: { secretKeyRef: { name: 'gcp-logs', key: 'json' } } };
    eachAirflowContainer(b, (c) => expect(envOf(c, conn.name)).toEqual(conn));
  },
  logRetentionDays: (b) => {
    expect(b.features.logGroomer).toBeUndefined();
    expect(find(b.objects, 'Deployment', 'airflow-scheduler').spec.template.spec.containers.map((c: any) => c.name)).toEqual(['scheduler']);
  },
  metrics: (b) => {
    expect(b.features.statsd?.host).toMatch(/^airflow-statsd\.[a-z-]+\.svc\.corp\.internal$/);
    expect(cfgOf(b.objects).metrics).toMatchObject({ statsd_on: 'True', statsd_host: b.features.statsd!.host });
    find(b.objects, 'Deployment', 'airflow-statsd');
  },
  celery: (b) => {
    expect(b.airflow.executors).toEqual(['CeleryExecutor', 'KubernetesExecutor']);
    expect(cfgOf(b.objects).core.executor).toBe('CeleryExecutor,KubernetesExecutor');
    expect(cfgOf(b.objects).celery.worker_concurrency).toBe('3');
    const worker = find(b.objects, 'Deployment', 'airflow-celery-worker');
    expect(worker.spec.replicas).toBe(2);
    expect(worker.spec.template.spec.containers[0].args[2]).toBe('exec airflow celery worker --concurrency 3 --queues default,api --skip-serve-logs');
    // the broker's service name in the cluster's DNS domain
    expect(envOf(worker.spec.template.spec.containers[0], 'AIRFLOW__CELERY__BROKER_URL').value).toMatch(/@airflow-redis\.[a-z-]+\.svc\.corp\.internal:6379\/0$/);
    const redis = find(b.objects, 'StatefulSet', 'airflow-redis').spec.template.spec.containers[0];
    expect(envOf(redis, 'REDIS_PASSWORD').valueFrom.secretKeyRef).toEqual(BROKER_PASSWORD);
  },
  databaseCleanup: (b) => {
    const cron = find(b.objects, 'CronJob', 'airflow-database-cleanup');
    expect(cron.spec.schedule).toBe('0 3 * * *');
    const args = cron.spec.jobTemplate.spec.template.spec.containers[0].args;
    expect(args[2]).toContain('date -d "-30 days"');
    expect(args[2]).toMatch(/--tables task_fail,log$/);
  },
};

/** Each check, run as its own test, so that a failure names the prop. */
function runChecks<T>(checks: Checks<T>, built: () => Built): void {
  let cached: Built | undefined;
  test.each(Object.keys(checks))('%s', (key) => {
    cached ??= built();
    (checks as Record<string, (b: Built) => void>)[key](cached);
  });
}

describe('KubernetesExecutorAirflowProps: every prop set reaches the YAML and its readonly field', () => {
  const chart = testChart();
  const volumes = new AirflowVolumes(chart, 'volumes', { volumes: [{ name: 'dags' }, { name: 'plugins' }] });
  const database = new ExternalMetadataDb(chart, 'db', {
    connection: DatabaseConnection.postgres({ host: 'pg.corp.internal', passwordSecret: EXISTING_SECRETS.databasePassword }),
  });
  const secrets = AirflowSecrets.fromExistingSecrets(chart, 'secrets', { ...EXISTING_SECRETS, brokerPassword: BROKER_PASSWORD });
  const props: Required<KubernetesExecutorAirflowProps & AirflowOptions> = { ...EVERY_OPTION, volumes, database, secrets };
  // The control plane with its options, then the features with theirs, as AirflowChart composes them.
  // (KubernetesExecutorAirflow refuses the features' options: they are addAirflowFeatures'.)
  const { gitSync: _g, remoteLogging: _r, logRetentionDays: _l, metrics: _m, celery: _c, databaseCleanup: _d, auth: _a, airflowLocalSettings: _s, ...controlPlaneProps } = props;
  const airflow = new KubernetesExecutorAirflow(chart, 'airflow', controlPlaneProps);
  const features = addAirflowFeatures(airflow, props);
  const built = (): Built => ({ airflow, features, objects: expectWarns(() => Testing.synth(chart), /imagePullPolicy "Always" makes every task pod ask the registry/, AIRFLOW_2_END_OF_LIFE_WARNING) });

  runChecks<KubernetesExecutorAirflowProps & AirflowOptions>(
    {
      ...OPTION_CHECKS,
      volumes: (b) => {
        for (const [name, spec] of airflowPodSpecs(b.objects)) {
          const claims = spec.volumes.filter((v: any) => v.persistentVolumeClaim).map((v: any) => v.persistentVolumeClaim.claimName);
          const dags = defaultVolumesOf(name, b.airflow.generation.major).includes('dags') ? ['airflow-dags-claim'] : [];
          expect([name, claims]).toEqual([name, [...dags, 'airflow-plugins-claim']]);
        }
        expect(workerPod(b).containers[0].volumeMounts).toContainEqual({ name: 'plugins', mountPath: '/opt/airflow/plugins' });
      },
      database: (b) => {
        expect(envOf(scheduler(b), 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN').value).toBe(
          'postgresql://airflow:$(AIRFLOW_DB_PASSWORD)@pg.corp.internal:5432/airflow',
        );
        expect(envOf(scheduler(b), 'AIRFLOW_DB_PASSWORD').valueFrom.secretKeyRef).toEqual(EXISTING_SECRETS.databasePassword);
      },
      secrets: (b) => {
        expect(envOf(scheduler(b), 'AIRFLOW__CORE__FERNET_KEY').valueFrom.secretKeyRef).toEqual(EXISTING_SECRETS.fernetKey);
        expect(envOf(scheduler(b), 'AIRFLOW__WEBSERVER__SECRET_KEY').valueFrom.secretKeyRef).toEqual(EXISTING_SECRETS.apiSecretKey);
        expect(envOf(adminJob(b).spec.template.spec.containers[0], 'AIRFLOW_ADMIN_PASSWORD').valueFrom.secretKeyRef).toEqual(
          EXISTING_SECRETS.adminPassword,
        );
      },
    },
    built,
  );
});

describe('AirflowChartProps: every prop set reaches the YAML', () => {
  const props: Required<AirflowChartProps> = {
    ...EVERY_OPTION,
    namespace: 'data-platform',
    labels: { team: 'data' },
    disableResourceNameHashes: false,
    provisioning: StorageProvisioning.hostPath({ storageClassName: 'manual' }), // a StorageClass excludes hostRoot
    existingSecrets: { ...EXISTING_SECRETS, brokerPassword: BROKER_PASSWORD },
    secretsBootstrapImage: 'registry.example.com/python:3.12',
    volumes: [{ name: 'dags' }, { name: 'logs', size: '20Gi' }, { name: 'plugins' }],
    namePrefix: 'team-a',
    hostRoot: '/mnt/airflow',
    createNamespace: true, // the default; false (no Namespace) is checked on a chart of its own below
    networkPolicies: true,
    networkPolicyOptions: {
      apiServerSources: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }],
      prometheusSources: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
      dns: [{ ipBlock: { cidr: '169.254.20.10/32' } }],
      kubernetesApiPorts: [443],
      kubernetesApiCidrs: ['192.0.2.1/32'],
      gitCidrs: ['198.51.100.0/24'],
      gitPorts: [443],
      objectStoreCidrs: ['203.0.113.0/24'],
      objectStorePorts: [9000],
      taskEgress: [],
    },
    prePullImages: true, // off by default with hostPath provisioning
    prePullPauseImage: 'registry.example.com/mirror/pause:3.10',
    pgbouncer: { maxClientConn: 200, metadataPoolSize: 20 },
    dagBundles: [{ name: 'team', repoUrl: 'https://git.example.com/team/dags.git', trackingRef: 'release' }],
  };
  // secretsBootstrapImage goes with generated secrets only (existingSecrets above): it is checked on a chart of its own.
  // dagBundles too: they are Airflow 3's and exclude gitSync (both set above).
  const { secretsBootstrapImage, dagBundles, ...withExistingSecrets } = props;
  const chart = new AirflowChart(Testing.app(), 'airflow', withExistingSecrets);
  const built = (): Built => ({ airflow: chart.airflow, features: chart.features, objects: expectWarns(() => Testing.synth(chart), /imagePullPolicy "Always" makes every task pod ask the registry/, AIRFLOW_2_END_OF_LIFE_WARNING) });

  test('secretsBootstrapImage with existingSecrets is refused: no Job would run it', () => {
    expect(() => Testing.synth(new AirflowChart(Testing.app(), 'airflow', { existingSecrets: EXISTING_SECRETS, secretsBootstrapImage }))).toThrow(
      'AirflowChart at "airflow": property "secretsBootstrapImage" received "registry.example.com/python:3.12"; allowed: unset when existingSecrets is given',
    );
  });

  test('dagBundles with gitSync and Airflow 2 is refused: they are checked on a chart of their own', () => {
    expect(errorOf(() => new AirflowChart(Testing.app(), 'airflow', { ...withExistingSecrets, dagBundles }))).toMatch(/property "dagBundles" received \["team"\]; allowed: unset on Airflow 2\.11\.0/);
  });

  runChecks<AirflowChartProps>(
    {
      ...OPTION_CHECKS,
      dagBundles: () => {
        const own = new AirflowChart(Testing.app(), 'airflow', { dagBundles });
        expect(cfgOf(Testing.synth(own)).dag_processor.dag_bundle_config_list).toContain('"repo_url":"https://git.example.com/team/dags.git"');
      },
      clusterDomain: (b) => {
        OPTION_CHECKS.clusterDomain(b);
        // The chart's own database is found by it too (here by PgBouncer, which Airflow reaches by the same domain).
        expect(find(b.objects, 'ConfigMap', 'airflow-pgbouncer').data['pgbouncer.ini']).toContain('host=airflow-postgres.data-platform.svc.corp.internal port=5432 ');
        expect(envOf(scheduler(b), 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN').value).toContain('@airflow-pgbouncer.data-platform.svc.corp.internal:6543/');
      },
      namespace: (b) => {
        expect(find(b.objects, 'Namespace').metadata.name).toBe('data-platform');
        for (const o of b.objects.filter((x) => !['Namespace', 'PersistentVolume'].includes(x.kind))) {
          expect([o.kind, o.metadata.name, o.metadata.namespace]).toEqual([o.kind, o.metadata.name, 'data-platform']);
        }
        expect(cfgOf(b.objects).kubernetes_executor.namespace).toBe('data-platform');
      },
      labels: (b) => {
        for (const o of b.objects) expect([o.kind, o.metadata.name, o.metadata.labels?.team]).toEqual([o.kind, o.metadata.name, 'data']);
      },
      disableResourceNameHashes: (b) => {
        // AirflowChart always disables the hashes (every name is fixed: the docs, the claims and the
        // network policies rely on it), so false changes nothing.
        expect(find(b.objects, 'ConfigMap', 'airflow-config').metadata.name).toBe('airflow-config');
        expect(b.objects.filter((o) => o.kind !== 'Job' && /-c8[0-9a-f]{6}$/.test(o.metadata.name))).toEqual([]); // cdk8s' hash
      },
      provisioning: (b) => {
        for (const o of [...byKind(b.objects, 'PersistentVolume'), ...byKind(b.objects, 'PersistentVolumeClaim')]) {
          expect([o.kind, o.metadata.name, o.spec.storageClassName]).toEqual([o.kind, o.metadata.name, 'manual']);
        }
      },
      namePrefix: (b) => {
        expect(byKind(b.objects, 'PersistentVolume').map((v) => v.metadata.name)).toEqual(
          ['dags', 'logs', 'plugins', 'postgres'].map((v) => `team-a-${v}-volume`),
        );
        expect(byKind(b.objects, 'PersistentVolumeClaim').map((v) => v.metadata.name)).toEqual(
          // one naming rule: only the cluster-scoped volumes take the prefix; namespaced objects are airflow-*
          ['dags', 'logs', 'plugins', 'postgres'].map((v) => `airflow-${v}-claim`),
        );
        find(b.objects, 'StatefulSet', 'airflow-postgres');
        find(b.objects, 'Service', 'airflow-postgres');
      },
      createNamespace: (b) => {
        expect(find(b.objects, 'Namespace').metadata.name).toBe('data-platform');
        const without = expectWarns(() => Testing.synth(new AirflowChart(Testing.app(), 'airflow', { ...withExistingSecrets, createNamespace: false })), /imagePullPolicy "Always" makes every task pod ask the registry/, AIRFLOW_2_END_OF_LIFE_WARNING);
        expect(byKind(without, 'Namespace')).toEqual([]);
        expect(without.length).toBe(b.objects.length - 1);
      },
      hostRoot: (b) => {
        expect(byKind(b.objects, 'PersistentVolume').map((v) => v.spec.hostPath.path)).toEqual(
          ['dags', 'logs', 'plugins', 'postgres'].map((v) => `/mnt/airflow/${v}`),
        );
      },
      volumes: (b) => {
        expect(chart.volumes.names).toEqual(['dags', 'logs', 'plugins']);
        expect(find(b.objects, 'PersistentVolume', 'team-a-logs-volume').spec.capacity.storage).toBe('20Gi');
        expect(workerPod(b).containers[0].volumeMounts).toContainEqual({ name: 'plugins', mountPath: '/opt/airflow/plugins' });
        expect(workerPod(b).volumes.map((v: any) => v.name)).not.toContain('data');
      },
      existingSecrets: (b) => {
        expect(b.objects.filter((o) => /secrets-bootstrap/.test(o.metadata.name))).toEqual([]);
        expect(envOf(scheduler(b), 'AIRFLOW__CORE__FERNET_KEY').valueFrom.secretKeyRef).toEqual(EXISTING_SECRETS.fernetKey);
        const postgres = find(b.objects, 'StatefulSet', 'airflow-postgres').spec.template.spec.containers[0];
        expect(envOf(postgres, 'POSTGRES_PASSWORD').valueFrom.secretKeyRef).toEqual(EXISTING_SECRETS.databasePassword);
      },
      secretsBootstrapImage: () => {
        // With existingSecrets (set above) there is no bootstrap Job: the image is seen without them.
        const objects = Testing.synth(new AirflowChart(Testing.app(), 'airflow', { secretsBootstrapImage }));
        const job = byKind(objects, 'Job').find((j) => j.metadata.name.startsWith('airflow-secrets-bootstrap-'));
        expect(job.spec.template.spec.containers[0].image).toBe('registry.example.com/python:3.12');
      },
      prePullImages: (b) => {
        const spec = find(b.objects, 'DaemonSet', 'airflow-image-pre-pull').spec.template.spec;
        expect(spec.initContainers.map((c: any) => [c.image, c.imagePullPolicy])).toEqual([['registry.example.com/team/airflow:build-42', 'Always']]);
        expect(chart.imagePrePull?.images).toEqual([chart.airflow.workerImage]);
      },
      prePullPauseImage: (b) => {
        expect(find(b.objects, 'DaemonSet', 'airflow-image-pre-pull').spec.template.spec.containers[0].image).toBe('registry.example.com/mirror/pause:3.10');
      },
      networkPolicies: (b) => {
        expect(chart.networkPolicies).toBeDefined();
        // with celery, metrics, gitSync, remoteLogging and auth (EVERY_OPTION), their policies too; taskEgress [] leaves no task-egress
        expect(byKind(b.objects, 'NetworkPolicy').map((p) => p.metadata.name).sort()).toEqual([
          'airflow-default-deny', 'airflow-dns', 'airflow-git-sync', 'airflow-identity-provider', 'airflow-kubernetes-api', 'airflow-metadata-db',
          'airflow-metadata-db-clients', 'airflow-pgbouncer', 'airflow-redis', 'airflow-redis-clients', 'airflow-remote-logging', 'airflow-statsd',
          'airflow-statsd-clients', 'airflow-webserver',
        ]);
      },
      pgbouncer: (b) => {
        const ini = find(b.objects, 'ConfigMap', 'airflow-pgbouncer').data['pgbouncer.ini'];
        expect(ini).toMatch(/^max_client_conn = 200$/m);
        expect(ini).toMatch(/pool_size=20$/m);
        expect(envOf(scheduler(b), 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN').value).toMatch(/@airflow-pgbouncer\.data-platform\.svc\.[a-z.]+:6543\/airflow$/);
      },
      networkPolicyOptions: (b) => {
        const spec = (name: string) => find(b.objects, 'NetworkPolicy', name).spec;
        expect(spec('airflow-webserver').ingress[0].from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }]);
        expect(spec('airflow-statsd').ingress[1].from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
        expect(spec('airflow-dns').egress[0].to).toEqual([{ ipBlock: { cidr: '169.254.20.10/32' } }]);
        expect(spec('airflow-kubernetes-api').egress).toEqual([{ to: [{ ipBlock: { cidr: '192.0.2.1/32' } }], ports: [{ protocol: 'TCP', port: 443 }] }]);
        expect(spec('airflow-git-sync').egress).toEqual([{ to: [{ ipBlock: { cidr: '198.51.100.0/24' } }], ports: [{ protocol: 'TCP', port: 443 }] }]);
        expect(spec('airflow-remote-logging').egress).toEqual([{ to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: [{ protocol: 'TCP', port: 9000 }] }]);
        expect(b.objects.find((o) => o.metadata.name === 'airflow-task-egress')).toBeUndefined();
      },
    },
    built,
  );
});

describe('without props, each option resolves to its documented default', () => {
  const chart = new AirflowChart(Testing.app(), 'airflow');
  const built = (): Built => ({ airflow: chart.airflow, features: chart.features, objects: Testing.synth(chart) });
  const component = (b: Built, name: string) => find(b.objects, 'Deployment', `airflow-${name}`);
  const resourcesOf = (r: { cpuRequest: string; memoryRequest: string; cpuLimit: string; memoryLimit: string }) => ({
    requests: { cpu: r.cpuRequest, memory: r.memoryRequest },
    limits: { cpu: r.cpuLimit, memory: r.memoryLimit },
  });
  const noneOnAnyPod = (field: string) => (b: Built) => eachAirflowPod(b, (spec) => expect(spec[field]).toBeUndefined());

  runChecks<AirflowOptions>(
    {
      image: (b) => expect(b.airflow.image).toBe(DEFAULT_AIRFLOW_IMAGE),
      airflowVersion: (b) => expect(b.airflow.airflowVersion.toString()).toBe('3.2.2'),
      imagePullPolicy: (b) => expect(b.airflow.imagePullPolicy).toBe('IfNotPresent'),
      standaloneDagProcessor: (b) => expect(b.airflow.standaloneDagProcessor).toBe(true),
      parallelism: (b) => expect(b.airflow.parallelism).toBe(4),
      defaultPoolSlots: (b) => expect(b.airflow.defaultPoolSlots).toBe(4), // the same as parallelism
      workerPodsCreationBatchSize: (b) => expect(b.airflow.workerPodsCreationBatchSize).toBe(4),
      deleteFailedWorkerPods: (b) => expect(b.airflow.deleteFailedWorkerPods).toBe(true),
      config: (b) => expect(b.airflow.config).toEqual({}),
      createAdminUser: (b) => expect(b.airflow.createAdminUser).toBe(true),
      adminUsername: (b) => expect(b.airflow.adminUsername).toBe('admin'),
      adminEmail: (b) => expect(b.airflow.adminEmail).toBe('admin@example.com'),
      adminFirstName: (b) => expect(b.airflow.adminFirstName).toBe('Admin'),
      adminLastName: (b) => expect(b.airflow.adminLastName).toBe('User'),
      adminRole: (b) => expect(b.airflow.adminRole).toBe('Admin'),
      auth: (b) => {
        expect(b.features.auth).toBeUndefined();
        expect(cfgOf(b.objects).fab?.config_file).toBeUndefined();
        expect(cfgOf(b.objects).core.auth_manager).toBe('airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager');
      },
      airflowLocalSettings: (b) => {
        expect(b.features.localSettings).toBeUndefined();
        eachAirflowContainer(b, (c) => expect(c.volumeMounts ?? []).not.toContainEqual(expect.objectContaining({ name: 'airflow-local-settings' })));
      },
      clusterDomain: (b) => expect(b.airflow.clusterDomain).toBe('cluster.local'),
      scheduler: (b) => {
        expect(component(b, 'scheduler').spec.replicas).toBe(1);
        expect(component(b, 'scheduler').spec.template.spec.containers[0].resources).toEqual(resourcesOf(COMPONENT_RESOURCES.scheduler));
      },
      apiServer: (b) => {
        expect(component(b, 'api-server').spec.replicas).toBe(1);
        expect(find(b.objects, 'Service', 'airflow-api-server').spec.type).toBe('ClusterIP');
      },
      dagProcessor: (b) => expect(component(b, 'dag-processor').spec.replicas).toBe(1),
      triggerer: (b) => {
        expect(b.airflow.triggerer).toBe(true);
        expect(component(b, 'triggerer').spec.replicas).toBe(1);
      },
      worker: (b) => expect(b.airflow.workerResources).toEqual({ cpuRequest: '100m', memoryRequest: '256Mi', cpuLimit: '1', memoryLimit: '1Gi' }),
      migrations: (b) => expect(b.airflow.migrations.jobName).toMatch(/^airflow-db-migrate-3-2-2-/),
      ingress: (b) => {
        expect(b.airflow.ingress).toBeUndefined();
        expect(byKind(b.objects, 'Ingress')).toEqual([]);
      },
      fixVolumePermissions: (b) => {
        expect(b.airflow.fixVolumePermissions).toBe(true);
        expect(byKind(b.objects, 'Job').map((j) => j.metadata.name)).toContainEqual(expect.stringMatching(/^airflow-volume-permissions/));
      },
      openShift: (b) => {
        expect(b.airflow.openShift).toBe(false);
        eachAirflowPod(b, (spec) => expect(spec.securityContext).toMatchObject({ runAsUser: 50000, runAsGroup: 0, fsGroup: 0 }));
      },
      env: (b) => eachAirflowContainer(b, (c) => expect(envOf(c, 'TZ')).toBeUndefined()),
      envFrom: (b) => eachAirflowContainer(b, (c) => expect(c.envFrom).toBeUndefined()),
      // (the scheduler's pod also has the log groomer's empty volume over the token path)
      extraVolumes: (b) =>
        eachAirflowPod(b, (spec, name) =>
          expect(spec.volumes.map((v: any) => v.name).filter((n: string) => !['no-service-account-token', 'log-groomer-tmp'].includes(n))).toEqual([
            ...defaultVolumesOf(name),
            'airflow-config',
            'airflow-tmp',
          ]),
        ),
      serviceAccountAnnotations: (b) => expect(byKind(b.objects, 'ServiceAccount').filter((a) => a.metadata.annotations)).toEqual([]),
      imagePullSecrets: noneOnAnyPod('imagePullSecrets'),
      nodeSelector: noneOnAnyPod('nodeSelector'),
      tolerations: noneOnAnyPod('tolerations'),
      affinity: noneOnAnyPod('affinity'),
      topologySpreadConstraints: noneOnAnyPod('topologySpreadConstraints'),
      priorityClassName: noneOnAnyPod('priorityClassName'),
      podLabels: (b) => eachAirflowPodTemplate(b, (metadata) => expect(Object.keys(metadata.labels).every((k) => k.startsWith('app.kubernetes.io/'))).toBe(true)),
      podAnnotations: (b) => eachAirflowPodTemplate(b, (metadata) => expect(Object.keys(metadata.annotations ?? {}).filter((k) => k !== 'checksum/airflow-config')).toEqual([])),
      gitSync: (b) => {
        expect(b.features.gitSync).toBeUndefined();
        expect(cfgOf(b.objects).core.dags_folder).toBe('/opt/airflow/dags');
        expect(b.objects.filter((o) => /git-sync/.test(o.metadata.name))).toEqual([]);
      },
      remoteLogging: (b) => {
        expect(b.features.remoteLogging).toBeUndefined();
        expect(cfgOf(b.objects).logging.remote_logging).toBeUndefined();
      },
      logRetentionDays: (b) => {
        expect(b.features.logGroomer?.retentionDays).toBe(15);
        expect(component(b, 'scheduler').spec.template.spec.containers.map((c: any) => c.name)).toEqual(['scheduler', 'log-groomer']);
      },
      metrics: (b) => {
        expect(b.features.statsd).toBeUndefined();
        expect(cfgOf(b.objects).metrics).toBeUndefined();
      },
      databaseCleanup: (b) => {
        expect(b.features.databaseCleanup).toBeUndefined();
        expect(b.objects.filter((o) => o.kind === 'CronJob')).toEqual([]);
      },
      celery: (b) => {
        expect(b.features.celery).toBeUndefined();
        expect(cfgOf(b.objects).core.executor).toBe('KubernetesExecutor');
        expect(b.objects.filter((o) => /celery|redis/.test(o.metadata.name))).toEqual([]);
      },
    },
    built,
  );
});
