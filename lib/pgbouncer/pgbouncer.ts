import { JsonPatch } from 'cdk8s';
import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import {
  Components,
  PGBOUNCER_PORT,
  SecretKeyRef,
  airflowLabels,
  componentDeployment,
  hardenedContainerSecurityContext,
  invalid,
  namespaceOf,
  namedPortService,
  podTemplateMetadata,
  refuseUnknownProps,
  secretEnv,
  selectorLabels,
  sha256,
  validateDnsSubdomain,
  validateImage,
  validateInteger,
} from '../core';
import { ContainerResources, airflowServiceAccount, resolveResources, resourceRequirements } from '../airflow/pod-parts';
import type { ResourceOptions } from '../airflow/airflow-options';
import {
  DATABASE_PASSWORD_ENV,
  ExternalMetadataDb,
  IMetadataDatabase,
  IPooledMetadataDatabase,
  MetadataDb,
  PostgresSslMode,
  airflowConnectionEnv,
  waitForDatabaseContainer,
} from '../database';

/** Where the container writes the users file at start (its `/tmp`, an emptyDir): never in the YAML. */
const USERS_FILE = '/tmp/users.txt';
/** Where the ConfigMap's pgbouncer.ini is mounted. */
const CONFIG_DIR = '/etc/pgbouncer-config';
/** The image's `nobody` (Alpine), which the image's own entrypoint drops to (`pgbouncer -u nobody`). */
const NOBODY = 65534;

/** PgBouncer's options: pool sizes, image and resources. */
export interface PgBouncerOptions {
  /**
   * How many client connections PgBouncer accepts at once (`max_client_conn`): every Airflow process with a
   * connection pool (each api-server worker, the scheduler, the dag-processor, the triggerer, Celery workers and,
   * on Airflow 2, each running task) counts. The official chart's `pgbouncer.maxClientConn`.
   * @default 100
   */
  readonly maxClientConn?: number;

  /**
   * How many connections PgBouncer opens to the metadata database at most (`pool_size` of its `[databases]`
   * entry): what the database sees, whatever the number of clients. At most `maxClientConn`. The official chart's
   * `pgbouncer.metadataPoolSize`.
   * @default 10
   */
  readonly metadataPoolSize?: number;

  /**
   * The PgBouncer image: the one the official Helm chart uses (Alpine with `/usr/bin/pgbouncer` and `sh`), or one
   * built like it.
   * @default PgBouncer.DEFAULT_IMAGE ("apache/airflow:airflow-pgbouncer-2025.03.05-1.23.1")
   */
  readonly image?: string;

  /**
   * CPU and memory of the PgBouncer container.
   * @default PgBouncer.DEFAULT_RESOURCES - 25m / 32Mi requested, 250m / 128Mi limit
   */
  readonly resources?: ResourceOptions;
}

/** Props of {@link PgBouncer}: the database it pools connections to, and its options. */
export interface PgBouncerProps extends PgBouncerOptions {
  /**
   * The metadata database behind it: the in-cluster `MetadataDb` or an external one given by its parts
   * (`MetadataDb.external(...)`); not a connection URI Secret (PgBouncer needs the host, port, database and
   * user in its configuration).
   */
  readonly database: IMetadataDatabase;

  /**
   * The cluster's DNS domain, for the Service's full name in Airflow's connection URL.
   * @default "cluster.local"
   */
  readonly clusterDomain?: string;
}

/**
 * PgBouncer in front of the metadata database, as the official Helm chart's `pgbouncer` runs it: a Deployment
 * `airflow-pgbouncer` (transaction pooling) and its Service on 6543, between Airflow's pods and a Postgres in the
 * cluster or outside it. It is an {@link IMetadataDatabase}: give it to the control plane as its `database`, and
 * every Airflow container (the components, the Jobs, the Celery workers, and on Airflow 2 the task pods) connects
 * to PgBouncer, with the same user and password, which opens at most `metadataPoolSize` connections to the
 * database. `pgbouncer.ini` is a ConfigMap without secrets; the users file is written at each start from the
 * database password's Secret into the container's `/tmp` (an emptyDir), as the secrets bootstrap Job reads its
 * keys: no password is in the YAML.
 */
export class PgBouncer extends Construct implements IPooledMetadataDatabase {
  /** The image the official Helm chart 1.19 runs (`images.pgbouncer` of its values.yaml), PgBouncer 1.23.1. */
  public static readonly DEFAULT_IMAGE = 'apache/airflow:airflow-pgbouncer-2025.03.05-1.23.1';

  /**
   * The default resources. PgBouncer is a single-threaded event loop that keeps about 2 KiB per connection
   * (pgbouncer.org, "Features"): at the default 100 clients its memory is small; the figures are chosen (the
   * runtime stage's measurement of Debian's PgBouncer in front of Airflow is in docs/runtime-tests.md, "PgBouncer").
   */
  public static readonly DEFAULT_RESOURCES: ContainerResources = {
    cpuRequest: '25m',
    memoryRequest: '32Mi',
    cpuLimit: '250m',
    memoryLimit: '128Mi',
  };

