import { IConstruct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { refuseAnnotationsOnExistingServiceAccount } from './component-extras';
import { annotateServiceAccount } from './control-plane-checks';

/**
 * The ServiceAccounts of the control plane's pods (the components' and the task pods'), by component name: those
 * the library creates, which take the features' `serviceAccountAnnotations` (a cloud identity), and the user's
 * (`existingServiceAccountName`), which the library creates none of: a feature that would annotate one is refused.
 */
export class ControlPlaneServiceAccounts {
  /** The ServiceAccounts the library creates, by component name. */
  public readonly own: Record<string, k8s.KubeServiceAccount> = {};

  /** The names of the user's ServiceAccounts (`existingServiceAccountName`), by component name. */
  public readonly existing: Record<string, string> = {};

  /** Records the ServiceAccount of `component`'s pods: the library's `own`, else the user's `existingName`. */
  public add(component: string, own: k8s.KubeServiceAccount | undefined, existingName: string | undefined): void {
    if (own) this.own[component] = own;
    else if (existingName !== undefined) this.existing[component] = existingName;
  }

  /**
   * Puts what `feature` gives each component's pods (`annotationsFor`) on the library's ServiceAccounts; refused
   * for a component that runs as the user's.
   */
  public annotate(scope: IConstruct, feature: string, annotationsFor: (component: string) => Record<string, string>): void {
    for (const [component, account] of Object.entries(this.own)) {
      annotateServiceAccount(scope, feature, account, annotationsFor(component));
    }
    for (const [component, account] of Object.entries(this.existing)) {
      refuseAnnotationsOnExistingServiceAccount(scope, feature, component, account, annotationsFor(component));
    }
  }
}
