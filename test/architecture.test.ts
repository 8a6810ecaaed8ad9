// The shape of lib/ (docs/architecture.md): one folder per box, imports flowing one way
// (chart -> airflow -> database -> storage -> core, security beside storage), and the Airflow 2-or-3 question
// answered by the generation object alone. Each rule is first shown to catch a violation in a made-up file.
import * as fs from 'fs';
import * as path from 'path';

const LIB = path.resolve(__dirname, '..', 'lib');
/** The one file allowed to tell Airflow 2 from Airflow 3. */
const GENERATION = 'core/airflow-generation.ts';

/** Which boxes each box may import from (besides itself). `.` is the top: lib/airflow-chart.ts, lib/airflow-app.ts and lib/index.ts. */
const FEATURES = ['celery', 'git-sync', 'logging', 'metrics', 'image-pre-pull', 'pgbouncer', 'database-cleanup', 'dag-bundles', 'auth', 'local-settings'] as const;
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  '.': [...FEATURES, 'airflow', 'database', 'storage', 'security', 'core'],
  // The features plug into the control plane: they may import it, it never imports them.
  ...Object.fromEntries(FEATURES.map((f) => [f, ['airflow', 'database', 'storage', 'security', 'core']])),
  'airflow': ['database', 'storage', 'security', 'core'],
  'database': ['storage', 'core'],
  'storage': ['core'],
  'security': ['core'],
  'core': [],
};

function libFiles(dir = LIB): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const f = path.join(dir, e.name);
    return e.isDirectory() ? libFiles(f) : f.endsWith('.ts') ? [path.relative(LIB, f).split(path.sep).join('/')] : [];
  });
}

function boxOf(file: string): string {
  const parts = file.split('/');
  return parts.length === 1 ? '.' : parts[0];
}

/** `file: imports <target> (box a -> box b)` for every relative import that crosses boxes the wrong way. */
function importViolations(file: string, source: string): string[] {
  const out: string[] = [];
  const from = boxOf(file);
  for (const m of source.matchAll(/^\s*(?:import|export)\b[^;]*?from\s+'(\.{1,2}\/[^']*)'/gm)) {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1]));
    if (target.startsWith('../')) continue; // imports/, outside lib/
    const to = target.includes('/') || !ALLOWED[target] ? boxOf(target) : target; // '../core' is the core box
    if (to !== from && !ALLOWED[from].includes(to)) out.push(`${file}: imports '${m[1]}' (${from} -> ${to})`);
  }
  return out;
}

