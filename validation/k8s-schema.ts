/**
 * Schema validation of synthesized objects against Kubernetes' own OpenAPI schemas (Kubernetes 1.28, as
 * generated into the `kubernetes-models` package from the official swagger.json), plus a strict walk that
 * reports every field the schema does not declare: the plain schemas accept unknown fields (the API server
 * drops them silently, or rejects them only with server-side field validation), so `spec.volumName` would
 * otherwise pass.
 *
 * Everything is loaded lazily per apiVersion/kind: a chart of ten kinds compiles ten validators, not the
 * whole API.
 */
import * as fs from 'fs';
import * as path from 'path';
import { closest } from '../lib/core/text';
import { KEDA_SCHEMAS } from '../imports/keda.sh.schemas';

/**
 * The Kubernetes version whose schemas `kubernetes-models@4.3.1` carries (it has admissionregistration
 * v1beta1, new in 1.28, and no flowcontrol v1, new in 1.29). Like the OpenAPI of the Kubernetes releases it
 * was generated from, it also keeps some older API versions (extensions/v1beta1, batch/v1beta1); which
 * versions a given cluster serves is not checked here.
 */
export const SCHEMA_KUBERNETES_VERSION = '1.28';

/** One problem found in one object. */
export interface SchemaProblem {
  /** The field, dotted with [index] for arrays: `spec.template.spec.containers[0].image`. Empty for the object. */
  readonly field: string;
  /** What is wrong, and a suggestion where one is obvious. */
  readonly message: string;
}

type Schema = Record<string, any>;

/** Schemas as the kubernetes-models generator registers them: id -> JSON schema. */
const schemas = new Map<string, Schema>();
/** `apiVersion/kind` -> schema id of the top-level object, or null when the package has no such kind. */
const roots = new Map<string, string | null>();
/** Schema module files already evaluated. */
const loaded = new Set<string>();

/**
 * Reads a `_schemas/*.js` module of kubernetes-models (and the modules it requires) for its schemas,
 * without compiling them: each module calls `register(id, schema)` of @kubernetes-models/validate, which is
 * given a recorder here. Compiling the same schemas with ajv (what the package's own `validate()` does)
 * costs 0.7 to 1.3 s per kind on this machine, too slow to run at every `cdk8s synth`.
 */
function loadSchemaModule(file: string): void {
  if (loaded.has(file)) return;
  loaded.add(file);
  const source = fs.readFileSync(file, 'utf8');
  const fakeRequire = (request: string): unknown => {
    if (request === '@kubernetes-models/validate') {
      return { register: (id: string, schema: Schema) => schemas.set(id, schema) };
    }
    const resolved = require.resolve(request, { paths: [path.dirname(file)] });
    const exports: Record<string, unknown> = {};
    const addSchema = () => runSchemaModule(resolved);
    exports.addSchema = addSchema;
    return exports;
  };
  const module = { exports: {} as Record<string, unknown> };
  // The module text is the package's own generated CommonJS: `const schema = {...}; function addSchema()`.
  new Function('exports', 'require', 'module', '__filename', '__dirname', source)(
    module.exports,
    fakeRequire,
    module,
    file,
    path.dirname(file),
  );
  const addSchema = module.exports.addSchema as (() => void) | undefined;
  if (addSchema) schemaModules.set(file, addSchema);
}
const schemaModules = new Map<string, () => void>();
const ran = new Set<string>();

/** Runs a schema module's addSchema once (it registers its dependencies, then itself). */
function runSchemaModule(file: string): void {
  if (ran.has(file)) return;
  ran.add(file);
  loadSchemaModule(file);
  schemaModules.get(file)?.();
}

/** The id of the schema of apiVersion/kind, loading its schema modules on first use. */
function rootSchemaId(apiVersion: string, kind: string): string | null {
  const key = `${apiVersion}/${kind}`;
  if (!roots.has(key)) {
    let id: string | null = null;
    if (/^[A-Za-z0-9.]+(\/[A-Za-z0-9]+)?$/.test(apiVersion) && /^[A-Za-z0-9]+$/.test(kind)) {
      try {
        const modelFile = require.resolve(`kubernetes-models/${apiVersion}/${kind}`);
        const model = fs.readFileSync(modelFile, 'utf8');
        const schemaFile = /require\("(\.\.\/(?:\.\.\/)*_schemas\/\w+\.js)"\)/.exec(model)?.[1];
        const schemaId = /setSchema\)\(\w+, "([^"]+)"/.exec(model)?.[1];
        if (schemaFile && schemaId) {
          const file = path.resolve(path.dirname(modelFile), schemaFile);
          runSchemaModule(file);
          id = schemas.has(schemaId) ? schemaId : null;
        }
      } catch {
        id = null;
      }
    }
    roots.set(key, id);
    dirty = true;
  }
  return roots.get(key)!;
}

let dirty = false;

function packageVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('kubernetes-models/package.json') as { version: string }).version;
}

