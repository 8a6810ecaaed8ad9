// Every prop reaches the YAML and its resolved readonly field (the talis-cdk8s-constructs "Required<Props>"
// test). The props are typed Required<...> and the checks are a mapped type over the same keys: a new prop
// does not compile until it is given a value here and a check that finds it in the output.
import { Testing } from 'cdk8s';
import {
  AirflowChart,
  AirflowChartProps,
  AirflowOptions,
  AirflowSecrets,
  AirflowVolumes,
  DatabaseConnection,
  DEFAULT_AIRFLOW_IMAGE,
  ExternalMetadataDb,
  KubernetesExecutorAirflow,
  KubernetesExecutorAirflowProps,
  StorageProvisioning,
} from '../../lib';
import { airflowChart, airflowPodSpecs, byKind, cfgOf, containersOf, envOf, EXISTING_SECRETS, find, Manifest, testChart } from '../support';

/** What a check sees: the construct (its resolved readonly fields) and the synthesized objects. */
interface Built {
  readonly airflow: KubernetesExecutorAirflow;
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
  triggerer: false,
  standaloneDagProcessor: true,
  parallelism: 12,
  defaultPoolSlots: 3,
  workerPodsCreationBatchSize: 6,
  deleteFailedWorkerPods: false,
  workerCpuRequest: '200m',
  workerMemoryRequest: '500Mi',
  workerCpuLimit: '2',
  workerMemoryLimit: '3Gi',
  config: { core: { default_task_retries: 3 } },
  createAdminUser: true, // false is the only other value; it drops the Job (test/airflow/admin-user.test.ts)
  adminUsername: 'ops-admin',
  adminEmail: 'ops@example.org',
  clusterDomain: 'corp.internal',
};

const scheduler = ({ objects }: Built) => find(objects, 'Deployment', 'airflow-scheduler').spec.template.spec.containers[0];
const workerPod = ({ airflow }: Built) => (airflow.workerPodTemplate as any).spec;
const adminJob = ({ objects }: Built) => byKind(objects, 'Job').find((j) => j.metadata.name.startsWith('airflow-create-user-'));

