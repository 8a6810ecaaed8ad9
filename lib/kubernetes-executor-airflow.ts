import { Construct } from 'constructs';
import * as k8s from '../imports/k8s';
import { AdminUser } from './admin-user';
import { AirflowConfigValues } from './airflow-config-validation';
import { AIRFLOW_CFG_PATH, AIRFLOW_CONFIG_VOLUME_NAME, AirflowConfiguration, CONFIG_CHECKSUM_ANNOTATION, POD_TEMPLATE_FILE_PATH } from './airflow-configuration';
import {
  AirflowPodParts,
  airflowContainer,
  airflowLabels,
  airflowPodSpec,
  airflowServiceAccount,
  resourceRequirements,
  waitForMigrationsContainer,
} from './airflow-pod-parts';
import { AirflowVersion, DEFAULT_AIRFLOW_IMAGE, MINIMUM_AIRFLOW_2_VERSION, parseImageReference } from './airflow-version';
import { AirflowVolumes } from './airflow-volumes';
import { DbMigrations } from './db-migrations';
import { IMetadataDatabase, SecretKeyRef } from './metadata-database';
import { PodLauncherRbac } from './pod-launcher-rbac';
import { airflowContainerSecurityContext } from './pod-security';
import { namespaceOf } from './scope';
import {
  invalid,
  validateByteQuantity,
  validateChoice,
  validateCpuQuantity,
  validateDnsSubdomain,
  validateImage,
  validateInteger,
} from './validation';
import { workerPodTemplate } from './worker-pod-template';

/** The Secrets Airflow reads its own secrets from (see `AirflowSecrets`). */
export interface AirflowSecretRefs {
  /** `[core] fernet_key`: encrypts connections and variables in the database. */
  readonly fernetKey: SecretKeyRef;
  /** `[api] secret_key` (Airflow 3) / `[webserver] secret_key` (Airflow 2): signs the UI's session cookies. */
  readonly apiSecretKey: SecretKeyRef;
  /** `[api_auth] jwt_secret` (Airflow 3): signs the tokens the scheduler gives tasks for the Execution API. */
  readonly jwtSecret: SecretKeyRef;
  /** The password of the first admin user. */
  readonly adminPassword: SecretKeyRef;
}

/** The image pull policies. */
export const IMAGE_PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;

/** The FAB auth manager: the UI's users, roles and login (the official Helm chart's choice on Airflow 3). */
export const FAB_AUTH_MANAGER = 'airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager';

/** The FAB provider's database manager: `airflow db migrate` creates the FAB tables (users, roles) with it. */
export const FAB_DB_MANAGER = 'airflow.providers.fab.auth_manager.models.db.FABDBManager';

/** The port of the UI (api-server on Airflow 3, webserver on Airflow 2). */
export const AIRFLOW_UI_PORT = 8080;

/** CPU and memory of one container: requests and limits. */
export interface ContainerResources {
  /** CPU request. */
  readonly cpuRequest: string;
  /** Memory request. */
  readonly memoryRequest: string;
  /** CPU limit. */
  readonly cpuLimit: string;
  /** Memory limit. */
  readonly memoryLimit: string;
}

/**
 * The resources of the long-running components, sized for a 2 CPU / 4 GiB minikube node shared with the
 * metadata database, Kubernetes' own pods and the task pods (see docs/airflow.md for the totals). Requests
 * are what the component needs when idle; limits leave room for start-up and for the `airflow jobs check`
 * liveness probe, which starts a second Python process inside the container.
 */
export const COMPONENT_RESOURCES: Readonly<Record<string, ContainerResources>> = {
  'scheduler': { cpuRequest: '150m', memoryRequest: '384Mi', cpuLimit: '1', memoryLimit: '1536Mi' },
  'api-server': { cpuRequest: '150m', memoryRequest: '512Mi', cpuLimit: '1', memoryLimit: '1536Mi' },
  'webserver': { cpuRequest: '150m', memoryRequest: '512Mi', cpuLimit: '1', memoryLimit: '1536Mi' },
  'dag-processor': { cpuRequest: '100m', memoryRequest: '384Mi', cpuLimit: '1', memoryLimit: '1Gi' },
  'triggerer': { cpuRequest: '50m', memoryRequest: '256Mi', cpuLimit: '500m', memoryLimit: '768Mi' },
};

