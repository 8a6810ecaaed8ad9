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
  validateChoice,
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
import { AIRFLOW_CONFIG_VOLUME_NAME, AirflowConfiguration, POD_TEMPLATE_FILE_PATH } from './airflow-configuration';
import { AirflowEnvironment, airflowEnvironment } from './airflow-environment';
import { AirflowIngress } from './airflow-ingress';
import { AirflowOptions, ComponentOptions } from './airflow-options';
import { CeleryOptions } from '../celery/celery-options';
import { CeleryWorkers } from '../celery/celery-workers';
import { DbMigrations } from './db-migrations';
import { GitSyncDags, GitSyncMode } from '../git-sync/git-sync-dags';
import { logGroomerContainer, noTokenVolume } from '../logging/log-groomer';
import { PodLauncherRbac } from './pod-launcher-rbac';
import { AirflowPodParts, ContainerResources, ResolvedPodOptions, airflowServiceAccount, resolvePodOptions, resolveResources } from './pod-parts';
import { RemoteLogging, RemoteLoggingSettings } from '../logging/remote-logging';
import { StatsdExporter } from '../metrics/statsd-exporter';
import { VolumePermissions } from './volume-permissions';
import { workerPodTemplate } from './worker-pod-template';


/**
 * The resources of the long-running components, sized for a 2 CPU / 4 GiB minikube node shared with the
 * metadata database, Kubernetes' own pods and the task pods, from the memory the runtime stage measured on
 * the real Airflow 3.1 (docs/benchmark.md, docs/runtime-tests.md): the memory request is the largest PSS at
 * idle or while a task runs, rounded up to 32Mi; the limit keeps the largest RSS seen (liveness probes
 * included: `airflow jobs check` starts a second Python process in the container, about 200 MiB) at or below
 * about 70% of it, so that the runtime stage's rule (at most 80%) holds with a margin. Limits do not count
 * when pods are placed: a higher one costs no task pod on the node. The api-server's figure is with `[api] workers = 1` (the library's default; 4 workers use about
 * 1.5 GiB). The webserver (Airflow 2) is not measured and keeps its earlier, larger size. CPU is not measured.
 */
