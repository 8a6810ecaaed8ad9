import { Construct } from 'constructs';
import { AirflowCdk8sValidationError } from '../../lib';
import { SYSTEM_HOST_FOLDERS, normaliseHostPath, systemFolderOf, validateHostFolder } from '../../lib/core/host-folders';
import { testChart } from '../support';

class Probe extends Construct {}
const scope = () => new Probe(testChart({ id: 'c', namespace: null }), 'probe');

describe('normaliseHostPath: as the node resolves it, without following links', () => {
  test.each([
    ['/data', '/data'],
    ['/data/', '/data'],
    ['//data//dags/', '/data/dags'],
    ['/data/./dags', '/data/dags'],
    ['/data/../etc', '/etc'],
    ['/data/dags/../../etc/', '/etc'],
    ['/..', '/'],
    ['/../../etc', '/etc'],
    ['/', '/'],
    ['//', '/'],
  ])('%s -> %s', (path, expected) => expect(normaliseHostPath(path)).toBe(expected));
});

describe('systemFolderOf', () => {
  test.each([
    ['/', '/'],
    ['//', '/'],
    ['/data/..', '/'],
    ['/etc', '/etc'],
    ['/etc/', '/etc'],
    ['//etc', '/etc'],
    ['/data/../etc', '/etc'],
    ['/etc/kubernetes', '/etc'],
    ['/var/lib/minikube', '/var'],
    ['/var/lib/docker/volumes', '/var'],
    ['/var/lib/airflow', '/var'],
    ['/home/alice/airflow', '/home'],
    ['/usr/local/airflow', '/usr'],
    ['/srv/airflow', '/srv'],
    ['/opt/airflow', '/opt'],
  ])('%s is in %s', (path, folder) => expect(systemFolderOf(path)).toBe(folder));

  test.each([['/data'], ['/data/dags'], ['/data/team-a/logs'], ['/mnt/airflow'], ['/tmp/hostpath-provisioner/airflow'], ['/etcetera'], ['/variable'], ['/data/etc']])(
    '%s is no system folder',
    (path) => expect(systemFolderOf(path)).toBeUndefined(),
  );

  test('every system folder of issue #21 is refused, with its sub-folders', () => {
    const expected = ['/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib32', '/lib64', '/libx32', '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/usr', '/var'];
    expect([...SYSTEM_HOST_FOLDERS].sort()).toEqual(expected.sort());
    for (const folder of expected) {
      expect(systemFolderOf(folder)).toBe(folder);
      expect(systemFolderOf(`${folder}/airflow/dags`)).toBe(folder);
    }
  });

  test('a relative path is left to the path validator', () => expect(systemFolderOf('etc')).toBeUndefined());
});

describe('validateHostFolder: the one message', () => {
  test('the root folder', () => {
    expect(() => validateHostFolder(scope(), 'hostRoot', '/')).toThrow(AirflowCdk8sValidationError);
    expect(() => validateHostFolder(scope(), 'hostRoot', '/')).toThrow(
      'Probe at "c/probe": property "hostRoot" received "/"; allowed: a folder of the node that is neither "/" nor one of its system folders ' +
        '(/bin, /boot, /dev, /etc, /home, /lib, /lib32, /lib64, /libx32, /opt, /proc, /root, /run, /sbin, /srv, /sys, /usr, /var) nor inside one, ' +
        'such as "/data" or "/data/airflow". "/" is the node\'s root folder: a hostPath volume there is given to Airflow\'s user (uid 50000) ' +
        'and mounted read-write by every task pod. Use a folder under /data, which minikube keeps across restarts.',
    );
  });

  test('a path that resolves into a system folder says what it resolves to', () => {
    expect(() => validateHostFolder(scope(), 'hostPath', '/data/../etc/kubernetes')).toThrow(
      /received "\/data\/\.\.\/etc\/kubernetes"; allowed: .*\. "\/data\/\.\.\/etc\/kubernetes" resolves to "\/etc\/kubernetes", inside the node's system folder "\/etc": /,
    );
  });

  test('a path that resolves to the root folder', () => {
    expect(() => validateHostFolder(scope(), 'hostRoot', '/data/..')).toThrow(/\. "\/data\/\.\." resolves to "\/", the node's root folder: /);
  });

  test('an allowed folder is returned as it is', () => expect(validateHostFolder(scope(), 'hostRoot', '/data/team-a')).toBe('/data/team-a'));
});