const OPTION_CHECKS: Checks<AirflowOptions> = {
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
  triggerer: (b) => {
    expect(b.airflow.triggerer).toBe(false);
    expect(b.objects.filter((o) => o.metadata.name === 'airflow-triggerer')).toEqual([]);
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
    expect(b.airflow.defaultPoolSlots).toBe(3);
    expect(cfgOf(b.objects).core.default_pool_task_slot_count).toBe('3');
  },
  workerPodsCreationBatchSize: (b) => {
    expect(b.airflow.workerPodsCreationBatchSize).toBe(6);
    expect(cfgOf(b.objects).kubernetes_executor.worker_pods_creation_batch_size).toBe('6');
  },
  deleteFailedWorkerPods: (b) => {
    expect(b.airflow.deleteFailedWorkerPods).toBe(false);
    expect(cfgOf(b.objects).kubernetes_executor.delete_worker_pods_on_failure).toBe('False');
  },
  workerCpuRequest: (b) => {
    expect(b.airflow.workerResources.cpuRequest).toBe('200m');
    expect(workerPod(b).containers[0].resources.requests.cpu).toBe('200m');
  },
  workerMemoryRequest: (b) => {
    expect(b.airflow.workerResources.memoryRequest).toBe('500Mi');
    expect(workerPod(b).containers[0].resources.requests.memory).toBe('500Mi');
  },
  workerCpuLimit: (b) => {
    expect(b.airflow.workerResources.cpuLimit).toBe('2');
    expect(workerPod(b).containers[0].resources.limits.cpu).toBe('2');
  },
  workerMemoryLimit: (b) => {
    expect(b.airflow.workerResources.memoryLimit).toBe('3Gi');
    expect(workerPod(b).containers[0].resources.limits.memory).toBe('3Gi');
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
  clusterDomain: (b) => {
    expect(b.airflow.clusterDomain).toBe('corp.internal');
    // Airflow 2 names no Service of its own in airflow.cfg; Airflow 3's tasks find the execution API by it.
    const { manifests } = airflowChart({ clusterDomain: EVERY_OPTION.clusterDomain });
    expect(cfgOf(manifests).core.execution_api_server_url).toBe('http://airflow-api-server.airflow.svc.corp.internal:8080/execution/');
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
  const secrets = AirflowSecrets.fromExistingSecrets(chart, 'secrets', EXISTING_SECRETS);
  const props: Required<KubernetesExecutorAirflowProps> = { ...EVERY_OPTION, volumes, database, secrets };
  const airflow = new KubernetesExecutorAirflow(chart, 'airflow', props);
  const built = (): Built => ({ airflow, objects: Testing.synth(chart) });

  runChecks<KubernetesExecutorAirflowProps>(
    {
      ...OPTION_CHECKS,
      volumes: (b) => {
        for (const [name, spec] of airflowPodSpecs(b.objects)) {
          const claims = spec.volumes.filter((v: any) => v.persistentVolumeClaim).map((v: any) => v.persistentVolumeClaim.claimName);
          expect([name, claims]).toEqual([name, ['airflow-dags-claim', 'airflow-plugins-claim']]);
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
    existingSecrets: EXISTING_SECRETS,
    namePrefix: 'team-a',
    hostRoot: '/srv/airflow',
    networkPolicies: true,
  };
  const chart = new AirflowChart(Testing.app(), 'airflow', props);
  const built = (): Built => ({ airflow: chart.airflow, objects: Testing.synth(chart) });

  runChecks<AirflowChartProps>(
    {
      ...OPTION_CHECKS,
      clusterDomain: (b) => {
        OPTION_CHECKS.clusterDomain(b);
        // The chart's own database is found by it too.
        expect(envOf(scheduler(b), 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN').value).toContain('@team-a-postgres.data-platform.svc.corp.internal:5432/');
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
        expect(find(b.objects, 'ConfigMap').metadata.name).toBe('airflow-config');
        expect(b.objects.filter((o) => o.kind !== 'Job' && /-c8[0-9a-f]{6}$/.test(o.metadata.name))).toEqual([]); // cdk8s' hash
      },
      provisioning: (b) => {
        for (const o of [...byKind(b.objects, 'PersistentVolume'), ...byKind(b.objects, 'PersistentVolumeClaim')]) {
          expect([o.kind, o.metadata.name, o.spec.storageClassName]).toEqual([o.kind, o.metadata.name, 'manual']);
        }
      },
      namePrefix: (b) => {
        expect(byKind(b.objects, 'PersistentVolume').map((v) => v.metadata.name)).toEqual(
          ['dags', 'logs', 'data', 'postgres'].map((v) => `team-a-${v}-volume`),
        );
        expect(byKind(b.objects, 'PersistentVolumeClaim').map((v) => v.metadata.name)).toEqual(
          ['dags', 'logs', 'data', 'postgres'].map((v) => `team-a-${v}-claim`),
        );
        find(b.objects, 'StatefulSet', 'team-a-postgres');
        find(b.objects, 'Service', 'team-a-postgres');
      },
      hostRoot: (b) => {
        expect(byKind(b.objects, 'PersistentVolume').map((v) => v.spec.hostPath.path)).toEqual(
          ['dags', 'logs', 'data', 'postgres'].map((v) => `/srv/airflow/${v}`),
        );
      },
      existingSecrets: (b) => {
        expect(b.objects.filter((o) => /secrets-bootstrap/.test(o.metadata.name))).toEqual([]);
        expect(envOf(scheduler(b), 'AIRFLOW__CORE__FERNET_KEY').valueFrom.secretKeyRef).toEqual(EXISTING_SECRETS.fernetKey);
        const postgres = find(b.objects, 'StatefulSet', 'team-a-postgres').spec.template.spec.containers[0];
        expect(envOf(postgres, 'POSTGRES_PASSWORD').valueFrom.secretKeyRef).toEqual(EXISTING_SECRETS.databasePassword);
      },
      networkPolicies: (b) => {
        expect(chart.networkPolicies).toBeDefined();
        expect(byKind(b.objects, 'NetworkPolicy').map((p) => p.metadata.name).sort()).toEqual(['airflow-metadata-db', 'airflow-webserver']);
      },
    },
    built,
  );
});

describe('without props, every readonly field holds the documented default', () => {
  const { airflow } = new AirflowChart(Testing.app(), 'airflow');
  const defaults: { readonly [K in keyof Required<AirflowOptions>]: unknown } = {
    image: DEFAULT_AIRFLOW_IMAGE,
    airflowVersion: '3.1.3',
    imagePullPolicy: 'IfNotPresent',
    triggerer: true,
    standaloneDagProcessor: true,
    parallelism: 4,
    defaultPoolSlots: 2,
    workerPodsCreationBatchSize: 4,
    deleteFailedWorkerPods: true,
    workerCpuRequest: '100m',
    workerMemoryRequest: '384Mi',
    workerCpuLimit: '1',
    workerMemoryLimit: '1Gi',
    config: {},
    createAdminUser: true,
    adminUsername: 'admin',
    adminEmail: 'admin@example.com',
    clusterDomain: 'cluster.local',
  };
  const resolved: Record<keyof typeof defaults, unknown> = {
    image: airflow.image,
    airflowVersion: airflow.airflowVersion.toString(),
    imagePullPolicy: airflow.imagePullPolicy,
    triggerer: airflow.triggerer,
    standaloneDagProcessor: airflow.standaloneDagProcessor,
    parallelism: airflow.parallelism,
    defaultPoolSlots: airflow.defaultPoolSlots,
    workerPodsCreationBatchSize: airflow.workerPodsCreationBatchSize,
    deleteFailedWorkerPods: airflow.deleteFailedWorkerPods,
    workerCpuRequest: airflow.workerResources.cpuRequest,
    workerMemoryRequest: airflow.workerResources.memoryRequest,
    workerCpuLimit: airflow.workerResources.cpuLimit,
    workerMemoryLimit: airflow.workerResources.memoryLimit,
    config: airflow.config,
    createAdminUser: airflow.createAdminUser,
    adminUsername: airflow.adminUsername,
    adminEmail: airflow.adminEmail,
    clusterDomain: airflow.clusterDomain,
  };

  test.each(Object.keys(defaults) as Array<keyof typeof defaults>)('%s', (key) => {
    expect(resolved[key]).toEqual(defaults[key]);
  });
});
