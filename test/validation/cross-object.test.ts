import { Testing } from 'cdk8s';
import { AirflowChart } from '../../lib';
import { find } from '../support';
import { crossObjectFindings, crossObjectProblems, synthesizedManifests, withEmbeddedManifests } from '../../validation';

/** The Secret the bootstrap Job creates at deploy time (so it is never in the output). */
const EXISTING = { existingSecrets: ['airflow-secrets'] };

/** A fresh deep copy of the default chart's objects, embedded worker pod template included. */
function objects(): any[] {
  const located = withEmbeddedManifests(synthesizedManifests(new AirflowChart(Testing.app(), 'airflow')));
  return JSON.parse(JSON.stringify(located.map((l) => l.manifest)));
}

/** The pod spec of the first workload that has one (Deployment, StatefulSet or Job). */
function firstPodSpec(all: any[]): { owner: any; spec: any } {
  const owner = all.find((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind) && o.spec?.template?.spec?.containers?.length);
  return { owner, spec: owner.spec.template.spec };
}

describe('the default chart', () => {
  test('has no broken reference: the Secret the bootstrap Job creates is announced by its annotation', () => {
    expect(crossObjectProblems(objects())).toEqual([]);
  });

  test('without that annotation, its runtime-created Secret is the only reference outside the output', () => {
    const all = objects();
    delete all.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-secrets-bootstrap-')).metadata.annotations[
      'airflow-cdk8s/creates-secret'
    ];
    const rules = new Set(crossObjectFindings(all).map((f) => f.message.match(/Secret "([^"]+)"/)?.[1]));
    expect([...rules]).toEqual(['airflow-secrets']);
    expect(crossObjectProblems(all, EXISTING)).toEqual([]);
  });

  test('has claims pinned to volumes, mounts, key refs, Services and RoleBindings for the rules to check', () => {
    const all = objects();
    expect(all.filter((o) => o.kind === 'PersistentVolumeClaim' && o.spec.volumeName).length).toBeGreaterThanOrEqual(3);
    expect(all.filter((o) => o.kind === 'Service').length).toBeGreaterThanOrEqual(2);
    expect(all.filter((o) => o.kind === 'RoleBinding').length).toBeGreaterThanOrEqual(1);
  });
});

