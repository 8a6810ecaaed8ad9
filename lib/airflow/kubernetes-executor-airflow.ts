import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import {
  AIRFLOW_UI_PORT,
  AirflowGeneration,
  AirflowVersion,
  Components,
  DEFAULT_AIRFLOW_IMAGE,
  IAirflowSecrets,
  IMAGE_PULL_POLICIES,
  MINIMUM_AIRFLOW_2_VERSION,
  MINIMUM_MULTIPLE_EXECUTORS_VERSION,
  PodOptions,
  PodPlacementOptions,
  airflowLabels,
  mergePodOptions,
  chartSecretRef,
  invalid,
  namespaceOf,
  parseImageReference,
  requestAirflowSecret,
  secretEnv,
  validateByteQuantity,
  validateChoice,
  validateCpuQuantity,
  validateDnsSubdomain,
  validateImage,
  validateInteger,
  validateSecretKeyRef,
} from '../core';
import { IMetadataDatabase } from '../database';
import { airflowContainerSecurityContext } from '../security';
import { AirflowVolumes, StorageProvisioningMode } from '../storage';
import { AdminUser } from './admin-user';
import { AirflowComponent, AirflowComponentProps } from './airflow-component';
import { AirflowConfigValues } from './airflow-config-keys';
import { AIRFLOW_CFG_PATH, AIRFLOW_CONFIG_VOLUME_NAME, AirflowConfiguration, POD_TEMPLATE_FILE_PATH } from './airflow-configuration';
import { AirflowIngress } from './airflow-ingress';
import { AirflowOptions, ComponentOptions, ResourceOptions } from './airflow-options';
import { CeleryWorkers } from './celery-workers';
import { DbMigrations } from './db-migrations';
import { GitSyncDags, GitSyncMode } from './git-sync-dags';
import { logGroomerContainer, noTokenVolume } from './log-groomer';
import { PodLauncherRbac } from './pod-launcher-rbac';
import { AirflowPodParts, ContainerResources, ResolvedPodOptions, airflowServiceAccount, resolvePodOptions } from './pod-parts';
import { RemoteLogging, RemoteLoggingSettings } from './remote-logging';
import { StatsdExporter } from './statsd-exporter';
import { VolumePermissions } from './volume-permissions';
import { workerPodTemplate } from './worker-pod-template';


/**
 * The resources of the long-running components, sized for a 2 CPU / 4 GiB minikube node shared with the
 * metadata database, Kubernetes' own pods and the task pods, from the memory the runtime stage measured on
 * the real Airflow 3.1 (docs/benchmark.md, docs/runtime-tests.md): the memory request is the largest PSS at
 * idle or while a task runs, rounded up to 32Mi; the limit keeps the largest RSS seen (liveness probes
 * included: `airflow jobs check` starts a second Python process in the container, about 200 MiB) at or below
 * 80% of it. The api-server's figure is with `[api] workers = 1` (the library's default; 4 workers use about
 * 1.5 GiB). The webserver (Airflow 2) is not measured and keeps its earlier, larger size. CPU is not measured.
 */
export const COMPONENT_RESOURCES: Readonly<Record<string, ContainerResources>> = {
  [Components.SCHEDULER]: { cpuRequest: '150m', memoryRequest: '448Mi', cpuLimit: '1', memoryLimit: '1280Mi' },
  [Components.API_SERVER]: { cpuRequest: '150m', memoryRequest: '320Mi', cpuLimit: '1', memoryLimit: '768Mi' },
  [Components.WEBSERVER]: { cpuRequest: '150m', memoryRequest: '512Mi', cpuLimit: '1', memoryLimit: '1536Mi' },
  [Components.DAG_PROCESSOR]: { cpuRequest: '100m', memoryRequest: '384Mi', cpuLimit: '1', memoryLimit: '1Gi' },
  [Components.TRIGGERER]: { cpuRequest: '50m', memoryRequest: '448Mi', cpuLimit: '500m', memoryLimit: '1Gi' },
};

/** How many days task logs stay on the logs volume unless `logRetentionDays` says otherwise. */
export const DEFAULT_LOG_RETENTION_DAYS = 15;

/** Props for {@link KubernetesExecutorAirflow}: what it runs on, and how Airflow runs ({@link AirflowOptions}). */
export interface KubernetesExecutorAirflowProps extends AirflowOptions {
  /**
   * The dags, logs and data volumes, mounted into every Airflow container and every task pod. Must have `dags`,
   * except with git-sync in sidecar mode (each pod then syncs the DAGs into its own emptyDir).
   */
  readonly volumes: AirflowVolumes;

  /** The metadata database. */
  readonly database: IMetadataDatabase;

  /**
   * Where Airflow's secrets are (`AirflowSecrets`, `AirflowSecrets.fromExistingSecrets(...)`, or your own
   * references).
   * @default - the AirflowSecrets of the same chart (added before or after this construct)
   */
  readonly secrets?: IAirflowSecrets;
}

/**
 * Apache Airflow with the KubernetesExecutor: the UI (`airflow api-server` on Airflow 3, `airflow webserver`
 * on Airflow 2) and its Service, the scheduler, the dag-processor, the triggerer, the database migrations,
 * the first admin user, the configuration, the worker pod template and the RBAC the executor needs to
 * create a pod for each task and delete it when the task ends.
 */
