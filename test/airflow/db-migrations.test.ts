// DbMigrations: the Job that runs airflow db migrate, named so that a new version or image is a new Job.
import { airflowChart } from '../support';

describe('database migrations Job', () => {
  const job = (manifests: any[]) => manifests.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-db-migrate-'));

  test('is named from the Airflow version and a hash of its pod spec, runs airflow db migrate, no TTL', () => {
    const { manifests } = airflowChart();
    const j = job(manifests);
    expect(j.metadata.name).toMatch(/^airflow-db-migrate-3-2-2-[0-9a-f]{8}$/);
    expect(j.spec.ttlSecondsAfterFinished).toBeUndefined();
    expect(j.metadata.annotations?.['helm.sh/hook']).toBeUndefined();
    const spec = j.spec.template.spec;
    expect(spec.containers[0].args).toEqual(['bash', '-c', 'exec airflow db migrate']);
    expect(spec.initContainers.map((c: any) => c.name)).toEqual(['wait-for-db']);
    expect(spec.serviceAccountName).toBe('airflow-db-migrate');
  });

  test('the same inputs give the same name: applying the YAML again changes nothing', () => {
    expect(job(airflowChart().manifests).metadata.name).toBe(job(airflowChart().manifests).metadata.name);
  });

  test('a new Airflow version is a new Job', () => {
    const v3 = job(airflowChart().manifests).metadata.name;
    const v2 = job(airflowChart({ image: 'apache/airflow:2.11.0' }).manifests).metadata.name;
    const v310 = job(airflowChart({ image: 'apache/airflow:3.1.0' }).manifests).metadata.name;
    expect(v2).toMatch(/^airflow-db-migrate-2-11-0-[0-9a-f]{8}$/);
    expect(v310).toMatch(/^airflow-db-migrate-3-1-0-[0-9a-f]{8}$/);
    expect(new Set([v3, v2, v310]).size).toBe(3);
  });

  test('a new image with the same version (a rebuilt custom image tag) is a new Job too', () => {
    const a = job(airflowChart({ image: 'my-airflow:v1', airflowVersion: '3.1.3' }).manifests).metadata.name;
    const b = job(airflowChart({ image: 'my-airflow:v2', airflowVersion: '3.1.3' }).manifests).metadata.name;
    expect(a.slice(0, -9)).toBe(b.slice(0, -9));
    expect(a).not.toBe(b);
  });

  test('a user config change does not re-run migrations', () => {
    const a = job(airflowChart().manifests).metadata.name;
    const b = job(airflowChart({ config: { core: { default_task_retries: 3 } } }).manifests).metadata.name;
    expect(a).toBe(b);
  });
});
