// Shared facts and checks every box uses: validation errors and validators, names and labels, ports, Secret
// references, the Airflow image's facts and the Airflow generation (2 or 3). Imports nothing from lib/.
export * from './errors';
export * from './validators';
export * from './host-folders';
export * from './text';
export * from './lazy';
export * from './render-once';
export * from './labels';
export * from './ports';
export * from './airflow-image';
export * from './secret-key-ref';
export * from './registry';
export * from './pod-options';
export * from './container-security';
export * from './service';
export * from './resources';
export * from './deployment-strategy';
export * from './deployment';
export * from './scope';
export * from './airflow-generation';
export * from './sensitive-config';
export * from './props';
export * from './data/airflow-config-keys';
