/**
 * Checks across the synthesized set of objects: the references between objects that no single schema can
 * see, each of which otherwise surfaces minutes after `kubectl apply` as a claim stuck Pending, a pod stuck
 * in ContainerCreating or CreateContainerConfigError, a Service with no endpoints, or a 403 from the API.
 */
import { parseQuantity } from '../lib/core/validators';
import { normaliseHostPath } from '../lib/core/host-folders';
import { CREATES_SECRET_ANNOTATION } from '../lib/core/labels';
import { closest, editDistance } from '../lib/core/text';
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
  /**
   * For `missing-object` and `key-ref`: the object or key read, e.g. `Secret "dags-repo" in namespace "airflow"`.
   * The finding is reported once for it, whatever the number of readers.
   */
  readonly subject?: string;
  /** For `missing-object` and `key-ref`: every object and field that reads it (the first is `manifest` and `field`). */
  readonly readers?: readonly CrossObjectReader[];
}

/** An object that reads another by name, and the field that names it. */
export interface CrossObjectReader {
  /** The object holding the reference. */
  readonly manifest: any;
  /** The field holding the reference, e.g. `spec.template.spec.imagePullSecrets[0].name`. */
  readonly field: string;
}

/** The rules, one per kind of reference. */
export type CrossObjectRule =
  | 'claim-volume'
  | 'volume-mount'
  | 'missing-object'
  | 'key-ref'
  | 'service-selector'
  | 'role-binding'
  | 'host-path';

/** The kinds of object that pods and Ingresses read by name. */
export type ReferencedKind = 'Secret' | 'ConfigMap' | 'PersistentVolumeClaim' | 'ServiceAccount';

/** The option that declares objects of each kind as existing. */
const DECLARED_OPTION: Readonly<Record<ReferencedKind, keyof CrossObjectOptions>> = {
  Secret: 'existingSecrets',
  ConfigMap: 'existingConfigMaps',
  PersistentVolumeClaim: 'existingClaims',
  ServiceAccount: 'existingServiceAccounts',
};

/** What "exists" means for each kind, after "is". */
const MISSING_WHY: Readonly<Record<ReferencedKind, string>> = {
  Secret:
    'neither in the output, nor generated in the cluster by a Job of the output (the secrets bootstrap Job, whose ' +
    `${CREATES_SECRET_ANNOTATION} annotation names it), nor declared as existing (existingSecrets)`,
  ConfigMap: 'neither in the output nor declared as existing (existingConfigMaps)',
  PersistentVolumeClaim: 'neither in the output nor declared as existing (existingClaims)',
  ServiceAccount: 'neither in the output nor declared as existing (existingServiceAccounts)',
};

/** An object read by name: who reads it, where, and what happens when it is missing. */
interface ObjectReference {
  readonly kind: ReferencedKind;
  readonly name: string;
  readonly namespace: string;
  /** The key read, for a key reference. */
  readonly key?: string;
  readonly manifest: any;
  readonly field: string;
  readonly effect: string;
}

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

const EFFECT = {
  env: 'the containers that read it do not start (CreateContainerConfigError)',
  volume: 'the pods that mount it stay ContainerCreating',
  claim: 'the pods that mount it stay Pending',
  pullSecret: 'images of a private registry fail to pull (ErrImagePull)',
  serviceAccount: 'the pods are never created',
  tls: "the Ingress serves its controller's default certificate",
};

/**
 * Every object the output reads by name, in the order of the objects: the pod specs' volumes (claims,
 * ConfigMaps, Secrets, and the Secrets and ConfigMaps of projected volumes), env (secretKeyRef,
 * configMapKeyRef) and envFrom, imagePullSecrets and ServiceAccount, and the Ingresses' TLS Secrets. A
 * reference marked `optional: true` is left out: the pod starts without the object.
 */
