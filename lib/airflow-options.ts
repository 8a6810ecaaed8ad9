import { ControlPlaneOptions, KubernetesExecutorAirflow } from './airflow';
import { AirflowAuth, AuthOptions } from './auth';
import { CeleryOptions, CeleryWorkers } from './celery';
import { buildPart, invalid, recover, validateInteger } from './core';
import { DatabaseCleanup, DatabaseCleanupOptions } from './database-cleanup';
import { GitSyncDags, GitSyncDagsOptions } from './git-sync';
import { AirflowLocalSettings } from './local-settings';
import { DEFAULT_LOG_RETENTION_DAYS, LogGroomer, RemoteLogging } from './logging';
import { StatsdExporter } from './metrics';

/**
 * How Airflow runs: the control plane's options ({@link ControlPlaneOptions}) and the features that plug into
 * it (git-sync, remote logging, log retention, metrics, Celery workers). The props of `AirflowChart`; with
 * your own chart, give the control plane's to `KubernetesExecutorAirflow` and these to
 * {@link addAirflowFeatures}, or add each feature's construct yourself.
 */
export interface AirflowOptions extends ControlPlaneOptions {
  /**
   * DAGs from a git repository, synced by git-sync (`{ repository: 'https://github.com/org/dags.git', branch: 'main' }`).
   * By default one git-sync Deployment writes into the ReadWriteMany dags volume, which every pod mounts
   * read-only, and `dags_folder` is the synced link: task pods get no init container and no sidecar. See
   * docs/git-sync.md.
   * @default - none: the dags volume is filled by other means (minikube mount, kubectl cp)
   */
  readonly gitSync?: GitSyncDagsOptions;

  /**
   * Task logs in object storage or a search engine: `RemoteLogging.s3({ ... })`, `RemoteLogging.gcs({ ... })`,
   * `RemoteLogging.azureBlob({ ... })`, `RemoteLogging.elasticsearch({ ... })` or `RemoteLogging.opensearch({ ... })`.
   * See docs/remote-logging.md.
   * @default - none: task logs stay on the logs volume only
   */
  readonly remoteLogging?: RemoteLogging;

  /**
   * Task logs older than this many days are removed from the logs volume, by a small sidecar of the scheduler
   * (the log groomer); 0 keeps them forever. Needs a `logs` volume. See docs/log-retention.md.
   * @default 15
   */
  readonly logRetentionDays?: number;

  /**
   * Whether Airflow sends StatsD metrics to a statsd-exporter (Deployment and Service `airflow-statsd`) that
   * Prometheus scrapes. See docs/metrics.md.
   * @default false
   */
  readonly metrics?: boolean;

  /**
   * Celery workers beside the KubernetesExecutor (hybrid executors, Airflow 2.10+): `[core] executor` becomes
   * `KubernetesExecutor,CeleryExecutor`, a small pool of always-running workers takes the tasks that say
   * `executor="CeleryExecutor"` from a Redis broker in the cluster, and every other task still gets a pod.
   * See docs/celery.md for when to send which tasks where.
   * @default - none: the KubernetesExecutor alone, no broker, no workers
   */
  readonly celery?: CeleryOptions;

  /**
   * `airflow db clean` on a schedule (the official chart's `databaseCleanup`): a CronJob removes the metadata
   * database's rows older than `retentionDays` (`{}`: 90 days, Sundays at midnight). See docs/metadata-db.md,
   * "Database cleanup".
   * @default - none: the metadata database keeps every row
   */
  readonly databaseCleanup?: DatabaseCleanupOptions;

  /**
   * The UI's login through Airflow's FAB auth manager: OAuth / OpenID Connect providers
   * (`OAuthProvider.google(...)`, `.github`, `.okta`, `.azureAd`, `.keycloak`, `.generic`) or LDAP, with role
   * mapping, rendered into `webserver_config.py`. Secrets by Secret reference only. See docs/auth.md.
   * @default - FAB's database login: users and passwords kept by Airflow (the first admin user's among them)
   */
  readonly auth?: AuthOptions;

  /**
   * The Python source of `airflow_local_settings.py` (`pod_mutation_hook`, cluster policies), mounted where
   * Airflow imports it in every Airflow container and every task pod. See docs/auth.md, "Local settings".
   * @default - none: Airflow's own settings
   */
  readonly airflowLocalSettings?: string;
}

/** The features {@link addAirflowFeatures} added, each undefined when its option is off. */
export interface AirflowFeatures {
  /**
   * The git-sync of the DAGs (`gitSync`).
   * @default - none: the option is off
   */
  readonly gitSync?: GitSyncDags;
  /**
   * Where task logs are uploaded (`remoteLogging`).
   * @default - none: the option is off
   */
  readonly remoteLogging?: RemoteLogging;
  /**
   * The log groomer (`logRetentionDays`; on by default with a logs volume).
   * @default - none: the option is off
   */
  readonly logGroomer?: LogGroomer;
  /**
   * The statsd-exporter (`metrics`).
   * @default - none: the option is off
   */
  readonly statsd?: StatsdExporter;
  /**
   * The Celery workers and their broker (`celery`).
   * @default - none: the option is off
   */
  readonly celery?: CeleryWorkers;
  /**
   * The `airflow db clean` CronJob (`databaseCleanup`).
   * @default - none: the option is off
   */
  readonly databaseCleanup?: DatabaseCleanup;
  /**
   * The UI's login (`auth`).
   * @default - none: the option is off
   */
  readonly auth?: AirflowAuth;
  /**
   * `airflow_local_settings.py` (`airflowLocalSettings`).
   * @default - none: the option is off
   */
  readonly localSettings?: AirflowLocalSettings;
}

