import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import {
  AIRFLOW_HOME,
  Components,
  PodPlacementOptions,
  airflowLabels,
  componentDeployment,
  invalid,
  podPlacementFields,
  podTemplateMetadata,
  selectorLabels,
  validateChoice,
  validateImage,
  validateInteger,
  validatePodOptions,
  refuseUnknownProps,
} from '../core';
import { airflowContainerSecurityContext, airflowPodSecurityContext } from '../security';
import { AirflowVolumes } from '../storage';
import { GitSyncCredentials, GitSyncCredentialsKind } from './git-sync-credentials';
import { AirflowContribution, AirflowPods, IAirflowFeature } from '../airflow/airflow-feature';
import { dagListRefresh } from '../airflow/control-plane-config';
import type { KubernetesExecutorAirflow } from '../airflow/kubernetes-executor-airflow';
import { ContainerResources, airflowServiceAccount, pickPlacement, resourceRequirements } from '../airflow/pod-parts';

/**
 * The git-sync image: the official one (kubernetes/git-sync, v4), pinned by tag. v4.4.2 is the version the
 * official Airflow Helm chart pins; every flag the library passes exists in it.
 */
export const DEFAULT_GIT_SYNC_IMAGE = 'registry.k8s.io/git-sync/git-sync:v4.4.2';

/**
 * CPU and memory of a git-sync container. Idle it polls the remote (`git ls-remote`) once per period; a fetch
 * of a shallow clone needs more memory for a moment, which the limit leaves room for.
 */
export const GIT_SYNC_RESOURCES: ContainerResources = { cpuRequest: '10m', memoryRequest: '64Mi', cpuLimit: '500m', memoryLimit: '512Mi' };

/** The folder of the dags volume git-sync owns (`--root`): it may empty it, so it never owns the whole volume. */
export const GIT_SYNC_ROOT_FOLDER = 'git-sync';

/** The name of the link git-sync publishes under its root (`--link`), pointing at the checkout of the synced commit. */
export const GIT_SYNC_LINK = 'repo';

/** The port of git-sync's HTTP endpoint in the shared-volume Deployment: 200 once the first sync is done. */
export const GIT_SYNC_HTTP_PORT = 8000;

/**
 * git-sync's own emptyDir at `/tmp`, its HOME in the image (`ENV HOME=/tmp`: git's and ssh's files): its root
 * file system is read-only.
 */
export const GIT_SYNC_TMP_VOLUME_NAME = 'git-sync-tmp';

/**
 * git-sync's probes on its HTTP endpoint (`--http-bind`), which answers 5xx until the first sync is done and
 * 200 from then on: a startup probe that gives the first clone 10 minutes, then a liveness probe that restarts
 * a git-sync whose loop no longer answers.
 */
function gitSyncProbes(port: number): Pick<k8s.Container, 'startupProbe' | 'livenessProbe'> {
  const get = { path: '/', port: k8s.IntOrString.fromNumber(port) };
  return {
    startupProbe: { httpGet: get, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 60 },
    livenessProbe: { httpGet: get, periodSeconds: 30, timeoutSeconds: 10, failureThreshold: 3 },
  };
}

/** How the DAGs synced from git reach the Airflow pods. */
export enum GitSyncMode {
  /**
   * One git-sync Deployment writes into the dags volume (ReadWriteMany); every Airflow pod and every task pod
   * mounts it read-only. Nothing is added to a task pod: task start time does not change.
   */
  SHARED_VOLUME = 'SharedVolume',
  /**
   * For storage without ReadWriteMany: a git-sync sidecar in the pods that parse DAGs (the dag-processor, or
   * the scheduler when it parses them itself, the triggerer, the Celery workers), each after a one-time sync
   * in an init container, and a git-sync init container in every task pod, each syncing into the pod's own
   * emptyDir. Every task then waits for a clone before it starts. The other volumes (logs, data) are still
   * shared claims unless you drop them: see docs/storage.md for a deployment with no shared storage.
   */
  SIDECARS = 'Sidecars',
}

