// A result of the TypeScript compiler API kept between test runs, keyed by the content of everything it reads.
//
// The checks that build a Program of lib/index.ts (test/index.test.ts, test/scripts/prop-keys.test.ts) cost
// 1.5 to 3 s of CPU each, about a tenth of the suite, and their result is a function of lib/, imports/, the
// installed packages and the code that computes it. Like scripts/test.js's type-check stamp and ESLint's cache,
// the key is the content, never a timestamp: a sha256 of every file name and text under the folders given (lib/,
// imports/...), of the files given (the computing code), and of node_modules/.package-lock.json (what npm
// installed: the typings and TypeScript itself). While the key is unchanged the computation would return the same
// value, so the value is read back; the test's assertions still run on it every time, so a cached result fails a
// test exactly as a fresh one does. The cache is build/.test-cache/<name>.json (build/ is not committed);
// AIRFLOW_CDK8S_NO_TEST_CACHE=1 computes afresh.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const CACHE = path.join(ROOT, 'build', '.test-cache');

/** sha256 of the names and texts of the files and folders (repository-relative), walked in name order. */
export function contentHash(inputs: readonly string[]): string {
  const hash = crypto.createHash('sha256');
  const add = (rel: string): void => {
    const file = path.join(ROOT, rel);
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    if (!stat) {
      hash.update(`${rel}\0(missing)\0`);
    } else if (stat.isDirectory()) {
      for (const name of fs.readdirSync(file).sort()) add(path.join(rel, name));
    } else {
      hash.update(`${rel}\0`).update(fs.readFileSync(file)).update('\0');
    }
  };
  for (const rel of [...inputs, 'node_modules/.package-lock.json']) add(rel);
  return hash.digest('hex');
}

/**
 * `compute()`, or the value it returned when `inputs` (repository-relative files and folders) had the same content.
 * The value must be plain JSON.
 */
export function cachedByContent<T>(name: string, inputs: readonly string[], compute: () => T): T {
  const file = path.join(CACHE, `${name}.json`);
  const key = contentHash(inputs);
  if (process.env.AIRFLOW_CDK8S_NO_TEST_CACHE !== '1') {
    try {
      const kept = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (kept.key === key) return kept.value as T;
    } catch {
      // no cache yet, or an unreadable one: compute
    }
  }
  const value = compute();
  // an input edited while it ran: the value may be of either content, keep none
  if (contentHash(inputs) !== key) return value;
  fs.mkdirSync(CACHE, { recursive: true });
  // written whole then renamed: a test file reading it meanwhile sees the old or the new one, never half
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ key, value }));
  fs.renameSync(tmp, file);
  return value;
}