/**
 * Adds to `airflow` the features its options ask for, as AirflowChart does: remote logging, the log groomer
 * (15 days unless `logRetentionDays` says otherwise, when there is a logs volume), git-sync, metrics, Celery
 * workers, the login (`auth`), `airflow_local_settings.py`. Each feature with objects of its own is a construct
 * inside `airflow` (ids `git-sync`, `statsd`, `celery`, `auth`, `local-settings`).
 */
export function addAirflowFeatures(airflow: KubernetesExecutorAirflow, options: AirflowOptions): AirflowFeatures {
  const { gitSync, remoteLogging, logRetentionDays, metrics, celery, databaseCleanup, auth, airflowLocalSettings } = options;
  // Each check records its problem and goes on, each feature is built with buildPart: one synth reports all.
  const logging = recover(
    airflow,
    () =>
      remoteLogging !== undefined && !(remoteLogging instanceof RemoteLogging)
        ? invalid(airflow, 'remoteLogging', remoteLogging, 'RemoteLogging.s3({ ... }), RemoteLogging.gcs({ ... }), RemoteLogging.azureBlob({ ... }), RemoteLogging.elasticsearch({ ... }) or RemoteLogging.opensearch({ ... })')
        : remoteLogging,
    undefined,
  );
  const git = recover(
    airflow,
    () =>
      gitSync !== undefined && (typeof gitSync !== 'object' || gitSync === null)
        ? invalid(airflow, 'gitSync', gitSync, "the git-sync options, e.g. { repository: 'https://github.com/org/dags.git', branch: 'main' }")
        : gitSync,
    undefined,
  );
  const statsd = recover(airflow, () => (metrics !== undefined && typeof metrics !== 'boolean' ? invalid(airflow, 'metrics', metrics, 'true or false') : metrics), undefined);
  const cleanup = recover(
    airflow,
    () =>
      databaseCleanup !== undefined && (typeof databaseCleanup !== 'object' || databaseCleanup === null || Array.isArray(databaseCleanup))
        ? invalid(airflow, 'databaseCleanup', databaseCleanup, 'the cleanup options, e.g. { retentionDays: 30 } ({} for the defaults)')
        : databaseCleanup,
    undefined,
  );
  const login = recover(
    airflow,
    () =>
      auth !== undefined && (typeof auth !== 'object' || auth === null || Array.isArray(auth))
        ? invalid(airflow, 'auth', auth, "the login's options, e.g. { oauth: [OAuthProvider.google({ clientId, clientSecret: { name, key } })] }")
        : auth,
    undefined,
  );
  const days = recover(
    airflow,
    () => {
      const checked = validateInteger(airflow, 'logRetentionDays', logRetentionDays ?? DEFAULT_LOG_RETENTION_DAYS, 0, 3650);
      if (!airflow.volumes.has('logs') && logRetentionDays !== undefined && logRetentionDays > 0) {
        invalid(airflow, 'logRetentionDays', logRetentionDays, `0 or unset: there is no "logs" volume (${airflow.volumes.names.join(', ')}) to remove task logs from`);
      }
      return checked;
    },
    0,
  );
  const added = recover(airflow, () => (logging ? (airflow.addFeature(logging), logging) : undefined), undefined);
  const logGroomer = recover(
    airflow,
    () => {
      const groomer = airflow.volumes.has('logs') && days > 0 ? new LogGroomer(days) : undefined;
      if (groomer) airflow.addFeature(groomer);
      return groomer;
    },
    undefined,
  );
  return {
    remoteLogging: added,
    logGroomer,
    gitSync: git ? buildPart(airflow, 'git-sync', () => new GitSyncDags(airflow, 'git-sync', { ...git, airflow })) : undefined,
    statsd: statsd ? buildPart(airflow, 'statsd', () => new StatsdExporter(airflow, 'statsd', { airflow })) : undefined,
    celery: celery !== undefined ? buildPart(airflow, 'celery', () => new CeleryWorkers(airflow, 'celery', { ...celery, airflow })) : undefined,
    databaseCleanup: cleanup !== undefined ? buildPart(airflow, 'database-cleanup', () => new DatabaseCleanup(airflow, 'database-cleanup', { ...cleanup, airflow })) : undefined,
    auth: login !== undefined ? buildPart(airflow, 'auth', () => new AirflowAuth(airflow, 'auth', { ...login, airflow })) : undefined,
    localSettings: airflowLocalSettings !== undefined
      ? buildPart(airflow, 'local-settings', () => new AirflowLocalSettings(airflow, 'local-settings', { source: airflowLocalSettings, airflow }))
      : undefined,
  };
}
