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
  IChartPodDefaults,
  PodOptions,
  PodPlacementOptions,
  SecretKeyRef,
  buildPart,
  chartSecretRef,
  invalid,
  recover,
  mergePodOptions,
  namespaceOf,
  registerControlPlane,
  validateChoice,
  validateDnsSubdomain,
  validateInteger,
  validateSecretKeyRef,
  refuseUnknownProps,
} from '../core';
import { IMetadataDatabase } from '../database';
import { airflowContainerSecurityContext, airflowPodSecurityContext } from '../security';
import { AirflowVolumes } from '../storage';
import { AdminUser, resolveAdminUserOptions } from './admin-user';
import { AirflowComponent } from './airflow-component';
import { AirflowConfigValues } from './airflow-config-keys';
import { AirflowConfiguration } from './airflow-configuration';
import { AirflowEnvironment, airflowEnvironment, airflowReservedNames } from './airflow-environment';
import { AirflowPods, IAirflowFeature } from './airflow-feature';
import { AirflowFeatureHost } from './airflow-feature-host';
import { AirflowIngress } from './airflow-ingress';
import { ControlPlaneOptions } from './airflow-options';
import { ControlPlaneParts, createControlPlaneComponents, createControlPlaneJobs } from './control-plane-components';
import {
  addControlPlaneChecks,
  alwaysPullWarning,
  endOfLifeWarning,
  checkFeatureExecutor,
  checkFeatureNames,
  refuseLogsVolumeAddedLater,
  resolveFixVolumePermissions,
  resolveControlPlaneSecrets,
  resolveDefaultPoolSlots,
  resolveStandaloneDagProcessor,
  validateControlPlaneVolumes,
} from './control-plane-checks';
import { controlPlaneConfigurationProps } from './control-plane-config';
import { resolveAirflowVersion, resolveWorkerImage, validateAirflowImage } from './control-plane-image';
import { resolveOpenShift } from './component-extras';
import { ControlPlaneServiceAccounts } from './control-plane-service-accounts';
import { DbMigrations } from './db-migrations';
import { PodLauncherRbac } from './pod-launcher-rbac';
import {
  AirflowPodParts,
  ContainerResources,
  ResolvedPodOptions,
  controlPlanePodParts,
  deepFreeze,
  pickPlacement,
  pickPodOptions,
  resolvePodOptions,
  resolveResources,
} from './pod-parts';
import { VolumePermissions } from './volume-permissions';
import { createWorkerPodTemplate } from './worker-pod-template';
import { airflowPodVolumesOf, airflowVolumeMountsOf } from './volume-use';

