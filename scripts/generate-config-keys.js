#!/usr/bin/env node
/*
 * Generates lib/core/data/airflow-config-keys.ts.
 *
 * The data is Apache Airflow's own: section.key, version_added, default, `sensitive` and `version_deprecated`
 * from Airflow's config_templates/config.yml and the provider.yaml files of the providers whose sections ship
 * with the image (celery, cncf.kubernetes, fab; and from scripts/provider-config-keys.tsv the microsoft.azure
 * key that remote logging to Azure Blob sets), and the deprecated options table of Airflow's parser.
 *
 * - Airflow 2 (2.10 line): the key lists in shared/airflow-config (the folder given as the first argument,
 *   else <repo>/../shared/airflow-config, else /work/shared/airflow-config); its sensitive flags from the
 *   extracts vendored under scripts/data/airflow-config-flags/2/.
 * - Airflow 3, per minor line: the extracts vendored under scripts/data/airflow-config-flags/<3.N>/ by
 *   scripts/vendor-config-flags.js, each naming its origin (3.1: the Airflow 3.1 source bundle of the runtime
 *   tests; 3.2: a 3.2.0 snapshot of apache/airflow). Each key gets the Airflow versions it exists in: `since`
 *   (the first line that has it, or its version_added where that names a patch release of the line before,
 *   a backport), `removedIn` (the first line that no longer has it) and `deprecatedIn` (version_deprecated).
 * - The deprecated aliases: shared/airflow-config/airflow-config-deprecated-aliases.tsv.
 * Apache Airflow is licensed under the Apache License, Version 2.0; so is this project.
 *
 * Usage: node scripts/generate-config-keys.js [/path/to/airflow-config] [--out FILE]
 * The output is committed; the library never reads the sources at run time. Without the network and without
 * the Airflow sources, the same command writes the same file (test/scripts/config-keys.test.ts checks it).
 */
'use strict';
const fs = require('fs');
const path = require('path');

const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const out = outAt >= 0 ? path.resolve(args.splice(outAt, 2)[1]) : path.join(__dirname, '..', 'lib', 'core', 'data', 'airflow-config-keys.ts');
const source =
  args[0] ?? [path.join(__dirname, '..', '..', 'shared', 'airflow-config'), '/work/shared/airflow-config'].find((d) => fs.existsSync(d));
if (!source) throw new Error('shared/airflow-config not found: give its folder as the first argument');
const providerFile = path.join(__dirname, 'provider-config-keys.tsv');
const flagsDir = path.join(__dirname, 'data', 'airflow-config-flags');

