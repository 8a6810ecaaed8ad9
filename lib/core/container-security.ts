import * as k8s from '../../imports/k8s';

/** uid 0 and gid 0: a container that starts as root for one step, keeping only the capabilities that step needs. */
export const ROOT_USER = { runAsUser: 0, runAsGroup: 0 } as const;

/** Options of {@link hardenedContainerSecurityContext}: who the container runs as, and what it keeps. */
export interface HardenedContainerOptions {
  /**
   * `runAsUser` and `runAsGroup`: numbers, or values resolved at synth (`atSynth`); undefined (now or at
   * synth) leaves the field out of the YAML.
   * @default - none: the image's user (or, on OpenShift, the uid the SCC assigns)
   */
  readonly user?: { readonly runAsUser: number | undefined; readonly runAsGroup: number | undefined };
  /**
   * `runAsNonRoot`.
   * @default - not set
   */
  readonly runAsNonRoot?: boolean;
  /**
   * `readOnlyRootFilesystem`.
   * @default true
   */
  readonly readOnlyRootFilesystem?: boolean;
  /**
   * The capabilities kept (`capabilities.add`), every other one dropped: what a container that starts as root
   * needs for its one step (Pod Security "baseline"); none for "restricted".
   * @default - none: every capability dropped
   */
  readonly keepCapabilities?: readonly string[];
}

/**
 * The hardening every container of the library gets, whoever it runs as: no privilege escalation, not
 * privileged, every capability dropped (but `keepCapabilities`), seccomp `RuntimeDefault` and, unless told
 * otherwise, a read-only root file system; with the user (`runAsUser`, `runAsGroup`) and `runAsNonRoot` given.
 * Without `keepCapabilities` and with `runAsNonRoot: true` it meets the Pod Security Standard "restricted" level.
 */
export function hardenedContainerSecurityContext(options: HardenedContainerOptions = {}): k8s.SecurityContext {
  const { user, runAsNonRoot, readOnlyRootFilesystem = true, keepCapabilities } = options;
  return {
    ...(user === undefined ? {} : { runAsUser: user.runAsUser, runAsGroup: user.runAsGroup }),
    ...(runAsNonRoot === undefined ? {} : { runAsNonRoot }),
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem,
    capabilities: { drop: ['ALL'], ...(keepCapabilities === undefined ? {} : { add: [...keepCapabilities] }) },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}
