// AdminUser: the Job that creates the first admin user with FAB.
import { execFileSync } from 'child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { CREATE_USER_SCRIPT, FAB_BUILTIN_ROLES, createUserScript } from '../../lib/airflow/admin-user';
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
    // A bounded retry against a passing failure, and a failure in the end.
    expect(c.args[2]).toMatch(/sleep 10\ndone\nexit 1$/);
    expect(c.args[2]).not.toContain('$(');
    expect(c.env).toContainEqual({ name: 'AIRFLOW_ADMIN_USERNAME', value: 'admin' });
    expect(c.env).toContainEqual({
      name: 'AIRFLOW_ADMIN_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'airflow-secrets', key: 'admin-password' } },
    });
  });

  // The UI and the Job start together on a first install; both syncing FAB's permissions, the loser died on
  // ab_permission_view_role_permission_view_id_role_id_key (and the UI's container restarted). Only the UI syncs.
  const jobAndUi = (props: Record<string, unknown> = {}) => {
    const { manifests } = airflowChart(props);
    const job = manifests.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-create-user-'));
    const ui = manifests.find((o) => o.kind === 'Deployment' && /api-server|webserver/.test(o.metadata.name));
    return { job: job.spec.template.spec.containers[0], ui: ui.spec.template.spec.containers[0] };
  };
  test.each([
    ['3.1.3', 'apache/airflow:3.1.3', 'AIRFLOW__FAB__UPDATE_FAB_PERMS'],
    ['2.11.0', 'apache/airflow:2.11.0', 'AIRFLOW__FAB__UPDATE_FAB_PERMS'],
    ['2.8.4', 'apache/airflow:2.8.4', 'AIRFLOW__WEBSERVER__UPDATE_FAB_PERMS'],
  ])("on Airflow %s the Job does not sync FAB's permissions (%s: %s=False); the UI does", (airflowVersion, image, name) => {
    const { job, ui } = jobAndUi({ airflowVersion, image });
    expect(job.env).toContainEqual({ name, value: 'False' });
    expect(job.env.filter((e: any) => /UPDATE_FAB_PERMS/.test(e.name))).toHaveLength(1);
    expect(ui.env.filter((e: any) => /UPDATE_FAB_PERMS/.test(e.name))).toEqual([]);
  });

  test('can be left out, and its fields are checked', () => {
    const { manifests, airflow } = airflowChart({ createAdminUser: false });
    expect(airflow.adminUser).toBeUndefined();
    expect(manifests.filter((o) => o.metadata.name.startsWith('airflow-create-user'))).toEqual([]);
    expect(airflowError({ adminEmail: 'nope' }).message).toMatch(/AdminUser at "test\/airflow\/admin-user": property "email" received "nope"/);
  });
});

describe('the first user\'s names and role (adminFirstName, adminLastName, adminRole)', () => {
  test('reach the Job: names as variables, the role in the command', () => {
    const { manifests, airflow } = airflowChart({ adminFirstName: 'Data', adminLastName: 'Platform', adminRole: 'Viewer' });
    const c = manifests.find((o) => o.kind === 'Job' && o.metadata.name === airflow.adminUser!.jobName).spec.template.spec.containers[0];
    expect(c.env).toContainEqual({ name: 'AIRFLOW_ADMIN_FIRSTNAME', value: 'Data' });
    expect(c.env).toContainEqual({ name: 'AIRFLOW_ADMIN_LASTNAME', value: 'Platform' });
    expect(c.args[2]).toBe(createUserScript('Viewer'));
    expect(c.args[2]).toContain('| airflow users create --role Viewer --username "$AIRFLOW_ADMIN_USERNAME"');
  });

  test('the default script is the Admin one, unchanged', () => {
    expect(createUserScript('Admin')).toBe(CREATE_USER_SCRIPT);
    expect(FAB_BUILTIN_ROLES).toEqual(['Admin', 'Op', 'User', 'Viewer', 'Public']);
  });

  test('FAB\'s command gets the role as one argument', () => {
    const dir = mkdtempSync(join(tmpdir(), 'create-user-role-'));
    try {
      writeFileSync(join(dir, 'airflow'), '#!/bin/bash\nprintf "%s\\n" "$@" > "$RECORD/argv"\ncat > /dev/null\n');
      chmodSync(join(dir, 'airflow'), 0o755);
      execFileSync('bash', ['-c', createUserScript('Op')], { env: { PATH: `${dir}:/usr/bin:/bin`, RECORD: dir, AIRFLOW_ADMIN_PASSWORD: 'x' } });
      expect(readFileSync(join(dir, 'argv'), 'utf8').split('\n').slice(0, 4)).toEqual(['users', 'create', '--role', 'Op']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a role FAB does not create, or a name over two lines, is refused', () => {
    expect(airflowError({ adminRole: 'Superuser' }).message).toBe(
      'AdminUser at "test/airflow/admin-user": property "role" received "Superuser"; allowed: one of "Admin", "Op", "User", "Viewer", "Public".',
    );
    expect(airflowError({ adminRole: 'admin' }).message).toMatch(/property "role" received "admin"; allowed: one of .*Did you mean "Admin"\?$/);
    expect(airflowError({ adminFirstName: 'a\nb' }).message).toMatch(/property "firstName" received "a\\nb"; allowed: 1 to 64 characters on one line/);
  });
});
