import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import {
  APP_NAME,
  COMPONENT_LABEL,
  Components,
  IAirflowSecrets,
  NAME_LABEL,
  PodPlacementOptions,
  atSynth,
  chartPodDefaults,
  hardenedContainerSecurityContext,
  namedPortService,
  resourceRequirements,
  mergePodOptions,
  podPlacementFieldsAtSynth,
  podTemplateMetadataAtSynth,
  validatePodOptions,
  chartSecretRef,
  defaultNamePrefix,
  NAMESPACED_NAME_PREFIX,
  POSTGRES_PORT,
  SecretKeyRef,
  invalid,
  namespaceOf,
  secretEnv,
  validateByteQuantity,
  validateCpuQuantity,
  validateDnsLabel,
  validateDnsSubdomain,
  validateImage,
  validateSecretKeyRef,
  refuseUnknownProps,
  registerSecretsCopyStore,
} from '../core';
import { PersistentStorage, StorageProvisioning, StorageProvisioningMode } from '../storage';
import {
  DEFAULT_METADATA_DATABASE_NAME,
  DEFAULT_METADATA_DATABASE_USER,
  DatabaseConnection,
  validatePostgresName,
} from './database-connection';
import { ConnectionUriSecretOptions, ExternalMetadataDb, ExternalMetadataDbOptions } from './external-metadata-db';
import { IMetadataDatabase, markSoleMetadataDatabase, metadataDatabaseOf, validateWaitTimeout } from './metadata-database';
import { DEFAULT_WAIT_FOR_DB_TIMEOUT_SECONDS } from './wait-for-db';

/**
 * Props for {@link MetadataDb}: Airflow's metadata database as a Postgres inside the cluster. The placement
 * options (pull secrets, nodeSelector, tolerations, pod labels...) place the Postgres pod; unset, they are the
 * chart-wide ones of the chart's `KubernetesExecutorAirflow` (added before or after), merged like pod options:
 * maps key by key, the database's own winning; its own lists replace the chart's.
 */
export interface MetadataDbProps extends PodPlacementOptions {
  /**
   * How the data volume is provisioned.
   * @default StorageProvisioning.hostPath() - minikube: a static volume on /data/postgres, pinned to its claim
   */
  readonly provisioning?: StorageProvisioning;

  /**
   * The Postgres image: the official `postgres` image (Debian variant) or one built on it. It must keep the
   * official entrypoint (it reads POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB and PGDATA, starts as
   * root to own the data directory, then drops to the `postgres` user).
   * @default MetadataDb.DEFAULT_IMAGE ("postgres:17.10-bookworm")
   */
  readonly image?: string;

  /**
   * The data volume's size.
   * @default "5Gi"
   */
  readonly storageSize?: string;

  /**
   * The database created on first start and used by Airflow.
   * @default "airflow"
   */
  readonly databaseName?: string;

  /**
   * The user created on first start (the image makes it the superuser) and used by Airflow.
   * @default "airflow"
   */
  readonly user?: string;

  /**
   * The Secret key holding the password. Read by Postgres on first start only (when the data directory is
   * empty); changing it later needs `ALTER USER` too. It is written into Airflow's connection URI as is, so it
   * must contain only URL-unreserved characters (letters, digits, `-`, `.`, `_`, `~`).
   * @default - `databasePassword` of `secrets`
   */
  readonly passwordSecret?: SecretKeyRef;

  /**
   * Airflow's secrets, whose `databasePassword` is the password (the same `AirflowSecrets` the control plane
   * reads, so a custom Secret name is used everywhere).
   * @default - the AirflowSecrets of the same chart (added before or after this construct)
   */
  readonly secrets?: IAirflowSecrets;

  /**
   * The prefix of the PersistentVolumes' names (`<prefix>-postgres-volume`, `<prefix>-postgres-keys-volume`):
   * they are cluster-scoped, so two deployments in one cluster need different prefixes. Namespaced objects are
   * `airflow-*` in every namespace (StatefulSet and Service `airflow-postgres`, claim `airflow-postgres-claim`):
   * the namespace tells deployments apart.
   * @default - "airflow" in namespace "airflow", the namespace's name in any other
   */
  readonly namePrefix?: string;

  /**
   * The cluster's DNS domain, for the Service's fully qualified name.
   * @default "cluster.local"
   */
  readonly clusterDomain?: string;

  /**
   * The CPU the Postgres container requests.
   * @default MetadataDb.DEFAULT_RESOURCES - 100m
   */
  readonly cpuRequest?: string;

