import { Lazy, Yaml } from 'cdk8s';
import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import {
  AIRFLOW_CONFIG_DEPRECATED_ALIASES,
  AIRFLOW_HOME,
  AirflowGeneration,
  AirflowVersion,
  Components,
  IPodSpecSource,
  airflowLabels,
  hasUrlCredentials,
  invalid,
  isSecretConfigKey,
  registerPodSpecSource,
  secretConfigAdvice,
  sha256,
  validateDnsSubdomain,
  refuseUnknownProps,
} from '../core';
import { AirflowConfigValues, validateAirflowConfig } from './airflow-config-keys';

/** Where every Airflow container finds `airflow.cfg` (`$AIRFLOW_HOME/airflow.cfg` of the official image). */
export const AIRFLOW_CFG_PATH = `${AIRFLOW_HOME}/airflow.cfg`;

/** `expose_config` of the UI (`[api]` on Airflow 3, `[webserver]` on Airflow 2). */
const EXPOSE_CONFIG_KEYS = ['api.expose_config', 'webserver.expose_config'];
/** What Airflow's `getboolean` reads as true (airflow/configuration.py). */
const TRUE_VALUES = ['t', 'true', '1'];

/** Where the scheduler finds the worker pod template (`[kubernetes_executor] pod_template_file`). */
export const POD_TEMPLATE_FILE_PATH = `${AIRFLOW_HOME}/pod_templates/pod_template_file.yaml`;

/** The ConfigMap key of the rendered `airflow.cfg`. */
export const AIRFLOW_CFG_KEY = 'airflow.cfg';

/** The ConfigMap key of the worker pod template. */
export const POD_TEMPLATE_FILE_KEY = 'pod_template_file.yaml';

/** The pod-spec volume name of the configuration ConfigMap. */
export const AIRFLOW_CONFIG_VOLUME_NAME = 'airflow-config';

/** The pod-template annotation whose change rolls the pods when the configuration changes. */
export const CONFIG_CHECKSUM_ANNOTATION = 'checksum/airflow-config';

/**
 * The secret options the library passes itself, as `AIRFLOW__SECTION__KEY` variables read from Secrets (the
 * metadata database, the fernet key, the UI's secret key, the JWT secret, the Celery broker and result
 * backend). Like every option Airflow marks sensitive ({@link isSecretConfigKey}), they never appear in
 * `airflow.cfg`; a test checks that Airflow's flags cover each of them.
 */
export const LIBRARY_SECRET_CONFIG_KEYS: readonly string[] = [
  'api.secret_key',
  'api_auth.jwt_secret',
  'celery.broker_url',
  'celery.result_backend',
  'core.fernet_key',
  'database.sql_alchemy_conn',
  'database.sql_alchemy_conn_async',
  'webserver.secret_key',
];

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Props for {@link AirflowConfiguration}. */
export interface AirflowConfigurationProps {
  /** The Airflow generation, whose configuration keys the values are checked against. */
  readonly generation: AirflowGeneration;

  /**
   * The Airflow release of the image: the values are checked against the keys that release defines (3.1.3
   * refuses `[core] multi_team`, added in 3.2.0).
   * @default - the generation's default release (`generation.defaultVersion`: 3.2.2, 2.11.0)
   */
  readonly airflowVersion?: AirflowVersion;

  /**
   * The options the library sets itself (executor, folders, the pod template...). The user may not set
   * these in `config`: each is decided by a prop, or follows from how the deployment is built.
   */
  readonly managed: AirflowConfigValues;

  /**
   * For managed options decided by a prop, that prop's name (`{ 'core.parallelism': 'parallelism' }`), so
   * that an error can tell the user where to set it instead.
   * @default - no hints
   */
  readonly managedByProp?: Record<string, string>;

  /**
   * The user's own options, `{ section: { key: value } }`.
   * @default - none
   */
  readonly config?: AirflowConfigValues;

  /**
   * Options the library chooses but the user may change in `config` (e.g. `[logging] colored_console_log`).
   * @default - none
   */
  readonly defaults?: AirflowConfigValues;

  /**
   * Options the user may not set, `section.key` -> what to do instead (a prop that manages it, or why the
   * deployment cannot follow it).
   * @default - none
   */
  readonly refused?: Record<string, string>;

  /**
   * The worker pod template (a Pod manifest as plain JSON), stored beside `airflow.cfg`; it can also be set
   * later with {@link AirflowConfiguration.setWorkerPodTemplate}. It is rendered at synth.
   * @default - none until setWorkerPodTemplate is called; synth fails without one
   */
  readonly podTemplate?: Record<string, unknown>;