/**
 * Which repository, which revision and how: the options of {@link GitSyncDags}, also the `gitSync` prop of
 * `AirflowChart`. The placement options (nodeSelector, tolerations, podLabels...) place the git-sync
 * Deployment's pod (shared-volume mode) over the chart-wide pod options; sidecars live in Airflow's pods.
 */
export interface GitSyncDagsOptions extends PodPlacementOptions {
  /**
   * The repository: `https://host/org/repo.git`, or with SSH credentials `git@host:org/repo.git` /
   * `ssh://git@host/org/repo.git`. Credentials never go into the URL; use `credentials`.
   */
  readonly repository: string;

  /**
   * The branch to follow.
   * @default - the repository's default branch (HEAD), unless `rev` is given
   */
  readonly branch?: string;

  /**
   * A tag or commit to check out instead of a branch (exclusive with `branch`).
   * @default - none: follow `branch`
   */
  readonly rev?: string;

  /**
   * The folder inside the repository that holds the DAGs (`dags`, `airflow/dags`): `dags_folder` points at it.
   * @default - the repository's top folder
   */
  readonly subPath?: string;

  /**
   * How often git-sync asks the remote for a new commit (`--period`).
   * @default Duration.seconds(30)
   */
  readonly period?: Duration;

  /**
   * How many commits of history to fetch (`--depth`); 0 fetches the whole history.
   * @default 1
   */
  readonly depth?: number;

  /**
   * How git-sync authenticates, by Secret reference: `GitSyncCredentials.https(...)` or `GitSyncCredentials.ssh(...)`.
   * @default - none: a public repository over HTTPS
   */
  readonly credentials?: GitSyncCredentials;

  /**
   * Shared volume (one git-sync Deployment, ReadWriteMany storage) or sidecars (no shared storage; every task
   * pod clones first).
   * @default GitSyncMode.SHARED_VOLUME
   */
  readonly mode?: GitSyncMode;

  /**
   * The git-sync image.
   * @default DEFAULT_GIT_SYNC_IMAGE - "registry.k8s.io/git-sync/git-sync:v4.4.2"
   */
  readonly image?: string;

  /**
   * CPU and memory of each git-sync container.
   * @default GIT_SYNC_RESOURCES - requests 10m / 64Mi, limits 500m / 512Mi
   */
  readonly resources?: ContainerResources;
}

/** Props for {@link GitSyncDags}. */
export interface GitSyncDagsProps extends GitSyncDagsOptions {
  /**
   * The control plane the DAGs are for. In shared-volume mode git-sync writes into its `dags` volume, which
   * must be ReadWriteMany; in sidecar mode it must have no `dags` volume (each pod has its own). The git-sync
   * Deployment is placed like the control plane, over which the placement options here win.
   */
  readonly airflow: KubernetesExecutorAirflow;

  /**
   * The pull policy of the git-sync image.
   * @default "IfNotPresent"
   */
  readonly imagePullPolicy?: string;
}

/** The containers and volumes git-sync adds to one pod. */
export interface GitSyncPodParts {
  /** Containers running beside Airflow's (sidecar mode). */
  readonly containers: k8s.Container[];
  /** Init containers (the task pods' one-time sync in sidecar mode). */
  readonly initContainers: k8s.Container[];
  /** The volumes they need (the credentials). */
  readonly volumes: k8s.Volume[];
}

const NO_PARTS: GitSyncPodParts = { containers: [], initContainers: [], volumes: [] };
const REF = /^[A-Za-z0-9][A-Za-z0-9._/@{}^~-]*$/;
const SUB_PATH = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