  /**
   * The CPU limit of the Postgres container.
   * @default MetadataDb.DEFAULT_RESOURCES - 1 CPU
   */
  readonly cpuLimit?: string;

  /**
   * The memory the Postgres container requests (the runtime stage measured about 80 MiB PSS on an idle
   * deployment's database).
   * @default MetadataDb.DEFAULT_RESOURCES - 128Mi
   */
  readonly memoryRequest?: string;

  /**
   * The memory limit of the Postgres container.
   * @default MetadataDb.DEFAULT_RESOURCES - 1Gi
   */
  readonly memoryLimit?: string;

  /**
   * How long Airflow's `wait-for-db` init container waits for the database, in seconds.
   * @default 300
   */
  readonly waitTimeoutSeconds?: number;
}

/**
 * Airflow's metadata database inside the cluster: the official Postgres image in a one-replica StatefulSet
 * `airflow-postgres`, a stable ClusterIP Service `airflow-postgres` on 5432, and its data on a persistent
 * claim `airflow-postgres-claim` (on minikube, the hostPath volume `airflow-postgres-volume` on
 * `/data/postgres`, pinned to the claim; Retain). The password comes from a Secret by reference only.
 *
 * For a database outside the cluster use `MetadataDb.external(...)` or `MetadataDb.fromConnectionUriSecret(...)`.
 */
export class MetadataDb extends Construct implements IMetadataDatabase {
  /** The default image: the official Postgres 17 image, Debian bookworm variant (uid 999). */
  public static readonly DEFAULT_IMAGE = 'postgres:17.10-bookworm';

  /**
   * The default CPU and memory of the Postgres container: 100m / 128Mi requested, 1 CPU / 1Gi limit (the
   * runtime stage measured about 80 MiB PSS on an idle deployment's database).
   */
  public static readonly DEFAULT_RESOURCES = { cpuRequest: '100m', memoryRequest: '128Mi', cpuLimit: '1', memoryLimit: '1Gi' } as const;

  /**
   * The capabilities the Postgres container keeps (every other one is dropped): CHOWN, DAC_OVERRIDE, SETGID,
   * SETUID. See {@link MetadataDb.postgresContainerSecurityContext}.
   */
  public static readonly CAPABILITIES: readonly string[] = ['CHOWN', 'DAC_OVERRIDE', 'SETGID', 'SETUID'];

  /** Where the data volume is mounted (the image's declared volume). */
  public static readonly DATA_MOUNT_PATH = '/var/lib/postgresql/data';

  /** PGDATA: a subdirectory of the mount, so that initdb finds an empty directory it may own. */
  public static readonly PGDATA = '/var/lib/postgresql/data/pgdata';

  /**
   * A metadata database outside the cluster, reached at `host:port/databaseName` as `user` with the password
   * in a Secret. Creates no Kubernetes objects.
   */
  public static external(scope: Construct, id: string, options: ExternalMetadataDbOptions): ExternalMetadataDb {
    const { waitTimeoutSeconds, ...connection } = options;
    return new ExternalMetadataDb(scope, id, { connection: DatabaseConnection.postgres(connection), waitTimeoutSeconds });
  }

  /** A metadata database outside the cluster whose whole connection URI is in a Secret. Creates no objects. */
  public static fromConnectionUriSecret(
    scope: Construct,
    id: string,
    options: ConnectionUriSecretOptions,
  ): ExternalMetadataDb {
    return new ExternalMetadataDb(scope, id, {
      connection: DatabaseConnection.fromUriSecret(options.uriSecret),
      waitTimeoutSeconds: options.waitTimeoutSeconds,
    });
  }

  /** The Service's fully qualified DNS name, e.g. `airflow-postgres.airflow.svc.cluster.local`. */
  public readonly host: string;
  /** The Service port, 5432. */
  public readonly port: number = POSTGRES_PORT;
  /** The database Airflow uses. */
  public readonly databaseName: string;
  /** The user Airflow connects as. */
  public readonly user: string;
  /** Where the password is. */
  public readonly passwordSecret: SecretKeyRef;

  /** The name of the StatefulSet and of the Service (`airflow-postgres`). */
  public readonly serviceName: string;
  /** The image. */
  public readonly image: string;
  /** The labels of the Postgres pod, which the Service selects. */
  public readonly podLabels: Readonly<Record<string, string>>;
  /** How long `wait-for-db` waits, in seconds. */
  public readonly waitTimeoutSeconds: number;

