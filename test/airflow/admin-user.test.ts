// AdminUser: the Job that creates the first admin user with FAB.
import { execFileSync } from 'child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { CREATE_USER_SCRIPT } from '../../lib/airflow/admin-user';
import { airflowChart, airflowError } from '../support';

describe('the admin password never is on a command line (ps, /proc/<pid>/cmdline)', () => {
  // The Job's script, run by bash with a stand-in `airflow` that records its arguments and its stdin: FAB's
  // `users create` without --password reads it twice with getpass, which reads stdin without a terminal.
  const password = 'S3cret pass%s \'"$(x)';
  const dir = mkdtempSync(join(tmpdir(), 'create-user-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'airflow'), '#!/bin/bash\nprintf "%s\\n" "$@" > "$RECORD/argv"\ncat > "$RECORD/stdin"\n');
  chmodSync(join(dir, 'airflow'), 0o755);
  execFileSync('bash', ['-c', CREATE_USER_SCRIPT], {
    env: {
      PATH: `${dir}:/usr/bin:/bin`,
      RECORD: dir,
      AIRFLOW_ADMIN_PASSWORD: password,
      AIRFLOW_ADMIN_USERNAME: 'admin',
      AIRFLOW_ADMIN_EMAIL: 'admin@example.com',
      AIRFLOW_ADMIN_FIRSTNAME: 'Admin',
      AIRFLOW_ADMIN_LASTNAME: 'User',
    },
  });

  test('airflow users create gets no password among its arguments', () => {
    const argv = readFileSync(join(dir, 'argv'), 'utf8').split('\n');
    expect(argv.slice(0, 4)).toEqual(['users', 'create', '--role', 'Admin']);
    expect(argv.join(' ')).not.toContain('S3cret');
    expect(argv).not.toContain('--password');
  });

  test('...but reads it, twice (password and confirmation), from its stdin', () => {
    expect(readFileSync(join(dir, 'stdin'), 'utf8')).toBe(`${password}\n${password}\n`);
  });

  test('the script names the password only as an argument of printf, a bash builtin (no process, no argv)', () => {
    const uses = CREATE_USER_SCRIPT.split('\n').flatMap((line) => line.split(/\||&&|;/)).filter((cmd) => cmd.includes('AIRFLOW_ADMIN_PASSWORD'));
    expect(uses.map((cmd) => cmd.trim().split(' ')[0])).toEqual(['printf']);
    expect(execFileSync('bash', ['-c', 'type -t printf'], { encoding: 'utf8' }).trim()).toBe('builtin');
  });
});

describe('admin user', () => {
  test('a Job creates it with FAB, the password read from the Secret, after the migrations', () => {
    const { manifests, airflow } = airflowChart();
    const job = manifests.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-create-user-'));
    expect(job.metadata.name).toBe(airflow.adminUser!.jobName);
    const spec = job.spec.template.spec;
    expect(spec.initContainers.map((c: any) => c.name)).toEqual(['wait-for-db', 'wait-for-airflow-migrations']);
    const c = spec.containers[0];
    expect(c.args[2]).toMatch(/^for attempt in 1 2 3; do\n {2}printf '%s\\n%s\\n' "\$AIRFLOW_ADMIN_PASSWORD" "\$AIRFLOW_ADMIN_PASSWORD" \| airflow users create --role Admin --username "\$AIRFLOW_ADMIN_USERNAME" .* && exit 0\n/);
    expect(c.args[2]).not.toContain('--password');
    // A bounded retry (FAB's permission table is written by the api-server at the same time on first start),
    // and a failure in the end.
    expect(c.args[2]).toMatch(/sleep 10\ndone\nexit 1$/);
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