export class KubernetesExecutorAirflow extends Construct {
  /** The image. */
  public readonly image: string;
  /**
   * The image of the task pods (the pod template's `base` container and `[kubernetes_executor]
   * worker_container_repository`/`worker_container_tag`): today the same as `image`.
   */
  public readonly workerImage: string;
  /** The Airflow version. */
  public readonly airflowVersion: AirflowVersion;
  /** The Airflow generation (2 or 3): which components, commands and configuration the version has. */
  public readonly generation: AirflowGeneration;
  /** The image pull policy. */
  public readonly imagePullPolicy: string;
  /** Whether the triggerer runs. */
  public readonly triggerer: boolean;
  /** Whether DAG files are parsed by a standalone dag-processor. */
  public readonly standaloneDagProcessor: boolean;
  /** `[core] parallelism`. */
  public readonly parallelism: number;
  /** `[core] default_pool_task_slot_count`. */
  public readonly defaultPoolSlots: number;
  /** `[kubernetes_executor] worker_pods_creation_batch_size`. */
  public readonly workerPodsCreationBatchSize: number;
  /** `[kubernetes_executor] delete_worker_pods_on_failure`. */
  public readonly deleteFailedWorkerPods: boolean;
  /** The default CPU and memory of a task pod. */
  public readonly workerResources: ContainerResources;
  /** The user's own settings (empty when none). */
  public readonly config: AirflowConfigValues;
  /** Whether a Job creates the first admin user. */
  public readonly createAdminUser: boolean;
  /** The admin user's name. */
  public readonly adminUsername: string;
  /** The admin user's e-mail address. */
  public readonly adminEmail: string;
  /** The cluster's DNS domain. */
  public readonly clusterDomain: string;

  /** The configuration: the ConfigMap with `airflow.cfg` and the worker pod template. */
  public readonly configuration: AirflowConfiguration;
  /** Where Airflow's secrets are (references resolved at synth when they come from the chart's AirflowSecrets). */
  public readonly secrets: IAirflowSecrets;
  private readonly renderWorkerPodTemplate: () => Record<string, unknown>;

  /** The long-running components, by component name (`scheduler`, `api-server`...). */
  public readonly components: Readonly<Record<string, AirflowComponent>>;
  /** The components' Deployments, by component name. */
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
  /** The Celery workers and their broker (hybrid executors); undefined without `celery`. */
  public readonly celery: CeleryWorkers | undefined;
  /** `[core] executor`: `KubernetesExecutor`, or with `celery` both executors, the default first. */
  public readonly executors: string[];
  /** The chart-wide pod options (every component's start from these). */
  public readonly podOptions: PodOptions;
  /** Whether a Job makes the static hostPath volumes writable for Airflow's user. */
  public readonly fixVolumePermissions: boolean;
  /** That Job; undefined without hostPath volumes or when `fixVolumePermissions` is false. */
  public readonly volumePermissions: VolumePermissions | undefined;
  /** The Ingress in front of the UI; undefined without `ingress`. */
  public readonly ingress: AirflowIngress | undefined;
  /** What is worth a warning at synth (printed then), e.g. a default pool smaller than `parallelism`. */
  public readonly warnings: string[] = [];
  /** The git-sync of the DAGs; undefined without `gitSync`. */
  public readonly gitSync: GitSyncDags | undefined;
  /** Where task logs are uploaded; undefined without `remoteLogging`. */
  public readonly remoteLogging: RemoteLogging | undefined;
  /** How many days task logs stay on the logs volume; 0 when no log groomer runs. */
  public readonly logRetentionDays: number;
  /** The statsd-exporter that receives Airflow's metrics; undefined unless `metrics`. */
  public readonly statsd: StatsdExporter | undefined;

