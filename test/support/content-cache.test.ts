// test/support/content-cache.ts: a kept result is read back only while every input has the same content.
import * as fs from 'fs';
import * as path from 'path';
import { cachedByContent, contentHash } from './content-cache';

const ROOT = path.resolve(__dirname, '..', '..');
delete process.env.AIRFLOW_CDK8S_NO_TEST_CACHE; // the cache itself is under test
const REL = path.join('build', `.content-cache-probe-${process.pid}`);
const DIR = path.join(ROOT, REL);

beforeEach(() => {
  fs.rmSync(DIR, { recursive: true, force: true });
  fs.mkdirSync(path.join(DIR, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(DIR, 'sub', 'a.ts'), 'export const a = 1;\n');
});
afterAll(() => {
  fs.rmSync(DIR, { recursive: true, force: true });
  fs.rmSync(path.join(ROOT, 'build', '.test-cache', `probe-${process.pid}.json`), { force: true });
});

test('the key changes with a file\'s text, a new file, a renamed file and a file given by name', () => {
  const before = contentHash([REL]);
  expect(contentHash([REL])).toBe(before);
  fs.writeFileSync(path.join(DIR, 'sub', 'a.ts'), 'export const a = 2;\n');
  const edited = contentHash([REL]);
  expect(edited).not.toBe(before);
  fs.writeFileSync(path.join(DIR, 'b.ts'), '');
  const added = contentHash([REL]);
  expect(added).not.toBe(edited);
  fs.renameSync(path.join(DIR, 'b.ts'), path.join(DIR, 'c.ts'));
  expect(contentHash([REL])).not.toBe(added);
  expect(contentHash([REL, 'package.json'])).not.toBe(contentHash([REL]));
});

test('the value is computed once while the inputs are unchanged, and again when one changes', () => {
  let runs = 0;
  const compute = () => ({ runs: ++runs, text: fs.readFileSync(path.join(DIR, 'sub', 'a.ts'), 'utf8') });
  const name = `probe-${process.pid}`;
  expect(cachedByContent(name, [REL], compute)).toEqual({ runs: 1, text: 'export const a = 1;\n' });
  expect(cachedByContent(name, [REL], compute)).toEqual({ runs: 1, text: 'export const a = 1;\n' });
  fs.writeFileSync(path.join(DIR, 'sub', 'a.ts'), 'export const a = 2;\n');
  expect(cachedByContent(name, [REL], compute)).toEqual({ runs: 2, text: 'export const a = 2;\n' });
});
