// The public API of airflow-cdk8s: the constructs, their props, the enums and the interfaces users implement
// or receive. Helpers (validators, hashing, string distance, pod-spec builders) stay inside their boxes.
// See docs/architecture.md for the boxes: chart -> airflow -> database -> storage -> core, security beside.

// The whole deployment in one chart.
export { AirflowChart, type AirflowChartProps } from './airflow-chart';
export { AirflowApp, AirflowChartFile, airflowChartFileOf } from './airflow-app';
export { type AirflowFeatures, type AirflowOptions, addAirflowFeatures } from './airflow-options';

// The Airflow control plane (airflow/).
export {
  AdminUser,
  type AdminUserProps,
  FAB_BUILTIN_ROLES,
  createUserScript,
  AirflowComponent,
  type AirflowComponentPort,
  type AirflowComponentProps,
  type AirflowConfigAlias,
  type AirflowConfigKeyInfo,
  type AirflowConfigValues,
  AirflowConfiguration,
  type AirflowConfigurationProps,
  type AirflowContribution,
  AirflowFeatureHost,
  AirflowIngress,
  type AirflowIngressProps,
  AirflowPods,
  type ApiServerOptions,
  type ComponentOptions,
  type IngressOptions,
  type JobOptions,
  type ResolvedPodOptions,
  type ResourceOptions,
  type TriggererOptions,
  VolumePermissions,
  type VolumePermissionsProps,
  type WorkerOptions,
  type ProbeTimings,
  MIN_LIVENESS_FAILURE_THRESHOLD,
  MIN_LIVENESS_WINDOW_SECONDS,
  MIN_PROBE_TIMEOUT_SECONDS,
  MIN_STARTUP_WINDOW_SECONDS,
  type ControlPlaneOptions,
  type DagsSource,
  type IAirflowFeature,
  type PodContributions,
  type AirflowMajorVersion,
  type AirflowPodParts,
  COMPONENT_RESOURCES,
  type ContainerResources,
  DEFAULT_WORKER_RESOURCES,
  DbMigrations,
  type DbMigrationsProps,
  KubernetesExecutorAirflow,
  type KubernetesExecutorAirflowProps,
  POD_LAUNCHER_RULES,
  PodLauncherRbac,
  type PodLauncherRbacProps,
  WORKER_CONTAINER_NAME,
  airflowConfigDeprecatedAliases,
  airflowConfigKeyInfo,
  airflowConfigKeys,
  airflowConfigSections,
} from './airflow';

// Celery workers beside the KubernetesExecutor, and their Redis broker (celery/).
export {
  BROKER_PASSWORD_ENV,
  CELERY_EXECUTOR_NAMES,
  CeleryAutoscaler,
  type CeleryAutoscalerProps,
  type CeleryHpaOptions,
  type CeleryKedaOptions,
  type CeleryKedaQueryOptions,
  celeryKedaQuery,
  DEFAULT_HPA,
  DEFAULT_KEDA,
  type CeleryOptions,
  CeleryWorkers,
  type CeleryWorkersProps,
  type ExternalCeleryBroker,
  Flower,
  FLOWER_BASIC_AUTH_ENV,
  type FlowerOptions,
  type FlowerProps,
  REDIS_GID,
  REDIS_UID,
  RedisBroker,
  type RedisBrokerOptions,
  type RedisBrokerProps,
} from './celery';

// PgBouncer in front of the metadata database (pgbouncer/).
export { PgBouncer, type PgBouncerOptions, type PgBouncerProps } from './pgbouncer';

// DAGs from git (git-sync/).
export {
  DEFAULT_GIT_SYNC_IMAGE,
  GIT_SYNC_RESOURCES,
  GitSyncCredentials,
  GitSyncCredentialsKind,
  GitSyncDags,
  type GitSyncDagsOptions,
  type GitSyncDagsProps,
  type GitSyncHttpsCredentialsOptions,
  GitSyncMode,
  type GitSyncPodParts,
  type GitSyncSshCredentialsOptions,
} from './git-sync';

// Task logs: remote logging and the log groomer (logging/).
export {
  type AzureBlobRemoteLoggingOptions,
  type ElasticsearchRemoteLoggingOptions,
  type GcsRemoteLoggingOptions,
  type OpensearchRemoteLoggingOptions,
  DEFAULT_LOG_RETENTION_DAYS,
  LOG_GROOMER_RESOURCES,
  LogGroomer,
  RemoteLogging,
  type RemoteLoggingConnectionOptions,
  RemoteLoggingProvider,
  type RemoteLoggingSettings,
  type S3RemoteLoggingOptions,
  type SearchRemoteLoggingOptions,
} from './logging';

// Airflow's metrics for Prometheus (metrics/).
export {
  AIRFLOW_STATSD_MAPPINGS,
  DEFAULT_STATSD_EXPORTER_IMAGE,
  STATSD_EXPORTER_RESOURCES,
  STATSD_MAPPINGS_CHECKSUM_ANNOTATION,
  STATSD_MAPPINGS_PATH,
  StatsdExporter,
  statsdMappingsYaml,
  type StatsdExporterProps,
  type StatsdMapping,
} from './metrics';

