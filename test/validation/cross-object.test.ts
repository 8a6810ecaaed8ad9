import { Chart, Testing } from 'cdk8s';
import * as k8s from '../../imports/k8s';
import { AirflowChart, GitSyncCredentials, GitSyncMode } from '../../lib';
import { EXISTING_SECRETS, find } from '../support';
import { crossObjectFindings, crossObjectProblems, synthesizedManifests, validationReport, withEmbeddedManifests } from '../../validation';

/** The Secret the bootstrap Job creates at deploy time (so it is never in the output). */
const EXISTING = { existingSecrets: ['airflow-secrets'] };

/** The default chart's objects, embedded worker pod template included, as JSON: synthesized once per file. */
let defaultObjects: string | undefined;

/** A fresh deep copy of the default chart's objects, embedded worker pod template included. */
function objects(): any[] {
  defaultObjects ??= JSON.stringify(withEmbeddedManifests(synthesizedManifests(new AirflowChart(Testing.app(), 'airflow'))).map((l) => l.manifest));
  return JSON.parse(defaultObjects);
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
    // Reported once, with every object that reads it (before issue #23, once per reference: 46 lines).
    const findings = crossObjectFindings(all);
    expect(findings.map((f) => [f.rule, f.subject])).toEqual([['missing-object', 'Secret "airflow-secrets" in namespace "airflow"']]);
    const readers = new Set(findings[0].readers!.map((r) => `${r.manifest.kind} ${r.manifest.metadata.name}`));
    expect(readers.size).toBeGreaterThanOrEqual(7); // the four Deployments, Postgres, db-migrate, create-user
    expect(findings[0].readers!.length).toBeGreaterThan(readers.size); // several env vars per pod, one line
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
      expect.stringMatching(
        /^Secret "airflow-secret" in namespace "airflow" is neither in the output, nor generated in the cluster by a Job of the output \(.*\), nor declared as existing \(existingSecrets\): the containers that read it do not start \(CreateContainerConfigError\)\. Did you mean "airflow-secrets"\? Read by 1 object: \S+ \S+ at spec\.template\.spec\.containers\[0\]\.env\[\d+\]\.valueFrom\.secretKeyRef\.name$/,
      ),
    ]);
    // Declared as existing: accepted.
    expect(crossObjectProblems(all, { existingSecrets: ['airflow-secrets', 'airflow-secret'] })).toEqual([]);
  });

  test('configMapKeyRef to a key the ConfigMap does not have', () => {
    const all = objects();
    const { spec } = firstPodSpec(all);
    spec.containers[0].env = [...(spec.containers[0].env ?? []), { name: 'X', valueFrom: { configMapKeyRef: { name: 'airflow-config', key: 'airflow.conf' } } }];
    expect(crossObjectProblems(all, EXISTING)).toEqual([
      expect.stringMatching(/^ConfigMap "airflow-config" in namespace "airflow" has no key "airflow.conf" \(it has "airflow.cfg", .*\): the containers that read it do not start \(CreateContainerConfigError\)\. Read by 1 object: .* at .*configMapKeyRef\.key$/),
    ]);
  });

  test('pod volume from a claim that does not exist', () => {
    const all = objects();
    const { spec } = firstPodSpec(all);
    spec.volumes = [...(spec.volumes ?? []), { name: 'extra', persistentVolumeClaim: { claimName: 'airflow-plugins-claim' } }];
    expect(crossObjectProblems(all, EXISTING)).toEqual([
      expect.stringMatching(
        /^PersistentVolumeClaim "airflow-plugins-claim" in namespace "airflow" is neither in the output nor declared as existing \(existingClaims\): the pods that mount it stay Pending\. Read by 1 object: .* at spec\.template\.spec\.volumes\[\d+\]\.persistentVolumeClaim\.claimName$/,
      ),
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
      `ServiceAccount "airflow-nobody" in namespace "airflow" is neither in the output nor declared as existing (existingServiceAccounts): the pods are never created. Read by 1 object: ${owner.kind} ${owner.metadata.name} at spec.template.spec.serviceAccountName`,
    ]);
  });
});

