/**
 * The synthesized set as the checks see it: each object with the construct that made it, plus the
 * Kubernetes objects embedded as YAML in ConfigMaps (the KubernetesExecutor's pod_template_file), which
 * would otherwise only be parsed by the scheduler when it launches the first task.
 */
import { loadAll } from 'js-yaml';
import { crossObjectFindings, CrossObjectOptions, CrossObjectRule } from './cross-object';
import { describeManifest, kubernetesSchemaProblems } from './k8s-schema';

/** An object of the synthesized set, and where it came from. */
export interface LocatedManifest {
  /** The object, as it is written to the YAML. */
  readonly manifest: any;
  /** The path of the construct that created it, e.g. `airflow/volumes/dags/Claim`. */
  readonly constructPath?: string;
  /** The manifest file it was read from (plugin only). */
  readonly manifestPath?: string;
  /** For an object embedded in a ConfigMap: `ConfigMap airflow-config data["pod_template_file.yaml"]`. */
  readonly embeddedIn?: string;
}

/** One line of a validation report. */
export interface ValidationFinding {
  /** `schema` (Kubernetes' own schema and the unknown-field walk) or a cross-object rule. */
  readonly rule: 'schema' | CrossObjectRule;
  /** The object the finding is about. */
  readonly located: LocatedManifest;
  /** The field. */
  readonly field: string;
  /** What is wrong. */
  readonly message: string;
  /** The whole line: `<construct path> (<Kind> <name>): <field>: <message>`. */
  readonly line: string;
}

/** Adds the Kubernetes objects embedded as YAML (or JSON) documents in ConfigMaps' data. */
export function withEmbeddedManifests(list: readonly LocatedManifest[]): LocatedManifest[] {
  const out = [...list];
  for (const item of list) {
    const cm = item.manifest;
    if (cm?.kind !== 'ConfigMap' || !cm.data || typeof cm.data !== 'object') continue;
    for (const [key, text] of Object.entries(cm.data as Record<string, unknown>)) {
      if (typeof text !== 'string' || !/\.(ya?ml|json)$/.test(key)) continue;
      let docs: unknown[];
      try {
        docs = loadAll(text);
      } catch {
        continue;
      }
      docs.forEach((doc: any) => {
        if (doc && typeof doc === 'object' && typeof doc.apiVersion === 'string' && typeof doc.kind === 'string') {
          // The executor creates worker pods in its own namespace: check references against the ConfigMap's.
          const manifest =
            doc.metadata?.namespace || !cm.metadata?.namespace
              ? doc
              : { ...doc, metadata: { ...(doc.metadata ?? {}), namespace: cm.metadata.namespace } };
          out.push({
            manifest,
            constructPath: item.constructPath,
            manifestPath: item.manifestPath,
            embeddedIn: `${describeManifest(cm)} data[${JSON.stringify(key)}]`,
          });
        }
      });
    }
  }
  return out;
}

function lineOf(located: LocatedManifest, field: string, message: string): string {
  const what = describeManifest(located.manifest);
  const inside = located.embeddedIn ? `${what} in ${located.embeddedIn}` : what;
  const where = located.constructPath ? `${located.constructPath} (${inside})` : inside;
  return `${where}: ${field ? `${field}: ` : ''}${message}`;
}

/** Schema and cross-object findings for a synthesized set (embedded objects included). */
export function validateManifests(list: readonly LocatedManifest[], options: CrossObjectOptions = {}): ValidationFinding[] {
  const all = withEmbeddedManifests(list);
  const findings: ValidationFinding[] = [];
  for (const located of all) {
    for (const p of kubernetesSchemaProblems(located.manifest)) {
      findings.push({ rule: 'schema', located, field: p.field, message: p.message, line: lineOf(located, p.field, p.message) });
    }
  }
  const byManifest = new Map(all.map((l) => [l.manifest, l]));
  for (const f of crossObjectFindings(all.map((l) => l.manifest), options)) {
    const located = byManifest.get(f.manifest)!;
    findings.push({ rule: f.rule, located, field: f.field, message: f.message, line: lineOf(located, f.field, f.message) });
  }
  return findings;
}
