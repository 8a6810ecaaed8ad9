import { Chart, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import * as kplus33 from 'cdk8s-plus-33';
import { AirflowNamespace, AirflowVolumes, StorageProvisioning } from '../../lib';
import { byKind, find, Manifest, synthIn, testChart } from '../support';

const chart = () => testChart();

function synthVolumes(props: ConstructorParameters<typeof AirflowVolumes>[2] = {}): Manifest[] {
  return synthIn((c) => [new AirflowNamespace(c, 'namespace'), new AirflowVolumes(c, 'volumes', props)]).objects;
}

describe('AirflowVolumes on minikube (hostPath, the default)', () => {
  const objects = synthVolumes();

  test('snapshot', () => {
    expect(objects).toMatchSnapshot();
  });

  test('the Namespace comes first, then each volume followed by its claim', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Namespace/airflow',
      'PersistentVolume/airflow-dags-volume',
      'PersistentVolumeClaim/airflow-dags-claim',
      'PersistentVolume/airflow-logs-volume',
      'PersistentVolumeClaim/airflow-logs-claim',
      'PersistentVolume/airflow-data-volume',
      'PersistentVolumeClaim/airflow-data-claim',
    ]);
  });

  test('cluster-scoped objects carry no namespace; claims are in the chart namespace', () => {
    for (const o of [...byKind(objects, 'Namespace'), ...byKind(objects, 'PersistentVolume')]) {
      expect(o.metadata.namespace).toBeUndefined();
    }
    for (const o of byKind(objects, 'PersistentVolumeClaim')) {
      expect(o.metadata.namespace).toBe('airflow');
    }
  });

  test.each(['dags', 'logs', 'data'])('%s: volume and claim are pinned to each other both ways', (name) => {
    const pv = find(objects, 'PersistentVolume', `airflow-${name}-volume`);
    const pvc = find(objects, 'PersistentVolumeClaim', `airflow-${name}-claim`);
    expect(pv.spec.hostPath).toEqual({ path: `/data/${name}`, type: 'DirectoryOrCreate' });
    expect(pv.spec.claimRef).toEqual({ name: `airflow-${name}-claim`, namespace: 'airflow' });
    expect(pvc.spec.volumeName).toBe(`airflow-${name}-volume`);
    // An explicit class that no provisioner serves: a default StorageClass cannot take the claim.
    expect(pv.spec.storageClassName).toBe('airflow-static');
    expect(pvc.spec.storageClassName).toBe('airflow-static');
    expect(pv.spec.persistentVolumeReclaimPolicy).toBe('Retain');
    expect(pv.spec.accessModes).toEqual(['ReadWriteMany']);
    expect(pvc.spec.accessModes).toEqual(['ReadWriteMany']);
    expect(pvc.spec.resources.requests.storage).toBe(pv.spec.capacity.storage);
  });

  test('no name carries a hash suffix', () => {
    for (const o of objects) expect(o.metadata.name).not.toMatch(/-[0-9a-f]{8}$/);
  });

  test('synthesis is deterministic', () => {
    expect(JSON.stringify(synthVolumes())).toBe(JSON.stringify(objects));
  });
});