  constructor(scope: Construct, id: string, props: KubernetesExecutorAirflowProps) {
    super(scope, id);
    const namespace = namespaceOf(this);
    const volumes = this.validateVolumes(props.volumes, props.gitSync);
    if (!props.database) invalid(this, 'database', props.database, 'the metadata database (MetadataDb)');

    // Image, version and generation.
    this.image = this.validateAirflowImage(props.image ?? DEFAULT_AIRFLOW_IMAGE);
    this.workerImage = this.image;
    [this.airflowVersion, this.generation] = this.resolveVersion(props.airflowVersion);
    const generation = this.generation;
    if (props.celery !== undefined && !this.airflowVersion.supportsMultipleExecutors) {
      invalid(
        this,
        'celery',
        props.celery,
        `no Celery workers on Airflow ${this.airflowVersion}: they run beside the KubernetesExecutor ` +
          `([core] executor = KubernetesExecutor,CeleryExecutor), and Airflow runs several executors at once only ` +
          `from ${MINIMUM_MULTIPLE_EXECUTORS_VERSION}`,
        `Use an image of Airflow ${MINIMUM_MULTIPLE_EXECUTORS_VERSION} or newer (2.11, 3.x), or leave celery unset.`,
      );
    }
    const inClusterBroker = props.celery !== undefined && props.celery.externalBroker === undefined;
    if (inClusterBroker) requestAirflowSecret(this, 'brokerPassword'); // the generated Secret then holds it
    this.executors =
      props.celery === undefined
        ? ['KubernetesExecutor']
        : props.celery.defaultExecutor
          ? ['CeleryExecutor', 'KubernetesExecutor']
          : ['KubernetesExecutor', 'CeleryExecutor'];
    const secrets = this.resolveSecrets(props.secrets, inClusterBroker);
    this.secrets = secrets;
    this.imagePullPolicy = validateChoice(this, 'imagePullPolicy', props.imagePullPolicy ?? 'IfNotPresent', IMAGE_PULL_POLICIES);
    if (this.imagePullPolicy === 'Always') this.warnings.push(this.alwaysPullWarning());

    // Components and bounds.
    this.standaloneDagProcessor = props.standaloneDagProcessor ?? generation.standaloneDagProcessorByDefault;
    if (generation.requiresStandaloneDagProcessor && !this.standaloneDagProcessor) {
      invalid(
        this,
        'standaloneDagProcessor',
        false,
        `true (or unset) on ${generation.name}: its scheduler no longer parses DAG files, the dag-processor does`,
      );
    }
    if (props.dagProcessor !== undefined && !this.standaloneDagProcessor) {
      invalid(this, 'dagProcessor', props.dagProcessor, 'nothing without a standalone dag-processor', 'Set standaloneDagProcessor: true.');
    }
    this.triggerer = props.triggerer?.enabled ?? true;
    this.uiComponent = generation.uiComponent;
    this.parallelism = validateInteger(this, 'parallelism', props.parallelism ?? 4, 1, 10_000);
    this.defaultPoolSlots = validateInteger(this, 'defaultPoolSlots', props.defaultPoolSlots ?? this.parallelism, 1, 10_000);
    if (this.defaultPoolSlots < this.parallelism) {
      this.warnings.push(
        `${this.constructor.name} at "${this.node.path}": defaultPoolSlots (${this.defaultPoolSlots}) is smaller than parallelism ` +
          `(${this.parallelism}): at most ${this.defaultPoolSlots} tasks of default_pool run at once. Raise defaultPoolSlots, or ` +
          'give tasks pools of their own.',
      );
    }
    this.workerPodsCreationBatchSize = validateInteger(
      this,
      'workerPodsCreationBatchSize',
      props.workerPodsCreationBatchSize ?? this.parallelism,
      1,
      10_000,
    );
    this.deleteFailedWorkerPods = props.deleteFailedWorkerPods ?? true;
    this.workerResources = this.resolveResources('worker.resources', DEFAULT_WORKER_RESOURCES, props.worker?.resources);
    this.clusterDomain = validateDnsSubdomain(this, 'clusterDomain', props.clusterDomain ?? 'cluster.local');
    this.config = props.config ?? {};
    this.createAdminUser = props.createAdminUser ?? true;
    this.adminUsername = props.adminUsername ?? 'admin';
    this.adminEmail = props.adminEmail ?? 'admin@example.com';
    this.podOptions = pickPodOptions(props);
    this.fixVolumePermissions = (props.fixVolumePermissions ?? true) && volumes.provisioning.mode === StorageProvisioningMode.HOST_PATH;
    this.node.addValidation({ validate: () => (this.warnings.forEach((w) => console.warn(`Warning: ${w}`)), []) });

    // DAGs from git, remote logging, log retention, metrics: each off unless asked for (retention: on when
    // there is a logs volume). The pods added beside the control plane are placed like it (pickPlacement).
    if (props.gitSync !== undefined && (typeof props.gitSync !== 'object' || props.gitSync === null)) {
      invalid(this, 'gitSync', props.gitSync, "the git-sync options, e.g. { repository: 'https://github.com/org/dags.git', branch: 'main' }");
    }
    this.gitSync = props.gitSync
      ? new GitSyncDags(this, 'git-sync', { ...props.gitSync, ...pickPlacement(this.podOptionsFor(pickPlacement(props.gitSync))), volumes })
      : undefined;
    if (props.remoteLogging !== undefined && !(props.remoteLogging instanceof RemoteLogging)) {
      invalid(this, 'remoteLogging', props.remoteLogging, 'RemoteLogging.s3({ ... }), RemoteLogging.gcs({ ... }) or RemoteLogging.azureBlob({ ... })');
    }
    this.remoteLogging = props.remoteLogging;
    const remote = this.remoteLogging?.settings(this, 'remoteLogging');
    this.logRetentionDays = this.resolveLogRetention(props.logRetentionDays, volumes);
    if (props.metrics !== undefined && typeof props.metrics !== 'boolean') invalid(this, 'metrics', props.metrics, 'true or false');
    this.statsd = props.metrics
      ? new StatsdExporter(this, 'statsd', { clusterDomain: this.clusterDomain, ...pickPlacement(this.podOptions) })
      : undefined;

    // The UI's Service name, and the Ingress in front of it (its URL is [api] base_url).
    const uiName = `airflow-${this.uiComponent}`;
    this.ingress = props.ingress
      ? new AirflowIngress(this, 'ingress', { ...props.ingress, component: this.uiComponent, serviceName: uiName, servicePort: AIRFLOW_UI_PORT })
      : undefined;

    // Environment: the path of airflow.cfg, and the secrets by reference (never in airflow.cfg). Task pods:
    // on Airflow 2 a task talks to the database itself; on Airflow 3 it talks only to the api-server's
    // Execution API (with a token the scheduler gives it), so its pod gets no database credentials and no
    // fernet key (connections come back from the API already decrypted). CONNECTION_CHECK_MAX_COUNT=0: the
    // image's entrypoint would otherwise run `airflow db check` (a whole Python start, seconds) before the
    // command; control-plane pods wait for the database in their wait-for-db init container instead, and task
    // start time is the KubernetesExecutor's weak point.
    const noDbCheck: k8s.EnvVar = { name: 'CONNECTION_CHECK_MAX_COUNT', value: '0' };
    const databaseEnv: k8s.EnvVar[] = [
      { name: 'AIRFLOW_CONFIG', value: AIRFLOW_CFG_PATH },
      ...props.database.airflowConnectionEnv(),
      secretEnv('AIRFLOW__CORE__FERNET_KEY', secrets.fernetKey),
    ];
    // Remote logging's connection (by reference) and region go to every pod that writes or reads task logs.
    const remoteEnv = remote?.env ?? [];
    const controlPlaneEnv = [...databaseEnv, ...generation.keyEnv(secrets), noDbCheck, ...remoteEnv];
    const workerEnv: k8s.EnvVar[] = [
      ...(generation.workersUseDatabase ? databaseEnv : [{ name: 'AIRFLOW_CONFIG', value: AIRFLOW_CFG_PATH }]),
      noDbCheck,
      ...remoteEnv,
    ];
    const reservedEnv = [...new Set([...controlPlaneEnv, ...workerEnv].map((e) => e.name))];
    const reservedVolumes = [
      ...new Set([
        ...volumes.names,
        AIRFLOW_CONFIG_VOLUME_NAME,
        ...(this.gitSync ? ['dags', ...this.gitSync.sidecarParts().volumes.map((v) => v.name)] : []),
        ...(this.logRetentionDays > 0 ? [noTokenVolume().name] : []),
      ]),
    ];
    const podOptionsOf = (property: string, override?: PodOptions): ResolvedPodOptions =>
      resolvePodOptions(this, property, mergePodOptions(this.podOptions, override), reservedEnv, reservedVolumes);
    resolvePodOptions(this, '', this.podOptions, reservedEnv, reservedVolumes); // the chart-wide ones, checked once

    // The configuration (airflow.cfg), then the worker pod template it holds beside airflow.cfg.
    this.configuration = new AirflowConfiguration(this, 'configuration', {
      generation,
      managed: this.managedConfig(namespace, volumes, `${uiName}.${namespace}.svc.${this.clusterDomain}`, remote, props),
      managedByProp: {
        'core.dags_folder': 'gitSync',
        'logging.remote_logging': 'remoteLogging',
        'logging.remote_base_log_folder': 'remoteLogging',
        'logging.remote_log_conn_id': 'remoteLogging',
        'metrics.statsd_on': 'metrics',
        'metrics.statsd_host': 'metrics',
        'core.parallelism': 'parallelism',
        'core.default_pool_task_slot_count': 'defaultPoolSlots',
        'kubernetes_executor.worker_pods_creation_batch_size': 'workerPodsCreationBatchSize',
        'kubernetes_executor.delete_worker_pods_on_failure': 'deleteFailedWorkerPods',
        'kubernetes_executor.worker_container_repository': 'image',
        'kubernetes_executor.worker_container_tag': 'image',
        'scheduler.standalone_dag_processor': 'standaloneDagProcessor',
        [generation.baseUrlKey]: 'ingress',
        'core.executor': 'celery',
        'celery.worker_concurrency': 'celery.concurrency',
      },
      refused: this.refusedConfig(),
      defaults: this.defaultConfig(volumes),
      config: props.config,
    });
    // Volumes are read at synth: a volume added to AirflowVolumes after this point is mounted everywhere.
    // With git-sync, Airflow mounts the DAGs read-only: the dags claim (shared volume) or an emptyDir (sidecars).
    const gitSync = this.gitSync;
    const podVolumes = (): k8s.Volume[] => [...(gitSync?.airflowPodVolumes() ?? []), ...volumes.podVolumes(), this.configuration.podVolume()];
    const volumeMounts = (): k8s.VolumeMount[] => [
      ...(gitSync ? [gitSync.airflowVolumeMount()] : []),
      ...volumes.volumeMounts().filter((m) => !gitSync || m.name !== gitSync.airflowVolumeMount().name),
      this.configuration.airflowCfgMount(),
    ];
    const workerGitSync = gitSync?.workerParts();
    const workerPod = podOptionsOf('worker', props.worker);
    const serviceAccounts: Record<string, k8s.KubeServiceAccount> = {};
    const workerServiceAccount = `airflow-${Components.WORKER}`;
    serviceAccounts[Components.WORKER] = airflowServiceAccount(
      this,
      'worker-service-account',
      workerServiceAccount,
      Components.WORKER,
      false,
      workerPod.serviceAccountAnnotations,
    );
    this.renderWorkerPodTemplate = () =>
      workerPodTemplate({
        image: this.workerImage,
        imagePullPolicy: this.imagePullPolicy,
        env: workerEnv,
        initContainers: workerGitSync?.initContainers,
        volumes: [...podVolumes(), ...(workerGitSync?.volumes ?? [])],
        volumeMounts: volumeMounts(),
        serviceAccountName: workerServiceAccount,
        labels: airflowLabels(Components.WORKER),
        resources: this.workerResources,
        pod: workerPod,
      });
    this.configuration.setWorkerPodTemplate(() => this.workerPodTemplate);
    // [logging] base_log_folder is set from the logs volume when the control plane is built.
    const hadLogs = volumes.has('logs');
    this.node.addValidation({
      validate: () =>
        !hadLogs && volumes.has('logs')
          ? [
            `${this.constructor.name} at "${this.node.path}": the "logs" volume was added to ${volumes.node.path} after ` +
                'this construct was built, so [logging] base_log_folder does not point at it. Add it before (props.volumes of AirflowVolumes).',
          ]
          : [],
    });

    // The Celery workers run tasks as the task pods do, with their environment (on Airflow 3 no database
    // credentials; remote logging's connection where task logs are uploaded); they and the scheduler get the
    // broker's. Their pods take the chart-wide pod options merged with the celery ones, Redis the chart-wide
    // placement (it is not an Airflow pod). In git-sync's sidecar mode they sync the DAGs themselves.
    if (props.celery !== undefined) {
      const { replicas, resources, concurrency, queues, terminationGracePeriodSeconds, defaultExecutor, externalBroker, redis, ...celeryPod } =
        props.celery;
      const celeryGitSync = gitSync?.sidecarParts();
      this.celery = new CeleryWorkers(this, 'celery', {
        replicas,
        resources,
        concurrency,
        queues,
        terminationGracePeriodSeconds,
        externalBroker,
        redis,
        pod: resolvePodOptions(this, 'celery', this.podOptionsFor(celeryPod), [...reservedEnv, ...CeleryWorkers.RESERVED_ENV], reservedVolumes),
        generation,
        image: this.image,
        imagePullPolicy: this.imagePullPolicy,
        taskEnv: workerEnv,
        airflowVolumes: podVolumes,
        airflowVolumeMounts: volumeMounts,
        sidecars: celeryGitSync?.containers,
        sidecarVolumes: celeryGitSync?.volumes,
        configChecksum: this.configuration.checksumAtSynth(),
        brokerPassword: inClusterBroker ? secrets.brokerPassword : undefined,
        brokerPlacement: pickPlacement(this.podOptions),
        clusterDomain: this.clusterDomain,
        defaultQueue: this.configuration.get('operators', 'default_queue'),
      });
      serviceAccounts[Components.CELERY_WORKER] = this.celery.serviceAccount;
      if (this.celery.broker) serviceAccounts[Components.REDIS] = this.celery.broker.serviceAccount;
    } else {
      this.celery = undefined;
    }

    const parts = (property: string, override?: PodOptions): AirflowPodParts => ({
      airflowVersion: this.airflowVersion,
      image: this.image,
      imagePullPolicy: this.imagePullPolicy,
      env: controlPlaneEnv,
      volumes: podVolumes,
      volumeMounts,
      configChecksum: this.configuration.checksumAtSynth(),
      // The database's wait-for-db runs in the Airflow image: give it the same pull policy (a local
      // ":latest" image would otherwise default to Always and fail to pull).
      waitForDatabase: {
        ...props.database.waitForDatabaseContainer(this.image, airflowContainerSecurityContext()),
        imagePullPolicy: this.imagePullPolicy,
      },
      pod: podOptionsOf(property, override),
    });

    this.components = this.createComponents(parts, props, volumes, this.celery?.brokerEnv({ optionalPassword: true }) ?? []);
    this.deployments = Object.fromEntries(Object.entries(this.components).map(([name, c]) => [name, c.deployment]));
    for (const [name, c] of Object.entries(this.components)) serviceAccounts[name] = c.serviceAccount;
    // The cloud identity of remote logging: every ServiceAccount whose pods write or read task logs.
    for (const account of [
      serviceAccounts[Components.WORKER],
      ...(this.celery ? [this.celery.serviceAccount] : []),
      ...Object.values(this.components).map((c) => c.serviceAccount),
    ]) {
      for (const [key, value] of Object.entries(remote?.serviceAccountAnnotations ?? {})) {
        const set = account.metadata.toJson().annotations?.[key];
        if (set !== undefined && set !== value) {
          invalid(
            this,
            `remoteLogging.serviceAccountAnnotations["${key}"]`,
            value,
            `the value the pod options give ServiceAccount ${account.name} (${JSON.stringify(set)}), or another annotation`,
          );
        }
        account.metadata.addAnnotation(key, value);
      }
    }
    this.uiService = this.components[this.uiComponent].service!;

    this.podLauncher = new PodLauncherRbac(this, 'pod-launcher', { serviceAccountName: this.components[Components.SCHEDULER].name });
    this.migrations = new DbMigrations(this, 'db-migrations', {
      parts: parts('migrations', props.migrations),
      resources: this.resolveResources('migrations.resources', DbMigrations.DEFAULT_RESOURCES, props.migrations?.resources),
    });
    serviceAccounts[Components.DB_MIGRATE] = this.migrations.serviceAccount;
    this.adminUser = this.createAdminUser
      ? new AdminUser(this, 'admin-user', {
        parts: parts(''),
        passwordSecret: secrets.adminPassword,
        username: this.adminUsername,
        email: this.adminEmail,
      })
      : undefined;
    if (this.adminUser) serviceAccounts[Components.CREATE_USER] = this.adminUser.serviceAccount;
    this.volumePermissions = this.fixVolumePermissions
      ? new VolumePermissions(this, 'volume-permissions', {
        volumes,
        image: this.image,
        imagePullPolicy: this.imagePullPolicy,
        pod: resolvePodOptions(this, '', pickPlacement(this.podOptions)),
      })
      : undefined;
    if (this.volumePermissions) serviceAccounts[Components.VOLUME_PERMISSIONS] = this.volumePermissions.serviceAccount;
    this.serviceAccounts = serviceAccounts;
  }

