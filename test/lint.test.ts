// ESLint (eslint.config.mjs) as part of `npm test`: the whole repository lints clean, and the rules that
// stand in for the API documentation checks are shown to fire on a made-up lib/ file. ESLint runs in a
// child process (its flat config is an ES module, which jest's module system does not load), through its
// Node API, with a content-keyed cache in build/ so that a re-run lints only the files that changed.
import { execFileSync } from 'child_process';
import * as path from 'path';

const root = path.resolve(__dirname, '..');

/** One message of an ESLint result. */
interface LintMessage {
  readonly ruleId: string | null;
  readonly line: number;
  readonly message: string;
}

/** Runs ESLint on the repository (`files`) or on `probe.text` as if it were `probe.file`; returns `path:line rule`. */
function lint(request: { files?: string[]; probe?: { file: string; text: string } }): Array<{ file: string } & LintMessage> {
  const script = `
    const { ESLint } = require('eslint');
    const request = JSON.parse(process.argv[1]);
    (async () => {
      const eslint = new ESLint({ cwd: process.cwd(), cache: !request.probe, cacheLocation: 'build/.eslintcache', cacheStrategy: 'content' });
      const results = request.probe
        ? await eslint.lintText(request.probe.text, { filePath: request.probe.file })
        : await eslint.lintFiles(request.files);
      const out = results.flatMap((r) => r.messages.map((m) => ({ file: r.filePath, ruleId: m.ruleId, line: m.line, message: m.message })));
      process.stdout.write(JSON.stringify(out));
    })().catch((e) => { console.error(e); process.exit(2); });
  `;
  const stdout = execFileSync(process.execPath, ['-e', script, JSON.stringify(request)], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(stdout).map((m: { file: string } & LintMessage) => ({ ...m, file: path.relative(root, m.file) }));
}

test('the repository lints clean (typescript-eslint recommended; JSDoc and @default on lib/)', () => {
  const problems = lint({ files: ['.'] }).map((m) => `${m.file}:${m.line} ${m.ruleId ?? ''} ${m.message}`);
  expect(problems).toEqual([]);
});

test('lib/: an export or a public member without JSDoc, and an optional property without @default, fail', () => {
  const text = [
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
  const found = lint({ probe: { file: 'lib/core/lint-probe.ts', text } }).map((m) => `${m.line} ${m.ruleId}`);
  expect(found).toEqual([
    '9 jsdoc/no-restricted-syntax', // the JSDoc of mode: optional without @default
    '11 jsdoc/require-jsdoc', // name
    '14 jsdoc/require-jsdoc', // undocumented()
    '18 jsdoc/require-jsdoc', // size
    '21 jsdoc/require-jsdoc', // shrink()
  ]);
  // Outside lib/ the same text only meets typescript-eslint's rules.
  expect(lint({ probe: { file: 'test/lint-probe.ts', text } })).toEqual([]);
});