  /** The data claim (and, with hostPath provisioning, its pinned volume). */
  public readonly storage: PersistentStorage;
  /**
   * With hostPath provisioning, the volume beside the data (`<hostRoot>/postgres-keys`, claim
   * `airflow-postgres-keys-claim`, volume `<prefix>-postgres-keys-volume`, Retain) where the chart's generated secrets keep a copy of their values, so
   * that the keys outlive the namespace exactly as the data does (docs/secrets-and-security.md). Undefined with
   * a StorageClass (the claim's volume goes with the namespace, and the data with it), and when `secrets` are
   * brought (`AirflowSecrets.fromExistingSecrets`: nothing is generated).
   */
  public readonly keysStorage: PersistentStorage | undefined;
  /** The Service. */
  public readonly service: k8s.KubeService;
  /** The StatefulSet. */
  public readonly statefulSet: k8s.KubeStatefulSet;
  /**
   * Postgres' own ServiceAccount (named like the StatefulSet, no token): not the namespace's `default`, which
   * other workloads share and to which a RoleBinding meant for them could give rights.
   */
  public readonly serviceAccount: k8s.KubeServiceAccount;

  private readonly database: IMetadataDatabase;

  constructor(scope: Construct, id: string, props: MetadataDbProps = {}) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'MetadataDbProps');
    const namespace = namespaceOf(this);
    const prefix = validateDnsLabel(this, 'namePrefix', props.namePrefix ?? defaultNamePrefix(namespace));
    const clusterDomain = validateDnsSubdomain(this, 'clusterDomain', props.clusterDomain ?? 'cluster.local');
    this.image = validateImage(this, 'image', props.image ?? MetadataDb.DEFAULT_IMAGE);
    this.databaseName = validatePostgresName(this, 'databaseName', props.databaseName ?? DEFAULT_METADATA_DATABASE_NAME);
    this.user = validatePostgresName(this, 'user', props.user ?? DEFAULT_METADATA_DATABASE_USER);
    this.passwordSecret = this.resolvePasswordSecret(props);
    validatePodOptions(this, '', props);
    // Read at synth: the chart's control plane may be added after the database.
    const placement = (): PodPlacementOptions => mergePodOptions(chartPodDefaults(this)?.placement ?? {}, props);
    this.waitTimeoutSeconds = validateWaitTimeout(
      this,
      'waitTimeoutSeconds',
      props.waitTimeoutSeconds ?? DEFAULT_WAIT_FOR_DB_TIMEOUT_SECONDS,
    );
    const defaults = MetadataDb.DEFAULT_RESOURCES;
    const cpuRequest = props.cpuRequest ?? defaults.cpuRequest;
    const cpuLimit = props.cpuLimit ?? defaults.cpuLimit;
    const memoryRequest = props.memoryRequest ?? defaults.memoryRequest;
    const memoryLimit = props.memoryLimit ?? defaults.memoryLimit;
    if (validateCpuQuantity(this, 'cpuRequest', cpuRequest) > validateCpuQuantity(this, 'cpuLimit', cpuLimit)) {
      invalid(this, 'cpuRequest', cpuRequest, `at most cpuLimit ${JSON.stringify(cpuLimit)}`);
    }
    if (
      validateByteQuantity(this, 'memoryRequest', memoryRequest) >
      validateByteQuantity(this, 'memoryLimit', memoryLimit)
    ) {
      invalid(this, 'memoryRequest', memoryRequest, `at most memoryLimit ${JSON.stringify(memoryLimit)}`);
    }

    const storageSize = props.storageSize ?? '5Gi';
    validateByteQuantity(this, 'storageSize', storageSize);

    this.serviceName = `${NAMESPACED_NAME_PREFIX}-postgres`;
    this.host = `${this.serviceName}.${namespace}.svc.${clusterDomain}`;
    this.podLabels = { [NAME_LABEL]: APP_NAME, [COMPONENT_LABEL]: Components.METADATA_DB };
    markSoleMetadataDatabase(this);
    this.database = metadataDatabaseOf(this, {
      postgres: {
        host: this.host,
        port: this.port,
        databaseName: this.databaseName,
        user: this.user,
        passwordSecret: this.passwordSecret,
        // Traffic stays inside the cluster and the image serves no TLS by default.
        sslMode: undefined,
      },
      waitTimeoutSeconds: this.waitTimeoutSeconds,
    });

    const provisioning = props.provisioning ?? StorageProvisioning.hostPath();
    this.storage = new PersistentStorage(this, 'storage', {
      name: 'postgres',
      claimName: `${NAMESPACED_NAME_PREFIX}-postgres-claim`,
      volumeName: `${prefix}-postgres-volume`,
      provisioning,
      size: storageSize,
      // One Postgres writes its data directory: never share it.
      accessModes: ['ReadWriteOnce'],
      labels: { [NAME_LABEL]: APP_NAME, [COMPONENT_LABEL]: Components.METADATA_DB_STORAGE },
    });

    // The data outlives the namespace (a Retain hostPath volume: `kubectl delete -f dist/` keeps the folder), so
    // the keys that open it must too: the password Postgres was initialised with, the fernet key of the stored
    // connections and variables, the admin user's password. The secrets bootstrap Job keeps a copy of them here
    // and restores the Secret from it when the namespace, and the Secret with it, was deleted.
    // Secrets the user brings (`AirflowSecrets.fromExistingSecrets`, which says `generated: false`) are kept by
    // the user: nothing to copy.
    const broughtSecrets = (props.secrets as { generated?: boolean } | undefined)?.generated === false;
    this.keysStorage =
      provisioning.mode !== StorageProvisioningMode.HOST_PATH || broughtSecrets
        ? undefined
        : new PersistentStorage(this, 'keys-storage', {
          name: 'postgres-keys',
          claimName: `${NAMESPACED_NAME_PREFIX}-postgres-keys-claim`,
          volumeName: `${prefix}-postgres-keys-volume`,
          provisioning,
          // one small JSON file
          size: '1Mi',
          accessModes: ['ReadWriteOnce'],
          labels: { [NAME_LABEL]: APP_NAME, [COMPONENT_LABEL]: Components.METADATA_DB_KEYS },
        });
    if (this.keysStorage) {
      registerSecretsCopyStore(this, {
        claimName: this.keysStorage.claimName,
        hostPath: this.keysStorage.hostPath!,
        registeredBy: this.node.path,
      });
    }

    this.service = namedPortService(this, 'service', {
      name: this.serviceName,
      labels: { ...this.podLabels },
      selector: { ...this.podLabels },
      ports: [{ name: 'postgres', port: POSTGRES_PORT }],
    });

    // pg_isready over TCP on the loopback: during first-start initialisation the entrypoint runs a temporary
    // server that listens on no TCP address, so the pod is neither ready nor "alive" until the real one is up.
    const isReady = [
      'pg_isready',
      '--host=127.0.0.1',
      `--port=${POSTGRES_PORT}`,
      `--username=${this.user}`,
      `--dbname=${this.databaseName}`,
      '--timeout=3',
      '--quiet',
    ];

    this.serviceAccount = new k8s.KubeServiceAccount(this, 'service-account', {
      metadata: { name: this.serviceName, labels: { ...this.podLabels } },
      automountServiceAccountToken: false,
    });
    this.statefulSet = new k8s.KubeStatefulSet(this, 'statefulset', {
      metadata: { name: this.serviceName, labels: { ...this.podLabels } },
      spec: {
        serviceName: this.serviceName,
        replicas: 1,
        podManagementPolicy: 'OrderedReady',
        updateStrategy: { type: 'RollingUpdate' },
        selector: { matchLabels: { ...this.podLabels } },
        template: {
          metadata: podTemplateMetadataAtSynth(placement, this.podLabels),
          spec: {
            ...podPlacementFieldsAtSynth(placement),
            serviceAccountName: this.serviceName,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            // Fast shutdown needs a moment to flush; the image's STOPSIGNAL is SIGINT.
            terminationGracePeriodSeconds: 60,
            securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'postgres',
                image: this.image,
                imagePullPolicy: 'IfNotPresent',
                ports: [{ name: 'postgres', containerPort: POSTGRES_PORT, protocol: 'TCP' }],
                env: [
                  { name: 'POSTGRES_USER', value: this.user },
                  { name: 'POSTGRES_DB', value: this.databaseName },
                  secretEnv('POSTGRES_PASSWORD', this.passwordSecret),
                  { name: 'PGDATA', value: MetadataDb.PGDATA },
                  // initdb would trust every local and loopback connection (so anyone who may exec or
                  // port-forward into the pod would be superuser without a password): require the password
                  // there too. Read on first start only; pg_isready needs no password.
                  { name: 'POSTGRES_INITDB_ARGS', value: '--auth-local=scram-sha-256 --auth-host=scram-sha-256' },
                ],
                volumeMounts: [
                  { name: 'data', mountPath: MetadataDb.DATA_MOUNT_PATH },
                  { name: 'run', mountPath: '/var/run/postgresql' },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
                startupProbe: {
                  exec: { command: isReady },
                  periodSeconds: 5,
                  timeoutSeconds: 5,
                  // First start runs initdb: allow 5 minutes on a slow minikube.
                  failureThreshold: 60,
                },
                readinessProbe: {
                  exec: { command: isReady },
                  periodSeconds: 10,
                  timeoutSeconds: 5,
                  failureThreshold: 3,
                },
                livenessProbe: {
                  exec: { command: isReady },
                  periodSeconds: 20,
                  timeoutSeconds: 5,
                  failureThreshold: 6,
                },
                resources: resourceRequirements({ cpuRequest, memoryRequest, cpuLimit, memoryLimit }),
                // On OpenShift (the control plane's openShift), no root: the restricted SCC assigns the uid.
                securityContext: atSynth(() =>
                  chartPodDefaults(this)?.openShift ? MetadataDb.postgresOpenShiftSecurityContext() : MetadataDb.postgresContainerSecurityContext(),
                ),
              },
            ],
            volumes: [
              { name: 'data', persistentVolumeClaim: { claimName: this.storage.claimName } },
              { name: 'run', emptyDir: { sizeLimit: k8s.Quantity.fromString('16Mi') } },
              { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('64Mi') } },
            ],
          },
        },
      },
    });
  }

  /** `passwordSecret`, or `secrets.databasePassword`, or the chart's AirflowSecrets' (resolved at synth). */
  private resolvePasswordSecret(props: MetadataDbProps): SecretKeyRef {
    if (props.passwordSecret !== undefined && props.secrets !== undefined) {
      invalid(this, 'passwordSecret', props.passwordSecret, 'either passwordSecret or secrets, not both', 'Drop passwordSecret to use secrets.databasePassword.');
    }
    if (props.passwordSecret !== undefined) return validateSecretKeyRef(this, 'passwordSecret', props.passwordSecret);
    if (props.secrets !== undefined) {
      if (props.secrets.databasePassword === undefined) {
        invalid(this, 'secrets.databasePassword', undefined, 'a Secret key reference { name, key } holding the password of the in-cluster Postgres');
      }
      return validateSecretKeyRef(this, 'secrets.databasePassword', props.secrets.databasePassword);
    }
    return chartSecretRef(this, 'databasePassword', 'passwordSecret');
  }

  /**
   * The Postgres container's securityContext (Pod Security Standard "baseline", not "restricted").
   *
   * The official image's entrypoint starts as root, creates PGDATA and chowns it to the `postgres` user
   * (uid 999), then re-executes itself as that user with gosu; a freshly created hostPath directory is owned
   * by root, so running as 999 from the start could not create PGDATA there. Root keeps only what that step
   * needs: CHOWN to hand PGDATA to 999, DAC_OVERRIDE to enter it on restarts (it is then 999's, mode 0700),
   * SETGID and SETUID for gosu's switch. Every capability is gone once gosu switches users, and no process
   * can gain privileges again (no_new_privs).
   */
  public static postgresContainerSecurityContext(): k8s.SecurityContext {
    return hardenedContainerSecurityContext({ keepCapabilities: MetadataDb.CAPABILITIES });
  }

  /**
   * The Postgres container's securityContext on OpenShift (`openShift`, Pod Security "restricted"): no root and no
   * capability. The restricted SCC runs it under a uid of the namespace's range, in the root group, with the fsGroup
   * it assigns, which makes the claim's root group-writable: the official image's entrypoint, as a user other than
   * root, skips its chown and gosu step, creates PGDATA (a folder below the mount, `pgdata`) as that user, and gives
   * initdb a passwd entry for the uid through nss_wrapper (docker-library/postgres `docker-entrypoint.sh`).
   */
  public static postgresOpenShiftSecurityContext(): k8s.SecurityContext {
    return hardenedContainerSecurityContext({ runAsNonRoot: true });
  }

  /** The database connection env of Airflow's containers: see {@link IMetadataDatabase.airflowConnectionEnv}. */
  public airflowConnectionEnv(): k8s.EnvVar[] {
    return this.database.airflowConnectionEnv();
  }

  /** The init container that waits for the database: see {@link IMetadataDatabase.waitForDatabaseContainer}. */
  public waitForDatabaseContainer(image: string, securityContext?: k8s.SecurityContext): k8s.Container {
    return this.database.waitForDatabaseContainer(image, securityContext);
  }
}
