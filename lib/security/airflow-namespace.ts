import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { clusterScoped, namespaceOf } from '../core';

/** Props for {@link AirflowNamespace}. */
export interface AirflowNamespaceProps {
  /**
   * Labels added to the Namespace (e.g. Pod Security Standard labels).
   * @default - only the library's own labels
   */
  readonly labels?: Record<string, string>;
}

/**
 * The Namespace the Chart's objects live in (the Chart's `namespace`), created first so that
 * `kubectl apply -f` succeeds in one pass.
 */
export class AirflowNamespace extends Construct {
  /** The namespace's name. */
  public readonly name: string;

  /** The Namespace object. */
  public readonly namespace: k8s.KubeNamespace;

  constructor(scope: Construct, id: string, props: AirflowNamespaceProps = {}) {
    super(scope, id);
    this.name = namespaceOf(this);
    this.namespace = clusterScoped(
      new k8s.KubeNamespace(this, 'resource', {
        metadata: {
          name: this.name,
          labels: { 'app.kubernetes.io/part-of': 'airflow', ...props.labels },
        },
      }),
    );
  }
}
