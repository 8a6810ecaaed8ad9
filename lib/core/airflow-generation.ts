import * as k8s from '../../imports/k8s';
import {
  AIRFLOW_2_CONFIG_KEYS,
  AIRFLOW_2_SENSITIVE_CONFIG_KEYS,
  AIRFLOW_3_CONFIG_KEYS,
  AIRFLOW_3_CONFIG_KEY_VERSIONS,
  AIRFLOW_3_SENSITIVE_CONFIG_KEYS,
  AirflowConfigKeyData,
  AirflowConfigKeyVersions,
} from './data/airflow-config-keys';
import { AirflowCdk8sValidationError } from './errors';
import { Components } from './labels';
import { AIRFLOW_UI_PORT } from './ports';
import { SecretKeyRef, secretEnv } from './secret-key-ref';

/**
 * The Airflow 3 release the library pins by default: the newest 3.2 patch release whose tag public sources
 * confirm, 3.2.2 (the official Helm chart 1.22.0, `helm-chart/1.22.0`, declares `appVersion: 3.2.2`; the image
 * `apache/airflow:3.2.2` is built on in public Dockerfiles; 3.2.1 was released on 2026-04-22, 3.2.2 after its
 * release candidates of May 2026; no 3.2.3 was found). Until December 2026 it was 3.1.3, what the official chart
 * pinned when the library was written (chart/values.yaml `airflowVersion: "3.1.3"`). The runtime stage runs it
 * (docs/runtime-tests.md, "Airflow 3.2").
 */
export const DEFAULT_AIRFLOW_VERSION = '3.2.2';

/** The default image: the official image of {@link DEFAULT_AIRFLOW_VERSION}, pinned by tag. */
export const DEFAULT_AIRFLOW_IMAGE = `apache/airflow:${DEFAULT_AIRFLOW_VERSION}`;

/**
 * The oldest Airflow 2 release the library supports: 2.7.0 is the first with `airflow db migrate`
 * (earlier releases only have `airflow db upgrade`). 2.11 is the Airflow 2 line the library is tested for.
 */
export const MINIMUM_AIRFLOW_2_VERSION = '2.7.0';

/** The Airflow 2 release the library is tested with (the last Airflow 2 line, 2.11). */
export const TESTED_AIRFLOW_2_VERSION = '2.11.0';

/**
 * The day Airflow 2 reaches its end of life upstream: apache/airflow README.md, "Version Life Cycle" (main of
 * 2026-02-15, 50e5fc05): `| 2 | 2.11.1 | Limited maintenance | Dec 17, 2020 | Oct 22, 2025 | Apr 22, 2026 |`
 * (version, current patch, state, first release, limited maintenance, EOL/terminated).
 */
export const AIRFLOW_2_END_OF_LIFE = '2026-04-22';

/**
 * The first Airflow release that runs several executors at once (`[core] executor =
 * KubernetesExecutor,CeleryExecutor`, a task choosing one with `executor=`): 2.10.0 (AIP-61).
 */
export const MINIMUM_MULTIPLE_EXECUTORS_VERSION = '2.10.0';

const VERSION = /^(\d+)\.(\d+)\.(\d+)$/;

// Tags of the official image: "3.1.3", "3.1.3-python3.12", "slim-3.1.3", "slim-3.1.3-python3.12".
const OFFICIAL_TAG = /^(?:slim-)?(\d+\.\d+\.\d+)(?:-python\d+(?:\.\d+)?)?$/;

/** An Airflow release, `major.minor.patch`. */
export class AirflowVersion {
  /**
   * The version `major.minor.patch`, e.g. `AirflowVersion.of('3.1.3')`.
   * @throws AirflowCdk8sValidationError when `version` is not of that form
   */
  public static of(version: string): AirflowVersion {
    const parsed = AirflowVersion.tryParse(version);
    if (!parsed) {
      throw new AirflowCdk8sValidationError(
        'AirflowVersion',
        'AirflowVersion.of',
        'version',
        version,
        'an Airflow release as major.minor.patch, such as "3.1.3" or "2.11.0"',
      );
    }
    return parsed;
  }

