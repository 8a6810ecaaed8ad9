import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { API_MD, generateApiDocs } from '../../scripts/api-docs';
import { cachedByContent } from '../support/content-cache';

const root = path.resolve(__dirname, '..', '..');

// Whether the JSDoc is complete (every export and public member, @default on optional properties) is
// checked by ESLint: scripts/lint.js (run by npm test).
describe('docs/API.md (generated from the JSDoc by scripts/api-docs.js)', () => {
  // A function of lib/ and the script: kept, keyed by their content (test/support/content-cache.ts).
  const { markdown } = cachedByContent('api-docs', ['lib', 'scripts/api-docs.js'], () => generateApiDocs(root));

  test('is current: run npm run docs', () => {
    const committed = fs.existsSync(path.join(root, API_MD)) ? fs.readFileSync(path.join(root, API_MD), 'utf8') : '';
    if (committed !== markdown) {
      throw new Error(`${API_MD} is out of date: run npm run docs`);
    }
  });

  test('documents the public API: the chart, its props with their defaults, and the volumes', () => {
    expect(markdown).toContain('### class `AirflowChart`');
    expect(markdown).toContain('Constructor: `new AirflowChart(scope: Construct, id: string, props?: AirflowChartProps)`');
    expect(markdown).toMatch(/\| `provisioning` \(readonly\) \| `StorageProvisioning` \| optional \| StorageProvisioning\.hostPath\(\)/);
    expect(markdown).toContain('### class `AirflowVolumes`');
    expect(markdown).toContain('### enum `StorageProvisioningMode`');
  });
});

describe('generateApiDocs on a small library', () => {
  // A throwaway lib/ in a temp dir, so the checks are proven to catch what they claim to.
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'api-docs-'));
    fs.mkdirSync(path.join(dir, 'lib'));
    fs.writeFileSync(path.join(dir, 'lib', 'index.ts'), "export * from './widget';\nexport { Used } from './partial';\n");
    fs.writeFileSync(
      path.join(dir, 'lib', 'widget.ts'),
      [
        '/** Props for {@link Widget}. */',
        'export interface WidgetProps {',
        '  /** The name. */',
        '  readonly name: string;',
        '  /**',
        '   * How many, at most <max>.',
        '   * @default 3',
        '   */',
        '  readonly count?: number;',
        '  /** A mode | another. */',
        "  readonly mode?: 'a' | 'b';",
        '  readonly undocumented?: string;',
        '}',
        '',
        'export function noDocs(): void {}',
        '',
        '/** A widget. */',
        'export class Widget {',
        '  /** The count. */',
        '  public readonly count: number;',
        '  private readonly hidden = 1;',
        '  constructor(props: WidgetProps) { this.count = (props.count ?? 3) + this.hidden; }',
        '}',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(dir, 'lib', 'partial.ts'), '/** Used. */\nexport const Used = 1;\n/** Not re-exported. */\nexport const Unused = 2;\n');
    fs.writeFileSync(path.join(dir, 'lib', 'internal.ts'), '/** Internal. */\nexport const Internal = 1;\n');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('notes the files lib/index.ts does not re-export', () => {
    expect(generateApiDocs(dir).unexported).toEqual(['lib/internal.ts']);
  });

  test('renders props with type, required/optional, default and escaped text; only what index.ts exports', () => {
    const { markdown } = generateApiDocs(dir);
    expect(markdown).toContain('| `name` (readonly) | `string` | **required** | — | The name. |');
    expect(markdown).toContain('| `count` (readonly) | `number` | optional | 3 | How many, at most &lt;max&gt;. |');
    expect(markdown).toContain("| `mode` (readonly) | `'a' \\| 'b'` | optional | — | A mode \\| another. |");
    expect(markdown).toContain('| `undocumented` (readonly) | `string` | optional | — | — |');
    expect(markdown).toContain('Props for `Widget`.');
    expect(markdown).toContain('| `count` (readonly) | property | `number` | The count. |');
    expect(markdown).not.toContain('hidden');
    expect(markdown).toContain('### const `Used`');
    expect(markdown).not.toContain('Unused');
    expect(markdown).not.toContain('Internal');
    // files sorted by name: partial.ts before widget.ts
    expect(markdown.indexOf('## `lib/partial.ts`')).toBeLessThan(markdown.indexOf('## `lib/widget.ts`'));
    expect(generateApiDocs(dir).markdown).toBe(markdown);
  });
});
