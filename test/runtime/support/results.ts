// build/runtime-results.json: what the runtime stage measured (step timings, memory of every component), merged
// across the test files of one run; scripts/test-runtime.sh starts it with the root's and the cluster's timings,
// `npm run bench` prints it.
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from '../../live/support/cluster';

/** build/runtime-results.json, or AIRFLOW_CDK8S_RUNTIME_RESULTS (scripts/test-runtime.sh sets it). */
export const RESULTS_FILE = process.env.AIRFLOW_CDK8S_RUNTIME_RESULTS ?? path.join(REPO_ROOT, 'build', 'runtime-results.json');

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Runs `fn` holding the results file's lock (a directory beside it, made atomically): on the real node two test
 * files can run side by side (jest's two workers, docs/runtime-tests.md "Two files at once") and record into one results
 * file; two read-modify-writes at once would lose one of them. A lock older than 30 s is a crashed writer's: taken over.
 */
function withResultsLock<T>(fn: () => T): T {
  const lock = `${RESULTS_FILE}.lock`;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 30_000) fs.rmSync(lock, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
      pause(20);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** Sets results[keyPath...] = value in build/runtime-results.json, keeping everything else. */
export function recordRuntime(keyPath: string[], value: unknown): void {
  fs.mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  withResultsLock(() => {
    let results: any = {};
    if (fs.existsSync(RESULTS_FILE)) {
      try {
        results = JSON.parse(fs.readFileSync(RESULTS_FILE, 'utf8'));
      } catch {
        results = {};
      }
    }
    let node = results;
    for (const k of keyPath.slice(0, -1)) {
      if (typeof node[k] !== 'object' || node[k] === null) node[k] = {};
      node = node[k];
    }
    node[keyPath[keyPath.length - 1]] = value;
    // written whole, then renamed over the file: a reader never sees half of it
    const tmp = `${RESULTS_FILE}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(results, null, 2)}\n`);
    fs.renameSync(tmp, RESULTS_FILE);
  });
}
