// build/runtime-results.json: what the runtime stage measured (step timings, memory of every component), merged
// across the test files of one run; scripts/test-runtime.sh starts it with the root's and the cluster's timings,
// `npm run bench` prints it.
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from '../../live/support/cluster';

/** build/runtime-results.json, or AIRFLOW_CDK8S_RUNTIME_RESULTS (scripts/test-runtime.sh sets it). */
export const RESULTS_FILE = process.env.AIRFLOW_CDK8S_RUNTIME_RESULTS ?? path.join(REPO_ROOT, 'build', 'runtime-results.json');

/** Sets results[keyPath...] = value in build/runtime-results.json, keeping everything else. */
export function recordRuntime(keyPath: string[], value: unknown): void {
  fs.mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
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
  fs.writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
}