/** Props for {@link KubernetesExecutorAirflow}. */
export interface KubernetesExecutorAirflowProps {
  /** The dags, logs and data volumes, mounted into every Airflow container and every task pod. Must have `dags`. */
  readonly volumes: AirflowVolumes;

  /** The metadata database. */
  readonly database: IMetadataDatabase;

  /** Where Airflow's secrets are (`AirflowSecrets`, or your own Secrets). */
  readonly secrets: AirflowSecretRefs;

  /**
   * The Airflow image of every component and every task pod: the official image, or your own built on it
   * (for example one built inside minikube's docker).
   * @default DEFAULT_AIRFLOW_IMAGE - "apache/airflow:3.1.3"
   */
  readonly image?: string;

  /**
   * The Airflow version in the image, `major.minor.patch`. Required when the image's tag does not name it
   * (`my-airflow:latest`); otherwise read from the tag (`apache/airflow:3.1.3-python3.12` is 3.1.3).
   * Supported: 3.x, and 2.x from 2.7.0 (2.11 is the tested Airflow 2 line).
   * @default - the version in the image's tag
   */
  readonly airflowVersion?: string;

  /**
   * The image pull policy. `IfNotPresent` suits pinned tags and images built into the node's docker
   * (minikube), which `Always` would try to pull from a registry and fail.
   * @default "IfNotPresent"
   */
  readonly imagePullPolicy?: string;

  /**
   * Whether to run the triggerer, which runs deferrable operators' triggers (without it, deferred tasks
   * never resume).
   * @default true
   */
  readonly triggerer?: boolean;

  /**
   * Whether DAG files are parsed by a standalone `airflow dag-processor`. Airflow 3 always needs one;
   * Airflow 2's scheduler parses DAG files itself unless this is on (`[scheduler] standalone_dag_processor`).
   * @default - true on Airflow 3, false on Airflow 2
   */
  readonly standaloneDagProcessor?: boolean;

  /**
   * `[core] parallelism`: at most this many task instances run at once.
   * @default 4
   */
  readonly parallelism?: number;

  /**
   * `[core] default_pool_task_slot_count`: the slots of `default_pool`, which bounds the tasks that run at
   * once (2 keeps task pods from swamping a minikube node). Airflow applies it when `airflow db migrate`
   * creates the pool; change an existing pool in the UI or with `airflow pools set`.
   * @default 2
   */
  readonly defaultPoolSlots?: number;

  /**
   * `[kubernetes_executor] worker_pods_creation_batch_size`: how many task pods the scheduler creates in one
   * scheduling loop. Airflow's default, 1, starts one task per loop; equal to `parallelism` lets one loop
   * start every task that may run.
   * @default - the same as `parallelism`
   */
  readonly workerPodsCreationBatchSize?: number;

  /**
   * Whether the pods of failed tasks are deleted too (`[kubernetes_executor] delete_worker_pods_on_failure`).
   * Task logs are on the logs volume either way; keep failed pods (false) to inspect them with kubectl.
   * @default true
   */
  readonly deleteFailedWorkerPods?: boolean;

  /**
   * The default CPU request of a task pod (override per task with `executor_config`).
   * @default "100m"
   */
  readonly workerCpuRequest?: string;

  /**
   * The default memory request of a task pod.
   * @default "384Mi"
   */
  readonly workerMemoryRequest?: string;

  /**
   * The default CPU limit of a task pod.
   * @default "1"
   */
  readonly workerCpuLimit?: string;

  /**
   * The default memory limit of a task pod.
   * @default "1Gi"
   */
  readonly workerMemoryLimit?: string;

  /**
   * Your own Airflow settings, `{ section: { key: value } }`, checked against the keys of the Airflow major
   * version and rendered into `airflow.cfg`. Options the library sets itself, and secrets, are rejected.
   * @default - none
   */
  readonly config?: AirflowConfigValues;

