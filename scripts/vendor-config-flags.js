#!/usr/bin/env node
/*
 * Vendors what scripts/generate-config-keys.js needs from one of Apache Airflow's configuration files: every
 * option of its configuration sections with its `sensitive` flag, its `version_added`, its `default` and its
 * `version_deprecated`, as `section.key<TAB>true|false<TAB>version_added<TAB>default (JSON)<TAB>version_deprecated`
 * (an empty field where the file gives none).
 *
 * The input is Airflow's config_templates/config.yml (sections at the top level) or a provider's
 * provider.yaml (sections under `config:`). The origin (repository, commit, path, version, date) is written in
 * the header; the output is committed under scripts/data/airflow-config-flags/<line>/ (2, 3.1, 3.2), so that the
 * generated data is reproducible without the sources or the network.
 *
 * Usage: node scripts/vendor-config-flags.js <config.yml|provider.yaml> <line: 2|3.1|3.2|...> <output name> "<origin>"
 */
'use strict';
const fs = require('fs');
const path = require('path');
// js-yaml, like the PyYAML Airflow uses, reads Airflow's multi-line quoted examples that the stricter `yaml` refuses.
const jsYaml = require('js-yaml');

const [input, line, name, origin] = process.argv.slice(2);
if (!input || !/^(2|3\.\d+)$/.test(line ?? '') || !name || !origin) {
  console.error('usage: node scripts/vendor-config-flags.js <config.yml|provider.yaml> <2|3.1|3.2> <output name> "<origin>"');
  process.exit(2);
}
const doc = jsYaml.load(fs.readFileSync(input, 'utf8'));
const sections = doc['package-name'] ? doc.config ?? {} : doc;
const text = (v) => (v === undefined || v === null ? '' : String(v));
const rows = [];
for (const [section, body] of Object.entries(sections)) {
  for (const [option, info] of Object.entries(body?.options ?? {})) {
    const def = info?.default === undefined ? null : info.default;
    rows.push(
      [
        `${section}.${option}`,
        String(info?.sensitive === true),
        text(info?.version_added),
        JSON.stringify(def === null ? null : String(def)),
        text(info?.version_deprecated),
      ].join('\t'),
    );
  }
}
if (rows.length === 0) throw new Error(`${input} defines no configuration option`);
const out = path.join(__dirname, 'data', 'airflow-config-flags', line, `${name}.tsv`);
fs.mkdirSync(path.dirname(out), { recursive: true });
const header = [
  `# origin: ${origin}`,
  '# Extracted by scripts/vendor-config-flags.js: every option of its configuration sections, its `sensitive` flag,',
  '# `version_added`, `default` (JSON) and `version_deprecated`. Apache Airflow, Apache License, Version 2.0.',
  'section.key\tsensitive\tversion_added\tdefault\tversion_deprecated',
];
fs.writeFileSync(out, [...header, ...rows.sort()].join('\n') + '\n');
console.log(`wrote ${out}: ${rows.length} options, ${rows.filter((r) => r.split('\t')[1] === 'true').length} sensitive`);