/**
 * DAGs synced from a git repository by git-sync v4, without slowing task start.
 *
 * Shared-volume mode (the default): a Deployment `airflow-git-sync` keeps the newest commit of the branch in
 * the dags volume, under `<dags>/git-sync`, and publishes it atomically as the link `<dags>/git-sync/repo`;
 * `dags_folder` is that link (plus `subPath`). Airflow's pods and the worker pod template mount the volume
 * read-only and get no init container and no sidecar. Sidecar mode, for storage without ReadWriteMany,
 * syncs inside the pods instead (see {@link GitSyncMode.SIDECARS}).
 */
export class GitSyncDags extends Construct implements IAirflowFeature {
  /** How messages name this feature: the AirflowChart prop. */
  public readonly featureName = 'gitSync';
  /** Shared volume or sidecars. */
  public readonly mode: GitSyncMode;
  /** Whether the pods run under OpenShift's restricted SCC (the control plane's `openShift`): no fixed uid or gid. */
  public readonly openShift: boolean;
  /** The repository URL. */
  public readonly repository: string;
  /** The revision git-sync checks out (`--ref`): a branch, tag or commit, or HEAD. */
  public readonly ref: string;
  /** The git-sync image. */
  public readonly image: string;
  /** The image pull policy. */
  public readonly imagePullPolicy: string;
  /** Where every Airflow container sees the DAG volume (the `dags` volume's mount path). */
  public readonly mountPath: string;
  /** git-sync's `--root`: the folder of the volume it owns. */
  public readonly root: string;
  /** The link git-sync publishes (`<root>/repo`): always the checkout of the newest synced commit. */
  public readonly linkPath: string;
  /** `[core] dags_folder`: the link, plus `subPath`. */
  public readonly dagsFolder: string;
  /** The credentials; undefined for a public repository. */
  public readonly credentials: GitSyncCredentials | undefined;
  /** The git-sync Deployment (shared-volume mode); undefined in sidecar mode. */
  public readonly deployment: k8s.KubeDeployment | undefined;
  /** Its ServiceAccount (no token); undefined in sidecar mode. */
  public readonly serviceAccount: k8s.KubeServiceAccount | undefined;

  private readonly args: string[];
  private readonly resources: ContainerResources;

  constructor(scope: Construct, id: string, props: GitSyncDagsProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'GitSyncDagsProps');
    const airflow = props.airflow;
    this.openShift = airflow.openShift;
    const volumes = airflow.volumes;
    if (!(volumes instanceof AirflowVolumes)) invalid(this, 'volumes', volumes, 'the AirflowVolumes of the chart');
    const placement = pickPlacement(airflow.podOptionsFor(pickPlacement(props)));
    this.mode = validateChoice(this, 'mode', props.mode ?? GitSyncMode.SHARED_VOLUME, Object.values(GitSyncMode));
    this.image = validateImage(this, 'image', props.image ?? DEFAULT_GIT_SYNC_IMAGE);
    this.imagePullPolicy = validateChoice(this, 'imagePullPolicy', props.imagePullPolicy ?? 'IfNotPresent', ['Always', 'IfNotPresent', 'Never']);
    this.credentials = props.credentials;
    if (this.credentials !== undefined) {
      if (!(this.credentials instanceof GitSyncCredentials)) {
        invalid(this, 'credentials', this.credentials, 'GitSyncCredentials.https({ ... }) or GitSyncCredentials.ssh({ ... })');
      }
      this.credentials.validate(this, 'credentials');
    }
    this.repository = this.validateRepository(props.repository);
    this.ref = this.validateRef(props.branch, props.rev);
    const subPath = props.subPath === undefined ? undefined : this.validateSubPath(props.subPath);
    const periodSeconds = validateInteger(this, 'period', (props.period ?? Duration.seconds(30)).toSeconds(), 1, 86_400);
    const depth = validateInteger(this, 'depth', props.depth ?? 1, 0, 1_000_000);
    this.resources = props.resources ?? GIT_SYNC_RESOURCES;

