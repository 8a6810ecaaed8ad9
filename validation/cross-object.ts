/**
 * Checks across the synthesized set of objects: the references between objects that no single schema can
 * see, each of which otherwise surfaces minutes after `kubectl apply` as a claim stuck Pending, a pod stuck
 * in ContainerCreating or CreateContainerConfigError, a Service with no endpoints, or a 403 from the API.
 */
import { parseQuantity } from '../lib/core/validators';
import { CREATES_SECRET_ANNOTATION } from '../lib/core/labels';
import { describeManifest, formatProblem } from './k8s-schema';

/** Objects the user says exist in the cluster already (created outside this app). */
export interface CrossObjectOptions {
  /**
   * Secrets that exist although they are not in the output (created by hand, or by another tool). Secrets an
   * object of the output announces with the `airflow-cdk8s/creates-secret` annotation (the secrets bootstrap
   * Job) need not be listed.
   */
  readonly existingSecrets?: readonly string[];
  /** ConfigMaps that exist although they are not in the output. */
  readonly existingConfigMaps?: readonly string[];
  /** PersistentVolumeClaims that exist although they are not in the output. */
  readonly existingClaims?: readonly string[];
  /** ServiceAccounts that exist although they are not in the output (`default` always exists). */
  readonly existingServiceAccounts?: readonly string[];
}

/** One broken reference. */
export interface CrossObjectFinding {
  /** The rule, e.g. `volume-mount`. */
  readonly rule: CrossObjectRule;
  /** The object holding the reference. */
  readonly manifest: any;
  /** The field holding the reference. */
  readonly field: string;
  /** What is wrong. */
  readonly message: string;
}

/** The rules, one per kind of reference. */
export type CrossObjectRule =
  | 'claim-volume'
  | 'volume-mount'
  | 'pod-volume-source'
  | 'key-ref'
  | 'service-selector'
  | 'role-binding'
  | 'service-account'
  | 'host-path';

/** Kinds whose pod template is at spec.template. */
const TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'ReplicationController']);

/** Built-in ClusterRoles every cluster has. */
const BUILTIN_CLUSTER_ROLES = new Set(['cluster-admin', 'admin', 'edit', 'view']);

interface PodTemplate {
  readonly owner: any;
  /** The field of the pod spec within its owner, e.g. `spec.template.spec`. */
  readonly at: string;
  readonly spec: any;
  readonly labels: Record<string, string>;
  readonly namespace: string;
}

function ns(o: any): string {
  return o?.metadata?.namespace ?? '';
}

function nameOf(o: any): string {
  return o?.metadata?.name ?? '';
}

/** The pod specs in the output: workloads' templates, Pods, CronJobs' job templates. */
export function podTemplates(objects: readonly any[]): PodTemplate[] {
  const out: PodTemplate[] = [];
  for (const o of objects) {
    if (!o || typeof o !== 'object') continue;
    if (o.kind === 'Pod' && o.spec) {
      out.push({ owner: o, at: 'spec', spec: o.spec, labels: o.metadata?.labels ?? {}, namespace: ns(o) });
    } else if (TEMPLATE_KINDS.has(o.kind) && o.spec?.template?.spec) {
      out.push({
        owner: o,
        at: 'spec.template.spec',
        spec: o.spec.template.spec,
        labels: o.spec.template.metadata?.labels ?? {},
        namespace: ns(o),
      });
    } else if (o.kind === 'CronJob' && o.spec?.jobTemplate?.spec?.template?.spec) {
      const t = o.spec.jobTemplate.spec.template;
      out.push({ owner: o, at: 'spec.jobTemplate.spec.template.spec', spec: t.spec, labels: t.metadata?.labels ?? {}, namespace: ns(o) });
    }
  }
  return out;
}

function containersOf(spec: any): Array<{ field: string; container: any }> {
  const out: Array<{ field: string; container: any }> = [];
  for (const list of ['initContainers', 'containers', 'ephemeralContainers']) {
    (Array.isArray(spec?.[list]) ? spec[list] : []).forEach((container: any, i: number) =>
      out.push({ field: `${list}[${i}]`, container }),
    );
  }
  return out;
}

