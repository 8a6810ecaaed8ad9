import { AirflowChart, MetadataDb, PersistentStorage, StorageProvisioning, StorageProvisioningMode } from '../../lib';
import { byKind, testChart, validationError } from '../support';
import { Testing } from 'cdk8s';

/** A provisioning the factory did not check (plain JavaScript can make one): PersistentStorage checks again. */
function unchecked(hostRoot: string): StorageProvisioning {
  return Object.assign(Object.create(StorageProvisioning.prototype), {
    mode: StorageProvisioningMode.HOST_PATH,
    storageClassName: StorageProvisioning.DEFAULT_STATIC_STORAGE_CLASS,
    hostRoot,
  });
}

const storage = (provisioning: StorageProvisioning, name = 'etc') =>
  new PersistentStorage(testChart(), 'storage', { name, claimName: 'c', volumeName: 'v', provisioning, size: '1Gi', accessModes: ['ReadWriteOnce'] });

describe('PersistentStorage: no hostPath volume on "/" or a system folder of the node (issue #21)', () => {
  test('a volume named "etc" under the host root "/" would be the node\'s /etc: refused', () => {
    validationError(
      () => storage(unchecked('/')),
      'provisioning.hostRoot',
      /^PersistentStorage at "test\/storage": property "provisioning\.hostRoot" received "\/"; allowed: a folder of the node that is neither "\/" nor one of its system folders/,
    );
  });

  test('a host root inside a system folder is refused', () => {
    validationError(() => storage(unchecked('/var/lib/kubelet'), 'dags'), 'provisioning.hostRoot', /received "\/var\/lib\/kubelet"; .*inside the node's system folder "\/var"/);
  });

  test('every hostPath the library emits goes through the check, the database\'s included', () => {
    // The default chart's five volumes, Postgres' and its keys' among them, are all under /data.
    const objects = Testing.synth(new AirflowChart(Testing.app(), 'airflow'));
    expect(byKind(objects, 'PersistentVolume').map((pv) => pv.spec.hostPath.path)).toEqual(['/data/dags', '/data/logs', '/data/data', '/data/postgres', '/data/postgres-keys']);
    validationError(
      () => new MetadataDb(testChart(), 'db', { provisioning: unchecked('/') }),
      'provisioning.hostRoot',
      /^PersistentStorage at "test\/db\/storage": property "provisioning\.hostRoot" received "\/"/,
    );
  });

  test('a folder under /data is accepted, and is the volume\'s hostPath', () => {
    expect(storage(StorageProvisioning.hostPath({ hostRoot: '/data/team-a' })).hostPath).toBe('/data/team-a/etc');
  });
});
