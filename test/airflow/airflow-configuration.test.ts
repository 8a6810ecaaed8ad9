// AirflowConfiguration: airflow.cfg from the props and the user's settings, and its checksum on the pods.
import { AirflowGeneration } from '../../lib';
import { renderAirflowCfg } from '../../lib/airflow/airflow-configuration';
import { airflowChart, airflowError, cfgOf, expectWarns, find, parseCfg } from '../support';

describe('configuration', () => {
  test('the user settings are added to airflow.cfg, checked and sorted', () => {
    const { manifests } = airflowChart({ config: { webserver: {}, core: { default_task_retries: 2 }, api: { expose_config: 'non-sensitive-only' } } });
    const text = find(manifests, 'ConfigMap', 'airflow-config').data['airflow.cfg'];
    expect(parseCfg(text).core.default_task_retries).toBe('2');
    expect(parseCfg(text).api.expose_config).toBe('non-sensitive-only');
    const sections = text.split('\n').filter((l: string) => l.startsWith('[')).map((l: string) => l.slice(1, -1));
    expect(sections).toEqual([...sections].sort());
    expect(sections).not.toContain('webserver');
  });

  test('a config change changes the checksum on the pods, so they roll', () => {
    const a = airflowChart().airflow.configuration.checksum;
    const b = airflowChart({ config: { core: { default_task_retries: 1 } } }).airflow.configuration.checksum;
    expect(a).not.toBe(b);
    expect(airflowChart().airflow.configuration.checksum).toBe(a);
  });

  test('an unknown key is rejected by the configuration check', () => {
    expect(airflowError({ config: { core: { paralellism: 8 } } }).message).toMatch(/"config.core" received "paralellism"/);
  });

  test('an option the library sets is rejected, with the prop to use instead', () => {
    expect(airflowError({ config: { core: { parallelism: 8 } } }).message).toMatch(
      /property "config.core.parallelism" received 8; allowed: an option the library does not set itself; it sets core.parallelism = 4. Use the "parallelism" prop instead./,
    );
    expect(airflowError({ config: { core: { executor: 'LocalExecutor' } } }).message).toMatch(
      /"config.core.executor" received "LocalExecutor"; allowed: an option the library does not set itself; it sets core.executor = KubernetesExecutor. Use the "celery" prop instead./,
    );
    expect(airflowError({ config: { core: { load_examples: true } } }).message).toMatch(/"config.core.load_examples".*cannot be changed here/);
  });

  test('a secret in the config is rejected without echoing it', () => {
    const error = airflowError({ config: { core: { fernet_key: 'c2VjcmV0' } } });
    expect(error.message).toMatch(/property "config.core.fernet_key" received "\(value not shown\)"; allowed: an option that is not a secret/);
    expect(error.message).not.toContain('c2VjcmV0');
  });

  test('every option Airflow marks sensitive is rejected, named by its property, with how to pass it instead', () => {
    const error = airflowError({ config: { secrets: { backend_kwargs: '{"token": "t0ken"}' } } });
    expect(error.message).toBe(
      'AirflowConfiguration at "test/airflow/configuration": property "config.secrets.backend_kwargs" received "(value not shown)"; ' +
        'allowed: an option that is not a secret: Airflow marks secrets.backend_kwargs sensitive, and airflow.cfg is a ConfigMap ' +
        '(readable by anyone who can read ConfigMaps, and part of the reviewed YAML). ' +
        'Pass it as the variable AIRFLOW__SECRETS__BACKEND_KWARGS read from a Secret: the pod options\' env ' +
        '{ AIRFLOW__SECRETS__BACKEND_KWARGS: EnvValue.fromSecret({ name, key }) } (valueFrom.secretKeyRef); or have Airflow fetch it with ' +
        'config { secrets: { backend_kwargs_cmd: "<command>" } } or { secrets: { backend_kwargs_secret: "<secrets backend key>" } } ' +
        '(AIRFLOW__SECRETS__BACKEND_KWARGS_CMD / AIRFLOW__SECRETS__BACKEND_KWARGS_SECRET).',
    );
    for (const name of AirflowGeneration.AIRFLOW_3.sensitiveConfigKeys) {
      const [section, key] = name.split('.');
      const message = airflowError({ config: { [section]: { [key]: 'x-secret-x' } } }).message;
      expect(message).toContain(`property "config.${name}" received "(value not shown)"; allowed: an option that is not a secret`);
      expect(message).not.toContain('x-secret-x');
    }
  });

  test('on Airflow 2 too, with its own flags (smtp_password, internal_api_secret_key) and the deprecated names', () => {
    const airflow2 = { image: 'apache/airflow:2.11.0' };
    for (const name of AirflowGeneration.AIRFLOW_2.sensitiveConfigKeys) {
      const [section, key] = name.split('.');
      expect(airflowError({ ...airflow2, config: { [section]: { [key]: 'x' } } }).message).toContain(
        `property "config.${name}" received "(value not shown)"; allowed: an option that is not a secret`,
      );
    }
    expect(airflowError({ ...airflow2, config: { core: { sql_alchemy_conn: 'postgresql://u:p@h/db' } } }).message).toMatch(
      /"config\.core\.sql_alchemy_conn" received "\(value not shown\)".* The library passes database\.sql_alchemy_conn itself from a Secret/,
    );
  });

  test('the _cmd and _secret indirections of a sensitive option are accepted: they hold no secret', () => {
    const cfg = cfgOf(airflowChart({ config: { secrets: { backend_kwargs_cmd: 'cat /run/secrets/backend-kwargs' } } }).manifests);
    expect(cfg.secrets.backend_kwargs_cmd).toBe('cat /run/secrets/backend-kwargs');
  });

  test('values on more than one line are rejected', () => {
    expect(airflowError({ config: { core: { default_timezone: 'utc\n[core]\nexecutor = x' } } }).message).toMatch(
      /property "config.core.default_timezone".*a string on one line/,
    );
  });

  test('renderAirflowCfg doubles % (Airflow interpolates the file) and writes booleans as Airflow does', () => {
    expect(renderAirflowCfg({ logging: { simple_log_format: '%(message)s', colored_console_log: false } })).toBe(
      '# Rendered by airflow-cdk8s. Secrets are not in this file: they come from Secrets as AIRFLOW__* env vars.\n' +
        '\n[logging]\ncolored_console_log = False\nsimple_log_format = %%(message)s\n',
    );
  });

  test('parallelism, pool size and batch size come from props', () => {
    const cfg = cfgOf(
      expectWarns(() => airflowChart({ parallelism: 16, defaultPoolSlots: 8, workerPodsCreationBatchSize: 5 }), /defaultPoolSlots \(8\) is smaller than parallelism \(16\)/).manifests,
    );
    expect([cfg.core.parallelism, cfg.core.default_pool_task_slot_count, cfg.kubernetes_executor.worker_pods_creation_batch_size]).toEqual([
      '16',
      '8',
      '5',
    ]);
    expect(cfgOf(airflowChart({ parallelism: 16 }).manifests).kubernetes_executor.worker_pods_creation_batch_size).toBe('16');
    expect(airflowError({ defaultPoolSlots: 0 }).message).toMatch(/property "defaultPoolSlots" received 0; allowed: a whole number from 1/);
  });
});
