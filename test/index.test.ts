// lib/index.ts, the public API: every type a public signature names can be imported from the package (and so
// has its section in docs/API.md, which documents what lib/index.ts exports). The TypeScript compiler API
// walks every exported declaration: classes (constructor, public and protected members, what they extend and
// implement), interfaces (members, what they extend), type aliases, functions and constants, and reports each
// type of lib/ they name that lib/index.ts does not export.
import * as path from 'path';
import type * as ts from 'typescript';
import { cachedByContent } from './support/content-cache';

const ROOT = path.resolve(__dirname, '..');
const LIB = path.join(ROOT, 'lib') + path.sep;

/**
 * The TypeScript compiler, loaded when a result is computed: with both results kept (test/support/content-cache.ts)
 * its 9 MB are not loaded at all (about 0.15 s of CPU).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const typescript = (): typeof ts => require('typescript');

/** `Exported.member: Unexported (lib/x.ts)` for every type of lib/ a public signature names and the index does not export. */
function unexportedTypes(indexFile: string, program: ts.Program): string[] {
  const ts = typescript();
  const checker = program.getTypeChecker();
  const index = program.getSourceFile(indexFile)!;
  const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(index)!).map((s) => resolve(s));
  const exportedSet = new Set(exported);
  const problems = new Set<string>();

  function resolve(s: ts.Symbol): ts.Symbol {
    return s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
  }
  function isPrivate(node: ts.Node): boolean {
    const name = (node as ts.NamedDeclaration).name;
    if (name && ts.isPrivateIdentifier(name)) return true;
    const mods = ts.canHaveModifiers(node) ? (ts.getModifiers(node) ?? []) : [];
    if (mods.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword)) return true;
    return /@internal\b/.test(ts.getJSDocCommentsAndTags(node).map((d) => d.getText()).join('\n'));
  }
  function check(where: string, s: ts.Symbol | undefined): void {
    if (!s) return;
    const target = resolve(s);
    if (target.flags & ts.SymbolFlags.TypeParameter) return;
    const decl = target.declarations?.[0];
    if (!decl) return;
    const file = decl.getSourceFile().fileName;
    if (!path.resolve(file).startsWith(LIB)) return; // cdk8s, constructs, the k8s L1 classes: not ours
    if (!exportedSet.has(target)) problems.add(`${where}: ${target.name} (${path.relative(ROOT, file)})`);
  }
  /** Every type name in a piece of syntax: `Foo`, `Foo<Bar>`, `Foo.Bar`, `typeof foo`, `keyof Foo`... */
  function walkSyntax(where: string, node: ts.Node | undefined): void {
    if (!node) return;
    const visit = (n: ts.Node): void => {
      if (ts.isTypeReferenceNode(n)) check(where, checker.getSymbolAtLocation(n.typeName));
      else if (ts.isExpressionWithTypeArguments(n)) check(where, checker.getSymbolAtLocation(n.expression));
      else if (ts.isTypeQueryNode(n)) check(where, checker.getSymbolAtLocation(n.exprName));
      ts.forEachChild(n, visit);
    };
    visit(node);
  }
  /** A declaration with no type written: the inferred type, through its alias and type arguments. */
  function walkType(where: string, type: ts.Type, seen = new Set<ts.Type>()): void {
    if (seen.has(type)) return;
    seen.add(type);
    if (type.aliasSymbol) check(where, type.aliasSymbol);
    if (type.isUnion() || type.isIntersection()) return type.types.forEach((t) => walkType(where, t, seen));
    const s = type.getSymbol();
    if (s && !(s.flags & (ts.SymbolFlags.TypeLiteral | ts.SymbolFlags.ObjectLiteral))) check(where, s);
    for (const arg of checker.getTypeArguments(type as ts.TypeReference) ?? []) walkType(where, arg, seen);
  }
  function walkSignatureLike(where: string, node: ts.SignatureDeclaration): void {
    for (const p of node.parameters) {
      if (isPrivate(p) && ts.isParameterPropertyDeclaration(p, p.parent)) continue;
      walkSyntax(`${where}(${p.name.getText()})`, p.type);
    }
    for (const tp of node.typeParameters ?? []) walkSyntax(where, tp);
    if (node.type) walkSyntax(where, node.type);
    else if (!ts.isConstructorDeclaration(node)) {
      const sig = checker.getSignatureFromDeclaration(node);
      if (sig) walkType(where, checker.getReturnTypeOfSignature(sig));
    }
  }
  function walkMember(owner: string, m: ts.Node): void {
    if (isPrivate(m)) return;
    const name = (m as ts.NamedDeclaration).name?.getText() ?? (ts.isConstructorDeclaration(m) ? 'constructor' : '?');
    const where = `${owner}.${name}`;
    if (ts.isPropertyDeclaration(m) || ts.isPropertySignature(m)) {
      if (m.type) walkSyntax(where, m.type);
      else walkType(where, checker.getTypeAtLocation(m));
    } else if (ts.isGetAccessorDeclaration(m)) {
      if (m.type) walkSyntax(where, m.type);
      else walkType(where, checker.getTypeAtLocation(m));
    } else if (ts.isSetAccessorDeclaration(m) || ts.isMethodDeclaration(m) || ts.isMethodSignature(m) || ts.isConstructorDeclaration(m)) {
      walkSignatureLike(where, m);
    } else if (ts.isIndexSignatureDeclaration(m) || ts.isCallSignatureDeclaration(m)) {
      walkSyntax(where, m);
    }
  }

  for (const s of exported) {
    for (const decl of s.declarations ?? []) {
      const name = s.name;
      if (ts.isClassDeclaration(decl) || ts.isInterfaceDeclaration(decl)) {
        for (const h of decl.heritageClauses ?? []) walkSyntax(name, h);
        for (const tp of decl.typeParameters ?? []) walkSyntax(name, tp);
        for (const m of decl.members) walkMember(name, m);
      } else if (ts.isTypeAliasDeclaration(decl)) {
        walkSyntax(name, decl.type);
      } else if (ts.isFunctionDeclaration(decl)) {
        walkSignatureLike(name, decl);
      } else if (ts.isVariableDeclaration(decl)) {
        if (decl.type) walkSyntax(name, decl.type);
        else walkType(name, checker.getTypeAtLocation(decl));
      }
    }
  }
  return [...problems].sort();
}

