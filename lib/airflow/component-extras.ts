import { IConstruct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { AirflowVolumes, StorageProvisioningMode } from '../storage';
import { invalid, validateByteQuantity, validateCpuQuantity, validateDnsLabel, validateDnsSubdomain, validateImage, validateInteger } from '../core';

// What a component's options add to its pod beyond the pod options: probe timings, containers of the user's own,
// and a ServiceAccount the user manages. Shared by the control plane's components, the task pods and the Celery
// workers, so that each is checked the same way.

/**
 * The timings of one probe (what the command or the HTTP path is stays the library's). What is not given keeps
 * the component's default. Limits: see {@link resolveProbe}.
 */
export interface ProbeTimings {
  /**
   * How often the probe runs, in seconds.
   * @default - the component's default
   */
  readonly periodSeconds?: number;
  /**
   * How long one probe may take before it counts as failed, in seconds.
   * @default - the component's default
   */
  readonly timeoutSeconds?: number;
  /**
   * How many failures in a row count as a failure of the probe (a restart for liveness and startup).
   * @default - the component's default
   */
  readonly failureThreshold?: number;
  /**
   * How long after the container starts the first probe runs, in seconds.
   * @default - the component's default
   */
  readonly initialDelaySeconds?: number;
}

/** The probes a component may have. */
export type ProbeKind = 'livenessProbe' | 'readinessProbe' | 'startupProbe';

/**
 * The least a liveness probe must allow before it restarts the container, in seconds of failing in a row
 * (`periodSeconds` x `failureThreshold`): Airflow's own health threshold, `[scheduler]
 * scheduler_health_check_threshold` (30 s), after which `airflow jobs check` says a component is unhealthy; a
 * probe that gives up earlier restarts a component that is only busy.
 */
export const MIN_LIVENESS_WINDOW_SECONDS = 30;

/** The fewest failures in a row a liveness probe may count before a restart: one slow answer is not a dead component. */
export const MIN_LIVENESS_FAILURE_THRESHOLD = 3;

/**
 * The least time a startup probe gives the UI to start (`initialDelaySeconds` + `periodSeconds` x
 * `failureThreshold`): the official chart's startup probes ("Wait for at most 1 minute (6*10s)", chart/values.yaml
 * `apiServer.startupProbe`, `webserver.startupProbe`, `scheduler.startupProbe`).
 */
export const MIN_STARTUP_WINDOW_SECONDS = 60;

/**
 * The shortest timeout of a probe, by how it probes: `airflow jobs check` (exec) starts a Python process that
 * imports Airflow, and the official chart gives it 20 s (`scheduler.livenessProbe.timeoutSeconds`,
 * `triggerer`, `dagProcessor`); an HTTP probe of the UI 5 s (`apiServer.livenessProbe.timeoutSeconds`).
 */
export const MIN_PROBE_TIMEOUT_SECONDS = { exec: 20, http: 5 } as const;

/**
 * A probe with the user's timings over the component's `base`, checked. Readiness only takes a pod out of its
 * Service, so only Kubernetes' own bounds apply; liveness and startup restart the container, so they must leave
 * a healthy component alone: a timeout at least {@link MIN_PROBE_TIMEOUT_SECONDS}, a liveness probe that
 * fails at least {@link MIN_LIVENESS_FAILURE_THRESHOLD} times and for at least {@link MIN_LIVENESS_WINDOW_SECONDS}
 * before a restart, and a startup probe that waits at least {@link MIN_STARTUP_WINDOW_SECONDS}.
 * @param base the component's probe; undefined when it has none (then `given` is refused)
 */
export function resolveProbe(scope: IConstruct, property: string, kind: ProbeKind, base: k8s.Probe | undefined, given: ProbeTimings | undefined): k8s.Probe | undefined {
  if (given === undefined) return base;
  const p = `${property}.${kind}`;
  if (base === undefined) {
    invalid(scope, p, given, `nothing: this component has no ${kind.replace('Probe', ' probe')}`);
  }
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    invalid(scope, p, given, '{ periodSeconds, timeoutSeconds, failureThreshold, initialDelaySeconds }');
  }
  const period = validateInteger(scope, `${p}.periodSeconds`, given.periodSeconds ?? base.periodSeconds ?? 10, 1, 3600);
  const failures = validateInteger(scope, `${p}.failureThreshold`, given.failureThreshold ?? base.failureThreshold ?? 3, 1, 100);
  const initialDelay = validateInteger(scope, `${p}.initialDelaySeconds`, given.initialDelaySeconds ?? base.initialDelaySeconds ?? 0, 0, 3600);
  const how = base.exec !== undefined ? 'exec' : 'http';
  const minTimeout = kind === 'readinessProbe' ? 1 : MIN_PROBE_TIMEOUT_SECONDS[how];
  const why =
    how === 'exec'
      ? 'the probe starts a Python process ("airflow jobs check", Celery\'s ping); the official chart gives it 20 s'
      : "the official chart gives the UI's health endpoint 5 s";
  const timeout = validateInteger(scope, `${p}.timeoutSeconds`, given.timeoutSeconds ?? base.timeoutSeconds ?? 1, 1, 3600);
  if (timeout < minTimeout) {
    invalid(scope, `${p}.timeoutSeconds`, timeout, `at least ${minTimeout}: ${why}, and a probe cut shorter restarts a healthy container`);
  }
  if (kind === 'livenessProbe') {
    if (failures < MIN_LIVENESS_FAILURE_THRESHOLD) {
      invalid(scope, `${p}.failureThreshold`, failures, `at least ${MIN_LIVENESS_FAILURE_THRESHOLD}: one slow answer (a busy database, a long loop) would restart a healthy component`);
    }
    if (period * failures < MIN_LIVENESS_WINDOW_SECONDS) {
      invalid(
        scope,
        p,
        { periodSeconds: period, failureThreshold: failures },
        `periodSeconds x failureThreshold of at least ${MIN_LIVENESS_WINDOW_SECONDS} s (here ${period * failures} s): Airflow ` +
          'calls a component unhealthy only after 30 s without a heartbeat ([scheduler] scheduler_health_check_threshold); a ' +
          'probe that gives up sooner restarts one that is only busy',
      );
    }
  }
  if (kind === 'startupProbe' && initialDelay + period * failures < MIN_STARTUP_WINDOW_SECONDS) {
    invalid(
      scope,
      p,
      { initialDelaySeconds: initialDelay, periodSeconds: period, failureThreshold: failures },
      `initialDelaySeconds + periodSeconds x failureThreshold of at least ${MIN_STARTUP_WINDOW_SECONDS} s (here ` +
        `${initialDelay + period * failures} s), the official chart's least: a UI still starting would be restarted, again and again`,
    );
  }
  return { ...base, periodSeconds: period, timeoutSeconds: timeout, failureThreshold: failures, initialDelaySeconds: initialDelay };
}

