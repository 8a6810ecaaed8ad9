// A check of synthesized objects against the newest Kubernetes API schemas an npm package ships:
// kubernetes-models 5.1.0 (devDependency alias `kubernetes-models-1.36`), generated from the OpenAPI of
// Kubernetes 1.36.0 (its scripts/generate.ts: VERSIONS ends with "1.36.0", merged over older releases so that
// removed API versions keep their models). 5.x ships ajv-compiled validators (ESM, Node 22+) instead of JSON
// schemas, so this reads its TypeScript declarations, which carry every field with its OpenAPI description and
// enum values: a field the 1.36 schema does not declare (removed or misspelt), a field whose description says
// it is deprecated, a value outside an enum. Test-only: the library's own validation stays on 1.28
// (validation/k8s-schema.ts).
import * as fs from 'fs';
import * as path from 'path';
import type * as ts from 'typescript';
import { contentHash } from './content-cache';

/** The Kubernetes release of the schemas: kubernetes-models 5.1.0's generate.ts, `VERSIONS` ("Latest version"). */
export const NEWEST_SCHEMA_KUBERNETES_VERSION = '1.36';

const PACKAGE = path.resolve(__dirname, '..', '..', 'node_modules', 'kubernetes-models-1.36');

/** One declared type: its fields, or a leaf (string, number, boolean, a free-form value, an enum). */
interface TypeInfo {
  readonly fields?: Map<string, { readonly doc: string; readonly type: TypeRef }>;
}
type TypeRef =
  | { readonly kind: 'object'; readonly file: string }
  | { readonly kind: 'array'; readonly items: TypeRef }
  | { readonly kind: 'map'; readonly values: TypeRef }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'leaf' };

const files = new Map<string, TypeInfo>();

// The declarations read so far, kept between runs in build/.test-cache/ (as test/support/content-cache.ts keeps
// its results), keyed by the content of this file and of node_modules/.package-lock.json (the installed
// kubernetes-models): while those are unchanged a declaration file reads the same. With them kept, the
// TypeScript compiler (9 MB) is not loaded and no declaration is parsed (about 0.15 s of CPU per run); a file not
// kept yet is parsed and added. AIRFLOW_CDK8S_NO_TEST_CACHE=1 parses afresh.
const ROOT = path.resolve(__dirname, '..', '..');
const KEPT = path.join(ROOT, 'build', '.test-cache', 'k8s-newest-schema-types.json');
let keptKey: string | undefined;
let parsedSinceKept = false;

type KeptInfo = { readonly fields?: Array<[string, { readonly doc: string; readonly type: TypeRef }]> };

/** A TypeRef with its declaration files relative to the repository (`to`), or back to absolute paths (`from`). */
function movedRef(type: TypeRef, move: (file: string) => string): TypeRef {
  switch (type.kind) {
    case 'object':
      return { kind: 'object', file: move(type.file) };
    case 'array':
      return { kind: 'array', items: movedRef(type.items, move) };
    case 'map':
      return { kind: 'map', values: movedRef(type.values, move) };
    default:
      return type;
  }
}

function loadKept(): void {
  if (keptKey !== undefined) return;
  keptKey = contentHash(['test/support/k8s-newest-schema.ts']);
  if (process.env.AIRFLOW_CDK8S_NO_TEST_CACHE === '1') return;
  try {
    const kept = JSON.parse(fs.readFileSync(KEPT, 'utf8')) as { key: string; files: Record<string, KeptInfo> };
    if (kept.key !== keptKey) return;
    const absolute = (file: string) => path.join(ROOT, file);
    for (const [file, info] of Object.entries(kept.files)) {
      if (files.has(absolute(file))) continue;
      files.set(absolute(file), info.fields ? { fields: new Map(info.fields.map(([name, f]) => [name, { doc: f.doc, type: movedRef(f.type, absolute) }])) } : {});
    }
  } catch {
    // nothing kept yet, or an unreadable file: parse
  }
}

/** Keeps what was parsed since the last load (nothing is written when every declaration was kept). */
function keep(): void {
  if (!parsedSinceKept || keptKey === undefined) return;
  parsedSinceKept = false;
  const relative = (file: string) => path.relative(ROOT, file);
  const out: Record<string, KeptInfo> = {};
  for (const [file, info] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    out[relative(file)] = info.fields ? { fields: [...info.fields].map(([name, f]) => [name, { doc: f.doc, type: movedRef(f.type, relative) }]) } : {};
  }
  fs.mkdirSync(path.dirname(KEPT), { recursive: true });
  // written whole then renamed: a test file reading it meanwhile sees the old or the new one, never half
  fs.writeFileSync(`${KEPT}.${process.pid}.tmp`, JSON.stringify({ key: keptKey, files: out }));
  fs.renameSync(`${KEPT}.${process.pid}.tmp`, KEPT);
}

