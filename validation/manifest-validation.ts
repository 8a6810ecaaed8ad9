/**
 * A cdk8s validation plugin: `cdk8s synth` runs it on the synthesized manifests (see `validations:` in
 * cdk8s.yaml) and fails the synth with a readable report when an object does not match Kubernetes' own
 * schema (unknown fields included) or references an object that does not exist.
 *
 * The CLI loads it from a local path (`package: ./validation/plugin.js`), constructs `class` with
 * `properties`, and calls `validate(context)` with the manifest files and construct metadata
 * (object name -> construct path) that the app recorded because validations are configured.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CrossObjectOptions } from './cross-object';
import { loadAll } from 'js-yaml';
import { loadSchemaCache, saveSchemaCache, SCHEMA_KUBERNETES_VERSION } from './k8s-schema';
import { LocatedManifest, validateManifests, ValidationFinding } from './manifests';
import { describe } from '../lib/core/errors';
import { closest } from '../lib/core/text';

/** `properties` of the plugin in cdk8s.yaml. */
export interface AirflowManifestValidationProperties extends CrossObjectOptions {
  /**
   * Keep `construct-metadata.json`, which the app writes into the output folder when validations are
   * configured. It is removed by default: `kubectl apply -f dist/` would try to apply it.
   * @default false
   */
  readonly keepConstructMetadata?: boolean;
}

/** The parts of the CLI's ValidationContext the plugin uses. */
export interface ValidationContextLike {
  readonly manifests: string[];
  readonly metadata?: Record<string, { path?: string }>;
  parseManifest(manifestPath: string): any[];
  readonly report: {
    addViolation(violation: {
      ruleName: string;
      recommendation: string;
      fix: string;
      violatingResources: Array<{ resourceName: string; manifestPath: string; locations: string[] }>;
    }): void;
    submit(status: 'success' | 'failure', metadata?: Record<string, string>): void;
  };
  readonly logger: { log(message: string): void };
}

const RULES: Record<ValidationFinding['rule'], { title: string; fix: string }> = {
  'schema': {
    title: `Kubernetes ${SCHEMA_KUBERNETES_VERSION} schema`,
    fix: 'Correct the field in the construct that creates the object (the line names its path); unknown fields are typos or fields of another API version.',
  },
  'duplicate-object': {
    title: 'Two objects of the app are one object of the cluster',
    fix: 'Give each object its own name or namespace: two Airflow deployments need a namespace each (the library refuses a second control plane in a namespace).',
  },
  'claim-volume': {
    title: 'Claim pinned to a missing or incompatible PersistentVolume',
    fix: 'Give the claim and its volume the same storage class and volume mode, access modes the volume offers, and a request no larger than its capacity.',
  },
  'volume-mount': {
    title: 'volumeMount of an undeclared volume',
    fix: 'Declare the volume in the pod spec, or mount one of the declared volumes.',
  },
  'missing-object': {
    title: 'A Secret, ConfigMap, claim or ServiceAccount that exists nowhere',
    fix:
      'Create the object in the app, or, if it is created outside it, list it under existingSecrets / existingConfigMaps / ' +
      'existingClaims / existingServiceAccounts in the properties of this plugin in cdk8s.yaml.',
  },
  'key-ref': {
    title: 'secretKeyRef / configMapKeyRef to a key the object does not have',
    fix: 'Add the key to the object, or read one it has.',
  },
  'service-selector': {
    title: 'Service that selects no pod template',
    fix: "Make the Service's selector a subset of the pod template labels of the workload it fronts.",
  },
  'role-binding': {
    title: 'RoleBinding to a missing Role or ServiceAccount',
    fix: 'Create the Role and ServiceAccount in the same namespace as the RoleBinding, or fix the names.',
  },
  'host-path': {
    title: 'Two hostPath PersistentVolumes on one folder of the node',
    fix: 'Give each deployment a hostRoot of its own (AirflowChart hostRoot, StorageProvisioning.hostPath({ hostRoot })), and no volume the name of another of the same root (postgres).',
  },
};

/**
 * The properties the plugin takes, and what each holds: TypeScript fails here when the interface gains or loses
 * one, so the check below cannot drift from it.
 */
const PROPERTIES: Readonly<Record<keyof AirflowManifestValidationProperties, 'names' | 'boolean'>> = {
  existingSecrets: 'names',
  existingConfigMaps: 'names',
  existingClaims: 'names',
  existingServiceAccounts: 'names',
  keepConstructMetadata: 'boolean',
};

/**
 * What is wrong with the plugin's properties (cdk8s.yaml's `properties`, or the options of `validationReport`):
 * an unknown property (with the closest one as "did you mean": a misspelt `existingSecret:` would otherwise be
 * ignored, and the Secrets it lists reported missing), a list of names that is not a list of strings (a single
 * string would be searched for as a substring), a flag that is not a boolean. Empty when they are fine.
 */
