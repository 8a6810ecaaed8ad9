import * as k8s from '../imports/k8s';

/** The Airflow image's user: uid 50000, primary group 0 (root group, as the image's files expect). */
export const AIRFLOW_UID = 50000;
/** The Airflow image's group. */
export const AIRFLOW_GID = 0;

/**
 * The pod securityContext of every Airflow pod: non-root uid 50000 / gid 0, seccomp RuntimeDefault.
 * Meets the Pod Security Standard "restricted" level.
 */
export function airflowPodSecurityContext(): k8s.PodSecurityContext {
  return {
    runAsUser: AIRFLOW_UID,
    runAsGroup: AIRFLOW_GID,
    fsGroup: AIRFLOW_GID,
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** The container securityContext of every Airflow container: no privilege escalation, no capabilities. */
export function airflowContainerSecurityContext(): k8s.SecurityContext {
  return {
    runAsUser: AIRFLOW_UID,
    runAsGroup: AIRFLOW_GID,
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}
