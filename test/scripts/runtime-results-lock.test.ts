// test/runtime/support/results.ts: on the real node two runtime test files run at once (jest's two workers), and
// both record into one results file. Processes that record side by side must keep every key: each
// read-modify-write holds the file's lock.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';

const SUPPORT = path.join(__dirname, '..', 'runtime', 'support', 'results.ts');

/** results.ts as plain JavaScript in `dir` (its one import, REPO_ROOT, from the repository's path). */
function compiled(dir: string): string {
  const src = fs.readFileSync(SUPPORT, 'utf8').replace("from '../../live/support/cluster'", "from './repo-root'");
  const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020 } }).outputText;
  fs.writeFileSync(path.join(dir, 'repo-root.js'), `exports.REPO_ROOT = ${JSON.stringify(path.join(__dirname, '..', '..'))};\n`);
  fs.writeFileSync(path.join(dir, 'results.js'), js);
  return path.join(dir, 'results.js');
}

test('four processes recording at once keep every key of each', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'results-lock-'));
  const module = compiled(dir);
  const file = path.join(dir, 'results.json');
  const writers = 4;
  const keys = 60;
  const script = `const { recordRuntime } = require(${JSON.stringify(module)});
for (let i = 0; i < ${keys}; i++) recordRuntime(['variants', 'w' + process.argv[1], 'k' + i], { i, pad: 'x'.repeat(2000) });`;
  const codes = await Promise.all(
    Array.from({ length: writers }, (_, w) =>
      new Promise<number>((resolve) => {
        const p = spawn(process.execPath, ['-e', script, String(w)], { env: { ...process.env, AIRFLOW_CDK8S_RUNTIME_RESULTS: file }, stdio: 'inherit' });
        p.on('exit', (code) => resolve(code ?? -1));
      }),
    ),
  );
  expect(codes).toEqual(Array(writers).fill(0));
  const results = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (let w = 0; w < writers; w++) expect(Object.keys(results.variants[`w${w}`]).length).toBe(keys);
  expect(fs.readdirSync(dir).sort()).toEqual(['repo-root.js', 'results.js', 'results.json']);
  fs.rmSync(dir, { recursive: true, force: true });
});