describe('each rule fires on a corrupted copy', () => {
  test('claim pinned to a volume that is not in the output', () => {
    const all = objects();
    find(all, 'PersistentVolumeClaim', 'airflow-dags-claim').spec.volumeName = 'airflow-dag-volume';
    expect(crossObjectProblems(all, EXISTING)).toEqual([
      'PersistentVolumeClaim airflow-dags-claim: spec.volumeName: names PersistentVolume "airflow-dag-volume", which is not in the output: the claim would stay Pending',
    ]);
  });

  test('claim and volume with different storage classes', () => {
    const all = objects();
    find(all, 'PersistentVolume', 'airflow-dags-volume').spec.storageClassName = 'standard';
    expect(crossObjectProblems(all, EXISTING)).toEqual([
      'PersistentVolumeClaim airflow-dags-claim: spec.storageClassName: is "airflow-static" but PersistentVolume "airflow-dags-volume" has "standard": they never bind',
    ]);
  });

  test('claim asking for an access mode the volume does not offer', () => {
    const all = objects();
    find(all, 'PersistentVolume', 'airflow-logs-volume').spec.accessModes = ['ReadWriteOnce'];
    expect(crossObjectProblems(all, EXISTING)).toEqual([
      'PersistentVolumeClaim airflow-logs-claim: spec.accessModes: asks for ReadWriteMany, which PersistentVolume "airflow-logs-volume" does not offer (ReadWriteOnce)',
    ]);
  });

  test('claim larger than its volume', () => {
    const all = objects();
    find(all, 'PersistentVolumeClaim', 'airflow-data-claim').spec.resources.requests.storage = '50Gi';
    expect(crossObjectProblems(all, EXISTING)).toEqual([
      expect.stringMatching(/^PersistentVolumeClaim airflow-data-claim: spec.resources.requests.storage: requests 50Gi, more than the \S+ of PersistentVolume "airflow-data-volume": it never binds$/),
    ]);
  });

  test('volume reserved for another claim, and different volume modes', () => {
    const all = objects();
    const pv = find(all, 'PersistentVolume', 'airflow-dags-volume');
    pv.spec.claimRef.name = 'someone-else';
    pv.spec.volumeMode = 'Block';
    expect(crossObjectProblems(all, EXISTING)).toEqual([
      'PersistentVolumeClaim airflow-dags-claim: spec.volumeMode: is "Filesystem" but PersistentVolume "airflow-dags-volume" is "Block"',
      'PersistentVolumeClaim airflow-dags-claim: spec.volumeName: names PersistentVolume "airflow-dags-volume", but that volume is reserved for claim "airflow/someone-else"',
    ]);
  });

  test('volumeMount of a volume the pod spec does not declare', () => {
    const all = objects();
    const { owner, spec } = firstPodSpec(all);
    spec.containers[0].volumeMounts = [...(spec.containers[0].volumeMounts ?? []), { name: 'plugins', mountPath: '/opt/airflow/plugins' }];
    const problems = crossObjectProblems(all, EXISTING);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      new RegExp(`^${owner.kind} ${owner.metadata.name}: spec.template.spec.containers\\[0\\].volumeMounts\\[\\d+\\].name: mounts volume "plugins", which the pod spec does not declare \\(declared: .*\\)$`),
    );
  });

  test('volumeMount in the embedded worker pod template', () => {
    const all = objects();
    const pod = find(all, 'Pod');
    pod.spec.containers[0].volumeMounts.push({ name: 'nope', mountPath: '/nope' });
    expect(crossObjectProblems(all, EXISTING)).toEqual([expect.stringMatching(/^Pod \S+: spec.containers\[0\].volumeMounts\[\d+\].name: mounts volume "nope"/)]);
  });

  test('secretKeyRef to a Secret neither in the output nor declared existing', () => {
    const all = objects();
    const { spec } = firstPodSpec(all);
    spec.containers[0].env = [...(spec.containers[0].env ?? []), { name: 'X', valueFrom: { secretKeyRef: { name: 'airflow-secret', key: 'x' } } }];
    expect(crossObjectProblems(all, EXISTING)).toEqual([
      expect.stringMatching(/env\[\d+\].valueFrom.secretKeyRef.name: names Secret "airflow-secret", which is neither in the output nor declared as existing$/),
    ]);
    // Declared as existing: accepted.
    expect(crossObjectProblems(all, { existingSecrets: ['airflow-secrets', 'airflow-secret'] })).toEqual([]);
  });

  test('configMapKeyRef to a key the ConfigMap does not have', () => {
    const all = objects();
    const { spec } = firstPodSpec(all);
    spec.containers[0].env = [...(spec.containers[0].env ?? []), { name: 'X', valueFrom: { configMapKeyRef: { name: 'airflow-config', key: 'airflow.conf' } } }];
    expect(crossObjectProblems(all, EXISTING)).toEqual([
      expect.stringMatching(/configMapKeyRef.key: names key "airflow.conf" of ConfigMap "airflow-config", which has "airflow.cfg", /),
    ]);
  });

  test('pod volume from a claim that does not exist', () => {
    const all = objects();
    const { spec } = firstPodSpec(all);
    spec.volumes = [...(spec.volumes ?? []), { name: 'extra', persistentVolumeClaim: { claimName: 'airflow-plugins-claim' } }];
    expect(crossObjectProblems(all, EXISTING)).toEqual([
      expect.stringMatching(/volumes\[\d+\].persistentVolumeClaim.claimName: names PersistentVolumeClaim "airflow-plugins-claim", which is neither in the output nor declared as existing$/),
    ]);
  });

  test('Service that selects no pod template', () => {
    const all = objects();
    const svc = find(all, 'Service');
    svc.spec.selector = { ...svc.spec.selector, 'app.kubernetes.io/component': 'web-server' };
    expect(crossObjectProblems(all, EXISTING)).toEqual([
      expect.stringMatching(new RegExp(`^Service ${svc.metadata.name}: spec.selector: .*"web-server".* matches no pod template in the output: the Service would have no endpoints$`)),
    ]);
  });

  test('RoleBinding naming a ServiceAccount and a Role that do not exist', () => {
    const all = objects();
    const binding = find(all, 'RoleBinding', 'airflow-pod-launcher');
    binding.roleRef.name = 'airflow-pod-lancher';
    binding.subjects[0].name = 'airflow-schedular';
    expect(crossObjectProblems(all, EXISTING)).toEqual([
      'RoleBinding airflow-pod-launcher: roleRef.name: names Role "airflow-pod-lancher", which is not in the output in namespace "airflow"',
      'RoleBinding airflow-pod-launcher: subjects[0].name: names ServiceAccount "airflow/airflow-schedular", which is not in the output',
    ]);
  });

  test('pod template running as a ServiceAccount that does not exist', () => {
    const all = objects();
    const { owner, spec } = firstPodSpec(all);
    spec.serviceAccountName = 'airflow-nobody';
    expect(crossObjectProblems(all, EXISTING)).toEqual([
      `${owner.kind} ${owner.metadata.name}: spec.template.spec.serviceAccountName: names ServiceAccount "airflow-nobody", which is neither in the output nor declared as existing: the pod is never created`,
    ]);
  });
});
