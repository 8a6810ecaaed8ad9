import { IConstruct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { invalid } from './errors';

/** How many pods a rolling update may add or stop at once: a number of pods, or a percentage of `replicas`. */
export interface RollingUpdateOptions {
  /**
   * How many pods above `replicas` a rollout may start before old ones stop: a whole number, or a percentage
   * of `replicas` ("25%", rounded up).
   * @default "25%" - Kubernetes' default (one pod for up to 4 replicas)
   */
  readonly maxSurge?: number | string;

  /**
   * How many of `replicas` may be unavailable during a rollout: a whole number, or a percentage of `replicas`
   * ("25%", rounded down). With more than one replica it must leave at least one running.
   * @default "25%" - Kubernetes' default (no pod for up to 3 replicas)
   */
  readonly maxUnavailable?: number | string;
}

const PERCENT = /^(\d{1,3})%$/;

/**
 * How a component's Deployment replaces its pods on a rollout (`spec.strategy`): `DeploymentStrategy.rollingUpdate()`
 * replaces them a few at a time, `DeploymentStrategy.recreate()` stops every pod before the new ones start.
 * The components choose one by their replicas when none is given (docs/airflow.md, "Several replicas").
 */
export class DeploymentStrategy {
  /**
   * Replace pods a few at a time: at most `maxSurge` pods above `replicas`, at most `maxUnavailable` of them
   * unavailable (Kubernetes' `RollingUpdate`).
   */
  public static rollingUpdate(options: RollingUpdateOptions = {}): DeploymentStrategy {
    return new DeploymentStrategy('RollingUpdate', options.maxSurge, options.maxUnavailable);
  }

  /**
   * Stop every pod, then start the new ones (Kubernetes' `Recreate`): a gap on every rollout, and the only
   * way to stop every replica of a component with several at once.
   */
  public static recreate(): DeploymentStrategy {
    return new DeploymentStrategy('Recreate', undefined, undefined);
  }

  private constructor(
    /** `RollingUpdate` or `Recreate`. */
    public readonly type: 'RollingUpdate' | 'Recreate',
    /** The rolling update's maxSurge as given; undefined for Kubernetes' default or with Recreate. */
    public readonly maxSurge: number | string | undefined,
    /** The rolling update's maxUnavailable as given; undefined for Kubernetes' default or with Recreate. */
    public readonly maxUnavailable: number | string | undefined,
  ) {}

  /**
   * The Deployment's `spec.strategy` for `replicas` pods, checked in the name of `scope` (`property` names the
   * option in messages, e.g. "scheduler.strategy").
   */
  public toDeploymentStrategy(scope: IConstruct, property: string, replicas: number): k8s.DeploymentStrategy {
    if (this.type === 'Recreate') return { type: 'Recreate' };
    const surge = checkIntOrPercent(scope, `${property}.maxSurge`, this.maxSurge);
    const unavailable = checkIntOrPercent(scope, `${property}.maxUnavailable`, this.maxUnavailable);
    if (surge?.value === 0 && unavailable?.value === 0) {
      invalid(
        scope,
        `${property}.maxUnavailable`,
        this.maxUnavailable,
        'more than 0 when maxSurge is 0: a rollout that may neither add nor stop a pod never starts (Kubernetes refuses it)',
        'Set maxSurge: 1 (a new pod first) or maxUnavailable: 1 (one old pod stops first).',
      );
    }
    // Kubernetes rounds maxUnavailable down (and maxSurge up): 25% of 2 replicas is 0 unavailable.
    const stopped = unavailable === undefined ? Math.floor(replicas / 4) : unavailable.percent ? Math.floor((replicas * unavailable.value) / 100) : unavailable.value;
    if (replicas > 1 && stopped >= replicas) {
      invalid(
        scope,
        `${property}.maxUnavailable`,
        this.maxUnavailable,
        `at most ${replicas - 1} (of replicas: ${replicas}) or a percentage below 100%: a rolling update that may stop ` +
          'every replica at once leaves none running during a rollout',
        'Keep one running (maxUnavailable: 1), or, to stop every replica at once on purpose, say so with DeploymentStrategy.recreate().',
      );
    }
    const rollingUpdate: k8s.RollingUpdateDeployment = {
      ...(surge ? { maxSurge: surge.intOrString } : {}),
      ...(unavailable ? { maxUnavailable: unavailable.intOrString } : {}),
    };
    return { type: 'RollingUpdate', ...(Object.keys(rollingUpdate).length ? { rollingUpdate } : {}) };
  }
}

/**
 * The Deployment's `spec.strategy`: `given` (checked: a {@link DeploymentStrategy}, valid for `replicas`), or
 * `fallback` when it is undefined. `property` names the option in messages (`scheduler.strategy`).
 */
export function resolveDeploymentStrategy(
  scope: IConstruct,
  property: string,
  given: unknown,
  fallback: DeploymentStrategy,
  replicas: number,
): k8s.DeploymentStrategy {
  if (given !== undefined && !(given instanceof DeploymentStrategy)) {
    invalid(scope, property, given, 'DeploymentStrategy.rollingUpdate({ maxSurge, maxUnavailable }) or DeploymentStrategy.recreate()');
  }
  return (given ?? fallback).toDeploymentStrategy(scope, property, replicas);
}

/** Checks `value` is a whole number of pods or a percentage from 0% to 100%; undefined when unset. */
function checkIntOrPercent(
  scope: IConstruct,
  property: string,
  value: unknown,
): { value: number; percent: boolean; intOrString: k8s.IntOrString } | undefined {
  if (value === undefined) return undefined;
  const allowed = 'a whole number of pods from 0, or a percentage of replicas from "0%" to "100%", such as 1 or "25%"';
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 1000) invalid(scope, property, value, allowed);
    return { value, percent: false, intOrString: k8s.IntOrString.fromNumber(value) };
  }
  const text = typeof value === 'string' ? value : '';
  const match = PERCENT.exec(text);
  if (!match || Number(match[1]) > 100) {
    const suggestion = /^\d+$/.test(text) ? `Did you mean ${text} (pods) or "${text}%"?` : undefined;
    invalid(scope, property, value, allowed, suggestion);
  }
  return { value: Number(match[1]), percent: true, intOrString: k8s.IntOrString.fromString(text) };
}

/** The topology key that tells nodes apart. */
export const HOSTNAME_TOPOLOGY_KEY = 'kubernetes.io/hostname';

/**
 * `affinity` (the pod options', kept as given) with a preferred pod anti-affinity that spreads the pods
 * `selector` selects over nodes (weight 100, over `kubernetes.io/hostname`, as the official Helm chart's default
 * for its components), added beside the pod anti-affinity terms `affinity` already has. Preferred only: on a
 * single node (minikube) every replica still runs there.
 */
export function spreadOverNodes(affinity: k8s.Affinity | undefined, selector: Record<string, string>): k8s.Affinity {
  const term: k8s.WeightedPodAffinityTerm = {
    weight: 100,
    podAffinityTerm: { labelSelector: { matchLabels: { ...selector } }, topologyKey: HOSTNAME_TOPOLOGY_KEY },
  };
  const anti = affinity?.podAntiAffinity;
  return {
    ...affinity,
    podAntiAffinity: {
      ...anti,
      preferredDuringSchedulingIgnoredDuringExecution: [...(anti?.preferredDuringSchedulingIgnoredDuringExecution ?? []), term],
    },
  };
}
