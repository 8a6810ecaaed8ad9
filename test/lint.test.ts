// ESLint (eslint.config.mjs) as part of `npm test`: the whole repository lints clean, and the rules that
// stand in for the API documentation checks are shown to fire on a made-up lib/ file. ESLint runs in a
// child process (its flat config is an ES module, which jest's module system does not load), through its
// Node API, with a content-keyed cache in build/ so that a re-run lints only the files that changed.
import { execFileSync } from 'child_process';
import * as path from 'path';

const root = path.resolve(__dirname, '..');

/** One message of an ESLint result, with the file relative to the repository. */
interface LintMessage {
  readonly file: string;
  readonly ruleId: string | null;
  readonly line: number;
  readonly message: string;
}

/**
 * Runs ESLint once (one process: loading ESLint and its parser is most of the cost) on `files` and on each
 * probe's text as if it were the probe's file; returns the messages of each.
 */
function lint(files: string[], probes: Array<{ file: string; text: string }>): LintMessage[][] {
  const script = `
    const { ESLint } = require('eslint');
    const request = JSON.parse(process.argv[1]);
    const flat = (results) => results.flatMap((r) => r.messages.map((m) => ({ file: r.filePath, ruleId: m.ruleId, line: m.line, message: m.message })));
    (async () => {
      const eslint = new ESLint({ cwd: process.cwd(), cache: true, cacheLocation: 'build/.eslintcache', cacheStrategy: 'content' });
      const out = [flat(await eslint.lintFiles(request.files))];
      for (const probe of request.probes) out.push(flat(await eslint.lintText(probe.text, { filePath: probe.file })));
      process.stdout.write(JSON.stringify(out));
    })().catch((e) => { console.error(e); process.exit(2); });
  `;
  const stdout = execFileSync(process.execPath, ['-e', script, JSON.stringify({ files, probes })], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(stdout).map((messages: LintMessage[]) => messages.map((m) => ({ ...m, file: path.relative(root, m.file) })));
}

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

const [repository, inLib, inTest] = lint(['.'], [
  { file: 'lib/core/lint-probe.ts', text: PROBE },
  { file: 'test/lint-probe.ts', text: PROBE },
]);

test('the repository lints clean (typescript-eslint recommended; JSDoc and @default on lib/)', () => {
  expect(repository.map((m) => `${m.file}:${m.line} ${m.ruleId ?? ''} ${m.message}`)).toEqual([]);
});

test('lib/: an export or a public member without JSDoc, and an optional property without @default, fail', () => {
  expect(inLib.map((m) => `${m.line} ${m.ruleId}`)).toEqual([
    '9 jsdoc/no-restricted-syntax', // the JSDoc of mode: optional without @default
    '11 jsdoc/require-jsdoc', // name
    '14 jsdoc/require-jsdoc', // undocumented()
    '18 jsdoc/require-jsdoc', // size
    '21 jsdoc/require-jsdoc', // shrink()
  ]);
  // Outside lib/ the same text only meets typescript-eslint's rules.
  expect(inTest).toEqual([]);
});
