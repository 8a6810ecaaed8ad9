// The chart's pod security rules, checked on pod specs found with podsOf() (./index.ts).
import { AIRFLOW_GID, AIRFLOW_UID } from '../../lib/core/airflow-image';
import { PodSecurityLevel, podSecurityViolations } from '../../lib/security/pod-security';
import { FoundPod, podsOf } from './index';

/** The metadata database's pod: labelled `app.kubernetes.io/component: metadata-db` or running a postgres image. */
export function isPostgresPod(pod: FoundPod): boolean {
  return (
    pod.labels['app.kubernetes.io/component'] === 'metadata-db' ||
    (pod.spec?.containers ?? []).some((c: any) => /(^|\/)postgres(:|@|$)/.test(c.image ?? ''))
  );
}

function containersOf(spec: any): Array<[string, any]> {
  return [
    ...(spec.initContainers ?? []).map((c: any) => [`initContainers[${c.name}]`, c] as [string, any]),
    ...(spec.containers ?? []).map((c: any) => [`containers[${c.name}]`, c] as [string, any]),
  ];
}

/** Common to every pod of the chart: no privilege escalation, ALL capabilities dropped, seccomp RuntimeDefault. */
function hardeningViolations(spec: any): string[] {
  const out: string[] = [];
  for (const [where, c] of containersOf(spec)) {
    const sc = c.securityContext ?? {};
    if (sc.allowPrivilegeEscalation !== false) out.push(`${where}: allowPrivilegeEscalation is not false`);
    if (sc.privileged === true) out.push(`${where}: privileged`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) out.push(`${where}: capabilities.drop lacks ALL`);
    const seccomp = sc.seccompProfile?.type ?? spec.securityContext?.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault') out.push(`${where}: seccompProfile is ${seccomp ?? 'unset'}, not RuntimeDefault`);
  }
  return out;
}

/**
 * What breaks the rule for Airflow pods: uid 50000, gid 0, runAsNonRoot, no privilege escalation, ALL
 * capabilities dropped, no capability added, seccomp RuntimeDefault, and the restricted Pod Security Standard.
 */
export function airflowPodViolations(spec: any): string[] {
  const out = hardeningViolations(spec);
  const pod = spec.securityContext ?? {};
  for (const [where, c] of containersOf(spec)) {
    const sc = c.securityContext ?? {};
    const uid = sc.runAsUser ?? pod.runAsUser;
    const gid = sc.runAsGroup ?? pod.runAsGroup;
    if (uid !== AIRFLOW_UID) out.push(`${where}: runAsUser is ${uid}, not ${AIRFLOW_UID}`);
    if (gid !== AIRFLOW_GID) out.push(`${where}: runAsGroup is ${gid}, not ${AIRFLOW_GID}`);
    if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true) out.push(`${where}: runAsNonRoot is not true`);
    if ((sc.capabilities?.add ?? []).length > 0) out.push(`${where}: adds capabilities ${sc.capabilities.add}`);
  }
  return [...out, ...podSecurityViolations(spec, PodSecurityLevel.RESTRICTED)];
}

/** The Celery broker's pod: labelled `app.kubernetes.io/component: redis` or running a redis image. */
export function isRedisPod(pod: FoundPod): boolean {
  return (
    pod.labels['app.kubernetes.io/component'] === 'redis' ||
    (pod.spec?.containers ?? []).some((c: any) => /(^|\/)(redis|valkey)(:|@|$)/.test(c.image ?? ''))
  );
}

/**
 * The Celery broker (Redis) runs as the official image's own non-root user (uid 999), not Airflow's: restricted,
 * non-root (never uid 0), no privilege escalation, ALL capabilities dropped and none added, seccomp RuntimeDefault.
 */
export function redisPodViolations(spec: any): string[] {
  const out = hardeningViolations(spec);
  const pod = spec.securityContext ?? {};
  for (const [where, c] of containersOf(spec)) {
    const sc = c.securityContext ?? {};
    const uid = sc.runAsUser ?? pod.runAsUser;
    if (uid === undefined || uid === 0) out.push(`${where}: runAsUser is ${uid ?? 'unset (the image\'s user)'}, not a non-root uid`);
    if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true) out.push(`${where}: runAsNonRoot is not true`);
    if ((sc.capabilities?.add ?? []).length > 0) out.push(`${where}: adds capabilities ${sc.capabilities.add}`);
  }
  return [...out, ...podSecurityViolations(spec, PodSecurityLevel.RESTRICTED)];
}

/**
 * The documented exception for Postgres (see `MetadataDb.postgresContainerSecurityContext`): the official
 * image starts as root to own its data directory, then drops to uid 999 with gosu. It must still meet the
 * baseline Pod Security Standard, never escalate privileges, drop ALL capabilities (adding back only what
 * baseline allows) and use seccomp RuntimeDefault.
 */
