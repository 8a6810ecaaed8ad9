// The runtime stage's roots (docs/runtime-tests.md): one per Airflow minor version, each cached under its own
// prefix and key, so that building one never removes the other as "an old root"; and the kubelet of a test file
// serves the chart's apache/airflow:X.Y.* from the root of X.Y. Only `--path` runs here (nothing is built).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEFAULT_AIRFLOW_IMAGE } from '../../lib';
import { airflowMinorOf } from '../runtime/support/kubelet';

const SCRIPT = path.join(__dirname, '..', '..', 'scripts', 'runtime', 'build-root.sh');

function rootPath(env: Record<string, string>): { status: number | null; out: string; err: string } {
  const r = spawnSync('bash', [SCRIPT, '--path'], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, out: r.stdout.trim(), err: r.stderr };
}

describe('build-root.sh --path: a root per Airflow minor version', () => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'roots-'));
  const bundle32 = path.join(cache, 'airflow-src-3.2+git.tgz');
  fs.writeFileSync(bundle32, 'a stand-in: --path only hashes it');
  const bundle31 = path.join(cache, 'airflow-src.tgz');
  fs.writeFileSync(bundle31, 'another stand-in');
  afterAll(() => fs.rmSync(cache, { recursive: true, force: true }));

  test('3.1 keeps its trixie-<key> name; 3.2 has its own prefix and key', () => {
    const r31 = rootPath({ AIRFLOW_CDK8S_CACHE: cache, AIRFLOW_CDK8S_AIRFLOW_SRC: bundle31 });
    const r32 = rootPath({ AIRFLOW_CDK8S_CACHE: cache, AIRFLOW_CDK8S_AIRFLOW_SRC: bundle31, AIRFLOW_CDK8S_RUNTIME_AIRFLOW: '3.2' });
    expect(r31.out).toMatch(new RegExp(`^${cache}/runtime/trixie-[0-9a-f]{12}$`));
    expect(r32.out).toMatch(new RegExp(`^${cache}/runtime/airflow3\\.2-trixie-[0-9a-f]{12}$`));
    // the 3.1 build removes "$RUNTIME_CACHE/trixie-*" other than its own: the 3.2 root is not among them
    expect(path.basename(r32.out).startsWith('trixie-')).toBe(false);
  });

  test('the 3.2 bundle changes the 3.2 key only', () => {
    const before = rootPath({ AIRFLOW_CDK8S_CACHE: cache, AIRFLOW_CDK8S_AIRFLOW_SRC: bundle31, AIRFLOW_CDK8S_RUNTIME_AIRFLOW: '3.2' }).out;
    const r31 = rootPath({ AIRFLOW_CDK8S_CACHE: cache, AIRFLOW_CDK8S_AIRFLOW_SRC: bundle31 }).out;
    fs.writeFileSync(bundle32, 'another 3.2 bundle');
    expect(rootPath({ AIRFLOW_CDK8S_CACHE: cache, AIRFLOW_CDK8S_AIRFLOW_SRC: bundle31, AIRFLOW_CDK8S_RUNTIME_AIRFLOW: '3.2' }).out).not.toBe(before);
    expect(rootPath({ AIRFLOW_CDK8S_CACHE: cache, AIRFLOW_CDK8S_AIRFLOW_SRC: bundle31 }).out).toBe(r31);
  });

  test('without the 3.2 bundle it says which script makes it; another minor version is refused', () => {
    const missing = rootPath({ AIRFLOW_CDK8S_CACHE: cache, AIRFLOW_CDK8S_RUNTIME_AIRFLOW: '3.2', AIRFLOW_CDK8S_AIRFLOW_SRC_3_2: path.join(cache, 'none.tgz') });
    expect(missing.status).not.toBe(0);
    expect(missing.err).toContain('the Airflow 3.2 source bundle');
    expect(missing.err).toContain('scripts/runtime/make-bundle-3.2.sh');
    const other = rootPath({ AIRFLOW_CDK8S_CACHE: cache, AIRFLOW_CDK8S_RUNTIME_AIRFLOW: '3.3' });
    expect(other.status).not.toBe(0);
    expect(other.err).toContain('AIRFLOW_CDK8S_RUNTIME_AIRFLOW=3.3: the runtime roots are 3.1 and 3.2');
  });
});

describe('the root that serves an image', () => {
  test.each([
    ['apache/airflow:3.2.2', '3.2'],
    ['apache/airflow:3.1.3-python3.12', '3.1'],
    ['docker.io/apache/airflow:3.2.1', '3.2'],
    ['apache/airflow:slim-3.2.2', undefined],
    ['my-airflow:latest', undefined],
    [undefined, undefined],
  ])('%s: the root of Airflow %s', (image, minor) => {
    expect(airflowMinorOf(image)).toBe(minor);
  });

  test('the default image has a runtime root (3.1 or 3.2): dist/ names what the runtime stage runs', () => {
    expect(['3.1', '3.2']).toContain(airflowMinorOf(DEFAULT_AIRFLOW_IMAGE));
  });
});