describe('AirflowVolumes API', () => {
  test('exposes claims, mount paths and plain pod-spec entries', () => {
    const volumes = new AirflowVolumes(chart(), 'volumes');
    expect(volumes.names).toEqual(['dags', 'logs', 'data']);
    expect(volumes.get('dags').mountPath).toBe('/opt/airflow/dags');
    expect(volumes.get('logs').claimName).toBe('airflow-logs-claim');
    expect(volumes.podVolumes()).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: 'airflow-data-claim' } });
    expect(volumes.volumeMounts()).toEqual([
      { name: 'dags', mountPath: '/opt/airflow/dags' },
      { name: 'logs', mountPath: '/opt/airflow/logs' },
      { name: 'data', mountPath: '/opt/airflow/data' },
    ]);
  });

  // The library takes any cdk8s-plus-NN's container (a structural type): the classes of two cdk8s-plus
  // versions are not assignable to each other, so typing it as cdk8s-plus-28's would not compile here.
  test.each([
    ['cdk8s-plus-28', (c: Chart) => new kplus.Deployment(c, 'web', { metadata: { name: 'web' } })],
    ['cdk8s-plus-33', (c: Chart) => new kplus33.Deployment(c, 'web', { metadata: { name: 'web' } })],
  ])('mounts every volume into a %s workload', (_plus, deploymentOf) => {
    const c = chart();
    const volumes = new AirflowVolumes(c, 'volumes', {
      volumes: [{ name: 'dags' }, { name: 'logs', emptyDir: true, size: '2Gi' }, { name: 'data', existingClaim: 'team-data' }],
    });
    const deployment = deploymentOf(c);
    const container = deployment.addContainer({ image: 'apache/airflow:3.1.3', name: 'web' });
    const sidecar = deployment.addContainer({ image: 'apache/airflow:3.1.3', name: 'sidecar' });
    volumes.mountInto(container);
    volumes.get('dags').mountInto(sidecar); // the same volume in a second container: one entry in the pod
    const dep = Testing.synth(c).find((o) => o.kind === 'Deployment');
    const spec = dep.spec.template.spec;
    expect(spec.volumes).toEqual([
      { name: 'dags', persistentVolumeClaim: { claimName: 'airflow-dags-claim' } },
      { name: 'logs', emptyDir: { sizeLimit: '2048Mi' } },
      { name: 'data', persistentVolumeClaim: { claimName: 'team-data' } },
    ]);
    expect(spec.containers[0].volumeMounts.map((m: any) => [m.name, m.mountPath])).toEqual([
      ['dags', '/opt/airflow/dags'],
      ['logs', '/opt/airflow/logs'],
      ['data', '/opt/airflow/data'],
    ]);
    expect(spec.containers[1].volumeMounts.map((m: any) => [m.name, m.mountPath])).toEqual([['dags', '/opt/airflow/dags']]);
  });

  test('users can drop data and add plugins', () => {
    const c = chart();
    const volumes = new AirflowVolumes(c, 'volumes', { volumes: [{ name: 'dags' }, { name: 'logs', size: '10Gi' }] });
    volumes.addVolume({ name: 'plugins' });
    const objects = Testing.synth(c);
    expect(byKind(objects, 'PersistentVolume').map((o) => o.metadata.name)).toEqual([
      'airflow-dags-volume',
      'airflow-logs-volume',
      'airflow-plugins-volume',
    ]);
    expect(find(objects, 'PersistentVolume', 'airflow-logs-volume').spec.capacity.storage).toBe('10Gi');
    expect(find(objects, 'PersistentVolume', 'airflow-plugins-volume').spec.hostPath.path).toBe('/data/plugins');
    expect(volumes.get('plugins').mountPath).toBe('/opt/airflow/plugins');
  });

  test('a custom host root and a smaller claim', () => {
    const objects = synthVolumes({
      provisioning: StorageProvisioning.hostPath({ hostRoot: '/mnt/airflow' }),
      volumes: [{ name: 'dags', size: '2Gi', requestSize: '1Gi' }],
    });
    expect(find(objects, 'PersistentVolume', 'airflow-dags-volume').spec.hostPath.path).toBe('/mnt/airflow/dags');
    expect(find(objects, 'PersistentVolumeClaim', 'airflow-dags-claim').spec.resources.requests.storage).toBe('1Gi');
  });
});

describe('AirflowVolumes on a real cluster (StorageClass)', () => {
  const objects = synthVolumes({ provisioning: StorageProvisioning.storageClass('efs-sc') });

  test('snapshot', () => {
    expect(objects).toMatchSnapshot();
  });

  test('only claims, on the named class, ReadWriteMany, not pinned to a volume', () => {
    expect(byKind(objects, 'PersistentVolume')).toHaveLength(0);
    const claims = byKind(objects, 'PersistentVolumeClaim');
    expect(claims.map((o) => o.metadata.name)).toEqual(['airflow-dags-claim', 'airflow-logs-claim', 'airflow-data-claim']);
    for (const claim of claims) {
      expect(claim.spec.storageClassName).toBe('efs-sc');
      expect(claim.spec.accessModes).toEqual(['ReadWriteMany']);
      expect(claim.spec.volumeName).toBeUndefined();
    }
  });
});