export function validationPropertiesProblems(properties: unknown): string[] {
  if (properties === undefined || properties === null) return [];
  if (typeof properties !== 'object' || Array.isArray(properties)) {
    return [`properties received ${describe(properties)}; allowed: a map of ${Object.keys(PROPERTIES).join(', ')}.`];
  }
  const allowed = Object.keys(PROPERTIES).sort();
  const problems: string[] = [];
  for (const [key, value] of Object.entries(properties as Record<string, unknown>)) {
    if (value === undefined) continue;
    const kind = (PROPERTIES as Record<string, 'names' | 'boolean' | undefined>)[key];
    if (kind === undefined) {
      const guess = closest(key, allowed);
      problems.push(
        `property "${key}" received ${describe(value)}; allowed: a property of AirflowManifestValidation (${allowed.join(', ')}).` +
          (guess ? ` Did you mean "${guess}"?` : ''),
      );
    } else if (kind === 'names' && !(Array.isArray(value) && value.every((v) => typeof v === 'string' && v !== ''))) {
      problems.push(`property "${key}" received ${describe(value)}; allowed: a list of object names, such as ["my-secret"] (in YAML, one "- my-secret" per line).`);
    } else if (kind === 'boolean' && typeof value !== 'boolean') {
      problems.push(`property "${key}" received ${describe(value)}; allowed: true or false.`);
    }
  }
  return problems;
}

/** The plugin class named in cdk8s.yaml. */
export class AirflowManifestValidation {
  constructor(private readonly properties: AirflowManifestValidationProperties = {}) {}

  public async validate(context: ValidationContextLike): Promise<void> {
    const configuration = validationPropertiesProblems(this.properties);
    if (configuration.length > 0) {
      // Checking the manifests with a misread configuration would report (or hide) the wrong objects.
      const lines = configuration.map((p) => `AirflowManifestValidation (its properties in cdk8s.yaml): ${p}`);
      for (const line of lines) {
        context.report.addViolation({
          ruleName: `The plugin's properties: ${line}`,
          recommendation: line,
          fix: `Correct the properties of the plugin in cdk8s.yaml (${Object.keys(PROPERTIES).join(', ')}; docs/validation.md).`,
          violatingResources: [],
        });
      }
      context.logger.log([`airflow-cdk8s validation: ${lines.length} problem(s) in its own configuration; no object was checked:`, ...lines.map((l) => `  ${l}`)].join('\n'));
      context.report.submit('failure', { problems: String(lines.length) });
      this.removeConstructMetadata(context);
      return;
    }
    // <project>/build/.plugin-cache, whether this file runs from its source (validation/, this repository)
    // or compiled (build/validation/, the installed package).
    const compiled = path.basename(path.dirname(__dirname)) === 'build';
    const root = path.resolve(__dirname, compiled ? '../..' : '..');
    const schemaCache = path.join(root, 'build', '.plugin-cache', 'k8s-schemas.json');
    loadSchemaCache(schemaCache);
    const located: LocatedManifest[] = [];
    for (const manifestPath of context.manifests) {
      // js-yaml rather than context.parseManifest (the yaml package): 5x faster on a 70 kB manifest.
      for (const manifest of loadAll(fs.readFileSync(manifestPath, 'utf8')) as any[]) {
        if (manifest === null || manifest === undefined) continue;
        located.push({ manifest, manifestPath });
      }
    }
    // The construct metadata is keyed by object name only; use it where the name is unambiguous.
    const count = new Map<string, number>();
    for (const l of located) count.set(l.manifest?.metadata?.name, (count.get(l.manifest?.metadata?.name) ?? 0) + 1);
    const withPaths = located.map((l) => {
      const name = l.manifest?.metadata?.name;
      const constructPath = count.get(name) === 1 ? context.metadata?.[name]?.path : undefined;
      return constructPath ? { ...l, constructPath } : l;
    });

    const findings = validateManifests(withPaths, this.properties);
    for (const f of findings) {
      const rule = RULES[f.rule];
      // A missing object is one violation, with one resource per object that reads it.
      const readers = f.readers ?? [{ located: f.located, field: f.field }];
      const byObject = new Map<LocatedManifest, string[]>();
      for (const r of readers) (byObject.get(r.located) ?? byObject.set(r.located, []).get(r.located)!).push(f.readers ? r.field : f.line);
      context.report.addViolation({
        ruleName: f.readers ? `${rule.title}: ${f.line.slice(0, f.line.indexOf(' Read by '))}` : `${rule.title}: ${f.field ? `${f.field}: ` : ''}${f.message}`,
        recommendation: f.line,
        fix: rule.fix,
        violatingResources: [...byObject].map(([located, locations]) => ({
          resourceName: located.manifest?.metadata?.name ?? '(no name)',
          manifestPath: located.manifestPath ?? '',
          locations,
        })),
      });
    }
    context.logger.log(
      findings.length === 0
        ? `airflow-cdk8s validation: ${withPaths.length} objects match the Kubernetes ${SCHEMA_KUBERNETES_VERSION} schemas, and every ` +
          'Secret, ConfigMap, claim and ServiceAccount they read is in the output, generated by a secrets bootstrap Job of it, or declared as existing'
        : [`airflow-cdk8s validation: ${findings.length} problem(s):`, ...findings.map((f) => `  ${f.line}`)].join('\n'),
    );
    context.report.submit(findings.length === 0 ? 'success' : 'failure', {
      objects: String(withPaths.length),
      problems: String(findings.length),
      kubernetes: SCHEMA_KUBERNETES_VERSION,
    });

    try {
      saveSchemaCache(schemaCache);
    } catch {
      // a read-only checkout: the next run reads the package again
    }
    this.removeConstructMetadata(context);
  }

  private removeConstructMetadata(context: ValidationContextLike): void {
    if (this.properties?.keepConstructMetadata === true) return;
    for (const dir of new Set(context.manifests.map((m) => path.dirname(m)))) {
      fs.rmSync(path.join(dir, 'construct-metadata.json'), { force: true });
    }
  }
}