/** Props for {@link KubernetesExecutorAirflow}: what it runs on, and how Airflow runs ({@link ControlPlaneOptions}). */
export interface KubernetesExecutorAirflowProps extends ControlPlaneOptions {
  /**
   * The dags, logs and data volumes, mounted into every Airflow container and every task pod. Must have `dags`
   * unless a feature delivers the DAGs (git-sync in sidecar mode syncs them into each pod's own emptyDir).
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

/** The one-shot Jobs and the long-running components: the pods of {@link AirflowPods.CONTROL_PLANE}. */
const JOBS: readonly string[] = [Components.DB_MIGRATE, Components.CREATE_USER, Components.DATABASE_CLEANUP];

/**
 * Apache Airflow with the KubernetesExecutor: the UI (`airflow api-server` on Airflow 3, `airflow webserver`
 * on Airflow 2) and its Service, the scheduler, the dag-processor, the triggerer, the database migrations,
 * the first admin user, the configuration, the worker pod template and the RBAC the executor needs to
 * create a pod for each task and delete it when the task ends.
 *
 * Features plug in through {@link addFeature} (docs/architecture.md): Celery workers, git-sync, remote
 * logging, the log groomer, metrics, or your own. Each adds options, environment, volumes, sidecars and init
 * containers to the pods it names; the control plane renders them at synth.
 */
export class KubernetesExecutorAirflow extends AirflowFeatureHost implements IChartPodDefaults {
  /** The image. */
  public readonly image: string;
  /**
   * The image of the task pods (the pod template's `base` container and `[kubernetes_executor]
   * worker_container_repository`/`worker_container_tag`) and of the Celery workers: `worker.image`, else `image`.
   */
  public readonly workerImage: string;
  /** The Airflow version. */
  public readonly airflowVersion: AirflowVersion;
  /** The Airflow generation (2 or 3): which components, commands and configuration the version has. */
  public readonly generation: AirflowGeneration;
  /** The image pull policy. */
  public readonly imagePullPolicy: string;
  /** Whether the pods run under OpenShift's restricted SCC (no fixed uid, gid or fsGroup). */
  public readonly openShift: boolean;
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
  /** The admin user's first name. */
  public readonly adminFirstName: string;
  /** The admin user's last name. */
  public readonly adminLastName: string;
  /** The admin user's FAB role. */
  public readonly adminRole: string;
  /** The cluster's DNS domain. */
  public readonly clusterDomain: string;
  /** The dags, logs and data volumes. */
  public readonly volumes: AirflowVolumes;
  /** The metadata database. */
  public readonly database: IMetadataDatabase;
  /** The configuration: the ConfigMap with `airflow.cfg` and the worker pod template. */
  public readonly configuration: AirflowConfiguration;
  /** Where Airflow's secrets are (references resolved at synth when they come from the chart's AirflowSecrets). */
  public readonly secrets: IAirflowSecrets;
  /** The long-running components, by component name (`scheduler`, `api-server`...). */
  public readonly components: Readonly<Record<string, AirflowComponent>>;
  /** The components' Deployments, by component name. */
  public readonly deployments: Readonly<Record<string, k8s.KubeDeployment>>;
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
  /** The chart-wide pod options (every component's start from these). */
  public readonly podOptions: PodOptions;
  /** Whether a Job makes the volumes writable for Airflow's user (the hostPath folders, or the StorageClass claims' roots when asked). */
  public readonly fixVolumePermissions: boolean;
  /** That Job; undefined when `fixVolumePermissions` is false (the default with a StorageClass). */
  public readonly volumePermissions: VolumePermissions | undefined;
  /** The Ingress in front of the UI; undefined without `ingress`. */
  public readonly ingress: AirflowIngress | undefined;
  /** What is worth a warning at synth (printed then), e.g. a default pool smaller than `parallelism`. */
  public readonly warnings: string[] = [];

  private readonly env: AirflowEnvironment;
  private readonly reserved: { env: string[]; volumes: string[] };
  private readonly resolvedPods: Array<{ property: string; component: string; pod: ResolvedPodOptions }> = [];
  private readonly accounts = new ControlPlaneServiceAccounts();
  private readonly secretsFromChart: boolean;
  private readonly renderWorker: () => Record<string, unknown>;

  constructor(scope: Construct, id: string, props: KubernetesExecutorAirflowProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'KubernetesExecutorAirflowProps');
    const namespace = namespaceOf(this);
    // What runs: the image, its Airflow version and generation, where the secrets are.
    // Each check that has a default records its problem and goes on with the default (recover), and each part
    // is built with buildPart, so that synth reports every problem at once (docs/validation.md).
    // The image is not one of them: the version and generation are read from it, and every part depends on those.
    // The checks that read nothing of the other constructs come first, so that one a refused volume stopped
    // (an incomplete AirflowVolumes, read below) does not hide them.
    this.image = validateAirflowImage(this, props.image ?? DEFAULT_AIRFLOW_IMAGE);
    [this.airflowVersion, this.generation] = resolveAirflowVersion(this, this.image, props.airflowVersion);
    this.workerImage = recover(this, () => resolveWorkerImage(this, props.worker?.image, this.image, this.airflowVersion), this.image);
    this.secretsFromChart = props.secrets === undefined;
    this.secrets = resolveControlPlaneSecrets(this, this.generation, props.secrets);
    this.imagePullPolicy = recover(this, () => validateChoice(this, 'imagePullPolicy', props.imagePullPolicy ?? 'IfNotPresent', IMAGE_PULL_POLICIES), 'IfNotPresent');
    if (this.imagePullPolicy === 'Always') this.warnings.push(alwaysPullWarning(this, this.workerImage));
    const endOfLife = endOfLifeWarning(this, this.generation, this.airflowVersion);
    if (endOfLife !== undefined) this.warnings.push(endOfLife);