  /**
   * The ConfigMap's name.
   * @default AirflowConfiguration.DEFAULT_NAME ("airflow-config")
   */
  readonly name?: string;

  /**
   * The name of the user's property in error messages.
   * @default "config"
   */
  readonly configProperty?: string;
}

/**
 * Airflow's configuration, in one place: the ConfigMap `airflow-config` holding `airflow.cfg` (the library's
 * options and the user's, rendered with sorted sections and keys) and the worker pod template. Every Airflow
 * container mounts `airflow.cfg` at `/opt/airflow/airflow.cfg`; secrets are never in it.
 */
export class AirflowConfiguration extends Construct implements IPodSpecSource {
  /** The ConfigMap's default name. */
  public static readonly DEFAULT_NAME = 'airflow-config';

  /** The ConfigMap's name. */
  public readonly name: string;

  /** The ConfigMap. */
  public readonly configMap: k8s.KubeConfigMap;

  private readonly generation: AirflowGeneration;
  private readonly version: AirflowVersion;
  private readonly property: string;
  private readonly user: AirflowConfigValues;
  private readonly managedByProp: Record<string, string>;
  private managed: AirflowConfigValues;
  private defaults: AirflowConfigValues;

  private podTemplate: (() => Record<string, unknown>) | undefined;
  // The last template rendered and its YAML and checksum: every pod's checksum annotation asks for them at
  // synth, and YAML rendering is the costly part. Keyed by the template's JSON, so a change is never missed.
  private rendered: { json: string; cfg: string; yaml: string; checksum: string } | undefined;

  constructor(scope: Construct, id: string, props: AirflowConfigurationProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'AirflowConfigurationProps');
    this.name = validateDnsSubdomain(this, 'name', props.name ?? AirflowConfiguration.DEFAULT_NAME);
    const property = props.configProperty ?? 'config';
    const user = props.config ?? {};
    this.checkShape(property, user);
    this.checkShape('managed', props.managed);
    this.checkShape('defaults', props.defaults ?? {});

    for (const [section, keys] of Object.entries(user)) {
      for (const key of Object.keys(keys)) {
        const name = `${section}.${key}`;
        if (isSecretConfigKey(name)) {
          const option = name.toLowerCase();
          const current = AIRFLOW_CONFIG_DEPRECATED_ALIASES.find((a) => a.old === option)?.new ?? option;
          invalid(
            this,
            `${property}.${name}`,
            '(value not shown)',
            `an option that is not a secret: Airflow marks ${option} sensitive, and airflow.cfg is a ConfigMap ` +
              '(readable by anyone who can read ConfigMaps, and part of the reviewed YAML)',
            LIBRARY_SECRET_CONFIG_KEYS.includes(current)
              ? `The library passes ${current} itself from a Secret: put the value in that Secret (see AirflowSecrets).`
              : secretConfigAdvice(current),
          );
        }
        const value = keys[key];
        if (typeof value === 'string' && hasUrlCredentials(value)) {
          invalid(
            this,
            `${property}.${name}`,
            '(value not shown)',
            `a value without credentials: it holds a URL with a password (scheme://user:password@host), and airflow.cfg is a ConfigMap ` +
              '(readable by anyone who can read ConfigMaps, and part of the reviewed YAML)',
            secretConfigAdvice(name.toLowerCase()),
          );
        }
        const refusal = props.refused?.[name];
        if (refusal !== undefined) {
          invalid(this, `${property}.${name}`, keys[key], `an option the deployment can follow; not ${name}: ${refusal}`);
        }
        if (props.managed[section]?.[key] !== undefined) {
          const prop = props.managedByProp?.[name];
          invalid(
            this,
            `${property}.${name}`,
            keys[key],
            `an option the library does not set itself; it sets ${name} = ${render(props.managed[section][key])}`,
            prop ? `Use the "${prop}" prop instead.` : 'It follows from how the deployment is built and cannot be changed here.',
          );
        }
      }
    }

