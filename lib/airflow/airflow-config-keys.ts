import { IConstruct } from 'constructs';
import { AIRFLOW_CONFIG_DEPRECATED_ALIASES, AirflowGeneration, AirflowVersion, closest, invalid } from '../core';

/** Airflow configuration as `{ section: { key: value } }`, e.g. `{ core: { parallelism: 16 } }`. */
export type AirflowConfigValues = Record<string, Record<string, string | number | boolean>>;

/** What Airflow itself says about one configuration option (from its `config.yml` / `provider.yaml`). */
export interface AirflowConfigKeyInfo {
  /** `section.key`, e.g. `core.parallelism`. */
  readonly name: string;
  /** The section, e.g. `core`. */
  readonly section: string;
  /** The key, e.g. `parallelism`. */
  readonly key: string;
  /**
   * The Airflow version that added the option, where Airflow records it.
   * @default - undefined where Airflow records none
   */
  readonly versionAdded?: string;
  /**
   * The default as Airflow's config.yml writes it.
   * @default - undefined where there is none
   */
  readonly default?: string;
}

/** A deprecated option name Airflow still reads (with a warning) under its old name. */
export interface AirflowConfigAlias {
  /** The Airflow major version whose parser knows the alias. */
  readonly major: number;
  /** The old `section.key` (`section.*` renames a whole section). */
  readonly old: string;
  /** The new `section.key`. */
  readonly new: string;
  /** The version that deprecated the old name. */
  readonly since: string;
}

/** The Airflow major versions the library knows the configuration of. */
export type AirflowMajorVersion = 2 | 3;

interface Index {
  readonly keys: ReadonlyMap<string, readonly [string | null, string | null]>;
  readonly sections: ReadonlyMap<string, string[]>;
  /** key name -> sections defining it, to spot a key put under the wrong section. */
  readonly byKeyName: ReadonlyMap<string, string[]>;
}

const indexes = new Map<string, Index>();

/**
 * The keys of one release (`version`), or of every release of the generation when `version` is undefined
 * (the sections of the other generation, the public listings by major version).
 */
function indexFor(generation: AirflowGeneration, version?: AirflowVersion): Index {
  const cacheKey = `${generation.major}/${version ?? '*'}`;
  let index = indexes.get(cacheKey);
  if (!index) {
    const keys = new Map(
      Object.entries(generation.configKeys).filter(([name]) => version === undefined || generation.configKeyAt(name, version).defined),
    );
    const sections = new Map<string, string[]>();
    const byKeyName = new Map<string, string[]>();
    for (const name of keys.keys()) {
      const [section, key] = splitName(name);
      (sections.get(section) ?? sections.set(section, []).get(section)!).push(key);
      (byKeyName.get(key) ?? byKeyName.set(key, []).get(key)!).push(section);
    }
    index = { keys, sections, byKeyName };
    indexes.set(cacheKey, index);
  }
  return index;
}

function splitName(name: string): [string, string] {
  const dot = name.indexOf('.');
  return [name.slice(0, dot), name.slice(dot + 1)];
}

function generationOf(major: number): AirflowGeneration {
  const generation = AirflowGeneration.forMajor(major);
  if (!generation) {
    throw new Error(`Airflow configuration data exists for major versions 2 and 3 only, not ${JSON.stringify(major)}`);
  }
  return generation;
}

/** The sections Airflow `major` defines (core, its bundled providers' sections), sorted. */
export function airflowConfigSections(major: AirflowMajorVersion): string[] {
  return [...indexFor(generationOf(major)).sections.keys()].sort();
}

/**
 * Every `section.key` Airflow `major` defines, sorted; with `section`, only that section's; with `version`
 * (`"3.1.3"`), only those that release defines (without, those of any release of `major` the library knows).
 */
export function airflowConfigKeys(major: AirflowMajorVersion, section?: string, version?: string): string[] {
  const all = [...indexFor(generationOf(major), version === undefined ? undefined : AirflowVersion.of(version)).keys.keys()];
  return (section === undefined ? all : all.filter((k) => k.startsWith(`${section}.`))).sort();
}

