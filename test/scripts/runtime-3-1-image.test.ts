// The 3.1 suite on the real node (issue #27 item 3, docs/runtime-tests.md "The real node"): jest's runtime config
// runs default-chart-3-1 in the real-node stage only, and scripts/test-runtime.sh pushes the apache/airflow:3.1.x
// image that suite's chart names, read from its `const IMAGE = '...';` line (build-images.sh builds it from the 3.1
// root). Nothing is built or pushed here.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { airflowMinorOf } from '../runtime/support/kubelet';

const REPO = path.join(__dirname, '..', '..');
const SUITE = 'test/runtime/default-chart-3-1.runtime.test.ts';

/** jest.runtime.config.js's testPathIgnorePatterns as a stage sees them (read in a process of their own). */
function ignorePatterns(node: string | undefined): RegExp[] {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.AIRFLOW_CDK8S_RUNTIME_NODE;
  if (node) env.AIRFLOW_CDK8S_RUNTIME_NODE = node;
  const r = spawnSync(process.execPath, ['-e', 'console.log(JSON.stringify(require("./jest.runtime.config.js").testPathIgnorePatterns))'], { cwd: REPO, env, encoding: 'utf8' });
  return (JSON.parse(r.stdout) as string[]).map((p) => new RegExp(p));
}
const ignored = (file: string, node?: string) => ignorePatterns(node).some((p) => p.test(path.join(REPO, file)));

describe('default-chart-3-1 runs on the real node', () => {
  test('the real-node stage runs it, the emulated stage does not (and default-chart stays as it was)', () => {
    expect(ignored(SUITE, 'real')).toBe(false);
    expect(ignored(SUITE)).toBe(true);
    expect(ignored('test/runtime/default-chart.runtime.test.ts', 'real')).toBe(false);
    // network-policies too since 2026-12-06 (its connections from the node's conntrack): the emulated stage has none
    expect(ignored('test/runtime/network-policies.runtime.test.ts', 'real')).toBe(false);
    expect(ignored('test/runtime/network-policies.runtime.test.ts')).toBe(true);
  });

  test("test-runtime.sh pushes the suite's apache/airflow:3.1.x (its IMAGE line, read by the script's own sed)", () => {
    const script = fs.readFileSync(path.join(REPO, 'scripts', 'test-runtime.sh'), 'utf8');
    const line = script.split('\n').find((l) => l.includes('mapfile -t other_images') && l.includes(SUITE));
    expect(line).toBeDefined();
    const r = spawnSync('bash', ['-c', `${line!.trim()}\nprintf '%s\\n' "\${other_images[@]}"`], { cwd: REPO, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const images = r.stdout.trim().split('\n');
    const named = /^const IMAGE = '([^']+)';$/m.exec(fs.readFileSync(path.join(REPO, SUITE), 'utf8'))?.[1];
    expect(images).toEqual([named]);
    expect(airflowMinorOf(images[0])).toBe('3.1');
    expect(script).toMatch(/build-images\.sh push "\$\{other_images\[@\]\}"/);
  });
});