    const version = props.airflowVersion ?? props.generation.defaultVersion;
    if (version.major !== props.generation.major) {
      invalid(this, 'airflowVersion', version.toString(), `a release of ${props.generation.name}, the generation given`);
    }
    validateAirflowConfig(this, property, props.generation, user, version);
    // After the keys' check, so that [webserver] on Airflow 3 hears where the option moved.
    for (const [section, keys] of Object.entries(user)) {
      for (const [key, value] of Object.entries(keys)) {
        const name = `${section}.${key}`;
        if (EXPOSE_CONFIG_KEYS.includes(name.toLowerCase()) && TRUE_VALUES.includes(String(value).trim().toLowerCase())) {
          invalid(
            this,
            `${property}.${name}`,
            value,
            'false (the default) or "non-sensitive-only": with true the UI and the REST API show every option with its ' +
              "value to any user allowed to read the configuration, the secrets the library passes from Secrets included (Airflow's " +
              'config route: conf.as_dict(display_sensitive=True)): the fernet key, the JWT secret, the database password',
            `Set ${name} to "non-sensitive-only" to show the configuration without its secrets.`,
          );
        }
      }
    }
    validateAirflowConfig(this, 'managed', props.generation, props.managed, version);
    validateAirflowConfig(this, 'defaults', props.generation, props.defaults ?? {}, version);

    this.generation = props.generation;
    this.version = version;
    this.property = property;
    this.user = user;
    this.managedByProp = { ...props.managedByProp };
    this.managed = props.managed;
    this.defaults = props.defaults ?? {};
    const template = props.podTemplate;
    this.podTemplate = template === undefined ? undefined : () => template;
    registerPodSpecSource(this);

    this.configMap = new k8s.KubeConfigMap(this, 'config-map', {
      metadata: {
        name: this.name,
        labels: airflowLabels(Components.CONFIG),
      },
      data: {
        [AIRFLOW_CFG_KEY]: Lazy.any({ produce: () => this.airflowCfg }),
        [POD_TEMPLATE_FILE_KEY]: Lazy.any({ produce: () => this.podTemplateYaml }),
      },
    });
  }

  /** All options in `airflow.cfg` as they are now: the library's (and its features') and the user's. */
  public get values(): AirflowConfigValues {
    return mergeConfig(mergeConfig(this.defaults, this.user), this.managed);
  }

  /** `airflow.cfg` as it is now, rendered. */
  public get airflowCfg(): string {
    return renderAirflowCfg(this.values);
  }

  /**
   * Options a feature sets (`feature` names it in messages, e.g. "metrics"): checked against Airflow's keys,
   * refused where the user's `config` or another feature sets the same option.
   */
  public addManaged(values: AirflowConfigValues, feature: string): void {
    this.checkShape(feature, values);
    validateAirflowConfig(this, feature, this.generation, values, this.version);
    for (const [section, keys] of Object.entries(values)) {
      for (const [key, value] of Object.entries(keys)) {
        const name = `${section}.${key}`;
        const user = this.user[section]?.[key];
        if (user !== undefined) {
          const prop = this.managedByProp[name] ?? feature;
          invalid(
            this,
            `${this.property}.${name}`,
            user,
            `an option the library does not set itself; it sets ${name} = ${render(value)}`,
            `Use the "${prop}" prop instead.`,
          );
        }
        const set = this.managed[section]?.[key];
        if (set !== undefined && set !== value) {
          invalid(this, `${feature}.${name}`, value, `the value another part of the deployment sets (${render(set)}), or another option`);
        }
      }
    }
    this.managed = mergeConfig(this.managed, values);
  }

  /** Options a feature chooses and the user may change in `config`. */
  public addDefaults(values: AirflowConfigValues, feature: string): void {
    this.checkShape(feature, values);
    validateAirflowConfig(this, feature, this.generation, values, this.version);
    this.defaults = mergeConfig(this.defaults, values);
  }

  /**
   * Sets an option the control plane itself manages to a new value (e.g. `[core] executor` when a feature adds
   * an executor); the user could not set it anyway.
   */
  public setManaged(section: string, key: string, value: string | number | boolean): void {
    this.managed = mergeConfig(this.managed, { [section]: { [key]: value } });
  }

  /**
   * Sets the worker pod template: a function returning the Pod manifest, called at synth, so that whatever
   * changes it until then (volumes added later, pod options) is in the ConfigMap.
   */
  public setWorkerPodTemplate(template: () => Record<string, unknown>): void {
    this.podTemplate = template;
  }

  /** The worker pod template's pod spec (for the namespace's Pod Security level). */
  public podSpecs(): unknown[] {
    return this.podTemplate ? [this.podTemplate().spec] : [];
  }

  /** The worker pod template, rendered as YAML now. */
  public get podTemplateYaml(): string {
    return this.render().yaml;
  }

  /** sha256 of the ConfigMap's content as it is now, for the {@link CONFIG_CHECKSUM_ANNOTATION} of pod templates. */
  public get checksum(): string {
    return this.render().checksum;
  }

  private render(): { yaml: string; checksum: string } {
    if (!this.podTemplate) {
      invalid(this, 'podTemplate', undefined, 'a worker pod template (props.podTemplate or setWorkerPodTemplate)');
    }
    const template = this.podTemplate();
    const cfg = this.airflowCfg;
    const json = JSON.stringify(template);
    if (this.rendered?.json !== json || this.rendered.cfg !== cfg) {
      const yaml = Yaml.stringify(template);
      this.rendered = { json, cfg, yaml, checksum: sha256(`${AIRFLOW_CFG_KEY}\n${cfg}\n${POD_TEMPLATE_FILE_KEY}\n${yaml}`) };
    }
    return this.rendered;
  }

  /** The checksum as a value resolved at synth, for pod template annotations built before the template is final. */
  public checksumAtSynth(): string {
    return Lazy.any({ produce: () => this.checksum });
  }

  /** The value of an option in `airflow.cfg`, rendered as Airflow reads it; undefined when not set. */
  public get(section: string, key: string): string | undefined {
    const value = this.values[section]?.[key];
    return value === undefined ? undefined : render(value);
  }

  /** The pod-spec volume of the ConfigMap, named {@link AIRFLOW_CONFIG_VOLUME_NAME}. */
  public podVolume(): k8s.Volume {
    return { name: AIRFLOW_CONFIG_VOLUME_NAME, configMap: { name: this.name } };
  }

  /** The mount of `airflow.cfg` at {@link AIRFLOW_CFG_PATH}, read-only, by subPath. */
  public airflowCfgMount(): k8s.VolumeMount {
    return { name: AIRFLOW_CONFIG_VOLUME_NAME, mountPath: AIRFLOW_CFG_PATH, subPath: AIRFLOW_CFG_KEY, readOnly: true };
  }

  /** The mount of the worker pod template at {@link POD_TEMPLATE_FILE_PATH}, read-only, by subPath. */
  public podTemplateMount(): k8s.VolumeMount {
    return {
      name: AIRFLOW_CONFIG_VOLUME_NAME,
      mountPath: POD_TEMPLATE_FILE_PATH,
      subPath: POD_TEMPLATE_FILE_KEY,
      readOnly: true,
    };
  }

  private checkShape(property: string, config: AirflowConfigValues): void {
    if (typeof config !== 'object' || config === null || Array.isArray(config)) {
      invalid(this, property, config, 'an object of sections, { section: { key: value } }');
    }
    for (const [section, keys] of Object.entries(config)) {
      if (!NAME.test(section)) {
        invalid(this, `${property}.${section}`, section, "a section name of letters, digits, '_', '.' and '-'");
      }
      if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) {
        invalid(this, `${property}.${section}`, keys, 'an object of options, { key: value }');
      }
      for (const [key, value] of Object.entries(keys)) {
        if (!NAME.test(key)) {
          invalid(this, `${property}.${section}.${key}`, key, "an option name of letters, digits, '_', '.' and '-'");
        }
        const ok =
          (typeof value === 'string' && !/[\r\n]/.test(value)) ||
          typeof value === 'boolean' ||
          (typeof value === 'number' && Number.isFinite(value));
        if (!ok) {
          invalid(
            this,
            `${property}.${section}.${key}`,
            value,
            'a string on one line, a finite number or a boolean',
          );
        }
      }
    }
  }
}

