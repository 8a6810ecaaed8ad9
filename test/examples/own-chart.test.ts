import * as fs from 'fs';
import * as path from 'path';
import { podsOf } from '../support';

/** The README's "own chart" example is examples/own-chart.ts, word for word, and it synthesizes. */
const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
const example = fs.readFileSync(path.join(__dirname, '..', '..', 'examples', 'own-chart.ts'), 'utf8');

test('the README shows examples/own-chart.ts (importing the package instead of ../lib)', () => {
  const block = /<!-- example:own-chart -->\n```ts\n([\s\S]*?)```/.exec(readme);
  expect(block).not.toBeNull();
  expect(block![1]).toBe(example.replace("from '../lib'", "from 'airflow-cdk8s'"));
});

test('the example synthesizes: storage-class claims, no Postgres, the external host in the connection', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { app } = require('../../examples/own-chart');
  const objects: any[] = app.charts[0].toJson();
  const kinds = objects.map((o) => o.kind);
  expect(kinds).not.toContain('PersistentVolume');
  // no Postgres (the database is external); the one StatefulSet is the Celery broker's Redis
  expect(objects.filter((o) => o.kind === 'StatefulSet').map((o) => o.metadata.name)).toEqual(['airflow-redis']);
  const claims = objects.filter((o) => o.kind === 'PersistentVolumeClaim');
  expect(claims.map((c) => [c.metadata.name, c.spec.storageClassName])).toEqual([
    ['airflow-dags-claim', 'efs-sc'],
    ['airflow-logs-claim', 'efs-sc'],
    ['airflow-plugins-claim', 'efs-sc'],
  ]);
  const scheduler = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'airflow-scheduler');
  // The features added from the chart: Celery workers (and their executor), the log groomer beside the scheduler.
  expect(objects.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name)).toContain('airflow-celery-worker');
  expect(scheduler.spec.template.spec.containers.map((c: any) => c.name)).toEqual(['scheduler', 'log-groomer']);
  const conn = scheduler.spec.template.spec.containers[0].env.find((e: any) => e.name === 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN');
  expect(conn.value).toBe(
    'postgresql://airflow:$(AIRFLOW_DB_PASSWORD)@airflow.abc123.eu-west-1.rds.amazonaws.com:5432/airflow?sslmode=require',
  );
});

test("the image and the chart-wide pod settings given to the control plane reach every pod, the bootstrap Job's included", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { app } = require('../../examples/own-chart');
  const objects: any[] = app.charts[0].toJson();
  const pods = podsOf(objects);
  expect(pods.map((p) => p.object)).toEqual(expect.arrayContaining([expect.stringMatching(/^Job\/airflow-secrets-bootstrap-/), 'StatefulSet/airflow-redis']));
  for (const pod of pods) {
    expect([pod.object, pod.spec.imagePullSecrets, pod.spec.nodeSelector]).toEqual([pod.object, [{ name: 'regcred' }], { pool: 'airflow' }]);
  }
  const images = new Set(pods.flatMap((p) => [...(p.spec.initContainers ?? []), ...p.spec.containers].map((c: any) => c.image)));
  expect([...images].filter((i) => i.startsWith('apache/airflow'))).toEqual([]);
  const bootstrap = objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-secrets-bootstrap-'));
  expect(bootstrap.spec.template.spec.containers[0].image).toBe('registry.example.com/data/airflow:3.1.3');
});