describe('every reference is checked, and a missing object is reported once with all its readers (issue #23 item 5)', () => {
  const REPO = 'https://github.com/org/dags.git';

  test('a git-sync credentials Secret (a projected volume source) that exists nowhere', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow', {
      gitSync: { repository: REPO, mode: GitSyncMode.SIDECARS, credentials: GitSyncCredentials.https({ passwordSecret: { name: 'dags-repo', key: 'token' } }) },
    });
    const report = validationReport(chart);
    expect(report).toEqual([
      expect.stringMatching(
        /^Secret "dags-repo" in namespace "airflow" is neither in the output, nor generated in the cluster by a Job of the output \(the secrets bootstrap Job, whose airflow-cdk8s\/creates-secret annotation names it\), nor declared as existing \(existingSecrets\): the pods that mount it stay ContainerCreating\. Read by \d+ objects: /,
      ),
    ]);
    // Every pod that syncs the DAGs is listed, with the field, the worker pod template included.
    for (const reader of [
      'airflow/airflow/triggerer/deployment (Deployment airflow-triggerer) at spec.template.spec.volumes[',
      'airflow/airflow/dag-processor/deployment (Deployment airflow-dag-processor) at spec.template.spec.volumes[',
      'in ConfigMap airflow-config data["pod_template_file.yaml"]) at spec.volumes[',
    ]) {
      expect(report[0]).toContain(reader);
    }
    expect(report[0]).toMatch(/\.projected\.sources\[0\]\.secret\.name/);
    expect(validationReport(chart, { existingSecrets: ['dags-repo'] })).toEqual([]);
  });

  test('imagePullSecrets and the Ingress TLS Secret', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow', {
      imagePullSecrets: ['regcred'],
      ingress: { host: 'airflow.example.com', tlsSecretName: 'airflow-tls' },
    });
    const report = validationReport(chart);
    expect(report).toEqual([
      expect.stringMatching(/^Secret "regcred" in namespace "airflow" .*: images of a private registry fail to pull \(ErrImagePull\)\. Read by \d+ objects: .*imagePullSecrets\[0\]\.name/),
      expect.stringMatching(/^Secret "airflow-tls" in namespace "airflow" .*: the Ingress serves its controller's default certificate\. Read by 1 object: \S+ \(Ingress airflow-api-server\) at spec\.tls\[0\]\.secretName$/),
    ]);
    // Every pod of the chart pulls with it, each listed once.
    const pods = Testing.synth(chart).filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind));
    expect(report[0]).toContain(`Read by ${pods.length + 1} objects:`); // and the worker pod template
    expect(validationReport(chart, { existingSecrets: ['regcred', 'airflow-tls'] })).toEqual([]);
  });

  test('Secrets you manage: each missing one once, with every pod that reads it (46 lines before: 33 for vault-airflow, 12 for pg-credentials)', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow', { existingSecrets: EXISTING_SECRETS });
    const report = validationReport(chart);
    expect(report.map((l) => l.slice(0, l.indexOf(' is neither')))).toEqual([
      'Secret "pg-credentials" in namespace "airflow"',
      'Secret "vault-airflow" in namespace "airflow"',
      'Secret "airflow-admin" in namespace "airflow"',
    ]);
    const db = report[0];
    expect(db).toContain('airflow/metadata-db/statefulset (StatefulSet airflow-postgres) at spec.template.spec.containers[0].env[');
    // Postgres, the four Deployments and the two Jobs; each object once, with all its fields.
    expect(db).toContain('Read by 7 objects: ');
    expect(db).toMatch(/\(Deployment airflow-scheduler\) at spec\.template\.spec\.initContainers\[\d\]\.env\[\d\]\.valueFrom\.secretKeyRef\.name, spec\.template\.spec\.containers\[0\]\.env\[/);
    // Declared: nothing.
    expect(validationReport(chart, { existingSecrets: ['vault-airflow', 'pg-credentials', 'airflow-admin'] })).toEqual([]);
  });

  test('the generated Secret exists only where the chart generates it, under its own name', () => {
    // Generated under a custom name: the references to it pass, and nothing else is taken as generated.
    expect(validationReport(new AirflowChart(Testing.app(), 'airflow', { existingSecrets: undefined }))).toEqual([]);
    const app = Testing.app();
    const mine = new Chart(app, 'mine', { namespace: 'airflow' });
    new k8s.KubePod(mine, 'pod', {
      metadata: { name: 'reader' },
      spec: { containers: [{ name: 'c', image: 'busybox:1.36', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'airflow-secrets', key: 'fernet-key' } } }] }] },
    });
    // No chart generates "airflow-secrets" in this app: the reference is missing.
    expect(validationReport(app)).toEqual([expect.stringMatching(/^Secret "airflow-secrets" in namespace "airflow" is neither in the output/)]);
    // The chart in another namespace generates it there, not here.
    new AirflowChart(app, 'other', { namespace: 'other' });
    expect(validationReport(app)).toEqual([expect.stringMatching(/^Secret "airflow-secrets" in namespace "airflow" is neither in the output/)]);
  });

  test('a name one or two edits from an existing one gets "did you mean"', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow', { imagePullSecrets: ['regcreds'] });
    expect(validationReport(chart, { existingSecrets: ['regcred'] })).toEqual([expect.stringMatching(/\. Did you mean "regcred"\? Read by /)]);
  });

  test('the options are checked: an unknown one is refused with "did you mean", a name list must be a list', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow');
    expect(() => validationReport(chart, { existingSecret: ['vault-db'] } as any)).toThrow(
      'validationReport: property "existingSecret" received ["vault-db"]; allowed: a property of AirflowManifestValidation ' +
        '(existingClaims, existingConfigMaps, existingSecrets, existingServiceAccounts, keepConstructMetadata). Did you mean "existingSecrets"?',
    );
    expect(() => validationReport(chart, { existingSecrets: 'vault-db' } as any)).toThrow(
      'validationReport: property "existingSecrets" received "vault-db"; allowed: a list of object names, such as ["my-secret"] (in YAML, one "- my-secret" per line).',
    );
  });
});