/** Every broken reference in `objects`, as structured findings. */
export function crossObjectFindings(objects: readonly any[], options: CrossObjectOptions = {}): CrossObjectFinding[] {
  const findings: CrossObjectFinding[] = [];
  const add = (rule: CrossObjectRule, manifest: any, field: string, message: string) =>
    findings.push({ rule, manifest, field, message });

  const byKind = new Map<string, any[]>();
  for (const o of objects) {
    if (o && typeof o === 'object' && typeof o.kind === 'string') {
      (byKind.get(o.kind) ?? byKind.set(o.kind, []).get(o.kind)!).push(o);
    }
  }
  const find = (kind: string, name: string, namespace?: string) =>
    (byKind.get(kind) ?? []).find((o) => nameOf(o) === name && (namespace === undefined || ns(o) === namespace));
  // Secrets an object of the output says it creates at deploy time (the secrets bootstrap Job).
  const createdSecrets = new Set(
    objects
      .map((o) => [o?.metadata?.annotations?.[CREATES_SECRET_ANNOTATION], ns(o)])
      .filter(([name]) => typeof name === 'string')
      .map(([name, namespace]) => `${namespace}/${name}`),
  );
  const existing = (kind: string, name: string, namespace: string, declared: readonly string[] | undefined) =>
    find(kind, name, namespace) !== undefined ||
    (declared ?? []).includes(name) ||
    (kind === 'Secret' && createdSecrets.has(`${namespace}/${name}`));

  // 1. Claims pinned to a volume: the volume exists, with the same class and volume mode, the claim's
  //    modes, enough capacity, and (if it names a claim) this claim.
  for (const claim of byKind.get('PersistentVolumeClaim') ?? []) {
    const volumeName = claim.spec?.volumeName;
    if (!volumeName) continue;
    const pv = find('PersistentVolume', volumeName);
    const what = `PersistentVolume "${volumeName}"`;
    if (!pv) {
      add('claim-volume', claim, 'spec.volumeName', `names ${what}, which is not in the output: the claim would stay Pending`);
      continue;
    }
    const claimClass = claim.spec?.storageClassName ?? '';
    const volumeClass = pv.spec?.storageClassName ?? '';
    if (claimClass !== volumeClass) {
      add('claim-volume', claim, 'spec.storageClassName', `is ${JSON.stringify(claimClass)} but ${what} has ${JSON.stringify(volumeClass)}: they never bind`);
    }
    const claimMode = claim.spec?.volumeMode ?? 'Filesystem';
    const volumeMode = pv.spec?.volumeMode ?? 'Filesystem';
    if (claimMode !== volumeMode) {
      add('claim-volume', claim, 'spec.volumeMode', `is ${JSON.stringify(claimMode)} but ${what} is ${JSON.stringify(volumeMode)}`);
    }
    const volumeModes: string[] = pv.spec?.accessModes ?? [];
    const missing = (claim.spec?.accessModes ?? []).filter((m: string) => !volumeModes.includes(m));
    if (missing.length > 0) {
      add('claim-volume', claim, 'spec.accessModes', `asks for ${missing.join(', ')}, which ${what} does not offer (${volumeModes.join(', ') || 'none'})`);
    }
    const request = claim.spec?.resources?.requests?.storage;
    const capacity = pv.spec?.capacity?.storage;
    const requestBytes = typeof request === 'string' ? parseQuantity(request) : typeof request === 'number' ? request : undefined;
    const capacityBytes = typeof capacity === 'string' ? parseQuantity(capacity) : typeof capacity === 'number' ? capacity : undefined;
    if (requestBytes !== undefined && capacityBytes !== undefined && requestBytes > capacityBytes) {
      add('claim-volume', claim, 'spec.resources.requests.storage', `requests ${request}, more than the ${capacity} of ${what}: it never binds`);
    }
    const ref = pv.spec?.claimRef;
    if (ref && (ref.name !== nameOf(claim) || (ref.namespace ?? '') !== ns(claim))) {
      add('claim-volume', claim, 'spec.volumeName', `names ${what}, but that volume is reserved for claim "${ref.namespace ?? ''}/${ref.name}"`);
    }
  }

  // 2-3. Pod specs: mounts name declared volumes; volume sources and key refs name objects that exist.
  for (const t of podTemplates(objects)) {
    const volumes: any[] = Array.isArray(t.spec.volumes) ? t.spec.volumes : [];
    const declared = new Set(volumes.map((v) => v?.name));
    volumes.forEach((v, i) => {
      const at = `${t.at}.volumes[${i}]`;
      const claimName = v?.persistentVolumeClaim?.claimName;
      if (claimName && !existing('PersistentVolumeClaim', claimName, t.namespace, options.existingClaims)) {
        add('pod-volume-source', t.owner, `${at}.persistentVolumeClaim.claimName`, `names PersistentVolumeClaim "${claimName}", which is neither in the output nor declared as existing`);
      }
      const cm = v?.configMap;
      if (cm?.name && cm.optional !== true && !existing('ConfigMap', cm.name, t.namespace, options.existingConfigMaps)) {
        add('pod-volume-source', t.owner, `${at}.configMap.name`, `names ConfigMap "${cm.name}", which is neither in the output nor declared as existing`);
      }
      const secret = v?.secret;
      if (secret?.secretName && secret.optional !== true && !existing('Secret', secret.secretName, t.namespace, options.existingSecrets)) {
        add('pod-volume-source', t.owner, `${at}.secret.secretName`, `names Secret "${secret.secretName}", which is neither in the output nor declared as existing`);
      }
    });

    const checkKeyRef = (kind: 'Secret' | 'ConfigMap', ref: any, field: string, declaredExisting: readonly string[] | undefined): void => {
      const target = find(kind, ref.name, t.namespace);
      if (!target) {
        if (!existing(kind, ref.name, t.namespace, declaredExisting)) {
          add('key-ref', t.owner, `${field}.name`, `names ${kind} "${ref.name}", which is neither in the output nor declared as existing`);
        }
        return;
      }
      const keys = new Set([...Object.keys(target.data ?? {}), ...Object.keys(target.stringData ?? {}), ...Object.keys(target.binaryData ?? {})]);
      if (!keys.has(ref.key)) {
        add('key-ref', t.owner, `${field}.key`, `names key "${ref.key}" of ${kind} "${ref.name}", which has ${[...keys].map((k) => `"${k}"`).join(', ') || 'no keys'}`);
      }
    };

    for (const { field, container } of containersOf(t.spec)) {
      const at = `${t.at}.${field}`;
      const mountedAt = new Map<string, string>();
      (Array.isArray(container?.volumeMounts) ? container.volumeMounts : []).forEach((m: any, i: number) => {
        if (!declared.has(m?.name)) {
          add('volume-mount', t.owner, `${at}.volumeMounts[${i}].name`, `mounts volume "${m?.name}", which the pod spec does not declare (declared: ${[...declared].join(', ') || 'none'})`);
        }
        // The API server refuses a container with two mounts at one path ("must be unique").
        const first = typeof m?.mountPath === 'string' ? mountedAt.get(m.mountPath) : undefined;
        if (first !== undefined) {
          add('volume-mount', t.owner, `${at}.volumeMounts[${i}].mountPath`, `mounts volume "${m?.name}" at ${m.mountPath}, where volume "${first}" is mounted already: the API server refuses the pod (mountPath must be unique)`);
        } else if (typeof m?.mountPath === 'string') {
          mountedAt.set(m.mountPath, m?.name);
        }
      });
      (Array.isArray(container?.env) ? container.env : []).forEach((e: any, i: number) => {
        const s = e?.valueFrom?.secretKeyRef;
        if (s && s.optional !== true) checkKeyRef('Secret', s, `${at}.env[${i}].valueFrom.secretKeyRef`, options.existingSecrets);
        const c = e?.valueFrom?.configMapKeyRef;
        if (c && c.optional !== true) checkKeyRef('ConfigMap', c, `${at}.env[${i}].valueFrom.configMapKeyRef`, options.existingConfigMaps);
      });
      (Array.isArray(container?.envFrom) ? container.envFrom : []).forEach((e: any, i: number) => {
        if (e?.secretRef?.name && e.secretRef.optional !== true && !existing('Secret', e.secretRef.name, t.namespace, options.existingSecrets)) {
          add('key-ref', t.owner, `${at}.envFrom[${i}].secretRef.name`, `names Secret "${e.secretRef.name}", which is neither in the output nor declared as existing`);
        }
        if (e?.configMapRef?.name && e.configMapRef.optional !== true && !existing('ConfigMap', e.configMapRef.name, t.namespace, options.existingConfigMaps)) {
          add('key-ref', t.owner, `${at}.envFrom[${i}].configMapRef.name`, `names ConfigMap "${e.configMapRef.name}", which is neither in the output nor declared as existing`);
        }
      });
    }

    const sa = t.spec.serviceAccountName ?? t.spec.serviceAccount;
    if (sa && sa !== 'default' && !existing('ServiceAccount', sa, t.namespace, options.existingServiceAccounts)) {
      add('service-account', t.owner, `${t.at}.serviceAccountName`, `names ServiceAccount "${sa}", which is neither in the output nor declared as existing: the pod is never created`);
    }

  }

  // 4. Every Service with a selector selects at least one pod template in its namespace.
  const templates = podTemplates(objects);
  for (const svc of byKind.get('Service') ?? []) {
    const selector: Record<string, string> | undefined = svc.spec?.selector;
    if (!selector || Object.keys(selector).length === 0 || svc.spec?.type === 'ExternalName') continue;
    const selects = templates.some(
      (t) => t.namespace === ns(svc) && Object.entries(selector).every(([k, v]) => t.labels[k] === v),
    );
    if (!selects) {
      add('service-selector', svc, 'spec.selector', `${JSON.stringify(selector)} matches no pod template in the output: the Service would have no endpoints`);
    }
  }

  // 5. RoleBindings name an existing Role (or ClusterRole) and existing ServiceAccounts.
  for (const kind of ['RoleBinding', 'ClusterRoleBinding']) {
    for (const binding of byKind.get(kind) ?? []) {
      const ref = binding.roleRef ?? {};
      if (ref.kind === 'Role') {
        if (!find('Role', ref.name, ns(binding))) {
          add('role-binding', binding, 'roleRef.name', `names Role "${ref.name}", which is not in the output${ns(binding) ? ` in namespace "${ns(binding)}"` : ''}`);
        }
      } else if (ref.kind === 'ClusterRole') {
        if (!find('ClusterRole', ref.name) && !BUILTIN_CLUSTER_ROLES.has(ref.name) && !String(ref.name).startsWith('system:')) {
          add('role-binding', binding, 'roleRef.name', `names ClusterRole "${ref.name}", which is neither in the output nor a built-in role`);
        }
      }
      (Array.isArray(binding.subjects) ? binding.subjects : []).forEach((s: any, i: number) => {
        if (s?.kind !== 'ServiceAccount') return;
        const namespace = s.namespace ?? ns(binding);
        if (s.name !== 'default' && !existing('ServiceAccount', s.name, namespace, options.existingServiceAccounts)) {
          add('role-binding', binding, `subjects[${i}].name`, `names ServiceAccount "${namespace}/${s.name}", which is not in the output`);
        }
      });
    }
  }
  // 6. No two PersistentVolumes on one folder of the node: a hostPath volume on the folder of another, or inside
  //    it, gives the pods of one claim the files of the other (two deployments with one hostRoot share their DAGs,
  //    logs and data; a volume on Postgres' folder gives task pods the database's files).
  const hostPaths = (byKind.get('PersistentVolume') ?? [])
    .filter((pv) => typeof pv?.spec?.hostPath?.path === 'string')
    .map((pv) => ({ pv, path: normalizeHostPath(pv.spec.hostPath.path) }));
  hostPaths.forEach(({ pv, path }, i) => {
    const other = hostPaths.slice(0, i).find((o) => o.path === path || isInside(path, o.path) || isInside(o.path, path));
    if (other) {
      const how = other.path === path ? 'the same folder as' : isInside(path, other.path) ? 'inside the folder of' : 'the folder holding that of';
      add(
        'host-path',
        pv,
        'spec.hostPath.path',
        `hostPath ${pv.spec.hostPath.path} is ${how} PersistentVolume "${nameOf(other.pv)}" (${other.pv.spec.hostPath.path}): ` +
          'the pods of one claim would read and write the files of the other',
      );
    }
  });
  return findings;
}

/** A node path without a trailing "/", "//" or "/./", and with ".." resolved. */
function normalizeHostPath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

/** Whether `path` is strictly inside `folder` (both normalized). */
function isInside(path: string, folder: string): boolean {
  return path.startsWith(folder === '/' ? '/' : `${folder}/`) && path !== folder;
}

/** Every broken reference in `objects`, one message per line: `<Kind> <name>: <field>: <what is wrong>`. */
export function crossObjectProblems(objects: readonly any[], options: CrossObjectOptions = {}): string[] {
  return crossObjectFindings(objects, options).map((f) => formatProblem(f.manifest, f));
}

export { describeManifest };
