#!/usr/bin/env node
// ESLint (eslint.config.mjs) as a step of `npm test` (scripts/test.js), in one process: the whole repository
// must lint clean, and the rules that stand in for the API documentation checks are shown to fire on a
// made-up lib/ file (and not on the same text outside lib/). Loading ESLint, typescript-eslint's parser (and
// with it TypeScript) is most of the cost, so both checks share one ESLint; the repository is linted with a
// content-keyed cache in build/, so a re-run lints only the files that changed (about 1 s warm).
//
// Until issue #25 this ran inside jest (test/lint.test.ts) in a child process, which cost a second of a
// jest worker. Exit code: 0 clean, 1 lint errors or a probe that did not come out as expected, 2 a crash.
'use strict';
const path = require('path');
const { ESLint } = require('eslint');

const ROOT = path.resolve(__dirname, '..');

/** A made-up lib/ file with one of each JSDoc defect among documented declarations. */
const PROBE = [
  "import { Construct } from 'constructs';",
  '',
  '/** Props. */',
  'export interface ProbeProps {',
  '  /** Documented, with its default.',
  '   * @default 3',
  '   */',
  '  readonly count?: number;',
  '  /** Documented, without its default. */',
  '  readonly mode?: string;',
  '  readonly name: string;',
  '}',
  '',
  'export function undocumented(): void {}',
  '',
  '/** A construct. */',
  'export class Probe extends Construct {',
  '  public readonly size: number = 1;',
  '  /** Documented. */',
  '  public grow(): void {}',
  '  public shrink(): void {}',
  '  private hidden(): void {}',
  '}',
  '',
  'function internal(): void {}',
  'internal();',
].join('\n');

/** What the probe must give, `line ruleId`, in lib/ and (nothing but typescript-eslint's rules) outside it. */
const EXPECTED = {
  'lib/core/lint-probe.ts': [
    '9 jsdoc/no-restricted-syntax', // the JSDoc of mode: optional without @default
    '11 jsdoc/require-jsdoc', // name
    '14 jsdoc/require-jsdoc', // undocumented()
    '18 jsdoc/require-jsdoc', // size
    '21 jsdoc/require-jsdoc', // shrink()
  ],
  'test/lint-probe.ts': [],
};

async function main() {
  const eslint = new ESLint({ cwd: ROOT, cache: true, cacheLocation: 'build/.eslintcache', cacheStrategy: 'content' });
  const results = await eslint.lintFiles(['.']);
  let failed = false;
  const errors = results.reduce((n, r) => n + r.errorCount + r.warningCount, 0);
  if (errors > 0) {
    const formatter = await eslint.loadFormatter('stylish');
    process.stdout.write(await formatter.format(results));
    failed = true;
  }
  for (const [file, expected] of Object.entries(EXPECTED)) {
    const [result] = await eslint.lintText(PROBE, { filePath: path.join(ROOT, file) });
    const got = result.messages.map((m) => `${m.line} ${m.ruleId}`);
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      console.error(`lint probe ${file}: the JSDoc rules no longer fire as expected`);
      console.error(`  expected: ${JSON.stringify(expected)}`);
      console.error(`  got:      ${JSON.stringify(result.messages.map((m) => `${m.line} ${m.ruleId} ${m.message}`))}`);
      failed = true;
    }
  }
  const files = results.length;
  console.log(failed ? `eslint: failed (${files} files)` : `eslint: ${files} files clean; the lib/ JSDoc rules fire on the probe`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 2;
});
