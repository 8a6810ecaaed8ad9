import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { App } from 'cdk8s';
import {
  AirflowCdk8sValidationError,
  addCheck,
  clusterScoped,
  defaultHostRoot,
  invalid,
  namespaceOf,
  validateAbsolutePath,
  validateByteQuantity,
  validateDnsLabel,
  validateDnsSubdomain,
  validateHostFolder,
  refuseUnknownProps,
} from '../core';
import { StorageProvisioning, StorageProvisioningMode } from './storage-provisioning';

/** The access modes a claim may ask for. */
export const ACCESS_MODES = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'] as const;

/** Props for {@link PersistentStorage}. */
export interface PersistentStorageProps {
  /** The folder name under the host root (hostPath) and the short name used in labels, e.g. `dags`. */
  readonly name: string;

  /** The PersistentVolumeClaim's name. */
  readonly claimName: string;

  /** The PersistentVolume's name (hostPath provisioning only). */
  readonly volumeName: string;

  /** How the storage is provisioned. */
  readonly provisioning: StorageProvisioning;

  /** The volume's capacity, a Kubernetes quantity. */
  readonly size: string;

  /**
   * The storage the claim requests; never more than `size`.
   * @default - the same as `size`
   */
  readonly requestSize?: string;

  /** Access modes of the volume and the claim. */
  readonly accessModes: string[];

  /**
   * Labels for the volume and the claim.
   * @default - none
   */
  readonly labels?: Record<string, string>;
}

/**
 * A PersistentVolumeClaim and, with hostPath provisioning, the one PersistentVolume it is pinned to.
 *
 * The pinning is what makes hand-written YAML's classic failure impossible (a claim bound to the wrong
 * volume, or to a dynamically provisioned one): the claim names its volume (`spec.volumeName`), the volume
 * names its claim (`spec.claimRef` with name and namespace), and both carry a storageClassName that no
 * provisioner serves, so neither a default StorageClass nor a look-alike Available volume can take it.
 */
export class PersistentStorage extends Construct {
  /** The claim's name, for pod specs. */
  public readonly claimName: string;

  /** The PersistentVolume's name; undefined when a StorageClass provisions the volume. */
  public readonly volumeName: string | undefined;

  /** The host directory backing the volume; undefined when a StorageClass provisions it. */
  public readonly hostPath: string | undefined;

  /** The volume's capacity. */
  public readonly size: string;

  /** The storage the claim requests. */
  public readonly requestSize: string;

  /** The access modes of the claim (and volume). */
  public readonly accessModes: readonly string[];

  /** The storageClassName on the claim (and volume). */
  public readonly storageClassName: string;

  /** The claim object. */
  public readonly claim: k8s.KubePersistentVolumeClaim;

  /** The volume object; undefined when a StorageClass provisions the volume. */
  public readonly persistentVolume: k8s.KubePersistentVolume | undefined;

  constructor(scope: Construct, id: string, props: PersistentStorageProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'PersistentStorageProps');
    const namespace = namespaceOf(this);
    validateDnsLabel(this, 'name', props.name);
    this.claimName = validateDnsSubdomain(this, 'claimName', props.claimName);
    this.size = props.size;
    const capacity = validateByteQuantity(this, 'size', props.size);
    this.requestSize = props.requestSize ?? props.size;
    const request = validateByteQuantity(this, 'requestSize', this.requestSize);
    if (request > capacity) {
      invalid(
        this,
        'requestSize',
        this.requestSize,
        `at most the volume's size ${JSON.stringify(props.size)}: a claim larger than its volume never binds`,
      );
    }
    if (props.accessModes.length === 0) {
      invalid(this, 'accessModes', props.accessModes, `one or more of ${ACCESS_MODES.join(', ')}`);
    }
    props.accessModes.forEach((mode, i) => {
      if (!(ACCESS_MODES as readonly string[]).includes(mode)) {
        invalid(this, `accessModes[${i}]`, mode, `one of ${ACCESS_MODES.join(', ')}`);
      }
    });
    this.accessModes = [...props.accessModes];
    this.storageClassName = validateDnsSubdomain(this, 'provisioning.storageClassName', props.provisioning.storageClassName);
    const labels = props.labels ?? {};

    if (props.provisioning.mode === StorageProvisioningMode.HOST_PATH) {
      const root = validateAbsolutePath(this, 'provisioning.hostRoot', props.provisioning.hostRoot ?? defaultHostRoot(namespace));
      // Every hostPath the library emits is made here (Postgres' too): never on "/" or a system folder of the
      // node. The root is checked again (the factory checked it) for provisionings plain JavaScript made; the
      // name is a DNS label, so `<root>/<name>` stays inside the root.
      validateHostFolder(this, 'provisioning.hostRoot', root);
      this.volumeName = validateDnsSubdomain(this, 'volumeName', props.volumeName);
      this.hostPath = `${root}/${props.name}`;
      this.persistentVolume = clusterScoped(
        new k8s.KubePersistentVolume(this, 'volume', {
          metadata: { name: this.volumeName, labels },
          spec: {
            capacity: { storage: k8s.Quantity.fromString(this.size) },
            accessModes: this.accessModes as string[],
            volumeMode: 'Filesystem',
            // Retain: deleting the claim or the namespace never deletes DAGs, logs or data.
            persistentVolumeReclaimPolicy: 'Retain',
            storageClassName: this.storageClassName,
            claimRef: { name: this.claimName, namespace },
            hostPath: { path: this.hostPath, type: 'DirectoryOrCreate' },
          },
        }),
      );
      addCheck(this, () => this.hostPathClashes());
    } else {
      this.volumeName = undefined;
      this.hostPath = undefined;
      this.persistentVolume = undefined;
    }

    this.claim = new k8s.KubePersistentVolumeClaim(this, 'claim', {
      metadata: { name: this.claimName, labels },
      spec: {
        accessModes: this.accessModes as string[],
        volumeMode: 'Filesystem',
        storageClassName: this.storageClassName,
        resources: { requests: { storage: k8s.Quantity.fromString(this.requestSize) } },
        ...(this.volumeName ? { volumeName: this.volumeName } : {}),
      },
    });
  }

  /** Two static volumes of the app on one host folder would share (and overwrite) each other's files. */
  private hostPathClashes(): string[] {
    const same = App.of(this)
      .node.findAll()
      .filter((c): c is PersistentStorage => c instanceof PersistentStorage && c.hostPath === this.hostPath);
    // One clash, one message: the first in the app's tree order reports it, naming the others.
    if (same.length < 2 || same[0] !== this) return [];
    const others = same.slice(1);
    return [
      new AirflowCdk8sValidationError(
        this.constructor.name,
        this.node.path,
        'hostPath',
        this.hostPath,
        `a host folder no other volume of the app uses: ${others.map((o) => `"${o.node.path}"`).join(', ')} uses it too`,
        'Give each deployment its own namespace (host folders are derived from it), or its own hostRoot.',
      ).message,
    ];
  }
}
