// The chart with `gitSync` AND `metrics: true` on the real node (issue #27, docs/git-sync.md, docs/metrics.md), one
// deployment for both proofs (issue #25 item 3: one Airflow start-up instead of two; users turn both on together).
// This file was real-node-git-sync.runtime.test.ts; real-node-metrics.runtime.test.ts is merged into it, every check
// of both kept.
//
// git-sync runs from the image scripts/runtime/build-images.sh builds (git-sync v4.4.2 from its public source, its
// vendored modules, Debian's Go; USER 65533:65533, HOME=/tmp, ENTRYPOINT ["/git-sync"] as upstream's Dockerfile sets
// them), pulled from the node's registry under the name and tag lib/git-sync names (DEFAULT_GIT_SYNC_IMAGE). The
// repository is a bare repository made here with the host's git and served over HTTPS by `git http-backend` (git's
// smart HTTP, so the chart's shallow `--depth=1` fetch works) behind a small Python server on the machine's end of the
// node's veth (the chart refuses git:// and http://, rightly). Its certificate is signed by a CA made here; the one
// change to the synthesized YAML is that trust: the git-sync container gets `GIT_SSL_CAINFO` and the CA from a
// ConfigMap (the chart has no prop for a private CA; a user with one would need the same).
//
// The StatsD exporter runs from the image build-images.sh builds (statsd_exporter v0.28.0 from its public source with
// Debian's Go, USER 65534 and ENTRYPOINT ["/bin/statsd_exporter"] as upstream's Dockerfile sets them), pulled from the
// node's registry under the name and tag lib/metrics names (DEFAULT_STATSD_EXPORTER_IMAGE).
//
// The app is synthesized as a user's main.ts would (AirflowApp + `new AirflowChart(app, 'airflow', { namespace:
// 'git-sync-metrics', gitSync, metrics: true })`) into build/real-node-git-sync-metrics/ and applied with `kubectl
// apply -f` on that folder. The namespace is its own (issue #25 item 3: the real node runs two files at once, and
// two charts side by side share no namespace, PersistentVolume or host folder): its PersistentVolumes are
// `git-sync-metrics-*-volume` under /data/git-sync-metrics (the chart's defaults of namePrefix and hostRoot in a
// namespace other than "airflow"), and every in-cluster name it checks is `*.git-sync-metrics.svc.cluster.local`. git-sync gets
// Ready (its first sync published the link) and the exporter by its own probes with the chart's arguments and mapping
// file; Airflow's own metrics reach the exporter (the scheduler's heartbeat, sent over UDP to the Service's in-cluster
// name, read back at the exporter's /metrics through the Service); the dag-processor parses the DAG from the synced
// folder, a second commit pushed to the branch is synced and its DAG parsed too; nothing restarts and every container
// stays under its cgroup limit. Runs only on the real node (`npm run test:runtime:real`).
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Duration } from 'cdk8s';
import * as YAML from 'yaml';
import { AIRFLOW_STATSD_MAPPINGS, AirflowApp, AirflowChart, DEFAULT_GIT_SYNC_IMAGE, DEFAULT_STATSD_EXPORTER_IMAGE } from '../../lib';
import { kubectl, kubectlJson, kubectlOk, REPO_ROOT, waitFor } from '../live/support/cluster';
import { claimNamespace, NAMESPACE_CLAIMS } from './support/namespace-claim';
import { recordRuntime } from './support/results';
import { cgroupMemory, chartProgress, componentPod, deleteChart, hostRoot, inScheduler, jobsComplete, memoryReport, podSummary, pods, prepareData, readyWithoutRestart, REAL_NODE, removeChart } from './support/real-node';