  /** The version `major.minor.patch`, or undefined when `version` is not of that form. */
  public static tryParse(version: unknown): AirflowVersion | undefined {
    const match = typeof version === 'string' ? VERSION.exec(version) : null;
    return match ? new AirflowVersion(Number(match[1]), Number(match[2]), Number(match[3])) : undefined;
  }

  /**
   * Whether `image` is an official slim image (`apache/airflow:slim-3.1.3`): it lacks the cncf.kubernetes,
   * postgres and fab providers the KubernetesExecutor, the metadata database and the FAB auth manager need.
   */
  public static isSlimImage(image: string): boolean {
    const tag = imageTag(image);
    return tag !== undefined && OFFICIAL_TAG.test(tag) && tag.startsWith('slim-');
  }

  /**
   * The Airflow version an image's tag names, for tags of the official image's form (`3.1.3`,
   * `3.1.3-python3.12`, `slim-3.1.3`); undefined for any other tag (`latest`, `my-build`) and for digests.
   */
  public static fromImage(image: string): AirflowVersion | undefined {
    const tag = imageTag(image);
    const match = tag ? OFFICIAL_TAG.exec(tag) : null;
    return match ? AirflowVersion.tryParse(match[1]) : undefined;
  }

  private constructor(
    /** The major version: 2 or 3 for the releases the library supports. */
    public readonly major: number,
    /** The minor version. */
    public readonly minor: number,
    /** The patch version. */
    public readonly patch: number,
  ) {}

  /** Whether this version is `other` or newer. */
  public isAtLeast(other: AirflowVersion): boolean {
    if (this.major !== other.major) return this.major > other.major;
    if (this.minor !== other.minor) return this.minor > other.minor;
    return this.patch >= other.patch;
  }

  /** Whether the library supports this version: 3.x, or 2.x from {@link MINIMUM_AIRFLOW_2_VERSION}. */
  public get isSupported(): boolean {
    return AirflowGeneration.of(this) !== undefined;
  }

  /**
   * Whether this version runs several executors at once (hybrid executors: a `[core] executor` list, a task
   * choosing one with `executor=`): from {@link MINIMUM_MULTIPLE_EXECUTORS_VERSION}.
   */
  public get supportsMultipleExecutors(): boolean {
    return this.isAtLeast(AirflowVersion.of(MINIMUM_MULTIPLE_EXECUTORS_VERSION));
  }

  /**
   * The variable that sets FAB's permission sync at start (`update_fab_perms`): `[fab]` from Airflow 2.9 (and on
   * 3), `[webserver]` before (Airflow's deprecated options map the old name to the new from 2.9.0).
   */
  public get updateFabPermsEnv(): string {
    return this.isAtLeast(AirflowVersion.of('2.9.0')) ? 'AIRFLOW__FAB__UPDATE_FAB_PERMS' : 'AIRFLOW__WEBSERVER__UPDATE_FAB_PERMS';
  }

  /** Whether `airflow db clean` has `--batch-size`: from Airflow 3.1.0 (apache/airflow#51510). */
  public get dbCleanHasBatchSize(): boolean {
    return this.isAtLeast(AirflowVersion.of('3.1.0'));
  }

  /** The version in a form usable in object names: `3-1-3`. */
  public get slug(): string {
    return `${this.major}-${this.minor}-${this.patch}`;
  }

  /** `major.minor.patch`. */
  public toString(): string {
    return `${this.major}.${this.minor}.${this.patch}`;
  }
}

/** What {@link AirflowGeneration.configKeyAt} says of one option in one release. */
export interface ConfigKeyAvailability extends AirflowConfigKeyVersions {
  /** Whether the release defines the option. */
  readonly defined: boolean;
  /**
   * Why the release lacks an option another release has: a later release added it (`since`), or an earlier
   * one removed it (`removedIn`).
   * @default - undefined: the release has it, or no release the library knows does
   */
  readonly missing?: 'added later' | 'removed';
}

/** The parts of an image reference: repository (with registry), tag and digest. */
export interface ImageReference {
  /** The repository, with registry and port when given: `apache/airflow`, `localhost:5000/team/airflow`. */
  readonly repository: string;
  /** The tag; undefined when the reference has none. */
  readonly tag: string | undefined;
  /** The digest (`sha256:...`); undefined when the reference has none. */
  readonly digest: string | undefined;
}