  /** The database behind PgBouncer, which a client outside Airflow's pods (KEDA) connects to directly. */
  public readonly pooledDatabase: IMetadataDatabase;
  /** `max_client_conn`. */
  public readonly maxClientConn: number;
  /** `pool_size` of the metadata database. */
  public readonly metadataPoolSize: number;
  /** The image. */
  public readonly image: string;
  /** The container's resources. */
  public readonly resources: ContainerResources;
  /** The Service's full DNS name, which Airflow connects to. */
  public readonly host: string;
  /** The text of `pgbouncer.ini`. */
  public readonly ini: string;
  /** The ConfigMap with `pgbouncer.ini`. */
  public readonly configMap: k8s.KubeConfigMap;
  /** The Deployment. */
  public readonly deployment: k8s.KubeDeployment;
  /** The Service. */
  public readonly service: k8s.KubeService;
  /** The ServiceAccount (no token). */
  public readonly serviceAccount: k8s.KubeServiceAccount;

  private waitsForDatabase = false;
  private readonly backend: { host: string; port: number; databaseName: string; user: string; passwordSecret: SecretKeyRef; sslMode: PostgresSslMode | undefined; waitTimeoutSeconds: number };

  constructor(scope: Construct, id: string, props: PgBouncerProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'PgBouncerProps');
    const database = props.database;
    if (database instanceof ExternalMetadataDb && database.connectionUriSecret !== undefined) {
      invalid(
        this,
        'database',
        `MetadataDb.fromConnectionUriSecret(${JSON.stringify(database.connectionUriSecret)})`,
        "a database given by its parts (MetadataDb, or MetadataDb.external({ host, port, databaseName, user, passwordSecret })): PgBouncer's configuration names the host, port, database and user, which a connection URI Secret hides from synth",
        'Use MetadataDb.external(...) with the parts of your URI, or leave pgbouncer off.',
      );
    }
    if (!(database instanceof MetadataDb || database instanceof ExternalMetadataDb)) {
      invalid(this, 'database', database === undefined ? undefined : {}, 'the metadata database: a MetadataDb, or MetadataDb.external(...)');
    }
    this.pooledDatabase = database;
    this.backend = {
      host: database.host!,
      port: database.port!,
      databaseName: database.databaseName!,
      user: database.user!,
      passwordSecret: database.passwordSecret!,
      sslMode: database instanceof ExternalMetadataDb ? database.sslMode : undefined,
      waitTimeoutSeconds: database.waitTimeoutSeconds,
    };
    this.maxClientConn = validateInteger(this, 'maxClientConn', props.maxClientConn ?? 100, 1, 100_000);
    this.metadataPoolSize = validateInteger(this, 'metadataPoolSize', props.metadataPoolSize ?? 10, 1, 10_000);
    if (this.metadataPoolSize > this.maxClientConn) {
      invalid(
        this,
        'metadataPoolSize',
        this.metadataPoolSize,
        `at most maxClientConn (${this.maxClientConn}): PgBouncer opens a server connection only for a client, so a larger pool never fills`,
      );
    }
    this.image = validateImage(this, 'image', props.image ?? PgBouncer.DEFAULT_IMAGE);
    this.resources = resolveResources(this, 'resources', PgBouncer.DEFAULT_RESOURCES, props.resources);
    const name = `airflow-${Components.PGBOUNCER}`;
    const clusterDomain = validateDnsSubdomain(this, 'clusterDomain', props.clusterDomain ?? 'cluster.local');
    this.host = `${name}.${namespaceOf(this)}.svc.${clusterDomain}`;
    const labels = airflowLabels(Components.PGBOUNCER);
    const selector = selectorLabels(Components.PGBOUNCER);
    const b = this.backend;

    // The official chart's pgbouncer.ini (chart/templates/_helpers.yaml, "pgbouncer_config"), one pool: the
    // database keeps its name, so only the host and port of Airflow's URL change.
    this.ini = [
      '[databases]',
      `${b.databaseName} = host=${b.host} port=${b.port} dbname=${b.databaseName} pool_size=${this.metadataPoolSize}`,
      '',
      '[pgbouncer]',
      'pool_mode = transaction',
      `listen_port = ${PGBOUNCER_PORT}`,
      'listen_addr = *',
      // SCRAM towards Airflow; towards Postgres PgBouncer logs in with the same password (plain in the users file).
      'auth_type = scram-sha-256',
      `auth_file = ${USERS_FILE}`,
      `stats_users = ${b.user}`,
      // psycopg2 sends extra_float_digits, which PgBouncer would otherwise refuse (the chart's setting).
      'ignore_startup_parameters = extra_float_digits',
      `max_client_conn = ${this.maxClientConn}`,
      // Protocol-level prepared statements in transaction mode (PgBouncer 1.21+): Airflow 3's asyncpg connections
      // prepare their statements, which would otherwise meet another client's server connection.
      'max_prepared_statements = 100',
      'unix_socket_dir = /tmp',
      'log_connections = 0',
      'log_disconnections = 0',
      // The in-cluster Postgres serves no TLS; an external one as its sslMode says (libpq's default "prefer").
      `server_tls_sslmode = ${database instanceof MetadataDb ? 'disable' : (b.sslMode ?? 'prefer')}`,
      ...(b.sslMode === PostgresSslMode.VERIFY_CA || b.sslMode === PostgresSslMode.VERIFY_FULL ? ['server_tls_ca_file = /etc/ssl/certs/ca-certificates.crt'] : []),
      '',
    ].join('\n');

