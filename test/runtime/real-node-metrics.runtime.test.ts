// The chart with `metrics: true` on the real node (issue #27, docs/metrics.md): the StatsD exporter runs from the
// image scripts/runtime/build-images.sh builds (statsd_exporter v0.28.0 from its public source with Debian's Go,
// USER 65534 and ENTRYPOINT ["/bin/statsd_exporter"] as upstream's Dockerfile sets them), pulled from the node's
// registry under the name and tag lib/metrics names (DEFAULT_STATSD_EXPORTER_IMAGE). The app is synthesized as a
// user's main.ts would (`new AirflowChart(app, 'airflow', { metrics: true })` in an AirflowApp) into
// build/real-node-metrics/ and applied with `kubectl apply -f` on that folder. The exporter gets Ready by its own
// probes with the chart's arguments and mapping file; Airflow's own metrics reach it (the scheduler's heartbeat,
// sent over UDP to the Service's in-cluster name, read back at the exporter's /metrics through the Service);
// nothing restarts and every container stays under its cgroup limit. Runs only on the real node
// (`npm run test:runtime:real`).
import * as fs from 'fs';
import * as path from 'path';
import { AIRFLOW_STATSD_MAPPINGS, AirflowApp, AirflowChart, DEFAULT_STATSD_EXPORTER_IMAGE } from '../../lib';
import { kubectlJson, kubectlOk, REPO_ROOT, waitFor } from '../live/support/cluster';
import { recordRuntime } from './support/results';
import { cgroupMemory, chartProgress, componentPod, inScheduler, jobsComplete, memoryReport, NS, podSummary, pods, prepareData, readyWithoutRestart, REAL_NODE, removeChart, deleteChart } from './support/real-node';

const OUT = path.join(REPO_ROOT, 'build', 'real-node-metrics');
const COMPONENTS = ['scheduler', 'api-server', 'dag-processor', 'triggerer', 'statsd'];
const METRICS_URL = `http://airflow-statsd.${NS}.svc.cluster.local:9102/metrics`;

const d = REAL_NODE ? describe : describe.skip;
const { timings, mark, setApplied, needApplied } = chartProgress(OUT);

/** The exporter's /metrics read from the scheduler's container, through cluster DNS and the Service (kube-proxy). */
function exporterMetrics(): string {
  return inScheduler(`curl -sS --max-time 10 ${METRICS_URL}`);
}

/** The value of the first sample of `series` (a name with its labels, as /metrics writes it), or undefined. */
function sample(text: string, series: RegExp): number | undefined {
  const line = text.split('\n').find((l) => !l.startsWith('#') && series.test(l));
  return line === undefined ? undefined : Number(line.trim().split(/\s+/).pop());
}

