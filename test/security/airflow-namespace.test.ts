import { ApiObject, Testing } from 'cdk8s';
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

describe('the Pod Security labels cost one walk of the pods per synth', () => {
  // The walk synthesizes every pod of the app (toJson): it was done once for each of the two labels, a sixth of
  // the unit tests' CPU. Enforce and warn are one level, computed once while the Namespace is synthesized, and
  // the chart's synth reuses what the walk rendered (renderingOnce, lib/core/render-once.ts).
  test('each workload is synthesized once per synth (the YAML reuses what the level was computed from), not three times', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow');
    const scheduler = chart.node.findAll().find((c) => c instanceof ApiObject && c.kind === 'Deployment' && c.name === 'airflow-scheduler') as ApiObject;
    const toJson = jest.spyOn(scheduler, 'toJson');
    const objects = Testing.synth(chart);
    expect(toJson).toHaveBeenCalledTimes(1);
    const labels = byKind(objects, 'Namespace')[0].metadata.labels;
    expect([labels['pod-security.kubernetes.io/enforce'], labels['pod-security.kubernetes.io/warn']]).toEqual(['baseline', 'baseline']);
  });

  test('never kept between synths: a privileged pod added after a synth is seen by the next one', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow');
    const levels = () => {
      const labels = byKind(Testing.synth(chart), 'Namespace')[0].metadata.labels;
      return [labels['pod-security.kubernetes.io/enforce'], labels['pod-security.kubernetes.io/warn']];
    };
    expect(levels()).toEqual(['baseline', 'baseline']);
    new ApiObject(chart, 'privileged', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'privileged' },
      spec: { containers: [{ name: 'c', image: 'busybox:1.36', securityContext: { privileged: true } }] },
    });
    expect(levels()).toEqual(['privileged', 'privileged']);
    expect(chart.airflowNamespace!.enforcedLevel).toBe(PodSecurityLevel.PRIVILEGED);
  });
});