    // Which components run, and the bounds of the executor: defaults resolved once.
    this.standaloneDagProcessor = resolveStandaloneDagProcessor(this, this.generation, props);
    this.triggerer = props.triggerer?.enabled ?? true;
    this.uiComponent = this.generation.uiComponent;
    this.parallelism = recover(this, () => validateInteger(this, 'parallelism', props.parallelism ?? 4, 1, 10_000), 4);
    this.defaultPoolSlots = recover(this, () => resolveDefaultPoolSlots(this, props.defaultPoolSlots, this.parallelism, this.warnings), this.parallelism);
    this.workerPodsCreationBatchSize = recover(
      this,
      () => validateInteger(this, 'workerPodsCreationBatchSize', props.workerPodsCreationBatchSize ?? this.parallelism, 1, 10_000),
      this.parallelism,
    );
    this.deleteFailedWorkerPods = props.deleteFailedWorkerPods ?? true;
    this.workerResources = recover(this, () => resolveResources(this, 'worker.resources', DEFAULT_WORKER_RESOURCES, props.worker?.resources), DEFAULT_WORKER_RESOURCES);
    this.clusterDomain = recover(this, () => validateDnsSubdomain(this, 'clusterDomain', props.clusterDomain ?? 'cluster.local'), 'cluster.local');
    this.config = props.config ?? {};
    ({ createAdminUser: this.createAdminUser, adminUsername: this.adminUsername, adminEmail: this.adminEmail, adminFirstName: this.adminFirstName,
      adminLastName: this.adminLastName, adminRole: this.adminRole } = resolveAdminUserOptions(props));
    this.podOptions = pickPodOptions(props);
    this.volumes = validateControlPlaneVolumes(this, props.volumes);
    if (!props.database) invalid(this, 'database', props.database, 'the metadata database (MetadataDb)');
    this.database = props.database;
    // The chart's other pods (the secrets bootstrap Job, Postgres) take the image and placement from here at
    // synth; a second control plane in the namespace fails synth.
    registerControlPlane(this);
    this.fixVolumePermissions = recover(this, () => resolveFixVolumePermissions(this, this.volumes, props.fixVolumePermissions), false);
    this.openShift = recover(this, () => resolveOpenShift(this, props.openShift, this.volumes, props.fixVolumePermissions), false);
    addControlPlaneChecks(this, () => this.dagsSource !== undefined, () => this.added.map((a) => a.contribution));
    const ingress = props.ingress;
    this.ingress = ingress
      ? buildPart(this, 'ingress', () =>
        new AirflowIngress(this, 'ingress', { ...ingress, component: this.uiComponent, serviceName: this.uiServiceName, servicePort: AIRFLOW_UI_PORT }))
      : undefined;

    // The environment of the Airflow containers and of the task pods, and the names pod options cannot take.
    this.env = airflowEnvironment(this.generation, this.database, this.secrets);
    this.reserved = airflowReservedNames(this.env, this.volumes.names);
    resolvePodOptions(this, '', this.podOptions, this.reserved.env, this.reserved.volumes); // the chart-wide ones, checked once

    // The configuration (airflow.cfg), then the worker pod template it holds beside airflow.cfg.
    const uiServiceHost = `${this.uiServiceName}.${namespace}.svc.${this.clusterDomain}`;
    this.configuration = buildPart(this, 'configuration', () =>
      new AirflowConfiguration(this, 'configuration', controlPlaneConfigurationProps(this, namespace, uiServiceHost, props.config)));
    const worker = createWorkerPodTemplate(this, props.worker, (podOptions) => this.resolvedPodOptions('worker', Components.WORKER, podOptions));
    this.renderWorker = worker.render;
    refuseLogsVolumeAddedLater(this, this.volumes);

    // The long-running components, the RBAC of the executor, the one-shot Jobs.
    const parts: ControlPlaneParts = {
      podParts: (component, property, override) => this.podParts(component, property, override),
      contributed: (kind, component) => this.contributed(kind, component),
    };
    this.components = createControlPlaneComponents(this, props, parts);
    this.deployments = Object.fromEntries(Object.entries(this.components).map(([name, c]) => [name, c.deployment]));
    this.uiService = this.components[this.uiComponent].service!;
    this.podLauncher = buildPart(this, 'pod-launcher', () =>
      new PodLauncherRbac(this, 'pod-launcher', { serviceAccountName: this.components[Components.SCHEDULER].serviceAccountName }));
    ({ migrations: this.migrations, adminUser: this.adminUser, volumePermissions: this.volumePermissions } = createControlPlaneJobs(this, props, parts));
    this.accounts.add(Components.WORKER, worker.serviceAccount, worker.existingServiceAccountName);
    for (const [name, c] of Object.entries(this.components)) this.accounts.add(name, c.serviceAccount, c.serviceAccountName);
  }

