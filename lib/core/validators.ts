import { IConstruct } from 'constructs';
import { invalid } from './errors';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A lowercase version of `value` that is a DNS-1123 label, when there is an obvious one. */
function dnsSuggestion(value: string): string | undefined {
  const fixed = value
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/g, '');
  return fixed && fixed !== value ? `Did you mean ${JSON.stringify(fixed)}?` : undefined;
}

/** A DNS-1123 label: names of Services, Namespaces, volumes in a pod spec, container names. */
export function validateDnsLabel(scope: IConstruct, property: string, value: unknown, maxLength = 63): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength || !DNS_LABEL.test(value)) {
    invalid(
      scope,
      property,
      value,
      `a DNS-1123 label: 1 to ${maxLength} characters of lowercase letters, digits and '-', ` +
        'starting and ending with a letter or digit',
      typeof value === 'string' ? dnsSuggestion(value) : undefined,
    );
  }
  return value;
}

/** A DNS-1123 subdomain: names of most Kubernetes objects (Secrets, ConfigMaps, claims, volumes). */
export function validateDnsSubdomain(scope: IConstruct, property: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 253 || !DNS_SUBDOMAIN.test(value)) {
    invalid(
      scope,
      property,
      value,
      "a DNS-1123 subdomain: at most 253 characters of lowercase letters, digits, '-' and '.', " +
        'each dot-separated part starting and ending with a letter or digit',
      typeof value === 'string' ? dnsSuggestion(value) : undefined,
    );
  }
  return value;
}

const QUANTITY = /^([+]?)(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** The numeric value of a Kubernetes quantity ("512Mi" -> 536870912, "250m" -> 0.25), or undefined. */
export function parseQuantity(value: string): number | undefined {
  const match = QUANTITY.exec(value);
  if (!match) return undefined;
  const number = Number(match[2]);
  const suffix = match[4];
  if (suffix === undefined) return number;
  if (suffix in BINARY) return number * BINARY[suffix];
  if (suffix in DECIMAL) return number * DECIMAL[suffix];
  return number * 10 ** Number(suffix.slice(1));
}

/** What a storage or memory quantity must look like. */
const BYTES_ALLOWED = 'a Kubernetes quantity of bytes greater than zero, such as "512Mi", "5Gi" or "1G"';

/** A storage or memory quantity ("5Gi"); returns its value in bytes. */
export function validateByteQuantity(scope: IConstruct, property: string, value: unknown): number {
  const bytes = typeof value === 'string' ? parseQuantity(value) : undefined;
  if (bytes === undefined || bytes <= 0 || (typeof value === 'string' && value.endsWith('m'))) {
    invalid(scope, property, value, BYTES_ALLOWED, typeof value === 'string' ? byteSuggestion(value) : undefined);
  }
  return bytes;
}

/** "5GB" or "5 gb" -> 'Did you mean "5Gi"?' */
function byteSuggestion(value: string): string | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp])i?b?$/i.exec(value.trim());
  return m ? `Did you mean ${JSON.stringify(`${m[1]}${m[2].toUpperCase()}i`)}?` : undefined;
}

/** A CPU quantity ("500m", "1", "1.5"); returns cores. */
export function validateCpuQuantity(scope: IConstruct, property: string, value: unknown): number {
  const cores = typeof value === 'string' ? parseQuantity(value) : undefined;
  if (cores === undefined || cores <= 0) {
    invalid(scope, property, value, 'a Kubernetes CPU quantity greater than zero, such as "250m", "1" or "1.5"');
  }
  return cores;
}

/** An absolute, normalized POSIX path ("/data", "/opt/airflow/dags"). */
export function validateAbsolutePath(scope: IConstruct, property: string, value: unknown): string {
  if (
    typeof value !== 'string' ||
    !value.startsWith('/') ||
    value.split('/').some((part) => part === '.' || part === '..') ||
    /\/\/|\s|:/.test(value) ||
    (value.length > 1 && value.endsWith('/'))
  ) {
    const hint =
      typeof value === 'string' && !value.startsWith('/') && value.length > 0
        ? `Did you mean ${JSON.stringify('/' + value.replace(/^\.?\/*/, '').replace(/\/+$/, ''))}?`
        : undefined;
    invalid(
      scope,
      property,
      value,
      "an absolute path without '.', '..', '//', spaces, ':' or a trailing '/', such as \"/data\"",
      hint,
    );
  }
  return value;
}

/** A TCP port, 1 to 65535. */
export function validatePort(scope: IConstruct, property: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    invalid(scope, property, value, 'a whole number from 1 to 65535');
  }
  return value;
}

/** A whole number in [min, max]. */
export function validateInteger(
  scope: IConstruct,
  property: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    invalid(
      scope,
      property,
      value,
      max === Number.MAX_SAFE_INTEGER ? `a whole number of at least ${min}` : `a whole number from ${min} to ${max}`,
    );
  }
  return value;
}

/** One of a fixed set of choices. */
export function validateChoice<T extends string>(
  scope: IConstruct,
  property: string,
  value: unknown,
  choices: readonly T[],
): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    const close =
      typeof value === 'string' ? choices.find((c) => c.toLowerCase() === value.toLowerCase()) : undefined;
    invalid(
      scope,
      property,
      value,
      `one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`,
      close ? `Did you mean ${JSON.stringify(close)}?` : undefined,
    );
  }
  return value as T;
}

// registry[:port]/path[:tag][@sha256:digest], as the distribution reference grammar has it (lowercase path).
const IMAGE =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

/**
 * A container image reference pinned by a tag or a digest ("apache/airflow:3.1.3",
 * "registry:5000/team/airflow@sha256:..."). An image without either is refused: the container runtime would
 * read it as `:latest`, whatever that names on the day a node pulls it (and with `IfNotPresent`, nodes that
 * pulled on different days run different images). An explicit tag, `latest` included, is the user's choice
 * (e.g. an image built into minikube's docker as `my-airflow:latest`).
 */
export function validateImage(scope: IConstruct, property: string, value: unknown): string {
  if (typeof value !== 'string' || value.length > 4096 || !IMAGE.test(value)) {
    invalid(
      scope,
      property,
      value,
      'a container image reference: [registry[:port]/]name[:tag][@sha256:digest], name in lowercase, ' +
        'such as "apache/airflow:3.1.3"',
      typeof value === 'string' && value !== value.toLowerCase() && IMAGE.test(value.toLowerCase())
        ? `Did you mean ${JSON.stringify(value.toLowerCase())}?`
        : undefined,
    );
  }
  const named = value.includes('@') ? value.slice(0, value.indexOf('@')) : value;
  const hasTag = named.slice(named.lastIndexOf('/') + 1).includes(':');
  if (!hasTag && !value.includes('@')) {
    invalid(
      scope,
      property,
      value,
      'an image pinned by a tag or a digest, [registry[:port]/]name:tag or name@sha256:digest, such as ' +
        '"apache/airflow:3.1.3": without either the container runtime pulls "latest", whatever it names on the day ' +
        'a node pulls it',
      `Add the tag (or the digest) of the build you tested: ${JSON.stringify(`${value}:<tag>`)}.`,
    );
  }
  return value;
}

/** Rejects two names that are the same (property is the list's name, e.g. "volumes"). */
export function validateUnique(scope: IConstruct, property: string, names: readonly string[]): void {
  const seen = new Set<string>();
  names.forEach((name, index) => {
    if (seen.has(name)) {
      invalid(scope, `${property}[${index}].name`, name, `a name not used by another entry of "${property}"`);
    }
    seen.add(name);
  });
}
