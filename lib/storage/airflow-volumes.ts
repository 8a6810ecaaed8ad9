import { App, Chart } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import * as k8s from '../../imports/k8s';
import {
  AIRFLOW_HOME,
  APP_NAME,
  COMPONENT_LABEL,
  NAME_LABEL,
  defaultNamePrefix,
  NAMESPACED_NAME_PREFIX,
  invalid,
  namespaceOf,
  validateAbsolutePath,
  validateByteQuantity,
  validateDnsLabel,
  validateDnsSubdomain,
  validateHostFolder,
  validateUnique,
  refuseUnknownProps,
} from '../core';
import { PersistentStorage } from './persistent-storage';
import { IPlusContainer, PlusVolume } from './plus-volume';
import { StorageProvisioning, StorageProvisioningMode } from './storage-provisioning';

/** One persistent folder shared by the Airflow components and the worker pods. */
export interface AirflowVolumeOptions {
  /** The volume's short name: a DNS-1123 label such as `dags`, `logs`, `data` or `plugins`. */
  readonly name: string;

  /**
   * The volume's capacity.
   * @default - `AirflowVolumes.DEFAULT_SIZES[name]`, or "1Gi" for other names
   */
  readonly size?: string;

  /**
   * The storage the claim requests; at most `size`.
   * @default - the same as `size`
   */
  readonly requestSize?: string;

  /**
   * Where Airflow containers mount the volume.
   * @default "/opt/airflow/<name>"
   */
  readonly mountPath?: string;

  /**
   * Access modes. Every Airflow component, every task pod and every Celery worker mounts these volumes at
   * once, on any node, so a claim a StorageClass provisions must include ReadWriteMany (one with only
   * ReadWriteOnce is refused: it attaches to one node, and pods on the others fail with Multi-Attach). A
   * hostPath volume is a folder of one node, where access modes are not enforced: any is accepted.
   * @default ["ReadWriteMany"]
   */
  readonly accessModes?: string[];

  /**
   * A PersistentVolumeClaim that exists already (made by another team or tool) to use as this volume: no
   * claim and no volume are created, the pods mount that claim. `size`, `requestSize` and `accessModes` do
   * not apply.
   * @default - a claim created here (pinned to its own volume with hostPath provisioning)
   */
  readonly existingClaim?: string;

  /**
   * An `emptyDir` of each pod's own instead of a claim: nothing is shared, and nothing outlives the pod.
   * Only for `logs`, and only with remote logging (`remoteLogging`, or a feature that sets `[logging]
   * remote_logging`), which uploads each task's log when it ends (refused at synth without it: the log would
   * be lost with the pod). With git-sync's sidecar mode and no `data` volume, a deployment then needs no
   * shared storage at all (docs/storage.md). `size` becomes the emptyDir's `sizeLimit` (the kubelet evicts a
   * pod whose logs grow past it; rounded up to whole MiB); `requestSize`, `accessModes` and `existingClaim` do not apply.
   * @default false - a claim
   */
  readonly emptyDir?: boolean;
}

/** Props for {@link AirflowVolumes}. */
export interface AirflowVolumesProps {
  /**
   * How the volumes are provisioned.
   * @default StorageProvisioning.hostPath() - static volumes under /data on the node, pinned to their claims
   */
  readonly provisioning?: StorageProvisioning;

  /**
   * The volumes. Give your own list to drop `data` or add `plugins`; `addVolume` adds to it later.
   * @default AirflowVolumes.DEFAULT_VOLUMES - dags, logs and data
   */
  readonly volumes?: AirflowVolumeOptions[];

  /**
   * The prefix of the PersistentVolumes' names (`<prefix>-<name>-volume`): they are cluster-scoped, so two
   * deployments in one cluster need different prefixes. Claims are namespaced, named `airflow-<name>-claim` in
   * every namespace.
   * @default - "airflow" in namespace "airflow" (the course's names), the namespace's name in any other
   */
  readonly namePrefix?: string;
}