  /**
   * The chart-wide pod options merged with a component's (`scheduler`, `apiServer`, `dagProcessor`,
   * `triggerer`, `worker`, `migrations`): maps merge key by key, lists are replaced. For pods added beside
   * the control plane (git-sync, metrics, Celery workers) that should be placed and labelled like it.
   */
  public podOptionsFor(override?: PodOptions): PodOptions {
    return mergePodOptions(this.podOptions, override);
  }

  /**
   * The options of `airflow.cfg` the library sets: executor, folders, concurrency, the pod template, and
   * remote logging and metrics when they are on.
   */
  private managedConfig(
    namespace: string,
    volumes: AirflowVolumes,
    uiServiceHost: string,
    remote: RemoteLoggingSettings | undefined,
    props: AirflowOptions,
  ): AirflowConfigValues {
    const ref = parseImageReference(this.workerImage);
    const managed: Record<string, Record<string, string | number | boolean>> = {
      core: {
        executor: this.executors.join(','),
        dags_folder: this.gitSync ? this.gitSync.dagsFolder : volumes.get('dags').mountPath,
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
        delete_worker_pods_on_failure: this.deleteFailedWorkerPods,
        worker_pods_creation_batch_size: this.workerPodsCreationBatchSize,
      },
    };
    if (volumes.has('logs')) {
      managed.logging = { base_log_folder: volumes.get('logs').mountPath };
    }
    if (props.celery !== undefined) {
      // The broker URL and the result backend hold the broker's password: they come from the environment.
      managed.celery = { worker_concurrency: validateInteger(this, 'celery.concurrency', props.celery.concurrency ?? 2, 1, 256) };
    }
    if (this.statsd) {
      managed.metrics = { statsd_on: true, statsd_host: this.statsd.host, statsd_port: this.statsd.port, statsd_prefix: 'airflow' };
    }
    for (const [section, keys] of Object.entries(remote?.config ?? {})) {
      managed[section] = { ...(managed[section] ?? {}), ...keys };
    }
    const generationManaged = this.generation.managedConfig({
      uiServiceHost,
      standaloneDagProcessor: this.standaloneDagProcessor,
      baseUrl: this.ingress?.url,
      basePath: this.ingress?.basePath,
    });
    for (const [section, keys] of Object.entries(generationManaged)) {
      managed[section] = { ...(managed[section] ?? {}), ...keys };
    }
    return managed;
  }

