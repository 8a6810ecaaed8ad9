import * as fs from 'fs';
import * as path from 'path';
import { Construct } from 'constructs';
import {
  airflowConfigDeprecatedAliases,
  airflowConfigKeyInfo,
  airflowConfigKeys,
  airflowConfigSections,
  AirflowConfigValues,
  validateAirflowConfig,
} from '../../lib/airflow/airflow-config-keys';
import { AirflowGeneration } from '../../lib/core/airflow-generation';
import { AirflowCdk8sValidationError } from '../../lib/core/errors';
import { testChart, validationError } from '../support';

class ConfigUser extends Construct {}

function scope(): ConfigUser {
  return new ConfigUser(testChart({ id: 'airflow' }), 'config');
}

function check(major: 2 | 3, config: AirflowConfigValues): void {
  validateAirflowConfig(scope(), 'config', AirflowGeneration.forMajor(major)!, config);
}

function errorOf(major: 2 | 3, config: AirflowConfigValues): AirflowCdk8sValidationError {
  return validationError(() => check(major, config));
}

/** The keys scripts/provider-config-keys.tsv adds for `major`. */
function providerKeys(major: 2 | 3): string[] {
  return fs
    .readFileSync(path.join(__dirname, '..', '..', 'scripts', 'provider-config-keys.tsv'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => l.split('\t'))
    .filter(([majors]) => majors.split(',').includes(String(major)))
    .map(([, key]) => key);
}

describe('the key data', () => {
  test('is generated from the shared lists and matches them exactly', () => {
    // The committed module must stay in step with scripts/generate-config-keys.js and its source lists: the
    // shared key lists, plus the provider keys of scripts/provider-config-keys.tsv.
    const shared = '/work/shared/airflow-config';
    if (!fs.existsSync(shared)) return; // CI clones have shared/ beside the repo, not always at this path
    for (const major of [2, 3] as const) {
      const listed = fs
        .readFileSync(path.join(shared, `airflow-config-keys-${major}.txt`), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      expect(airflowConfigKeys(major)).toEqual([...listed, ...providerKeys(major)].sort());
    }
  });

  test('has the provider keys transcribed from provider.yaml, with their version and default', () => {
    expect(providerKeys(2)).toEqual(['azure_remote_logging.remote_wasb_log_container']);
    expect(providerKeys(3)).toEqual(['azure_remote_logging.remote_wasb_log_container']);
    for (const major of [2, 3] as const) {
      expect(airflowConfigKeyInfo(major, 'azure_remote_logging.remote_wasb_log_container')).toEqual({
        name: 'azure_remote_logging.remote_wasb_log_container',
        section: 'azure_remote_logging',
        key: 'remote_wasb_log_container',
        versionAdded: '8.0.0',
        default: 'airflow-logs',
      });
    }
  });

  test('knows both majors, their sections, versions and defaults', () => {
    expect(airflowConfigKeys(2).length).toBeGreaterThan(300);
    expect(airflowConfigKeys(3).length).toBeGreaterThan(300);
    expect(airflowConfigSections(2)).toContain('webserver');
    expect(airflowConfigSections(3)).not.toContain('webserver');
    expect(airflowConfigSections(3)).toEqual(expect.arrayContaining(['api', 'api_auth', 'dag_processor', 'fab', 'kubernetes_executor']));
    expect(airflowConfigKeys(3, 'kubernetes_executor')).toContain('kubernetes_executor.pod_template_file');
    // config.yml records no version_added for core.executor, so the field is absent rather than invented.
    expect(airflowConfigKeyInfo(3, 'core.executor')).toEqual({
      name: 'core.executor',
      section: 'core',
      key: 'executor',
      default: 'LocalExecutor',
    });
    expect(airflowConfigKeyInfo(3, 'api.access_control_allow_origins')).toMatchObject({ versionAdded: '2.2.0', default: '' });
    expect(airflowConfigKeyInfo(3, 'webserver.base_url')).toBeUndefined();
    expect(airflowConfigDeprecatedAliases(3)).toContainEqual({ major: 3, old: 'webserver.base_url', new: 'api.base_url', since: '3.0' });
  });

  test('rejects a major version it has no data for', () => {
    expect(() => airflowConfigKeys(4 as 3)).toThrow(/major versions 2 and 3 only/);
  });
});

describe('validateAirflowConfig accepts', () => {
  test('real keys of each major, with string, number and boolean values', () => {
    expect(() =>
      check(3, {
        core: { executor: 'KubernetesExecutor', parallelism: 32, load_examples: false },
        kubernetes_executor: { namespace: 'airflow', delete_worker_pods: true },
        api: { base_url: 'http://localhost:8080' },
        database: { sql_alchemy_conn_secret: 'db-conn' },
      }),
    ).not.toThrow();
    expect(() => check(2, { webserver: { base_url: 'http://localhost:8080', workers: 2 } })).not.toThrow();
    expect(() => check(3, {})).not.toThrow();
  });
});

describe('validateAirflowConfig rejects', () => {
  test('an unknown key, with the closest section.key', () => {
    const e = errorOf(3, { core: { paralelism: 16 } });
    expect(e.constructName).toBe('ConfigUser');
    expect(e.constructPath).toBe('airflow/config');
    expect(e.property).toBe('config.core');
    expect(e.received).toBe('paralelism');
    expect(e.message).toMatch(/a key of \[core\] that Airflow 3 defines/);
    expect(e.message).toMatch(/Did you mean "core.parallelism"\?/);
  });

  test('a key under the wrong section, naming the section that has it', () => {
    const e = errorOf(3, { core: { parsing_processes: 4 } });
    expect(e.message).toMatch(/Did you mean "dag_processor.parsing_processes"\?/);
  });

  test('an unknown section, listing the real ones', () => {
    const e = errorOf(3, { scheduller: { parsing_processes: 4 } });
    expect(e.property).toBe('config');
    expect(e.received).toBe('scheduller');
    expect(e.message).toMatch(/allowed: a section Airflow 3 defines: api, api_auth, .*scheduler/);
    expect(e.message).toMatch(/Did you mean "scheduler"\?/);
  });

  test('a deprecated alias Airflow still reads, naming the new key', () => {
    const e = errorOf(2, { core: { sql_alchemy_conn: 'postgresql://x' } });
    expect(e.message).toMatch(/"core.sql_alchemy_conn" is a deprecated alias of "database.sql_alchemy_conn" since Airflow 2.3.0/);
    expect(e.message).toMatch(/Use "database.sql_alchemy_conn" instead\./);
    const e3 = errorOf(3, { scheduler: { dag_dir_list_interval: 60 } });
    expect(e3.message).toMatch(/deprecated alias of "dag_processor.refresh_interval" since Airflow 3.0/);
  });

  test('a 2.x name on Airflow 3 that Airflow 3 no longer reads', () => {
    const e = errorOf(3, { core: { sql_alchemy_conn: 'postgresql://x' } });
    expect(e.message).toMatch(/was renamed to "database.sql_alchemy_conn" in Airflow 2.3.0 and Airflow 3 no longer reads the old name/);
  });

  test('alias chains resolve to the key that exists', () => {
    // scheduler.statsd_allow_list -> metrics.statsd_allow_list -> metrics.metrics_allow_list
    const e = errorOf(2, { scheduler: { statsd_allow_list: 'a' } });
    expect(e.message).toMatch(/Use "metrics.metrics_allow_list" instead/);
  });

  test('a renamed section (kubernetes -> kubernetes_executor)', () => {
    const e = errorOf(2, { kubernetes: { namespace: 'airflow' } });
    expect(e.message).toMatch(/Use "kubernetes_executor.namespace" instead/);
  });

  test('[webserver] on Airflow 3: the moved key by name, the rest with where the section went', () => {
    expect(errorOf(3, { webserver: { base_url: 'http://x' } }).message).toMatch(/Use "api.base_url" instead/);
    expect(errorOf(3, { webserver: { navbar_color: '#fff' } }).message).toMatch(/Use "fab.navbar_color" instead/);
    const e = errorOf(3, { webserver: { show_trigger_form_if_no_params: true } });
    expect(e.message).toMatch(/the \[webserver\] section exists in Airflow 2 only: Airflow 3 removed it and moved its options to \[api\] and \[fab\]/);
  });

  test('a 3.x-only section on Airflow 2', () => {
    const e = errorOf(2, { dag_processor: { refresh_interval: 60 } });
    expect(e.message).toMatch(/the \[dag_processor\] section exists from Airflow 3 on/);
  });

  test('a section removed without replacement', () => {
    const e = errorOf(3, { usage_data_collection: { enabled: false } });
    expect(e.message).toMatch(/\[usage_data_collection\] section exists in Airflow 2 only: Airflow 3 removed it without a replacement section/);
  });

  test('upper case names', () => {
    expect(errorOf(3, { CORE: { parallelism: 1 } }).message).toMatch(/a section name in lowercase.*Did you mean "core"/);
    expect(errorOf(3, { core: { PARALLELISM: 1 } }).message).toMatch(/a key in lowercase.*Did you mean "parallelism"/);
  });

  test('values that are not text, numbers or booleans', () => {
    const e = errorOf(3, { core: { parallelism: { n: 1 } as unknown as number } });
    expect(e.property).toBe('config.core.parallelism');
    expect(e.message).toMatch(/allowed: a string, a finite number or a boolean/);
    expect(errorOf(3, { core: { parallelism: Number.NaN } }).message).toMatch(/finite number/);
    expect(errorOf(3, { core: null as unknown as Record<string, string> }).message).toMatch(/property "config.core" received null/);
  });

  test('_cmd / _secret of an unknown key', () => {
    expect(errorOf(3, { database: { sql_alchemy_con_cmd: 'cat /x' } }).message).toMatch(/received "sql_alchemy_con_cmd".*Did you mean "database.sql_alchemy_conn"\?/);
  });
});
