// DeploymentStrategy: what a rollout may add or stop, checked against the replicas; spreadOverNodes: the
// anti-affinity a component with several replicas gets beside its own affinity.
import { IntOrString } from '../../imports/k8s';
import { DeploymentStrategy } from '../../lib';
import { spreadOverNodes } from '../../lib/core/deployment-strategy';
import { testChart, validationError } from '../support';

/** The strategy as it is written into the YAML (IntOrString resolved to its number or text). */
const resolve = (strategy: DeploymentStrategy, replicas: number): any =>
  JSON.parse(JSON.stringify(strategy.toDeploymentStrategy(testChart(), 'scheduler.strategy', replicas), (_k, v) => (v instanceof IntOrString ? v.value : v)));

describe('DeploymentStrategy', () => {
  test('rollingUpdate writes what is given, in pods or percentages; Kubernetes defaults the rest (25%)', () => {
    expect(resolve(DeploymentStrategy.rollingUpdate({ maxSurge: 1, maxUnavailable: 0 }), 1)).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    expect(resolve(DeploymentStrategy.rollingUpdate({ maxSurge: '100%', maxUnavailable: '50%' }), 2)).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: '100%', maxUnavailable: '50%' } });
    expect(resolve(DeploymentStrategy.rollingUpdate({ maxUnavailable: 1 }), 3)).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
    expect(resolve(DeploymentStrategy.rollingUpdate(), 4)).toEqual({ type: 'RollingUpdate' });
  });

  test('recreate() is Recreate at any number of replicas: stopping every replica at once is asked for by name', () => {
    expect(resolve(DeploymentStrategy.recreate(), 1)).toEqual({ type: 'Recreate' });
    expect(resolve(DeploymentStrategy.recreate(), 3)).toEqual({ type: 'Recreate' });
  });

  test('a rolling update that may stop every replica at once is refused; Kubernetes rounds maxUnavailable down', () => {
    for (const [maxUnavailable, replicas] of [[2, 2], [5, 3], ['100%', 2]] as const) {
      validationError(() => resolve(DeploymentStrategy.rollingUpdate({ maxUnavailable }), replicas), undefined,
        new RegExp(`property "scheduler\\.strategy\\.maxUnavailable" received ${JSON.stringify(maxUnavailable)}; allowed: at most ${replicas - 1} \\(of replicas: ${replicas}\\)`));
    }
    // 99% of 2 is 1 pod (rounded down): one keeps running; with one replica nothing can keep running anyway
    expect(resolve(DeploymentStrategy.rollingUpdate({ maxUnavailable: '99%' }), 2).rollingUpdate).toEqual({ maxUnavailable: '99%' });
    expect(resolve(DeploymentStrategy.rollingUpdate({ maxSurge: 0, maxUnavailable: 1 }), 1).rollingUpdate).toEqual({ maxSurge: 0, maxUnavailable: 1 });
  });

  test('values that Kubernetes refuses, or that are not pods nor percentages', () => {
    validationError(() => resolve(DeploymentStrategy.rollingUpdate({ maxSurge: 0, maxUnavailable: '0%' }), 2), undefined,
      /property "scheduler\.strategy\.maxUnavailable" received "0%"; allowed: more than 0 when maxSurge is 0/);
    validationError(() => resolve(DeploymentStrategy.rollingUpdate({ maxSurge: '1' }), 1), undefined,
      /property "scheduler\.strategy\.maxSurge" received "1"; allowed: a whole number of pods from 0, or a percentage of replicas from "0%" to "100%", such as 1 or "25%"\. Did you mean 1 \(pods\) or "1%"\?$/);
    for (const bad of [-1, 1.5, '150%', '25 %', null]) {
      validationError(() => resolve(DeploymentStrategy.rollingUpdate({ maxUnavailable: bad as any }), 2), undefined, /property "scheduler\.strategy\.maxUnavailable" received .*; allowed: a whole number of pods/);
    }
  });
});

describe('spreadOverNodes', () => {
  const selector = { 'app.kubernetes.io/name': 'airflow', 'app.kubernetes.io/component': 'scheduler' };
  const spread = { weight: 100, podAffinityTerm: { labelSelector: { matchLabels: selector }, topologyKey: 'kubernetes.io/hostname' } };

  test('adds a preferred anti-affinity over the hostname on the selector labels', () => {
    expect(spreadOverNodes(undefined, selector)).toEqual({ podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [spread] } });
  });

  test('keeps every part of the own affinity, and its pod anti-affinity terms first', () => {
    const required = [{ labelSelector: { matchLabels: { app: 'x' } }, topologyKey: 'kubernetes.io/hostname' }];
    const own = { weight: 5, podAffinityTerm: { labelSelector: { matchLabels: { team: 'data' } }, topologyKey: 'topology.kubernetes.io/zone' } };
    const affinity = {
      nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, preference: { matchExpressions: [{ key: 'ssd', operator: 'Exists' }] } }] },
      podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: required },
      podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: required, preferredDuringSchedulingIgnoredDuringExecution: [own] },
    };
    const before = JSON.stringify(affinity);
    expect(spreadOverNodes(affinity, selector)).toEqual({
      ...affinity,
      podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: required, preferredDuringSchedulingIgnoredDuringExecution: [own, spread] },
    });
    expect(JSON.stringify(affinity)).toBe(before);
  });
});