  /**
   * Options of airflow.cfg the deployment cannot follow, each with what to do instead: the UI's port and
   * address are what its probes, Service and the execution API URL are built on, and the executor works in
   * the chart's namespace with the scheduler's in-cluster token.
   */
  private refusedConfig(): Record<string, string> {
    const incluster = 'the scheduler runs in the cluster and launches task pods with its own ServiceAccount token';
    const oneNamespace = "not supported: the scheduler's Role grants pods in the chart's namespace only; run one deployment per namespace";
    return {
      [this.generation.baseUrlKey]: 'set by the "ingress" prop, which also keeps the execution API URL under the same path',
      [this.generation.uiPortKey]: `the UI listens on ${AIRFLOW_UI_PORT}: its container port, probes, Service and the execution API URL are built for it (expose it differently with apiServer.serviceType or ingress)`,
      [this.generation.uiHostKey]: 'the UI must listen on every address (the default) for its probes and its Service',
      'kubernetes_executor.multi_namespace_mode': oneNamespace,
      'kubernetes_executor.multi_namespace_mode_namespace_list': oneNamespace,
      'kubernetes_executor.in_cluster': incluster,
      'kubernetes_executor.config_file': incluster,
      'kubernetes_executor.cluster_context': incluster,
    };
  }

  /**
   * Options the library chooses and the user may change: no ANSI colours in `kubectl logs`, and on minikube
   * (hostPath volumes, filled by `minikube mount`) or with git-sync (a new commit every period) a new DAG
   * file is picked up within 30 s instead of Airflow's default of 5 minutes.
   */
  private defaultConfig(volumes: AirflowVolumes): AirflowConfigValues {
    const defaults: Record<string, Record<string, string | number | boolean>> = {
      ...this.generation.defaultConfig,
      logging: { colored_console_log: false },
    };
    if (volumes.provisioning.mode === StorageProvisioningMode.HOST_PATH || this.gitSync !== undefined) {
      const [section, key] = this.generation.dagListIntervalKey.split('.');
      defaults[section] = { ...(defaults[section] ?? {}), [key]: 30 };
    }
    return defaults;
  }