describe('AirflowVolumes rejects bad input with a message naming construct, property, value and what is allowed', () => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['an empty volume list', () => new AirflowVolumes(chart(), 'v', { volumes: [] }), /AirflowVolumes at "test\/v": property "volumes" received \[\]; allowed: at least one volume/],
    ['an empty name', () => new AirflowVolumes(chart(), 'v', { volumes: [{ name: '' }] }), /property "volumes\[0\]\.name" received ""; allowed: a DNS-1123 label/],
    ['a duplicate name', () => new AirflowVolumes(chart(), 'v', { volumes: [{ name: 'dags' }, { name: 'dags' }] }), /property "volumes\[1\]\.name" received "dags"; allowed: a name not used by another entry/],
    ['a name that is not a DNS label', () => new AirflowVolumes(chart(), 'v', { volumes: [{ name: 'My_Dags' }] }), /property "volumes\[0\]\.name" received "My_Dags"; allowed: a DNS-1123 label.*Did you mean "my-dags"\?/],
    ['a relative host root', () => new AirflowVolumes(chart(), 'v', { provisioning: StorageProvisioning.hostPath({ hostRoot: 'data' }) }), /property "provisioning\.hostRoot" received "data"; allowed: an absolute path.*Did you mean "\/data"\?/],
    ['a size that is not a quantity', () => new AirflowVolumes(chart(), 'v', { volumes: [{ name: 'dags', size: '5GB' }] }), /property "volumes\[0\]\.size" received "5GB"; allowed: a Kubernetes quantity of bytes.*Did you mean "5Gi"\?/],
    ['a claim larger than its volume', () => new AirflowVolumes(chart(), 'v', { volumes: [{ name: 'dags', size: '1Gi', requestSize: '2Gi' }] }), /property "volumes\[0\]\.requestSize" received "2Gi"; allowed: at most the volume's size "1Gi"/],
    ['an unknown access mode', () => new AirflowVolumes(chart(), 'v', { volumes: [{ name: 'dags', accessModes: ['ReadWriteAll'] }] }), /PersistentStorage at "test\/v\/dags": property "accessModes\[0\]" received "ReadWriteAll"; allowed: one of ReadWriteOnce/],
    ['a relative mount path', () => new AirflowVolumes(chart(), 'v', { volumes: [{ name: 'dags', mountPath: 'dags' }] }), /property "volumes\[0\]\.mountPath" received "dags"; allowed: an absolute path/],
    ['two volumes on one mount path', () => new AirflowVolumes(chart(), 'v', { volumes: [{ name: 'dags' }, { name: 'x', mountPath: '/opt/airflow/dags' }] }), /property "volumes\[1\]\.mountPath" received "\/opt\/airflow\/dags"; allowed: a path not already used by volume "dags"/],
    ['a storage class name that is not a DNS subdomain', () => new AirflowVolumes(chart(), 'v', { provisioning: StorageProvisioning.storageClass('EFS SC') }), /property "provisioning\.storageClassName" received "EFS SC"/],
    ['a chart without a namespace', () => new AirflowVolumes(testChart({ namespace: null }), 'v'), /property "Chart\.namespace" received undefined; allowed: a namespace set on the Chart/],
    ['a volume that does not exist', () => new AirflowVolumes(chart(), 'v').get('plugins'), /property "volume name" received "plugins"; allowed: one of the declared volumes: "dags", "logs", "data"/],
    ['adding a volume twice', () => new AirflowVolumes(chart(), 'v').addVolume({ name: 'logs' }), /property "addVolume\.name" received "logs"; allowed: a name not already used/],
  ];
  test.each(cases)('%s', (_label, build, message) => {
    expect(build).toThrow(message);
  });
});