const OUT = path.join(REPO_ROOT, 'build', 'real-node-git-sync-metrics');
/** This file's own namespace: nothing of its chart is shared with a file running beside it on the node. */
const NS = 'git-sync-metrics';
const summary = () => podSummary(NS);
/** The machine's end of the real node's veth (scripts/runtime/real-node.sh HOST_IP, .1 of AIRFLOW_CDK8S_NODE_LINK): the pods reach it. */
const HOST_IP = (process.env.AIRFLOW_CDK8S_NODE_LINK ?? '10.246.1.0').replace(/\.\d+$/, (last) => `.${Number(last.slice(1)) + 1}`);
const PORT = 19443;
const REPOSITORY = `https://${HOST_IP}:${PORT}/dags.git`;
const COMPONENTS = ['scheduler', 'api-server', 'dag-processor', 'triggerer', 'git-sync', 'statsd'];
const CA_CONFIG_MAP = 'real-node-git-ca';
const METRICS_URL = `http://airflow-statsd.${NS}.svc.cluster.local:9102/metrics`;

const d = REAL_NODE ? describe : describe.skip;
const { timings, mark, setApplied, needApplied } = chartProgress(OUT);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'real-node-git-sync-metrics-'));
let server: ChildProcess | undefined;

function run(cmd: string, args: string[], cwd = work, env: Record<string, string> = {}): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env, GIT_AUTHOR_NAME: 'test', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'test', GIT_COMMITTER_EMAIL: 't@example.com' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function dag(dagId: string): string {
  return ['from datetime import datetime', 'from airflow.sdk import DAG', 'from airflow.providers.standard.operators.empty import EmptyOperator', '', `with DAG(dag_id="${dagId}", start_date=datetime(2024, 1, 1), schedule=None):`, '    EmptyOperator(task_id="noop")', ''].join('\n');
}

/** The exporter's /metrics read from the scheduler's container, through cluster DNS and the Service (kube-proxy). */
function exporterMetrics(): string {
  return inScheduler(`curl -sS --max-time 10 ${METRICS_URL}`, NS);
}

/** The value of the first sample of `series` (a name with its labels, as /metrics writes it), or undefined. */
function sample(text: string, series: RegExp): number | undefined {
  const line = text.split('\n').find((l) => !l.startsWith('#') && series.test(l));
  return line === undefined ? undefined : Number(line.trim().split(/\s+/).pop());
}

/** Commits `file` with `content` in the work clone and pushes it to the served bare repository; the commit id. */
function commitAndPush(file: string, content: string): string {
  fs.writeFileSync(path.join(work, 'clone', file), content);
  run('git', ['add', file], path.join(work, 'clone'));
  run('git', ['commit', '-q', '-m', `add ${file}`], path.join(work, 'clone'));
  run('git', ['push', '-q', 'origin', 'main'], path.join(work, 'clone'));
  return run('git', ['rev-parse', 'HEAD'], path.join(work, 'clone')).trim();
}

// git's smart HTTP over TLS: each request runs `git http-backend` (CGI) on the bare repositories of `root`.
const SERVER = `
import http.server, os, ssl, subprocess, sys
root, cert, key, host, port = sys.argv[1:6]
class H(http.server.BaseHTTPRequestHandler):
    def cgi(self):
        p, _, q = self.path.partition('?')
        n = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(n) if n else b''
        env = {'PATH': os.environ['PATH'], 'GIT_PROJECT_ROOT': root, 'GIT_HTTP_EXPORT_ALL': '1', 'PATH_INFO': p,
               'QUERY_STRING': q, 'REQUEST_METHOD': self.command, 'CONTENT_TYPE': self.headers.get('Content-Type', ''),
               'CONTENT_LENGTH': str(n), 'REMOTE_ADDR': self.client_address[0]}
        for h, e in (('Content-Encoding', 'HTTP_CONTENT_ENCODING'), ('Git-Protocol', 'GIT_PROTOCOL')):
            if self.headers.get(h): env[e] = self.headers[h]
        out = subprocess.run(['git', 'http-backend'], input=body, env=env, capture_output=True).stdout
        sep = b'\\r\\n\\r\\n' if b'\\r\\n\\r\\n' in out else b'\\n\\n'
        head, _, payload = out.partition(sep)
        status, headers = 200, []
        for line in head.decode().splitlines():
            k, _, v = line.partition(':')
            if k.lower() == 'status': status = int(v.split()[0])
            elif k: headers.append((k, v.strip()))
        self.send_response(status)
        for k, v in headers: self.send_header(k, v)
        self.send_header('Content-Length', str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
    do_GET = do_POST = cgi
    def log_message(self, *args):
        pass
srv = http.server.ThreadingHTTPServer((host, int(port)), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print('serving', flush=True)
srv.serve_forever()
`;