  /**
   * The UI, the scheduler, and the dag-processor and triggerer where they run; the scheduler with the log
   * groomer, and the pods that read DAG files with a git-sync sidecar in git-sync's sidecar mode.
   */
  private createComponents(
    parts: (property: string, override?: PodOptions) => AirflowPodParts,
    props: KubernetesExecutorAirflowProps,
    volumes: AirflowVolumes,
    schedulerEnv: k8s.EnvVar[],
  ): Record<string, AirflowComponent> {
    const jobsCheck = (jobType: string): k8s.Probe => ({
      exec: {
        command: ['sh', '-c', `AIRFLOW__LOGGING__LOGGING_LEVEL=ERROR exec airflow jobs check --job-type ${jobType} --local`],
      },
      initialDelaySeconds: 120,
      periodSeconds: 60,
      timeoutSeconds: 60,
      failureThreshold: 5,
    });
    const components: Record<string, AirflowComponent> = {};
    const add = (
      id: string,
      component: string,
      property: string,
      options: ComponentOptions | undefined,
      rest: Omit<AirflowComponentProps, 'parts' | 'component' | 'command' | 'resources' | 'replicas'>,
    ) => {
      const { replicas, resources, ...podOptions } = options ?? {};
      const gitSync = this.gitSync && readsDags.includes(component) ? this.gitSync.sidecarParts() : undefined;
      components[component] = new AirflowComponent(this, id, {
        parts: parts(property, podOptions),
        component,
        command: `airflow ${component}`,
        resources: this.resolveResources(`${property}.resources`, COMPONENT_RESOURCES[component], resources),
        replicas,
        ...rest,
        sidecars: [...(rest.sidecars ?? []), ...(gitSync?.containers ?? [])],
        extraVolumes: [...(rest.extraVolumes ?? []), ...(gitSync?.volumes ?? [])],
      });
    };
    // Who reads DAG files: the parser (the dag-processor, or the scheduler when it parses them itself) and
    // the triggerer. In git-sync's sidecar mode each of them syncs the DAGs itself.
    const readsDags: string[] = [this.standaloneDagProcessor ? Components.DAG_PROCESSOR : Components.SCHEDULER, Components.TRIGGERER];

    // The worker pod template is mounted where it is used: the scheduler creates pods from it, and the UI
    // shows it in a task's "K8s Pod Spec" view. The scheduler's pod also runs the log groomer, which removes
    // old task logs from the logs volume.
    const groomer = this.logRetentionDays > 0;
    add('scheduler', Components.SCHEDULER, 'scheduler', props.scheduler, {
      automountServiceAccountToken: true,
      // with celery: the broker's URL and the result backend (it sends Celery tasks and reads their results)
      extraEnv: schedulerEnv,
      extraVolumeMounts: [this.configuration.podTemplateMount()],
      livenessProbe: jobsCheck('SchedulerJob'),
      sidecars: groomer
        ? [
          logGroomerContainer({
            image: this.image,
            imagePullPolicy: this.imagePullPolicy,
            logsVolume: volumes.get('logs').name,
            logsPath: volumes.get('logs').mountPath,
            retentionDays: this.logRetentionDays,
          }),
        ]
        : [],
      extraVolumes: groomer ? [noTokenVolume()] : [],
    });
    const { serviceType, serviceAnnotations, ...apiServer } = props.apiServer ?? {};
    const probe = (path: string) => ({ path, port: k8s.IntOrString.fromString('http') });
    add('ui', this.uiComponent, 'apiServer', apiServer, {
      port: { containerPort: AIRFLOW_UI_PORT, servicePort: AIRFLOW_UI_PORT, serviceType, serviceAnnotations },
      rollingUpdate: true,
      extraVolumeMounts: [this.configuration.podTemplateMount()],
      // Startup and readiness ask the health endpoint (the database and every component's heartbeat);
      // liveness only whether the process answers, so that a slow database does not restart the UI.
      startupProbe: { httpGet: probe(this.generation.uiHealthPath), periodSeconds: 10, timeoutSeconds: 10, failureThreshold: 60 },
      readinessProbe: { httpGet: probe(this.generation.uiHealthPath), periodSeconds: 10, timeoutSeconds: 10, failureThreshold: 3 },
      livenessProbe: { httpGet: probe(this.generation.uiLivenessPath), periodSeconds: 30, timeoutSeconds: 30, failureThreshold: 5 },
    });
    if (this.standaloneDagProcessor) {
      add('dag-processor', Components.DAG_PROCESSOR, 'dagProcessor', props.dagProcessor, { livenessProbe: jobsCheck('DagProcessorJob') });
    }
    if (this.triggerer) {
      const { enabled, ...triggerer } = props.triggerer ?? {};
      add('triggerer', Components.TRIGGERER, 'triggerer', triggerer, { livenessProbe: jobsCheck('TriggererJob') });
    } else if (props.triggerer && Object.keys(props.triggerer).some((k) => k !== 'enabled')) {
      invalid(this, 'triggerer', props.triggerer, 'only { enabled: false } when the triggerer does not run');
    }
    return components;
  }