/** `a` with the options of `b` added (`b` wins where both set an option). */
export function mergeConfig(a: AirflowConfigValues, b: AirflowConfigValues): AirflowConfigValues {
  const out: Record<string, Record<string, string | number | boolean>> = {};
  for (const source of [a, b]) {
    for (const [section, keys] of Object.entries(source)) {
      out[section] = { ...(out[section] ?? {}), ...keys };
    }
  }
  return out;
}

/**
 * Renders `airflow.cfg`: sections and keys sorted, booleans as Airflow writes them (`True`/`False`), and `%`
 * doubled (Airflow's config parser interpolates `%(name)s`; `%%` is a literal `%`).
 */
export function renderAirflowCfg(config: AirflowConfigValues): string {
  const lines = [
    '# Rendered by airflow-cdk8s. Secrets are not in this file: they come from Secrets as AIRFLOW__* env vars.',
  ];
  for (const section of Object.keys(config).sort()) {
    const keys = config[section];
    const names = Object.keys(keys).sort();
    if (names.length === 0) continue;
    lines.push('', `[${section}]`);
    for (const key of names) {
      lines.push(`${key} = ${render(keys[key]).replace(/%/g, '%%')}`);
    }
  }
  return lines.join('\n') + '\n';
}

function render(value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return String(value);
}
