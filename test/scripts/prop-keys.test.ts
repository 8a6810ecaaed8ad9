// scripts/prop-keys.js: the table of every props and options interface's keys that refuseUnknownProps
// (lib/core/props.ts) checks against is the interfaces' own, and every construct checks its props.
import * as fs from 'fs';
import * as path from 'path';
import { PROP_KEYS } from '../../lib/core/data/prop-keys';
import { OUT, render } from '../../scripts/prop-keys';
import { cachedByContent } from '../support/content-cache';

const LIB = path.resolve(__dirname, '..', '..', 'lib');

// render() builds a Program of lib/ (about 1.5 s of CPU): its text is kept, keyed by the content of everything it
// reads and of the script (test/support/content-cache.ts).
test('lib/core/data/prop-keys.ts is current: regenerating it changes nothing (run npm run docs)', () => {
  const fresh = cachedByContent('prop-keys', ['lib', 'imports', 'scripts/prop-keys.js'], render);
  expect(fs.readFileSync(OUT, 'utf8')).toBe(fresh);
}, 60_000);

test('the table holds the chart, the control plane and their nested options, inherited keys included', () => {
  expect(PROP_KEYS.AirflowChartProps.keys).toEqual(expect.arrayContaining(['parallelism', 'ingress', 'gitSync', 'namespace', 'nodeSelector']));
  expect(PROP_KEYS.AirflowChartProps.nested).toMatchObject({ ingress: ['IngressOptions'], scheduler: ['ComponentOptions'], volumes: ['AirflowVolumeOptions[]'] });
  expect(PROP_KEYS.KubernetesExecutorAirflowProps.keys).not.toContain('gitSync'); // a feature's option: addAirflowFeatures'
  expect(PROP_KEYS.ComponentOptions.keys).toEqual(expect.arrayContaining(['replicas', 'resources', 'env']));
  expect(PROP_KEYS.AirflowConfigValues).toBeUndefined(); // a record: any section
});

test('every construct whose constructor takes props refuses unknown ones, by its props interface', () => {
  const files = fs.readdirSync(LIB, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.includes('data'));
  const missing: string[] = [];
  let constructors = 0;
  for (const file of files) {
    const source = fs.readFileSync(path.join(LIB, file), 'utf8');
    for (const m of source.matchAll(/constructor\(scope: Construct, id: string, props: (\w+)/g)) {
      constructors++;
      if (!source.includes(`refuseUnknownProps(this, '', props, '${m[1]}')`)) missing.push(`${file}: ${m[1]}`);
      expect([m[1], PROP_KEYS[m[1]] !== undefined]).toEqual([m[1], true]);
    }
  }
  expect(constructors).toBeGreaterThan(15);
  expect(missing).toEqual([]);
});
