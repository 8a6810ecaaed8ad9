// Metrics (issue #14): off by default; on, Airflow sends StatsD to a statsd-exporter that Prometheus scrapes.
import { Chart, Testing } from 'cdk8s';
import {
  DEFAULT_STATSD_EXPORTER_IMAGE,
  StatsdExporter,
  airflowConfigKeyInfo,
} from '../../lib';
import { validationReport } from '../../validation';
import { find, synthAirflowChart as synth } from '../support';
import { airflowPodViolations } from '../support/pod-checks';

test('off by default: no exporter, no [metrics] section', () => {
  const { manifests, cfg } = synth();
  expect(manifests.filter((o) => /statsd/.test(o.metadata.name))).toEqual([]);
  expect(cfg.metrics).toBeUndefined();
});

describe('metrics: true', () => {
  const { manifests, cfg, chart } = synth({ metrics: true });
  const deployment = find(manifests, 'Deployment', 'airflow-statsd');
  const service = find(manifests, 'Service', 'airflow-statsd');
  const container = deployment.spec.template.spec.containers[0];

  test('[metrics] sends StatsD to the exporter\'s Service, with keys Airflow defines', () => {
    expect(cfg.metrics).toEqual({
      statsd_on: 'True',
      statsd_host: 'airflow-statsd.airflow.svc.cluster.local',
      statsd_port: '9125',
      statsd_prefix: 'airflow',
    });
    for (const major of [2, 3] as const) {
      for (const key of Object.keys(cfg.metrics)) expect(airflowConfigKeyInfo(major, `metrics.${key}`)?.name).toBe(`metrics.${key}`);
    }
    expect(service.spec.ports).toContainEqual({ name: 'statsd', port: Number(cfg.metrics.statsd_port), targetPort: 'statsd', protocol: 'UDP' });
    expect(container.ports).toContainEqual({ name: 'statsd', containerPort: 9125, protocol: 'UDP' });
    expect(service.spec.selector).toEqual({ 'app.kubernetes.io/name': 'airflow', 'app.kubernetes.io/component': 'statsd' });
    expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
  });

  test('the exporter: pinned image, Prometheus scrape annotations, metrics on 9102', () => {
    expect(container.image).toBe(DEFAULT_STATSD_EXPORTER_IMAGE);
    expect(container.image).toMatch(/^prom\/statsd-exporter:v\d+\.\d+\.\d+$/);
    expect(service.metadata.annotations).toEqual({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9102', 'prometheus.io/path': '/metrics' });
    expect(service.spec.ports).toContainEqual({ name: 'metrics', port: 9102, targetPort: 'metrics', protocol: 'TCP' });
    expect(container.args).toEqual([
      '--statsd.listen-udp=:9125',
      '--statsd.listen-tcp=:9125',
      '--web.listen-address=:9102',
      '--statsd.mapping-config=/etc/statsd-exporter/mappings.yml', // test/metrics/statsd-mappings.test.ts
    ]);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/-/ready', port: 'metrics' });
  });

  test('no token, restricted, and the chart still validates', () => {
    const spec = deployment.spec.template.spec;
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(find(manifests, 'ServiceAccount', 'airflow-statsd').automountServiceAccountToken).toBe(false);
    expect(airflowPodViolations(spec)).toEqual([]);
    expect(validationReport(chart)).toEqual([]);
  });

  test('the statsd keys are the prop\'s, not config\'s', () => {
    expect(() => synth({ metrics: true, config: { metrics: { statsd_host: 'elsewhere' } } })).toThrow(/Use the "metrics" prop instead/);
    // Other [metrics] options stay the user's.
    expect(synth({ metrics: true, config: { metrics: { metrics_allow_list: 'scheduler,executor' } } }).cfg.metrics.metrics_allow_list).toBe('scheduler,executor');
  });
});

test('the exporter is placed like the control plane (the chart-wide pod options)', () => {
  const { manifests } = synth({ metrics: true, nodeSelector: { pool: 'airflow' }, podLabels: { team: 'data' }, priorityClassName: 'airflow' });
  const pod = find(manifests, 'Deployment', 'airflow-statsd').spec.template;
  expect(pod.spec.nodeSelector).toEqual({ pool: 'airflow' });
  expect(pod.spec.priorityClassName).toBe('airflow');
  expect(pod.metadata.labels).toMatchObject({ team: 'data', 'app.kubernetes.io/component': 'statsd' });
});

test('the exporter alone, in another namespace and cluster domain', () => {
  const chart = new Chart(Testing.app(), 'x', { namespace: 'team-a' });
  const statsd = new StatsdExporter(chart, 'statsd', { clusterDomain: 'corp.local' });
  expect(statsd.host).toBe('airflow-statsd.team-a.svc.corp.local');
  expect(() => new StatsdExporter(new Chart(Testing.app(), 'y', { namespace: 'a' }), 'statsd', { image: 'prom/statsd exporter' })).toThrow(/property "image"/);
});