/** What Airflow `major` says about `section.key`; undefined when Airflow does not define it. */
export function airflowConfigKeyInfo(major: AirflowMajorVersion, name: string): AirflowConfigKeyInfo | undefined {
  const data = indexFor(generationOf(major)).keys.get(name);
  if (!data) return undefined;
  const [section, key] = splitName(name);
  return {
    name,
    section,
    key,
    ...(data[0] !== null ? { versionAdded: data[0] } : {}),
    ...(data[1] !== null ? { default: data[1] } : {}),
  };
}

/** Airflow's deprecated option names for `major` (old -> new, since). */
export function airflowConfigDeprecatedAliases(major: AirflowMajorVersion): AirflowConfigAlias[] {
  const generation = generationOf(major);
  return AIRFLOW_CONFIG_DEPRECATED_ALIASES.filter((a) => a.major === generation.major).map((a) => ({ ...a }));
}

/**
 * The option `name` was renamed to, following chains (a.b -> c.d -> e.f), looking first at the aliases of
 * `major` and then at those of earlier majors (Airflow 3 no longer reads most 2.x aliases, but the new
 * name is still the right advice).
 */
function renamedTo(generation: AirflowGeneration, version: AirflowVersion, name: string): { alias: AirflowConfigAlias; target: string } | undefined {
  const [section, key] = splitName(name);
  const find = (n: string): AirflowConfigAlias | undefined => {
    const [s] = splitName(n);
    for (const m of [generation.major, AirflowGeneration.AIRFLOW_2.major]) {
      const hit =
        AIRFLOW_CONFIG_DEPRECATED_ALIASES.find((a) => a.major === m && a.old === n) ??
        AIRFLOW_CONFIG_DEPRECATED_ALIASES.find((a) => a.major === m && a.old === `${s}.*`);
      if (hit) return hit;
    }
    return undefined;
  };
  const first = find(name);
  if (!first) return undefined;
  const rename = (alias: AirflowConfigAlias, n: string): string =>
    alias.old.endsWith('.*') ? `${splitName(alias.new)[0]}.${splitName(n)[1]}` : alias.new;
  let target = rename(first, `${section}.${key}`);
  const keys = indexFor(generation, version).keys;
  for (let hops = 0; hops < 5 && !keys.has(target); hops++) {
    const next = find(target);
    if (!next) break;
    target = rename(next, target);
  }
  return { alias: first, target };
}

/**
 * Keys of `[celery_broker_transport_options]` that Airflow does not list but passes on: Airflow's Celery
 * provider hands every key of that section to Celery as `broker_transport_options`
 * (providers/celery/.../executors/default_celery.py, `getsection("celery_broker_transport_options")`), and
 * kombu's Redis transport reads these (kombu 5.5 `kombu/transport/redis.py`, `Channel.from_transport_options`,
 * and its Sentinel transport's `master_name`, `min_other_sentinels`). Other names are refused: kombu would ignore
 * them without a word.
 */
export const KOMBU_REDIS_TRANSPORT_OPTIONS: readonly string[] = [
  'sep', 'ack_emulation', 'unacked_key', 'unacked_index_key', 'unacked_mutex_key', 'unacked_mutex_expire',
  'unacked_restore_limit', 'fanout_prefix', 'fanout_patterns', 'global_keyprefix', 'socket_timeout',
  'socket_connect_timeout', 'socket_keepalive', 'socket_keepalive_options', 'queue_order_strategy',
  'max_connections', 'health_check_interval', 'retry_on_timeout', 'priority_steps', 'master_name',
  'min_other_sentinels',
];

/**
 * The passed-on keys that are socket timeouts in seconds: kombu hands them to redis-py, which sets them on its
 * sockets (`socket.settimeout`), where 0 makes a socket non-blocking and a negative number or text fails at the
 * first connection. Airflow's `getsection` turns "10" into 10 and "true" into True (one second, as Python counts).
 */
const PASSED_ON_SECONDS = new Set(['socket_timeout', 'socket_connect_timeout']);

/** Keys a section takes beyond Airflow's own list, because Airflow passes the section on as it is. */
const PASSED_ON_KEYS: Readonly<Record<string, readonly string[]>> = {
  celery_broker_transport_options: KOMBU_REDIS_TRANSPORT_OPTIONS,
};