/** The TypeScript compiler, loaded when a declaration file is parsed. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const typescript = (): typeof ts => require('typescript');

function resolveImport(from: string, specifier: string): string {
  if (specifier.startsWith('.')) return path.resolve(path.dirname(from), specifier.replace(/\.js$/, '.d.ts'));
  const nested = path.join(PACKAGE, 'node_modules', `${specifier}.d.ts`);
  return fs.existsSync(nested) ? nested : path.join(PACKAGE, '..', `${specifier}.d.ts`);
}

function typeRef(node: ts.TypeNode, file: string, imports: Map<string, string>): TypeRef {
  const ts = typescript();
  if (ts.isTypeReferenceNode(node)) {
    const name = node.typeName.getText();
    if (name === 'Array' && node.typeArguments?.length === 1) return { kind: 'array', items: typeRef(node.typeArguments[0], file, imports) };
    const target = imports.get(name);
    return target ? { kind: 'object', file: target } : { kind: 'leaf' };
  }
  if (ts.isArrayTypeNode(node)) return { kind: 'array', items: typeRef(node.elementType, file, imports) };
  if (ts.isTypeLiteralNode(node)) {
    const index = node.members.find(ts.isIndexSignatureDeclaration);
    return index?.type ? { kind: 'map', values: typeRef(index.type, file, imports) } : { kind: 'leaf' };
  }
  if (ts.isUnionTypeNode(node) && node.types.every((t) => ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal))) {
    return { kind: 'enum', values: node.types.map((t) => ((t as ts.LiteralTypeNode).literal as ts.StringLiteral).text) };
  }
  return { kind: 'leaf' };
}

/** The fields of the interface a declaration file exports (none for a type alias: Quantity, IntOrString). */
function typeInfo(file: string): TypeInfo {
  loadKept();
  let info = files.get(file);
  if (info) return info;
  const ts = typescript();
  parsedSinceKept = true;
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const imports = new Map<string, string>();
  let iface: ts.InterfaceDeclaration | undefined;
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier)) {
      for (const element of (statement.importClause?.namedBindings as ts.NamedImports | undefined)?.elements ?? []) {
        imports.set(element.name.text, resolveImport(file, statement.moduleSpecifier.text));
      }
    }
    if (ts.isInterfaceDeclaration(statement) && !iface) iface = statement;
  }
  if (!iface) {
    info = {};
  } else {
    const fields = new Map<string, { doc: string; type: TypeRef }>();
    // `extends TypeMeta`: apiVersion and kind.
    if (iface.heritageClauses?.some((h) => h.getText().includes('TypeMeta'))) {
      fields.set('apiVersion', { doc: '', type: { kind: 'leaf' } });
      fields.set('kind', { doc: '', type: { kind: 'leaf' } });
    }
    for (const member of iface.members) {
      if (!ts.isPropertySignature(member) || !member.type) continue;
      const name = ts.isStringLiteral(member.name) || ts.isIdentifier(member.name) ? member.name.text : member.name.getText();
      const doc = ts
        .getJSDocCommentsAndTags(member)
        .map((d) => (typeof d.comment === 'string' ? d.comment : (d.comment ?? []).map((c) => c.text).join('')))
        .join('\n');
      fields.set(name, { doc, type: typeRef(member.type, file, imports) });
    }
    info = { fields };
  }
  files.set(file, info);
  return info;
}

/** One finding: the field, dotted, and what is wrong. */
export interface NewestSchemaProblem {
  readonly field: string;
  readonly message: string;
}

// A description that calls the field itself deprecated: "Deprecated: ...", "is a deprecated alias", "This field
// is deprecated". (A value's deprecation inside an enum's list, e.g. "- `X` is deprecated", is not the field's.)
const DEPRECATED = /(^|\. )Deprecated[:.]|\bis a deprecated\b|\bThis field is deprecated\b|\bfield is deprecated\b/;

function walk(value: unknown, type: TypeRef, field: string, problems: NewestSchemaProblem[]): void {
  if (value === null || value === undefined) return;
  if (type.kind === 'array') {
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, type.items, `${field}[${i}]`, problems));
    return;
  }
  if (type.kind === 'map') {
    if (typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, type.values, `${field}[${JSON.stringify(k)}]`, problems);
    return;
  }
  if (type.kind === 'enum') {
    if (typeof value === 'string' && !type.values.includes(value)) {
      problems.push({ field, message: `received ${JSON.stringify(value)}; Kubernetes ${NEWEST_SCHEMA_KUBERNETES_VERSION} allows ${type.values.map((v) => JSON.stringify(v)).join(', ')}` });
    }
    return;
  }
  if (type.kind !== 'object' || typeof value !== 'object' || Array.isArray(value)) return;
  const info = typeInfo(type.file);
  if (!info.fields) return;
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const name = field ? `${field}.${key}` : key;
    const declared = info.fields.get(key);
    if (!declared) {
      problems.push({ field: name, message: `not a field of the Kubernetes ${NEWEST_SCHEMA_KUBERNETES_VERSION} schema` });
      continue;
    }
    if (DEPRECATED.test(declared.doc)) {
      problems.push({ field: name, message: `deprecated in Kubernetes ${NEWEST_SCHEMA_KUBERNETES_VERSION}: ${declared.doc.split('\n')[0]}` });
    }
    walk(child, declared.type, name, problems);
  }
}

