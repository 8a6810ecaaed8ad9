// The options that hold secrets: derived from the `sensitive: true` flags of Airflow's own configuration
// files (scripts/data/airflow-config-flags, generated into lib/core/data/airflow-config-keys.ts), and the
// checks of literal environment values built on them.
import * as fs from 'fs';
import * as path from 'path';
import { Testing } from 'cdk8s';
import { Construct } from 'constructs';
import { AirflowChart, AirflowGeneration, EnvValue } from '../../lib';
import { LIBRARY_SECRET_CONFIG_KEYS } from '../../lib/airflow/airflow-configuration';
import {
  airflowConfigKeyOfEnv,
  checkLiteralEnvValue,
  hasUrlCredentials,
  isSecretConfigKey,
  secretConfigKeys,
} from '../../lib/core/sensitive-config';
import { isAirflow2, synthAirflow, testChart, validationError } from '../support';

const FLAGS = path.resolve(__dirname, '..', '..', 'scripts', 'data', 'airflow-config-flags');

/**
 * The options the vendored extracts of `major` flag sensitive (Airflow 3: those of every minor line, 3.1 and
 * 3.2), read here independently of the generator.
 */
function flagged(major: number): string[] {
  const keys = new Set<string>();
  const dirs = fs.readdirSync(FLAGS).filter((d) => d === String(major) || d.startsWith(`${major}.`));
  for (const file of dirs.flatMap((d) => fs.readdirSync(path.join(FLAGS, d)).map((f) => path.join(d, f)))) {
    const lines = fs.readFileSync(path.join(FLAGS, file), 'utf8').split('\n');
    expect(lines[0]).toMatch(/^# origin: \S/);
    for (const line of lines.filter((l) => l !== '' && !l.startsWith('#')).slice(1)) {
      const [key, flag] = line.split('\t');
      if (flag === 'true') keys.add(key);
    }
  }
  // and the provider keys scripts/provider-config-keys.tsv marks sensitive (the opensearch provider's credentials)
  const tsv = fs.readFileSync(path.join(FLAGS, '..', '..', 'provider-config-keys.tsv'), 'utf8').split('\n');
  for (const [majors, key, , , , flag] of tsv.filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split('\t'))) {
    if (flag === 'sensitive' && majors.split(',').includes(String(major))) keys.add(key);
  }
  return [...keys].sort();
}

describe('sensitive options, from Airflow\'s own flags', () => {
  test('the generated lists are the flags of the vendored extracts: 15 on Airflow 2, 16 on Airflow 3, and the 2 of the opensearch provider', () => {
    expect(AirflowGeneration.AIRFLOW_2.sensitiveConfigKeys).toEqual(flagged(2));
    expect(AirflowGeneration.AIRFLOW_3.sensitiveConfigKeys).toEqual(flagged(3));
    expect(AirflowGeneration.AIRFLOW_2.sensitiveConfigKeys).toHaveLength(15 + 2);
    expect(AirflowGeneration.AIRFLOW_3.sensitiveConfigKeys).toHaveLength(16 + 2);
    expect(AirflowGeneration.AIRFLOW_3.sensitiveConfigKeys).toEqual(expect.arrayContaining(['opensearch.password', 'opensearch.username']));
  });

  test('they include what a hand-written list missed, from the core and from the providers', () => {
    expect(AirflowGeneration.AIRFLOW_3.sensitiveConfigKeys).toEqual(
      expect.arrayContaining(['secrets.backend_kwargs', 'workers.secrets_backend_kwargs', 'celery_broker_transport_options.sentinel_kwargs', 'sentry.sentry_dsn']),
    );
    expect(AirflowGeneration.AIRFLOW_2.sensitiveConfigKeys).toEqual(
      expect.arrayContaining(['smtp.smtp_password', 'core.internal_api_secret_key', 'secrets.backend_kwargs', 'webserver.secret_key']),
    );
  });

  test('each is a key its Airflow defines', () => {
    for (const generation of [AirflowGeneration.AIRFLOW_2, AirflowGeneration.AIRFLOW_3]) {
      for (const key of generation.sensitiveConfigKeys) expect(generation.configKeys[key]).toBeDefined();
    }
  });

  test('Airflow flags every secret option the library passes itself, so no hand-kept list is needed', () => {
    const both = [...AirflowGeneration.AIRFLOW_2.sensitiveConfigKeys, ...AirflowGeneration.AIRFLOW_3.sensitiveConfigKeys];
    for (const key of LIBRARY_SECRET_CONFIG_KEYS) expect(both).toContain(key);
  });

  test('every AIRFLOW__ variable the library fills from a Secret sets an option Airflow flags', () => {
    const names = new Set<string>();
    for (const props of [{}, { celery: {} }, { image: 'apache/airflow:2.11.0' }]) {
      const objects = synthAirflow(new AirflowChart(Testing.app(), 'airflow', props), isAirflow2(props));
      const visit = (node: unknown): void => {
        if (Array.isArray(node)) node.forEach(visit);
        else if (node && typeof node === 'object') {
          const o = node as Record<string, any>;
          const fromSecret = o.valueFrom?.secretKeyRef !== undefined || (typeof o.value === 'string' && o.value.includes('$('));
          if (typeof o.name === 'string' && o.name.startsWith('AIRFLOW__') && fromSecret) names.add(o.name);
          Object.values(o).forEach(visit);
        }
      };
      visit(objects);
    }
    expect([...names].sort()).toEqual([
      'AIRFLOW__API_AUTH__JWT_SECRET',
      'AIRFLOW__API__SECRET_KEY',
      'AIRFLOW__CELERY__BROKER_URL',
      'AIRFLOW__CELERY__RESULT_BACKEND',
      'AIRFLOW__CORE__FERNET_KEY',
      'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN',
      'AIRFLOW__WEBSERVER__SECRET_KEY',
    ]);
    for (const name of names) expect([name, isSecretConfigKey(airflowConfigKeyOfEnv(name)!)]).toEqual([name, true]);
  });

  test('a deprecated name of a sensitive option is one too; the _cmd and _secret indirections are not', () => {
    expect(isSecretConfigKey('core.sql_alchemy_conn')).toBe(true);
    expect(isSecretConfigKey('Secrets.Backend_Kwargs')).toBe(true);
    expect(isSecretConfigKey('secrets.backend_kwargs_cmd')).toBe(false);
    expect(isSecretConfigKey('database.sql_alchemy_conn_secret')).toBe(false);
    expect(isSecretConfigKey('core.parallelism')).toBe(false);
    expect(secretConfigKeys().has('webserver.secret_key')).toBe(true);
  });
});