  /**
   * Adds a feature (docs/architecture.md): its options go into airflow.cfg, its environment, volumes, sidecars
   * and init containers into the pods it names, its ServiceAccount annotations onto theirs. Works at any point
   * of the composition; a conflict with the user's `config`, the pod options or another feature is refused.
   */
  public addFeature(feature: IAirflowFeature): void {
    const { name, contribution } = this.contributionOf(feature);
    if (contribution.executor) checkFeatureExecutor(this, this.airflowVersion, this.executors, name, contribution.executor.name);
    if (contribution.config) this.configuration.addManaged(contribution.config, name);
    if (contribution.defaultConfig) this.configuration.addDefaults(contribution.defaultConfig, name);
    checkFeatureNames(this, this.resolvedPods, (c) => this.selectorsOf(c), name, contribution);
    if (contribution.dags) {
      // The dags volume's folder is replaced; without one the user could have set it, which is refused.
      if (this.volumes.has('dags')) this.configuration.setManaged('core', 'dags_folder', contribution.dags.folder);
      else this.configuration.addManaged({ core: { dags_folder: contribution.dags.folder } }, name);
    }
    this.added.push({ feature, contribution });
    if (contribution.executor) this.configuration.setManaged('core', 'executor', this.executors.join(','));
    this.accounts.annotate(this, name, (component) => this.serviceAccountAnnotationsFor(component, [contribution]));
  }

  /**
   * The ServiceAccounts the user manages, by component name (`existingServiceAccountName`): the library creates
   * none of them, and a feature that would annotate one is refused.
   */
  public get userServiceAccounts(): Readonly<Record<string, string>> {
    return { ...this.accounts.existing };
  }

  /** The ServiceAccounts, by component name (`scheduler`, `worker`, ...): the control plane's and its Jobs'. */
  public get serviceAccounts(): Readonly<Record<string, k8s.KubeServiceAccount>> {
    return {
      ...this.accounts.own,
      [Components.DB_MIGRATE]: this.migrations.serviceAccount,
      ...(this.adminUser ? { [Components.CREATE_USER]: this.adminUser.serviceAccount } : {}),
      ...(this.volumePermissions ? { [Components.VOLUME_PERMISSIONS]: this.volumePermissions.serviceAccount } : {}),
    };
  }

