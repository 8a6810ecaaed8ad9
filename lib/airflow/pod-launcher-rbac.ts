import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { Components, airflowLabels, namespaceOf, validateDnsLabel, validateDnsSubdomain, refuseUnknownProps } from '../core';

/**
 * What the KubernetesExecutor does through the Kubernetes API, in its namespace: create a pod per task,
 * watch and list them, read them, patch their labels (when a scheduler adopts another's pods), delete them
 * when the task ends, read a pod's log, and list events of pods that fail to start. The same rules as the
 * official Helm chart's `pod-launcher-role`, less `pods/exec` (used by the KubernetesPodOperator's XCom
 * sidecar, which runs in a worker, not by the executor).
 */
export const POD_LAUNCHER_RULES: readonly k8s.PolicyRule[] = [
  { apiGroups: [''], resources: ['pods'], verbs: ['create', 'delete', 'get', 'list', 'patch', 'watch'] },
  { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
  { apiGroups: [''], resources: ['events'], verbs: ['list'] },
];

/** Props for {@link PodLauncherRbac}. */
export interface PodLauncherRbacProps {
  /** The ServiceAccount (in the chart's namespace) that launches worker pods: the scheduler's. */
  readonly serviceAccountName: string;

  /**
   * The name of the Role and of the RoleBinding.
   * @default "airflow-pod-launcher"
   */
  readonly name?: string;
}

/**
 * The namespaced Role the KubernetesExecutor needs ({@link POD_LAUNCHER_RULES}) and the RoleBinding that
 * grants it to the scheduler's ServiceAccount. Nothing else gets these rights: worker pods and the UI run
 * under ServiceAccounts without any Role.
 */
export class PodLauncherRbac extends Construct {
  /** The name of the Role and of the RoleBinding. */
  public readonly name: string;

  /** The Role. */
  public readonly role: k8s.KubeRole;

  /** The RoleBinding. */
  public readonly roleBinding: k8s.KubeRoleBinding;

  constructor(scope: Construct, id: string, props: PodLauncherRbacProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'PodLauncherRbacProps');
    this.name = validateDnsSubdomain(this, 'name', props.name ?? 'airflow-pod-launcher');
    const serviceAccountName = validateDnsSubdomain(this, 'serviceAccountName', props.serviceAccountName);
    const namespace = validateDnsLabel(this, 'Chart.namespace', namespaceOf(this));
    const labels = airflowLabels(Components.SCHEDULER);
    this.role = new k8s.KubeRole(this, 'role', {
      metadata: { name: this.name, labels },
      rules: POD_LAUNCHER_RULES.map((rule) => ({ ...rule })),
    });
    this.roleBinding = new k8s.KubeRoleBinding(this, 'role-binding', {
      metadata: { name: this.name, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: this.name },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccountName, namespace }],
    });
  }
}