    this.mountPath = this.resolveMountPath(volumes);
    this.root = `${this.mountPath}/${GIT_SYNC_ROOT_FOLDER}`;
    this.linkPath = `${this.root}/${GIT_SYNC_LINK}`;
    this.dagsFolder = subPath === undefined ? this.linkPath : `${this.linkPath}/${subPath}`;
    this.args = [
      `--repo=${this.repository}`,
      `--ref=${this.ref}`,
      `--root=${this.root}`,
      `--link=${GIT_SYNC_LINK}`,
      `--period=${periodSeconds}s`,
      `--depth=${depth}`,
      ...(this.credentials?.args() ?? []),
    ];

    if (this.mode === GitSyncMode.SHARED_VOLUME) {
      validatePodOptions(this, '', placement);
      const name = `airflow-${Components.GIT_SYNC}`;
      const labels = airflowLabels(Components.GIT_SYNC);
      this.serviceAccount = airflowServiceAccount(this, 'service-account', name, Components.GIT_SYNC, false);
      const dags = volumes.get('dags');
      const options: PodPlacementOptions = placement;
      this.deployment = componentDeployment(this, 'deployment', {
        name,
        labels,
        selector: selectorLabels(Components.GIT_SYNC),
        replicas: 1,
        // Two git-syncs on one root would fight over it: the old pod stops before the new one starts.
        strategy: { type: 'Recreate' },
        podMetadata: podTemplateMetadata(labels, options),
        podSpec: {
          serviceAccountName: name,
          automountServiceAccountToken: false,
          securityContext: airflowPodSecurityContext(this.openShift),
          ...podPlacementFields(options),
          containers: [
            {
              ...this.container(Components.GIT_SYNC, [`--http-bind=:${GIT_SYNC_HTTP_PORT}`], { name: dags.name, mountPath: this.mountPath }),
              ports: [{ name: 'http', containerPort: GIT_SYNC_HTTP_PORT, protocol: 'TCP' }],
              // 5xx until the first sync has published the link, 200 from then on.
              readinessProbe: { httpGet: { path: '/', port: k8s.IntOrString.fromString('http') }, periodSeconds: 10, failureThreshold: 3 },
              ...gitSyncProbes(GIT_SYNC_HTTP_PORT),
            },
          ],
          volumes: [dags.podVolume(), ...this.gitSyncPodVolumes()],
        },
      });
    }
    airflow.addFeature(this);
  }

  /**
   * What git-sync adds ({@link IAirflowFeature}): `dags_folder` and the read-only mount of the synced DAGs in
   * every Airflow container, the DAG list refreshed every 30 s; in sidecar mode, the emptyDir every pod syncs
   * into, a one-time sync then a sidecar in the pods that read DAG files and in the Celery workers, and a one-time
   * sync before each task.
   */
  public contribute(airflow: KubernetesExecutorAirflow): AirflowContribution {
    const sidecar = this.sidecarParts();
    const worker = this.workerParts();
    const readers = [AirflowPods.DAG_READERS, Components.CELERY_WORKER];
    return {
      dags: { folder: this.dagsFolder, mount: this.airflowVolumeMount(), volumes: this.airflowPodVolumes() },
      defaultConfig: dagListRefresh(airflow.generation),
      sidecars: Object.fromEntries(readers.map((p) => [p, sidecar.containers])),
      // Where a sidecar syncs, a one-time sync first: the pod starts with the DAGs there (a Celery worker takes
      // tasks at once), as the official chart's git-sync-init does. Task pods get only the one-time sync.
      initContainers: { ...Object.fromEntries(readers.map((p) => [p, sidecar.initContainers])), [Components.WORKER]: worker.initContainers },
      volumes: { ...Object.fromEntries(readers.map((p) => [p, sidecar.volumes])), [Components.WORKER]: worker.volumes },
    };
  }

  /** The pod volume every Airflow pod mounts the DAGs from: none in shared-volume mode (it is the `dags` claim), an emptyDir in sidecar mode. */
  public airflowPodVolumes(): k8s.Volume[] {
    return this.mode === GitSyncMode.SIDECARS ? [{ name: 'dags', emptyDir: {} }] : [];
  }

  /** How Airflow containers mount the DAGs: read-only, at {@link mountPath}. */
  public airflowVolumeMount(): k8s.VolumeMount {
    return { name: 'dags', mountPath: this.mountPath, readOnly: true };
  }

  /**
   * What a long-running pod that reads DAG files (the dag-processor or scheduler, the triggerer, a Celery worker)
   * gets in sidecar mode: a one-time sync (`git-sync-init`) before Airflow starts, then the `git-sync` sidecar;
   * nothing otherwise.
   */
  public sidecarParts(): GitSyncPodParts {
    if (this.mode !== GitSyncMode.SIDECARS) return NO_PARTS;
    const sidecar = { ...this.container(Components.GIT_SYNC, [`--http-bind=:${GIT_SYNC_HTTP_PORT}`]), ...gitSyncProbes(GIT_SYNC_HTTP_PORT) };
    return { containers: [sidecar], initContainers: [this.oneTimeSync()], volumes: this.gitSyncPodVolumes() };
  }

  /** What the worker pod template gets: a one-time git-sync init container in sidecar mode, nothing otherwise. */
  public workerParts(): GitSyncPodParts {
    if (this.mode !== GitSyncMode.SIDECARS) return NO_PARTS;
    return { containers: [], initContainers: [this.oneTimeSync()], volumes: this.gitSyncPodVolumes() };
  }

  private oneTimeSync(): k8s.Container {
    return this.container(`${Components.GIT_SYNC}-init`, ['--one-time']);
  }

  /** The volumes of a pod with a git-sync container: its `/tmp`, and the credentials. */
  private gitSyncPodVolumes(): k8s.Volume[] {
    return [{ name: GIT_SYNC_TMP_VOLUME_NAME, emptyDir: { sizeLimit: k8s.Quantity.fromString('64Mi') } }, ...(this.credentials ? [this.credentials.volume()] : [])];
  }

  private container(name: string, extraArgs: string[], dagsMount: k8s.VolumeMount = { name: 'dags', mountPath: this.mountPath }): k8s.Container {
    return {
      name,
      image: this.image,
      imagePullPolicy: this.imagePullPolicy,
      args: [...this.args, ...extraArgs],
      ...(this.credentials && this.credentials.env().length > 0 ? { env: this.credentials.env() } : {}),
      resources: resourceRequirements(this.resources),
      securityContext: airflowContainerSecurityContext(true, this.openShift),
      volumeMounts: [dagsMount, { name: GIT_SYNC_TMP_VOLUME_NAME, mountPath: '/tmp' }, ...(this.credentials ? [this.credentials.volumeMount()] : [])],
    };
  }

  private resolveMountPath(volumes: AirflowVolumes): string {
    if (this.mode === GitSyncMode.SHARED_VOLUME) {
      if (!volumes.has('dags')) {
        invalid(
          this,
          'volumes',
          volumes.names,
          'volumes that include "dags" in GitSyncMode.SHARED_VOLUME: git-sync writes the DAGs into it',
          'Without shared storage use mode: GitSyncMode.SIDECARS.',
        );
      }
      const dags = volumes.get('dags');
      // A claim that exists already (storage undefined): its access modes are the cluster's to know.
      if (dags.storage && !dags.storage.accessModes.includes('ReadWriteMany')) {
        invalid(
          this,
          'mode',
          this.mode,
          `GitSyncMode.SIDECARS: the dags volume is ${dags.storage.accessModes.join(', ')}, and shared-volume mode needs ` +
            'ReadWriteMany (one git-sync pod writes, every Airflow and task pod reads, on any node)',
        );
      }
      return dags.mountPath;
    }
    if (volumes.has('dags')) {
      invalid(
        this,
        'volumes',
        volumes.names,
        'volumes without "dags" in GitSyncMode.SIDECARS: every pod syncs the DAGs into its own emptyDir, so a dags claim would go unused',
      );
    }
    const mountPath = `${AIRFLOW_HOME}/dags`;
    const clash = volumes.all.find((v) => v.mountPath === mountPath);
    if (clash) invalid(this, 'volumes', clash.name, `no volume mounted at ${mountPath}: the synced DAGs are mounted there`);
    return mountPath;
  }

  private validateRepository(repository: unknown): string {
    if (typeof repository !== 'string' || repository.trim() !== repository || repository === '' || /\s/.test(repository)) {
      invalid(this, 'repository', repository, 'a git URL: https://host/org/repo.git, or git@host:org/repo.git with SSH credentials');
    }
    const https = /^https?:\/\//.exec(repository);
    const ssh = /^ssh:\/\//.test(repository) || /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/]/.test(repository);
    if (https && /^https?:\/\/[^/@]*:[^/@]*@/.test(repository)) {
      invalid(
        this,
        'repository',
        repository.replace(/\/\/[^/@]*@/, '//(credentials not shown)@'),
        'a URL without credentials in it (they would be in the YAML)',
        'Use credentials: GitSyncCredentials.https({ passwordSecret: { name, key } }).',
      );
    }
    if (!https && !ssh && !/^(git|file):\/\//.test(repository)) {
      invalid(this, 'repository', repository, 'a git URL: https://..., ssh://... or git@host:org/repo.git');
    }
    const kind = this.credentials?.kind;
    if (kind === GitSyncCredentialsKind.SSH && !ssh) {
      invalid(this, 'repository', repository, 'an SSH URL (git@host:org/repo.git or ssh://...) with GitSyncCredentials.ssh');
    }
    if (kind === GitSyncCredentialsKind.HTTPS && !(https && https[0] === 'https://')) {
      invalid(this, 'repository', repository, 'an https:// URL with GitSyncCredentials.https (a token is never sent over plain http)');
    }
    if (ssh && kind !== GitSyncCredentialsKind.SSH) {
      invalid(this, 'credentials', undefined, 'GitSyncCredentials.ssh({ keySecret, knownHostsSecret }) for an SSH repository URL');
    }
    // DAG files are code that every Airflow pod runs (the scheduler's may create pods): fetched over http:// or
    // git://, anyone on the way can change them; file:// names a folder of git-sync's own container, which holds
    // no repository (nothing can be mounted there).
    const scheme = /^(file|git|http):\/\//.exec(repository)?.[1];
    if (scheme !== undefined) {
      invalid(
        this,
        'repository',
        repository,
        `an https:// or SSH URL: ${scheme === 'file' ? "a file:// URL names a folder of git-sync's own container, where there is no repository" : `${scheme}:// has no authentication of the server, so anyone on the way could change the DAGs, which every Airflow pod runs as code`}`,
        scheme === 'file' ? undefined : `Use ${repository.replace(/^(git|http):/, 'https:')}, or an SSH URL with GitSyncCredentials.ssh.`,
      );
    }
    return repository;
  }

  private validateRef(branch: string | undefined, rev: string | undefined): string {
    if (branch !== undefined && rev !== undefined) invalid(this, 'rev', rev, 'either branch or rev, not both');
    const ref = branch ?? rev ?? 'HEAD';
    const property = branch !== undefined ? 'branch' : 'rev';
    if (typeof ref !== 'string' || !REF.test(ref) || ref.includes('..') || ref.endsWith('/') || ref.endsWith('.lock')) {
      invalid(this, property, ref, 'a git branch, tag or commit name (letters, digits, and . _ / - without "..")');
    }
    return ref;
  }

  private validateSubPath(subPath: unknown): string {
    const value = typeof subPath === 'string' ? subPath.replace(/\/+$/, '') : subPath;
    if (typeof value !== 'string' || !SUB_PATH.test(value) || value.split('/').some((p) => p === '.' || p === '..')) {
      invalid(this, 'subPath', subPath, 'a relative folder of the repository, such as "dags" or "airflow/dags" (no "..", no leading "/")');
    }
    return value;
  }
}
