// The cdk8s validation plugin (validation/manifest-validation.ts) driven by the CLI's own ValidationContext.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ApiObject, App, Chart } from 'cdk8s';
import { AirflowChart } from '../../lib';
import { AirflowManifestValidation } from '../../validation/manifest-validation';

/** The Secret the bootstrap Job creates at deploy time (so it is never in the output). */
const EXISTING = { existingSecrets: ['airflow-secrets'] };

describe('the cdk8s validation plugin', () => {
  // The CLI's own ValidationContext and metadata loader, on manifests an App really wrote.
  // cdk8s-cli's package exports do not expose it, so by path.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cli = require(path.resolve(__dirname, '..', '..', 'node_modules', 'cdk8s-cli', 'lib', 'plugins', 'validation.js'));

  function synthTo(build: (app: App) => void): string {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'airflow-validation-'));
    const app = new App({ outdir, recordConstructMetadata: true });
    build(app);
    app.synth();
    return outdir;
  }

  async function run(outdir: string, properties: object) {
    const manifests = fs.readdirSync(outdir).filter((f) => f.endsWith('.yaml')).map((f) => path.join(outdir, f));
    const metadata = cli.ValidationPlugin.loadConstructMetadata(path.join(outdir, 'construct-metadata.json'));
    const context = new cli.ValidationContext(manifests, 'airflow-validation', '0.1.0', metadata, false);
    const logs: string[] = [];
    context.logger.log = (m: string) => logs.push(m);
    await new AirflowManifestValidation(properties).validate(context);
    return { report: context.report.toJson(), success: context.report.success, logs };
  }

  test('passes the default chart and removes construct-metadata.json from the output', async () => {
    const outdir = synthTo((app) => new AirflowChart(app, 'airflow'));
    const { success, report, logs } = await run(outdir, EXISTING);
    expect(report.violations).toEqual([]);
    expect(success).toBe(true);
    expect(logs.join('\n')).toMatch(/objects match the Kubernetes 1.28 schemas/);
    expect(fs.existsSync(path.join(outdir, 'construct-metadata.json'))).toBe(false);
  });

  test('fails a broken app with the construct path, field and suggestion', async () => {
    const outdir = synthTo((app) => {
      const chart = new Chart(app, 'broken', { namespace: 'airflow' });
      new ApiObject(chart, 'Claim', {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'airflow-dags-claim' },
        spec: { accessModes: ['ReadWriteMany'], volumName: 'airflow-dags-volume', resources: { requests: { storage: '1Gi' } } },
      });
    });
    const { success, report, logs } = await run(outdir, { keepConstructMetadata: true });
    expect(success).toBe(false);
    const line = 'broken/Claim (PersistentVolumeClaim airflow-dags-claim): spec.volumName: unknown field (did you mean volumeName?)';
    expect(logs.join('\n')).toContain(line);
    expect(report.violations).toEqual([
      expect.objectContaining({
        ruleName: 'Kubernetes 1.28 schema: spec.volumName: unknown field (did you mean volumeName?)',
        violatingConstructs: [expect.objectContaining({ constructPath: 'broken/Claim', resourceName: 'airflow-dags-claim', locations: [line] })],
      }),
    ]);
    expect(fs.existsSync(path.join(outdir, 'construct-metadata.json'))).toBe(true);
  });

  test('refuses a property it does not know, with "did you mean", and checks nothing then (issue #23 item 5)', async () => {
    const outdir = synthTo((app) => new AirflowChart(app, 'airflow'));
    // `existingSecret:` in cdk8s.yaml used to be ignored.
    const { success, report, logs } = await run(outdir, { existingSecret: ['vault-db'], keepConstructMetadata: 'yes' });
    expect(success).toBe(false);
    const lines = [
      'AirflowManifestValidation (its properties in cdk8s.yaml): property "existingSecret" received ["vault-db"]; allowed: a property of ' +
        'AirflowManifestValidation (existingClaims, existingConfigMaps, existingSecrets, existingServiceAccounts, keepConstructMetadata). ' +
        'Did you mean "existingSecrets"?',
      'AirflowManifestValidation (its properties in cdk8s.yaml): property "keepConstructMetadata" received "yes"; allowed: true or false.',
    ];
    expect(logs.join('\n')).toBe(
      ['airflow-cdk8s validation: 2 problem(s) in its own configuration; no object was checked:', ...lines.map((l) => `  ${l}`)].join('\n'),
    );
    expect(report.violations.map((v: any) => v.recommendation)).toEqual(lines);
    expect(fs.existsSync(path.join(outdir, 'construct-metadata.json'))).toBe(false);
  });

  test('a missing Secret is one violation listing every object that reads it (issue #23 item 5)', async () => {
    const outdir = synthTo((app) => new AirflowChart(app, 'airflow', { imagePullSecrets: ['regcred'] }));
    const { success, report, logs } = await run(outdir, {});
    expect(success).toBe(false);
    expect(report.violations).toHaveLength(1);
    const [violation] = report.violations;
    expect(violation.ruleName).toMatch(/^A Secret, ConfigMap, claim or ServiceAccount that exists nowhere: Secret "regcred" in namespace "airflow" is neither in the output, .*\(ErrImagePull\)\.$/);
    // One resource per object that reads it, each with its construct path and field.
    const scheduler = violation.violatingConstructs.find((c: any) => c.resourceName === 'airflow-scheduler');
    expect(scheduler).toEqual(expect.objectContaining({ locations: ['spec.template.spec.imagePullSecrets[0].name'] }));
    expect(violation.violatingConstructs.length).toBeGreaterThanOrEqual(8);
    expect(logs.join('\n')).toMatch(/^airflow-cdk8s validation: 1 problem\(s\):\n {2}Secret "regcred" in namespace "airflow" .* Read by 10 objects: .*; StatefulSet airflow-postgres at spec\.template\.spec\.imagePullSecrets\[0\]\.name; /);
  });
});