/** Splits `[registry[:port]/]path[:tag][@digest]` into repository, tag and digest. */
export function parseImageReference(image: string): ImageReference {
  const at = image.indexOf('@');
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  const named = at >= 0 ? image.slice(0, at) : image;
  const lastSlash = named.lastIndexOf('/');
  const colon = named.indexOf(':', lastSlash + 1);
  return colon >= 0
    ? { repository: named.slice(0, colon), tag: named.slice(colon + 1), digest }
    : { repository: named, tag: undefined, digest };
}

function imageTag(image: string): string | undefined {
  const ref = parseImageReference(image);
  return ref.digest ? undefined : ref.tag;
}

/**
 * The FAB auth manager: the UI's users, roles and login. Airflow 3's default is the SimpleAuthManager (users
 * from a file, for development); the official Helm chart configures FAB on Airflow 3, and Airflow 2 uses it
 * always (`[webserver] auth_backend` aside).
 */
export const FAB_AUTH_MANAGER = 'airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager';

/** The FAB provider's database manager: `airflow db migrate` creates the FAB tables (users, roles) with it. */
export const FAB_DB_MANAGER = 'airflow.providers.fab.auth_manager.models.db.FABDBManager';

/** Where Airflow's own secrets are, for {@link AirflowGeneration.keyEnv}. */
export interface AirflowKeyRefs {
  /** `[core] fernet_key`. */
  readonly fernetKey: SecretKeyRef;
  /** `[api] secret_key` (Airflow 3) / `[webserver] secret_key` (Airflow 2). */
  readonly apiSecretKey: SecretKeyRef;
  /**
   * `[api_auth] jwt_secret`: read on Airflow 3 only.
   * @default - none: no JWT secret env var
   */
  readonly jwtSecret?: SecretKeyRef;
}

/** What {@link AirflowGeneration.managedConfig} needs to know about the deployment. */
export interface ManagedConfigContext {
  /** The in-cluster DNS name of the UI's Service (`airflow-api-server.airflow.svc.cluster.local`). */
  readonly uiServiceHost: string;
  /** Whether DAG files are parsed by a standalone dag-processor. */
  readonly standaloneDagProcessor: boolean;
  /**
   * The URL users reach the UI at (an Ingress), e.g. `https://airflow.example.com/airflow`.
   * @default - none: Airflow's own default
   */
  readonly baseUrl?: string;
  /**
   * The path the UI is served under (`/airflow`), or "" at the root.
   * @default ""
   */
  readonly basePath?: string;
}

interface GenerationFacts {
  readonly major: 2 | 3;
  readonly uiComponent: string;
  readonly uiHealthPath: string;
  readonly uiLivenessPath: string;
  readonly uiStartupPath: string;
  readonly uiAnswersOutsideBasePath: boolean;
  readonly uiPortKey: string;
  readonly uiHostKey: string;
  readonly baseUrlKey: string;
  readonly webserverConfigKey: string;
  readonly proxyFixSection: string;
  readonly dagListIntervalKey: string;
  readonly requiresStandaloneDagProcessor: boolean;
  readonly workersUseDatabase: boolean;
  readonly readOnlyRootFilesystem: boolean;
  readonly dagFileReaders: readonly string[];
  readonly configKeys: Readonly<Record<string, AirflowConfigKeyData>>;
  readonly configKeyVersions: Readonly<Record<string, AirflowConfigKeyVersions>>;
  readonly defaultVersion: string;
  readonly endOfLife: string | undefined;
  readonly sensitiveConfigKeys: readonly string[];
  readonly secretKeyEnv: string;
  readonly jwtSecretEnv: string | undefined;
  readonly managedConfig: (context: ManagedConfigContext) => Record<string, Record<string, string | number | boolean>>;
  readonly defaultConfig: Record<string, Record<string, string | number | boolean>>;
  readonly foreignSectionNote: (section: string, movedTo: string[]) => string;
}