/** A volume of {@link AirflowVolumes}: its claim, and where Airflow mounts it. */
export class AirflowVolume {
  constructor(
    /** The short name (`dags`). */
    public readonly name: string,
    /** Where Airflow containers mount it (`/opt/airflow/dags`). */
    public readonly mountPath: string,
    /** The claim and, with hostPath provisioning, its pinned volume; undefined for an existing claim or an emptyDir. */
    public readonly storage: PersistentStorage | undefined,
    /** The name of the claim the pods mount; undefined for an emptyDir. */
    public readonly claimName: string | undefined,
    /**
     * The `sizeLimit` of an emptyDir volume.
     * @default - no limit (or a claim)
     */
    public readonly emptyDirSizeLimit?: string,
  ) {}

  private plus?: PlusVolume;

  /**
   * The volume as a cdk8s-plus pod sees it (any cdk8s-plus-NN from 28): one object per volume, so that
   * mounting it into several containers of one pod adds it to the pod once. Use {@link mountInto}.
   */
  public get plusVolume(): PlusVolume {
    this.plus ??= new PlusVolume(this.name, this.podVolume());
    return this.plus;
  }

  /** Mounts this volume into a cdk8s-plus container (any cdk8s-plus-NN from 28) at its mount path. */
  public mountInto(container: IPlusContainer): void {
    container.mount(this.mountPath, this.plusVolume);
  }

  /** Whether each pod has its own emptyDir instead of a claim ({@link AirflowVolumeOptions.emptyDir}). */
  public get emptyDir(): boolean {
    return this.claimName === undefined;
  }

  /** The pod-spec volume entry for a plain pod spec (used by the worker pod template). */
  public podVolume(): k8s.Volume {
    if (this.claimName === undefined) {
      return { name: this.name, emptyDir: this.emptyDirSizeLimit ? { sizeLimit: k8s.Quantity.fromString(this.emptyDirSizeLimit) } : {} };
    }
    return { name: this.name, persistentVolumeClaim: { claimName: this.claimName } };
  }

  /** The container volumeMount entry for a plain pod spec. */
  public volumeMount(): k8s.VolumeMount {
    return { name: this.name, mountPath: this.mountPath };
  }
}

/**
 * Persistent storage for Airflow: `dags`, `logs` and `data` by default.
 *
 * On minikube (the default) each volume is a static hostPath PersistentVolume `airflow-<name>-volume` on
 * `/data/<name>`, reclaim policy Retain, pinned to its claim `airflow-<name>-claim` both ways; with
 * `StorageProvisioning.storageClass(...)` only the claims are created and the cluster provisions them.
 */
export class AirflowVolumes extends Construct {
  /** The default volumes: DAG files, task logs, and task data. */
  public static readonly DEFAULT_VOLUMES: readonly string[] = ['dags', 'logs', 'data'];

  /** Default capacities per volume name; other names get 1Gi. */
  public static readonly DEFAULT_SIZES: Readonly<Record<string, string>> = {
    dags: '1Gi',
    logs: '5Gi',
    data: '5Gi',
    plugins: '1Gi',
  };

  /** Where the Airflow image keeps its home (AIRFLOW_HOME). */
  public static readonly AIRFLOW_HOME = AIRFLOW_HOME;

  /** How the volumes are provisioned. */
  public readonly provisioning: StorageProvisioning;

  /** The prefix of object names. */
  public readonly namePrefix: string;

  private readonly byName = new Map<string, AirflowVolume>();

