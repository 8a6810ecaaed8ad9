import { Construct } from 'constructs';
import { invalid } from '../core';
import { AirflowContribution, DagsSource, IAirflowFeature, PodContributions } from './airflow-feature';
import type { KubernetesExecutorAirflow } from './kubernetes-executor-airflow';

/**
 * The extension point's bookkeeping (docs/architecture.md): the features added to a control plane and what
 * each contributes, looked up by the pods a contribution names. {@link KubernetesExecutorAirflow} extends it
 * and decides which groups (`AirflowPods`) a pod of each component belongs to.
 */
export abstract class AirflowFeatureHost extends Construct {
  /** The features added, with what each contributes, in order. */
  protected readonly added: Array<{ readonly feature: IAirflowFeature; readonly contribution: AirflowContribution }> = [];

  /** The features added, in order. */
  public get features(): IAirflowFeature[] {
    return this.added.map((a) => a.feature);
  }

  /** What the features add to the pods of `component`, in the order the features were added. */
  public contributed<K extends 'env' | 'volumes' | 'volumeMounts' | 'sidecars' | 'initContainers'>(
    kind: K,
    component: string,
  ): Array<NonNullable<AirflowContribution[K]> extends PodContributions<infer T> ? T : never> {
    const selectors = this.selectorsOf(component);
    return this.added.flatMap((a) => selectors.flatMap((s) => [...((a.contribution[kind] as PodContributions<never> | undefined)?.[s] ?? [])]));
  }

  /** The ServiceAccount annotations the features give the pods of `component`. */
  public serviceAccountAnnotationsFor(component: string, contributions = this.added.map((a) => a.contribution)): Record<string, string> {
    const selectors = this.selectorsOf(component);
    return Object.assign({}, ...contributions.flatMap((c) => selectors.map((s) => c.serviceAccountAnnotations?.[s] ?? {})));
  }

  /** The DAGs' source, when a feature delivers them (git-sync). */
  protected get dagsSource(): DagsSource | undefined {
    return this.added.find((a) => a.contribution.dags)?.contribution.dags;
  }

  /** `[core] executor`: `KubernetesExecutor`, with the features' executors (the default first). */
  public get executors(): string[] {
    const extra = this.added.map((a) => a.contribution.executor).filter((e) => e !== undefined);
    return [...extra.filter((e) => e.isDefault).map((e) => e.name), 'KubernetesExecutor', ...extra.filter((e) => !e.isDefault).map((e) => e.name)];
  }

  /**
   * What `feature` contributes, checked: an IAirflowFeature, not added already, and the DAGs delivered by one
   * feature at most.
   */
  protected contributionOf(feature: IAirflowFeature): { name: string; contribution: AirflowContribution } {
    if (!feature || typeof feature.contribute !== 'function') {
      invalid(this, 'feature', feature, 'an IAirflowFeature: an object with featureName and contribute(airflow)');
    }
    const name = feature.featureName;
    if (this.added.some((a) => a.feature === feature)) invalid(this, 'feature', name, 'a feature that was not added already');
    const contribution = feature.contribute(this as unknown as KubernetesExecutorAirflow);
    const dags = this.added.find((a) => a.contribution.dags);
    if (contribution.dags && dags) {
      invalid(this, `${name}.dags`, contribution.dags.folder, `one feature that delivers the DAGs: ${dags.feature.featureName} does already`);
    }
    return { name, contribution };
  }

  /** The selectors a pod of `component` answers to: its name and its `AirflowPods` groups. */
  protected abstract selectorsOf(component: string): string[];
}