// Issue #20: every pod mounts every volume of AirflowVolumes, on any node. A StorageClass claim without
// ReadWriteMany attaches to one node (the others fail with Multi-Attach), and was accepted silently.
describe('access modes: every pod mounts every volume, on any node', () => {
  const efs = StorageProvisioning.storageClass('efs-sc');

  test.each([[['ReadWriteOnce']], [['ReadWriteOncePod']], [['ReadOnlyMany']]])('a StorageClass claim with %j is refused, naming the volume, its modes and what to do', (modes) => {
    expect(() => new AirflowVolumes(chart(), 'v', { provisioning: efs, volumes: [{ name: 'dags' }, { name: 'data', accessModes: modes }] })).toThrow(
      new RegExp(
        `^AirflowVolumes at "test/v": property "volumes\\[1\\]\\.accessModes" received ${JSON.stringify(JSON.stringify(modes)).slice(1, -1).replace(/[[\]]/g, '\\$&')}; allowed: access modes that include ReadWriteMany for the StorageClass claim "data": ` +
          `every Airflow pod \\(the UI, the scheduler, the dag-processor, the triggerer, the Jobs\\), every task pod and every Celery worker mounts it at once, on any node, and a ${modes[0]} claim attaches to one node only: ` +
          'pods on the others stay ContainerCreating \\(Multi-Attach error\\)\\. Use a StorageClass with ReadWriteMany \\(NFS, EFS, Filestore, Azure Files\\), or leave "data" out of volumes \\(docs/storage\\.md\\)\\.$',
      ),
    );
  });

  test('for logs, the message points at the emptyDir with remote logging; addVolume is checked too', () => {
    expect(() => new AirflowVolumes(chart(), 'v', { provisioning: efs, volumes: [{ name: 'logs', accessModes: ['ReadWriteOnce'] }] })).toThrow(
      /received \["ReadWriteOnce"\]; allowed: .*\. Use a StorageClass with ReadWriteMany \(NFS, EFS, Filestore, Azure Files\), or without shared storage \{ name: "logs", emptyDir: true \} with remoteLogging \(docs\/storage\.md\)\.$/,
    );
    expect(() => new AirflowVolumes(chart(), 'v', { provisioning: efs }).addVolume({ name: 'plugins', accessModes: ['ReadWriteOnce'] })).toThrow(
      /property "addVolume\.accessModes" received \["ReadWriteOnce"\]; allowed: access modes that include ReadWriteMany for the StorageClass claim "plugins"/,
    );
  });

  test('ReadWriteMany beside other modes is accepted; hostPath (one node\'s folder, no attach) accepts any mode', () => {
    const both = synthVolumes({ provisioning: efs, volumes: [{ name: 'logs', accessModes: ['ReadWriteOnce', 'ReadWriteMany'] }] });
    expect(find(both, 'PersistentVolumeClaim', 'airflow-logs-claim').spec.accessModes).toEqual(['ReadWriteOnce', 'ReadWriteMany']);
    const host = synthVolumes({ volumes: [{ name: 'logs', accessModes: ['ReadWriteOnce'] }] });
    expect(find(host, 'PersistentVolumeClaim', 'airflow-logs-claim').spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(() => new AirflowVolumes(chart(), 'v', { provisioning: efs, volumes: [{ name: 'logs', existingClaim: 'team-logs' }] })).not.toThrow();
  });
});

// Issue #20: a deployment with no shared claims at all: logs on an emptyDir per pod (remote logging required,
// checked by the control plane at synth), no data, the DAGs from git-sync's sidecars.
describe('logs on an emptyDir of each pod', () => {
  test('no volume and no claim; the pod volume is an emptyDir, with size as its sizeLimit', () => {
    const objects = synthVolumes({ provisioning: StorageProvisioning.storageClass('gp3'), volumes: [{ name: 'logs', emptyDir: true }] });
    expect(objects.map((o) => o.kind)).toEqual(['Namespace']);
    const volumes = new AirflowVolumes(chart(), 'v', { volumes: [{ name: 'logs', emptyDir: true }, { name: 'data' }] });
    const logs = volumes.get('logs');
    expect([logs.emptyDir, logs.storage, logs.claimName, logs.mountPath]).toEqual([true, undefined, undefined, '/opt/airflow/logs']);
    expect(logs.podVolume()).toEqual({ name: 'logs', emptyDir: {} });
    expect(volumes.claims.map((v) => v.name)).toEqual(['data']);
    const limited = new AirflowVolumes(chart(), 'v', { volumes: [{ name: 'logs', emptyDir: true, size: '2Gi' }] }).get('logs');
    expect(limited.podVolume().emptyDir!.sizeLimit!.value).toBe('2048Mi'); // whole MiB, as cdk8s-plus renders it too
    expect(new AirflowVolumes(chart(), 'v', { volumes: [{ name: 'logs', emptyDir: false }] }).get('logs').claimName).toBe('airflow-logs-claim');
  });

  test.each([
    ['data', /property "volumes\[0\]\.emptyDir" received true; allowed: emptyDir only for the "logs" volume \(with remote logging\), not for "data": .* Leave "data" out of volumes, or give it a claim\.$/],
    ['dags', /property "volumes\[0\]\.emptyDir" received true; allowed: emptyDir only for the "logs" volume .* use gitSync with mode: GitSyncMode\.SIDECARS and no "dags" volume\.$/],
  ])('an emptyDir %s is refused', (name, message) => {
    expect(() => new AirflowVolumes(chart(), 'v', { volumes: [{ name, emptyDir: true }] })).toThrow(message);
  });

  test.each([
    ['requestSize', { requestSize: '1Gi' }],
    ['accessModes', { accessModes: ['ReadWriteMany'] }],
    ['existingClaim', { existingClaim: 'team-logs' }],
    ['emptyDir', { emptyDir: 'yes' as any }],
  ])('%s does not apply to an emptyDir', (property, extra) => {
    if (property === 'emptyDir') {
      expect(() => new AirflowVolumes(chart(), 'v', { volumes: [{ name: 'logs', ...extra }] })).toThrow(/property "volumes\[0\]\.emptyDir" received "yes"; allowed: true or false\.$/);
      return;
    }
    expect(() => new AirflowVolumes(chart(), 'v', { volumes: [{ name: 'logs', emptyDir: true, ...extra }] })).toThrow(
      new RegExp(`property "volumes\\[0\\]\\.${property}" received .*; allowed: nothing with emptyDir: there is no claim \\(size is the emptyDir's sizeLimit\\)\\.$`),
    );
  });
});