// The UI's login: FAB's webserver_config.py for OAuth / OpenID Connect or LDAP (auth/).
export {
  AirflowAuth,
  type AirflowAuthProps,
  type AuthOptions,
  type AzureAdOAuthOptions,
  type GenericOAuthOptions,
  type KeycloakOAuthOptions,
  LDAP_BIND_PASSWORD_ENV,
  type LdapOptions,
  type OAuthClientOptions,
  OAuthProvider,
  type OAuthProviderKind,
  type OktaOAuthOptions,
  type RenderedLdap,
  type RenderedProvider,
  WEBSERVER_CONFIG_PATH,
  type WebserverConfigInput,
  renderWebserverConfig,
} from './auth';

// airflow_local_settings.py in every Airflow container and task pod (local-settings/).
export {
  AirflowLocalSettings,
  type AirflowLocalSettingsProps,
  LOCAL_SETTINGS_FOLDER,
  LOCAL_SETTINGS_PATH,
  MAX_LOCAL_SETTINGS_BYTES,
} from './local-settings';

// Task start: the task pods' images kept on their nodes (image-pre-pull/).
export {
  DEFAULT_PAUSE_IMAGE,
  ImagePrePull,
  type ImagePrePullForAirflowProps,
  type ImagePrePullProps,
} from './image-pre-pull';

// Airflow 3's DAG bundles from Git (dag-bundles/).
export { GitDagBundles, refuseWithGitSync, type GitDagBundleOptions } from './dag-bundles';

// The metadata database's cleanup: `airflow db clean` on a schedule (database-cleanup/).
export {
  DB_CLEAN_BATCH_SIZE_VERSION,
  DB_CLEAN_TABLES,
  DatabaseCleanup,
  cronScheduleProblem,
  type DatabaseCleanupOptions,
  type DatabaseCleanupProps,
} from './database-cleanup';

// The metadata database (database/).
export {
  type ConnectionUriSecretOptions,
  DatabaseConnection,
  ExternalMetadataDb,
  type ExternalMetadataDbOptions,
  type ExternalMetadataDbProps,
  type IMetadataDatabase,
  type IPooledMetadataDatabase,
  directDatabaseOf,
  MetadataDb,
  type MetadataDbProps,
  type PostgresConnectionOptions,
  PostgresSslMode,
} from './database';

// Persistent storage (storage/).
export {
  AirflowVolume,
  type AirflowVolumeOptions,
  AirflowVolumes,
  type AirflowVolumesProps,
  type HostPathProvisioningOptions,
  type IPlusContainer,
  type IPlusStorage,
  PersistentStorage,
  type PersistentStorageProps,
  PlusVolume,
  StorageProvisioning,
  StorageProvisioningMode,
} from './storage';

// Secrets, pod security, the namespace and network policies (security/).
export {
  AIRFLOW_SECRET_KEYS,
  AirflowNamespace,
  type AirflowNamespaceProps,
  AirflowNetworkPolicies,
  type AirflowNetworkPoliciesProps,
  type AirflowNetworkPolicyOptions,
  AirflowSecrets,
  DEFAULT_GIT_PORTS,
  DEFAULT_KUBERNETES_API_PORTS,
  DEFAULT_OBJECT_STORE_PORTS,
  DEFAULT_EXTERNAL_BROKER_PORTS,
  type AirflowSecretsProps,
  DEFAULT_SECRETS_BOOTSTRAP_IMAGE,
  DNS_PORT,
  type ExistingAirflowSecretsProps,
  KUBE_DNS_PEER,
  type PodSecurityLabelsOptions,
  PodSecurityLevel,
  SECRETS_BOOTSTRAP_RESOURCES,
  SECRETS_COPY_FOLDER_CAPABILITIES,
  airflowContainerSecurityContext,
  airflowPodSecurityContext,
  podSecurityLabels,
} from './security';

// Shared facts (core/).
export {
  AIRFLOW_GID,
  AIRFLOW_HOME,
  AIRFLOW_UID,
  AIRFLOW_UI_PORT,
  AirflowCdk8sValidationError,
  AirflowCdk8sValidationErrors,
  AirflowGeneration,
  type AirflowConfigKeyData,
  type AirflowConfigKeyVersions,
  type ConfigKeyAvailability,
  type AirflowKeyRefs,
  type ManagedConfigContext,
  AirflowVersion,
  COMPONENT_LABEL,
  Components,
  DEFAULT_AIRFLOW_IMAGE,
  DEFAULT_AIRFLOW_VERSION,
  DeploymentStrategy,
  EnvFrom,
  EnvValue,
  IMAGE_PULL_POLICIES,
  ONE_SHOT_JOB_LABEL,
  PodVolume,
  type ConfigMapKeyRef,
  type PodOptions,
  type PodPlacementOptions,
  type PodVolumeMountOptions,
  type IAirflowSecrets,
  type IChartPodDefaults,
  type SecretsCopyStore,
  type IPodSpecSource,
  MINIMUM_AIRFLOW_2_VERSION,
  MINIMUM_MULTIPLE_EXECUTORS_VERSION,
  NAME_LABEL,
  PART_OF_LABEL,
  PGBOUNCER_PORT,
  FLOWER_PORT,
  POSTGRES_PORT,
  REDIS_PORT,
  RESERVED_NAMESPACES,
  type RollingUpdateOptions,
  SYSTEM_HOST_FOLDERS,
  type SecretKeyRef,
  userErrorMessage,
} from './core';
