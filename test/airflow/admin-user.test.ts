// AdminUser: the Job that creates the first admin user with FAB.
import { airflowChart, airflowError } from '../support';

describe('admin user', () => {
  test('a Job creates it with FAB, the password read from the Secret, after the migrations', () => {
    const { manifests, airflow } = airflowChart();
    const job = manifests.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-create-user-'));
    expect(job.metadata.name).toBe(airflow.adminUser!.jobName);
    const spec = job.spec.template.spec;
    expect(spec.initContainers.map((c: any) => c.name)).toEqual(['wait-for-db', 'wait-for-airflow-migrations']);
    const c = spec.containers[0];
    expect(c.args[2]).toMatch(/^exec airflow users create --role Admin --username "\$AIRFLOW_ADMIN_USERNAME" .*--password "\$AIRFLOW_ADMIN_PASSWORD"$/);
    expect(c.args[2]).not.toContain('$(');
    expect(c.env).toContainEqual({ name: 'AIRFLOW_ADMIN_USERNAME', value: 'admin' });
    expect(c.env).toContainEqual({
      name: 'AIRFLOW_ADMIN_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'airflow-secrets', key: 'admin-password' } },
    });
  });

  test('can be left out, and its fields are checked', () => {
    const { manifests, airflow } = airflowChart({ createAdminUser: false });
    expect(airflow.adminUser).toBeUndefined();
    expect(manifests.filter((o) => o.metadata.name.startsWith('airflow-create-user'))).toEqual([]);
    expect(airflowError({ adminEmail: 'nope' }).message).toMatch(/AdminUser at "test\/airflow\/admin-user": property "email" received "nope"/);
  });
});