  /** `given` over `defaults`, each quantity checked, requests at most limits. */
  private resolveResources(property: string, defaults: ContainerResources, given: ResourceOptions | undefined): ContainerResources {
    const r = { ...defaults, ...withoutUndefined(given ?? {}) };
    const cpuReq = validateCpuQuantity(this, `${property}.cpuRequest`, r.cpuRequest);
    const cpuLim = validateCpuQuantity(this, `${property}.cpuLimit`, r.cpuLimit);
    const memReq = validateByteQuantity(this, `${property}.memoryRequest`, r.memoryRequest);
    const memLim = validateByteQuantity(this, `${property}.memoryLimit`, r.memoryLimit);
    if (cpuReq > cpuLim) invalid(this, `${property}.cpuRequest`, r.cpuRequest, `at most the CPU limit (${JSON.stringify(r.cpuLimit)})`);
    if (memReq > memLim) invalid(this, `${property}.memoryRequest`, r.memoryRequest, `at most the memory limit (${JSON.stringify(r.memoryLimit)})`);
    return r;
  }

  /**
   * `Always` makes the kubelet ask the registry before every container start: for the task pods, one
   * registry round trip (and, on Docker Hub, one pull counted against the rate limit) before each task.
   */
  private alwaysPullWarning(): string {
    const tag = parseImageReference(this.image).tag;
    return (
      `${this.constructor.name} at "${this.node.path}": imagePullPolicy "Always" makes every task pod ask the registry ` +
      'for the image before it starts (a round trip of its own per task, and on Docker Hub a pull counted against ' +
      'the rate limit; a registry outage stops every task). ' +
      (tag === undefined || tag === 'latest'
        ? `Give the image a tag of its own per build instead of "${tag ?? 'latest'}", and use "IfNotPresent".`
        : `The tag "${tag}" is pinned: "IfNotPresent" (the default) pulls it once per node.`) +
      ' See docs/task-start.md.'
    );
  }

  /** A tagged image that has what the deployment needs (not a digest, not the official slim image). */
  private validateAirflowImage(image: string): string {
    validateImage(this, 'image', image);
    const ref = parseImageReference(image);
    if (ref.digest !== undefined) {
      invalid(
        this,
        'image',
        image,
        'an image reference by tag: the KubernetesExecutor names the task image as ' +
          '[kubernetes_executor] worker_container_repository:worker_container_tag, which cannot hold a digest',
        `Did you mean ${JSON.stringify(`${ref.repository}:${ref.tag ?? '<tag>'}`)}?`,
      );
    }
    if (AirflowVersion.isSlimImage(image)) {
      invalid(
        this,
        'image',
        image,
        'an image with the apache-airflow-providers-cncf-kubernetes (the KubernetesExecutor), -postgres (the ' +
          'metadata database) and -fab (the UI login) packages: the official slim image has none of them',
        `Use ${JSON.stringify(`${ref.repository}:${ref.tag!.replace(/^slim-/, '')}`)}, or build your own image FROM the slim one with those providers and give it your own tag.`,
      );
    }
    return image;
  }

  private validateVolumes(volumes: AirflowVolumes, gitSync: AirflowOptions['gitSync']): AirflowVolumes {
    if (!volumes || !(volumes instanceof AirflowVolumes)) {
      invalid(this, 'volumes', volumes, 'the AirflowVolumes of the chart');
    }
    if (!volumes.has('dags') && gitSync?.mode !== GitSyncMode.SIDECARS) {
      invalid(this, 'volumes', volumes.names, 'volumes that include "dags": it is the DAGs folder of every component');
    }
    if (volumes.has(AIRFLOW_CONFIG_VOLUME_NAME)) {
      invalid(this, 'volumes', volumes.names, `no volume named "${AIRFLOW_CONFIG_VOLUME_NAME}" (the configuration's volume)`);
    }
    return volumes;
  }