const AIRFLOW_3: GenerationFacts = {
  major: 3,
  // `airflow api-server` serves the UI, the REST API (/api/v2) and the execution API (/execution) that task
  // pods talk to; /api/v2/monitor/health reports the metadatabase and every component's heartbeat.
  uiComponent: Components.API_SERVER,
  uiHealthPath: '/api/v2/monitor/health',
  // /api/v2/version answers without authentication and without touching the database (routes/public/
  // __init__.py includes version_router outside the authenticated router): a slow database does not restart
  // the api-server. The official chart probes liveness there too.
  uiLivenessPath: '/api/v2/version',
  // The execution API (Cadwyn's versioned app, mounted at /execution) generates its versioned routers on its first
  // request (cadwyn/applications.py: Cadwyn.__call__ -> _cadwyn_initialize), in the event loop: seconds of CPU,
  // during which the api-server answers nothing (measured: docs/runtime-tests.md, "The real node's share of the CPU").
  // The first request was a task's PATCH .../run, which outlasted the client's timeout ([workers]
  // execution_api_timeout) under load on the real node, every retry too in one CI run. /execution/health answers
  // without authentication (routes/__init__.py includes it outside the authenticated router): asked by the startup
  // probe, it pays that before the pod is Ready.
  uiStartupPath: '/execution/health',
  // With [api] base_url http://host/airflow, api_fastapi/app.py gives the FastAPI app root_path "/airflow";
  // Starlette routes /airflow/api/v2/... without the prefix and a path outside it unchanged
  // (starlette._utils.get_route_path), so the api-server answers both (the runtime stage measures it). The
  // official chart probes /api/v2/monitor/health whatever the base_url; the library probes under the path,
  // where the Ingress, the REST API's users and the task pods' execution API reach it.
  uiAnswersOutsideBasePath: true,
  uiPortKey: 'api.port',
  uiHostKey: 'api.host',
  baseUrlKey: 'api.base_url',
  // The FAB auth manager's Flask app reads webserver_config.py from [fab] config_file (providers/fab/www/app.py).
  webserverConfigKey: 'fab.config_file',
  // The FAB auth manager's Flask app (mounted in the api-server) wraps itself in werkzeug's ProxyFix when [fab]
  // enable_proxy_fix is on (providers/fab/www/extensions/init_wsgi_middlewares.py).
  proxyFixSection: 'fab',
  dagListIntervalKey: 'dag_processor.refresh_interval',
  // Airflow 3's scheduler no longer parses DAG files: `airflow dag-processor` always does.
  requiresStandaloneDagProcessor: true,
  // Task pods reach the metadata only through the execution API, with a token the scheduler gives them.
  workersUseDatabase: false,
  // Airflow 3 writes nothing into its image: airflow.cfg is given ([core] AIRFLOW_CONFIG exists, so
  // write_default_airflow_configuration_if_needed leaves it), FAB reads webserver_config.py only if it exists
  // (providers/fab/www/app.py: from_pyfile(silent=True)), the DAG bundles' locks go to tempfile.gettempdir()
  // (dag_processing/bundles/base.py), task logs to the logs volume.
  readOnlyRootFilesystem: true,
  // Beside the DAG parser, the triggerer and the tasks, nothing reads DAG files: the scheduler and the
  // api-server read the serialized DAGs and their source (dag_code) from the database.
  dagFileReaders: [],
  configKeys: AIRFLOW_3_CONFIG_KEYS,
  // 3.1 from the Airflow 3.1 source bundle, 3.2 from a 3.2.0 snapshot of apache/airflow (scripts/generate-config-keys.js).
  configKeyVersions: AIRFLOW_3_CONFIG_KEY_VERSIONS,
  defaultVersion: DEFAULT_AIRFLOW_VERSION,
  endOfLife: undefined,
  sensitiveConfigKeys: AIRFLOW_3_SENSITIVE_CONFIG_KEYS,
  secretKeyEnv: 'AIRFLOW__API__SECRET_KEY',
  jwtSecretEnv: 'AIRFLOW__API_AUTH__JWT_SECRET',
  managedConfig: (context) => ({
    core: {
      auth_manager: FAB_AUTH_MANAGER,
      // Under the UI's path: with [api] base_url https://host/airflow the api-server serves the execution API
      // at /airflow/execution/ (apache/airflow#51450; the official chart keeps the sub-path too).
      execution_api_server_url: `http://${context.uiServiceHost}:${AIRFLOW_UI_PORT}${context.basePath ?? ''}/execution/`,
    },
    database: { external_db_managers: FAB_DB_MANAGER },
    ...(context.baseUrl ? { api: { base_url: context.baseUrl } } : {}),
  }),
  // One uvicorn worker: each one is a whole Airflow app (about 300 MiB measured; 3.1's default of 4 uses about
  // 1.5 GiB), and with several, uvicorn kills workers that miss its 5 s start-up ping on a busy node
  // (apache/airflow#52270). Airflow main defaults to 1 too. Scale the UI with apiServer.replicas instead.
  // [workers] min_heartbeat_interval 1 (Airflow's 5): the Task SDK's supervisor waits for its task's end in a
  // select() bounded by it (task-sdk supervisor.py _monitor_subprocess); once the task's sockets close before the
  // process is reaped, nothing wakes it, so every task pod outlived its task by about 5 s, holding its requests
  // on the node (measured: 5.86 s median from the task's end_date to the container's exit, 1.61 s with 1;
  // docs/benchmark.md). The cost: a running task heartbeats the execution API every second instead of every 5.
  defaultConfig: { api: { workers: 1 }, workers: { min_heartbeat_interval: 1 } },
  foreignSectionNote: (section, movedTo) =>
    `the [${section}] section exists in Airflow 2 only: Airflow 3 removed it` +
    (movedTo.length > 0
      ? ` and moved its options to ${movedTo.map((t) => `[${t}]`).join(' and ')}` +
        (section === 'webserver' ? ' (the API server replaces the webserver; FAB UI settings live in [fab])' : '')
      : ' without a replacement section'),
};

