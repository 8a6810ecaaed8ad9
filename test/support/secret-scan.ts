// A scanner for secret material in synthesized Kubernetes objects: what must never be in `dist/`.
// Used by the whole-chart security tests and by the live tests; `findSecretMaterial([])` on clean objects is [].
// The `yaml` package is the parser cdk8s and cdk8s-cli use (installed with cdk8s-cli, a pinned devDependency);
// it is used directly because cdk8s' Yaml.load drops parse errors, and a document that cannot be parsed
// cannot be scanned.
import { parseAllDocuments } from 'yaml';

/** One place where a secret value is written in clear. */
export interface SecretFinding {
  /** `Kind/name` of the object. */
  readonly object: string;
  /** Where in the object, e.g. `spec.template.spec.containers[0].env[3]`. */
  readonly path: string;
  /** Which rule matched, in words. */
  readonly reason: string;
}

/** Environment variable names that carry secrets. */
// CONN only as a whole word (SQL_ALCHEMY_CONN, AIRFLOW_CONN_X), not inside CONNECTION_CHECK_MAX_COUNT.
const SECRET_ENV_NAME = /PASSWORD|PASSWD|SECRET|KEY|TOKEN|FERNET|(^|_)CONN(_|$)|CREDENTIAL/i;
/**
 * Names that match the above but hold no secret: Airflow's `_CMD` / `_SECRET` indirections of a sensitive
 * option (a command, a secrets-backend path: `..._FERNET_KEY_SECRET`, but not `..._JWT_SECRET`), connection
 * ids, file paths and names of objects.
 */
