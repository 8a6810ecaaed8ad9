import { IConstruct } from 'constructs';
import { AirflowGeneration } from './airflow-generation';
import { AIRFLOW_CONFIG_DEPRECATED_ALIASES } from './data/airflow-config-keys';
import { invalid } from './errors';

let secretKeys: ReadonlySet<string> | undefined;

/**
 * Every option that holds a secret, `section.key` in lowercase: those Airflow 2 or Airflow 3 marks
 * `sensitive: true` (see {@link AirflowGeneration.sensitiveConfigKeys}), and the deprecated names Airflow
 * reads them under (`core.sql_alchemy_conn` for `database.sql_alchemy_conn`). Both majors count: a secret
 * stays a secret in a section the other major reads.
 */
export function secretConfigKeys(): ReadonlySet<string> {
  if (!secretKeys) {
    const keys = new Set([...AirflowGeneration.AIRFLOW_2.sensitiveConfigKeys, ...AirflowGeneration.AIRFLOW_3.sensitiveConfigKeys]);
    for (const alias of AIRFLOW_CONFIG_DEPRECATED_ALIASES) {
      if (alias.old.endsWith('.*')) {
        const [oldSection, newSection] = [alias.old.slice(0, -2), alias.new.split('.')[0]];
        for (const key of [...keys].filter((k) => k.startsWith(`${newSection}.`))) keys.add(`${oldSection}${key.slice(newSection.length)}`);
      } else if (keys.has(alias.new)) {
        keys.add(alias.old);
      }
    }
    secretKeys = keys;
  }
  return secretKeys;
}

/** Whether the option `section.key` holds a secret (see {@link secretConfigKeys}). */
export function isSecretConfigKey(name: string): boolean {
  return secretConfigKeys().has(name.toLowerCase());
}

/**
 * The option an `AIRFLOW__SECTION__KEY` variable sets, as `section.key` in lowercase (split at the first `__`
 * after the prefix, as Airflow does); undefined for any other name.
 */
export function airflowConfigKeyOfEnv(name: string): string | undefined {
  const match = /^AIRFLOW__([A-Za-z0-9_]+?)__([A-Za-z0-9_]+)$/.exec(name);
  return match ? `${match[1].toLowerCase()}.${match[2].toLowerCase()}` : undefined;
}

/** `scheme://user:password@`: group 1 is the password. */
const URL_CREDENTIALS = /[a-z][a-z0-9+.-]*:\/\/[^\s/:@'"]*:([^\s/@'"]*)@/gi;
/** A `$(VAR)` reference, which the kubelet expands from the container's other variables. */
const ENV_REFERENCE = /\$\([A-Za-z_][A-Za-z0-9_]*\)/g;

/**
 * Whether `value` holds a URL with a password (`scheme://user:password@host`). A password made only of
 * `$(VAR)` references (expanded by the kubelet from a variable read from a Secret) is not one.
 */
export function hasUrlCredentials(value: string): boolean {
  for (const match of value.matchAll(URL_CREDENTIALS)) {
    if (match[1].replace(ENV_REFERENCE, '') !== '') return true;
  }
  return false;
}

/** How to pass the secret option `section.key` instead: its variable read from a Secret, or `_cmd` / `_secret`. */
export function secretConfigAdvice(name: string): string {
  const [section, key] = [name.slice(0, name.indexOf('.')), name.slice(name.indexOf('.') + 1)];
  const variable = `AIRFLOW__${section.toUpperCase()}__${key.toUpperCase()}`;
  return (
    `Pass it as the variable ${variable} read from a Secret: the pod options' env ` +
    `{ ${variable}: EnvValue.fromSecret({ name, key }) } (valueFrom.secretKeyRef); or have Airflow fetch it ` +
    `with config { ${section}: { ${key}_cmd: "<command>" } } or { ${section}: { ${key}_secret: "<secrets backend key>" } } ` +
    `(${variable}_CMD / ${variable}_SECRET).`
  );
}

/**
 * Refuses a literal environment value that holds a secret, in the name of `scope`: a value for an
 * `AIRFLOW__SECTION__KEY` whose option holds a secret ({@link isSecretConfigKey}), or any value holding a
 * URL with a password ({@link hasUrlCredentials}). The value is never shown.
 */
export function checkLiteralEnvValue(scope: IConstruct, property: string, name: string, value: string): void {
  const option = airflowConfigKeyOfEnv(name);
  if (option !== undefined && isSecretConfigKey(option)) {
    invalid(
      scope,
      property,
      '(value not shown)',
      `a reference for "${name}": it sets ${option}, which Airflow marks sensitive, and a literal puts the secret in the YAML`,
      secretConfigAdvice(option),
    );
  }
  if (hasUrlCredentials(value)) {
    invalid(
      scope,
      property,
      '(value not shown)',
      `a value without credentials: "${name}" holds a URL with a password (scheme://user:password@host), which would be in the YAML`,
      'Read the whole value from a Secret with EnvValue.fromSecret({ name, key }) (valueFrom.secretKeyRef), ' +
        'or read the password alone into another variable that way and write $(THAT_VARIABLE) in its place.',
    );
  }
}