/** A Program of `roots` (lib/index.ts unless told) with `files`, made-up files beside the real ones. */
function programOf(files: Record<string, string> = {}, roots = [path.join(ROOT, 'lib', 'index.ts')], more: ts.CompilerOptions = {}): ts.Program {
  const ts = typescript();
  const options: ts.CompilerOptions = { strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, noEmit: true, skipLibCheck: true, types: [], ...more };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  host.readFile = (f) => files[path.resolve(f)] ?? read(f);
  const exists = host.fileExists.bind(host);
  host.fileExists = (f) => path.resolve(f) in files || exists(f);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (f, lang, onError, create) =>
    path.resolve(f) in files ? ts.createSourceFile(f, files[path.resolve(f)], lang) : getSourceFile(f, lang, onError, create);
  return ts.createProgram([...roots, ...Object.keys(files)], options, host);
}

// The Program of lib/ costs about 1.5 s of CPU: its result is kept, keyed by the content of everything it reads
// (test/support/content-cache.ts), this file (the check) included.
test('every type of lib/ that an exported signature names is exported from lib/index.ts', () => {
  const problems = cachedByContent('index-unexported-types', ['lib', 'imports', 'test/index.test.ts'], () =>
    unexportedTypes(path.join(ROOT, 'lib', 'index.ts'), programOf()),
  );
  expect(problems).toEqual([]);
}, 60_000);

test('the check catches an exported signature that names an unexported type', () => {
  // A made-up module beside the real ones: its exported construct's props, a method's parameter and a
  // return type name types the made-up index does not export.
  const probe = path.join(ROOT, 'lib', 'probe-public-api.ts');
  const probeIndex = path.join(ROOT, 'lib', 'probe-index.ts');
  // The made-up files only: lib/index.ts's Program is not needed to walk them, nor the DOM's typings (the default
  // library of ES2022 is lib.es2022.full.d.ts, the DOM's included: ~0.5 s to parse). Their Program still costs
  // 0.2 s of CPU: its result is kept like the other's, keyed by this file (the made-up files and the check) and
  // the installed TypeScript.
  const found = cachedByContent('index-unexported-types-probe', ['test/index.test.ts'], () => {
    const program = programOf({
      [probe]: [
        'export interface HiddenOptions { readonly a?: number }',
        'export interface HiddenResult { readonly b: string }',
        'export interface ShownProps { readonly nested?: HiddenOptions }',
        'export class Shown {',
        '  constructor(public readonly props: ShownProps) {}',
        '  public run(options: HiddenOptions[]): Promise<HiddenResult> { return Promise.resolve({ b: String(options.length) }); }',
        '  private secret(x: HiddenResult): void { void x; }',
        '}',
      ].join('\n'),
      [probeIndex]: "export { Shown, type ShownProps } from './probe-public-api';\n",
    }, [], { lib: ['lib.es2022.d.ts'] });
    return unexportedTypes(probeIndex, program);
  });
  expect(found).toEqual([
    'Shown.run(options): HiddenOptions (lib/probe-public-api.ts)',
    'Shown.run: HiddenResult (lib/probe-public-api.ts)',
    'ShownProps.nested: HiddenOptions (lib/probe-public-api.ts)',
  ]);
});
