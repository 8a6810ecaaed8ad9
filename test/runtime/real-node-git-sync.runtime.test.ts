// The chart with `gitSync` on the real node (issue #27, docs/git-sync.md): git-sync runs from the image
// scripts/runtime/build-images.sh builds (git-sync v4.4.2 from its public source, its vendored modules, Debian's Go;
// USER 65533:65533, HOME=/tmp, ENTRYPOINT ["/git-sync"] as upstream's Dockerfile sets them), pulled from the node's
// registry under the name and tag lib/git-sync names (DEFAULT_GIT_SYNC_IMAGE). The repository is a bare repository
// made here with the host's git and served over HTTPS by `git http-backend` (git's smart HTTP, so the chart's
// shallow `--depth=1` fetch works) behind a small Python server on the machine's end of the node's veth (the chart
// refuses git:// and http://, rightly). Its certificate is signed by a CA made here; the one change to the
// synthesized YAML is that trust: the git-sync container gets `GIT_SSL_CAINFO` and the CA from a ConfigMap (the
// chart has no prop for a private CA; a user with one would need the same). The app is synthesized as a user's
// main.ts would (AirflowApp + AirflowChart with `gitSync`) into build/real-node-git-sync/ and applied with
// `kubectl apply -f` on that folder. git-sync gets Ready (its first sync published the link), the dag-processor
// parses the DAG from the synced folder, a second commit pushed to the branch is synced and its DAG parsed too,
// and nothing restarts. Runs only on the real node (`npm run test:runtime:real`).
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Duration } from 'cdk8s';
import * as YAML from 'yaml';
import { AirflowApp, AirflowChart, DEFAULT_GIT_SYNC_IMAGE } from '../../lib';
import { kubectl, kubectlJson, kubectlOk, REPO_ROOT, waitFor } from '../live/support/cluster';
import { recordRuntime } from './support/results';
import { chartProgress, componentPod, DATA, deleteChart, jobsComplete, NS, podSummary, pods, prepareData, readyWithoutRestart, REAL_NODE, removeChart } from './support/real-node';

const OUT = path.join(REPO_ROOT, 'build', 'real-node-git-sync');
/** The machine's end of the real node's veth (scripts/runtime/real-node.sh HOST_IP): the pods reach it. */
const HOST_IP = '10.246.1.1';
const PORT = 19443;
const REPOSITORY = `https://${HOST_IP}:${PORT}/dags.git`;
const COMPONENTS = ['scheduler', 'api-server', 'dag-processor', 'triggerer', 'git-sync'];
const CA_CONFIG_MAP = 'real-node-git-ca';

const d = REAL_NODE ? describe : describe.skip;
const { timings, mark, setApplied, needApplied } = chartProgress(OUT);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'real-node-git-sync-'));
let server: ChildProcess | undefined;

function run(cmd: string, args: string[], cwd = work, env: Record<string, string> = {}): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env, GIT_AUTHOR_NAME: 'test', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'test', GIT_COMMITTER_EMAIL: 't@example.com' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function dag(dagId: string): string {
  return ['from datetime import datetime', 'from airflow.sdk import DAG', 'from airflow.providers.standard.operators.empty import EmptyOperator', '', `with DAG(dag_id="${dagId}", start_date=datetime(2024, 1, 1), schedule=None):`, '    EmptyOperator(task_id="noop")', ''].join('\n');
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

d('runtime: the chart with gitSync on the real node', () => {
  beforeAll(async () => {
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
    new AirflowChart(app, 'airflow', { gitSync: { repository: REPOSITORY, branch: 'main', period: Duration.seconds(10) } });
    app.synth();
    trustTheCa();
    await deleteChart(OUT);
    prepareData(path.join(REPO_ROOT, 'dags'));
  }, 360_000);

  afterAll(async () => {
    server?.kill();
    try {
      await removeChart(OUT, ['realNode', 'gitSync', 'timingsSeconds'], timings);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
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

  test('kubectl apply -f on the synthesized folder is accepted; git-sync is the image lib names', () => {
    const text = fs.readdirSync(OUT).map((f) => fs.readFileSync(path.join(OUT, f), 'utf8')).join('\n');
    expect(text).toContain(`image: ${DEFAULT_GIT_SYNC_IMAGE}`);
    expect(text).toContain(`--repo=${REPOSITORY}`);
    kubectlOk(['apply', '-f', OUT]);
    setApplied();
    mark('applied');
  });

  test('the Jobs complete', async () => {
    needApplied();
    await jobsComplete(4);
    mark('jobsComplete');
  }, 960_000);

  test('the four components and git-sync are Ready (its first sync done), none restarted', async () => {
    needApplied();
    await readyWithoutRestart('the components and git-sync Ready', COMPONENTS);
    const pod = kubectlJson(['-n', NS, 'get', 'pod', componentPod('git-sync'), '-o', 'json']);
    const status = pod.status.containerStatuses.find((c: any) => c.name === 'git-sync');
    // a real pull: containerd resolved the tag to a digest in the node's registry
    expect(status.image).toMatch(/git-sync\/git-sync:v4\.4\.2$/);
    expect(status.imageID).toMatch(/git-sync\/git-sync@sha256:[0-9a-f]{64}$/);
    const logs = kubectl(['-n', NS, 'logs', componentPod('git-sync'), '-c', 'git-sync']).stdout;
    console.log(`RUNTIME [real node, git-sync]: git-sync's log\n${logs.split('\n').slice(0, 30).join('\n')}`);
    expect(logs).toContain('v4.4.2');
    mark('componentsReady');
  }, 960_000);

  test('the DAG of the first commit is parsed from the synced folder; a second commit is synced and parsed too', async () => {
    needApplied();
    const listed = (dagId: string) => new RegExp(`\\b${dagId}\\b`).test(kubectl(['-n', NS, 'exec', componentPod('scheduler'), '-c', 'scheduler', '--', 'airflow', 'dags', 'list', '-o', 'plain']).stdout);
    await waitFor('git_synced_first parsed', 300_000, () => listed('git_synced_first'), podSummary, 5000);
    mark('firstDagParsed');
    const t0 = Date.now();
    const commit = commitAndPush('git_synced_second.py', dag('git_synced_second'));
    // git-sync publishes a commit by pointing its link (<dags>/git-sync/repo, the machine's /data here) at its worktree
    const link = path.join(DATA, 'dags', 'git-sync', 'repo');
    await waitFor(`git-sync to publish ${commit}`, 120_000, () => fs.existsSync(link) && fs.readlinkSync(link).includes(commit), () => `${fs.existsSync(link) ? fs.readlinkSync(link) : '(no link)'}\n${podSummary()}`, 1000);
    const syncedSeconds = Math.round((Date.now() - t0) / 1000);
    await waitFor('git_synced_second parsed', 300_000, () => listed('git_synced_second'), podSummary, 5000);
    const parsedSeconds = Math.round((Date.now() - t0) / 1000);
    console.log(`RUNTIME [real node, git-sync]: second commit pushed -> synced ${syncedSeconds} s -> parsed ${parsedSeconds} s`);
    recordRuntime(['realNode', 'gitSync', 'secondCommit'], { syncedSeconds, parsedSeconds });
    mark('secondDagParsed');
  }, 720_000);

  test('nothing restarted', () => {
    needApplied();
    const restarted = pods().flatMap((p) => (p.status.containerStatuses ?? []).filter((cs: any) => cs.restartCount !== 0).map((cs: any) => `${p.metadata.name}/${cs.name}: ${cs.restartCount}`));
    expect(restarted).toEqual([]);
  });
});