/**
 * Loads the schemas a previous run needed from `file` (written by {@link saveSchemaCache}); ignored when
 * missing, unreadable or written for another kubernetes-models version. One JSON read instead of
 * evaluating ~100 schema modules per kind.
 */
export function loadSchemaCache(file: string): void {
  try {
    const cache = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (cache.version !== packageVersion()) return;
    for (const [id, schema] of Object.entries(cache.schemas as Record<string, Schema>)) if (!schemas.has(id)) schemas.set(id, schema);
    for (const [key, id] of Object.entries(cache.roots as Record<string, string | null>)) if (!roots.has(key)) roots.set(key, id);
  } catch {
    // no cache yet
  }
}

/** Writes the schemas loaded so far to `file`, if any were added since the last load or save. */
export function saveSchemaCache(file: string): void {
  if (!dirty) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ version: packageVersion(), roots: Object.fromEntries(roots), schemas: Object.fromEntries(schemas) }));
  fs.renameSync(tmp, file);
  dirty = false;
}

/** "spec.template.spec.containers[0].image" */
function join(field: string, key: string | number): string {
  if (typeof key === 'number') return `${field}[${key}]`;
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? (field ? `${field}.${key}` : key) : `${field}[${JSON.stringify(key)}]`;
}

function deref(schema: Schema | undefined): Schema | undefined {
  for (let i = 0; schema && typeof schema.$ref === 'string' && i < 20; i++) {
    schema = schemas.get(schema.$ref.replace(/#$/, ''));
  }
  return schema;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

const QUANTITY = /^[+-]?(?:\d+|\d+\.\d+|\d+\.|\.\d+)(?:[KMGTPE]i|[YZEPTGMkhdcmunpfazy]|da|[eE][+-]?(?:\d+|\d+\.\d+|\d+\.|\.\d+))?$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function typeMatches(type: string, value: unknown): boolean {
  const actual = typeOf(value);
  return type === actual || (type === 'number' && actual === 'integer');
}

/** Does `value` satisfy `schema` at all? (used to choose among oneOf branches) */
function accepts(schema: Schema | undefined, value: unknown): boolean {
  const problems: SchemaProblem[] = [];
  check(value, schema, '', problems, false);
  return problems.length === 0;
}

function describeTypes(branches: Schema[]): string {
  return branches
    .map((b) => deref(b))
    .map((b) => (b?.type === 'string' && b.format === 'quantity' ? 'a quantity string ("512Mi")' : b?.type ? `${b.type === 'integer' ? 'an' : 'a'} ${b.type}` : 'an object'))
    .join(' or ');
}

/**
 * Validates `value` against `schema` (the subset of JSON Schema the Kubernetes OpenAPI uses: $ref, type,
 * nullable, enum, format, required, properties, additionalProperties, items, oneOf/anyOf/allOf), and,
 * when `strict`, reports every field the schema does not declare.
 */
function check(value: unknown, schemaIn: Schema | undefined, field: string, problems: SchemaProblem[], strict: boolean): void {
  const schema = deref(schemaIn);
  if (!schema) return;
  const branches: Schema[] | undefined = schema.oneOf ?? schema.anyOf;
  if (Array.isArray(branches)) {
    const real = branches.filter((b) => b.type !== 'null');
    if (value === null && real.length < branches.length) return;
    if (real.length === 1) {
      // The usual "X or null" wrapper: check X directly (trying it first would double the work per level).
      check(value, real[0], field, problems, strict);
      return;
    }
    const fitting = real.filter((b) => accepts(b, value));
    if (fitting.length === 0) {
      const structural = real.filter((b) => {
        const d = deref(b);
        return d && (d.properties || d.type === 'object' || d.type === 'array');
      });
      if (real.length === 1 || (structural.length === 1 && typeof value === 'object' && value !== null)) {
        // One possible shape (the usual "X or null"): report what is wrong inside it.
        check(value, structural.length === 1 ? structural[0] : real[0], field, problems, strict);
      } else {
        problems.push({ field, message: `received ${JSON.stringify(value)}; must be ${describeTypes(real)}` });
      }
      return;
    }
    check(value, fitting[0], field, problems, strict);
    return;
  }
  if (Array.isArray(schema.allOf)) {
    for (const s of schema.allOf) check(value, s, field, problems, strict);
  }
  if (value === null) {
    if (schema.nullable || schema.type === 'null' || schema.type === undefined) return;
    problems.push({ field, message: `received null; must be ${schema.type === 'integer' ? 'an' : 'a'} ${schema.type}` });
    return;
  }
  if (typeof schema.type === 'string' && !typeMatches(schema.type, value)) {
    problems.push({ field, message: `received ${JSON.stringify(value)} (${typeOf(value)}); must be ${schema.type === 'integer' || schema.type === 'object' || schema.type === 'array' ? 'an' : 'a'} ${schema.type}` });
    return;
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) {
    const guess = typeof value === 'string' ? closest(value, schema.enum.filter((e: unknown): e is string => typeof e === 'string')) : undefined;
    problems.push({ field, message: `received ${JSON.stringify(value)}; must be one of ${schema.enum.map((e: unknown) => JSON.stringify(e)).join(', ')}${guess ? ` (did you mean ${guess}?)` : ''}` });
  }
  if (typeof value === 'number') {
    if (schema.format === 'int32' && (value < -(2 ** 31) || value > 2 ** 31 - 1)) {
      problems.push({ field, message: `received ${value}; must fit in a 32-bit integer` });
    }
    return;
  }
  if (typeof value === 'string') {
    if (schema.format === 'quantity' && !QUANTITY.test(value)) {
      problems.push({ field, message: `received ${JSON.stringify(value)}; must be a Kubernetes quantity such as "512Mi", "1Gi" or "250m"` });
    } else if (schema.format === 'byte' && !BASE64.test(value)) {
      problems.push({ field, message: 'must be base64-encoded' });
    }
    return;
  }
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((item, i) => check(item, schema.items, join(field, i), problems, strict));
    return;
  }
  if (typeof value !== 'object') return;
  const object = value as Record<string, unknown>;
  for (const required of Array.isArray(schema.required) ? schema.required : []) {
    if (object[required] === undefined) problems.push({ field, message: `required field "${required}" is missing` });
  }
  if (schema['x-kubernetes-preserve-unknown-fields']) return;
  const properties: Record<string, Schema> | undefined = schema.properties;
  const additional = schema.additionalProperties;
  for (const [key, child] of Object.entries(object)) {
    if (child === undefined) continue;
    if (properties && Object.prototype.hasOwnProperty.call(properties, key)) {
      check(child, properties[key], join(field, key), problems, strict);
    } else if (additional && typeof additional === 'object') {
      check(child, additional, join(field, key), problems, strict);
    } else if (strict && (properties || additional === false)) {
      const guess = properties ? closest(key, Object.keys(properties)) : undefined;
      problems.push({ field: join(field, key), message: `unknown field${guess ? ` (did you mean ${guess}?)` : ''}` });
    }
    // A schema with neither properties nor additionalProperties is free-form (e.g. RawExtension).
  }
}

/**
 * Validates one manifest against the Kubernetes schema of its apiVersion/kind (types, enums, formats,
 * required fields) and reports every field the schema does not declare. Returns the problems; none for a
 * valid object.
 */
export function kubernetesSchemaProblems(manifest: unknown): SchemaProblem[] {
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
    return [{ field: '', message: 'not a Kubernetes object (expected a mapping with apiVersion and kind)' }];
  }
  const { apiVersion, kind } = manifest as { apiVersion?: unknown; kind?: unknown };
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
    return [{ field: '', message: 'apiVersion and kind must both be set (strings)' }];
  }
  // KEDA's custom resources (the Celery workers' autoscaler), against the openAPIV3Schema of the CRDs the
  // library vendors (imports/vendor/keda/): what the API server checks once KEDA's CRDs are installed.
  const crd = KEDA_SCHEMAS[`${apiVersion}/${kind}`];
  if (crd !== undefined) {
    const problems: SchemaProblem[] = [];
    check(manifest, crd, '', problems, true);
    return problems;
  }
  const id = rootSchemaId(apiVersion, kind);
  if (!id) {
    return [
      {
        field: 'kind',
        message: `${apiVersion} ${kind} is not a kind of the Kubernetes ${SCHEMA_KUBERNETES_VERSION} API schemas (custom resources are not checked)`,
      },
    ];
  }
  const problems: SchemaProblem[] = [];
  check(manifest, schemas.get(id), '', problems, true);
  return problems;
}

