import { ApiObject, App, Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { KubernetesExecutorAirflow } from './airflow';
import { AirflowFeatures, AirflowOptions, addAirflowFeatures } from './airflow-options';
import {
  APP_NAME,
  Components,
  DEFAULT_NAMESPACE,
  INSTANCE_LABEL,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  NAME_LABEL,
  PART_OF_LABEL,
  VERSION_LABEL,
  IMAGE_PULL_POLICIES,
  buildPart,
  invalid,
  recover,
  validateAbsolutePath,
  validateChoice,
  validateHostFolder,
  validateImage,
  validateNamespaceName,
  refuseUnknownProps,
  renderingOnce,
} from './core';
import { GitSyncMode } from './git-sync';
import { GitDagBundleOptions, GitDagBundles } from './dag-bundles';
import { ImagePrePull } from './image-pre-pull';
import { RemoteLoggingProvider } from './logging';
import { IMetadataDatabase, MetadataDb } from './database';
import { PgBouncer, PgBouncerOptions } from './pgbouncer';
import {
  AirflowNamespace,
  AirflowNetworkPolicies,
  AirflowNetworkPolicyOptions,
  AirflowSecrets,
  ExistingAirflowSecretsProps,
  PodSecurityLevel,
  podSecurityLevelIn,
} from './security';
import { AirflowVolumeOptions, AirflowVolumes, StorageProvisioning, StorageProvisioningMode } from './storage';

/** Props for {@link AirflowChart}: where it runs, and how Airflow runs ({@link AirflowOptions}). */
export interface AirflowChartProps extends ChartProps, AirflowOptions {
  /**
   * How persistent storage (the dags, logs and data volumes, and the database's) is provisioned.
   * @default StorageProvisioning.hostPath() - minikube: static volumes under /data
   */
  readonly provisioning?: StorageProvisioning;

  /**
   * Secrets that already exist (sealed-secrets, external-secrets, a vault): nothing is generated then.
   * `databasePassword` is required, for the in-cluster Postgres.
   * @default - generated once inside the cluster by the bootstrap Job (Secret `airflow-secrets`)
   */
  readonly existingSecrets?: ExistingAirflowSecretsProps;

  /**
   * The volumes: dags, logs and data by default. Give your own list to add `plugins`, drop `data`, size
   * them, use a claim that exists already (`{ name: 'dags', existingClaim: 'team-dags' }`), or, without
   * ReadWriteMany storage, put the logs on an emptyDir of each pod (`{ name: 'logs', emptyDir: true }`, with
   * `remoteLogging`; docs/storage.md).
   * @default AirflowVolumes.DEFAULT_VOLUMES - dags, logs and data (without dags in git-sync's sidecar mode)
   */
  readonly volumes?: AirflowVolumeOptions[];

  /**
   * The prefix of the names of the PersistentVolumes (cluster-scoped: `<namePrefix>-dags-volume`). Two deployments
   * in one cluster need different prefixes. Namespaced objects (claims, Postgres, the Airflow objects) are
   * `airflow-*` in every namespace: the namespace tells deployments apart.
   * @default - "airflow" in namespace "airflow" (the course's names), the namespace's name in any other
   */
  readonly namePrefix?: string;

  /**
   * The host folder under which the static hostPath volumes live (`<hostRoot>/dags`, ...); hostPath
   * provisioning only. Two deployments in one cluster need different folders. Never `/` nor a system folder
   * of the node (`/etc`, `/var`, `/usr`, ...) nor inside one: the volumes' folders are given to Airflow's user
   * and every task pod mounts them read-write.
   * @default - "/data" in namespace "airflow", "/data/<namespace>" in any other
   */
  readonly hostRoot?: string;

  /**
   * Whether the chart emits the Namespace (first, labelled with the Pod Security level its pods need). With
   * false nothing creates or relabels the namespace: deploy into one you manage, which must exist before
   * `kubectl apply` and allow the level of {@link AirflowChart.podSecurityLevel} (baseline with the in-cluster
   * Postgres, restricted with an external database). See docs/secrets-and-security.md.
   * @default true
   */
  readonly createNamespace?: boolean;

  /**
   * The image of the Job that generates the secrets (any image with python3). Not with `existingSecrets`:
   * nothing is generated then.
   * @default - the Airflow image (`image`), which the node pulls anyway
   */
  readonly secretsBootstrapImage?: string;

  /**
   * Airflow 3's DAG bundles from Git (`[dag_processor] dag_bundle_config_list`, the official chart's
   * `dagProcessor.dagBundleConfigList` with GitDagBundle): `[{ name: 'team', repoUrl: 'https://github.com/org/dags.git',
   * trackingRef: 'main' }]`. Each DAG run keeps the commit it started with; each task pod clones the repository at
   * start. An alternative to `gitSync` (refused together); Airflow 3 only. See docs/git-sync.md, "DAG bundles".
   * In a chart of your own: `airflow.addFeature(new GitDagBundles([...]))`.
   * @default - none: the dags folder (the dags volume, or git-sync's checkout)
   */
  readonly dagBundles?: GitDagBundleOptions[];

  /**
   * Whether a DaemonSet (`ImagePrePull`) keeps the Airflow image and the task pods' images (`taskPodImages`:
   * git-sync's too in sidecar mode) on every node that can run task pods (their nodeSelector, tolerations and
   * node affinity), so that no task waits for a pull:
   * an init container per image runs `/bin/true`, a pause container keeps the pod, 5m CPU and 16Mi per node.
   * Off on minikube's single node, where the control plane's pods pull the image anyway; not possible with
   * `imagePullPolicy: "Never"`. See docs/task-start.md.
   * @default - true with StorageProvisioning.storageClass(...) (a real cluster), false with hostPath (minikube) or imagePullPolicy "Never"
   */
  readonly prePullImages?: boolean;

  /**
   * The image of the pre-pull pods' pause container (mirror it for a cluster without access to registry.k8s.io).
   * @default DEFAULT_PAUSE_IMAGE - "registry.k8s.io/pause:3.10"
   */
  readonly prePullPauseImage?: string;

  /**
   * Whether to add NetworkPolicies (`AirflowNetworkPolicies`): every pod of the deployment denied all traffic
   * but what a running deployment needs (DNS, the Kubernetes API for the scheduler, the database from its
   * clients, the execution API from the task pods, Redis, statsd, git, the object store), the UI closed to
   * other namespaces unless `networkPolicyOptions.apiServerSources` opens it, the task pods' egress open. They
   * need a network plugin that enforces them (minikube's default does not: `minikube start --cni=calico`). See
   * docs/secrets-and-security.md.
   * @default false
   */
  readonly networkPolicies?: boolean;

  /**
   * The cluster's side of the NetworkPolicies: where the UI's users, Prometheus, DNS, the Kubernetes API, git and
   * the object store are, and what task pods may reach. Only with `networkPolicies: true`.
   * @default - the defaults of AirflowNetworkPolicyOptions: the UI open to no other namespace, metrics to every
   *   namespace, kube-dns in kube-system, the API server on 443/6443/8443, git and the object store anywhere,
   *   task pods' egress open
   */
  readonly networkPolicyOptions?: AirflowNetworkPolicyOptions;

  /**
   * PgBouncer between Airflow and the metadata database (the official Helm chart's `pgbouncer`): every Airflow
   * container connects to it, and it opens at most `metadataPoolSize` connections to Postgres. `{}` for the
   * official chart's sizes (100 clients, a pool of 10). See docs/metadata-db.md.
   * @default - none: Airflow connects to the database itself
   */
  readonly pgbouncer?: PgBouncerOptions;
}

/**
 * Airflow on Kubernetes with the KubernetesExecutor, in one chart: the namespace, the volumes, the generated
 * secrets, the metadata database (Postgres in the cluster) and the Airflow control plane. The namespace
 * enforces the strictest Pod Security Standard every pod of the chart meets (baseline: the Postgres
 * entrypoint starts as root to own its data directory), and warns and audits at restricted.
 */
export class AirflowChart extends Chart {
  /** The Namespace; undefined with `createNamespace: false`. */
  public readonly airflowNamespace: AirflowNamespace | undefined;

  /** The dags, logs and data volumes. */
  public readonly volumes: AirflowVolumes;

  /** Airflow's secrets (generated in the cluster by a Job, once). */
  public readonly secrets: AirflowSecrets;

  /** The metadata database. */
  public readonly metadataDb: MetadataDb;

  /** PgBouncer in front of the metadata database; undefined unless `pgbouncer` is set. */
  public readonly pgbouncer: PgBouncer | undefined;

  /** The Airflow control plane. */
  public readonly airflow: KubernetesExecutorAirflow;

  /** The features plugged into it (git-sync, remote logging, the log groomer, metrics, Celery workers). */
  public readonly features: AirflowFeatures;

  /** The Git DAG bundles; undefined unless `dagBundles` is given. */
  public readonly dagBundles: GitDagBundles | undefined;

  /** The DaemonSet that keeps the images on the task pods' nodes; undefined unless `prePullImages` is on. */
  public readonly imagePrePull: ImagePrePull | undefined;

  /** The NetworkPolicies; undefined unless `networkPolicies` is true. */
  public readonly networkPolicies: AirflowNetworkPolicies | undefined;

  constructor(scope: Construct, id: string, props: AirflowChartProps = {}) {
    super(scope, id, { ...props, namespace: props.namespace ?? DEFAULT_NAMESPACE, disableResourceNameHashes: true });
    refuseUnknownProps(this, '', props, 'AirflowChartProps');
    // The chart's own inputs first, so that a bad one is reported by the chart, not by a construct inside it.
    validateNamespaceName(
      this,
      'namespace',
      this.namespace,
      'Use a namespace of your own, such as "airflow"; to deploy into one you already manage, name it and set createNamespace: false.',
    );
    const {
      namePrefix,
      hostRoot,
      volumes,
      existingSecrets,
      networkPolicies,
      networkPolicyOptions,
      prePullImages,
      prePullPauseImage,
      secretsBootstrapImage,
      createNamespace,
      provisioning: given,
      namespace,
      labels,
      disableResourceNameHashes,
      gitSync,
      remoteLogging,
      logRetentionDays,
      metrics,
      celery,
      pgbouncer,
      databaseCleanup,
      dagBundles,
      auth,
      airflowLocalSettings,
      ...airflowOptions
    } = props;
    // Each check below records its problem and goes on (with the default in place of the refused value), and
    // each part is built with buildPart: synth reports every problem of the chart at once (docs/validation.md).
    const provisioning = recover(this, () => this.resolveProvisioning(given, hostRoot), given);
    // The image and pull policy go to the secrets bootstrap Job too: report a bad one as the chart's. The parts
    // still get it as given, and refuse it too (one problem: the same value of the same property), so that the
    // control plane does not go on with another image than the user's.
    recover(this, () => (props.image === undefined ? undefined : validateImage(this, 'image', props.image)), undefined);
    recover(
      this,
      () => (props.imagePullPolicy === undefined ? undefined : validateChoice(this, 'imagePullPolicy', props.imagePullPolicy, IMAGE_PULL_POLICIES)),
      undefined,
    );
    const { image, imagePullPolicy } = props;
    if (existingSecrets && !existingSecrets.databasePassword) {
      invalid(
        this,
        'existingSecrets.databasePassword',
        undefined,
        'a Secret key holding the password of the in-cluster Postgres, when existingSecrets is given',
      );
    }
    const bootstrapImage = recover(
      this,
      () =>
        existingSecrets && secretsBootstrapImage !== undefined
          ? invalid(
            this,
            'secretsBootstrapImage',
            secretsBootstrapImage,
            'unset when existingSecrets is given: no Job generates the secrets then, so the image would run nowhere',
          )
          : secretsBootstrapImage,
      undefined,
    );
    const created = recover(
      this,
      () => (createNamespace !== undefined && typeof createNamespace !== 'boolean' ? invalid(this, 'createNamespace', createNamespace, 'true or false') : createNamespace),
      undefined,
    );
    this.airflowNamespace = created === false ? undefined : buildPart(this, 'namespace', () => new AirflowNamespace(this, 'namespace'));
    // git-sync's sidecar mode syncs the DAGs into each pod's own emptyDir: no dags claim by default then.
    const sidecars = props.gitSync?.mode === GitSyncMode.SIDECARS;
    this.volumes = buildPart(this, 'volumes', () => new AirflowVolumes(this, 'volumes', {
      provisioning,
      namePrefix,
      volumes: volumes ?? (sidecars ? AirflowVolumes.DEFAULT_VOLUMES.filter((name) => name !== 'dags').map((name) => ({ name })) : undefined),
    }));
    this.secrets = buildPart(this, 'secrets', () => existingSecrets
      ? AirflowSecrets.fromExistingSecrets(this, 'secrets', existingSecrets)
      : // The Job runs the control plane's image, pulled and placed like its pods (read from it at synth, as
      // MetadataDb does for the Postgres pod), unless secretsBootstrapImage names another.
      new AirflowSecrets(this, 'secrets', bootstrapImage === undefined ? {} : { image: bootstrapImage, imagePullPolicy }));
    this.metadataDb = buildPart(this, 'metadata-db', () => new MetadataDb(this, 'metadata-db', {
      provisioning,
      namePrefix,
      secrets: this.secrets,
      clusterDomain: props.clusterDomain,
    }));
    this.pgbouncer = pgbouncer === undefined
      ? undefined
      : buildPart(this, 'pgbouncer', () => new PgBouncer(this, 'pgbouncer', { ...pgbouncer, database: this.metadataDb, clusterDomain: props.clusterDomain }));
    const database: IMetadataDatabase = this.pgbouncer ?? this.metadataDb;
    this.airflow = buildPart(this, 'airflow', () => new KubernetesExecutorAirflow(this, 'airflow', {
      ...airflowOptions,
      image,
      imagePullPolicy,
      volumes: this.volumes,
      database,
      secrets: this.secrets,
    }));
    // PgBouncer starts once the database accepts connections (its wait-for-db runs the control plane's image).
    recover(this, () => this.pgbouncer?.waitForDatabase(this.airflow.image, this.airflow.airflowContainerSecurityContext()), undefined);
    // Reading a part that could not be built stops what reads it, silently (its problem is recorded): {} then.
    this.features = recover(this, () => addAirflowFeatures(this.airflow, { gitSync, remoteLogging, logRetentionDays, metrics, celery, databaseCleanup, auth, airflowLocalSettings }), {});
    this.dagBundles = dagBundles === undefined
      ? undefined
      : recover(this, () => {
        const bundles = new GitDagBundles(dagBundles);
        this.airflow.addFeature(bundles);
        return bundles;
      }, undefined);

    const prePull = recover(this, () => this.resolvePrePullImages(prePullImages), undefined);
    this.imagePrePull = prePull
      ? buildPart(this, 'image-pre-pull', () =>
        ImagePrePull.forAirflow(this, 'image-pre-pull', { airflow: this.airflow, placement: props.worker, pauseImage: prePullPauseImage }))
      : undefined;
    if (prePull === false && prePullPauseImage !== undefined) {
      recover(this, () => invalid(this, 'prePullPauseImage', prePullPauseImage, 'nothing unless prePullImages is on', 'Set prePullImages: true, or leave prePullPauseImage out.'), undefined);
    }

    const policies = recover(
      this,
      () => {
        if (networkPolicies !== undefined && typeof networkPolicies !== 'boolean') invalid(this, 'networkPolicies', networkPolicies, 'true or false');
        if (networkPolicyOptions !== undefined && networkPolicies !== true) {
          invalid(this, 'networkPolicyOptions', networkPolicyOptions, 'unset unless networkPolicies is true: there are no NetworkPolicies to shape', 'Set networkPolicies: true, or leave networkPolicyOptions out.');
        }
        return networkPolicies;
      },
      false,
    );
    this.networkPolicies = recover(
      this,
      () =>
        policies
          ? buildPart(this, 'network-policies', () => new AirflowNetworkPolicies(this, 'network-policies', {
            ...networkPolicyOptions,
            generation: this.airflow.generation,
            celeryWorkers: this.features.celery !== undefined,
            redisBroker: this.features.celery?.broker !== undefined,
            externalBroker: this.features.celery !== undefined && this.features.celery.broker === undefined,
            flower: this.features.celery?.flower !== undefined,
            kedaOperatorNamespace: this.features.celery?.autoscaler?.kedaOperatorNamespace,
            pgbouncer: this.pgbouncer !== undefined,
            statsd: this.features.statsd !== undefined,
            remoteLogging: this.features.remoteLogging !== undefined,
            identityProviderPorts: this.features.auth?.identityProviderPorts,
            gitSyncClients: this.gitSyncClients(),
            ...this.networkPolicyReach(networkPolicyOptions),
          }))
          : undefined,
      undefined,
    );
  }

  /**
   * What the opt-in features of issue #22 need the NetworkPolicies to let through: the database cleanup's pod to
   * Postgres, and the search engine's port for task logs (given, or refused when it cannot be known at synth:
   * the reads would fail on the default-deny).
   */
  private networkPolicyReach(options: AirflowNetworkPolicyOptions | undefined): { databaseClients?: string[]; objectStorePorts?: number[] } {
    const reach: { databaseClients?: string[]; objectStorePorts?: number[] } = {};
    if (this.features.databaseCleanup) {
      reach.databaseClients = [...this.airflow.generation.databaseClientsWith({ celeryWorkers: this.features.celery !== undefined }), Components.DATABASE_CLEANUP];
    }
    const logging = this.features.remoteLogging;
    if (logging && (logging.provider === RemoteLoggingProvider.ELASTICSEARCH || logging.provider === RemoteLoggingProvider.OPENSEARCH) && options?.objectStorePorts === undefined) {
      const config = logging.settings(this.airflow, 'remoteLogging').config;
      const port = logging.provider === RemoteLoggingProvider.OPENSEARCH ? Number(config.opensearch?.port) : elasticsearchPort(config.elasticsearch?.host);
      if (port === undefined) {
        invalid(this, 'networkPolicyOptions.objectStorePorts', undefined, 'the port of the Elasticsearch host (e.g. [9200] or [443]) with networkPolicies: the host is in a Secret (hostSecret), so its port is not known at synth');
      }
      reach.objectStorePorts = [port];
    }
    return reach;
  }

  /**
   * The recommended labels (kubernetes.io/docs/concepts/overview/working-with-objects/common-labels) every object
   * of the chart carries besides its own `app.kubernetes.io/component`: `name` and `part-of` "airflow",
   * `instance` the namespace (one deployment per namespace), `version` the Airflow version, `managed-by`
   * "airflow-cdk8s". An object's own labels (and the chart's `labels`) win. On the objects' metadata only: pod
   * templates keep theirs, and no selector (immutable once applied) includes `version`.
   */
  public get recommendedLabels(): Record<string, string> {
    return {
      [NAME_LABEL]: APP_NAME,
      [INSTANCE_LABEL]: this.namespace!,
      [VERSION_LABEL]: this.airflow.airflowVersion.toString(),
      [PART_OF_LABEL]: APP_NAME,
      [MANAGED_BY_LABEL]: MANAGED_BY,
    };
  }

  /** The chart's objects, each with the {@link recommendedLabels} it does not set itself. */
  public override toJson(): any[] {
    const recommended = this.recommendedLabels;
    // The Namespace's Pod Security walk renders every pod of the app: with renderingOnce, the chart reuses those.
    const objects = App.of(this).node.findAll().filter((c): c is ApiObject => c instanceof ApiObject);
    return renderingOnce(objects, () => super.toJson()).map((o) => {
      const labels: Record<string, string> = { ...recommended, ...o.metadata?.labels };
      const sorted = Object.fromEntries(Object.keys(labels).sort().map((k) => [k, labels[k]]));
      return { ...o, metadata: { ...o.metadata, labels: sorted } };
    });
  }

  /**
   * The strictest Pod Security Standard every pod of the chart meets: the level the Namespace enforces, and the
   * least a namespace you manage (`createNamespace: false`) must allow. Baseline with the in-cluster Postgres.
   */
  public get podSecurityLevel(): PodSecurityLevel {
    return podSecurityLevelIn(this, this.namespace!);
  }

  /** The components that run git-sync: its own Deployment, or the pods that carry its sidecar or init container. */
  private gitSyncClients(): string[] | undefined {
    const gitSync = this.features.gitSync;
    // Git DAG bundles: the DAG readers clone and fetch, and each task pod clones at start (gitCidrs, gitPorts).
    if (this.dagBundles) return [...this.airflow.dagReaders, ...(this.features.celery ? [Components.CELERY_WORKER] : []), Components.WORKER];
    if (!gitSync) return undefined;
    if (gitSync.mode === GitSyncMode.SHARED_VOLUME) return [Components.GIT_SYNC];
    return [...this.airflow.dagReaders, ...(this.features.celery ? [Components.CELERY_WORKER] : []), Components.WORKER];
  }

  /** On by default with a StorageClass (a real cluster); refused with "Never" (nothing is ever pulled). */
  private resolvePrePullImages(given: boolean | undefined): boolean {
    if (given !== undefined && typeof given !== 'boolean') invalid(this, 'prePullImages', given, 'true or false');
    const never = this.airflow.imagePullPolicy === 'Never';
    if (given === true && never) {
      invalid(
        this,
        'prePullImages',
        given,
        'false (or unset) with imagePullPolicy "Never": the nodes never pull, so there is nothing to pre-pull',
      );
    }
    return given ?? (this.volumes.provisioning.mode === StorageProvisioningMode.STORAGE_CLASS && !never);
  }

  private resolveProvisioning(provisioning: StorageProvisioning | undefined, hostRoot: string | undefined): StorageProvisioning | undefined {
    if (hostRoot === undefined) return provisioning;
    validateAbsolutePath(this, 'hostRoot', hostRoot);
    validateHostFolder(this, 'hostRoot', hostRoot);
    if (provisioning?.mode === StorageProvisioningMode.STORAGE_CLASS) {
      invalid(this, 'hostRoot', hostRoot, 'no hostRoot with StorageProvisioning.storageClass(...): a StorageClass provisions the volumes');
    }
    if (provisioning?.hostRoot !== undefined) {
      invalid(this, 'hostRoot', hostRoot, 'either hostRoot or provisioning: StorageProvisioning.hostPath({ hostRoot }), not both');
    }
    return StorageProvisioning.hostPath({ hostRoot, storageClassName: provisioning?.storageClassName });
  }
}

/** The port of an Elasticsearch URL given as a literal (its scheme's default without one); undefined without a literal. */
function elasticsearchPort(host: unknown): number | undefined {
  if (typeof host !== 'string') return undefined;
  const url = new URL(host);
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}