d('runtime: the chart with metrics on the real node', () => {
  beforeAll(async () => {
    fs.rmSync(OUT, { recursive: true, force: true });
    const app = new AirflowApp({ outdir: OUT });
    new AirflowChart(app, 'airflow', { metrics: true });
    app.synth();
    await deleteChart(OUT);
    prepareData(path.join(REPO_ROOT, 'dags'));
  }, 360_000);

  afterAll(() => removeChart(OUT, ['realNode', 'metrics', 'timingsSeconds'], timings), 360_000);

  test('kubectl apply -f on the synthesized folder is accepted; the exporter is the image lib names', () => {
    const text = fs.readdirSync(OUT).map((f) => fs.readFileSync(path.join(OUT, f), 'utf8')).join('\n');
    expect(text).toContain(`image: ${DEFAULT_STATSD_EXPORTER_IMAGE}`);
    expect(text).toContain('statsd_host = airflow-statsd.airflow.svc.cluster.local');
    kubectlOk(['apply', '-f', OUT]);
    setApplied();
    mark('applied');
  });

  test('the Jobs complete', async () => {
    needApplied();
    await jobsComplete(4);
    mark('jobsComplete');
  }, 960_000);

  test('the four components and the StatsD exporter are Ready, none restarted', async () => {
    needApplied();
    await readyWithoutRestart('the components and the StatsD exporter Ready', COMPONENTS);
    mark('componentsReady');
  }, 960_000);

  test('the exporter runs the image pulled from the node registry, with the chart arguments and mapping file', () => {
    needApplied();
    const pod = kubectlJson(['-n', NS, 'get', 'pod', componentPod('statsd'), '-o', 'json']);
    const status = pod.status.containerStatuses.find((c: any) => c.name === 'statsd-exporter');
    // a real pull: containerd resolved the tag to a digest in the registry (the emulated kubelet records none)
    expect(status.image).toMatch(/prom\/statsd-exporter:v0\.28\.0$/);
    expect(status.imageID).toMatch(/prom\/statsd-exporter@sha256:[0-9a-f]{64}$/);
    expect(status.ready).toBe(true);
    const text = exporterMetrics();
    // the binary built from v0.28.0, and every rule of the chart's mapping file loaded from the mounted ConfigMap
    // (statsd_exporter counts config_reloads_total only on a reload, not on the first load)
    expect(text).toMatch(/^statsd_exporter_build_info\{.*version="0\.28\.0".*\} 1$/m);
    expect(sample(text, /^statsd_exporter_loaded_mappings /)).toBe(AIRFLOW_STATSD_MAPPINGS.length);
    const log = kubectlOk(['-n', NS, 'logs', componentPod('statsd'), '-c', 'statsd-exporter']);
    expect(log).toContain('msg="Starting StatsD -> Prometheus Exporter" version="(version=0.28.0');
    expect(log).not.toMatch(/level=ERROR/);
  });

  test("Airflow's metrics reach the exporter: the scheduler's heartbeat counts up at /metrics through the Service", async () => {
    needApplied();
    const heartbeat = /^airflow_scheduler_heartbeat\{type="counter"\} /;
    let first = 0;
    await waitFor('airflow_scheduler_heartbeat at the exporter', 300_000, () => (first = sample(exporterMetrics(), heartbeat) ?? 0) > 0, podSummary, 5000);
    let second = 0;
    await waitFor('airflow_scheduler_heartbeat to count up', 120_000, () => (second = sample(exporterMetrics(), heartbeat) ?? 0) > first, podSummary, 5000);
    const text = exporterMetrics();
    const series = [...new Set(text.split('\n').filter((l) => l.startsWith('airflow_')).map((l) => l.replace(/[{ ].*/, '')))].sort();
    const udp = sample(text, /^statsd_exporter_udp_packets_total /) ?? 0;
    console.log(`RUNTIME [real node, metrics]: airflow_scheduler_heartbeat ${first} -> ${second}; ${udp} UDP packets; ${series.length} airflow_ series:\n${series.join('\n')}`);
    expect(udp).toBeGreaterThan(0);
    // more than the scheduler: the dag-processor's heartbeat too (every component sends to the same Service)
    await waitFor('airflow_dag_processor_heartbeat at the exporter', 120_000, () => (sample(exporterMetrics(), /^airflow_dag_processor_heartbeat\{type="counter"\} /) ?? 0) > 0, podSummary, 5000);
    recordRuntime(['realNode', 'metrics', 'exporter'], { schedulerHeartbeat: second, udpPackets: udp, airflowSeries: series.length });
    mark('metricsSeen');
  }, 480_000);

  test('nothing restarted; memory: every running container under its cgroup limit (at most 80%); no OOM kill', () => {
    needApplied();
    const restarted = pods().flatMap((p) => (p.status.containerStatuses ?? []).filter((cs: any) => cs.restartCount !== 0).map((cs: any) => `${p.metadata.name}/${cs.name}: ${cs.restartCount}`));
    expect(restarted).toEqual([]);
    const m = cgroupMemory();
    const { over, oomKilled } = memoryReport('RUNTIME [real node, metrics]: memory from the cgroups', m);
    recordRuntime(['realNode', 'metrics', 'memory'], m);
    // keyed `component` or `component:container` (the exporter's container is statsd-exporter: `statsd:statsd-exporter`)
    for (const c of COMPONENTS) expect(Object.keys(m).filter((k) => k === c || k.startsWith(`${c}:`))).not.toEqual([]);
    expect(over).toEqual([]);
    expect(oomKilled).toEqual([]);
  });
});