export const COMPONENT_RESOURCES: Readonly<Record<string, ContainerResources>> = {
  [Components.SCHEDULER]: { cpuRequest: '150m', memoryRequest: '448Mi', cpuLimit: '1', memoryLimit: '1408Mi' },
  [Components.API_SERVER]: { cpuRequest: '150m', memoryRequest: '320Mi', cpuLimit: '1', memoryLimit: '768Mi' },
  [Components.WEBSERVER]: { cpuRequest: '150m', memoryRequest: '512Mi', cpuLimit: '1', memoryLimit: '1536Mi' },
  [Components.DAG_PROCESSOR]: { cpuRequest: '100m', memoryRequest: '384Mi', cpuLimit: '1', memoryLimit: '1Gi' },
  [Components.TRIGGERER]: { cpuRequest: '50m', memoryRequest: '448Mi', cpuLimit: '500m', memoryLimit: '1152Mi' },
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
  private readonly volumes: AirflowVolumes;
  private readonly database: IMetadataDatabase;
  private readonly env: AirflowEnvironment;
  private readonly reserved: { env: string[]; volumes: string[] };

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
    this.volumes = this.validateVolumes(props.volumes, props.gitSync);
    if (!props.database) invalid(this, 'database', props.database, 'the metadata database (MetadataDb)');
    this.database = props.database;

    // What runs: the image, its Airflow version and generation, the executors, where the secrets are.
    this.image = this.validateAirflowImage(props.image ?? DEFAULT_AIRFLOW_IMAGE);
    this.workerImage = this.image;
    [this.airflowVersion, this.generation] = this.resolveVersion(props.airflowVersion);
    this.executors = this.resolveExecutors(props.celery);
    const inClusterBroker = props.celery !== undefined && props.celery.externalBroker === undefined;
    if (inClusterBroker) requestAirflowSecret(this, 'brokerPassword'); // the generated Secret then holds it
    this.secrets = this.resolveSecrets(props.secrets, inClusterBroker);
    this.imagePullPolicy = validateChoice(this, 'imagePullPolicy', props.imagePullPolicy ?? 'IfNotPresent', IMAGE_PULL_POLICIES);
    if (this.imagePullPolicy === 'Always') this.warnings.push(this.alwaysPullWarning());

    // Which components run, and the bounds of the executor: defaults resolved once.
    this.standaloneDagProcessor = this.resolveStandaloneDagProcessor(props);
    this.triggerer = props.triggerer?.enabled ?? true;
    this.uiComponent = this.generation.uiComponent;
    this.parallelism = validateInteger(this, 'parallelism', props.parallelism ?? 4, 1, 10_000);
    this.defaultPoolSlots = this.resolveDefaultPoolSlots(props.defaultPoolSlots);
    this.workerPodsCreationBatchSize = validateInteger(
      this,
      'workerPodsCreationBatchSize',
      props.workerPodsCreationBatchSize ?? this.parallelism,
      1,
      10_000,
    );
    this.deleteFailedWorkerPods = props.deleteFailedWorkerPods ?? true;
    this.workerResources = resolveResources(this, 'worker.resources', DEFAULT_WORKER_RESOURCES, props.worker?.resources);
    this.clusterDomain = validateDnsSubdomain(this, 'clusterDomain', props.clusterDomain ?? 'cluster.local');
    this.config = props.config ?? {};
    this.createAdminUser = props.createAdminUser ?? true;
    this.adminUsername = props.adminUsername ?? 'admin';
    this.adminEmail = props.adminEmail ?? 'admin@example.com';
    this.podOptions = pickPodOptions(props);
    this.fixVolumePermissions = (props.fixVolumePermissions ?? true) && this.volumes.provisioning.mode === StorageProvisioningMode.HOST_PATH;
    this.node.addValidation({ validate: () => (this.warnings.forEach((w) => console.warn(`Warning: ${w}`)), []) });

    // DAGs from git, remote logging, log retention, metrics: each off unless asked for (retention: on when
    // there is a logs volume); then the Ingress in front of the UI (its URL is [api] base_url).
    this.gitSync = this.createGitSync(props.gitSync);
    this.remoteLogging = this.validateRemoteLogging(props.remoteLogging);
    const remote = this.remoteLogging?.settings(this, 'remoteLogging');
    this.logRetentionDays = this.resolveLogRetention(props.logRetentionDays, this.volumes);
    this.statsd = this.createStatsd(props.metrics);
    this.ingress = props.ingress
      ? new AirflowIngress(this, 'ingress', { ...props.ingress, component: this.uiComponent, serviceName: this.uiServiceName, servicePort: AIRFLOW_UI_PORT })
      : undefined;

    // The environment of the Airflow containers and of the task pods, and the names pod options cannot take.
    this.env = airflowEnvironment(this.generation, this.database, this.secrets, remote);
    this.reserved = this.reservedNames();
    resolvePodOptions(this, '', this.podOptions, this.reserved.env, this.reserved.volumes); // the chart-wide ones, checked once

    // The configuration (airflow.cfg), then the worker pod template it holds beside airflow.cfg.
    this.configuration = new AirflowConfiguration(this, 'configuration', {
      generation: this.generation,
      managed: this.managedConfig(namespace, `${this.uiServiceName}.${namespace}.svc.${this.clusterDomain}`, remote, props),
      managedByProp: managedByProp(this.generation),
      refused: this.refusedConfig(),
      defaults: this.defaultConfig(),
      config: props.config,
    });
    const worker = this.createWorkerPodTemplate(props.worker);
    this.renderWorkerPodTemplate = worker.render;
    this.configuration.setWorkerPodTemplate(() => this.workerPodTemplate);
    this.refuseLogsVolumeAddedLater();

    // The Celery workers (and their broker), the long-running components, the one-shot Jobs.
    this.celery = props.celery !== undefined ? this.createCeleryWorkers(props.celery, inClusterBroker) : undefined;
    this.components = this.createComponents(props, this.celery?.brokerEnv({ optionalPassword: true }) ?? []);
    this.deployments = Object.fromEntries(Object.entries(this.components).map(([name, c]) => [name, c.deployment]));
    this.uiService = this.components[this.uiComponent].service!;
    this.annotateForRemoteLogging(
      [worker.serviceAccount, ...(this.celery ? [this.celery.serviceAccount] : []), ...Object.values(this.components).map((c) => c.serviceAccount)],
      remote,
    );
    this.podLauncher = new PodLauncherRbac(this, 'pod-launcher', { serviceAccountName: this.components[Components.SCHEDULER].name });
    this.migrations = new DbMigrations(this, 'db-migrations', {
      parts: this.podParts('migrations', props.migrations),
      resources: resolveResources(this, 'migrations.resources', DbMigrations.DEFAULT_RESOURCES, props.migrations?.resources),
    });
    this.adminUser = this.createAdminUser
      ? new AdminUser(this, 'admin-user', {
        parts: this.podParts(''),
        passwordSecret: this.secrets.adminPassword,
        username: this.adminUsername,
        email: this.adminEmail,
      })
      : undefined;
    this.volumePermissions = this.fixVolumePermissions
      ? new VolumePermissions(this, 'volume-permissions', {
        volumes: this.volumes,
        image: this.image,
        imagePullPolicy: this.imagePullPolicy,
        pod: resolvePodOptions(this, '', pickPlacement(this.podOptions)),
      })
      : undefined;
    this.serviceAccounts = {
      [Components.WORKER]: worker.serviceAccount,
      ...(this.celery ? { [Components.CELERY_WORKER]: this.celery.serviceAccount } : {}),
      ...(this.celery?.broker ? { [Components.REDIS]: this.celery.broker.serviceAccount } : {}),
      ...Object.fromEntries(Object.entries(this.components).map(([name, c]) => [name, c.serviceAccount])),
      [Components.DB_MIGRATE]: this.migrations.serviceAccount,
      ...(this.adminUser ? { [Components.CREATE_USER]: this.adminUser.serviceAccount } : {}),
      ...(this.volumePermissions ? { [Components.VOLUME_PERMISSIONS]: this.volumePermissions.serviceAccount } : {}),
    };
  }

  /**
   * The chart-wide pod options merged with a component's (`scheduler`, `apiServer`, `dagProcessor`,
   * `triggerer`, `worker`, `migrations`): maps merge key by key, lists are replaced. For pods added beside
   * the control plane (git-sync, metrics, Celery workers) that should be placed and labelled like it.
   */
  public podOptionsFor(override?: PodOptions): PodOptions {
    return mergePodOptions(this.podOptions, override);
  }

  /** The name of the UI's Service (and Deployment): `airflow-api-server` or `airflow-webserver`. */
  private get uiServiceName(): string {
    return `airflow-${this.uiComponent}`;
  }

  /**
   * The executors of `[core] executor`, the default first: the KubernetesExecutor alone, or beside the
   * CeleryExecutor (Airflow 2.10+ runs several at once).
   */
  private resolveExecutors(celery: CeleryOptions | undefined): string[] {
    if (celery === undefined) return ['KubernetesExecutor'];
    if (!this.airflowVersion.supportsMultipleExecutors) {
      invalid(
        this,
        'celery',
        celery,
        `no Celery workers on Airflow ${this.airflowVersion}: they run beside the KubernetesExecutor ` +
          `([core] executor = KubernetesExecutor,CeleryExecutor), and Airflow runs several executors at once only ` +
          `from ${MINIMUM_MULTIPLE_EXECUTORS_VERSION}`,
        `Use an image of Airflow ${MINIMUM_MULTIPLE_EXECUTORS_VERSION} or newer (2.11, 3.x), or leave celery unset.`,
      );
    }
    return celery.defaultExecutor ? ['CeleryExecutor', 'KubernetesExecutor'] : ['KubernetesExecutor', 'CeleryExecutor'];
  }

  /** Whether DAG files are parsed by a dag-processor of their own (required on Airflow 3). */
  private resolveStandaloneDagProcessor(props: KubernetesExecutorAirflowProps): boolean {
    const standalone = props.standaloneDagProcessor ?? this.generation.standaloneDagProcessorByDefault;
    if (this.generation.requiresStandaloneDagProcessor && !standalone) {
      invalid(
        this,
        'standaloneDagProcessor',
        false,
        `true (or unset) on ${this.generation.name}: its scheduler no longer parses DAG files, the dag-processor does`,
      );
    }
    if (props.dagProcessor !== undefined && !standalone) {
      invalid(this, 'dagProcessor', props.dagProcessor, 'nothing without a standalone dag-processor', 'Set standaloneDagProcessor: true.');
    }
    return standalone;
  }

  /** The slots of default_pool: `parallelism` unless given; fewer is allowed, with a warning. */
  private resolveDefaultPoolSlots(given: number | undefined): number {
    const slots = validateInteger(this, 'defaultPoolSlots', given ?? this.parallelism, 1, 10_000);
    if (slots < this.parallelism) {
      this.warnings.push(
        `${this.constructor.name} at "${this.node.path}": defaultPoolSlots (${slots}) is smaller than parallelism ` +
          `(${this.parallelism}): at most ${slots} tasks of default_pool run at once. Raise defaultPoolSlots, or ` +
          'give tasks pools of their own.',
      );
    }
    return slots;
  }

  /** git-sync when asked for, its pods placed like the control plane's. */
  private createGitSync(options: AirflowOptions['gitSync']): GitSyncDags | undefined {
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      invalid(this, 'gitSync', options, "the git-sync options, e.g. { repository: 'https://github.com/org/dags.git', branch: 'main' }");
    }
    return options
      ? new GitSyncDags(this, 'git-sync', { ...options, ...pickPlacement(this.podOptionsFor(pickPlacement(options))), volumes: this.volumes })
      : undefined;
  }

  private validateRemoteLogging(remoteLogging: RemoteLogging | undefined): RemoteLogging | undefined {
    if (remoteLogging !== undefined && !(remoteLogging instanceof RemoteLogging)) {
      invalid(this, 'remoteLogging', remoteLogging, 'RemoteLogging.s3({ ... }), RemoteLogging.gcs({ ... }) or RemoteLogging.azureBlob({ ... })');
    }
    return remoteLogging;
  }

  /** The StatsD exporter when `metrics` is on, placed like the control plane. */
  private createStatsd(metrics: boolean | undefined): StatsdExporter | undefined {
    if (metrics !== undefined && typeof metrics !== 'boolean') invalid(this, 'metrics', metrics, 'true or false');
    return metrics ? new StatsdExporter(this, 'statsd', { clusterDomain: this.clusterDomain, ...pickPlacement(this.podOptions) }) : undefined;
  }

  /**
   * The env and volume names the library sets in Airflow's pods: pod options (`env`, `extraVolumes`) may
   * not take them.
   */
  private reservedNames(): { env: string[]; volumes: string[] } {
    return {
      env: [...new Set([...this.env.controlPlane, ...this.env.worker].map((e) => e.name))],
      volumes: [
        ...new Set([
          ...this.volumes.names,
          AIRFLOW_CONFIG_VOLUME_NAME,
          ...(this.gitSync ? ['dags', ...this.gitSync.sidecarParts().volumes.map((v) => v.name)] : []),
          ...(this.logRetentionDays > 0 ? [noTokenVolume().name] : []),
        ]),
      ],
    };
  }

  /** A component's pod options (chart-wide merged with `override`), checked and made concrete. */
  private resolvedPodOptions(property: string, override?: PodOptions): ResolvedPodOptions {
    return resolvePodOptions(this, property, mergePodOptions(this.podOptions, override), this.reserved.env, this.reserved.volumes);
  }

  /**
   * The volumes of every Airflow pod, read at synth (a volume added to AirflowVolumes later is mounted
   * everywhere). With git-sync, Airflow mounts the DAGs read-only: the dags claim (shared volume) or an
   * emptyDir (sidecars).
   */
  private airflowPodVolumes(): k8s.Volume[] {
    return [...(this.gitSync?.airflowPodVolumes() ?? []), ...this.volumes.podVolumes(), this.configuration.podVolume()];
  }

  /** Their mounts in every Airflow container. */
  private airflowVolumeMounts(): k8s.VolumeMount[] {
    const gitSync = this.gitSync;
    return [
      ...(gitSync ? [gitSync.airflowVolumeMount()] : []),
      ...this.volumes.volumeMounts().filter((m) => !gitSync || m.name !== gitSync.airflowVolumeMount().name),
      this.configuration.airflowCfgMount(),
    ];
  }

  /** What every control-plane pod is built from: image, env, volumes, the database wait, pod options. */
  private podParts(property: string, override?: PodOptions): AirflowPodParts {
    return {
      airflowVersion: this.airflowVersion,
      image: this.image,
      imagePullPolicy: this.imagePullPolicy,
      env: this.env.controlPlane,
      volumes: () => this.airflowPodVolumes(),
      volumeMounts: () => this.airflowVolumeMounts(),
      configChecksum: this.configuration.checksumAtSynth(),
      // The database's wait-for-db runs in the Airflow image: give it the same pull policy (a local
      // ":latest" image would otherwise default to Always and fail to pull).
      waitForDatabase: {
        ...this.database.waitForDatabaseContainer(this.image, airflowContainerSecurityContext()),
        imagePullPolicy: this.imagePullPolicy,
      },
      pod: this.resolvedPodOptions(property, override),
    };
  }

  /** The task pods' ServiceAccount, and their pod template rendered at synth. */
  private createWorkerPodTemplate(options: ComponentOptions | undefined): {
    serviceAccount: k8s.KubeServiceAccount;
    render: () => Record<string, unknown>;
  } {
    const workerGitSync = this.gitSync?.workerParts();
    const pod = this.resolvedPodOptions('worker', options);
    const serviceAccountName = `airflow-${Components.WORKER}`;
    const serviceAccount = airflowServiceAccount(this, 'worker-service-account', serviceAccountName, Components.WORKER, false, pod.serviceAccountAnnotations);
    const render = () =>
      workerPodTemplate({
        image: this.workerImage,
        imagePullPolicy: this.imagePullPolicy,
        env: this.env.worker,
        initContainers: workerGitSync?.initContainers,
        volumes: [...this.airflowPodVolumes(), ...(workerGitSync?.volumes ?? [])],
        volumeMounts: this.airflowVolumeMounts(),
        serviceAccountName,
        labels: airflowLabels(Components.WORKER),
        resources: this.workerResources,
        pod,
      });
    return { serviceAccount, render };
  }

  /** [logging] base_log_folder is set from the logs volume when the control plane is built: a later one is an error. */
  private refuseLogsVolumeAddedLater(): void {
    const volumes = this.volumes;
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
  }

  /**
   * The Celery workers run tasks as the task pods do, with their environment (on Airflow 3 no database
   * credentials; remote logging's connection where task logs are uploaded); they and the scheduler get the
   * broker's. Their pods take the chart-wide pod options merged with the celery ones, Redis the chart-wide
   * placement (it is not an Airflow pod). In git-sync's sidecar mode they sync the DAGs themselves.
   */
  private createCeleryWorkers(celery: CeleryOptions, inClusterBroker: boolean): CeleryWorkers {
    const { replicas, resources, concurrency, queues, terminationGracePeriodSeconds, defaultExecutor, externalBroker, redis, ...celeryPod } = celery;
    const celeryGitSync = this.gitSync?.sidecarParts();
    return new CeleryWorkers(this, 'celery', {
      replicas,
      resources,
      concurrency,
      queues,
      terminationGracePeriodSeconds,
      externalBroker,
      redis,
      pod: resolvePodOptions(this, 'celery', this.podOptionsFor(celeryPod), [...this.reserved.env, ...CeleryWorkers.RESERVED_ENV], this.reserved.volumes),
      generation: this.generation,
      image: this.image,
      imagePullPolicy: this.imagePullPolicy,
      taskEnv: this.env.worker,
      airflowVolumes: () => this.airflowPodVolumes(),
      airflowVolumeMounts: () => this.airflowVolumeMounts(),
      sidecars: celeryGitSync?.containers,
      sidecarVolumes: celeryGitSync?.volumes,
      configChecksum: this.configuration.checksumAtSynth(),
      brokerPassword: inClusterBroker ? this.secrets.brokerPassword : undefined,
      brokerPlacement: pickPlacement(this.podOptions),
      clusterDomain: this.clusterDomain,
      defaultQueue: this.configuration.get('operators', 'default_queue'),
    });
  }

  /** The cloud identity of remote logging, on every ServiceAccount whose pods write or read task logs. */
  private annotateForRemoteLogging(accounts: k8s.KubeServiceAccount[], remote: RemoteLoggingSettings | undefined): void {
    for (const account of accounts) {
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
  }

  /**
   * The options of `airflow.cfg` the library sets: executor, folders, concurrency, the pod template, and
   * remote logging and metrics when they are on.
   */
  private managedConfig(
    namespace: string,
    uiServiceHost: string,
    remote: RemoteLoggingSettings | undefined,
    props: AirflowOptions,
  ): AirflowConfigValues {
    const volumes = this.volumes;
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
  private defaultConfig(): AirflowConfigValues {
    const defaults: Record<string, Record<string, string | number | boolean>> = {
      ...this.generation.defaultConfig,
      logging: { colored_console_log: false },
    };
    if (this.volumes.provisioning.mode === StorageProvisioningMode.HOST_PATH || this.gitSync !== undefined) {
      const [section, key] = this.generation.dagListIntervalKey.split('.');
      defaults[section] = { ...(defaults[section] ?? {}), [key]: 30 };
    }
    return defaults;
  }

  /**
   * The UI, the scheduler, and the dag-processor and triggerer where they run; the scheduler with the log
   * groomer, and the pods that read DAG files with a git-sync sidecar in git-sync's sidecar mode.
   */
  private createComponents(props: KubernetesExecutorAirflowProps, schedulerEnv: k8s.EnvVar[]): Record<string, AirflowComponent> {
    const volumes = this.volumes;
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
        parts: this.podParts(property, podOptions),
        component,
        command: `airflow ${component}`,
        resources: resolveResources(this, `${property}.resources`, COMPONENT_RESOURCES[component], resources),
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

/** The options of airflow.cfg set from a prop, by the prop: a user setting one in `config` is told to use the prop. */
function managedByProp(generation: AirflowGeneration): Record<string, string> {
  return {
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
  };
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