export function postgresPodViolations(spec: any): string[] {
  return [...hardeningViolations(spec), ...podSecurityViolations(spec, PodSecurityLevel.BASELINE)];
}

/** The Job that makes the static hostPath volumes writable for uid 50000 (see `VolumePermissions`). */
export function isVolumePermissionsPod(pod: FoundPod): boolean {
  return pod.labels['app.kubernetes.io/component'] === 'volume-permissions';
}

/**
 * The documented exception for the volume-permissions Job (see `VolumePermissions.containerSecurityContext`):
 * root, to chown root-owned hostPath folders, with ALL capabilities dropped but CHOWN and FOWNER, no privilege
 * escalation, seccomp RuntimeDefault, a read-only root filesystem, no token; the baseline Pod Security Standard.
 */
export function volumePermissionsPodViolations(spec: any): string[] {
  const out = [...hardeningViolations(spec), ...podSecurityViolations(spec, PodSecurityLevel.BASELINE)];
  for (const [where, c] of containersOf(spec)) {
    const added = [...(c.securityContext?.capabilities?.add ?? [])].sort();
    if (added.join(',') !== 'CHOWN,FOWNER') out.push(`${where}: adds capabilities ${added.join(',') || 'none'}, not exactly CHOWN,FOWNER`);
    if (c.securityContext?.readOnlyRootFilesystem !== true) out.push(`${where}: root filesystem is writable`);
  }
  if (spec.automountServiceAccountToken !== false) out.push('mounts a ServiceAccount token');
  return out;
}

/**
 * The Pod Security warnings `kubectl apply` would print for `objects` (a whole synthesized set): for every pod
 * spec (workloads, Jobs, Pods, and the pod templates embedded in ConfigMaps, which the scheduler creates later) in
 * a namespace whose Namespace object in `objects` has a `pod-security.kubernetes.io/warn` label, what breaks that
 * level, as `<object> in <namespace>: <violation> (warn: <level>)`. Computed, because the live stage's Kubernetes
 * 1.20 has no Pod Security admission (it prints these warnings from 1.23): see docs/secrets-and-security.md.
 */
export function podSecurityWarnings(objects: any[]): string[] {
  const warnLevel = new Map<string, PodSecurityLevel>();
  for (const o of objects) {
    const level = o?.kind === 'Namespace' ? o.metadata?.labels?.['pod-security.kubernetes.io/warn'] : undefined;
    if (level) warnLevel.set(o.metadata.name, level as PodSecurityLevel);
  }
  const out: string[] = [];
  for (const o of objects) {
    const namespace = o?.metadata?.namespace;
    const level = namespace === undefined ? undefined : warnLevel.get(namespace);
    if (level === undefined) continue;
    for (const pod of podsOf([o])) {
      out.push(...podSecurityViolations(pod.spec, level).map((v) => `${pod.object} in ${namespace}: ${v} (warn: ${level})`));
    }
  }
  return out;
}

/** The secrets bootstrap Job's pod (`AirflowSecrets`). */
export function isSecretsBootstrapPod(pod: FoundPod): boolean {
  return pod.labels['app.kubernetes.io/component'] === 'secrets-bootstrap';
}

/**
 * The secrets bootstrap Job: its container follows the Airflow rule; its init container `secrets-copy-folder`
 * (only with a copy of the keys beside Postgres' data, see `AirflowSecrets.copyStore`) is the documented
 * exception: root, to give the root-owned hostPath folder to uid 50000, with ALL capabilities dropped but CHOWN,
 * no privilege escalation, seccomp RuntimeDefault, a read-only root filesystem; the baseline Pod Security Standard.
 */
export function secretsBootstrapPodViolations(spec: any): string[] {
  const copyFolder = (spec.initContainers ?? []).filter((c: any) => c.name === 'secrets-copy-folder');
  const rest = { ...spec, initContainers: (spec.initContainers ?? []).filter((c: any) => c.name !== 'secrets-copy-folder') };
  const out = airflowPodViolations(rest);
  const init = { ...spec, containers: copyFolder, initContainers: [] };
  out.push(...hardeningViolations(init), ...podSecurityViolations(init, PodSecurityLevel.BASELINE));
  for (const [where, c] of containersOf(init)) {
    const added = [...(c.securityContext?.capabilities?.add ?? [])].sort();
    if (added.join(',') !== 'CHOWN') out.push(`${where}: adds capabilities ${added.join(',') || 'none'}, not exactly CHOWN`);
    if (c.securityContext?.readOnlyRootFilesystem !== true) out.push(`${where}: root filesystem is writable`);
  }
  return out;
}