d('runtime: the chart with gitSync and metrics on the real node', () => {
  let release: (() => void) | undefined;
  beforeAll(async () => {
    // another file runs beside this one on the real node: its namespace must be this file's alone
    release = claimNamespace(NAMESPACE_CLAIMS, NS, path.basename(__filename));
    // a CA and a certificate for the machine's address
    run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=real-node-git-ca', '-keyout', 'ca.key', '-out', 'ca.crt', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${HOST_IP}`, '-keyout', 'server.key', '-out', 'server.csr']);
    fs.writeFileSync(path.join(work, 'ext.cnf'), `subjectAltName=IP:${HOST_IP}\nextendedKeyUsage=serverAuth\n`);
    run('openssl', ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'ext.cnf', '-out', 'server.crt']);
    // the bare repository with one DAG on main, and a clone to push further commits from
    run('git', ['init', '-q', '--bare', '-b', 'main', 'repos/dags.git']);
    run('git', ['clone', '-q', 'repos/dags.git', 'clone']);
    run('git', ['symbolic-ref', 'HEAD', 'refs/heads/main'], path.join(work, 'clone'));
    commitAndPush('git_synced_first.py', dag('git_synced_first'));
    fs.writeFileSync(path.join(work, 'server.py'), SERVER);
    server = spawn('python3', [path.join(work, 'server.py'), path.join(work, 'repos'), path.join(work, 'server.crt'), path.join(work, 'server.key'), HOST_IP, String(PORT)], { stdio: ['ignore', 'pipe', 'pipe'] });
    server.stderr!.on('data', (b) => process.stderr.write(`[git server] ${b}`));
    await new Promise<void>((resolve, reject) => {
      server!.stdout!.once('data', () => resolve());
      server!.once('exit', (code) => reject(new Error(`the git server exited ${code}`)));
    });
    // the host's git trusts the CA the same way (GIT_SSL_CAINFO, which wins over http.sslCAInfo): the server answers
    expect(run('git', ['ls-remote', REPOSITORY, 'main'], work, { GIT_SSL_CAINFO: path.join(work, 'ca.crt') })).toMatch(/^[0-9a-f]{40}\trefs\/heads\/main/);

    fs.rmSync(OUT, { recursive: true, force: true });
    const app = new AirflowApp({ outdir: OUT });
    new AirflowChart(app, 'airflow', { namespace: NS, gitSync: { repository: REPOSITORY, branch: 'main', period: Duration.seconds(10) }, metrics: true });
    app.synth();
    trustTheCa();
    await deleteChart(OUT, NS);
    prepareData(path.join(REPO_ROOT, 'dags'), NS);
  }, 360_000);

  afterAll(async () => {
    server?.kill();
    try {
      await removeChart(OUT, ['realNode', 'gitSyncMetrics', 'timingsSeconds'], timings, NS);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
      release?.();
    }
  }, 360_000);

  /**
   * The one change to the synthesized YAML: the git-sync container trusts the test's CA (GIT_SSL_CAINFO, git's own
   * variable, on a ConfigMap mounted read-only), and the ConfigMap itself.
   */
  function trustTheCa(): void {
    const isGitSync = (x: any) => x?.kind === 'Deployment' && x.metadata?.name === 'airflow-git-sync';
    const parse = (f: string) => YAML.parseAllDocuments(fs.readFileSync(f, 'utf8')).map((x) => x.toJS());
    const file = fs.readdirSync(OUT).map((f) => path.join(OUT, f)).find((f) => f.endsWith('.yaml') && parse(f).some(isGitSync));
    if (file === undefined) throw new Error(`no airflow-git-sync Deployment in ${OUT}`);
    const docs = parse(file).filter((x) => x !== null && x !== undefined);
    const deployment = docs.find(isGitSync);
    const spec = deployment.spec.template.spec;
    const container = spec.containers.find((c: any) => c.name === 'git-sync');
    container.env = [...(container.env ?? []), { name: 'GIT_SSL_CAINFO', value: '/etc/real-node-git-ca/ca.crt' }];
    container.volumeMounts = [...(container.volumeMounts ?? []), { name: 'real-node-git-ca', mountPath: '/etc/real-node-git-ca', readOnly: true }];
    spec.volumes = [...(spec.volumes ?? []), { name: 'real-node-git-ca', configMap: { name: CA_CONFIG_MAP } }];
    docs.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: CA_CONFIG_MAP, namespace: NS }, data: { 'ca.crt': fs.readFileSync(path.join(work, 'ca.crt'), 'utf8') } });
    fs.writeFileSync(file, docs.map((x) => YAML.stringify(x)).join('---\n'));
  }

  test('kubectl apply -f on the synthesized folder is accepted; git-sync and the exporter are the images lib names', () => {
    const text = fs.readdirSync(OUT).map((f) => fs.readFileSync(path.join(OUT, f), 'utf8')).join('\n');
    expect(text).toContain(`image: ${DEFAULT_GIT_SYNC_IMAGE}`);
    expect(text).toContain(`--repo=${REPOSITORY}`);
    expect(text).toContain(`image: ${DEFAULT_STATSD_EXPORTER_IMAGE}`);
    expect(text).toContain(`statsd_host = airflow-statsd.${NS}.svc.cluster.local`);
    // the chart's own: in its own namespace, its PersistentVolumes and host folders are its own too
    expect(text).toContain(`name: ${NS}-dags-volume`);
    expect(text).toContain(`path: ${hostRoot(NS)}/dags`);
    expect(text).not.toMatch(/path: \/data\/(dags|logs|data|postgres|postgres-keys)$/m);
    kubectlOk(['apply', '-f', OUT]);
    setApplied();
    mark('applied');
  });

  test('the Jobs complete', async () => {
    needApplied();
    await jobsComplete(4, NS);
    mark('jobsComplete');
  }, 960_000);

  test('the four components, git-sync (its first sync done) and the StatsD exporter are Ready, none restarted', async () => {
    needApplied();
    await readyWithoutRestart('the components, git-sync and the StatsD exporter Ready', COMPONENTS, NS);
    const pod = kubectlJson(['-n', NS, 'get', 'pod', componentPod('git-sync', NS), '-o', 'json']);
    const status = pod.status.containerStatuses.find((c: any) => c.name === 'git-sync');
    // a real pull: containerd resolved the tag to a digest in the node's registry
    expect(status.image).toMatch(/git-sync\/git-sync:v4\.4\.2$/);
    expect(status.imageID).toMatch(/git-sync\/git-sync@sha256:[0-9a-f]{64}$/);
    const logs = kubectl(['-n', NS, 'logs', componentPod('git-sync', NS), '-c', 'git-sync']).stdout;
    console.log(`RUNTIME [real node, git-sync and metrics]: git-sync's log\n${logs.split('\n').slice(0, 30).join('\n')}`);
    expect(logs).toContain('v4.4.2');
    mark('componentsReady');
  }, 960_000);

  test('the exporter runs the image pulled from the node registry, with the chart arguments and mapping file', () => {
    needApplied();
    const pod = kubectlJson(['-n', NS, 'get', 'pod', componentPod('statsd', NS), '-o', 'json']);
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
    const log = kubectlOk(['-n', NS, 'logs', componentPod('statsd', NS), '-c', 'statsd-exporter']);
    expect(log).toContain('msg="Starting StatsD -> Prometheus Exporter" version="(version=0.28.0');
    expect(log).not.toMatch(/level=ERROR/);
  });

  test("Airflow's metrics reach the exporter: the scheduler's heartbeat counts up at /metrics through the Service", async () => {
    needApplied();
    const heartbeat = /^airflow_scheduler_heartbeat\{type="counter"\} /;
    let first = 0;
    await waitFor('airflow_scheduler_heartbeat at the exporter', 300_000, () => (first = sample(exporterMetrics(), heartbeat) ?? 0) > 0, summary, 5000);
    let second = 0;
    await waitFor('airflow_scheduler_heartbeat to count up', 120_000, () => (second = sample(exporterMetrics(), heartbeat) ?? 0) > first, summary, 5000);
    const text = exporterMetrics();
    const series = [...new Set(text.split('\n').filter((l) => l.startsWith('airflow_')).map((l) => l.replace(/[{ ].*/, '')))].sort();
    const udp = sample(text, /^statsd_exporter_udp_packets_total /) ?? 0;
    console.log(`RUNTIME [real node, git-sync and metrics]: airflow_scheduler_heartbeat ${first} -> ${second}; ${udp} UDP packets; ${series.length} airflow_ series:\n${series.join('\n')}`);
    expect(udp).toBeGreaterThan(0);
    // more than the scheduler: the dag-processor's heartbeat too (every component sends to the same Service)
    await waitFor('airflow_dag_processor_heartbeat at the exporter', 120_000, () => (sample(exporterMetrics(), /^airflow_dag_processor_heartbeat\{type="counter"\} /) ?? 0) > 0, summary, 5000);
    recordRuntime(['realNode', 'gitSyncMetrics', 'exporter'], { schedulerHeartbeat: second, udpPackets: udp, airflowSeries: series.length });
    mark('metricsSeen');
  }, 480_000);

  test('the DAG of the first commit is parsed from the synced folder; a second commit is synced and parsed too', async () => {
    needApplied();
    const listed = (dagId: string) => new RegExp(`\\b${dagId}\\b`).test(kubectl(['-n', NS, 'exec', componentPod('scheduler', NS), '-c', 'scheduler', '--', 'airflow', 'dags', 'list', '-o', 'plain']).stdout);
    await waitFor('git_synced_first parsed', 300_000, () => listed('git_synced_first'), summary, 5000);
    mark('firstDagParsed');
    const t0 = Date.now();
    const commit = commitAndPush('git_synced_second.py', dag('git_synced_second'));
    // git-sync publishes a commit by pointing its link (<dags>/git-sync/repo, the machine's /data here) at its worktree
    const link = path.join(hostRoot(NS), 'dags', 'git-sync', 'repo');
    await waitFor(`git-sync to publish ${commit}`, 120_000, () => fs.existsSync(link) && fs.readlinkSync(link).includes(commit), () => `${fs.existsSync(link) ? fs.readlinkSync(link) : '(no link)'}\n${summary()}`, 1000);
    const syncedSeconds = Math.round((Date.now() - t0) / 1000);
    await waitFor('git_synced_second parsed', 300_000, () => listed('git_synced_second'), summary, 5000);
    const parsedSeconds = Math.round((Date.now() - t0) / 1000);
    console.log(`RUNTIME [real node, git-sync and metrics]: second commit pushed -> synced ${syncedSeconds} s -> parsed ${parsedSeconds} s`);
    recordRuntime(['realNode', 'gitSyncMetrics', 'secondCommit'], { syncedSeconds, parsedSeconds });
    mark('secondDagParsed');
  }, 720_000);

  test('nothing restarted; memory: every running container under its cgroup limit (at most 80%); no OOM kill', () => {
    needApplied();
    const restarted = pods(NS).flatMap((p) => (p.status.containerStatuses ?? []).filter((cs: any) => cs.restartCount !== 0).map((cs: any) => `${p.metadata.name}/${cs.name}: ${cs.restartCount}`));
    expect(restarted).toEqual([]);
    const m = cgroupMemory(NS);
    const { over, oomKilled } = memoryReport('RUNTIME [real node, git-sync and metrics]: memory from the cgroups', m, NS);
    recordRuntime(['realNode', 'gitSyncMetrics', 'memory'], m);
    // keyed `component` or `component:container` (the exporter's container is statsd-exporter: `statsd:statsd-exporter`)
    for (const c of COMPONENTS) expect(Object.keys(m).filter((k) => k === c || k.startsWith(`${c}:`))).not.toEqual([]);
    expect(over).toEqual([]);
    expect(oomKilled).toEqual([]);
  });
});
