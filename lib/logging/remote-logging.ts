import { IConstruct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { SecretKeyRef, hasUrlCredentials, invalid, secretEnv, validateInteger, validatePodOptions, validateSecretKeyRef } from '../core';
import { AirflowConfigValues } from '../airflow/airflow-config-keys';
import { AirflowContribution, AirflowPods, IAirflowFeature } from '../airflow/airflow-feature';

/** Where the task logs go: the object stores and search engines Airflow's remote logging supports here. */
export enum RemoteLoggingProvider {
  /** Amazon S3 (`s3://`), with the amazon provider. */
  S3 = 's3',
  /** Google Cloud Storage (`gs://`), with the google provider. */
  GCS = 'gcs',
  /** Azure Blob Storage (`wasb...`), with the microsoft.azure provider. */
  AZURE_BLOB = 'azure-blob',
  /** Elasticsearch (`[elasticsearch]`), with the elasticsearch provider. */
  ELASTICSEARCH = 'elasticsearch',
  /** OpenSearch (`[opensearch]`), with the opensearch provider. */
  OPENSEARCH = 'opensearch',
}

/** How Airflow reaches the object store: common to every {@link RemoteLogging} factory. */
export interface RemoteLoggingConnectionOptions {
  /**
   * The Airflow connection id (`[logging] remote_log_conn_id`): letters, digits and `_`. Without
   * `connectionSecret` it names a connection Airflow already has (created in the UI or from a secrets backend).
   * @default - with connectionSecret, the provider's default id ("aws_default", "google_cloud_default",
   * "wasb_default"); without it, none: the pods' cloud identity (S3, GCS)
   */
  readonly connectionId?: string;

  /**
   * The Secret key holding the connection as a URI or JSON (what `airflow connections get <id> -o json`
   * prints). Every Airflow container and every task pod gets it as `AIRFLOW_CONN_<ID>` by `secretKeyRef`.
   * @default - none: no connection from a Secret
   */
  readonly connectionSecret?: SecretKeyRef;

  /**
   * Annotations that give the ServiceAccounts of the pods that write or read task logs (the components and
   * the task pods) a cloud identity: `{ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/airflow-logs' }`
   * (EKS IRSA), `{ 'iam.gke.io/gcp-service-account': 'airflow-logs@project.iam.gserviceaccount.com' }` (GKE),
   * `{ 'azure.workload.identity/client-id': '...' }` (AKS).
   * @default - none
   */
  readonly serviceAccountAnnotations?: Record<string, string>;

  /**
   * Whether a task's local log file is deleted once it is uploaded (`[logging] delete_local_logs`).
   * @default false
   */
  readonly deleteLocalLogs?: boolean;
}

/** Options for {@link RemoteLogging.s3}. */
export interface S3RemoteLoggingOptions extends RemoteLoggingConnectionOptions {
  /** The bucket's name (without `s3://`). */
  readonly bucket: string;

  /**
   * The key prefix under which the logs go (`s3://<bucket>/<prefix>/...`).
   * @default - none: the top of the bucket
   */
  readonly prefix?: string;

  /**
   * The bucket's region, as `AWS_DEFAULT_REGION` of every Airflow container and task pod.
   * @default - the region of the connection, or the SDK's default
   */
  readonly region?: string;

  /**
   * Whether the logs are written with server-side encryption (`[logging] encrypt_s3_logs`).
   * @default false
   */
  readonly encrypt?: boolean;
}

/** Options for {@link RemoteLogging.gcs}. */
export interface GcsRemoteLoggingOptions extends RemoteLoggingConnectionOptions {
  /** The bucket's name (without `gs://`). */
  readonly bucket: string;

  /**
   * The object prefix under which the logs go (`gs://<bucket>/<prefix>/...`).
   * @default - none: the top of the bucket
   */
  readonly prefix?: string;
}

/** Options for {@link RemoteLogging.azureBlob}. */
export interface AzureBlobRemoteLoggingOptions extends RemoteLoggingConnectionOptions {
  /** The blob container (`[azure_remote_logging] remote_wasb_log_container`); it must exist. */
  readonly container: string;

  /**
   * The blob name prefix (`[logging] remote_base_log_folder`). Airflow picks its Azure handler by this value
   * starting with "wasb", so it must.
   * @default "wasb-airflow-logs"
   */
  readonly prefix?: string;
}

/** What {@link RemoteLogging.elasticsearch} and {@link RemoteLogging.opensearch} share: the providers' own settings. */
export interface SearchRemoteLoggingOptions {
  /**
   * Whether a task writes its log lines to its stdout (`write_stdout`), where a log shipper (Fluent Bit,
   * Filebeat, ...) collects them into the index, instead of the local log file.
   * @default false - the provider's default
   */
  readonly writeStdout?: boolean;

  /**
   * Whether log lines are JSON documents (`json_format`) with `jsonFields` and the `log_id` the UI searches by.
   * The official chart sets it.
   * @default true
   */
  readonly jsonFormat?: boolean;

  /**
   * The fields of a JSON log line (`json_fields`), comma-separated.
   * @default "asctime, filename, lineno, levelname, message" - the provider's default
   */
  readonly jsonFields?: string;

  /**
   * The index patterns searched for a task's log (`index_patterns`), comma-separated.
   * @default "_all" - the provider's default
   */
  readonly indexPatterns?: string;

  /**
   * Whether the server's TLS certificate is verified (`[elasticsearch_configs]` / `[opensearch_configs]` `verify_certs`).
   * @default - the provider's default: true for Elasticsearch, false for OpenSearch
   */
  readonly verifyCerts?: boolean;
}

/** Options for {@link RemoteLogging.elasticsearch}: give the host as `host` or, with credentials in it, as `hostSecret`. */
export interface ElasticsearchRemoteLoggingOptions extends SearchRemoteLoggingOptions {
  /**
   * The Elasticsearch URL without credentials (`[elasticsearch] host`), e.g. "https://es.example.com:9200".
   * @default - none: give hostSecret
   */
  readonly host?: string;

  /**
   * The Secret key holding the URL with its credentials (`https://user:password@es.example.com:9200`), read as
   * `AIRFLOW__ELASTICSEARCH__HOST` by every Airflow container and task pod (the official chart's
   * `elasticsearch.secretName`, key "connection").
   * @default - none: give host
   */
  readonly hostSecret?: SecretKeyRef;

  /**
   * A link to the logs in Kibana or another UI (`frontend`), with `{log_id}` in it, e.g.
   * "kibana.example.com/app/discover?_a=(query:(language:kuery,query:'log_id: \"{log_id}\"'))".
   * @default - none: the UI shows the log from Elasticsearch itself
   */
  readonly frontend?: string;
}

/** Options for {@link RemoteLogging.opensearch}. */
export interface OpensearchRemoteLoggingOptions extends SearchRemoteLoggingOptions {
  /** The OpenSearch host name (`[opensearch] host`), without scheme or credentials, e.g. "opensearch.logging.svc". */
  readonly host: string;

  /**
   * The port (`[opensearch] port`).
   * @default 9200
   */
  readonly port?: number;

  /**
   * The Secret key holding the user name (`[opensearch] username`, which the provider marks sensitive), read as
   * `AIRFLOW__OPENSEARCH__USERNAME`.
   * @default - none: no authentication
   */
  readonly usernameSecret?: SecretKeyRef;

  /**
   * The Secret key holding the password (`[opensearch] password`), read as `AIRFLOW__OPENSEARCH__PASSWORD`.
   * @default - none: no authentication
   */
  readonly passwordSecret?: SecretKeyRef;

  /**
   * Whether the client talks TLS (`[opensearch_configs] use_ssl`).
   * @default false - the provider's default
   */
  readonly useSsl?: boolean;
}

/** What a {@link RemoteLogging} adds to the deployment, checked. */
export interface RemoteLoggingSettings {
  /** The options of `airflow.cfg`. */
  readonly config: AirflowConfigValues;
  /** Environment variables of every Airflow container and task pod (references and non-secret literals). */
  readonly env: k8s.EnvVar[];
  /** Annotations of the ServiceAccounts of the components and the task pods. */
  readonly serviceAccountAnnotations: Record<string, string>;
}

interface ProviderFacts {
  readonly factory: string;
  readonly scheme: string;
  readonly providerPackage: string;
  readonly defaultConnectionId: string;
}

const PROVIDERS: Readonly<Record<RemoteLoggingProvider, ProviderFacts>> = {
  [RemoteLoggingProvider.S3]: { factory: 's3', scheme: 's3://', providerPackage: 'apache-airflow-providers-amazon', defaultConnectionId: 'aws_default' },
  [RemoteLoggingProvider.GCS]: { factory: 'gcs', scheme: 'gs://', providerPackage: 'apache-airflow-providers-google', defaultConnectionId: 'google_cloud_default' },
  [RemoteLoggingProvider.AZURE_BLOB]: {
    factory: 'azureBlob',
    scheme: 'wasb',
    providerPackage: 'apache-airflow-providers-microsoft-azure',
    defaultConnectionId: 'wasb_default',
  },
  [RemoteLoggingProvider.ELASTICSEARCH]: { factory: 'elasticsearch', scheme: '', providerPackage: 'apache-airflow-providers-elasticsearch', defaultConnectionId: '' },
  [RemoteLoggingProvider.OPENSEARCH]: { factory: 'opensearch', scheme: '', providerPackage: 'apache-airflow-providers-opensearch', defaultConnectionId: '' },
};

/** URL schemes of remote log folders, and the factory each belongs to (for the error when one is given to another). */
const SCHEMES: ReadonlyArray<[RegExp, string]> = [
  [/^s3:\/\//, 'RemoteLogging.s3'],
  [/^gs:\/\//, 'RemoteLogging.gcs'],
  [/^(wasbs?|abfss?|az):\/\//, 'RemoteLogging.azureBlob'],
  [/^[a-z][a-z0-9+.-]*:\/\//, 'no factory of RemoteLogging'],
];

const CONNECTION_ID = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const PREFIX = /^[A-Za-z0-9!_.*'()=-]+(\/[A-Za-z0-9!_.*'()=-]+)*$/;

/**
 * Task logs in object storage: `RemoteLogging.s3({ bucket, prefix, region })`, `RemoteLogging.gcs({ bucket })`
 * or `RemoteLogging.azureBlob({ container })`. Sets `[logging] remote_logging`, `remote_base_log_folder` and
 * `remote_log_conn_id` (and what the provider needs besides), and takes the connection from a Secret
 * (`AIRFLOW_CONN_<ID>` by `secretKeyRef`) or the cloud identity of the pods' ServiceAccounts. The Airflow image
 * must contain the provider package ({@link providerPackage}); the official image has all three.
 */
export class RemoteLogging implements IAirflowFeature {
  /** Amazon S3: `s3://<bucket>/<prefix>`. */
  public static s3(options: S3RemoteLoggingOptions): RemoteLogging {
    return new RemoteLogging(RemoteLoggingProvider.S3, options);
  }

  /** Google Cloud Storage: `gs://<bucket>/<prefix>`. */
  public static gcs(options: GcsRemoteLoggingOptions): RemoteLogging {
    return new RemoteLogging(RemoteLoggingProvider.GCS, options);
  }

  /** Azure Blob Storage: blobs `<prefix>/...` in `container`; the connection names the storage account. */
  public static azureBlob(options: AzureBlobRemoteLoggingOptions): RemoteLogging {
    return new RemoteLogging(RemoteLoggingProvider.AZURE_BLOB, options);
  }

  /**
   * Elasticsearch (the elasticsearch provider's `[elasticsearch]` settings): the UI reads a task's log from the
   * index by its `log_id`; the lines get there from the pods' stdout or files by a log shipper of yours.
   */
  public static elasticsearch(options: ElasticsearchRemoteLoggingOptions): RemoteLogging {
    return new RemoteLogging(RemoteLoggingProvider.ELASTICSEARCH, options);
  }

  /**
   * OpenSearch (the opensearch provider's `[opensearch]` settings), like {@link elasticsearch}; the credentials
   * from a Secret. The official image does not contain the opensearch provider: use an image that does.
   */
  public static opensearch(options: OpensearchRemoteLoggingOptions): RemoteLogging {
    return new RemoteLogging(RemoteLoggingProvider.OPENSEARCH, options);
  }

  private constructor(
    /** Which object store or search engine. */
    public readonly provider: RemoteLoggingProvider,
    private readonly options:
      | S3RemoteLoggingOptions
      | GcsRemoteLoggingOptions
      | AzureBlobRemoteLoggingOptions
      | ElasticsearchRemoteLoggingOptions
      | OpensearchRemoteLoggingOptions,
  ) {}

  /** The Python package the Airflow image must contain for this provider's log handler. */
  public get providerPackage(): string {
    return PROVIDERS[this.provider].providerPackage;
  }

  /** How messages name this feature: the AirflowChart prop. */
  public readonly featureName = 'remoteLogging';

  /**
   * What remote logging adds to a deployment ({@link IAirflowFeature}): the `[logging]` options, the connection
   * in every control-plane and task-running pod, and the cloud identity on their ServiceAccounts. Add it with
   * `airflow.addFeature(RemoteLogging.s3({ ... }))`.
   */
  public contribute(airflow: IConstruct): AirflowContribution {
    const settings = this.settings(airflow, this.featureName);
    const pods = [AirflowPods.CONTROL_PLANE, AirflowPods.TASKS];
    return {
      config: settings.config,
      env: Object.fromEntries(pods.map((p) => [p, settings.env])),
      serviceAccountAnnotations: Object.fromEntries(pods.map((p) => [p, settings.serviceAccountAnnotations])),
    };
  }

  /**
   * The settings this remote logging adds, checked in the name of `scope` (`property` is the prop that holds
   * it, e.g. "remoteLogging"): a bucket given with another provider's scheme, a connection id that is not a
   * valid environment name, or an Azure folder without a connection is refused.
   */
  public settings(scope: IConstruct, property: string): RemoteLoggingSettings {
    const facts = PROVIDERS[this.provider];
    const o = this.options as S3RemoteLoggingOptions | GcsRemoteLoggingOptions | AzureBlobRemoteLoggingOptions;
    if (typeof o !== 'object' || o === null) invalid(scope, property, o, `the options of RemoteLogging.${facts.factory}({ ... })`);
    if (this.provider === RemoteLoggingProvider.ELASTICSEARCH || this.provider === RemoteLoggingProvider.OPENSEARCH) {
      return this.searchSettings(scope, property);
    }
    const logging: Record<string, string | boolean> = { remote_logging: true };
    const config: Record<string, Record<string, string | boolean>> = { logging };
    const env: k8s.EnvVar[] = [];

    if (this.provider === RemoteLoggingProvider.AZURE_BLOB) {
      const azure = o as AzureBlobRemoteLoggingOptions;
      const container = this.name(scope, `${property}.container`, azure.container, /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, 'an Azure blob container name: 3 to 63 lowercase letters, digits and single "-"');
      const prefix = azure.prefix ?? 'wasb-airflow-logs';
      this.checkPrefix(scope, `${property}.prefix`, prefix);
      if (!prefix.startsWith(facts.scheme)) {
        invalid(scope, `${property}.prefix`, prefix, `a blob prefix starting with "wasb" (Airflow picks its Azure Blob log handler by it), e.g. "wasb-airflow-logs"`);
      }
      logging.remote_base_log_folder = prefix;
      config.azure_remote_logging = { remote_wasb_log_container: container };
      if (o.connectionSecret === undefined && o.connectionId === undefined) {
        invalid(
          scope,
          `${property}.connectionSecret`,
          undefined,
          'a connection, from a Secret (connectionSecret) or defined in Airflow (connectionId): the Azure handler reads the storage account from it',
          'With workload identity the connection holds no secret: {"conn_type": "wasb", "host": "https://<account>.blob.core.windows.net"}.',
        );
      }
    } else {
      const bucketOptions = o as S3RemoteLoggingOptions | GcsRemoteLoggingOptions;
      const bucket = this.name(scope, `${property}.bucket`, bucketOptions.bucket, /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/, 'a bucket name: 3 to 222 lowercase letters, digits, ".", "-" or "_"');
      let folder = `${facts.scheme}${bucket}`;
      if (bucketOptions.prefix !== undefined) {
        this.checkPrefix(scope, `${property}.prefix`, bucketOptions.prefix);
        folder += `/${bucketOptions.prefix}`;
      }
      logging.remote_base_log_folder = folder;
    }
    if (this.provider === RemoteLoggingProvider.S3) {
      const s3 = o as S3RemoteLoggingOptions;
      if (s3.region !== undefined) {
        if (typeof s3.region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(s3.region)) {
          invalid(scope, `${property}.region`, s3.region, 'an AWS region such as "eu-west-1"');
        }
        env.push({ name: 'AWS_DEFAULT_REGION', value: s3.region });
      }
      if (s3.encrypt !== undefined) logging.encrypt_s3_logs = this.flag(scope, `${property}.encrypt`, s3.encrypt);
    }
    if (o.deleteLocalLogs !== undefined) logging.delete_local_logs = this.flag(scope, `${property}.deleteLocalLogs`, o.deleteLocalLogs);

    if (o.connectionId !== undefined && (typeof o.connectionId !== 'string' || !CONNECTION_ID.test(o.connectionId))) {
      invalid(
        scope,
        `${property}.connectionId`,
        o.connectionId,
        'a connection id of letters, digits and "_", starting with a letter or "_" (it becomes the variable AIRFLOW_CONN_<ID>)',
      );
    }
    if (o.connectionSecret !== undefined) {
      const ref = validateSecretKeyRef(scope, `${property}.connectionSecret`, o.connectionSecret);
      const id = o.connectionId ?? facts.defaultConnectionId;
      logging.remote_log_conn_id = id;
      env.push(secretEnv(`AIRFLOW_CONN_${id.toUpperCase()}`, ref));
    } else if (o.connectionId !== undefined) {
      logging.remote_log_conn_id = o.connectionId;
    }

    const annotations = o.serviceAccountAnnotations ?? {};
    validatePodOptions(scope, property, { serviceAccountAnnotations: annotations });
    return { config, env, serviceAccountAnnotations: { ...annotations } };
  }

  /**
   * The `[elasticsearch]` / `[opensearch]` settings (the providers' `config:` in provider.yaml): Airflow's logging
   * config picks the search engine's task handler when `[logging] remote_logging` is on, `remote_base_log_folder`
   * is empty and `[elasticsearch] host` (else `[opensearch] host`) is set (config_templates/airflow_local_settings.py).
   * Credentials only by `secretKeyRef`; a URL with credentials as a literal is refused.
   */
  private searchSettings(scope: IConstruct, property: string): RemoteLoggingSettings {
    const es = this.provider === RemoteLoggingProvider.ELASTICSEARCH;
    const section = es ? 'elasticsearch' : 'opensearch';
    const o = this.options as ElasticsearchRemoteLoggingOptions & OpensearchRemoteLoggingOptions;
    const known = es
      ? ['host', 'hostSecret', 'frontend', 'writeStdout', 'jsonFormat', 'jsonFields', 'indexPatterns', 'verifyCerts']
      : ['host', 'port', 'usernameSecret', 'passwordSecret', 'useSsl', 'writeStdout', 'jsonFormat', 'jsonFields', 'indexPatterns', 'verifyCerts'];
    for (const key of Object.keys(o)) {
      if (!known.includes(key)) invalid(scope, `${property}.${key}`, (o as unknown as Record<string, unknown>)[key], `an option of RemoteLogging.${section}: ${known.join(', ')}`);
    }
    const settings: Record<string, string | boolean | number> = {};
    const clientConfig: Record<string, string | boolean | number> = {};
    const env: k8s.EnvVar[] = [];
    if (es) {
      if ((o.host === undefined) === (o.hostSecret === undefined)) {
        invalid(scope, `${property}.host`, o.host, 'either host (a URL without credentials) or hostSecret (a Secret key holding the URL with them), not both and not neither');
      }
      if (o.host !== undefined) settings.host = this.searchUrl(scope, `${property}.host`, o.host);
      else env.push(secretEnv('AIRFLOW__ELASTICSEARCH__HOST', validateSecretKeyRef(scope, `${property}.hostSecret`, o.hostSecret)));
      if (o.frontend !== undefined) {
        if (typeof o.frontend !== 'string' || !o.frontend.includes('{log_id}') || /\s/.test(o.frontend) || hasUrlCredentials(`https://${o.frontend.replace(/^https?:\/\//, '')}`)) {
          invalid(scope, `${property}.frontend`, o.frontend, 'a link without spaces or credentials with {log_id} in it, e.g. "kibana.example.com/app/discover?_a=(query:(query:\'log_id: \\"{log_id}\\"\'))"');
        }
        settings.frontend = o.frontend;
      }
    } else {
      if (typeof o.host !== 'string' || !HOST_NAME.test(o.host)) {
        invalid(scope, `${property}.host`, o.host, 'a host name or IP address alone (no scheme, port or credentials), e.g. "opensearch.logging.svc"', 'The port is port; TLS is useSsl; the credentials are usernameSecret and passwordSecret.');
      }
      settings.host = o.host;
      settings.port = validateInteger(scope, `${property}.port`, o.port ?? 9200, 1, 65535);
      if ((o.usernameSecret === undefined) !== (o.passwordSecret === undefined)) {
        invalid(scope, `${property}.${o.usernameSecret === undefined ? 'usernameSecret' : 'passwordSecret'}`, undefined, 'both usernameSecret and passwordSecret, or neither (no authentication)');
      }
      if (o.usernameSecret !== undefined) {
        env.push(secretEnv('AIRFLOW__OPENSEARCH__USERNAME', validateSecretKeyRef(scope, `${property}.usernameSecret`, o.usernameSecret)));
        env.push(secretEnv('AIRFLOW__OPENSEARCH__PASSWORD', validateSecretKeyRef(scope, `${property}.passwordSecret`, o.passwordSecret)));
      }
      if (o.useSsl !== undefined) clientConfig.use_ssl = this.flag(scope, `${property}.useSsl`, o.useSsl);
    }
    if (o.writeStdout !== undefined) settings.write_stdout = this.flag(scope, `${property}.writeStdout`, o.writeStdout);
    settings.json_format = this.flag(scope, `${property}.jsonFormat`, o.jsonFormat ?? true);
    if (o.jsonFields !== undefined) settings.json_fields = this.list(scope, `${property}.jsonFields`, o.jsonFields, /^[A-Za-z_][A-Za-z0-9_.]*$/, 'log record fields such as "asctime, levelname, message"');
    if (o.indexPatterns !== undefined) settings.index_patterns = this.list(scope, `${property}.indexPatterns`, o.indexPatterns, /^[a-z0-9_*.+-]+$/, 'index patterns such as "airflow-logs-*"');
    if (o.verifyCerts !== undefined) clientConfig.verify_certs = this.flag(scope, `${property}.verifyCerts`, o.verifyCerts);
    const config: Record<string, Record<string, string | boolean | number>> = { logging: { remote_logging: true }, [section]: settings };
    if (Object.keys(clientConfig).length) config[`${section}_configs`] = clientConfig;
    return { config, env, serviceAccountAnnotations: {} };
  }

  private searchUrl(scope: IConstruct, property: string, value: unknown): string {
    if (typeof value === 'string' && hasUrlCredentials(value.replace(/^(?![a-z]+:\/\/)/, 'http://'))) {
      invalid(scope, property, '(a URL with credentials)', 'a URL without credentials: the host is written into airflow.cfg, a ConfigMap', 'Put the URL with its credentials in a Secret and give hostSecret: { name, key }.');
    }
    if (typeof value !== 'string' || !/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/?$/.test(value)) {
      invalid(scope, property, value, 'an http:// or https:// URL of the Elasticsearch host, with an optional port, e.g. "https://es.example.com:9200"');
    }
    return value;
  }

  private list(scope: IConstruct, property: string, value: unknown, item: RegExp, allowed: string): string {
    if (typeof value !== 'string' || value.split(',').some((p) => !item.test(p.trim()))) invalid(scope, property, value, `a comma-separated list of ${allowed}`);
    return value;
  }

  private name(scope: IConstruct, property: string, value: unknown, pattern: RegExp, allowed: string): string {
    if (typeof value === 'string') this.refuseScheme(scope, property, value);
    if (typeof value !== 'string' || !pattern.test(value)) invalid(scope, property, value, allowed);
    return value;
  }

  private checkPrefix(scope: IConstruct, property: string, value: unknown): void {
    if (typeof value === 'string') this.refuseScheme(scope, property, value);
    if (typeof value !== 'string' || !PREFIX.test(value) || value.split('/').some((p) => p === '.' || p === '..')) {
      invalid(scope, property, value, 'a relative key prefix such as "airflow/logs" (no leading or trailing "/", no "..")');
    }
  }

  /** A URL where a name or prefix belongs: its own provider's scheme is redundant, another provider's is the wrong factory. */
  private refuseScheme(scope: IConstruct, property: string, value: string): void {
    if (!value.includes('://')) return;
    const facts = PROVIDERS[this.provider];
    const own = `RemoteLogging.${facts.factory}`;
    const factory = SCHEMES.find(([scheme]) => scheme.test(value))?.[1] ?? 'no factory of RemoteLogging';
    if (factory === own) {
      invalid(scope, property, value, `the ${property.endsWith('prefix') ? 'prefix' : 'name'} alone, not a URL: ${own} builds the location itself`);
    }
    invalid(scope, property, value, `a location for ${own}: "${value}" belongs to another provider (${factory})`);
  }

  private flag(scope: IConstruct, property: string, value: unknown): boolean {
    if (typeof value !== 'boolean') invalid(scope, property, value, 'true or false');
    return value;
  }
}