/** Sections that only the other generation defines, with where their options went. */
function otherGenerationSection(generation: AirflowGeneration, section: string): string | undefined {
  if (!indexFor(generation.other).sections.has(section) || indexFor(generation).sections.has(section)) return undefined;
  const movedTo = [
    ...new Set(
      AIRFLOW_CONFIG_DEPRECATED_ALIASES.filter((a) => a.major === generation.major && a.old.startsWith(`${section}.`)).map(
        (a) => splitName(a.new)[0],
      ),
    ),
  ].sort();
  return generation.foreignSectionNote(section, movedTo);
}

/**
 * Checks every `section.key` against the keys Airflow itself defines for that release (Airflow's `config.yml`
 * plus the provider sections shipped in the official image: celery, cncf.kubernetes, fab). On Airflow 3 the
 * release counts: 3.1 has 3.1's keys (from the 3.1 source bundle), 3.2 has 3.2's, a patch release has the
 * options backported to it (`version_added`); a release newer than the newest line the library knows is
 * checked against that line's keys.
 *
 * Errors (all thrown with {@link invalid}, so they name the construct, its path and the property):
 * - a section or key Airflow does not define: with "did you mean" (a deprecated name, the same key in
 *   another section, or the closest `section.key` by edit distance);
 * - a deprecated alias (Airflow would still read it with a warning): an error naming the new key, because
 *   a synth-time tool should not let a deprecation warning reach the pods' logs unseen;
 * - a section of the other major version, e.g. `[webserver]` on Airflow 3: says it was removed and where
 *   its options went;
 * - an option of a later release (`[core] multi_team` on 3.1.3: "was added in Airflow 3.2.0"), or one the
 *   release no longer has ("was removed in Airflow 3.2.0"), or one it deprecates (`version_deprecated`: read
 *   with a warning, refused like a deprecated alias);
 * - names not in lowercase, values that are not a string, number or boolean.
 *
 * `<key>_cmd` and `<key>_secret` (Airflow's indirections for reading a value from a command or a secrets
 * backend) are accepted for any key Airflow defines.
 */