const AIRFLOW_2: GenerationFacts = {
  major: 2,
  uiComponent: Components.WEBSERVER,
  uiHealthPath: '/health',
  uiLivenessPath: '/health',
  uiStartupPath: '/health',
  // With [webserver] base_url http://host/airflow, www/extensions/init_wsgi_middlewares.py mounts the app
  // under /airflow with a DispatcherMiddleware whose root answers 404 "Apache Airflow is not at this location":
  // /health is /airflow/health. The official chart's webserver probes prefix the base_url's path the same way.
  uiAnswersOutsideBasePath: false,
  uiPortKey: 'webserver.web_server_port',
  uiHostKey: 'webserver.web_server_host',
  baseUrlKey: 'webserver.base_url',
  // The webserver's Flask app reads webserver_config.py from [webserver] config_file (airflow/www/app.py).
  webserverConfigKey: 'webserver.config_file',
  // The webserver's Flask app wraps itself in werkzeug's ProxyFix when [webserver] enable_proxy_fix is on
  // (www/extensions/init_wsgi_middlewares.py).
  proxyFixSection: 'webserver',
  dagListIntervalKey: 'scheduler.dag_dir_list_interval',
  requiresStandaloneDagProcessor: false,
  // A task talks to the metadata database itself.
  workersUseDatabase: true,
  // Every Airflow 2 process copies default_webserver_config.py to [webserver] config_file (AIRFLOW_HOME) when
  // it is missing (configuration.py write_webserver_configuration_if_needed), the official image has none.
  readOnlyRootFilesystem: false,
  // `airflow db migrate` re-serializes the DAGs from their files after a migration (utils/db.py
  // _reserialize_dags); the scheduler runs the DAG callbacks and, without a standalone dag-processor, parses.
  dagFileReaders: [Components.SCHEDULER, Components.DB_MIGRATE],
  configKeys: AIRFLOW_2_CONFIG_KEYS,
  // One key list for the whole 2.x line (2.10's, with what 2.11 added): no per-release data.
  configKeyVersions: {},
  defaultVersion: TESTED_AIRFLOW_2_VERSION,
  endOfLife: AIRFLOW_2_END_OF_LIFE,
  sensitiveConfigKeys: AIRFLOW_2_SENSITIVE_CONFIG_KEYS,
  secretKeyEnv: 'AIRFLOW__WEBSERVER__SECRET_KEY',
  jwtSecretEnv: undefined,
  managedConfig: (context) => ({
    // Gunicorn's default of 4 workers costs about 1 GiB on a small node; 2 keep the UI responsive.
    webserver: { workers: 2, ...(context.baseUrl ? { base_url: context.baseUrl } : {}) },
    scheduler: { standalone_dag_processor: context.standaloneDagProcessor },
  }),
  defaultConfig: {},
  foreignSectionNote: (section) => `the [${section}] section exists from Airflow 3 on; Airflow 2 does not read it`,
};