  /** The days of log retention: the given or default number with a logs volume, 0 without one. */
  private resolveLogRetention(days: number | undefined, volumes: AirflowVolumes): number {
    const value = validateInteger(this, 'logRetentionDays', days ?? DEFAULT_LOG_RETENTION_DAYS, 0, 3650);
    if (volumes.has('logs')) return value;
    if (days !== undefined && days > 0) {
      invalid(this, 'logRetentionDays', days, `0 or unset: there is no "logs" volume (${volumes.names.join(', ')}) to remove task logs from`);
    }
    return 0;
  }

  private resolveVersion(explicit: string | undefined): [AirflowVersion, AirflowGeneration] {
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
    const generation = AirflowGeneration.of(version);
    if (!generation) {
      invalid(
        this,
        'airflowVersion',
        version.toString(),
        `Airflow 3.x, or Airflow 2.x from ${MINIMUM_AIRFLOW_2_VERSION} (the first with "airflow db migrate")`,
      );
    }
    return [version, generation];
  }

  /**
   * Every image a task pod runs, each once: the task's image (`workerImage`) and the images of the pod
   * template's other containers (git-sync's init container in `GitSyncMode.SIDECARS`). What `ImagePrePull`
   * keeps on the nodes; images a task names in its own `executor_config` are not known here.
   */
  public get taskPodImages(): string[] {
    const spec = (this.renderWorkerPodTemplate() as { spec: k8s.PodSpec }).spec;
    return [...new Set([this.workerImage, ...[...(spec.initContainers ?? []), ...spec.containers].map((c) => c.image!)])];
  }

  /**
   * The worker pod template as it will be synthesized (the Pod manifest in the ConfigMap): a frozen copy, built
   * from the volumes, image and options as they are now. Change those (e.g. add a volume), not the copy.
   */
  public get workerPodTemplate(): Record<string, unknown> {
    return deepFreeze(this.renderWorkerPodTemplate());
  }

  /**
   * The secrets given, checked; or references to the chart's AirflowSecrets, resolved at synth. `broker`:
   * whether the Celery broker's password is needed (Celery workers with the in-cluster broker).
   */
  private resolveSecrets(secrets: IAirflowSecrets | undefined, broker: boolean): IAirflowSecrets {
    if (secrets === undefined) {
      const fromChart = (field: keyof IAirflowSecrets) => chartSecretRef(this, field, `secrets.${field}`);
      return {
        fernetKey: fromChart('fernetKey'),
        apiSecretKey: fromChart('apiSecretKey'),
        adminPassword: fromChart('adminPassword'),
        ...(this.generation.usesJwtSecret ? { jwtSecret: fromChart('jwtSecret') } : {}),
        ...(broker ? { brokerPassword: fromChart('brokerPassword') } : {}),
      };
    }
    if (typeof secrets !== 'object' || secrets === null) {
      invalid(this, 'secrets', secrets, 'the Secret keys of fernetKey, apiSecretKey, jwtSecret and adminPassword (AirflowSecrets)');
    }
    for (const field of ['fernetKey', 'apiSecretKey', 'adminPassword'] as const) {
      validateSecretKeyRef(this, `secrets.${field}`, secrets[field]);
    }
    if (this.generation.usesJwtSecret) {
      if (secrets.jwtSecret === undefined) {
        invalid(
          this,
          'secrets.jwtSecret',
          undefined,
          `a Secret key reference { name, key } on ${this.generation.name}: [api_auth] jwt_secret signs the tokens of the API and the execution API`,
        );
      }
      validateSecretKeyRef(this, 'secrets.jwtSecret', secrets.jwtSecret);
    }
    if (broker) {
      if (secrets.brokerPassword === undefined) {
        invalid(
          this,
          'secrets.brokerPassword',
          undefined,
          "a Secret key reference { name, key } of the Celery broker's password, when Celery workers run with the in-cluster broker",
          'Add brokerPassword to AirflowSecrets.fromExistingSecrets(...) / existingSecrets, or give celery an externalBroker.',
        );
      }
      validateSecretKeyRef(this, 'secrets.brokerPassword', secrets.brokerPassword);
    }
    return secrets;
  }


}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** The default resources of a task pod. */
export const DEFAULT_WORKER_RESOURCES: ContainerResources = { cpuRequest: '100m', memoryRequest: '256Mi', cpuLimit: '1', memoryLimit: '1Gi' };

const POD_OPTION_KEYS = [
  'imagePullSecrets',
  'nodeSelector',
  'tolerations',
  'affinity',
  'topologySpreadConstraints',
  'priorityClassName',
  'podLabels',
  'podAnnotations',
  'env',
  'envFrom',
  'extraVolumes',
  'serviceAccountAnnotations',
] as const;

const PLACEMENT_KEYS = ['imagePullSecrets', 'nodeSelector', 'tolerations', 'affinity', 'topologySpreadConstraints', 'priorityClassName', 'podLabels', 'podAnnotations'] as const;

/** The pod options among the props (the chart-wide ones). */
function pickPodOptions(props: PodOptions): PodOptions {
  return withoutUndefined(Object.fromEntries(POD_OPTION_KEYS.map((k) => [k, props[k]]))) as PodOptions;
}

/** The placement and metadata options only (for pods that are not Airflow's: Postgres, the bootstrap Job). */
export function pickPlacement(options: PodPlacementOptions): PodPlacementOptions {
  return withoutUndefined(Object.fromEntries(PLACEMENT_KEYS.map((k) => [k, options[k]]))) as PodPlacementOptions;
}

function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
