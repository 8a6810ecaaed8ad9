import { DEFAULT_HOST_ROOT, hostFolderError } from '../core';

/** How persistent storage is provisioned: static hostPath volumes (minikube) or a StorageClass. */
export enum StorageProvisioningMode {
  /** Static PersistentVolumes on hostPath, each pinned to its claim. */
  HOST_PATH = 'HostPath',
  /** Claims on a StorageClass; the cluster's provisioner creates the volumes. */
  STORAGE_CLASS = 'StorageClass',
}

/** Options for {@link StorageProvisioning.hostPath}. */
export interface HostPathProvisioningOptions {
  /**
   * The directory on the node under which each volume gets its own folder (`<hostRoot>/<name>`).
   * minikube keeps `/data` across restarts, and `minikube mount ./dags:/data/dags` fills it. Never `/` nor a
   * system folder of the node (`/etc`, `/var`, `/usr`, ...: {@link SYSTEM_HOST_FOLDERS}) nor inside one: the
   * volumes' folders are given to Airflow's user and every task pod mounts them read-write.
   * @default - "/data" in namespace "airflow", "/data/<namespace>" in any other, so that two deployments never share a folder"
   */
  readonly hostRoot?: string;

  /**
   * The storageClassName written on both each PersistentVolume and its claim. It must be a class that no
   * provisioner serves, so that neither a default StorageClass nor a dynamic provisioner can take the
   * claim; binding is by name only.
   * @default "airflow-static"
   */
  readonly storageClassName?: string;
}

/**
 * Where the library's persistent storage comes from. Use the static factories:
 * `StorageProvisioning.hostPath()` for minikube and single-node clusters (the default) or
 * `StorageProvisioning.storageClass('efs-sc')` for real clusters with NFS/EFS/Filestore-like storage.
 */
export class StorageProvisioning {
  /** The storage class name used for static, pinned volumes unless another is given. */
  public static readonly DEFAULT_STATIC_STORAGE_CLASS = 'airflow-static';

  /** The host root on the node in namespace `airflow` (minikube keeps `/data` across restarts). */
  public static readonly DEFAULT_HOST_ROOT = DEFAULT_HOST_ROOT;

  /**
   * Static hostPath PersistentVolumes, each pinned to exactly one claim (minikube).
   * @throws AirflowCdk8sValidationError when `hostRoot` is `/` or a system folder of the node, or inside one
   */
  public static hostPath(options: HostPathProvisioningOptions = {}): StorageProvisioning {
    // Refused here, where the folder is written: the constructs that take the provisioning check the rest.
    const error = hostFolderError('StorageProvisioning', 'StorageProvisioning.hostPath', 'hostRoot', options.hostRoot);
    if (error) throw error;
    return new StorageProvisioning(
      StorageProvisioningMode.HOST_PATH,
      options.storageClassName ?? StorageProvisioning.DEFAULT_STATIC_STORAGE_CLASS,
      options.hostRoot,
    );
  }

  /** Dynamic provisioning: claims on the named StorageClass, no PersistentVolumes are created. */
  public static storageClass(storageClassName: string): StorageProvisioning {
    return new StorageProvisioning(StorageProvisioningMode.STORAGE_CLASS, storageClassName, undefined);
  }

  private constructor(
    /** Static hostPath volumes or a StorageClass. */
    public readonly mode: StorageProvisioningMode,
    /** The storageClassName written on the claims (and, for hostPath, the volumes). */
    public readonly storageClassName: string,
    /**
     * The host directory under which hostPath volumes live; undefined with a StorageClass, or when the
     * namespace decides it ("/data" in namespace "airflow", "/data/<namespace>" in others).
     */
    public readonly hostRoot: string | undefined,
  ) {}
}
