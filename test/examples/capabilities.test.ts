import * as fs from 'fs';
import * as path from 'path';
import { validationReport } from '../../validation';
import { cfgOf, find, Manifest } from '../support';
import { findSecretMaterial } from '../support/secret-scan';

/**
 * The example of each capability page of docs/ (issue #14) is examples/<name>.ts, word for word; it
 * synthesizes, passes the validation plugin's checks, and shows what its page says it shows.
 */
const root = path.join(__dirname, '..', '..');
const CASES: ReadonlyArray<[string, string, (objects: Manifest[]) => void, string[]?]> = [
  [
    'git-sync',
    'docs/git-sync.md',
    (objects) => {
      const container = find(objects, 'Deployment', 'airflow-git-sync').spec.template.spec.containers[0];
      expect(container.args).toEqual(expect.arrayContaining(['--root=/opt/airflow/dags/git-sync', '--link=repo', '--password-file=/etc/git-secret/password']));
      expect(cfgOf(objects).core.dags_folder).toBe('/opt/airflow/dags/git-sync/repo/dags');
    },
    ['dags-repo'],
  ],
  [
    'remote-logging',
    'docs/remote-logging.md',
    (objects) => {
      expect(cfgOf(objects).logging).toMatchObject({ remote_logging: 'True', remote_base_log_folder: 's3://example-org-airflow-logs/airflow' });
      expect(find(objects, 'ServiceAccount', 'airflow-worker').metadata.annotations).toEqual({
        'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/airflow-logs',
      });
    },
  ],
  [
    'log-retention',
    'docs/log-retention.md',
    (objects) => {
      const groomer = find(objects, 'Deployment', 'airflow-scheduler').spec.template.spec.containers[1];
      expect(groomer.name).toBe('log-groomer');
      expect(groomer.command[2]).toContain(`-mmin +${7 * 24 * 60}`);
    },
  ],
  [
    'no-shared-storage',
    'docs/storage.md',
    (objects) => {
      // Issue #20: no claim any two pods share; only Postgres' own.
      expect(objects.filter((o) => o.kind === 'PersistentVolumeClaim').map((o) => o.metadata.name)).toEqual(['airflow-postgres-claim']);
      expect(find(objects, 'Deployment', 'airflow-scheduler').spec.template.spec.volumes).toContainEqual({ name: 'logs', emptyDir: {} });
      expect(cfgOf(objects).logging).toMatchObject({ base_log_folder: '/opt/airflow/logs', remote_logging: 'True' });
      expect(find(objects, 'Deployment', 'airflow-dag-processor').spec.template.spec.initContainers.map((c: any) => c.name)).toContain('git-sync-init');
    },
  ],
  [
    'metrics',
    'docs/metrics.md',
    (objects) => {
      expect(find(objects, 'Service', 'airflow-statsd').metadata.annotations['prometheus.io/scrape']).toBe('true');
      expect(cfgOf(objects).metrics.statsd_host).toBe('airflow-statsd.airflow.svc.cluster.local');
    },
  ],
  [
    'auth',
    'docs/auth.md',
    (objects) => {
      expect(cfgOf(objects).fab.config_file).toBe('/opt/airflow/webserver_config.py');
      const config = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('airflow-api-server-config-'))!.data['webserver_config.py'];
      expect(config).toContain('AUTH_TYPE = AUTH_OAUTH');
      expect(config).toContain('"client_secret": os.environ["AIRFLOW_AUTH_KEYCLOAK_CLIENT_SECRET"],');
      expect(config).toContain('AUTH_ROLES_MAPPING = {\n    "airflow-admins": ["Admin"],\n    "data-team": ["User"],\n}');
      expect(objects.filter((o) => o.kind === 'Job').map((j) => j.metadata.name)).not.toContainEqual(expect.stringMatching(/create-user/));
    },
    ['keycloak-airflow'],
  ],
  [
    'local-settings',
    'docs/auth.md',
    (objects) => {
      const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('airflow-local-settings-'))!;
      expect(cm.data['airflow_local_settings.py']).toContain('def pod_mutation_hook(pod):');
      expect(find(objects, 'ConfigMap', 'airflow-config').data['pod_template_file.yaml']).toContain(`name: ${cm.metadata.name}`);
    },
  ],
];

describe.each(CASES)('examples/%s.ts', (name, doc, check, existingSecrets = []) => {
  test(`is what ${doc} shows (importing the package instead of ../lib)`, () => {
    const text = fs.readFileSync(path.join(root, doc), 'utf8');
    const example = fs.readFileSync(path.join(root, 'examples', `${name}.ts`), 'utf8');
    const block = new RegExp(`<!-- example:${name} -->\\n\`\`\`ts\\n([\\s\\S]*?)\`\`\``).exec(text);
    expect(block).not.toBeNull();
    expect(block![1]).toBe(example.replace("from '../lib'", "from 'airflow-cdk8s'"));
  });

  test('synthesizes, validates, holds no secret, and shows what its page says', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { app } = require(`../../examples/${name}`);
    const chart = app.charts[0];
    const objects: Manifest[] = chart.toJson();
    expect(validationReport(chart, { existingSecrets })).toEqual([]);
    expect(findSecretMaterial(objects)).toEqual([]);
    check(objects);
  });
});