/**
 * The problems of one object against the Kubernetes 1.36 schema of its apiVersion/kind: an apiVersion/kind the
 * package has no model of, fields it does not declare, fields it calls deprecated, values outside an enum.
 * (The package keeps models of removed API versions, so a model is no proof that 1.36 serves the version: see
 * {@link REMOVED_API_VERSIONS}.)
 */
export function newestSchemaProblems(manifest: { apiVersion: string; kind: string }): NewestSchemaProblem[] {
  const file = path.join(PACKAGE, manifest.apiVersion.includes('/') ? manifest.apiVersion : manifest.apiVersion, `${manifest.kind}.d.ts`);
  if (!/^[\w.]+(\/\w+)?$/.test(manifest.apiVersion) || !/^\w+$/.test(manifest.kind) || !fs.existsSync(file)) {
    return [{ field: 'kind', message: `${manifest.apiVersion} ${manifest.kind} is not a kind of the Kubernetes ${NEWEST_SCHEMA_KUBERNETES_VERSION} schemas` }];
  }
  const problems: NewestSchemaProblem[] = [];
  walk(manifest, { kind: 'object', file }, '', problems);
  keep();
  return problems;
}

/**
 * API versions Kubernetes removed, with the release that removed them and the replacement (Kubernetes'
 * "Deprecated API Migration Guide", kubernetes.io/docs/reference/using-api/deprecation-guide/): the kinds an
 * Airflow chart could use.
 */
export const REMOVED_API_VERSIONS: Readonly<Record<string, { readonly removedIn: string; readonly use: string }>> = {
  'policy/v1beta1 PodDisruptionBudget': { removedIn: '1.25', use: 'policy/v1 (from 1.21)' },
  'policy/v1beta1 PodSecurityPolicy': { removedIn: '1.25', use: 'Pod Security admission (namespace labels)' },
  'batch/v1beta1 CronJob': { removedIn: '1.25', use: 'batch/v1 (from 1.21)' },
  'extensions/v1beta1 Ingress': { removedIn: '1.22', use: 'networking.k8s.io/v1 (from 1.19)' },
  'networking.k8s.io/v1beta1 Ingress': { removedIn: '1.22', use: 'networking.k8s.io/v1 (from 1.19)' },
  'rbac.authorization.k8s.io/v1beta1 Role': { removedIn: '1.22', use: 'rbac.authorization.k8s.io/v1' },
  'rbac.authorization.k8s.io/v1beta1 RoleBinding': { removedIn: '1.22', use: 'rbac.authorization.k8s.io/v1' },
  'autoscaling/v2beta2 HorizontalPodAutoscaler': { removedIn: '1.26', use: 'autoscaling/v2 (from 1.23)' },
  'storage.k8s.io/v1beta1 CSIStorageCapacity': { removedIn: '1.27', use: 'storage.k8s.io/v1 (from 1.24)' },
};

/**
 * The first Kubernetes release that serves each GA apiVersion/kind an Airflow chart of this library can make
 * (Kubernetes' changelogs and API reference): the oldest cluster the chart can be applied to.
 */
export const SERVED_SINCE: Readonly<Record<string, string>> = {
  'v1 Namespace': '1.0',
  'v1 Pod': '1.0',
  'v1 ServiceAccount': '1.0',
  'v1 Secret': '1.0',
  'v1 ConfigMap': '1.2',
  'v1 Service': '1.0',
  'v1 PersistentVolume': '1.0',
  'v1 PersistentVolumeClaim': '1.0',
  'apps/v1 Deployment': '1.9',
  'apps/v1 StatefulSet': '1.9',
  'apps/v1 DaemonSet': '1.9',
  'batch/v1 Job': '1.2',
  'batch/v1 CronJob': '1.21',
  'policy/v1 PodDisruptionBudget': '1.21',
  'networking.k8s.io/v1 Ingress': '1.19',
  'networking.k8s.io/v1 NetworkPolicy': '1.7',
  'rbac.authorization.k8s.io/v1 Role': '1.8',
  'rbac.authorization.k8s.io/v1 RoleBinding': '1.8',
  'storage.k8s.io/v1 StorageClass': '1.6',
};
