import * as k8s from '../../imports/k8s';
import { AIRFLOW_GID, AIRFLOW_UID, hardenedContainerSecurityContext } from '../core';

/**
 * The pod securityContext of every Airflow pod: non-root uid 50000 / gid 0, seccomp RuntimeDefault.
 * Meets the Pod Security Standard "restricted" level. With `openShift`, no uid, gid or fsGroup: OpenShift's
 * restricted SCC assigns a uid of the namespace's range (refusing any other) and an fsGroup, and runs the
 * process in the root group (gid 0), which the official image's files are group-writable by.
 */
export function airflowPodSecurityContext(openShift: boolean = false): k8s.PodSecurityContext {
  return {
    ...(openShift ? {} : { runAsUser: AIRFLOW_UID, runAsGroup: AIRFLOW_GID, fsGroup: AIRFLOW_GID }),
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * The container securityContext of every Airflow container (and of git-sync, the statsd-exporter and the log
 * groomer): no privilege escalation, no capabilities, and a read-only root file system, so that a process
 * cannot change the image's programs or leave files for the next one: what it may write is in its volumes (the
 * Airflow pods' `/tmp` is an emptyDir). `readOnlyRootFilesystem` false only where the program writes into its
 * image and cannot be told otherwise (Airflow 2 copies `webserver_config.py` into AIRFLOW_HOME at every start).
 */
export function airflowContainerSecurityContext(readOnlyRootFilesystem: boolean = true, openShift: boolean = false): k8s.SecurityContext {
  return hardenedContainerSecurityContext({
    user: openShift ? undefined : { runAsUser: AIRFLOW_UID, runAsGroup: AIRFLOW_GID },
    runAsNonRoot: true,
    readOnlyRootFilesystem,
  });
}

/**
 * The levels of the Kubernetes Pod Security Standards, in the words of the
 * `pod-security.kubernetes.io/<mode>` namespace labels.
 */
export enum PodSecurityLevel {
  /** Unrestricted. */
  PRIVILEGED = 'privileged',
  /** Prevents known privilege escalations: no privileged containers, host namespaces, hostPath, extra capabilities. */
  BASELINE = 'baseline',
  /** Hardened: additionally non-root, no privilege escalation, capabilities dropped, seccomp, restricted volume types. */
  RESTRICTED = 'restricted',
}

/** Options for {@link podSecurityLabels}. */
export interface PodSecurityLabelsOptions {
  /** The level the API server enforces: pods that violate it are rejected. */
  readonly enforce: PodSecurityLevel;
  /**
   * The level `kubectl apply` warns about (for Pods and for workloads, whose pods enforce alone would reject
   * silently, after the apply).
   * @default - the enforce level: a warning then means a pod would be rejected, and a namespace whose pods are
   * meant to be baseline (Postgres) prints none
   */
  readonly warn?: PodSecurityLevel;
  /**
   * The level recorded in the audit log.
   * @default PodSecurityLevel.RESTRICTED
   */
  readonly audit?: PodSecurityLevel;
  /**
   * The version of the standards, e.g. "v1.28", applied to all three modes.
   * @default - no version label: the API server applies "latest"
   */
  readonly version?: string;
}

/**
 * The Pod Security Admission labels of a Namespace (`pod-security.kubernetes.io/enforce` etc.), for
 * `new AirflowNamespace(scope, id, { labels: podSecurityLabels({ enforce: PodSecurityLevel.BASELINE }) })`.
 * Clusters older than Kubernetes 1.23 ignore these labels (they are plain labels there).
 */
export function podSecurityLabels(options: PodSecurityLabelsOptions): Record<string, string> {
  const modes: Array<[string, PodSecurityLevel]> = [
    ['enforce', options.enforce],
    ['warn', options.warn ?? options.enforce],
    ['audit', options.audit ?? PodSecurityLevel.RESTRICTED],
  ];
  const labels: Record<string, string> = {};
  for (const [mode, level] of modes) {
    labels[`pod-security.kubernetes.io/${mode}`] = level;
    if (options.version !== undefined) labels[`pod-security.kubernetes.io/${mode}-version`] = options.version;
  }
  return labels;
}

/** The capabilities the baseline level lets a container add. */
const BASELINE_CAPABILITIES = [
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE',
  'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
];

/** The sysctls the baseline level allows. */
const SAFE_SYSCTLS = [
  'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
];

/** The volume types the restricted level allows. */
const RESTRICTED_VOLUME_TYPES = [
  'configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret',
];

/**
 * What in a pod spec breaks the given Pod Security Standard level (an empty list when it meets it).
 * Checks the pod spec's fields as the standards define them (https://kubernetes.io/docs/concepts/security/pod-security-standards/);
 * AppArmor annotations live on the pod's metadata and are not checked.
 * @param spec a pod spec as synthesized (plain JSON: `spec.template.spec` of a Deployment, StatefulSet or Job)
 */
export function podSecurityViolations(spec: any, level: PodSecurityLevel): string[] {
  if (level === PodSecurityLevel.PRIVILEGED) return [];
  const out: string[] = [];
  const pod = spec.securityContext ?? {};
  const containers: Array<[string, any]> = [
    ...(spec.initContainers ?? []).map((c: any) => [`initContainers[${c.name}]`, c] as [string, any]),
    ...(spec.containers ?? []).map((c: any) => [`containers[${c.name}]`, c] as [string, any]),
    ...(spec.ephemeralContainers ?? []).map((c: any) => [`ephemeralContainers[${c.name}]`, c] as [string, any]),
  ];

  // Baseline.
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC']) {
    if (spec[field] === true) out.push(`${field} is true (baseline)`);
  }
  for (const volume of spec.volumes ?? []) {
    if (volume.hostPath !== undefined) out.push(`volume "${volume.name}" is a hostPath volume (baseline)`);
  }
  for (const sysctl of pod.sysctls ?? []) {
    if (!SAFE_SYSCTLS.includes(sysctl.name)) out.push(`sysctl "${sysctl.name}" is not a safe sysctl (baseline)`);
  }
  if (pod.windowsOptions?.hostProcess === true) out.push('windowsOptions.hostProcess is true (baseline)');
  if (pod.seccompProfile?.type === 'Unconfined') out.push('pod seccompProfile is Unconfined (baseline)');
  checkSeLinux('pod', pod.seLinuxOptions, out);
  for (const [where, c] of containers) {
    const sc = c.securityContext ?? {};
    if (sc.privileged === true) out.push(`${where} is privileged (baseline)`);
    for (const cap of sc.capabilities?.add ?? []) {
      if (!BASELINE_CAPABILITIES.includes(cap)) out.push(`${where} adds capability ${cap} (baseline)`);
    }
    for (const port of c.ports ?? []) {
      if (port.hostPort !== undefined && port.hostPort !== 0) out.push(`${where} uses hostPort ${port.hostPort} (baseline)`);
    }
    if (sc.procMount !== undefined && sc.procMount !== 'Default') out.push(`${where} procMount is ${sc.procMount} (baseline)`);
    if (sc.seccompProfile?.type === 'Unconfined') out.push(`${where} seccompProfile is Unconfined (baseline)`);
    if (sc.windowsOptions?.hostProcess === true) out.push(`${where} windowsOptions.hostProcess is true (baseline)`);
    checkSeLinux(where, sc.seLinuxOptions, out);
  }
  if (level === PodSecurityLevel.BASELINE) return out;

  // Restricted.
  for (const volume of spec.volumes ?? []) {
    const type = Object.keys(volume).find((k) => k !== 'name');
    if (type !== undefined && !RESTRICTED_VOLUME_TYPES.includes(type)) {
      out.push(`volume "${volume.name}" has type ${type} (restricted allows ${RESTRICTED_VOLUME_TYPES.join(', ')})`);
    }
  }
  if (pod.runAsUser === 0) out.push('pod runAsUser is 0 (restricted)');
  for (const [where, c] of containers) {
    const sc = c.securityContext ?? {};
    if (sc.allowPrivilegeEscalation !== false) out.push(`${where} does not set allowPrivilegeEscalation: false (restricted)`);
    const nonRoot = sc.runAsNonRoot ?? pod.runAsNonRoot;
    if (nonRoot !== true) out.push(`${where} does not run with runAsNonRoot: true (restricted)`);
    if (sc.runAsUser === 0) out.push(`${where} runAsUser is 0 (restricted)`);
    const seccomp = sc.seccompProfile?.type ?? pod.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') {
      out.push(`${where} has no seccompProfile RuntimeDefault or Localhost (restricted)`);
    }
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) out.push(`${where} does not drop ALL capabilities (restricted)`);
    for (const cap of sc.capabilities?.add ?? []) {
      if (cap !== 'NET_BIND_SERVICE') out.push(`${where} adds capability ${cap} (restricted allows only NET_BIND_SERVICE)`);
    }
  }
  return out;
}

function checkSeLinux(where: string, options: any, out: string[]): void {
  if (options === undefined) return;
  if (options.type !== undefined && !['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t'].includes(options.type)) {
    out.push(`${where} seLinuxOptions.type is ${options.type} (baseline)`);
  }
  if (options.user) out.push(`${where} sets seLinuxOptions.user (baseline)`);
  if (options.role) out.push(`${where} sets seLinuxOptions.role (baseline)`);
}

/** The strictest Pod Security Standard level a pod spec meets. */
export function podSecurityLevelOf(spec: any): PodSecurityLevel {
  if (podSecurityViolations(spec, PodSecurityLevel.RESTRICTED).length === 0) return PodSecurityLevel.RESTRICTED;
  if (podSecurityViolations(spec, PodSecurityLevel.BASELINE).length === 0) return PodSecurityLevel.BASELINE;
  return PodSecurityLevel.PRIVILEGED;
}