/** Code that tests the Airflow major version, or names a generation-specific component by a literal. */
const VERSION_TESTS: ReadonlyArray<[RegExp, string]> = [
  [/\bmajor\b\s*[!=]==?\s*\d/, 'compares a major version with a number'],
  [/\d\s*[!=]==?\s*[\w.]*\bmajor\b/, 'compares a number with a major version'],
  [/\bisAtLeast\(/, 'tests the version'],
  [/'(api-server|webserver)'/, 'names a generation-specific component by a literal'],
];

function versionViolations(file: string, source: string): string[] {
  if (file === GENERATION || file.startsWith('core/data/') || file === 'core/labels.ts') return [];
  const out: string[] = [];
  source.split('\n').forEach((line, i) => {
    if (/^\s*(\/\/|\*|\/\*)/.test(line)) return; // comments may talk about versions
    for (const [pattern, what] of VERSION_TESTS) {
      if (pattern.test(line)) out.push(`${file}:${i + 1}: ${what}: ${line.trim()}`);
    }
  });
  return out;
}

describe('lib/ has one folder per box, and every folder has an index.ts that only re-exports', () => {
  test('the boxes', () => {
    const folders = fs.readdirSync(LIB, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    expect(folders).toEqual([...FEATURES, 'airflow', 'core', 'database', 'security', 'storage'].sort());
    expect(fs.readdirSync(LIB).filter((f) => f.endsWith('.ts')).sort()).toEqual(['airflow-app.ts', 'airflow-chart.ts', 'airflow-options.ts', 'index.ts']);
  });

  test.each([...FEATURES, 'airflow', 'core', 'database', 'security', 'storage'])('%s/index.ts only re-exports', (box) => {
    const code = fs
      .readFileSync(path.join(LIB, box, 'index.ts'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.trim().startsWith('//'));
    expect(code.length).toBeGreaterThan(0);
    expect(code.filter((l) => !/^export \* from '\.\/[a-z0-9/-]+';$/.test(l))).toEqual([]);
  });
});

describe('imports flow one way: chart -> airflow -> database -> storage -> core, security -> core', () => {
  test('no file imports from a box above it or beside it', () => {
    const violations = libFiles().flatMap((f) => importViolations(f, fs.readFileSync(path.join(LIB, f), 'utf8')));
    expect(violations).toEqual([]);
  });

  test('the rule catches an upward import and a sideways one', () => {
    expect(importViolations('core/x.ts', "import { AirflowVolumes } from '../storage';")).toEqual([
      "core/x.ts: imports '../storage' (core -> storage)",
    ]);
    expect(importViolations('storage/x.ts', "import { MetadataDb } from '../database/metadata-db';")).toEqual([
      "storage/x.ts: imports '../database/metadata-db' (storage -> database)",
    ]);
    expect(importViolations('security/x.ts', "import { X } from '../airflow';\nimport { Y } from '../core';")).toEqual([
      "security/x.ts: imports '../airflow' (security -> airflow)",
    ]);
    expect(importViolations('airflow/x.ts', "import { X } from '../database';\nimport { Y } from './y';")).toEqual([]);
  });
});

describe(`only ${GENERATION} tells Airflow 2 from Airflow 3`, () => {
  test('no other file tests the major version or names the UI component by a literal', () => {
    const violations = libFiles().flatMap((f) => versionViolations(f, fs.readFileSync(path.join(LIB, f), 'utf8')));
    expect(violations).toEqual([]);
  });

  test('the rule catches the forms such a test takes', () => {
    const caught = versionViolations(
      'airflow/x.ts',
      [
        'const ui = version.major === 3 ? x : y;',
        'if (2 !== this.airflowVersion.major) {}',
        "if (version.isAtLeast(AirflowVersion.of('2.10.0'))) {}",
        "const name = 'webserver';",
        '// on Airflow 3 (major === 3) the api-server serves the UI',
      ].join('\n'),
    );
    expect(caught.map((c) => c.split(': ')[1])).toEqual([
      'compares a major version with a number',
      'compares a number with a major version',
      'tests the version',
      'names a generation-specific component by a literal',
    ]);
    expect(versionViolations(GENERATION, 'if (version.major === 2) {}')).toEqual([]);
  });
});

/** The value imports of each lib/ file (type-only imports are erased by TypeScript), as lib/-relative paths. */
function importGraph(): Map<string, string[]> {
  const files = libFiles();
  const resolve = (from: string, spec: string): string | undefined => {
    const p = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
    return [`${p}.ts`, `${p}/index.ts`].find((c) => files.includes(c));
  };
  return new Map(
    files.map((f) => {
      const source = fs.readFileSync(path.join(LIB, f), 'utf8');
      const targets = [...source.matchAll(/^(?:import|export)(?! type)[^;]*?from\s+'(\.[^']*)'/gm)].map((m) => resolve(f, m[1]));
      return [f, targets.filter((t): t is string => t !== undefined)];
    }),
  );
}

/** Every cycle of `graph` found by a depth-first walk, each as the list of files around it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const walk = (file: string, stack: string[]) => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') found.push(stack.slice(stack.indexOf(next)));
      else if (!state.has(next)) walk(next, stack);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) walk(file, []);
  return found;
}

describe('no import cycle (#25: airflow-options.ts and celery-options.ts used to import each other)', () => {
  test('the value imports of lib/ form no cycle', () => {
    expect(cycles(importGraph())).toEqual([]);
  });

  test('the walk finds a cycle', () => {
    const graph = new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']], ['d.ts', ['a.ts']]]);
    expect(cycles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
  });
});