/**
 * The package's own validation (its ajv-compiled validators) of one manifest: the error messages, none when
 * valid. Too slow for every synth (see loadSchemaModule); the tests use it to show that the fast check above
 * finds what the package finds.
 */
export function kubernetesModelsErrors(manifest: any): string[] {
  const file = require.resolve(`kubernetes-models/${manifest.apiVersion}/${manifest.kind}`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Model = require(file)[manifest.kind] as new (data: unknown) => { validate(): void };
  try {
    new Model(manifest).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: Array<{ instancePath?: string; message?: string }> }).errors;
    if (!Array.isArray(errors)) throw e;
    return errors.map((x) => `${x.instancePath ?? ''} ${x.message ?? ''}`);
  }
}

/** "PersistentVolumeClaim airflow-dags-claim" */
export function describeManifest(manifest: any): string {
  const name = manifest?.metadata?.name ?? '(no name)';
  return `${manifest?.kind ?? '(no kind)'} ${name}`;
}

/** `<construct path> (<Kind> <name>): <field>: <message>`, the line every report uses. */
export function formatProblem(manifest: any, problem: { field: string; message: string }, constructPath?: string): string {
  const what = describeManifest(manifest);
  const where = constructPath ? `${constructPath} (${what})` : what;
  return `${where}: ${problem.field ? `${problem.field}: ` : ''}${problem.message}`;
}