/** What {@link resolveExtraContainers} checks a component's own containers against. */
export interface ExtraContainerContext {
  /** The names of the containers and init containers the library puts in the pod (the features' are checked at synth). */
  readonly reservedNames: readonly string[];
  /** The securityContext of the component's Airflow container: an extra container's may be no weaker. */
  readonly securityContext: k8s.SecurityContext;
}

/**
 * A component's own containers (`extraContainers`, `extraInitContainers`), checked: a name unique in the pod, a
 * pinned image, CPU and memory requests and limits (a container without them is not counted when the pod is
 * placed, or takes the node's memory), and a securityContext no weaker than the component's Airflow container's.
 * A field of it not given takes the component's value (so `{}` becomes the component's securityContext); one that
 * weakens it is refused.
 */
export function resolveExtraContainers(scope: IConstruct, property: string, containers: readonly k8s.Container[] | undefined, context: ExtraContainerContext): k8s.Container[] {
  if (containers === undefined) return [];
  const init = /InitContainers$/.test(property);
  if (!Array.isArray(containers)) invalid(scope, property, containers, 'a list of containers (k8s.Container)');
  const seen = new Set(context.reservedNames);
  return containers.map((c, i) => {
    const p = `${property}[${i}]`;
    if (typeof c !== 'object' || c === null) invalid(scope, p, c, 'a container { name, image, resources, ... }');
    validateDnsLabel(scope, `${p}.name`, c.name);
    if (seen.has(c.name)) {
      invalid(scope, `${p}.name`, c.name, `a container name not used in the pod already (${[...seen].join(', ')}): Kubernetes refuses two containers of one name`);
    }
    seen.add(c.name);
    validateImage(scope, `${p}.image`, c.image);
    if (c.restartPolicy !== undefined && !(init && c.restartPolicy === 'Always')) {
      invalid(
        scope,
        `${p}.restartPolicy`,
        c.restartPolicy,
        init
          ? '"Always" (a sidecar that starts before the component and runs beside it, Kubernetes 1.29 and later) or unset'
          : 'unset: only an init container has one (restartPolicy: "Always" makes it a sidecar, Kubernetes 1.29 and later)',
      );
    }
    const resources = checkResources(scope, `${p}.resources`, c.resources);
    const container: k8s.Container = { ...c, resources, securityContext: noWeakerSecurityContext(scope, `${p}.securityContext`, c.securityContext, context.securityContext) };
    refuseUnknownFields(scope, p, container, k8s.toJson_Container(container));
    return container;
  });
}