describe('literal environment values', () => {
  test('AIRFLOW__SECTION__KEY names the option Airflow reads, split at the first "__"', () => {
    expect(airflowConfigKeyOfEnv('AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__SENTINEL_KWARGS')).toBe('celery_broker_transport_options.sentinel_kwargs');
    expect(airflowConfigKeyOfEnv('AIRFLOW__SECRETS__BACKEND_KWARGS')).toBe('secrets.backend_kwargs');
    expect(airflowConfigKeyOfEnv('AIRFLOW_HOME')).toBeUndefined();
    expect(airflowConfigKeyOfEnv('AIRFLOW_CONN_MY_DB')).toBeUndefined();
  });

  test('a URL with a password is credentials; one whose password is a $(VAR) reference is not', () => {
    expect(hasUrlCredentials('postgresql://u:pass@h/db')).toBe(true);
    expect(hasUrlCredentials('redis://:s3cret@redis:6379/0')).toBe(true);
    expect(hasUrlCredentials('see https://user:pw@example.com/x for details')).toBe(true);
    expect(hasUrlCredentials('postgresql://u:$(DB_PASSWORD)@h/db')).toBe(false);
    expect(hasUrlCredentials('postgresql://u@h/db')).toBe(false);
    expect(hasUrlCredentials('https://example.com:8443/path')).toBe(false);
    expect(hasUrlCredentials('http://user:@host/')).toBe(false);
  });

  test('the refusals name the property, never show the value, and point to secretKeyRef', () => {
    const scope = () => new Construct(testChart(), 'pod');
    const sensitive = validationError(() => checkLiteralEnvValue(scope(), 'env["AIRFLOW__SECRETS__BACKEND_KWARGS"]', 'AIRFLOW__SECRETS__BACKEND_KWARGS', '{"token": "t0ken"}'));
    expect(sensitive.message).toBe(
      'Construct at "test/pod": property "env["AIRFLOW__SECRETS__BACKEND_KWARGS"]" received "(value not shown)"; ' +
        'allowed: a reference for "AIRFLOW__SECRETS__BACKEND_KWARGS": it sets secrets.backend_kwargs, which Airflow marks sensitive, and a literal puts the secret in the YAML. ' +
        'Pass it as the variable AIRFLOW__SECRETS__BACKEND_KWARGS read from a Secret: the pod options\' env { AIRFLOW__SECRETS__BACKEND_KWARGS: EnvValue.fromSecret({ name, key }) } (valueFrom.secretKeyRef); ' +
        'or have Airflow fetch it with config { secrets: { backend_kwargs_cmd: "<command>" } } or { secrets: { backend_kwargs_secret: "<secrets backend key>" } } ' +
        '(AIRFLOW__SECRETS__BACKEND_KWARGS_CMD / AIRFLOW__SECRETS__BACKEND_KWARGS_SECRET).',
    );
    const url = validationError(() => checkLiteralEnvValue(scope(), 'env["TEAM_DB"]', 'TEAM_DB', 'postgresql://u:hunter2@h/db'));
    expect(url.message).toMatch(/^Construct at "test\/pod": property "env\["TEAM_DB"\]" received "\(value not shown\)"; allowed: a value without credentials: "TEAM_DB" holds a URL with a password/);
    expect(url.message).toMatch(/EnvValue\.fromSecret\(\{ name, key \}\) \(valueFrom\.secretKeyRef\)/);
    for (const e of [sensitive, url]) expect(e.message).not.toMatch(/t0ken|hunter2/);
  });

  test('EnvValue.toEnvVar applies them wherever a literal is turned into an env entry', () => {
    const scope = new Construct(testChart(), 'pod');
    expect(() => EnvValue.fromValue('amqp://guest:guest@rabbit:5672//').toEnvVar(scope, 'env', 'BROKER')).toThrow(/holds a URL with a password/);
    expect(() => EnvValue.fromValue('https://sentry.example.com/1').toEnvVar(scope, 'env', 'AIRFLOW__SENTRY__SENTRY_DSN')).toThrow(/sentry\.sentry_dsn, which Airflow marks sensitive/);
    expect(EnvValue.fromValue('https://example.com/x').toEnvVar(scope, 'env', 'HOMEPAGE')).toEqual({ name: 'HOMEPAGE', value: 'https://example.com/x' });
  });
});
