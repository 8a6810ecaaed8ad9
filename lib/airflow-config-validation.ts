import { IConstruct } from 'constructs';

/** Airflow configuration as `{ section: { key: value } }`, e.g. `{ core: { parallelism: 16 } }`. */
export type AirflowConfigValues = Record<string, Record<string, string | number | boolean>>;

/**
 * Checks every `section.key` against the keys Airflow itself defines for that major version.
 * STUB: to be implemented (issue 6); must throw AirflowCdk8sValidationError via `invalid()`.
 */
export function validateAirflowConfig(
  _scope: IConstruct,
  _property: string,
  _airflowMajorVersion: 2 | 3,
  _config: AirflowConfigValues,
): void {}