  /**
   * Whether a Job creates the first admin user of the UI (password from `secrets.adminPassword`).
   * @default true
   */
  readonly createAdminUser?: boolean;

  /**
   * The admin user's name.
   * @default "admin"
   */
  readonly adminUsername?: string;

  /**
   * The admin user's e-mail address.
   * @default "admin@example.com"
   */
  readonly adminEmail?: string;

  /**
   * The cluster's DNS domain, for the in-cluster URL of the Execution API (Airflow 3).
   * @default "cluster.local"
   */
  readonly clusterDomain?: string;
}

/**
 * Apache Airflow with the KubernetesExecutor: the UI (`airflow api-server` on Airflow 3, `airflow webserver`
 * on Airflow 2) and its Service, the scheduler, the dag-processor, the triggerer, the database migrations,
 * the first admin user, the configuration, the worker pod template and the RBAC the executor needs to
 * create a pod for each task and delete it when the task ends.
 */
export class KubernetesExecutorAirflow extends Construct {
  /** The Airflow version. */
  public readonly airflowVersion: AirflowVersion;

  /** The image. */
  public readonly image: string;

  /** The image pull policy. */
  public readonly imagePullPolicy: string;

  /** The configuration: the ConfigMap with `airflow.cfg` and the worker pod template. */
  public readonly configuration: AirflowConfiguration;

  /** The worker pod template (the Pod manifest in the ConfigMap). */
  public readonly workerPodTemplate: Record<string, unknown>;

  /** The components that run as Deployments, by component name (`scheduler`, `api-server`...). */
  public readonly deployments: Readonly<Record<string, k8s.KubeDeployment>>;

  /** The ServiceAccounts, by component name (`scheduler`, `worker`, ...). */
  public readonly serviceAccounts: Readonly<Record<string, k8s.KubeServiceAccount>>;

  /** The UI component: `api-server` (Airflow 3) or `webserver` (Airflow 2). */
  public readonly uiComponent: string;

  /** The UI's Service (`airflow-api-server` / `airflow-webserver`, port 8080). */
  public readonly uiService: k8s.KubeService;

  /** The scheduler's Role and RoleBinding. */
  public readonly podLauncher: PodLauncherRbac;

  /** The migration Job. */
  public readonly migrations: DbMigrations;

  /** The create-user Job; undefined when `createAdminUser` is false. */
  public readonly adminUser: AdminUser | undefined;

  /** `[core] parallelism`. */
  public readonly parallelism: number;

  /** `[core] default_pool_task_slot_count`. */
  public readonly defaultPoolSlots: number;