  /**
   * The chart-wide pull secrets, node selection, priority, pod labels and annotations: what every pod of the
   * chart gets, the secrets bootstrap Job and Postgres included (unless given their own).
   */
  public get placement(): PodPlacementOptions {
    return pickPlacement(this.podOptions);
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
   * A Secret key of Airflow's secrets: the one given, or the chart's AirflowSecrets' (resolved at synth);
   * refused when the secrets were given without it. For features that need one (the Celery broker's password).
   */
  public secretRef(field: keyof IAirflowSecrets, allowed: string, suggestion?: string): SecretKeyRef {
    const given = this.secrets[field];
    if (given !== undefined) return validateSecretKeyRef(this, `secrets.${field}`, given);
    if (this.secretsFromChart) return chartSecretRef(this, field, `secrets.${field}`);
    return invalid(this, `secrets.${field}`, undefined, allowed, suggestion);
  }

  /** The pods that read DAG files: the parser (the dag-processor, or the scheduler) and the triggerer when it runs. */
  public get dagReaders(): string[] {
    return [this.standaloneDagProcessor ? Components.DAG_PROCESSOR : Components.SCHEDULER, ...(this.triggerer ? [Components.TRIGGERER] : [])];
  }

  /** The environment of an Airflow container in a task-running pod (`worker`, `celery-worker`): the task pods' and the features'. */
  public taskEnv(component: string): k8s.EnvVar[] {
    return [...this.env.worker, ...this.contributed('env', component)];
  }

  /**
   * The volumes of the Airflow pods of `component`, read at synth (a volume added to AirflowVolumes later is
   * mounted where it is used): the DAGs from a feature, the volumes the component uses (`volumeUse`), the
   * configuration, and `/tmp`'s emptyDir. The features' volumes of a pod ({@link contributed}) come after its pod
   * options' volumes.
   */
  public airflowPodVolumes(component: string): k8s.Volume[] {
    return airflowPodVolumesOf(this, component, this.dagsSource);
  }

  /**
   * Their mounts in an Airflow container of `component` (the DAGs from a feature in place of the dags volume's;
   * read-only where the component does not write them), `/tmp`, and the features' mounts.
   */
  public airflowVolumeMounts(component: string): k8s.VolumeMount[] {
    return [...airflowVolumeMountsOf(this, component, this.dagsSource), ...this.contributed('volumeMounts', component)];
  }

  /** The securityContext of an Airflow container: read-only root where the generation allows it; no uid on OpenShift. */
  public airflowContainerSecurityContext(): k8s.SecurityContext {
    return airflowContainerSecurityContext(this.generation.readOnlyRootFilesystem, this.openShift);
  }

  /** The pod securityContext of an Airflow pod (and of the features' pods): uid 50000, gid 0; none fixed on OpenShift. */
  public airflowPodSecurityContext(): k8s.PodSecurityContext {
    return airflowPodSecurityContext(this.openShift);
  }

  /** The env and volume names the library sets in the pods of `component`: pod options may not take them. */
  public reservedNames(component: string): { env: string[]; volumes: string[] } {
    const dags = this.dagsSource ? [...(this.dagsSource.volumes ?? []).map((v) => v.name), this.dagsSource.mount.name] : [];
    const volumes = [...this.reserved.volumes, ...dags, ...this.contributed('volumes', component).map((v) => v.name)];
    return { env: [...new Set([...this.reserved.env, ...this.contributed('env', component).map((e) => e.name)])], volumes: [...new Set(volumes)] };
  }

  /**
   * Every image a task pod runs, each once: the task's image (`workerImage`) and the images of the pod
   * template's other containers (git-sync's init container in `GitSyncMode.SIDECARS`). What `ImagePrePull`
   * keeps on the nodes; images a task names in its own `executor_config` are not known here.
   */
  public get taskPodImages(): string[] {
    const spec = (this.workerPodTemplate as { spec: k8s.PodSpec }).spec;
    return [...new Set([this.workerImage, ...[...(spec.initContainers ?? []), ...spec.containers].map((c) => c.image!)])];
  }

  /**
   * The worker pod template as it will be synthesized (the Pod manifest in the ConfigMap): a frozen copy, built
   * from the volumes, image, options and features as they are now. Change those (e.g. add a volume), not the copy.
   */
  public get workerPodTemplate(): Record<string, unknown> {
    return deepFreeze(this.renderWorker());
  }

  /**
   * What an Airflow pod of `component` beside the control plane's own is built from, like its Jobs': the image,
   * the control plane's environment (the database by reference), volumes, security context, the database wait,
   * the chart-wide pod options merged with `override` (checked in the name of `property`). For features with
   * Airflow pods of their own (the database cleanup CronJob).
   */
  public airflowPodPartsFor(component: string, property: string, override?: PodOptions): AirflowPodParts {
    return this.podParts(component, property, override);
  }

  /** The name of the UI's Service (and Deployment): `airflow-api-server` or `airflow-webserver`. */
  private get uiServiceName(): string {
    return `airflow-${this.uiComponent}`;
  }

  /** The selectors a pod of `component` answers to: its name and its groups. */
  protected selectorsOf(component: string): string[] {
    const controlPlane = (this.components !== undefined && component in this.components) || JOBS.includes(component);
    return [
      component,
      ...(controlPlane ? [AirflowPods.CONTROL_PLANE] : []),
      ...(component === Components.WORKER || component === Components.CELERY_WORKER ? [AirflowPods.TASKS] : []),
      ...(this.dagReaders.includes(component) ? [AirflowPods.DAG_READERS] : []),
    ];
  }

  /** A component's pod options (chart-wide merged with `override`), checked and made concrete. */
  private resolvedPodOptions(property: string, component: string, override?: PodOptions): ResolvedPodOptions {
    const pod = resolvePodOptions(this, property, mergePodOptions(this.podOptions, override), this.reserved.env, this.reserved.volumes);
    this.resolvedPods.push({ property, component, pod });
    return pod;
  }

  /** What every control-plane pod is built from: image, env, volumes, the database wait, pod options. */
  private podParts(component: string, property: string, override?: PodOptions): AirflowPodParts {
    return controlPlanePodParts(this, this.env.controlPlane, component, () => this.resolvedPodOptions(property, component, override));
  }

}

/** The default resources of a task pod. */
export const DEFAULT_WORKER_RESOURCES: ContainerResources = { cpuRequest: '100m', memoryRequest: '256Mi', cpuLimit: '1', memoryLimit: '1Gi' };