    this.serviceAccount = airflowServiceAccount(this, 'service-account', name, Components.PGBOUNCER, false);
    this.configMap = new k8s.KubeConfigMap(this, 'config', {
      metadata: { name, labels },
      data: { 'pgbouncer.ini': this.ini },
    });
    // The users file from the Secret, written where only this container reads it; `"` doubled as PgBouncer's
    // auth_file format wants.
    const start = [
      'set -eu',
      'umask 077',
      `printf '"%s" "%s"\\n' "$PGBOUNCER_USER" "$(printf '%s' "$${DATABASE_PASSWORD_ENV}" | sed 's/"/""/g')" > ${USERS_FILE}`,
      `exec /usr/bin/pgbouncer ${CONFIG_DIR}/pgbouncer.ini`,
    ].join('\n');
    const probe: k8s.Probe = { tcpSocket: { port: k8s.IntOrString.fromNumber(PGBOUNCER_PORT) }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 };
    this.deployment = componentDeployment(this, 'deployment', {
      name,
      labels,
      selector,
      replicas: 1,
      // The official chart's: the new pod serves before the old one stops.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: k8s.IntOrString.fromNumber(1), maxUnavailable: k8s.IntOrString.fromNumber(0) } },
      podMetadata: podTemplateMetadata(labels, {}, { 'airflow-cdk8s/pgbouncer-ini-checksum': sha256(this.ini).slice(0, 16) }),
      podSpec: {
        serviceAccountName: name,
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        securityContext: { runAsUser: NOBODY, runAsGroup: NOBODY, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: Components.PGBOUNCER,
            image: this.image,
            imagePullPolicy: 'IfNotPresent',
            command: ['sh', '-c', start],
            env: [{ name: 'PGBOUNCER_USER', value: b.user }, secretEnv(DATABASE_PASSWORD_ENV, b.passwordSecret)],
            ports: [{ name: 'pgbouncer', containerPort: PGBOUNCER_PORT, protocol: 'TCP' }],
            readinessProbe: probe,
            livenessProbe: { ...probe, initialDelaySeconds: 10, periodSeconds: 30 },
            resources: resourceRequirements(this.resources),
            securityContext: hardenedContainerSecurityContext({ user: { runAsUser: NOBODY, runAsGroup: NOBODY }, runAsNonRoot: true }),
            volumeMounts: [
              { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
              { name: 'tmp', mountPath: '/tmp' },
            ],
          },
        ],
        volumes: [
          { name: 'config', configMap: { name } },
          { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('1Mi') } },
        ],
      },
    });
    this.service = namedPortService(this, 'service', { name, labels, selector, ports: [{ name: 'pgbouncer', port: PGBOUNCER_PORT }] });
  }

  /**
   * Adds the database's own `wait-for-db` init container (see {@link IMetadataDatabase.waitForDatabaseContainer})
   * to PgBouncer's pod, run by `image` (one with bash and coreutils' `timeout`: the Airflow image): PgBouncer
   * then starts, and its Service gets an endpoint, only once the database accepts connections, so that the
   * Airflow pods' own `wait-for-db`, which waits for PgBouncer, means the database too. AirflowChart calls it
   * with the control plane's image.
   */
  public waitForDatabase(image: string, securityContext?: k8s.SecurityContext): void {
    if (this.waitsForDatabase) return;
    this.waitsForDatabase = true;
    const wait = this.pooledDatabase.waitForDatabaseContainer(image, securityContext);
    this.deployment.addJsonPatch(JsonPatch.add('/spec/template/spec/initContainers', [wait]));
  }

  /**
   * Airflow's connection env, pointing at PgBouncer: the same user, password (from the same Secret) and
   * database name, PgBouncer's host and port, no sslmode (in-cluster, PgBouncer serves no TLS to clients).
   */
  public airflowConnectionEnv(): k8s.EnvVar[] {
    const b = this.backend;
    return airflowConnectionEnv({
      postgres: { host: this.host, port: PGBOUNCER_PORT, databaseName: b.databaseName, user: b.user, passwordSecret: b.passwordSecret, sslMode: undefined },
    });
  }

  /** The `wait-for-db` init container, waiting for PgBouncer's port (PgBouncer itself connects to the database on demand). */
  public waitForDatabaseContainer(image: string, securityContext?: k8s.SecurityContext): k8s.Container {
    return waitForDatabaseContainer({
      image: validateImage(this, 'waitForDatabaseContainer.image', image),
      securityContext,
      timeoutSeconds: this.backend.waitTimeoutSeconds,
      host: this.host,
      port: PGBOUNCER_PORT,
    });
  }
}