/**
 * A field of a container that Kubernetes 1.28's Container does not have is dropped when the YAML is written (the
 * generated classes write the fields they know): refused instead, with its path.
 */
function refuseUnknownFields(scope: IConstruct, property: string, given: unknown, written: unknown): void {
  if (typeof given !== 'object' || given === null || given instanceof k8s.Quantity || given instanceof k8s.IntOrString) return;
  if (Array.isArray(given)) {
    given.forEach((item, i) => refuseUnknownFields(scope, `${property}[${i}]`, item, (written as unknown[] | undefined)?.[i]));
    return;
  }
  if (Object.getPrototypeOf(given) !== Object.prototype && Object.getPrototypeOf(given) !== null) return;
  const out = (written ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(given as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (!(key in out)) invalid(scope, `${property}.${key}`, value, 'a field of a Kubernetes 1.28 container (k8s.Container): this one would not be written to the YAML');
    refuseUnknownFields(scope, `${property}.${key}`, value, out[key]);
  }
}

function checkResources(scope: IConstruct, property: string, r: k8s.ResourceRequirements | undefined): k8s.ResourceRequirements {
  const allowed =
    'requests and limits of cpu and memory (resources: { requests: { cpu, memory }, limits: { cpu, memory } }, each a ' +
    "k8s.Quantity): without them the container is not counted when the pod is placed, or may take the node's memory";
  const value = (kind: 'requests' | 'limits', resource: 'cpu' | 'memory'): string => {
    const q: unknown = r?.[kind]?.[resource];
    if (q === undefined || q === null) invalid(scope, `${property}.${kind}.${resource}`, undefined, allowed);
    // A Quantity, or (from JSON or YAML) the quantity itself.
    return String(q instanceof k8s.Quantity ? q.value : q);
  };
  const cpu = { requests: value('requests', 'cpu'), limits: value('limits', 'cpu') };
  const memory = { requests: value('requests', 'memory'), limits: value('limits', 'memory') };
  if (validateCpuQuantity(scope, `${property}.requests.cpu`, cpu.requests) > validateCpuQuantity(scope, `${property}.limits.cpu`, cpu.limits)) {
    invalid(scope, `${property}.requests.cpu`, cpu.requests, `at most the CPU limit (${JSON.stringify(cpu.limits)})`);
  }
  if (validateByteQuantity(scope, `${property}.requests.memory`, memory.requests) > validateByteQuantity(scope, `${property}.limits.memory`, memory.limits)) {
    invalid(scope, `${property}.requests.memory`, memory.requests, `at most the memory limit (${JSON.stringify(memory.limits)})`);
  }
  const q = (v: string) => k8s.Quantity.fromString(v);
  return {
    ...r,
    requests: { ...r!.requests, cpu: q(cpu.requests), memory: q(memory.requests) },
    limits: { ...r!.limits, cpu: q(cpu.limits), memory: q(memory.limits) },
  };
}

/**
 * `given` over the component's securityContext `base`, refused where it is weaker: root or a fixed uid other
 * than the component's, privilege escalation, privileged, capabilities added or not all dropped, a writable root
 * file system where the component's is read-only, a seccomp profile other than the component's.
 */
export function noWeakerSecurityContext(scope: IConstruct, property: string, given: k8s.SecurityContext | undefined, base: k8s.SecurityContext): k8s.SecurityContext {
  const sc: k8s.SecurityContext = { ...base, ...given };
  const refuse = (field: string, value: unknown, allowed: string) =>
    invalid(scope, `${property}.${field}`, value, `${allowed}: the component's own container has it, and an extra container may be no weaker`, 'Leave it out to take the component\'s value.');
  if (sc.runAsNonRoot !== true) refuse('runAsNonRoot', sc.runAsNonRoot, 'true');
  if (given?.runAsGroup !== undefined && given.runAsGroup !== base.runAsGroup) {
    refuse('runAsGroup', given.runAsGroup, base.runAsGroup !== undefined ? `${base.runAsGroup} (Airflow's group) or unset` : 'unset (the platform runs it in the root group)');
  }
  if (given?.runAsUser !== undefined && (given.runAsUser === 0 || base.runAsUser === undefined || given.runAsUser !== base.runAsUser)) {
    refuse('runAsUser', given.runAsUser, base.runAsUser !== undefined ? `${base.runAsUser} (Airflow's user) or unset` : 'unset (the platform assigns the uid)');
  }
  if (sc.allowPrivilegeEscalation !== false) refuse('allowPrivilegeEscalation', sc.allowPrivilegeEscalation, 'false');
  if (sc.privileged === true) refuse('privileged', true, 'false');
  if ((sc.capabilities?.add ?? []).length > 0) refuse('capabilities.add', sc.capabilities!.add, 'none');
  if (!(sc.capabilities?.drop ?? []).includes('ALL')) refuse('capabilities.drop', sc.capabilities?.drop, '["ALL"]');
  if (base.readOnlyRootFilesystem === true && sc.readOnlyRootFilesystem !== true) refuse('readOnlyRootFilesystem', sc.readOnlyRootFilesystem, 'true (mount an emptyDir where it writes)');
  if (base.seccompProfile !== undefined && sc.seccompProfile?.type !== base.seccompProfile.type) {
    refuse('seccompProfile.type', sc.seccompProfile?.type, JSON.stringify(base.seccompProfile.type));
  }
  return sc;
}

/**
 * The name of a ServiceAccount the user manages (`existingServiceAccountName`), checked: a DNS subdomain, and no
 * annotation the library would have put on a ServiceAccount of its own (pod options' `serviceAccountAnnotations`),
 * which it cannot put on one it does not create.
 */
export function resolveExistingServiceAccount(scope: IConstruct, property: string, name: string | undefined, annotations: Record<string, string>): string | undefined {
  if (name === undefined) return undefined;
  validateDnsSubdomain(scope, `${property}.existingServiceAccountName`, name);
  if (Object.keys(annotations).length > 0) {
    invalid(
      scope,
      `${property}.serviceAccountAnnotations`,
      annotations,
      `none with existingServiceAccountName "${name}": the library creates no ServiceAccount to put them on (the chart-wide ` +
        'serviceAccountAnnotations reach every component)',
      `Put them on ServiceAccount "${name}" yourself, and leave serviceAccountAnnotations out for this component.`,
    );
  }
  return name;
}

/**
 * A feature's annotations for the ServiceAccount of `component`, which runs as one the user manages: refused, with
 * what to put on it instead (the library cannot annotate a ServiceAccount it does not create).
 */
export function refuseAnnotationsOnExistingServiceAccount(scope: IConstruct, feature: string, component: string, account: string, annotations: Record<string, string>): void {
  if (Object.keys(annotations).length === 0) return;
  invalid(
    scope,
    `${feature}.serviceAccountAnnotations`,
    annotations,
    `none for the ${component} pods, which run as ServiceAccount "${account}" (existingServiceAccountName): the library creates ` +
      'no ServiceAccount to put them on',
    `Put ${Object.entries(annotations).map(([k, v]) => `${k}: ${v}`).join(', ')} on ServiceAccount "${account}" yourself, and leave the ${feature} feature's serviceAccountAnnotations out.`,
  );
}

/**
 * Whether the pods run under OpenShift's restricted SCC (`openShift`), checked against what that SCC refuses:
 * hostPath volumes (its `volumes` list has no hostPath) and the volume-permissions Job (it runs as root with
 * CHOWN and FOWNER, which the SCC neither allows nor needs: volumes take the fsGroup it assigns).
 */
export function resolveOpenShift(scope: IConstruct, openShift: unknown, volumes: AirflowVolumes, fixVolumePermissions: boolean | undefined): boolean {
  if (openShift === undefined) return false;
  if (typeof openShift !== 'boolean') invalid(scope, 'openShift', openShift, 'true or false');
  if (!openShift) return false;
  if (volumes.provisioning.mode === StorageProvisioningMode.HOST_PATH) {
    invalid(
      scope,
      'openShift',
      true,
      'volumes from a StorageClass (provisioning: StorageProvisioning.storageClass(...)): OpenShift\'s restricted SCC allows no ' +
        'hostPath volume, so no pod of the chart would be admitted',
      'Give the chart a StorageClass whose volumes take the fsGroup the SCC assigns (most block and CSI ones), or a share whose root is group-writable by gid 0.',
    );
  }
  if (fixVolumePermissions === true) {
    invalid(
      scope,
      'fixVolumePermissions',
      true,
      'false or unset with openShift: the Job runs as root with the CHOWN and FOWNER capabilities, which the restricted SCC refuses',
      'Make the root of a share that takes no fsGroup group-writable by gid 0 (chgrp 0, chmod g+rwx) where it is made; the pods run in the root group.',
    );
  }
  return true;
}
