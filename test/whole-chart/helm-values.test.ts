// docs/helm-values.md maps the official Helm chart's values to this library's props (issue #22): every top-level
// key of the chart's values.yaml (vendored with its chart version in test/data/helm-values-keys-1.19.0.txt, its
// source cited there) has a row whose first column names it, and a row says what to use or why it is not needed.
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const KEYS_FILE = path.join(ROOT, 'test', 'data', 'helm-values-keys-1.19.0.txt');
const DOC = path.join(ROOT, 'docs', 'helm-values.md');

/** The vendored top-level keys, in values.yaml's order. */
export function chartKeys(text = fs.readFileSync(KEYS_FILE, 'utf8')): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

/** The table's rows: the Helm values named in the first column (top-level key of each), and the other cells. */
export function tableRows(markdown: string): Array<{ keys: string[]; cells: string[] }> {
  return markdown
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .map((l) => {
      const cells = l.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
      const keys = [...cells[0].matchAll(/`([^`]+)`/g)].map((m) => m[1].split(/[.\s[]/)[0]);
      return { keys, cells };
    });
}

/** The vendored keys no row names. */
export function missingKeys(keys: string[], markdown: string): string[] {
  const named = new Set(tableRows(markdown).flatMap((r) => r.keys));
  return keys.filter((k) => !named.has(k));
}

describe('docs/helm-values.md covers every top-level key of the official chart 1.19.0', () => {
  const keys = chartKeys();
  const doc = fs.readFileSync(DOC, 'utf8');

  test('the vendored list: 81 keys of chart 1.19.0, each once', () => {
    expect(keys.length).toBe(81);
    expect(new Set(keys).size).toBe(81);
    expect(fs.readFileSync(KEYS_FILE, 'utf8')).toMatch(/chart version 1\.19\.0/);
    expect(keys.slice(0, 3)).toEqual(['fullnameOverride', 'nameOverride', 'useStandardNaming']);
    expect(keys.slice(-3)).toEqual(['podTemplate', 'dags', 'logs']);
  });

  test('every key has a row', () => {
    expect(missingKeys(keys, doc)).toEqual([]);
  });

  test('every row says what to use or why not: no empty cell', () => {
    const rows = tableRows(doc);
    expect(rows.length).toBeGreaterThan(40);
    expect(rows.filter((r) => r.cells.length !== 3 || r.cells[1] === '')).toEqual([]);
  });

  test('the check catches a missing key', () => {
    expect(missingKeys(['executor', 'kerberos'], '| `executor` | x | y |\n| `images.airflow.tag` | x | y |')).toEqual(['kerberos']);
    expect(missingKeys(['images'], '| `images.airflow.tag` | x | y |')).toEqual([]);
  });
});