/**
 * Everything that differs between Airflow 2 and Airflow 3, answered once: the UI component and its command,
 * port and health path, whether the dag-processor is standalone, the configuration keys and the options
 * the library sets, the secrets' environment variables, and whether task pods talk to the database. Every
 * construct asks this object; no other file of the library tests the major version.
 */
export class AirflowGeneration {
  /** Airflow 3 (3.x). */
  public static readonly AIRFLOW_3 = new AirflowGeneration(AIRFLOW_3);

  /** Airflow 2 (2.7 and newer). */
  public static readonly AIRFLOW_2 = new AirflowGeneration(AIRFLOW_2);

  /**
   * The generation of a supported version; undefined for a version the library does not support (Airflow 1,
   * Airflow 2 before {@link MINIMUM_AIRFLOW_2_VERSION}, a future Airflow 4).
   */
  public static of(version: AirflowVersion): AirflowGeneration | undefined {
    if (version.major === 2 && !version.isAtLeast(AirflowVersion.of(MINIMUM_AIRFLOW_2_VERSION))) return undefined;
    return AirflowGeneration.forMajor(version.major);
  }

  /** The generation of a major version (2 or 3); undefined for any other. */
  public static forMajor(major: number): AirflowGeneration | undefined {
    return [AirflowGeneration.AIRFLOW_2, AirflowGeneration.AIRFLOW_3].find((g) => g.major === major);
  }

  /** The major version, 2 or 3. */
  public readonly major: 2 | 3;

  /** The UI component: `api-server` (Airflow 3) or `webserver` (Airflow 2), its command and its object names. */
  public readonly uiComponent: string;

  /** The HTTP path that tells whether the UI is up and its database reachable (`/api/v2/monitor/health`, `/health`). */
  public readonly uiHealthPath: string;

  /** The HTTP path that tells whether the UI process answers, without asking the database (`/api/v2/version`). */
  public readonly uiLivenessPath: string;

  /**
   * The HTTP path the UI's startup probe asks: `/execution/health` on Airflow 3, whose first request initialises the
   * execution API (seconds of CPU, during which the api-server answers nothing) before the pod is Ready and a task
   * pod's first call arrives; `/health` on Airflow 2.
   */
  public readonly uiStartupPath: string;

  /**
   * Whether the UI also answers outside the path of its base URL (`[api] base_url` / `[webserver] base_url`):
   * Airflow 3's api-server does (Starlette routes a path outside its root_path unchanged), Airflow 2's webserver
   * does not (404 outside it). The probes ask under the path on both ({@link uiHealthPathUnder}).
   */
  public readonly uiAnswersOutsideBasePath: boolean;

  /** The option of the UI's port (`api.port`, `webserver.web_server_port`). */
  public readonly uiPortKey: string;

  /** The option of the UI's listen address (`api.host`, `webserver.web_server_host`). */
  public readonly uiHostKey: string;

  /** The option of the UI's public URL (`api.base_url`, `webserver.base_url`). */
  public readonly baseUrlKey: string;

  /**
   * The option naming the FAB `webserver_config.py` the UI reads (`fab.config_file` on Airflow 3, read by the FAB
   * auth manager; `webserver.config_file` on Airflow 2).
   */
  public readonly webserverConfigKey: string;

  /**
   * The section of the UI's `enable_proxy_fix` and `proxy_fix_x_*` options, which make its Flask app (FAB) trust
   * a proxy's X-Forwarded-* headers: `fab` on Airflow 3, `webserver` on Airflow 2.
   */
  public readonly proxyFixSection: string;

  /** The option of how often new DAG files are looked for (`dag_processor.refresh_interval`, `scheduler.dag_dir_list_interval`). */
  public readonly dagListIntervalKey: string;

  /** Whether DAG files must be parsed by a standalone `airflow dag-processor` (Airflow 3), not by the scheduler. */
  public readonly requiresStandaloneDagProcessor: boolean;

  /**
   * Whether task pods (and other workers) talk to the metadata database themselves and need its credentials
   * and the fernet key (Airflow 2); on Airflow 3 they use the api-server's execution API only.
   */
  public readonly workersUseDatabase: boolean;

