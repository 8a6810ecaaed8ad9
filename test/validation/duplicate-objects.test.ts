// Two objects of an app that are one object of the cluster (issue #20 item 5): the validation reports each,
// whether the app was built by the library or by hand; the library's own refusal is in
// test/whole-chart/composition.test.ts ("two Airflow deployments in one namespace").
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ApiObject, App, Chart, Testing } from 'cdk8s';
import { AirflowChart } from '../../lib';
import { duplicateObjectFindings, validateManifests, validationReport } from '../../validation';
import { AirflowManifestValidation } from '../../validation/manifest-validation';

const cm = (name: string, namespace?: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...(namespace ? { namespace } : {}) }, data: {} });
const pv = (name: string, namespace?: string) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: { name, ...(namespace ? { namespace } : {}) },
  spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: `/data/${name}` } },
});

describe('duplicate objects', () => {
  test('a namespaced object is one per kind, namespace and name', () => {
    const findings = duplicateObjectFindings([
      { manifest: cm('airflow-config', 'a'), constructPath: 'one/config' },
      { manifest: cm('airflow-config', 'b'), constructPath: 'two/config' }, // another namespace: another object
      { manifest: cm('airflow-config', 'a'), constructPath: 'three/config' },
    ]);
    expect(findings.map((f) => [f.rule, f.line])).toEqual([
      [
        'duplicate-object',
        'three/config (ConfigMap airflow-config): metadata.name: ConfigMap a/airflow-config is made twice: "one/config" makes it too; ' +
          'applied to one cluster, one overwrites the other',
      ],
    ]);
  });

  test('a cluster-scoped object is one per kind and name, whatever namespace the YAML gives it', () => {
    const findings = duplicateObjectFindings([
      { manifest: pv('v', 'a'), constructPath: 'one/pv' },
      { manifest: pv('v', 'b'), constructPath: 'two/pv' },
      { manifest: cm('v', 'a'), constructPath: 'one/cm' }, // another kind
    ]);
    expect(findings.map((f) => f.message)).toEqual([
      'PersistentVolume v is made twice: "one/pv" makes it too; applied to one cluster, one overwrites the other',
    ]);
  });

  test('validateManifests reports them (objects embedded in ConfigMaps are not objects of the cluster)', () => {
    const withTemplate = (namespace: string) => ({
      ...cm('airflow-config', namespace),
      data: { 'pod_template_file.yaml': 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: worker\nspec:\n  containers:\n    - name: base\n      image: x\n' },
    });
    expect(validateManifests([{ manifest: withTemplate('a') }, { manifest: withTemplate('b') }]).map((f) => f.rule)).toEqual([]);
    expect(validateManifests([{ manifest: withTemplate('a') }, { manifest: withTemplate('a') }]).map((f) => f.rule)).toEqual(['duplicate-object']);
  });

  test('two Airflow deployments composed into one namespace by hand: every shared object is reported', () => {
    // createNamespace: false, so that the Namespace itself is not one of them; the library refuses this app at
    // synth (composition.test.ts), the report is for YAML that did not come from it.
    const app = Testing.app();
    new AirflowChart(app, 'a', { namespace: 'team', createNamespace: false, namePrefix: 'a', hostRoot: '/data/a' });
    new AirflowChart(app, 'b', { namespace: 'team', createNamespace: false, namePrefix: 'b', hostRoot: '/data/b' });
    const report = validationReport(app);
    // 4 Deployments, 2 Services, 9 ServiceAccounts, 2 Roles, 2 RoleBindings, the ConfigMap, the StatefulSet, the secrets
    // bootstrap Job and 5 claims: every namespaced object is airflow-* in every namespace (one naming rule), so namePrefix,
    // which names the cluster-scoped volumes only, tells none of them apart
    expect(report.length).toBe(30);
    expect(report).toEqual(
      expect.arrayContaining([
        'b/airflow/configuration/config-map (ConfigMap airflow-config): metadata.name: ConfigMap team/airflow-config is made twice: ' +
          '"a/airflow/configuration/config-map" makes it too; applied to one cluster, one overwrites the other',
        expect.stringMatching(/^b\/airflow\/scheduler\/deployment \(Deployment airflow-scheduler\): .* "a\/airflow\/scheduler\/deployment" makes it too/),
        expect.stringMatching(/^b\/airflow\/pod-launcher\/role \(Role airflow-pod-launcher\): /),
      ]),
    );
    expect(report.join('\n')).toMatch(/StatefulSet airflow-postgres\)/);
    expect(report.join('\n')).toMatch(/PersistentVolumeClaim airflow-dags-claim\)/);
    // The names namePrefix changes (the volumes) are not among them.
    expect(report.join('\n')).not.toMatch(/PersistentVolume /);
  });

  test('the cdk8s plugin fails on them, across the manifest files of the app', async () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'airflow-duplicates-'));
    const app = new App({ outdir, recordConstructMetadata: true });
    for (const id of ['one', 'two']) {
      const chart = new Chart(app, id, { namespace: 'team', disableResourceNameHashes: true });
      new ApiObject(chart, 'config', cm('airflow-config'));
    }
    app.synth();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const cli = require(path.resolve(__dirname, '..', '..', 'node_modules', 'cdk8s-cli', 'lib', 'plugins', 'validation.js'));
    const manifests = fs.readdirSync(outdir).filter((f) => f.endsWith('.yaml')).sort().map((f) => path.join(outdir, f));
    expect(manifests.length).toBe(2);
    const metadata = cli.ValidationPlugin.loadConstructMetadata(path.join(outdir, 'construct-metadata.json'));
    const context = new cli.ValidationContext(manifests, 'airflow-validation', '0.1.0', metadata, false);
    const logs: string[] = [];
    context.logger.log = (m: string) => logs.push(m);
    await new AirflowManifestValidation({}).validate(context);
    expect(context.report.success).toBe(false);
    expect(logs.join('\n')).toContain(
      `ConfigMap airflow-config: metadata.name: ConfigMap team/airflow-config is made twice: ${manifests[0]} makes it too`,
    );
  });
});
