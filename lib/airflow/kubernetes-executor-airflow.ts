import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import {
  AIRFLOW_UI_PORT,
  AirflowGeneration,
  AirflowVersion,
  Components,
  DEFAULT_AIRFLOW_IMAGE,
  IAirflowSecrets,
  MINIMUM_AIRFLOW_2_VERSION,
  MINIMUM_MULTIPLE_EXECUTORS_VERSION,
  airflowLabels,
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
import { AirflowVolumes } from '../storage';
import { AdminUser } from './admin-user';
import { AirflowComponent } from './airflow-component';
import { AirflowConfigValues } from './airflow-config-keys';
import { AIRFLOW_CFG_PATH, AIRFLOW_CONFIG_VOLUME_NAME, AirflowConfiguration, POD_TEMPLATE_FILE_PATH } from './airflow-configuration';
import { AirflowOptions } from './airflow-options';
import { CeleryWorkers } from './celery-workers';
import { DbMigrations } from './db-migrations';
import { PodLauncherRbac } from './pod-launcher-rbac';
import { AirflowPodParts, ContainerResources, airflowServiceAccount } from './pod-parts';
import { workerPodTemplate } from './worker-pod-template';

/** The image pull policies. */
export const IMAGE_PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;

/**
 * The resources of the long-running components, sized for a 2 CPU / 4 GiB minikube node shared with the
 * metadata database, Kubernetes' own pods and the task pods (see docs/airflow.md for the totals). Requests
 * are what the component needs when idle; limits leave room for start-up and for the `airflow jobs check`
 * liveness probe, which starts a second Python process inside the container.
 */
export const COMPONENT_RESOURCES: Readonly<Record<string, ContainerResources>> = {
  [Components.SCHEDULER]: { cpuRequest: '150m', memoryRequest: '384Mi', cpuLimit: '1', memoryLimit: '1536Mi' },
  [Components.API_SERVER]: { cpuRequest: '150m', memoryRequest: '512Mi', cpuLimit: '1', memoryLimit: '1536Mi' },
  [Components.WEBSERVER]: { cpuRequest: '150m', memoryRequest: '512Mi', cpuLimit: '1', memoryLimit: '1536Mi' },
  [Components.DAG_PROCESSOR]: { cpuRequest: '100m', memoryRequest: '384Mi', cpuLimit: '1', memoryLimit: '1Gi' },
  [Components.TRIGGERER]: { cpuRequest: '50m', memoryRequest: '256Mi', cpuLimit: '500m', memoryLimit: '768Mi' },
};

/** Props for {@link KubernetesExecutorAirflow}: what it runs on, and how Airflow runs ({@link AirflowOptions}). */
export interface KubernetesExecutorAirflowProps extends AirflowOptions {
  /** The dags, logs and data volumes, mounted into every Airflow container and every task pod. Must have `dags`. */
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

  constructor(scope: Construct, id: string, props: KubernetesExecutorAirflowProps) {
    super(scope, id);
    const namespace = namespaceOf(this);
    const volumes = this.validateVolumes(props.volumes);
    if (!props.database) invalid(this, 'database', props.database, 'the metadata database (MetadataDb)');

    // Image, version and generation.
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
    this.triggerer = props.triggerer ?? true;
    this.uiComponent = generation.uiComponent;
    this.parallelism = validateInteger(this, 'parallelism', props.parallelism ?? 4, 1, 10_000);
    this.defaultPoolSlots = validateInteger(this, 'defaultPoolSlots', props.defaultPoolSlots ?? 2, 1, 10_000);
    this.workerPodsCreationBatchSize = validateInteger(
      this,
      'workerPodsCreationBatchSize',
      props.workerPodsCreationBatchSize ?? this.parallelism,
      1,
      10_000,
    );
    this.deleteFailedWorkerPods = props.deleteFailedWorkerPods ?? true;
    this.workerResources = this.validateWorkerResources(props);
    this.clusterDomain = validateDnsSubdomain(this, 'clusterDomain', props.clusterDomain ?? 'cluster.local');
    this.config = props.config ?? {};
    this.createAdminUser = props.createAdminUser ?? true;
    this.adminUsername = props.adminUsername ?? 'admin';
    this.adminEmail = props.adminEmail ?? 'admin@example.com';

    // Environment: the path of airflow.cfg, and the secrets by reference (never in airflow.cfg). Task pods:
    // on Airflow 2 a task talks to the database itself; on Airflow 3 it talks only to the api-server's
    // Execution API (with a token the scheduler gives it), so its pod gets no database credentials and no
    // fernet key (connections come back from the API already decrypted). CONNECTION_CHECK_MAX_COUNT=0: the
    // image's entrypoint would otherwise run `airflow db check` (a whole Python start, seconds) before every
    // task; task start time is the KubernetesExecutor's weak point.
    const databaseEnv: k8s.EnvVar[] = [
      { name: 'AIRFLOW_CONFIG', value: AIRFLOW_CFG_PATH },
      ...props.database.airflowConnectionEnv(),
      secretEnv('AIRFLOW__CORE__FERNET_KEY', secrets.fernetKey),
    ];
    const controlPlaneEnv = [...databaseEnv, ...generation.keyEnv(secrets)];
    const workerEnv: k8s.EnvVar[] = [
      ...(generation.workersUseDatabase ? databaseEnv : [{ name: 'AIRFLOW_CONFIG', value: AIRFLOW_CFG_PATH }]),
      { name: 'CONNECTION_CHECK_MAX_COUNT', value: '0' },
    ];

    // Service accounts: only the scheduler's has a token (it creates the task pods).
    const serviceAccounts: Record<string, k8s.KubeServiceAccount> = {};
    const workerServiceAccount = `airflow-${Components.WORKER}`;
    serviceAccounts[Components.WORKER] = airflowServiceAccount(
      this,
      'worker-service-account',
      workerServiceAccount,
      Components.WORKER,
      false,
    );

    // The configuration (airflow.cfg), then the worker pod template it holds beside airflow.cfg.
    const uiName = `airflow-${this.uiComponent}`;
    this.configuration = new AirflowConfiguration(this, 'configuration', {
      generation,
      managed: this.managedConfig(namespace, volumes, `${uiName}.${namespace}.svc.${this.clusterDomain}`, props),
      managedByProp: {
        'core.parallelism': 'parallelism',
        'core.default_pool_task_slot_count': 'defaultPoolSlots',
        'kubernetes_executor.worker_pods_creation_batch_size': 'workerPodsCreationBatchSize',
        'kubernetes_executor.delete_worker_pods_on_failure': 'deleteFailedWorkerPods',
        'kubernetes_executor.worker_container_repository': 'image',
        'kubernetes_executor.worker_container_tag': 'image',
        'scheduler.standalone_dag_processor': 'standaloneDagProcessor',
        'core.executor': 'celery',
        'celery.worker_concurrency': 'celery.concurrency',
      },
      config: props.config,
    });
    // Volumes are read at synth: a volume added to AirflowVolumes after this point is mounted everywhere.
    const podVolumes = (): k8s.Volume[] => [...volumes.podVolumes(), this.configuration.podVolume()];
    const volumeMounts = (): k8s.VolumeMount[] => [...volumes.volumeMounts(), this.configuration.airflowCfgMount()];
    this.renderWorkerPodTemplate = () =>
      workerPodTemplate({
        image: this.image,
        imagePullPolicy: this.imagePullPolicy,
        env: workerEnv,
        volumes: podVolumes(),
        volumeMounts: volumeMounts(),
        serviceAccountName: workerServiceAccount,
        labels: airflowLabels(Components.WORKER),
        resources: this.workerResources,
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
    // credentials); they and the scheduler get the broker's.
    this.celery =
      props.celery === undefined
        ? undefined
        : new CeleryWorkers(this, 'celery', {
          ...props.celery,
          generation,
          image: this.image,
          imagePullPolicy: this.imagePullPolicy,
          taskEnv: workerEnv,
          airflowVolumes: podVolumes,
          airflowVolumeMounts: volumeMounts,
          configChecksum: this.configuration.checksumAtSynth(),
          brokerPassword: inClusterBroker ? secrets.brokerPassword : undefined,
          clusterDomain: this.clusterDomain,
          defaultQueue: this.configuration.get('operators', 'default_queue'),
        });
    if (this.celery) {
      serviceAccounts[Components.CELERY_WORKER] = this.celery.serviceAccount;
      if (this.celery.broker) serviceAccounts[Components.REDIS] = this.celery.broker.serviceAccount;
    }

    const parts: AirflowPodParts = {
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
    };

    this.components = this.createComponents(parts, this.celery?.brokerEnv({ optionalPassword: true }) ?? []);
    this.deployments = Object.fromEntries(Object.entries(this.components).map(([name, c]) => [name, c.deployment]));
    for (const [name, c] of Object.entries(this.components)) serviceAccounts[name] = c.serviceAccount;
    this.uiService = this.components[this.uiComponent].service!;

    this.podLauncher = new PodLauncherRbac(this, 'pod-launcher', { serviceAccountName: this.components[Components.SCHEDULER].name });
    this.migrations = new DbMigrations(this, 'db-migrations', { parts });
    serviceAccounts[Components.DB_MIGRATE] = this.migrations.serviceAccount;
    this.adminUser = this.createAdminUser
      ? new AdminUser(this, 'admin-user', {
        parts,
        passwordSecret: secrets.adminPassword,
        username: this.adminUsername,
        email: this.adminEmail,
      })
      : undefined;
    if (this.adminUser) serviceAccounts[Components.CREATE_USER] = this.adminUser.serviceAccount;
    this.serviceAccounts = serviceAccounts;
  }

  /** The options of `airflow.cfg` the library sets: executor, folders, concurrency, the pod template. */
  private managedConfig(namespace: string, volumes: AirflowVolumes, uiServiceHost: string, props: AirflowOptions): AirflowConfigValues {
    const ref = parseImageReference(this.image);
    const managed: Record<string, Record<string, string | number | boolean>> = {
      core: {
        executor: this.executors.join(','),
        dags_folder: volumes.get('dags').mountPath,
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
    const generationManaged = this.generation.managedConfig({ uiServiceHost, standaloneDagProcessor: this.standaloneDagProcessor });
    for (const [section, keys] of Object.entries(generationManaged)) {
      managed[section] = { ...(managed[section] ?? {}), ...keys };
    }
    return managed;
  }

  /**
   * The UI, the scheduler, and the dag-processor and triggerer where they run. `schedulerEnv`: what the
   * scheduler gets besides the control plane's environment (the Celery broker's, with `celery`).
   */
  private createComponents(parts: AirflowPodParts, schedulerEnv: k8s.EnvVar[]): Record<string, AirflowComponent> {
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
      props: Omit<ConstructorParameters<typeof AirflowComponent>[2], 'parts' | 'component' | 'command' | 'resources'>,
    ) => {
      components[component] = new AirflowComponent(this, id, {
        parts,
        component,
        command: `airflow ${component}`,
        resources: COMPONENT_RESOURCES[component],
        ...props,
      });
    };

    add('scheduler', Components.SCHEDULER, {
      extraEnv: schedulerEnv,
      automountServiceAccountToken: true,
      extraVolumeMounts: [this.configuration.podTemplateMount()],
      livenessProbe: jobsCheck('SchedulerJob'),
    });
    const httpGet = { path: this.generation.uiHealthPath, port: k8s.IntOrString.fromString('http') };
    add('ui', this.uiComponent, {
      port: { containerPort: AIRFLOW_UI_PORT, servicePort: AIRFLOW_UI_PORT },
      rollingUpdate: true,
      startupProbe: { httpGet, periodSeconds: 10, timeoutSeconds: 10, failureThreshold: 60 },
      readinessProbe: { httpGet, periodSeconds: 10, timeoutSeconds: 10, failureThreshold: 3 },
      livenessProbe: { httpGet, periodSeconds: 30, timeoutSeconds: 30, failureThreshold: 5 },
    });
    if (this.standaloneDagProcessor) {
      add('dag-processor', Components.DAG_PROCESSOR, { livenessProbe: jobsCheck('DagProcessorJob') });
    }
    if (this.triggerer) {
      add('triggerer', Components.TRIGGERER, { livenessProbe: jobsCheck('TriggererJob') });
    }
    return components;
  }

  private validateVolumes(volumes: AirflowVolumes): AirflowVolumes {
    if (!volumes || !(volumes instanceof AirflowVolumes)) {
      invalid(this, 'volumes', volumes, 'the AirflowVolumes of the chart');
    }
    if (!volumes.has('dags')) {
      invalid(this, 'volumes', volumes.names, 'volumes that include "dags": it is the DAGs folder of every component');
    }
    if (volumes.has(AIRFLOW_CONFIG_VOLUME_NAME)) {
      invalid(this, 'volumes', volumes.names, `no volume named "${AIRFLOW_CONFIG_VOLUME_NAME}" (the configuration's volume)`);
    }
    return volumes;
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
          'a Secret key reference { name, key } of the Celery broker\'s password, when Celery workers run with the in-cluster broker',
          'Add brokerPassword to AirflowSecrets.fromExistingSecrets(...) / existingSecrets, or give celery an externalBroker.',
        );
      }
      validateSecretKeyRef(this, 'secrets.brokerPassword', secrets.brokerPassword);
    }
    return secrets;
  }

  private validateWorkerResources(props: AirflowOptions): ContainerResources {
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

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