  /**
   * Whether Airflow's containers run with a read-only root file system: Airflow 3 writes only to its volumes
   * and `/tmp`; Airflow 2 writes `webserver_config.py` into AIRFLOW_HOME at every start.
   */
  public readonly readOnlyRootFilesystem: boolean;

  /**
   * The components, beside the DAG parser, the triggerer and the tasks, that read DAG files and mount the DAGs
   * (read-only): none on Airflow 3; on Airflow 2 the scheduler and the migration Job (which re-serializes them).
   */
  public readonly dagFileReaders: readonly string[];

  /** Whether the control plane reads `[api_auth] jwt_secret` (Airflow 3). */
  public readonly usesJwtSecret: boolean;

  /** The configuration keys this generation of Airflow defines (`section.key` -> [version added, default]). */
  public readonly configKeys: Readonly<Record<string, AirflowConfigKeyData>>;

  /**
   * The keys of {@link configKeys} that not every release of this generation has, with the releases that have
   * them (Airflow 3: from 3.1's and 3.2's own config.yml and provider.yaml files; none for Airflow 2).
   */
  public readonly configKeyVersions: Readonly<Record<string, AirflowConfigKeyVersions>>;

  /** The release whose keys are checked where no version is given: 3.2.2 (the default image), 2.11.0. */
  public readonly defaultVersion: AirflowVersion;

  /**
   * The day this generation's support ended upstream (`YYYY-MM-DD`; Airflow 2: {@link AIRFLOW_2_END_OF_LIFE}),
   * or undefined while it is supported.
   */
  public readonly endOfLife: string | undefined;

  /**
   * The options this generation of Airflow marks `sensitive: true` (its config.yml and the image's providers'
   * provider.yaml): secrets, which never go into `airflow.cfg` nor into literal environment variables.
   */
  public readonly sensitiveConfigKeys: readonly string[];

  private readonly facts: GenerationFacts;

  private constructor(facts: GenerationFacts) {
    this.facts = facts;
    this.major = facts.major;
    this.uiComponent = facts.uiComponent;
    this.uiHealthPath = facts.uiHealthPath;
    this.uiStartupPath = facts.uiStartupPath;
    this.uiLivenessPath = facts.uiLivenessPath;
    this.uiAnswersOutsideBasePath = facts.uiAnswersOutsideBasePath;
    this.uiPortKey = facts.uiPortKey;
    this.uiHostKey = facts.uiHostKey;
    this.baseUrlKey = facts.baseUrlKey;
    this.webserverConfigKey = facts.webserverConfigKey;
    this.proxyFixSection = facts.proxyFixSection;
    this.dagListIntervalKey = facts.dagListIntervalKey;
    this.requiresStandaloneDagProcessor = facts.requiresStandaloneDagProcessor;
    this.workersUseDatabase = facts.workersUseDatabase;
    this.readOnlyRootFilesystem = facts.readOnlyRootFilesystem;
    this.dagFileReaders = facts.dagFileReaders;
    this.usesJwtSecret = facts.jwtSecretEnv !== undefined;
    this.configKeys = facts.configKeys;
    this.configKeyVersions = facts.configKeyVersions;
    this.defaultVersion = AirflowVersion.of(facts.defaultVersion);
    this.endOfLife = facts.endOfLife;
    this.sensitiveConfigKeys = facts.sensitiveConfigKeys;
  }

  /**
   * Whether Airflow `version` (of this generation) has the option `name`: `true`, or why not (it came later,
   * or was removed), with the releases that have it. An option Airflow never defined is `false`.
   */
  public configKeyAt(name: string, version: AirflowVersion): ConfigKeyAvailability {
    if (this.configKeys[name] === undefined) return { defined: false };
    const versions = this.configKeyVersions[name] ?? {};
    if (versions.since !== undefined && !version.isAtLeast(AirflowVersion.of(versions.since))) return { defined: false, missing: 'added later', ...versions };
    if (versions.removedIn !== undefined && version.isAtLeast(AirflowVersion.of(versions.removedIn))) return { defined: false, missing: 'removed', ...versions };
    const deprecated = versions.deprecatedIn !== undefined && version.isAtLeast(AirflowVersion.of(versions.deprecatedIn));
    return { defined: true, ...versions, ...(deprecated ? {} : { deprecatedIn: undefined }) };
  }

  /** "Airflow 3". */
  public get name(): string {
    return `Airflow ${this.major}`;
  }