  constructor(scope: Construct, id: string, props: AirflowVolumesProps = {}) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'AirflowVolumesProps');
    this.provisioning = props.provisioning ?? StorageProvisioning.hostPath();
    this.namePrefix = validateDnsLabel(this, 'namePrefix', props.namePrefix ?? defaultNamePrefix(namespaceOf(this)));
    if (this.provisioning.mode === StorageProvisioningMode.HOST_PATH && this.provisioning.hostRoot !== undefined) {
      validateAbsolutePath(this, 'provisioning.hostRoot', this.provisioning.hostRoot);
      validateHostFolder(this, 'provisioning.hostRoot', this.provisioning.hostRoot);
    }
    const volumes = props.volumes ?? AirflowVolumes.DEFAULT_VOLUMES.map((name) => ({ name }));
    if (volumes.length === 0) {
      invalid(this, 'volumes', volumes, 'at least one volume (the default is dags, logs and data)');
    }
    volumes.forEach((v, i) => validateDnsLabel(this, `volumes[${i}].name`, v.name, 40));
    validateUnique(this, 'volumes', volumes.map((v) => v.name));
    volumes.forEach((v, i) => this.add(v, `volumes[${i}]`));
  }

  /** Adds a volume, e.g. `{ name: 'plugins' }`. */
  public addVolume(options: AirflowVolumeOptions): AirflowVolume {
    validateDnsLabel(this, 'addVolume.name', options.name, 40);
    if (this.byName.has(options.name)) {
      invalid(this, 'addVolume.name', options.name, `a name not already used (${this.names.join(', ')})`);
    }
    return this.add(options, 'addVolume');
  }

  /** The volumes, in the order they were declared. */
  public get all(): AirflowVolume[] {
    return [...this.byName.values()];
  }

  /** The volume names, in order. */
  public get names(): string[] {
    return [...this.byName.keys()];
  }

  /** The volumes mounted from a claim (created here or existing), i.e. all but the emptyDir ones. */
  public get claims(): AirflowVolume[] {
    return this.all.filter((v) => !v.emptyDir);
  }

  /** Whether a volume of that name exists. */
  public has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The volume of that name; an error naming the existing ones otherwise. */
  public get(name: string): AirflowVolume {
    const volume = this.byName.get(name);
    if (!volume) {
      invalid(this, 'volume name', name, `one of the declared volumes: ${this.names.map((n) => JSON.stringify(n)).join(', ')}`);
    }
    return volume;
  }

  /** Pod-spec volume entries for every volume (for plain pod specs such as the worker pod template). */
  public podVolumes(): k8s.Volume[] {
    return this.all.map((v) => v.podVolume());
  }

  /** Container volumeMount entries for every volume. */
  public volumeMounts(): k8s.VolumeMount[] {
    return this.all.map((v) => v.volumeMount());
  }

  /**
   * Mounts every volume into a cdk8s-plus container (`kplus.Container` of any cdk8s-plus-NN from 28) at its
   * mount path; the pod gets the volumes' entries.
   */
  public mountInto(container: IPlusContainer): void {
    for (const v of this.all) v.mountInto(container);
  }

  private add(options: AirflowVolumeOptions, property: string): AirflowVolume {
    const name = options.name;
    const mountPath = validateAbsolutePath(
      this,
      `${property}.mountPath`,
      options.mountPath ?? `${AirflowVolumes.AIRFLOW_HOME}/${name}`,
    );
    const clash = this.all.find((v) => v.mountPath === mountPath);
    if (clash) {
      invalid(this, `${property}.mountPath`, mountPath, `a path not already used by volume "${clash.name}"`);
    }
    if (options.emptyDir !== undefined && typeof options.emptyDir !== 'boolean') invalid(this, `${property}.emptyDir`, options.emptyDir, 'true or false');
    if (options.emptyDir) return this.addEmptyDir(options, property, mountPath);
    if (options.existingClaim !== undefined) return this.addExisting(options, property, mountPath);
    const size = options.size ?? AirflowVolumes.DEFAULT_SIZES[name] ?? '1Gi';
    const capacity = validateByteQuantity(this, `${property}.size`, size);
    if (options.requestSize !== undefined) {
      const request = validateByteQuantity(this, `${property}.requestSize`, options.requestSize);
      if (request > capacity) {
        invalid(
          this,
          `${property}.requestSize`,
          options.requestSize,
          `at most the volume's size ${JSON.stringify(size)}: a claim larger than its volume never binds`,
        );
      }
    }
    const accessModes = options.accessModes ?? ['ReadWriteMany'];
    if (this.provisioning.mode === StorageProvisioningMode.STORAGE_CLASS && Array.isArray(accessModes) && !accessModes.includes('ReadWriteMany')) {
      invalid(
        this,
        `${property}.accessModes`,
        accessModes,
        `access modes that include ReadWriteMany for the StorageClass claim "${name}": every Airflow pod (the UI, the scheduler, ` +
          'the dag-processor, the triggerer, the Jobs), every task pod and every Celery worker mounts it at once, on any node, and a ' +
          `${accessModes.join(', ')} claim attaches to one node only: pods on the others stay ContainerCreating (Multi-Attach error)`,
        name === 'logs'
          ? 'Use a StorageClass with ReadWriteMany (NFS, EFS, Filestore, Azure Files), or without shared storage { name: "logs", emptyDir: true } with remoteLogging (docs/storage.md).'
          : `Use a StorageClass with ReadWriteMany (NFS, EFS, Filestore, Azure Files), or leave "${name}" out of volumes (docs/storage.md).`,
      );
    }
    const storage = new PersistentStorage(this, name, {
      name,
      claimName: `${NAMESPACED_NAME_PREFIX}-${name}-claim`,
      volumeName: `${this.namePrefix}-${name}-volume`,
      provisioning: this.provisioning,
      size,
      requestSize: options.requestSize,
      accessModes,
      labels: { [NAME_LABEL]: APP_NAME, [COMPONENT_LABEL]: `${name}-storage` },
    });
    const volume = new AirflowVolume(name, mountPath, storage, storage.claimName);
    this.byName.set(name, volume);
    return volume;
  }

  private addEmptyDir(options: AirflowVolumeOptions, property: string, mountPath: string): AirflowVolume {
    if (options.name !== 'logs') {
      invalid(
        this,
        `${property}.emptyDir`,
        true,
        `emptyDir only for the "logs" volume (with remote logging), not for "${options.name}": an emptyDir is each pod's own and is deleted with it, so ` +
          'nothing written there would reach another pod or outlive the task',
        options.name === 'dags'
          ? 'To give every pod its own copy of the DAGs, use gitSync with mode: GitSyncMode.SIDECARS and no "dags" volume.'
          : `Leave "${options.name}" out of volumes, or give it a claim.`,
      );
    }
    const notApplicable = (['requestSize', 'accessModes', 'existingClaim'] as const).filter((p) => options[p] !== undefined);
    if (notApplicable.length > 0) {
      invalid(this, `${property}.${notApplicable[0]}`, options[notApplicable[0]], 'nothing with emptyDir: there is no claim (size is the emptyDir\'s sizeLimit)');
    }
    // The sizeLimit in whole MiB (rounded up), as cdk8s-plus renders it, so that both renderings agree.
    const mebibytes = options.size === undefined ? undefined : Math.ceil(validateByteQuantity(this, `${property}.size`, options.size) / 2 ** 20);
    const volume = new AirflowVolume(options.name, mountPath, undefined, undefined, mebibytes ? `${mebibytes}Mi` : undefined);
    this.byName.set(options.name, volume);
    return volume;
  }

  private addExisting(options: AirflowVolumeOptions, property: string, mountPath: string): AirflowVolume {
    const claimName = validateDnsSubdomain(this, `${property}.existingClaim`, options.existingClaim);
    const notApplicable = (['size', 'requestSize', 'accessModes'] as const).filter((p) => options[p] !== undefined);
    if (notApplicable.length > 0) {
      invalid(
        this,
        `${property}.${notApplicable[0]}`,
        options[notApplicable[0]],
        'nothing with existingClaim: the claim exists already, with its own size and access modes',
      );
    }
    const volume = new AirflowVolume(options.name, mountPath, undefined, claimName);
    this.byName.set(options.name, volume);
    return volume;
  }
}