const HARMLESS_ENV_NAME = /(_CMD|(CONN|KEY|PASSWORD|TOKEN|SECRET)_SECRET|_CONN_ID|_CONN_IDS|CONN_ID|_FILE|_PATH|_KEY_ID|_NAME)$/i;
/** A reference that the kubelet (`$(VAR)`) or a shell (`${VAR}`, `$VAR`) expands at run time. */
const REFERENCE = /\$\([A-Za-z_][A-Za-z0-9_]*\)|\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*/g;
/** `scheme://user:password@`: group 1 is the password. */
const URI_WITH_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^\s/:@'"]*:([^\s/@'"]*)@/gi;
/** Configuration keys whose value is a secret (airflow.cfg `key = value`, YAML `key: value`). */
const SECRET_CONFIG_KEY = /^(fernet_key|secret_key|jwt_secret|password|passwd|[a-z0-9_]*_password|[a-z0-9_]*_token|api_key|[a-z0-9_]*_api_key)$/i;
/** A command-line flag followed by a literal secret. */
const SECRET_FLAG = /--(password|passwd|secret|secret-key|token|fernet-key|requirepass|masterauth)(?:=|\s+)(['"]?)([^\s'"]+)\2/gi;

/** True when `value` is only run-time references (and whitespace/quotes). */
function onlyReferences(value: string): boolean {
  return value.replace(REFERENCE, '').replace(/['"\s]/g, '') === '';
}

function describeObject(o: any): string {
  return `${o?.kind ?? '?'}/${o?.metadata?.name ?? '?'}`;
}

/**
 * Every place in `objects` (synthesized manifests, e.g. `Testing.synth(chart)`) where a secret value is
 * written in clear:
 *
 * - a `Secret` with `data` or `stringData`;
 * - an env entry with a secret-looking name (PASSWORD, SECRET, KEY, TOKEN, FERNET, CONN, ...) and a literal
 *   `value` (allowed: values whose secret part is a `$(VAR)` reference, e.g. a connection URI);
 * - a `scheme://user:password@` URI with a literal password, in any string;
 * - a ConfigMap line `fernet_key = ...`, `secret_key = ...`, `jwt_secret = ...`, `password = ...` (or `key: value`)
 *   with a literal value;
 * - a command-line `--password <literal>` (or `--secret`, `--token`, Redis' `--requirepass`, ...) in a command or args.
 *
 * YAML documents inside ConfigMaps (e.g. `pod_template_file.yaml`) are parsed and scanned too.
 */
export function findSecretMaterial(objects: any[]): SecretFinding[] {
  const findings: SecretFinding[] = [];
  for (const object of objects) scanObject(object, describeObject(object), '', findings);
  return findings;
}

function scanObject(object: any, name: string, prefix: string, out: SecretFinding[]): void {
  if (object?.kind === 'Secret') {
    for (const field of ['data', 'stringData']) {
      if (object[field] && Object.keys(object[field]).length > 0) {
        out.push({ object: name, path: `${prefix}${field}`, reason: `Secret with ${field} (keys: ${Object.keys(object[field]).join(', ')})` });
      }
    }
  }
  if (object?.kind === 'ConfigMap') {
    for (const [key, value] of Object.entries<any>(object.data ?? {})) {
      if (typeof value !== 'string') continue;
      scanConfigLines(value, name, `${prefix}data["${key}"]`, out);
      if (/\.ya?ml$/.test(key)) {
        let docs: any[];
        try {
          docs = parseYaml(value);
        } catch (e) {
          out.push({ object: name, path: `${prefix}data["${key}"]`, reason: `YAML that cannot be parsed, so cannot be scanned: ${e}` });
          continue;
        }
        docs.forEach((doc, i) => {
          if (doc && typeof doc === 'object') scanObject(doc, `${name} ${key}`, `${prefix}data["${key}"][${i}].`, out);
        });
      }
    }
  }
  walk(object, prefix.replace(/\.$/, ''), (value, where, parentKey) => {
    if (typeof value === 'string') {
      for (const match of value.matchAll(URI_WITH_PASSWORD)) {
        if (match[1] !== '' && !onlyReferences(match[1])) {
          out.push({ object: name, path: where, reason: `URI with a literal password: ${redact(match[0])}` });
        }
      }
      if (parentKey === 'command' || parentKey === 'args') {
        for (const match of value.matchAll(SECRET_FLAG)) {
          if (!onlyReferences(match[3])) {
            out.push({ object: name, path: where, reason: `command-line --${match[1]} with a literal value` });
          }
        }
      }
    }
    if (Array.isArray(value) && (parentKey === 'command' || parentKey === 'args')) {
      value.forEach((arg, i) => {
        if (typeof arg === 'string' && /^--(password|passwd|secret|secret-key|token|fernet-key|requirepass|masterauth)$/i.test(arg)) {
          const next = value[i + 1];
          if (typeof next === 'string' && !onlyReferences(next)) {
            out.push({ object: name, path: `${where}[${i + 1}]`, reason: `command-line ${arg} with a literal value` });
          }
        }
      });
    }
    if (Array.isArray(value) && parentKey === 'env') {
      value.forEach((entry, i) => {
        const reason = envFinding(entry);
        if (reason) out.push({ object: name, path: `${where}[${i}]`, reason });
      });
    }
  });
}

function envFinding(entry: any): string | undefined {
  if (!entry || typeof entry.name !== 'string' || typeof entry.value !== 'string' || entry.value === '') return undefined;
  const name: string = entry.name;
  if (!SECRET_ENV_NAME.test(name) || HARMLESS_ENV_NAME.test(name)) return undefined;
  const value: string = entry.value;
  if (/(^|_)CONN(_|$)/i.test(name) && !/PASSWORD|PASSWD|SECRET|KEY|TOKEN|FERNET|CREDENTIAL/i.test(name)) {
    // A connection: a URI (its password checked by the URI rule) or JSON with a password.
    if (value.trim().startsWith('{')) {
      try {
        const json = JSON.parse(value);
        for (const k of ['password', 'secret', 'token']) {
          if (typeof json[k] === 'string' && json[k] !== '' && !onlyReferences(json[k])) {
            return `env ${name}: connection JSON with a literal ${k}`;
          }
        }
      } catch {
        return `env ${name}: a literal that is neither a URI nor JSON`;
      }
      return undefined;
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value.trim()) || onlyReferences(value)) return undefined;
    return `env ${name}: a literal that is not a connection URI`;
  }
  if (onlyReferences(value)) return undefined;
  return `env ${name} has a literal value (use valueFrom.secretKeyRef)`;
}

function scanConfigLines(text: string, name: string, where: string, out: SecretFinding[]): void {
  text.split('\n').forEach((line, i) => {
    const match = /^\s*([A-Za-z0-9_.-]+)\s*[=:]\s*(.*?)\s*$/.exec(line);
    if (!match || !SECRET_CONFIG_KEY.test(match[1])) return;
    const value = match[2].replace(/\s+[#;].*$/, '');
    if (value === '' || value === '""' || value === "''" || value === '|' || value === '>' || onlyReferences(value)) return;
    out.push({ object: name, path: `${where} line ${i + 1}`, reason: `config line "${match[1]}" with a literal value` });
  });
}

function walk(value: any, where: string, visit: (value: any, where: string, parentKey: string | undefined) => void, parentKey?: string): void {
  visit(value, where, parentKey);
  if (Array.isArray(value)) {
    value.forEach((v, i) => walk(v, `${where}[${i}]`, visit, parentKey));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) walk(v, where ? `${where}.${k}` : k, visit, k);
  }
}

function redact(uri: string): string {
  return uri.replace(/:([^:@]*)@$/, ':***@');
}

/** Texts parsed in this test file: the text -> its documents, or the message of its syntax error. */
const parsed = new Map<string, { docs: any[] } | { error: string }>();

/**
 * Parses a YAML string (one or more documents); throws on a syntax error. A text is parsed once per test file
 * (podsOf reads the worker pod template of every chart it is given, often the same text: 2% of the suite's
 * CPU), and each call gets its own copy of the documents.
 */
export function parseYaml(text: string): any[] {
  let result = parsed.get(text);
  if (!result) {
    try {
      result = {
        docs: parseAllDocuments(text).map((doc) => {
          if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('; '));
          return doc.toJSON();
        }),
      };
    } catch (e) {
      result = { error: (e as Error).message };
    }
    parsed.set(text, result);
  }
  if ('error' in result) throw new Error(result.error);
  return copy(result.docs);
}

/** A deep copy of parsed YAML (plain arrays, objects and scalars), made in this realm as the parser's are. */
function copy(value: any): any {
  if (Array.isArray(value)) return value.map(copy);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v)]));
  return value;
}
