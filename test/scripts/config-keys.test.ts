// scripts/generate-config-keys.js and scripts/vendor-config-flags.js: the configuration key data is regenerated
// identically from what the repository vendors (and the shared 2.x lists), without the network or the Airflow
// sources; and Airflow 3.1's extract is still what the 3.1 source bundle of the runtime tests says.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as jsYaml from 'js-yaml';
import { cachedByContent } from '../support/content-cache';

const ROOT = path.resolve(__dirname, '..', '..');
const OUT = path.join(ROOT, 'lib', 'core', 'data', 'airflow-config-keys.ts');
const EXTRACTS = path.join(ROOT, 'scripts', 'data', 'airflow-config-flags');

/** The first of the places shared/ is found: beside the repository (CI, the main clone), or the workplace's. */
function shared(sub: string): string | undefined {
  return [path.join(ROOT, '..', 'shared', sub), path.join('/work/shared', sub)].find((p) => fs.existsSync(p));
}

test('lib/core/data/airflow-config-keys.ts is current: regenerating it changes nothing', () => {
  const source = shared('airflow-config');
  if (!source) return; // the 2.x lists live in shared/ only
  // What the generator reads (its lists, the vendored extracts, shared/'s 2.x lists) and the generator itself:
  // while they are unchanged, so is its output, which is kept (test/support/content-cache.ts; a node process and
  // the generation, 0.1 s of CPU); the comparison still runs every time.
  const inputs = ['test/scripts/config-keys.test.ts', 'scripts/generate-config-keys.js', 'scripts/provider-config-keys.tsv', 'scripts/data/airflow-config-flags', path.relative(ROOT, source)];
  const generated = cachedByContent('config-keys-generated', inputs, () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'config-keys-')), 'keys.ts');
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'generate-config-keys.js'), source, '--out', out], { stdio: 'pipe' });
    return fs.readFileSync(out, 'utf8');
  });
  expect(generated).toBe(fs.readFileSync(OUT, 'utf8'));
});

test('every vendored extract names its origin: repository, commit, path and date or version', () => {
  for (const line of fs.readdirSync(EXTRACTS)) {
    for (const file of fs.readdirSync(path.join(EXTRACTS, line))) {
      const first = fs.readFileSync(path.join(EXTRACTS, line, file), 'utf8').split('\n')[0];
      expect([file, first]).toEqual([file, expect.stringMatching(/^# origin: .*(apache\/airflow@[0-9a-f]{40}|source bundle).* \S+\.ya?ml/)]);
    }
  }
});

test('the 3.1 core extract is the config.yml of the Airflow 3.1 source bundle, option for option', () => {
  const bundle = process.env.AIRFLOW_CDK8S_AIRFLOW_SRC ?? shared(path.join('airflow-runtime', 'airflow-src.tgz'));
  if (!bundle) return; // the runtime stage's bundle lives in shared/ only
  // The bundle's options as the lines below, kept by the content of the bundle (16 MB: 0.03 s to hash against
  // 0.3 s of CPU to gunzip it) and of this file (test/support/content-cache.ts); the comparison runs every time.
  const fromBundle = cachedByContent('config-keys-3.1-bundle', ['test/scripts/config-keys.test.ts', path.relative(ROOT, bundle)], () => {
    const yml = execFileSync('tar', ['-xzOf', bundle, './airflow-core-3.1.0bp/airflow-core/src/airflow/config_templates/config.yml'], {
      maxBuffer: 64 * 1024 * 1024,
    }).toString('utf8');
    const doc = jsYaml.load(yml) as Record<string, { options?: Record<string, { sensitive?: boolean; version_added?: string | null; default?: unknown }> }>;
    return Object.entries(doc)
      .flatMap(([section, body]) =>
        Object.entries(body.options ?? {}).map(([key, info]) =>
          [`${section}.${key}`, String(info.sensitive === true), info.version_added ?? '', JSON.stringify(info.default == null ? null : String(info.default))].join('\t'),
        ),
      )
      .sort();
  });
  const vendored = fs
    .readFileSync(path.join(EXTRACTS, '3.1', 'core.tsv'), 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .slice(1)
    .map((l) => l.split('\t').slice(0, 4).join('\t'));
  expect(vendored).toEqual(fromBundle);
  expect(vendored).toHaveLength(269);
}, 60_000);
