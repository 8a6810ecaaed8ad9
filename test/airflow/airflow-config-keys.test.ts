import * as fs from 'fs';
import * as path from 'path';
import { Testing } from 'cdk8s';
import { Construct } from 'constructs';
import { AirflowChart } from '../../lib';
import {
  airflowConfigDeprecatedAliases,
  airflowConfigKeyInfo,
  airflowConfigKeys,
  airflowConfigSections,
  AirflowConfigValues,
  KOMBU_REDIS_TRANSPORT_OPTIONS,
  validateAirflowConfig,
} from '../../lib/airflow/airflow-config-keys';
import { AirflowConfiguration } from '../../lib/airflow/airflow-configuration';
import { AirflowGeneration, AirflowVersion } from '../../lib/core/airflow-generation';
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
  test('matches the shared lists exactly: 2.x, and 3.2.0 (the shared 3.x list is apache/airflow main dda8d278, 3.2.0)', () => {
    // The committed module must stay in step with scripts/generate-config-keys.js and its source lists: the
    // shared key lists, plus the provider keys of scripts/provider-config-keys.tsv. The 3.x list was taken at
    // the commit the vendored 3.2 extracts come from, so it checks them independently.
    const shared = [path.join(__dirname, '..', '..', '..', 'shared', 'airflow-config'), '/work/shared/airflow-config'].find((d) => fs.existsSync(d));
    if (!shared) return; // a clone without shared/ beside it
    for (const [major, version] of [[2, undefined], [3, '3.2.0']] as const) {
      const listed = fs
        .readFileSync(path.join(shared, `airflow-config-keys-${major}.txt`), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      expect(airflowConfigKeys(major, undefined, version)).toEqual([...listed, ...providerKeys(major)].sort());
    }
  });

  test('Airflow 3.1 has exactly the keys of its own config.yml and providers (the vendored 3.1 extracts)', () => {
    // Read here independently of the generator: the 3.1 extracts (the 3.1 source bundle's config.yml, the
    // celery, cncf.kubernetes and fab providers of the day 3.1.3 was released), plus the Azure key.
    const dir = path.join(__dirname, '..', '..', 'scripts', 'data', 'airflow-config-flags', '3.1');
    const extracted = ['core', 'provider-celery', 'provider-cncf.kubernetes', 'provider-fab'].flatMap((f) =>
      fs
        .readFileSync(path.join(dir, `${f}.tsv`), 'utf8')
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('#'))
        .slice(1)
        .map((l) => l.split('\t')[0]),
    );
    const keys31 = [...extracted, ...providerKeys(3)].sort();
    // 3.1.0: the bundle's keys (the 3.1.0 ones included, which 3.0 lacks).
    expect(airflowConfigKeys(3, undefined, '3.1.0')).toEqual(keys31);
    // 3.1.3: and the option backported to 3.1.1 (version_added 3.1.1 in 3.2's config.yml).
    expect(airflowConfigKeys(3, undefined, '3.1.3')).toEqual([...keys31, 'workers.execution_api_timeout'].sort());
    // + 17 [elasticsearch]/[opensearch] keys of scripts/provider-config-keys.tsv (RemoteLogging.elasticsearch / .opensearch)
    expect(airflowConfigKeys(3, undefined, '3.1.0')).toHaveLength(344 + 17);
    expect(airflowConfigKeys(3, undefined, '3.2.0')).toHaveLength(362 + 17);
  });

  test('24 keys are new in Airflow 3.2 (21 of the core, 3 of its providers), 9 are gone', () => {
    const at = (v: string) => new Set(airflowConfigKeys(3, undefined, v));
    const [latest31, first32] = [at('3.1.8'), at('3.2.0')];
    const added = [...first32].filter((k) => !latest31.has(k));
    expect(added).toHaveLength(24);
    expect(added).toEqual(expect.arrayContaining(['core.multi_team', 'logging.uvicorn_logging_level', 'fab.cache_ttl', 'celery_result_backend_transport_options.master_name']));
    expect(added.filter((k) => AirflowGeneration.AIRFLOW_3.configKeyVersions[k].provider !== undefined)).toHaveLength(3);
    expect([...latest31].filter((k) => !first32.has(k)).sort()).toEqual([
      'api.page_size',
      'core.max_num_rendered_ti_fields_per_task',
      'core.min_serialized_dag_fetch_interval',
      'core.mp_start_method',
      'lineage.backend',
      'logging.colored_formatter_class',
      'logging.colored_log_format',
      'scheduler.dag_stale_not_seen_duration',
      'scheduler.running_metrics_interval',
    ]);
  });

  test('has the provider keys transcribed from provider.yaml, with their version and default', () => {
    const search = [
      'elasticsearch.host', 'elasticsearch.frontend', 'elasticsearch.write_stdout', 'elasticsearch.json_format', 'elasticsearch.json_fields',
      'elasticsearch.index_patterns', 'elasticsearch_configs.verify_certs', 'opensearch.host', 'opensearch.port', 'opensearch.username',
      'opensearch.password', 'opensearch.write_stdout', 'opensearch.json_format', 'opensearch.json_fields', 'opensearch.index_patterns',
      'opensearch_configs.use_ssl', 'opensearch_configs.verify_certs',
    ];
    expect(providerKeys(2)).toEqual(['azure_remote_logging.remote_wasb_log_container', ...search]);
    expect(providerKeys(3)).toEqual(['azure_remote_logging.remote_wasb_log_container', ...search]);
    expect(airflowConfigKeyInfo(3, 'elasticsearch.index_patterns')).toEqual({
      name: 'elasticsearch.index_patterns', section: 'elasticsearch', key: 'index_patterns', versionAdded: '2.6.0', default: '_all',
    });
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

  test('[celery_broker_transport_options]: the options kombu\'s Redis transport reads, which Airflow passes on; a typo is refused', () => {
    for (const major of [2, 3] as const) {
      expect(() =>
        check(major, { celery_broker_transport_options: { socket_timeout: 10, socket_keepalive: true, visibility_timeout: 21600, global_keyprefix: 'a:' } }),
      ).not.toThrow();
    }
    expect(KOMBU_REDIS_TRANSPORT_OPTIONS).toContain('socket_timeout');
    const e = errorOf(3, { celery_broker_transport_options: { socket_timout: 10 } });
    expect(e.property).toBe('config.celery_broker_transport_options');
    expect(e.message).toMatch(/or one kombu's Redis transport reads, which Airflow passes on: sep, .*socket_timeout, /);
    expect(e.message).toMatch(/Did you mean "celery_broker_transport_options.socket_timeout"\?/);
    // only that section passes keys on
    expect(errorOf(3, { celery: { socket_timeout: 10 } }).message).toMatch(/a key of \[celery\] that Airflow 3 defines/);
  });

  test('[celery_broker_transport_options] socket timeouts: a number of seconds greater than 0, as a number or as text', () => {
    expect(() => check(3, { celery_broker_transport_options: { socket_timeout: 2.5, socket_connect_timeout: '5' } })).not.toThrow();
    for (const bad of [0, -1, 'ten', '', true]) {
      for (const key of ['socket_timeout', 'socket_connect_timeout']) {
        const e = errorOf(3, { celery_broker_transport_options: { [key]: bad } });
        expect(e.property).toBe(`config.celery_broker_transport_options.${key}`);
        expect(e.message).toMatch(/allowed: a number of seconds greater than 0: kombu passes it to redis-py as its sockets' timeout/);
      }
    }
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

describe('the keys of the image\'s own Airflow release', () => {
  const synth = (image: string, config: AirflowConfigValues) => () => Testing.synth(new AirflowChart(Testing.app(), 'airflow', { image, config }));

  test('a 3.1.3 image refuses [core] multi_team, naming the release that added it (3.2.0)', () => {
    const e = validationError(synth('apache/airflow:3.1.3', { core: { multi_team: true } }), 'config.core');
    expect(e.received).toBe('multi_team');
    expect(e.message).toContain('allowed: a key Airflow 3.1.3 defines: "core.multi_team" was added in Airflow 3.2.0, and the image is Airflow 3.1.3.');
    expect(e.message).toContain('Use an image of Airflow 3.2.0 or newer, or leave the option out.');
    // The same refusal for the other 3.2 options too.
    expect(validationError(() => new AirflowChart(Testing.app(), 'airflow', { image: 'apache/airflow:3.1.3', config: { logging: { uvicorn_logging_level: 'info' } } })).message).toMatch(
      /"logging.uvicorn_logging_level" was added in Airflow 3.2.0/,
    );
  });

  test('a 3.2 image accepts it, and the other 3.2 options', () => {
    const objects = synth('apache/airflow:3.2.1', { core: { multi_team: true }, logging: { uvicorn_logging_level: 'info' }, fab: { cache_ttl: 60 } })();
    const cfg = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'airflow-config').data['airflow.cfg'];
    expect(cfg).toMatch(/\[core\][^[]*multi_team = True/);
    expect(cfg).toMatch(/uvicorn_logging_level = info/);
  });

  test('a provider\'s option of a later image names the provider that added it', () => {
    expect(validationError(synth('apache/airflow:3.1.3', { fab: { cache_ttl: 60 } })).message).toContain(
      '"fab.cache_ttl" was added in Airflow 3.2.0 (with the fab provider 3.4.0 of its official image)',
    );
    // A whole section new in 3.2 (celery 3.17.0) is not "unknown": its keys say which release has them.
    expect(validationError(synth('apache/airflow:3.1.3', { celery_result_backend_transport_options: { master_name: 'm' } })).message).toContain(
      '"celery_result_backend_transport_options.master_name" was added in Airflow 3.2.0 (with the celery provider 3.17.0 of its official image)',
    );
  });

  test('an option backported to a patch release counts from that release (version_added 3.1.1)', () => {
    expect(() => synth('apache/airflow:3.1.3', { workers: { execution_api_timeout: 30 } })()).not.toThrow();
    expect(validationError(synth('apache/airflow:3.1.0', { workers: { execution_api_timeout: 30 } })).message).toContain(
      '"workers.execution_api_timeout" was added in Airflow 3.1.1, and the image is Airflow 3.1.0',
    );
    // The _cmd / _secret indirections follow their option.
    expect(validationError(synth('apache/airflow:3.1.3', { core: { multi_team_cmd: 'echo true' } })).message).toContain('"core.multi_team" was added in Airflow 3.2.0');
  });

  test('a 3.2 image refuses what 3.2 removed, renamed or deprecated; 3.1 accepts it', () => {
    const removed = { core: { mp_start_method: 'fork' } };
    const renamed = { core: { max_num_rendered_ti_fields_per_task: 30 } };
    const deprecated = { metrics: { otel_host: 'collector' } };
    for (const config of [removed, renamed, deprecated]) expect(() => synth('apache/airflow:3.1.3', config)()).not.toThrow();
    expect(validationError(synth('apache/airflow:3.2.1', removed)).message).toContain(
      'allowed: a key Airflow 3.2.1 defines: "core.mp_start_method" was removed in Airflow 3.2.0, and the image is Airflow 3.2.1.',
    );
    expect(validationError(synth('apache/airflow:3.2.1', renamed)).message).toContain(
      '"core.max_num_rendered_ti_fields_per_task" is a deprecated alias of "core.num_dag_runs_to_retain_rendered_fields" since Airflow 3.2.0',
    );
    expect(validationError(synth('apache/airflow:3.2.1', deprecated)).message).toContain(
      'allowed: a current key of Airflow 3.2.1: "metrics.otel_host" is deprecated since Airflow 3.2.0 (version_deprecated in Airflow\'s config.yml)',
    );
  });

  test('without a version, validateAirflowConfig checks the generation\'s default release (3.2.2)', () => {
    expect(errorOf(3, { core: { mp_start_method: 'fork' } }).message).toContain('was removed in Airflow 3.2.0, and the image is Airflow 3.2.2');
    expect(() => validateAirflowConfig(scope(), 'config', AirflowGeneration.AIRFLOW_3, { core: { multi_team: true } })).not.toThrow();
    expect(validationError(() => validateAirflowConfig(scope(), 'config', AirflowGeneration.AIRFLOW_3, { core: { multi_team: true } }, AirflowVersion.of('3.1.3'))).message).toContain(
      'was added in Airflow 3.2.0, and the image is Airflow 3.1.3',
    );
  });

  test('an AirflowConfiguration refuses a release of the other generation', () => {
    const e = validationError(
      () => new AirflowConfiguration(testChart(), 'configuration', { generation: AirflowGeneration.AIRFLOW_3, airflowVersion: AirflowVersion.of('2.11.0'), managed: {} }),
      'airflowVersion',
    );
    expect(e.message).toContain('received "2.11.0"; allowed: a release of Airflow 3, the generation given');
  });
});
