import { AirflowCdk8sValidationError, StorageProvisioning, StorageProvisioningMode } from '../../lib';
import { validationError } from '../support';

// Issue #21: a hostRoot of "/" or of a system folder put the volumes on the node's own folders (a volume named
// "etc" on "/etc"), which the volume-permissions Job gave to Airflow's user and every task pod mounted read-write.
describe('StorageProvisioning.hostPath refuses "/" and the node\'s system folders as hostRoot', () => {
  test.each([
    ['/', /received "\/"; allowed: a folder of the node that is neither "\/" nor one of its system folders \(\/bin, .*, \/var\) nor inside one, such as "\/data" or "\/data\/airflow"\. "\/" is the node's root folder: /],
    ['/etc', /received "\/etc"; .* "\/etc" is the node's system folder "\/etc": a hostPath volume there is given to Airflow's user \(uid 50000\) and mounted read-write by every task pod\. Use a folder under \/data/],
    ['/var/lib/minikube', /"\/var\/lib\/minikube" is inside the node's system folder "\/var"/],
    ['/home/alice', /inside the node's system folder "\/home"/],
    ['/data/../etc', /"\/data\/\.\.\/etc" resolves to "\/etc", the node's system folder "\/etc"/],
    ['//', /"\/\/" resolves to "\/", the node's root folder/],
    ['/usr/', /"\/usr\/" resolves to "\/usr", the node's system folder "\/usr"/],
  ])('%s', (hostRoot, message) => {
    const error = validationError(() => StorageProvisioning.hostPath({ hostRoot }), 'hostRoot', message);
    expect(error).toBeInstanceOf(AirflowCdk8sValidationError);
    expect(error.message).toMatch(/^StorageProvisioning at "StorageProvisioning\.hostPath": property "hostRoot" received /);
  });

  test.each([['/data'], ['/data/team-a'], ['/mnt/airflow'], [undefined]])('%s is accepted', (hostRoot) => {
    const provisioning = StorageProvisioning.hostPath({ hostRoot });
    expect([provisioning.mode, provisioning.hostRoot]).toEqual([StorageProvisioningMode.HOST_PATH, hostRoot]);
  });

  test('a relative hostRoot is left to the constructs that take the provisioning (their message suggests the fix)', () => {
    expect(StorageProvisioning.hostPath({ hostRoot: 'etc' }).hostRoot).toBe('etc');
  });
});