function objectReferences(objects: readonly any[]): ObjectReference[] {
  const refs: ObjectReference[] = [];
  const items = (v: any): any[] => (Array.isArray(v) ? v : []);
  const templates = new Map(podTemplates(objects).map((t) => [t.owner, t]));
  for (const o of objects) {
    if (o?.kind === 'Ingress') {
      items(o.spec?.tls).forEach((tls: any, i: number) => {
        if (typeof tls?.secretName === 'string' && tls.secretName !== '') {
          refs.push({ kind: 'Secret', name: tls.secretName, namespace: ns(o), manifest: o, field: `spec.tls[${i}].secretName`, effect: EFFECT.tls });
        }
      });
    }
    const t = templates.get(o);
    if (!t) continue;
    const ref = (kind: ReferencedKind, name: unknown, field: string, effect: string, key?: unknown) => {
      if (typeof name !== 'string' || name === '') return;
      refs.push({ kind, name, namespace: t.namespace, manifest: t.owner, field: `${t.at}.${field}`, effect, ...(typeof key === 'string' ? { key } : {}) });
    };
    items(t.spec.volumes).forEach((v: any, i: number) => {
      const at = `volumes[${i}]`;
      ref('PersistentVolumeClaim', v?.persistentVolumeClaim?.claimName, `${at}.persistentVolumeClaim.claimName`, EFFECT.claim);
      if (v?.configMap?.optional !== true) ref('ConfigMap', v?.configMap?.name, `${at}.configMap.name`, EFFECT.volume);
      if (v?.secret?.optional !== true) ref('Secret', v?.secret?.secretName, `${at}.secret.secretName`, EFFECT.volume);
      items(v?.projected?.sources).forEach((source: any, j: number) => {
        if (source?.secret?.optional !== true) ref('Secret', source?.secret?.name, `${at}.projected.sources[${j}].secret.name`, EFFECT.volume);
        if (source?.configMap?.optional !== true) ref('ConfigMap', source?.configMap?.name, `${at}.projected.sources[${j}].configMap.name`, EFFECT.volume);
      });
    });
    for (const { field, container } of containersOf(t.spec)) {
      items(container?.env).forEach((e: any, i: number) => {
        const s = e?.valueFrom?.secretKeyRef;
        if (s && s.optional !== true) ref('Secret', s.name, `${field}.env[${i}].valueFrom.secretKeyRef.name`, EFFECT.env, s.key);
        const c = e?.valueFrom?.configMapKeyRef;
        if (c && c.optional !== true) ref('ConfigMap', c.name, `${field}.env[${i}].valueFrom.configMapKeyRef.name`, EFFECT.env, c.key);
      });
      items(container?.envFrom).forEach((e: any, i: number) => {
        if (e?.secretRef?.optional !== true) ref('Secret', e?.secretRef?.name, `${field}.envFrom[${i}].secretRef.name`, EFFECT.env);
        if (e?.configMapRef?.optional !== true) ref('ConfigMap', e?.configMapRef?.name, `${field}.envFrom[${i}].configMapRef.name`, EFFECT.env);
      });
    }
    items(t.spec.imagePullSecrets).forEach((s: any, i: number) => ref('Secret', s?.name, `imagePullSecrets[${i}].name`, EFFECT.pullSecret));
    const sa = t.spec.serviceAccountName ?? t.spec.serviceAccount;
    ref('ServiceAccount', sa, t.spec.serviceAccountName !== undefined ? 'serviceAccountName' : 'serviceAccount', EFFECT.serviceAccount);
  }
  return refs;
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

  // 2. Pod specs: mounts name declared volumes.
  for (const t of podTemplates(objects)) {
    const volumes: any[] = Array.isArray(t.spec.volumes) ? t.spec.volumes : [];
    const declared = new Set(volumes.map((v) => v?.name));
    for (const { field, container } of containersOf(t.spec)) {
      const mountedAt = new Map<string, string>();
      (Array.isArray(container?.volumeMounts) ? container.volumeMounts : []).forEach((m: any, i: number) => {
        if (!declared.has(m?.name)) {
          add('volume-mount', t.owner, `${t.at}.${field}.volumeMounts[${i}].name`, `mounts volume "${m?.name}", which the pod spec does not declare (declared: ${[...declared].join(', ') || 'none'})`);
        }
        // The API server refuses a container with two mounts at one path ("must be unique").
        const first = typeof m?.mountPath === 'string' ? mountedAt.get(m.mountPath) : undefined;
        if (first !== undefined) {
          add('volume-mount', t.owner, `${t.at}.${field}.volumeMounts[${i}].mountPath`, `mounts volume "${m?.name}" at ${m.mountPath}, where volume "${first}" is mounted already: the API server refuses the pod (mountPath must be unique)`);
        } else if (typeof m?.mountPath === 'string') {
          mountedAt.set(m.mountPath, m?.name);
        }
      });
    }
  }

  // 3. Every object read by name exists (in the output, generated by a Job of the output, or declared), and
  //    every key read of an object of the output is in it: one finding per missing object (or key), listing
  //    every object and field that reads it.
  const known = (kind: ReferencedKind, namespace: string): string[] => [
    ...(byKind.get(kind) ?? []).filter((o) => ns(o) === namespace).map(nameOf),
    ...(options[DECLARED_OPTION[kind]] ?? []),
    ...(kind === 'Secret' ? [...createdSecrets].filter((s) => s.startsWith(`${namespace}/`)).map((s) => s.slice(namespace.length + 1)) : []),
    ...(kind === 'ServiceAccount' ? ['default'] : []),
  ];
  const missing = new Map<string, { subject: string; kind: ReferencedKind; name: string; namespace: string; readers: Array<CrossObjectReader & { effect: string }> }>();
  const missingKeys = new Map<string, { subject: string; message: string; readers: CrossObjectReader[] }>();
  for (const ref of objectReferences(objects)) {
    const subject = `${ref.kind} "${ref.name}"${ref.namespace ? ` in namespace "${ref.namespace}"` : ''}`;
    const reader = { manifest: ref.manifest, field: ref.field, effect: ref.effect };
    if (ref.kind === 'ServiceAccount' && ref.name === 'default') continue;
    if (!existing(ref.kind, ref.name, ref.namespace, options[DECLARED_OPTION[ref.kind]])) {
      const id = `${ref.kind} ${ref.namespace}/${ref.name}`;
      (missing.get(id) ?? missing.set(id, { subject, kind: ref.kind, name: ref.name, namespace: ref.namespace, readers: [] }).get(id)!).readers.push(reader);
      continue;
    }
    const target = ref.key === undefined ? undefined : find(ref.kind, ref.name, ref.namespace);
    if (!target) continue; // no key read, or generated / declared: its keys are not known here
    const keys = new Set([...Object.keys(target.data ?? {}), ...Object.keys(target.stringData ?? {}), ...Object.keys(target.binaryData ?? {})]);
    if (keys.has(ref.key!)) continue;
    const id = `${ref.kind} ${ref.namespace}/${ref.name} ${ref.key}`;
    const message = `has no key "${ref.key}" (it has ${[...keys].map((k) => `"${k}"`).join(', ') || 'no keys'}): ${EFFECT.env}.`;
    const field = ref.field.replace(/\.name$/, '.key');
    (missingKeys.get(id) ?? missingKeys.set(id, { subject, message, readers: [] }).get(id)!).readers.push({ manifest: ref.manifest, field });
  }
  for (const m of missing.values()) {
    const candidates = known(m.kind, m.namespace);
    // A name one or two edits away from an existing one is a typo; farther, a suggestion would mislead.
    const guess = closest(m.name, candidates);
    const typo = guess !== undefined && editDistance(m.name, guess) <= 2 ? guess : undefined;
    const effects = [...new Set(m.readers.map((r) => r.effect))].join('; ');
    const message = `is ${MISSING_WHY[m.kind]}: ${effects}.` + (typo ? ` Did you mean "${typo}"?` : '');
    const readers = m.readers.map(({ manifest, field }) => ({ manifest, field }));
    findings.push({ rule: 'missing-object', manifest: readers[0].manifest, field: readers[0].field, message, subject: m.subject, readers });
  }
  for (const m of missingKeys.values()) {
    findings.push({ rule: 'key-ref', manifest: m.readers[0].manifest, field: m.readers[0].field, message: m.message, subject: m.subject, readers: m.readers });
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
  // No two PersistentVolumes on one folder of the node: a hostPath volume on the folder of another, or inside
  // it, gives the pods of one claim the files of the other (two deployments with one hostRoot share their DAGs,
  // logs and data; a volume on Postgres' folder gives task pods the database's files).
  const hostPaths = (byKind.get('PersistentVolume') ?? [])
    .filter((pv) => typeof pv?.spec?.hostPath?.path === 'string')
    .map((pv) => ({ pv, path: normaliseHostPath(pv.spec.hostPath.path) }));
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

/** Whether `path` is strictly inside `folder` (both normalized). */
function isInside(path: string, folder: string): boolean {
  return path.startsWith(folder === '/' ? '/' : `${folder}/`) && path !== folder;
}

/**
 * Every broken reference in `objects`, one message per line: `<Kind> <name>: <field>: <what is wrong>`, or for a
 * missing object (or key) `<subject> <what is wrong> Read by <n> object(s): <Kind> <name> at <field>[, <field>]; ...`.
 */
export function crossObjectProblems(objects: readonly any[], options: CrossObjectOptions = {}): string[] {
  return crossObjectFindings(objects, options).map((f) =>
    f.readers ? formatMissing(f, f.readers.map((r) => ({ where: describeManifest(r.manifest), manifest: r.manifest, field: r.field }))) : formatProblem(f.manifest, f),
  );
}

/**
 * The line of a missing object or key, once for all its readers: `<subject> <message> Read by <n> object(s):
 * <where> at <field>[, <field>]; ...` (`where` is how the caller names an object: with its construct path, in
 * the plugin).
 */
export function formatMissing(f: CrossObjectFinding, readers: ReadonlyArray<{ where: string; manifest: any; field: string }>): string {
  const byObject = new Map<any, { where: string; fields: string[] }>();
  for (const r of readers) (byObject.get(r.manifest) ?? byObject.set(r.manifest, { where: r.where, fields: [] }).get(r.manifest)!).fields.push(r.field);
  const list = [...byObject.values()].map((o) => `${o.where} at ${o.fields.join(', ')}`);
  return `${f.subject} ${f.message} Read by ${list.length} object${list.length === 1 ? '' : 's'}: ${list.join('; ')}`;
}

export { describeManifest };