/** A claim the app's storage uses ({@link claimsOfApp}). */
export interface AppClaim {
  /** The claim's namespace. */
  readonly namespace: string | undefined;
  /** The claim's name. */
  readonly claimName: string;
  /** What uses it, for messages: `PersistentStorage at "airflow/db/storage"`. */
  readonly usedBy: string;
}

/**
 * The claims the storage of `scope`'s app uses: those of every PersistentStorage (the Airflow volumes', the metadata
 * database's data and keys) and the existing claims AirflowVolumes mount. The library mounts each where it belongs
 * (the database's only into Postgres and its bootstrap Job, the DAGs read-only where tasks run).
 */
export function claimsOfApp(scope: IConstruct): AppClaim[] {
  const out: AppClaim[] = [];
  for (const c of App.of(scope).node.findAll()) {
    if (c instanceof PersistentStorage) {
      out.push({ namespace: Chart.of(c).namespace, claimName: c.claimName, usedBy: `PersistentStorage at "${c.node.path}"` });
    } else if (c instanceof AirflowVolumes) {
      for (const v of c.claims) {
        if (v.storage === undefined && v.claimName !== undefined) {
          out.push({ namespace: Chart.of(c).namespace, claimName: v.claimName, usedBy: `volume "${v.name}" of AirflowVolumes at "${c.node.path}"` });
        }
      }
    }
  }
  return out;
}
