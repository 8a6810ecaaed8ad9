/**
 * The synthesized set as the checks see it: each object with the construct that made it, plus the
 * Kubernetes objects embedded as YAML in ConfigMaps (the KubernetesExecutor's pod_template_file), which
 * would otherwise only be parsed by the scheduler when it launches the first task.
 */
import { loadAll } from 'js-yaml';
import { crossObjectFindings, CrossObjectOptions, CrossObjectRule, formatMissing } from './cross-object';
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
  /**
   * `schema` (Kubernetes' own schema and the unknown-field walk), `duplicate-object` (two objects of the set
   * are one object of the cluster) or a cross-object rule.
   */
  readonly rule: 'schema' | 'duplicate-object' | CrossObjectRule;
  /** The object the finding is about. */
  readonly located: LocatedManifest;
  /** The field. */
  readonly field: string;
  /** What is wrong. */
  readonly message: string;
  /**
   * The whole line: `<construct path> (<Kind> <name>): <field>: <message>`; for a missing object (or key),
   * reported once whatever the number of its readers, `<subject> <message> Read by <n> objects: <construct
   * path> (<Kind> <name>) at <field>; ...`.
   */
  readonly line: string;
  /** For a missing object or key: every object and field that reads it (the first is `located` and `field`). */
  readonly readers?: ReadonlyArray<{ readonly located: LocatedManifest; readonly field: string }>;
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

/** How a report names an object: `<construct path> (<Kind> <name>[ in <ConfigMap ... data[...]>])`. */
function whereOf(located: LocatedManifest): string {
  const what = describeManifest(located.manifest);
  const inside = located.embeddedIn ? `${what} in ${located.embeddedIn}` : what;
  return located.constructPath ? `${located.constructPath} (${inside})` : inside;
}

function lineOf(located: LocatedManifest, field: string, message: string): string {
  return `${whereOf(located)}: ${field ? `${field}: ` : ''}${message}`;
}

/**
 * Kinds whose objects belong to no namespace: two of them are one object of the cluster when kind and name
 * are equal, whatever namespace the YAML gives them.
 */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
  'Namespace', 'Node', 'PersistentVolume', 'StorageClass', 'CSIDriver', 'CSINode', 'VolumeAttachment', 'ClusterRole',
  'ClusterRoleBinding', 'PriorityClass', 'RuntimeClass', 'IngressClass', 'CustomResourceDefinition', 'APIService',
  'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'CertificateSigningRequest', 'PodSecurityPolicy',
  'FlowSchema', 'PriorityLevelConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding',
]);

/** `Kind namespace/name` (or `Kind name` for a cluster-scoped kind): what identifies an object in a cluster. */
export function clusterIdentity(manifest: any): string {
  const kind = String(manifest?.kind);
  const name = String(manifest?.metadata?.name);
  return CLUSTER_SCOPED_KINDS.has(kind) ? `${kind} ${name}` : `${kind} ${manifest?.metadata?.namespace ?? '(no namespace)'}/${name}`;
}

/**
 * One finding for each object of the set (not the objects embedded in ConfigMaps) that is the same object of
 * the cluster as an earlier one: same kind, namespace and name (kind and name for a cluster-scoped kind).
 * Applied together, the later one overwrites the earlier; e.g. two Airflow deployments in one namespace.
 */
export function duplicateObjectFindings(list: readonly LocatedManifest[]): ValidationFinding[] {
  const first = new Map<string, LocatedManifest>();
  const findings: ValidationFinding[] = [];
  for (const located of list) {
    if (!located.manifest || typeof located.manifest !== 'object' || located.manifest.metadata?.name === undefined) continue;
    const id = clusterIdentity(located.manifest);
    const earlier = first.get(id);
    if (earlier === undefined) {
      first.set(id, located);
      continue;
    }
    const where = earlier.constructPath ? `"${earlier.constructPath}"` : earlier.manifestPath ? `${earlier.manifestPath}` : 'an earlier object';
    const message = `${id} is made twice: ${where} makes it too; applied to one cluster, one overwrites the other`;
    findings.push({ rule: 'duplicate-object', located, field: 'metadata.name', message, line: lineOf(located, 'metadata.name', message) });
  }
  return findings;
}

/**
 * Schema, duplicate-object and cross-object findings for a synthesized set (embedded objects included in
 * the schema and cross-object checks).
 */
export function validateManifests(list: readonly LocatedManifest[], options: CrossObjectOptions = {}): ValidationFinding[] {
  const all = withEmbeddedManifests(list);
  const findings: ValidationFinding[] = [...duplicateObjectFindings(list)];
  for (const located of all) {
    for (const p of kubernetesSchemaProblems(located.manifest)) {
      findings.push({ rule: 'schema', located, field: p.field, message: p.message, line: lineOf(located, p.field, p.message) });
    }
  }
  const byManifest = new Map(all.map((l) => [l.manifest, l]));
  for (const f of crossObjectFindings(all.map((l) => l.manifest), options)) {
    const located = byManifest.get(f.manifest)!;
    if (f.readers) {
      const readers = f.readers.map((r) => ({ located: byManifest.get(r.manifest)!, field: r.field }));
      const line = formatMissing(f, readers.map((r) => ({ where: whereOf(r.located), manifest: r.located.manifest, field: r.field })));
      findings.push({ rule: f.rule, located, field: f.field, message: f.message, line, readers });
    } else {
      findings.push({ rule: f.rule, located, field: f.field, message: f.message, line: lineOf(located, f.field, f.message) });
    }
  }
  return findings;
}
