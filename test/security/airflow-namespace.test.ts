import { Testing } from 'cdk8s';
import { AirflowChart, AirflowNamespace, AirflowVolumes, MetadataDb, PodSecurityLevel, RESERVED_NAMESPACES } from '../../lib';
import { isReservedNamespace } from '../../lib/core/scope';
import { podSecurityLevelIn } from '../../lib/security/airflow-namespace';
import { byKind, testChart, validationError } from '../support';

describe('reserved namespaces are refused for every construct of the library (issue #21)', () => {
  test('default and Kubernetes\' own, and every name starting with kube-', () => {
    expect(RESERVED_NAMESPACES).toEqual(['default', 'kube-system', 'kube-public', 'kube-node-lease']);
    for (const ns of [...RESERVED_NAMESPACES, 'kube-anything']) expect([ns, isReservedNamespace(ns)]).toEqual([ns, true]);
    for (const ns of ['airflow', 'team-a', 'kubeflow', 'defaults', 'my-kube-system']) expect([ns, isReservedNamespace(ns)]).toEqual([ns, false]);
  });

  test.each(RESERVED_NAMESPACES.map((ns) => [ns]))('AirflowNamespace in %s: refused, nothing relabelled', (ns) => {
    validationError(
      () => new AirflowNamespace(testChart({ namespace: ns }), 'namespace'),
      'Chart.namespace',
      new RegExp(`^AirflowNamespace at "test/namespace": property "Chart\\.namespace" received "${ns}"; allowed: a namespace of your own`),
    );
  });

  test.each([
    ['AirflowVolumes', (c: any) => new AirflowVolumes(c, 'volumes')],
    ['MetadataDb', (c: any) => new MetadataDb(c, 'db')],
  ])('%s in kube-system: refused', (kind, build) => {
    expect(validationError(() => build(testChart({ namespace: 'kube-system' })), 'Chart.namespace').constructName).toBe(kind);
  });
});

describe('the Pod Security level the namespace needs, with or without the Namespace object', () => {
  test('podSecurityLevelIn is what AirflowNamespace enforces, and what the chart reports', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow');
    expect(chart.airflowNamespace!.enforcedLevel).toBe(PodSecurityLevel.BASELINE);
    expect(podSecurityLevelIn(chart, 'airflow')).toBe(PodSecurityLevel.BASELINE);
    expect(chart.podSecurityLevel).toBe(PodSecurityLevel.BASELINE);
  });

  test('createNamespace: false still computes it (Postgres needs baseline), though no Namespace carries it', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow', { namespace: 'team-a', createNamespace: false });
    expect(chart.airflowNamespace).toBeUndefined();
    expect(chart.podSecurityLevel).toBe(PodSecurityLevel.BASELINE);
    expect(byKind(Testing.synth(chart), 'Namespace')).toEqual([]);
  });

  test('no pods: restricted', () => {
    expect(podSecurityLevelIn(testChart(), 'airflow')).toBe(PodSecurityLevel.RESTRICTED);
  });
});
