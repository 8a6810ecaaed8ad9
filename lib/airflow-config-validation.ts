import { IConstruct } from 'constructs';
import {
  AIRFLOW_2_CONFIG_KEYS,
  AIRFLOW_3_CONFIG_KEYS,
  AIRFLOW_CONFIG_DEPRECATED_ALIASES,
  AirflowConfigKeyData,
} from './data/airflow-config-keys';
import { invalid } from './validation';

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

const KEYS: Record<AirflowMajorVersion, Readonly<Record<string, AirflowConfigKeyData>>> = {
  2: AIRFLOW_2_CONFIG_KEYS,
  3: AIRFLOW_3_CONFIG_KEYS,
};

interface Index {
  readonly keys: ReadonlyMap<string, AirflowConfigKeyData>;
  readonly sections: ReadonlyMap<string, string[]>;
  /** key name -> sections defining it, to spot a key put under the wrong section. */
  readonly byKeyName: ReadonlyMap<string, string[]>;
}

const indexes = new Map<AirflowMajorVersion, Index>();

function indexFor(major: AirflowMajorVersion): Index {
  let index = indexes.get(major);
  if (!index) {
    const keys = new Map(Object.entries(KEYS[major]));
    const sections = new Map<string, string[]>();
    const byKeyName = new Map<string, string[]>();
    for (const name of keys.keys()) {
      const [section, key] = splitName(name);
      (sections.get(section) ?? sections.set(section, []).get(section)!).push(key);
      (byKeyName.get(key) ?? byKeyName.set(key, []).get(key)!).push(section);
    }
    index = { keys, sections, byKeyName };
    indexes.set(major, index);
  }
  return index;
}

function splitName(name: string): [string, string] {
  const dot = name.indexOf('.');
  return [name.slice(0, dot), name.slice(dot + 1)];
}

function checkMajor(major: number): AirflowMajorVersion {
  if (major !== 2 && major !== 3) {
    throw new Error(`Airflow configuration data exists for major versions 2 and 3 only, not ${JSON.stringify(major)}`);
  }
  return major;
}

/** The sections Airflow `major` defines (core, its bundled providers' sections), sorted. */
export function airflowConfigSections(major: AirflowMajorVersion): string[] {
  return [...indexFor(checkMajor(major)).sections.keys()].sort();
}

/** Every `section.key` Airflow `major` defines, sorted; with `section`, only that section's. */
export function airflowConfigKeys(major: AirflowMajorVersion, section?: string): string[] {
  const all = [...indexFor(checkMajor(major)).keys.keys()];
  return (section === undefined ? all : all.filter((k) => k.startsWith(`${section}.`))).sort();
}

/** What Airflow `major` says about `section.key`; undefined when Airflow does not define it. */
export function airflowConfigKeyInfo(major: AirflowMajorVersion, name: string): AirflowConfigKeyInfo | undefined {
  const data = indexFor(checkMajor(major)).keys.get(name);
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
  return AIRFLOW_CONFIG_DEPRECATED_ALIASES.filter((a) => a.major === checkMajor(major)).map((a) => ({ ...a }));
}

/**
 * The option `name` was renamed to, following chains (a.b -> c.d -> e.f), looking first at the aliases of
 * `major` and then at those of earlier majors (Airflow 3 no longer reads most 2.x aliases, but the new
 * name is still the right advice).
 */
function renamedTo(major: AirflowMajorVersion, name: string): { alias: AirflowConfigAlias; target: string } | undefined {
  const [section, key] = splitName(name);
  const find = (n: string): AirflowConfigAlias | undefined => {
    const [s] = splitName(n);
    for (const m of [major, 2]) {
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
  const keys = indexFor(major).keys;
  for (let hops = 0; hops < 5 && !keys.has(target); hops++) {
    const next = find(target);
    if (!next) break;
    target = rename(next, target);
  }
  return { alias: first, target };
}

/** Sections that only the other major version defines, with where their options went. */
function otherMajorSection(major: AirflowMajorVersion, section: string): string | undefined {
  const other: AirflowMajorVersion = major === 3 ? 2 : 3;
  if (!indexFor(other).sections.has(section) || indexFor(major).sections.has(section)) return undefined;
  if (major === 3) {
    const targets = [
      ...new Set(
        AIRFLOW_CONFIG_DEPRECATED_ALIASES.filter((a) => a.major === 3 && a.old.startsWith(`${section}.`)).map(
          (a) => splitName(a.new)[0],
        ),
      ),
    ].sort();
    return (
      `the [${section}] section exists in Airflow 2 only: Airflow 3 removed it` +
      (targets.length > 0
        ? ` and moved its options to ${targets.map((t) => `[${t}]`).join(' and ')}` +
          (section === 'webserver' ? ' (the API server replaces the webserver; FAB UI settings live in [fab])' : '')
        : ' without a replacement section')
    );
  }
  return `the [${section}] section exists from Airflow 3 on; Airflow 2 does not read it`;
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** The closest candidate to `value`, if it is close enough to be a typo. */
export function closest(value: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(value, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(value.length / 4)) ? best : undefined;
}

/**
 * Checks every `section.key` against the keys Airflow itself defines for that major version (Airflow's
 * `config.yml` plus the provider sections shipped in the official image: celery, cncf.kubernetes, fab).
 *
 * Errors (all thrown with {@link invalid}, so they name the construct, its path and the property):
 * - a section or key Airflow does not define: with "did you mean" (a deprecated name, the same key in
 *   another section, or the closest `section.key` by edit distance);
 * - a deprecated alias (Airflow would still read it with a warning): an error naming the new key, because
 *   a synth-time tool should not let a deprecation warning reach the pods' logs unseen;
 * - a section of the other major version, e.g. `[webserver]` on Airflow 3: says it was removed and where
 *   its options went;
 * - names not in lowercase, values that are not a string, number or boolean.
 *
 * `<key>_cmd` and `<key>_secret` (Airflow's indirections for reading a value from a command or a secrets
 * backend) are accepted for any key Airflow defines.
 */
export function validateAirflowConfig(
  scope: IConstruct,
  property: string,
  airflowMajorVersion: AirflowMajorVersion,
  config: AirflowConfigValues,
): void {
  const major = checkMajor(airflowMajorVersion);
  const index = indexFor(major);
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
    const otherMajor = sectionKnown ? undefined : otherMajorSection(major, section);
    const sectionRenamed = sectionKnown ? undefined : AIRFLOW_CONFIG_DEPRECATED_ALIASES.find((a) => a.old === `${section}.*`);
    if (!sectionKnown && !otherMajor && !sectionRenamed) {
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
      if (index.keys.has(name)) continue;
      const indirection = /^(.*)_(cmd|secret)$/.exec(key);
      if (indirection && index.keys.has(`${section}.${indirection[1]}`)) continue;

      const renamed = renamedTo(major, name);
      if (renamed && index.keys.has(renamed.target)) {
        const stillRead = renamed.alias.major === major;
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
      const elsewhere = (index.byKeyName.get(key) ?? []).map((s) => `${s}.${key}`);
      const guess = elsewhere.length > 0 ? elsewhere.join('" or "') : closest(name, index.keys.keys());
      invalid(
        scope,
        sectionProperty,
        key,
        `a key of [${section}] that Airflow ${major} defines` +
          (sectionKnown ? ` (${index.sections.get(section)!.length} keys; see airflowConfigKeys(${major}, ${JSON.stringify(section)}))` : ''),
        guess ? `Did you mean "${guess}"?` : undefined,
      );
    }
  }
}
