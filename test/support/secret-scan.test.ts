// test/support/secret-scan.ts's parseYaml parses a text once per test file: each call still gets documents of
// its own, and a text with a syntax error throws every time.
import { parseYaml } from './secret-scan';

test('each call gets its own documents: changing one changes neither the next call\'s nor the text\'s', () => {
  const text = 'kind: Pod\nspec:\n  containers:\n  - name: a\n    args: [x, y]\n---\nkind: ConfigMap\n';
  const first = parseYaml(text);
  expect(first).toEqual([{ kind: 'Pod', spec: { containers: [{ name: 'a', args: ['x', 'y'] }] } }, { kind: 'ConfigMap' }]);
  first[0].spec.containers[0].args.push('z');
  first[1].kind = 'Secret';
  const second = parseYaml(text);
  expect(second).toStrictEqual([{ kind: 'Pod', spec: { containers: [{ name: 'a', args: ['x', 'y'] }] } }, { kind: 'ConfigMap' }]);
  expect(second[0]).not.toBe(first[0]);
});

test('a syntax error throws on every call, with the parser\'s message', () => {
  const text = 'a: [1, 2\nb: 3\n';
  expect(() => parseYaml(text)).toThrow(/flow sequence|Missing|end/i);
  expect(() => parseYaml(text)).toThrow(/flow sequence|Missing|end/i);
});