function lines(file) {
  return fs
    .readFileSync(path.join(source, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
}

function parseDefault(raw) {
  if (raw === 'null' || raw === undefined) return null;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function keys(major) {
  const plain = new Set(lines(`airflow-config-keys-${major}.txt`).map((l) => l.trim()));
  const result = {};
  const provenance = new Set();
  for (const line of lines(`airflow-config-keys-${major}.annotated.tsv`).slice(1)) {
    const [key, versionAdded, def, src] = line.split('\t');
    if (!plain.has(key)) throw new Error(`${key} is annotated but not listed for Airflow ${major}`);
    result[key] = [versionAdded === 'None' || versionAdded === '' ? null : versionAdded, parseDefault(def)];
    provenance.add(src.replace(/\s*\(version_added[^)]*\)/, '').trim());
  }
  for (const key of plain) if (!(key in result)) throw new Error(`${key} has no annotation for Airflow ${major}`);
  addProviderKeys(major, result, provenance);
  const sorted = {};
  for (const key of Object.keys(result).sort()) sorted[key] = result[key];
  return { keys: sorted, provenance: [...provenance].sort() };
}

/** The provider keys the tsv marks sensitive (a sixth column "sensitive", as their provider.yaml does), by `major/key`. */
const providerSensitive = new Set();

/** The keys of scripts/provider-config-keys.tsv for `major`, added to `result`. */
function addProviderKeys(major, result, provenance) {
  for (const line of fs.readFileSync(providerFile, 'utf8').split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const [majors, key, versionAdded, def, src, flag] = line.split('\t');
    if (!majors.split(',').includes(String(major))) continue;
    if (flag === 'sensitive') providerSensitive.add(`${major}/${key}`);
    else if (flag !== undefined) throw new Error(`${key} of ${path.basename(providerFile)}: a sixth column other than "sensitive"`);
    if (key in result) throw new Error(`${key} of ${path.basename(providerFile)} is already defined for Airflow ${major}`);
    result[key] = [versionAdded === '' ? null : versionAdded, parseDefault(def)];
    provenance.add(src.trim());
  }
}

const aliasLines = lines('airflow-config-deprecated-aliases.tsv');
const aliasHeader = aliasLines.filter((l) => l.startsWith('#')).map((l) => l.replace(/^#\s?/, ''));
const aliases = aliasLines
  .filter((l) => !l.startsWith('#') && !l.startsWith('line\t'))
  .map((l) => {
    const [line, oldKey, newKey, since] = l.split('\t');
    return { major: Number(line.replace('.x', '')), old: oldKey, new: newKey, since };
  });

const k2 = keys(2);

// ---- Airflow 3, per minor line, from the vendored extracts -------------------------------------------------

/** The extracts whose options the library accepts: the core's, and the providers whose sections it checks. */
const KEY_SOURCES = ['core.tsv', 'provider-celery.tsv', 'provider-cncf.kubernetes.tsv', 'provider-fab.tsv'];

/** Compares Airflow versions `a.b.c` numerically. */
function compareVersions(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/** One vendored extract: its origin and its rows (the columns after `sensitive` are optional). */
function readExtract(dir, file) {
  const text = fs.readFileSync(path.join(dir, file), 'utf8').split('\n');
  const origin = text.find((l) => l.startsWith('# origin: '));
  if (!origin) throw new Error(`${file} does not state its origin`);
  const rows = text
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .slice(1)
    .map((line) => {
      const [key, flag, versionAdded, def, deprecated] = line.split('\t');
      if (flag !== 'true' && flag !== 'false') throw new Error(`${file}: ${line}`);
      return { key, sensitive: flag === 'true', versionAdded: versionAdded || null, def: def === undefined ? null : parseDefault(def), deprecated: deprecated || null };
    });
  return { origin: origin.slice('# origin: '.length), rows };
}

/** The Airflow 3 minor lines with vendored extracts (`3.1`, `3.2`), oldest first. */
const lines3 = fs
  .readdirSync(flagsDir)
  .filter((d) => /^3\.\d+$/.test(d))
  .sort((a, b) => compareVersions(a, b));
if (lines3.length === 0) throw new Error(`no Airflow 3 extracts under ${flagsDir}`);

/** Each line's accepted keys: section.key -> { versionAdded, def, deprecated, provider } (provider: "fab 3.4.0"). */
const perLine = {};
const provenance3 = [];
for (const line of lines3) {
  const keysOfLine = {};
  for (const file of KEY_SOURCES) {
    const extract = readExtract(path.join(flagsDir, line), file);
    const provider = file === 'core.tsv' ? null : /the (\S+) provider (\d[\w.]*)/.exec(extract.origin);
    if (file !== 'core.tsv' && !provider) throw new Error(`${line}/${file}: the origin names no provider version`);
    for (const row of extract.rows) {
      if (row.key in keysOfLine) throw new Error(`${row.key} is defined twice for Airflow ${line}`);
      keysOfLine[row.key] = { versionAdded: row.versionAdded, def: row.def, deprecated: row.deprecated, provider: provider ? `${provider[1]} ${provider[2]}` : null };
    }
    provenance3.push(`${line} ${file}: ${extract.origin}`);
  }
  const extra = {};
  addProviderKeys(3, extra, new Set());
  for (const [key, [versionAdded, def]] of Object.entries(extra)) {
    if (key in keysOfLine) throw new Error(`${key} of ${path.basename(providerFile)} is already defined for Airflow ${line}`);
    keysOfLine[key] = { versionAdded, def, deprecated: null, provider: 'microsoft.azure' };
  }
  perLine[line] = keysOfLine;
}
for (const l of fs.readFileSync(providerFile, 'utf8').split('\n')) {
  const [majors, key, , , src] = l.split('\t');
  if (!l.startsWith('#') && l.trim() !== '' && majors.split(',').includes('3')) provenance3.push(`every 3.x line: ${key} from ${src.trim()}`);
}

/**
 * The union of the lines' keys ([version_added, default] of the newest line that has the key), and for each key
 * that not every Airflow 3 release has, the versions it exists in.
 */
const k3keys = {};
const k3versions = {};
const newest = lines3[lines3.length - 1];
for (const key of [...new Set(lines3.flatMap((l) => Object.keys(perLine[l])))].sort()) {
  const present = lines3.filter((l) => key in perLine[l]);
  const first = present[0];
  const last = present[present.length - 1];
  if (lines3.indexOf(last) - lines3.indexOf(first) + 1 !== present.length) throw new Error(`${key} leaves and comes back between Airflow ${present.join(', ')}`);
  const info = perLine[last][key];
  k3keys[key] = [info.versionAdded, info.def];
  const core = info.provider === null;
  const firstInfo = perLine[first][key];
  const versions = {};
  const added = firstInfo.versionAdded;
  if (first === lines3[0]) {
    // A core key of the oldest line: version_added says which 3.x releases before it lack it (3.0 lacks the 3.1.0 keys).
    if (core && added && /^3\./.test(added) && compareVersions(added, '3.0.0') > 0) versions.since = added;
  } else {
    // New in this line: version_added names the release only where it is a patch release of the line before
    // that came after the extract of that line (a backport, e.g. 3.1.1); otherwise the line's first release.
    const before = lines3[lines3.indexOf(first) - 1];
    const backport = core && added && compareVersions(added, `${before}.0`) > 0 && compareVersions(added, `${first}.0`) < 0;
    versions.since = backport ? added : `${first}.0`;
    if (!core) versions.provider = firstInfo.provider;
  }
  if (last !== newest) versions.removedIn = `${lines3[lines3.indexOf(last) + 1]}.0`;
  if (info.deprecated) versions.deprecatedIn = info.deprecated;
  if (Object.keys(versions).length > 0) k3versions[key] = versions;
}
const k3 = { keys: k3keys, provenance: provenance3 };

/**
 * The options the vendored extracts of `major` mark sensitive, and their origins. Each must be a key of that
 * major's key list: a flag on a key the library does not know would hide a mismatch of sources.
 */
function sensitive(major, known) {
  const result = new Set();
  const origins = [];
  const dirs = major === 2 ? ['2'] : lines3;
  for (const file of dirs.flatMap((d) => fs.readdirSync(path.join(flagsDir, d)).filter((f) => f.endsWith('.tsv')).sort().map((f) => `${d}/${f}`))) {
    const dir = flagsDir;
    const text = fs.readFileSync(path.join(dir, file), 'utf8').split('\n');
    const origin = text.find((l) => l.startsWith('# origin: '));
    if (!origin) throw new Error(`${file} does not state its origin`);
    let flagged = 0;
    for (const line of text.filter((l) => l.trim() !== '' && !l.startsWith('#')).slice(1)) {
      const [key, flag] = line.split('\t');
      if (flag !== 'true' && flag !== 'false') throw new Error(`${file}: ${line}`);
      if (flag !== 'true') continue;
      if (!(key in known)) throw new Error(`${key}, sensitive in ${file}, is not a key of Airflow ${major}`);
      result.add(key);
      flagged++;
    }
    origins.push(`${file} (${flagged} sensitive): ${origin.slice('# origin: '.length)}`);
  }
  const fromTsv = [...providerSensitive].filter((k) => k.startsWith(`${major}/`)).map((k) => k.slice(2));
  for (const key of fromTsv) result.add(key);
  if (fromTsv.length) origins.push(`${path.basename(providerFile)} (${fromTsv.length} sensitive): the providers' provider.yaml, as transcribed there`);
  return { keys: [...result].sort(), origins };
}

const s2 = sensitive(2, k2.keys);
const s3 = sensitive(3, k3.keys);

const header = `// GENERATED by scripts/generate-config-keys.js - do not edit by hand.
//
// Apache Airflow's configuration keys (section.key -> [version_added, default]) for Airflow 2 and 3, and
// the deprecated aliases Airflow reads with a warning (old -> new). Source: Apache Airflow (Apache License,
// Version 2.0), https://github.com/apache/airflow:
${[...k2.provenance.map((p) => `//   Airflow 2: ${p}`), ...k3.provenance.map((p) => `//   Airflow 3: ${p}`), ...aliasHeader.map((p) => `//   aliases: ${p}`)].join('\n')}
//
// The sensitive options (\`sensitive: true\` in config.yml / provider.yaml), from the extracts vendored under
// scripts/data/airflow-config-flags/<major>/ (scripts/vendor-config-flags.js):
${[...s2.origins.map((p) => `//   Airflow 2: ${p}`), ...s3.origins.map((p) => `//   Airflow 3: ${p}`)].join('\n')}
/* eslint-disable */
`;

const body = `
/** [version_added (null where config.yml gives none), default (null where there is none)] */
export type AirflowConfigKeyData = readonly [string | null, string | null];

/** The keys Airflow 2 (2.10 line) defines, with the providers shipped in its image. */
export const AIRFLOW_2_CONFIG_KEYS: Readonly<Record<string, AirflowConfigKeyData>> = ${JSON.stringify(k2.keys, null, 0).replace(/\],"/g, '],\n  "').replace(/^\{/, '{\n  ').replace(/\}$/, ',\n}')};

/**
 * The keys Airflow 3 defines, with the providers shipped in its image: those of every minor line the library
 * knows (${lines3.join(', ')}); {@link AIRFLOW_3_CONFIG_KEY_VERSIONS} says which releases have which.
 */
export const AIRFLOW_3_CONFIG_KEYS: Readonly<Record<string, AirflowConfigKeyData>> = ${JSON.stringify(k3.keys, null, 0).replace(/\],"/g, '],\n  "').replace(/^\{/, '{\n  ').replace(/\}$/, ',\n}')};

/** The Airflow versions a configuration key exists in, where that is not every Airflow 3 release. */
export interface AirflowConfigKeyVersions {
  /**
   * The first release that has the key: its \`version_added\` (a 3.x release, or a backport to a patch
   * release), or the first release of the first minor line whose extract has it.
   */
  readonly since?: string;
  /** The first release that no longer has it (the first minor line whose extract lacks it). */
  readonly removedIn?: string;
  /** The release that deprecated it (\`version_deprecated\`): Airflow still reads it, with a warning. */
  readonly deprecatedIn?: string;
  /** For a provider's key new in a minor line: the provider and version whose provider.yaml added it to that line's image. */
  readonly provider?: string;
}

/** The Airflow 3 minor lines whose keys the library knows, oldest first (a newer release is checked against the newest). */
export const AIRFLOW_3_CONFIG_LINES: readonly string[] = ${JSON.stringify(lines3)};

/** The keys of {@link AIRFLOW_3_CONFIG_KEYS} that not every Airflow 3 release has, and the releases that have them. */
export const AIRFLOW_3_CONFIG_KEY_VERSIONS: Readonly<Record<string, AirflowConfigKeyVersions>> = {
${Object.entries(k3versions).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v).replace(/"(since|removedIn|deprecatedIn|provider)":/g, '$1: ').replace(/,/g, ', ').replace(/^\{/, '{ ').replace(/\}$/, ' }')},`).join('\n')}
};

/**
 * The options Airflow 2 marks \`sensitive: true\` (its config.yml and the official image's providers): secrets,
 * which Airflow hides in the UI and reads through \`_cmd\` / \`_secret\`.
 */
export const AIRFLOW_2_SENSITIVE_CONFIG_KEYS: readonly string[] = [
${s2.keys.map((k) => `  ${JSON.stringify(k)},`).join('\n')}
];

/**
 * The options Airflow 3 marks \`sensitive: true\` (its config.yml and the official image's providers): secrets,
 * which Airflow hides in the UI and reads through \`_cmd\` / \`_secret\`.
 */
export const AIRFLOW_3_SENSITIVE_CONFIG_KEYS: readonly string[] = [
${s3.keys.map((k) => `  ${JSON.stringify(k)},`).join('\n')}
];

/** A deprecated option Airflow still reads (with a warning) under its old name. \`*\` renames a whole section. */
export interface AirflowConfigAliasData {
  readonly major: number;
  readonly old: string;
  readonly new: string;
  readonly since: string;
}

/** Airflow's deprecated options: old section.key -> new section.key, per major version. */
export const AIRFLOW_CONFIG_DEPRECATED_ALIASES: readonly AirflowConfigAliasData[] = [
${aliases.map((a) => `  ${JSON.stringify(a)},`).join('\n')}
];
`;

fs.writeFileSync(out, header + body);
const count = (pred) => Object.keys(k3.keys).filter(pred).length;
const at = (v) => (k) => {
  const e = k3versions[k] ?? {};
  return (!e.since || compareVersions(v, e.since) >= 0) && (!e.removedIn || compareVersions(v, e.removedIn) < 0);
};
const only = (v, other) => (k) => at(v)(k) && !at(other)(k);
console.log(`wrote ${out}: ${Object.keys(k2.keys).length} keys (2.x), ${Object.keys(k3.keys).length} keys (3.x: ${lines3.map((l) => `${count(at(`${l}.0`))} in ${l}.0`).join(', ')}; ${count(only('3.2.0', '3.1.99'))} only from 3.2, ${count(only('3.1.99', '3.2.0'))} only before 3.2), ${aliases.length} aliases, ${s2.keys.length} sensitive keys (2.x), ${s3.keys.length} sensitive keys (3.x)`);