  constructor(scope: Construct, id: string, props: KubernetesExecutorAirflowProps) {
    super(scope, id);
    const namespace = namespaceOf(this);
    const volumes = props.volumes;
    if (!volumes || !(volumes instanceof AirflowVolumes)) {
      invalid(this, 'volumes', volumes, 'the AirflowVolumes of the chart');
    }
    if (!volumes.has('dags')) {
      invalid(this, 'volumes', volumes.names, 'volumes that include "dags": it is the DAGs folder of every component');
    }
    if (volumes.has(AIRFLOW_CONFIG_VOLUME_NAME)) {
      invalid(this, 'volumes', volumes.names, `no volume named "${AIRFLOW_CONFIG_VOLUME_NAME}" (the configuration's volume)`);
    }
    if (!props.database) invalid(this, 'database', props.database, 'the metadata database (MetadataDb)');
    const secrets = this.validateSecrets(props.secrets);

    // Image and version.
    this.image = validateImage(this, 'image', props.image ?? DEFAULT_AIRFLOW_IMAGE);
    const ref = parseImageReference(this.image);
    if (ref.digest !== undefined) {
      invalid(
        this,
        'image',
        this.image,
        'an image reference by tag: the KubernetesExecutor names the task image as ' +
          '[kubernetes_executor] worker_container_repository:worker_container_tag, which cannot hold a digest',
        `Did you mean ${JSON.stringify(`${ref.repository}:${ref.tag ?? '<tag>'}`)}?`,
      );
    }
    this.airflowVersion = this.resolveVersion(props.airflowVersion);
    const major = this.airflowVersion.major as 2 | 3;
    this.imagePullPolicy = validateChoice(this, 'imagePullPolicy', props.imagePullPolicy ?? 'IfNotPresent', IMAGE_PULL_POLICIES);

    // Components.
    const standaloneDagProcessor = props.standaloneDagProcessor ?? major === 3;
    if (major === 3 && !standaloneDagProcessor) {
      invalid(
        this,
        'standaloneDagProcessor',
        false,
        'true (or unset) on Airflow 3: its scheduler no longer parses DAG files, the dag-processor does',
      );
    }
    const triggerer = props.triggerer ?? true;
    this.uiComponent = major === 3 ? 'api-server' : 'webserver';

    // Bounds.
    this.parallelism = validateInteger(this, 'parallelism', props.parallelism ?? 4, 1, 10_000);
    this.defaultPoolSlots = validateInteger(this, 'defaultPoolSlots', props.defaultPoolSlots ?? 2, 1, 10_000);
    const batchSize = validateInteger(
      this,
      'workerPodsCreationBatchSize',
      props.workerPodsCreationBatchSize ?? this.parallelism,
      1,
      10_000,
    );
    const worker = this.validateWorkerResources(props);
    const clusterDomain = validateDnsSubdomain(this, 'clusterDomain', props.clusterDomain ?? 'cluster.local');

    // Names.
    const uiName = `airflow-${this.uiComponent}`;
    const dagsFolder = volumes.get('dags').mountPath;

    // The configuration Airflow reads, in one place.
    const managed: Record<string, Record<string, string | number | boolean>> = {
      core: {
        executor: 'KubernetesExecutor',
        dags_folder: dagsFolder,
        load_examples: false,
        parallelism: this.parallelism,
        default_pool_task_slot_count: this.defaultPoolSlots,
      },
      kubernetes_executor: {
        namespace,
        pod_template_file: POD_TEMPLATE_FILE_PATH,
        worker_container_repository: ref.repository,
        worker_container_tag: ref.tag ?? 'latest',
        delete_worker_pods: true,
        delete_worker_pods_on_failure: props.deleteFailedWorkerPods ?? true,
        worker_pods_creation_batch_size: batchSize,
      },
    };
    if (volumes.has('logs')) {
      managed.logging = { base_log_folder: volumes.get('logs').mountPath };
    }
    if (major === 3) {
      managed.core.auth_manager = FAB_AUTH_MANAGER;
      managed.core.execution_api_server_url = `http://${uiName}.${namespace}.svc.${clusterDomain}:${AIRFLOW_UI_PORT}/execution/`;
      managed.database = { external_db_managers: FAB_DB_MANAGER };
    } else {
      // Gunicorn's default of 4 workers costs about 1 GiB on a small node; 2 keep the UI responsive.
      managed.webserver = { workers: 2 };
      managed.scheduler = { standalone_dag_processor: standaloneDagProcessor };
    }

    // Environment: the path of airflow.cfg, and the secrets by reference (never in airflow.cfg).
    const secretEnv = (name: string, ref: SecretKeyRef): k8s.EnvVar => ({
      name,
      valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } },
    });
    const baseEnv: k8s.EnvVar[] = [
      { name: 'AIRFLOW_CONFIG', value: AIRFLOW_CFG_PATH },
      ...props.database.airflowConnectionEnv(),
      secretEnv('AIRFLOW__CORE__FERNET_KEY', secrets.fernetKey),
    ];
    const controlPlaneEnv: k8s.EnvVar[] =
      major === 3
        ? [
          ...baseEnv,
          secretEnv('AIRFLOW__API__SECRET_KEY', secrets.apiSecretKey),
          secretEnv('AIRFLOW__API_AUTH__JWT_SECRET', secrets.jwtSecret),
        ]
        : [...baseEnv, secretEnv('AIRFLOW__WEBSERVER__SECRET_KEY', secrets.apiSecretKey)];

    // Service accounts: only the scheduler's has a token (it creates the task pods).
    const serviceAccounts: Record<string, k8s.KubeServiceAccount> = {};
    const serviceAccount = (component: string, automount: boolean): string => {
      const name = `airflow-${component}`;
      serviceAccounts[component] = airflowServiceAccount(this, `${component}-service-account`, name, component, automount);
      return name;
    };
    const workerServiceAccount = serviceAccount('worker', false);

    // The worker pod template, then the ConfigMap that holds it with airflow.cfg.
    const configVolume: k8s.Volume = { name: AIRFLOW_CONFIG_VOLUME_NAME, configMap: { name: 'airflow-config' } };
    const cfgMount: k8s.VolumeMount = { name: AIRFLOW_CONFIG_VOLUME_NAME, mountPath: AIRFLOW_CFG_PATH, subPath: 'airflow.cfg', readOnly: true };
    const podVolumes = [...volumes.podVolumes(), configVolume];
    const volumeMounts = [...volumes.volumeMounts(), cfgMount];
    // Task pods: on Airflow 2 a task talks to the database itself; on Airflow 3 it talks only to the
    // api-server's Execution API (with a token the scheduler gives it), so its pod gets no database
    // credentials and no fernet key (connections come back from the API already decrypted).
    // CONNECTION_CHECK_MAX_COUNT=0: the image's entrypoint would otherwise run `airflow db check` (a whole
    // Python start, seconds) before every task; task start time is the KubernetesExecutor's weak point.
    const workerEnv: k8s.EnvVar[] = [
      ...(major === 3 ? [{ name: 'AIRFLOW_CONFIG', value: AIRFLOW_CFG_PATH }] : baseEnv),
      { name: 'CONNECTION_CHECK_MAX_COUNT', value: '0' },
    ];
    this.workerPodTemplate = workerPodTemplate({
      image: this.image,
      imagePullPolicy: this.imagePullPolicy,
      env: workerEnv,
      volumes: podVolumes,
      volumeMounts,
      serviceAccountName: workerServiceAccount,
      labels: airflowLabels('worker'),
      ...worker,
    });
    this.configuration = new AirflowConfiguration(this, 'configuration', {
      airflowMajorVersion: major,
      managed,
      managedByProp: {
        'core.parallelism': 'parallelism',
        'core.default_pool_task_slot_count': 'defaultPoolSlots',
        'kubernetes_executor.worker_pods_creation_batch_size': 'workerPodsCreationBatchSize',
        'kubernetes_executor.delete_worker_pods_on_failure': 'deleteFailedWorkerPods',
        'kubernetes_executor.worker_container_repository': 'image',
        'kubernetes_executor.worker_container_tag': 'image',
        'scheduler.standalone_dag_processor': 'standaloneDagProcessor',
      },
      config: props.config,
      podTemplate: this.workerPodTemplate,
    });

    const parts: AirflowPodParts = {
      airflowVersion: this.airflowVersion,
      image: this.image,
      imagePullPolicy: this.imagePullPolicy,
      env: controlPlaneEnv,
      volumes: podVolumes,
      volumeMounts,
      configChecksum: this.configuration.checksum,
      // The database's wait-for-db runs in the Airflow image: give it the same pull policy (a local
      // ":latest" image would otherwise default to Always and fail to pull).
      waitForDatabase: {
        ...props.database.waitForDatabaseContainer(this.image, airflowContainerSecurityContext()),
        imagePullPolicy: this.imagePullPolicy,
      },
    };

    // The long-running components.
    const deployments: Record<string, k8s.KubeDeployment> = {};
    const jobsCheck = (jobType: string): k8s.Probe => ({
      exec: {
        command: ['sh', '-c', `AIRFLOW__LOGGING__LOGGING_LEVEL=ERROR exec airflow jobs check --job-type ${jobType} --local`],
      },
      initialDelaySeconds: 120,
      periodSeconds: 60,
      timeoutSeconds: 60,
      failureThreshold: 5,
    });

    const schedulerAccount = serviceAccount('scheduler', true);
    deployments.scheduler = this.deployment(parts, 'scheduler', schedulerAccount, true, {
      args: ['bash', '-c', 'exec airflow scheduler'],
      volumeMounts: [...volumeMounts, this.configuration.podTemplateMount()],
      livenessProbe: jobsCheck('SchedulerJob'),
    });

    const healthPath = major === 3 ? '/api/v2/monitor/health' : '/health';
    const httpGet = { path: healthPath, port: k8s.IntOrString.fromString('http') };
    deployments[this.uiComponent] = this.deployment(parts, this.uiComponent, serviceAccount(this.uiComponent, false), false, {
      args: ['bash', '-c', `exec airflow ${this.uiComponent}`],
      ports: [{ name: 'http', containerPort: AIRFLOW_UI_PORT, protocol: 'TCP' }],
      startupProbe: { httpGet, periodSeconds: 10, timeoutSeconds: 10, failureThreshold: 60 },
      readinessProbe: { httpGet, periodSeconds: 10, timeoutSeconds: 10, failureThreshold: 3 },
      livenessProbe: { httpGet, periodSeconds: 30, timeoutSeconds: 30, failureThreshold: 5 },
    });

    if (standaloneDagProcessor) {
      deployments['dag-processor'] = this.deployment(parts, 'dag-processor', serviceAccount('dag-processor', false), false, {
        args: ['bash', '-c', 'exec airflow dag-processor'],
        livenessProbe: jobsCheck('DagProcessorJob'),
      });
    }
    if (triggerer) {
      deployments.triggerer = this.deployment(parts, 'triggerer', serviceAccount('triggerer', false), false, {
        args: ['bash', '-c', 'exec airflow triggerer'],
        livenessProbe: jobsCheck('TriggererJob'),
      });
    }
    this.deployments = deployments;

    this.uiService = new k8s.KubeService(this, `${this.uiComponent}-service`, {
      metadata: { name: uiName, labels: airflowLabels(this.uiComponent) },
      spec: {
        type: 'ClusterIP',
        selector: selectorLabels(this.uiComponent),
        ports: [{ name: 'http', port: AIRFLOW_UI_PORT, targetPort: k8s.IntOrString.fromString('http'), protocol: 'TCP' }],
      },
    });

    this.podLauncher = new PodLauncherRbac(this, 'pod-launcher', { serviceAccountName: schedulerAccount });
    this.migrations = new DbMigrations(this, 'db-migrations', { parts });
    serviceAccounts['db-migrate'] = this.migrations.serviceAccount;
    this.adminUser =
      props.createAdminUser ?? true
        ? new AdminUser(this, 'admin-user', {
          parts,
          passwordSecret: secrets.adminPassword,
          username: props.adminUsername,
          email: props.adminEmail,
        })
        : undefined;
    if (this.adminUser) serviceAccounts['create-user'] = this.adminUser.serviceAccount;
    this.serviceAccounts = serviceAccounts;
  }

  private deployment(
    parts: AirflowPodParts,
    component: string,
    serviceAccountName: string,
    automountToken: boolean,
    container: Partial<k8s.Container>,
  ): k8s.KubeDeployment {
    const labels = airflowLabels(component);
    const r = COMPONENT_RESOURCES[component];
    return new k8s.KubeDeployment(this, component, {
      metadata: { name: `airflow-${component}`, labels },
      spec: {
        replicas: 1,
        revisionHistoryLimit: 2,
        // The UI rolls without downtime; one scheduler / dag-processor / triggerer at a time is enough on a
        // small node, and a second one during a rollout would only compete for its CPU.
        strategy:
          component === this.uiComponent
            ? { type: 'RollingUpdate', rollingUpdate: { maxSurge: k8s.IntOrString.fromNumber(1), maxUnavailable: k8s.IntOrString.fromNumber(0) } }
            : { type: 'Recreate' },
        selector: { matchLabels: selectorLabels(component) },
        template: {
          metadata: { labels, annotations: { [CONFIG_CHECKSUM_ANNOTATION]: parts.configChecksum } },
          spec: airflowPodSpec(parts, {
            serviceAccountName,
            automountServiceAccountToken: automountToken,
            initContainers: [parts.waitForDatabase, waitForMigrationsContainer(parts)],
            containers: [
              airflowContainer(parts, {
                name: component,
                resources: resourceRequirements(r.cpuRequest, r.memoryRequest, r.cpuLimit, r.memoryLimit),
                ...container,
              }),
            ],
          }),
        },
      },
    });
  }

  private resolveVersion(explicit: string | undefined): AirflowVersion {
    const fromTag = AirflowVersion.fromImage(this.image);
    let version: AirflowVersion;
    if (explicit !== undefined) {
      const parsed = AirflowVersion.tryParse(explicit);
      if (!parsed) {
        invalid(this, 'airflowVersion', explicit, 'an Airflow release as major.minor.patch, such as "3.1.3" or "2.11.0"');
      }
      if (fromTag && fromTag.toString() !== parsed.toString()) {
        invalid(
          this,
          'airflowVersion',
          explicit,
          `the version the image's tag names (${fromTag}), or no airflowVersion at all`,
          `The image "${this.image}" is Airflow ${fromTag}.`,
        );
      }
      version = parsed;
    } else if (fromTag) {
      version = fromTag;
    } else {
      invalid(
        this,
        'airflowVersion',
        undefined,
        `the Airflow version inside the image, e.g. "3.1.3" or "2.11.0": it is required because the tag of ` +
          `"${this.image}" does not name a version, and the version decides the components, commands and configuration`,
        `Set airflowVersion to the version your image is built FROM (see "airflow version" inside it).`,
      );
    }
    if (!version.isSupported) {
      invalid(
        this,
        'airflowVersion',
        version.toString(),
        `Airflow 3.x, or Airflow 2.x from ${MINIMUM_AIRFLOW_2_VERSION} (the first with "airflow db migrate")`,
      );
    }
    return version;
  }

  private validateSecrets(secrets: AirflowSecretRefs): AirflowSecretRefs {
    if (!secrets || typeof secrets !== 'object') {
      invalid(this, 'secrets', secrets, 'the Secret keys of fernetKey, apiSecretKey, jwtSecret and adminPassword (AirflowSecrets)');
    }
    for (const field of ['fernetKey', 'apiSecretKey', 'jwtSecret', 'adminPassword'] as const) {
      const ref = secrets[field];
      if (!ref || typeof ref !== 'object') invalid(this, `secrets.${field}`, ref, 'a Secret key reference { name, key }');
      validateDnsSubdomain(this, `secrets.${field}.name`, ref.name);
      if (typeof ref.key !== 'string' || !/^[-._a-zA-Z0-9]+$/.test(ref.key)) {
        invalid(this, `secrets.${field}.key`, ref.key, "a Secret key: letters, digits, '-', '_' and '.'");
      }
    }
    return secrets;
  }

  private validateWorkerResources(props: KubernetesExecutorAirflowProps): ContainerResources {
    const cpuRequest = props.workerCpuRequest ?? '100m';
    const memoryRequest = props.workerMemoryRequest ?? '384Mi';
    const cpuLimit = props.workerCpuLimit ?? '1';
    const memoryLimit = props.workerMemoryLimit ?? '1Gi';
    const cpuReq = validateCpuQuantity(this, 'workerCpuRequest', cpuRequest);
    const cpuLim = validateCpuQuantity(this, 'workerCpuLimit', cpuLimit);
    const memReq = validateByteQuantity(this, 'workerMemoryRequest', memoryRequest);
    const memLim = validateByteQuantity(this, 'workerMemoryLimit', memoryLimit);
    if (cpuReq > cpuLim) invalid(this, 'workerCpuRequest', cpuRequest, `at most workerCpuLimit (${JSON.stringify(cpuLimit)})`);
    if (memReq > memLim) {
      invalid(this, 'workerMemoryRequest', memoryRequest, `at most workerMemoryLimit (${JSON.stringify(memoryLimit)})`);
    }
    return { cpuRequest, memoryRequest, cpuLimit, memoryLimit };
  }
}

/** The labels a component's Deployment selects its pods by (immutable once applied). */
function selectorLabels(component: string): Record<string, string> {
  const labels = airflowLabels(component);
  return { 'app.kubernetes.io/name': labels['app.kubernetes.io/name'], 'app.kubernetes.io/component': component };
}
