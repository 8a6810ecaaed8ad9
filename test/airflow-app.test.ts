// AirflowApp (lib/airflow-app.ts): the default app's files by box (issue #23 item 6).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ApiObject, App, Chart, Testing, YamlOutputType } from 'cdk8s';
import { parseAllDocuments } from 'yaml';
import { AirflowApp, AirflowChart, AirflowChartFile } from '../lib';
import { EXISTING_SECRETS } from './support';

const outdirs: string[] = [];
afterAll(() => outdirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** Synthesizes what `build` adds to an app of `kind` into a temp dir: its files and their objects. */
function synthFiles(build: (app: App) => void, kind: 'AirflowApp' | 'App' = 'AirflowApp'): Record<string, any[]> {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'airflow-app-'));
  outdirs.push(outdir);
  const app = kind === 'AirflowApp' ? new AirflowApp({ outdir }) : new App({ outdir });
  build(app);
  app.synth();
  return Object.fromEntries(
    fs.readdirSync(outdir).sort().map((f) => [f, parseAllDocuments(fs.readFileSync(path.join(outdir, f), 'utf8')).map((d) => d.toJSON())]),
  );
}

const key = (o: any) => `${o.kind}/${o.metadata.name}`;

describe('the default app (main.ts)', () => {
  const files = synthFiles((app) => new AirflowChart(app, 'airflow'));

  test('three files, named so that they sort in apply order: storage, database, Airflow', () => {
    expect(Object.keys(files)).toEqual(['airflow-0-storage.k8s.yaml', 'airflow-1-database.k8s.yaml', 'airflow-2-airflow.k8s.yaml']);
    expect(Object.values(AirflowChartFile)).toEqual(['0-storage', '1-database', '2-airflow']);
  });

  test('the objects are those of the chart, each once, in the order of the one-file synth', () => {
    const one = Testing.synth(new AirflowChart(Testing.app(), 'airflow'));
    const split = Object.values(files).flat();
    expect(split.map(key).sort()).toEqual(one.map(key).sort());
    expect(split).toEqual(expect.arrayContaining(one));
    // within each file the one-file order is kept
    for (const objects of Object.values(files)) {
      const order = objects.map((o) => one.findIndex((x) => key(x) === key(o)));
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
  });

  test('the storage file: the Namespace first, then the dags, logs and data volumes with their claims, nothing else', () => {
    expect(files['airflow-0-storage.k8s.yaml'].map(key)).toEqual([
      'Namespace/airflow',
      ...['dags', 'logs', 'data'].flatMap((v) => [`PersistentVolume/airflow-${v}-volume`, `PersistentVolumeClaim/airflow-${v}-claim`]),
    ]);
  });

  test('the database file: the secrets bootstrap, then Postgres with its volumes; the Airflow file: everything else', () => {
    const database = files['airflow-1-database.k8s.yaml'].map(key);
    expect(database.filter((k) => !/secrets-bootstrap|postgres/.test(k))).toEqual([]);
    expect(database).toEqual(expect.arrayContaining(['StatefulSet/airflow-postgres', 'Service/airflow-postgres', 'Role/airflow-secrets-bootstrap']));
    expect(database.findIndex((k) => k.startsWith('Job/airflow-secrets-bootstrap-'))).toBeLessThan(database.indexOf('StatefulSet/airflow-postgres'));
    const airflow = files['airflow-2-airflow.k8s.yaml'].map(key);
    expect(airflow.filter((k) => /postgres|Namespace|PersistentVolume/.test(k))).toEqual([]);
    expect(airflow).toEqual(expect.arrayContaining(['ConfigMap/airflow-config', 'Deployment/airflow-scheduler']));
  });
});

test('a plain cdk8s App still writes one file per chart (the public API of AirflowChart is unchanged)', () => {
  const files = synthFiles((app) => new AirflowChart(app, 'airflow'), 'App');
  expect(Object.keys(files)).toEqual(['airflow.k8s.yaml']);
});

test('two deployments and a chart of your own: each AirflowChart split, the other chart as App writes it', () => {
  const files = synthFiles((app) => {
    new AirflowChart(app, 'team-a', { namespace: 'team-a' });
    new AirflowChart(app, 'team-b', { namespace: 'team-b', createNamespace: false, existingSecrets: EXISTING_SECRETS });
    new ApiObject(new Chart(app, 'extra'), 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'extra' } });
  });
  expect(Object.keys(files)).toEqual([
    'extra.k8s.yaml',
    'team-a-0-storage.k8s.yaml',
    'team-a-1-database.k8s.yaml',
    'team-a-2-airflow.k8s.yaml',
    'team-b-0-storage.k8s.yaml',
    'team-b-1-database.k8s.yaml',
    'team-b-2-airflow.k8s.yaml',
  ]);
  // without its Namespace, team-b's storage file holds the volumes and claims only
  expect(files['team-b-0-storage.k8s.yaml'].map((o) => o.kind)).not.toContain('Namespace');
  expect(files['extra.k8s.yaml'].map(key)).toEqual(['ConfigMap/extra']);
});

test('another yamlOutputType is written as App writes it: the user chose those files', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'airflow-app-'));
  outdirs.push(outdir);
  const app = new AirflowApp({ outdir, yamlOutputType: YamlOutputType.FILE_PER_APP });
  new AirflowChart(app, 'airflow');
  app.synth();
  expect(fs.readdirSync(outdir)).toEqual(['app.k8s.yaml']);
});