export function validateAirflowConfig(
  scope: IConstruct,
  property: string,
  generation: AirflowGeneration,
  config: AirflowConfigValues,
  version: AirflowVersion = generation.defaultVersion,
): void {
  const major = generation.major;
  const index = indexFor(generation, version);
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    invalid(scope, property, config, 'an object of sections, each an object of keys: { core: { parallelism: 16 } }');
  }
  for (const [section, keys] of Object.entries(config)) {
    const sectionProperty = `${property}.${section}`;
    if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) {
      invalid(scope, sectionProperty, keys, `an object of ${JSON.stringify(section)} keys and their values, e.g. { parallelism: 16 }`);
    }
    if (section !== section.toLowerCase()) {
      invalid(
        scope,
        property,
        section,
        'a section name in lowercase, as in airflow.cfg',
        index.sections.has(section.toLowerCase()) ? `Did you mean ${JSON.stringify(section.toLowerCase())}?` : undefined,
      );
    }
    const sectionKnown = index.sections.has(section);
    const otherMajor = sectionKnown ? undefined : otherGenerationSection(generation, section);
    const sectionRenamed = sectionKnown ? undefined : AIRFLOW_CONFIG_DEPRECATED_ALIASES.find((a) => a.old === `${section}.*`);
    // A section of another release of this generation (a provider's new section): its keys say which release.
    const sectionOfAnotherRelease = !sectionKnown && indexFor(generation).sections.has(section);
    if (!sectionKnown && !otherMajor && !sectionRenamed && !sectionOfAnotherRelease) {
      const guess = closest(section, index.sections.keys());
      invalid(
        scope,
        property,
        section,
        `a section Airflow ${major} defines: ${[...index.sections.keys()].sort().join(', ')}`,
        guess ? `Did you mean ${JSON.stringify(guess)}?` : undefined,
      );
    }
    for (const [key, value] of Object.entries(keys)) {
      const name = `${section}.${key}`;
      const keyProperty = `${property}.${name}`;
      if (key !== key.toLowerCase()) {
        invalid(scope, sectionProperty, key, 'a key in lowercase, as in airflow.cfg', `Did you mean ${JSON.stringify(key.toLowerCase())}?`);
      }
      if (!['string', 'number', 'boolean'].includes(typeof value) || (typeof value === 'number' && !Number.isFinite(value))) {
        invalid(scope, keyProperty, value, 'a string, a finite number or a boolean (airflow.cfg values are text)');
      }
      const indirection = /^(.*)_(cmd|secret)$/.exec(key);
      const option = generation.configKeys[name] !== undefined || !indirection ? name : `${section}.${indirection[1]}`;
      if (index.keys.has(option)) {
        const deprecatedIn = generation.configKeyAt(option, version).deprecatedIn;
        if (deprecatedIn !== undefined) {
          invalid(
            scope,
            sectionProperty,
            key,
            `a current key of Airflow ${version}: "${option}" is deprecated since Airflow ${deprecatedIn} (version_deprecated in Airflow's config.yml) and Airflow reads it with a warning`,
            `Leave it out; Airflow's configuration reference for ${version} says what replaces it.`,
          );
        }
        continue;
      }
      if (sectionKnown && PASSED_ON_KEYS[section]?.includes(key)) {
        const seconds = typeof value === 'boolean' || String(value).trim() === '' ? NaN : Number(value);
        if (PASSED_ON_SECONDS.has(key) && !(Number.isFinite(seconds) && seconds > 0)) {
          invalid(
            scope,
            keyProperty,
            value,
            'a number of seconds greater than 0: kombu passes it to redis-py as its sockets\' timeout, where 0 makes a socket ' +
              'non-blocking and a negative number or text fails at the first connection to the broker',
          );
        }
        continue;
      }

      const renamed = renamedTo(generation, version, name);
      if (renamed && index.keys.has(renamed.target)) {
        const stillRead = renamed.alias.major === generation.major;
        invalid(
          scope,
          sectionProperty,
          key,
          stillRead
            ? `a current key of Airflow ${major}: "${name}" is a deprecated alias of "${renamed.target}" since Airflow ${renamed.alias.since}`
            : `a key Airflow ${major} defines: "${name}" was renamed to "${renamed.target}" in Airflow ${renamed.alias.since} and Airflow ${major} no longer reads the old name`,
          `Use ${JSON.stringify(renamed.target)} instead.`,
        );
      }
      if (otherMajor) {
        invalid(scope, sectionProperty, key, `a key of a section Airflow ${major} defines: ${otherMajor}`);
      }
      const at = generation.configKeyAt(option, version);
      if (at.missing === 'added later') {
        invalid(
          scope,
          sectionProperty,
          key,
          `a key Airflow ${version} defines: "${option}" was added in Airflow ${at.since}` +
            (at.provider ? ` (with the ${at.provider.replace(' ', ' provider ')} of its official image)` : '') +
            `, and the image is Airflow ${version}`,
          `Use an image of Airflow ${at.since} or newer, or leave the option out.`,
        );
      }
      if (at.missing === 'removed') {
        invalid(
          scope,
          sectionProperty,
          key,
          `a key Airflow ${version} defines: "${option}" was removed in Airflow ${at.removedIn}, and the image is Airflow ${version}`,
          'Leave the option out; Airflow\'s release notes of that version say what replaces it.',
        );
      }
      const elsewhere = (index.byKeyName.get(key) ?? []).map((s) => `${s}.${key}`);
      const passedOn = (PASSED_ON_KEYS[section] ?? []).map((k) => `${section}.${k}`);
      const guess = elsewhere.length > 0 ? elsewhere.join('" or "') : closest(name, [...index.keys.keys(), ...passedOn]);
      invalid(
        scope,
        sectionProperty,
        key,
        `a key of [${section}] that Airflow ${major} defines` +
          (sectionKnown ? ` (${index.sections.get(section)!.length} keys in ${version}; see airflowConfigKeys(${major}, ${JSON.stringify(section)}, ${JSON.stringify(version.toString())}))` : '') +
          (sectionKnown && PASSED_ON_KEYS[section] ? `, or one kombu's Redis transport reads, which Airflow passes on: ${PASSED_ON_KEYS[section].join(', ')}` : ''),
        guess ? `Did you mean "${guess}"?` : undefined,
      );
    }
  }
}
