import { IConstruct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { SecretKeyRef, invalid, secretEnv, validatePodOptions, validateSecretKeyRef } from '../core';
import { AirflowConfigValues } from '../airflow/airflow-config-keys';
import { AirflowContribution, AirflowPods, IAirflowFeature } from '../airflow/airflow-feature';

/** Where the task logs go: the object stores Airflow's remote logging supports here. */
export enum RemoteLoggingProvider {
  /** Amazon S3 (`s3://`), with the amazon provider. */
  S3 = 's3',
  /** Google Cloud Storage (`gs://`), with the google provider. */
  GCS = 'gcs',
  /** Azure Blob Storage (`wasb...`), with the microsoft.azure provider. */
  AZURE_BLOB = 'azure-blob',
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
};

/** URL schemes of remote log folders, and the factory each belongs to (for the error when one is given to another). */
const SCHEMES: ReadonlyArray<[RegExp, string]> = [
  [/^s3:\/\//, 'RemoteLogging.s3'],
  [/^gs:\/\//, 'RemoteLogging.gcs'],
  [/^(wasbs?|abfss?|az):\/\//, 'RemoteLogging.azureBlob'],
  [/^[a-z][a-z0-9+.-]*:\/\//, 'no factory of RemoteLogging'],
];

const CONNECTION_ID = /^[A-Za-z_][A-Za-z0-9_]*$/;
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

  private constructor(
    /** Which object store. */
    public readonly provider: RemoteLoggingProvider,
    private readonly options: S3RemoteLoggingOptions | GcsRemoteLoggingOptions | AzureBlobRemoteLoggingOptions,
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
    const o = this.options;
    if (typeof o !== 'object' || o === null) invalid(scope, property, o, `the options of RemoteLogging.${facts.factory}({ ... })`);
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
