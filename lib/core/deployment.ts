import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';

/** Props of {@link componentDeployment}. */
export interface ComponentDeploymentProps {
  /** The Deployment's name. */
  readonly name: string;
  /** The Deployment's labels. */
  readonly labels: Record<string, string>;
  /** The labels that select its pods (`spec.selector.matchLabels`), a subset of the pod template's. */
  readonly selector: Record<string, string>;
  /**
   * `spec.replicas`.
   * @default - not set: an autoscaler owns it (Kubernetes then starts one)
   */
  readonly replicas?: number;
  /**
   * `spec.strategy`.
   * @default - not set: Kubernetes' rolling update (25% surge, 25% unavailable)
   */
  readonly strategy?: k8s.DeploymentStrategy;
  /** The pod template's metadata (see {@link podTemplateMetadata}). */
  readonly podMetadata: k8s.ObjectMeta;
  /** The pod template's spec. */
  readonly podSpec: k8s.PodSpec;
}

/**
 * The Deployment of one of the chart's long-running components (the Airflow components, the Celery workers,
 * Flower, git-sync, the statsd-exporter, PgBouncer): named and labelled as the component, its pods selected
 * by `selector`, and two old ReplicaSets kept (`revisionHistoryLimit: 2`) for `kubectl rollout undo`.
 */
export function componentDeployment(scope: Construct, id: string, props: ComponentDeploymentProps): k8s.KubeDeployment {
  const { name, labels, selector, replicas, strategy, podMetadata, podSpec } = props;
  return new k8s.KubeDeployment(scope, id, {
    metadata: { name, labels },
    spec: {
      ...(replicas === undefined ? {} : { replicas }),
      revisionHistoryLimit: 2,
      ...(strategy === undefined ? {} : { strategy }),
      selector: { matchLabels: selector },
      template: { metadata: podMetadata, spec: podSpec },
    },
  });
}

/**
 * A pod template's metadata: `labels` (the library's, over the pod options' `podLabels`, which cannot replace
 * them), and the pod options' `podAnnotations` with `annotations` over them; no `annotations` field when there
 * are none.
 */
export function podTemplateMetadata(
  labels: Record<string, string>,
  pod: { readonly podLabels?: Record<string, string>; readonly podAnnotations?: Record<string, string> } = {},
  annotations: Record<string, string> = {},
): k8s.ObjectMeta {
  const all = { ...pod.podAnnotations, ...annotations };
  return { labels: { ...pod.podLabels, ...labels }, ...(Object.keys(all).length ? { annotations: all } : {}) };
}
