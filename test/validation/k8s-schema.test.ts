import { ApiObject, Chart, JsonPatch, Testing } from 'cdk8s';
import { AirflowChart } from '../../lib';
import {
  kubernetesModelsErrors,
  kubernetesSchemaProblems,
  synthesizedManifests,
  validateManifests,
  validationReport,
} from '../../validation';

/** The Secret the bootstrap Job creates at deploy time (so it is never in the output). */
const EXISTING = { existingSecrets: ['airflow-secrets'] };

function defaultChart(): AirflowChart {
  return new AirflowChart(Testing.app(), 'airflow');
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value));
}

describe('the default chart', () => {
  test('every synthesized object matches the Kubernetes 1.28 schema, with no unknown field', () => {
    const manifests = synthesizedManifests(defaultChart());
    expect(manifests.length).toBeGreaterThan(10);
    const problems = manifests.flatMap((m) => kubernetesSchemaProblems(m.manifest).map((p) => `${m.constructPath}: ${p.field}: ${p.message}`));
    expect(problems).toEqual([]);
  });

  test('the whole report (schema, embedded objects, cross-object) is empty', () => {
    expect(validationReport(defaultChart(), EXISTING)).toEqual([]);
  });

  test('objects embedded in ConfigMaps (the worker pod template) are checked too', () => {
    const chart = defaultChart();
    const configMaps = synthesizedManifests(chart).filter((m) => m.manifest.kind === 'ConfigMap');
    const embedded = Object.keys(configMaps.find((m) => m.manifest.data?.['pod_template_file.yaml'])?.manifest.data ?? {});
    expect(embedded).toContain('pod_template_file.yaml');
    const cm = clone(configMaps.find((m) => m.manifest.data['pod_template_file.yaml'])!);
    cm.manifest.data['pod_template_file.yaml'] = cm.manifest.data['pod_template_file.yaml'].replace(/\bcontainers:/, 'containerz:');
    const lines = validateManifests([cm]).map((f) => f.line);
    expect(lines).toEqual(
      expect.arrayContaining([expect.stringMatching(/\(Pod .* in ConfigMap airflow-config data\["pod_template_file.yaml"\]\): spec.containerz: unknown field \(did you mean containers\?\)/)]),
    );
  });
});

describe('a corrupted object is caught, naming its construct path', () => {
  test('a misspelled field (the strict walk: the plain schema would accept it)', () => {
    // The L1 classes drop fields they do not know when they render (an override with a typo vanishes),
    // so the typo is made in the synthesized object, as a hand edit or a raw ApiObject would make it.
    const manifests = synthesizedManifests(defaultChart());
    const index = manifests.findIndex((m) => m.manifest.kind === 'PersistentVolumeClaim' && m.manifest.metadata.name === 'airflow-dags-claim');
    const claim = clone(manifests[index]);
    claim.manifest.spec.volumName = claim.manifest.spec.volumeName;
    delete claim.manifest.spec.volumeName;
    const lines = validateManifests([...manifests.slice(0, index), claim, ...manifests.slice(index + 1)], EXISTING).map((f) => f.line);
    expect(lines).toEqual([
      'airflow/volumes/dags/claim (PersistentVolumeClaim airflow-dags-claim): spec.volumName: unknown field (did you mean volumeName?)',
    ]);
    // The package's own validation accepts the unknown field: that is why the walk exists.
    expect(kubernetesModelsErrors(claim.manifest)).toEqual([]);
  });

  test('a field added by a JSON patch to a raw ApiObject', () => {
    const chart = new Chart(Testing.app(), 'c', { namespace: 'airflow' });
    const sa = new ApiObject(chart, 'Account', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'a' } });
    sa.addJsonPatch(JsonPatch.add('/automountServiceAccountTokn', false));
    expect(validationReport(chart)).toEqual([
      'c/Account (ServiceAccount a): automountServiceAccountTokn: unknown field (did you mean automountServiceAccountToken?)',
    ]);
  });

  test('a wrong type, a bad quantity, an enum outside its values, a missing required field', () => {
    const chart = new Chart(Testing.app(), 'c', { namespace: 'airflow' });
    const pv = new ApiObject(chart, 'Volume', {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'v', labels: { anything: 'goes-here' } },
      spec: {
        capacity: { storage: '5 GB' },
        accessModes: ['ReadWriteMany'],
        hostPath: { path: '/data/v', type: 'DirectoryOrCreat' },
        persistentVolumeReclaimPolicy: 'Retain',
      },
    });
    const svc = new ApiObject(chart, 'Service', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's' },
      spec: { ports: [{ port: '8080' }] },
    });
    const deploy = new ApiObject(chart, 'Deployment', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd' },
      spec: { replicas: 'two', selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ image: 'x' }] } } },
    });
    const lines = validationReport(chart);
    expect(lines).toEqual(
      expect.arrayContaining([
        'c/Volume (PersistentVolume v): spec.capacity.storage: received "5 GB"; must be a number or a quantity string ("512Mi")',
        'c/Volume (PersistentVolume v): spec.hostPath.type: received "DirectoryOrCreat"; must be one of "", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket" (did you mean DirectoryOrCreate?)',
        'c/Service (Service s): spec.ports[0].port: received "8080" (string); must be an integer',
        'c/Deployment (Deployment d): spec.replicas: received "two" (string); must be an integer',
        'c/Deployment (Deployment d): spec.template.spec.containers[0]: required field "name" is missing',
      ]),
    );
    // Labels are a map (additionalProperties): any key is allowed, so none is reported as unknown.
    expect(lines.filter((l) => l.includes('metadata.labels'))).toEqual([]);
    // The package's own (ajv) validation agrees that each of these objects is invalid.
    for (const o of [pv, svc, deploy]) expect(kubernetesModelsErrors(o.toJson()).length).toBeGreaterThan(0);
  });

  test('a kind the Kubernetes schemas do not have', () => {
    const manifest = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'x' }, spec: {} };
    expect(kubernetesSchemaProblems(manifest)).toEqual([
      { field: 'kind', message: 'example.com/v1 Widget is not a kind of the Kubernetes 1.28 API schemas (custom resources are not checked)' },
    ]);
    expect(kubernetesSchemaProblems('text')).toEqual([{ field: '', message: expect.stringMatching(/not a Kubernetes object/) }]);
    expect(kubernetesSchemaProblems({ kind: 'Pod' })).toEqual([{ field: '', message: expect.stringMatching(/apiVersion and kind/) }]);
  });
});

describe('the fast check agrees with the package', () => {
  // The plugin interprets the package's schemas itself (ajv compiles them in 0.7-1.3 s per kind, too slow
  // for every synth); on the default chart's objects both must accept, and on broken copies both reject.
  test('on the default objects of a few kinds, and on broken copies of them', () => {
    const manifests = synthesizedManifests(defaultChart()).map((m) => m.manifest);
    const sample = ['PersistentVolumeClaim', 'Service', 'ServiceAccount'].map((k) => manifests.find((m) => m.kind === k)).filter(Boolean);
    expect(sample.length).toBe(3);
    for (const m of sample) {
      expect(kubernetesModelsErrors(m)).toEqual([]);
      expect(kubernetesSchemaProblems(m)).toEqual([]);
      const broken = clone(m);
      broken.metadata.name = 42;
      expect(kubernetesModelsErrors(broken).length).toBeGreaterThan(0);
      expect(kubernetesSchemaProblems(broken)).toEqual([{ field: 'metadata.name', message: 'received 42 (integer); must be a string' }]);
    }
  });
});
