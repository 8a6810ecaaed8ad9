import * as k8s from '../../imports/k8s';

/**
 * What a cdk8s-plus container's `mount(path, storage)` asks of the storage it mounts (cdk8s-plus's
 * `IStorage`), in the shape every cdk8s-plus-NN from 28 to the newest shares.
 */
export interface IPlusStorage {
  /** The volume the container mounts. */
  asVolume(): unknown;
}

/**
 * A cdk8s-plus container (`kplus.Container` of any cdk8s-plus-NN from 28), as far as mounting volumes goes.
 * A structural type, so that the library does not tie your app to one cdk8s-plus: the classes of two
 * cdk8s-plus versions are not assignable to each other (their private members), this interface is.
 */
export interface IPlusContainer {
  /** Mounts `storage` at `path` (cdk8s-plus's `Container.mount`). */
  mount(path: string, storage: IPlusStorage): void;
}

/**
 * An Airflow volume as a cdk8s-plus pod reads it: its `name` (the containers' volumeMounts) and its
 * pod-spec entry (`_toKube()`, which every cdk8s-plus-NN calls on the volumes of its containers' mounts).
 * Mount it with `AirflowVolume.mountInto(container)` or `container.mount(path, volume.plusVolume as any)`.
 */
export class PlusVolume implements IPlusStorage {
  constructor(
    /** The volume's name in the pod spec. */
    public readonly name: string,
    private readonly spec: k8s.Volume,
  ) {}

  /** cdk8s-plus's `IStorage.asVolume()`: the volume itself. */
  public asVolume(): PlusVolume {
    return this;
  }

  /** The pod-spec volume entry (cdk8s-plus's `Volume._toKube()`). */
  public _toKube(): k8s.Volume {
    return this.spec;
  }
}
