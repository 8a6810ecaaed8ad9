#!/usr/bin/env node
/*
 * Generates lib/core/data/airflow-config-keys.ts from the Airflow configuration key lists in
 * /work/shared/airflow-config (or the folder given as the first argument), plus the provider keys listed in
 * scripts/provider-config-keys.tsv.
 *
 * The data is Apache Airflow's own: section.key, version_added and default from Airflow's
 * config_templates/config.yml and the provider.yaml files of the providers whose sections ship with the
 * image (celery, cncf.kubernetes, fab; and from scripts/provider-config-keys.tsv the microsoft.azure key that
 * remote logging to Azure Blob sets), and the deprecated options table from airflow/configuration.py.
 * The sensitive options of each major version (those Airflow's config.yml or a provider's provider.yaml marks
 * `sensitive: true`) come from the extracts vendored under scripts/data/airflow-config-flags/<major>/ by
 * scripts/vendor-config-flags.js, each naming its origin.
 * Apache Airflow is licensed under the Apache License, Version 2.0; so is this project.
 *
 * Usage: node scripts/generate-config-keys.js [/path/to/airflow-config]
 * The output is committed; the library never reads the source folder at run time.
 */
'use strict';
const fs = require('fs');
const path = require('path');

const source = process.argv[2] ?? '/work/shared/airflow-config';
const out = path.join(__dirname, '..', 'lib', 'core', 'data', 'airflow-config-keys.ts');
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
  for (const line of fs.readFileSync(providerFile, 'utf8').split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const [majors, key, versionAdded, def, src] = line.split('\t');
    if (!majors.split(',').includes(String(major))) continue;
    if (key in result) throw new Error(`${key} of ${path.basename(providerFile)} is already defined for Airflow ${major}`);
    result[key] = [versionAdded === '' ? null : versionAdded, parseDefault(def)];
    provenance.add(src.trim());
  }
  const sorted = {};
  for (const key of Object.keys(result).sort()) sorted[key] = result[key];
  return { keys: sorted, provenance: [...provenance].sort() };
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
const k3 = keys(3);

/**
 * The options the vendored extracts of `major` mark sensitive, and their origins. Each must be a key of that
 * major's key list: a flag on a key the library does not know would hide a mismatch of sources.
 */
function sensitive(major, known) {
  const dir = path.join(flagsDir, String(major));
  const result = new Set();
  const origins = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.tsv')).sort()) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8').split('\n');
    const origin = text.find((l) => l.startsWith('# origin: '));
    if (!origin) throw new Error(`${file} does not state its origin`);
    let flagged = 0;
    for (const line of text.filter((l) => l.trim() !== '' && !l.startsWith('#')).slice(1)) {
      const [key, flag] = line.split('\t');
      if (flag !== 'true' && flag !== 'false') throw new Error(`${file}: ${line}`);
      if (flag !== 'true') continue;
      if (!(key in known)) throw new Error(`${key}, sensitive in ${major}/${file}, is not a key of Airflow ${major}`);
      result.add(key);
      flagged++;
    }
    origins.push(`${file} (${flagged} sensitive): ${origin.slice('# origin: '.length)}`);
  }
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

/** The keys Airflow 3 defines, with the providers shipped in its image. */
export const AIRFLOW_3_CONFIG_KEYS: Readonly<Record<string, AirflowConfigKeyData>> = ${JSON.stringify(k3.keys, null, 0).replace(/\],"/g, '],\n  "').replace(/^\{/, '{\n  ').replace(/\}$/, ',\n}')};

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
console.log(`wrote ${out}: ${Object.keys(k2.keys).length} keys (2.x), ${Object.keys(k3.keys).length} keys (3.x), ${aliases.length} aliases, ${s2.keys.length} sensitive keys (2.x), ${s3.keys.length} sensitive keys (3.x)`);