  /** The other generation, for messages about options of the other major version. */
  public get other(): AirflowGeneration {
    return this === AirflowGeneration.AIRFLOW_3 ? AirflowGeneration.AIRFLOW_2 : AirflowGeneration.AIRFLOW_3;
  }

  /** Whether the dag-processor runs standalone unless the user says otherwise. */
  public get standaloneDagProcessorByDefault(): boolean {
    return this.requiresStandaloneDagProcessor;
  }

  /**
   * {@link uiHealthPath} under the path the UI is served at (`basePath`, "/airflow" for an Ingress on
   * http://host/airflow, "" at the root): `/airflow/health` on Airflow 2, whose webserver serves nothing
   * outside it; `/airflow/api/v2/monitor/health` on Airflow 3, where the Ingress and the task pods reach it.
   */
  public uiHealthPathUnder(basePath: string): string {
    return `${basePath}${this.uiHealthPath}`;
  }

  /** {@link uiLivenessPath} under the path the UI is served at (see {@link uiHealthPathUnder}). */
  public uiLivenessPathUnder(basePath: string): string {
    return `${basePath}${this.uiLivenessPath}`;
  }

  /** {@link uiStartupPath} under the path the UI is served at (see {@link uiHealthPathUnder}). */
  public uiStartupPathUnder(basePath: string): string {
    return `${basePath}${this.uiStartupPath}`;
  }

  /** The command of the UI container: `airflow api-server` / `airflow webserver`. */
  public get uiCommand(): string {
    return `airflow ${this.uiComponent}`;
  }

  /**
   * The components that connect to the metadata database: the control plane, the migration and user Jobs,
   * and on Airflow 2 the task pods.
   */
  public get databaseClients(): string[] {
    return this.databaseClientsWith({});
  }

  /**
   * {@link databaseClients}, and on Airflow 2 the Celery workers when they run (they run tasks, and a task
   * talks to the database there; on Airflow 3 they use the execution API like the task pods).
   */
  public databaseClientsWith(options: { readonly celeryWorkers?: boolean }): string[] {
    return [
      Components.SCHEDULER,
      this.uiComponent,
      Components.DAG_PROCESSOR,
      Components.TRIGGERER,
      Components.DB_MIGRATE,
      Components.CREATE_USER,
      ...(this.workersUseDatabase ? [Components.WORKER] : []),
      ...(this.workersUseDatabase && options.celeryWorkers ? [Components.CELERY_WORKER] : []),
    ];
  }

  /**
   * The options of `airflow.cfg` that differ by generation and that the library sets: on Airflow 3 the FAB
   * auth manager and its database manager, and the execution API's in-cluster URL; on Airflow 2 the
   * webserver's workers and `[scheduler] standalone_dag_processor`.
   */
  public managedConfig(context: ManagedConfigContext): Record<string, Record<string, string | number | boolean>> {
    return this.facts.managedConfig(context);
  }

  /**
   * The environment variables of the keys the UI and the scheduler use, read from their Secrets:
   * `AIRFLOW__API__SECRET_KEY` and `AIRFLOW__API_AUTH__JWT_SECRET` on Airflow 3, `AIRFLOW__WEBSERVER__SECRET_KEY`
   * on Airflow 2. (The fernet key, `AIRFLOW__CORE__FERNET_KEY`, is the same on both.)
   */
  public keyEnv(refs: AirflowKeyRefs): k8s.EnvVar[] {
    const env = [secretEnv(this.facts.secretKeyEnv, refs.apiSecretKey)];
    if (this.facts.jwtSecretEnv !== undefined && refs.jwtSecret !== undefined) {
      env.push(secretEnv(this.facts.jwtSecretEnv, refs.jwtSecret));
    }
    return env;
  }

  /** Options of `airflow.cfg` the library chooses for this generation and the user may change (`[api] workers`, `[workers] min_heartbeat_interval`). */
  public get defaultConfig(): Record<string, Record<string, string | number | boolean>> {
    return structuredClone(this.facts.defaultConfig);
  }

  /** Why `section`, which only the other generation defines, is not accepted (and where its options went). */
  public foreignSectionNote(section: string, movedTo: string[]): string {
    return this.facts.foreignSectionNote(section, movedTo);
  }
}
