// The secrets bootstrap Job's script on a real Kubernetes API server (issue #20 item 4), and the clean-up of old
// one-shot Jobs (issue #21 item 9). No kubelet runs the Job's pod here, so the test runs the Job's own script
// (the container's `python3 -c <script>` of the synthesized Job) with python3 from this machine, as the Job's
// ServiceAccount: with a token of that ServiceAccount and the cluster's CA in place of the pod's mounted ones
// (docs/live-tests.md, docs/secrets-and-security.md). Its own namespace state: it cleans up before and after.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as https from 'https';
import * as path from 'path';
import {
  clusterAccess,
  deleteClusterObjects,
  deleteNamespace,
  getObject,
  kubectl,
  kubectlJson,
  kubectlKind,
  kubectlOk,
  synthAirflow,
  tempDir,
  unexpectedStderr,
  waitFor,
  writeYaml,
} from './support/cluster';
import { DEFAULT_AIRFLOW_VERSION, ONE_SHOT_JOB_LABEL } from '../../lib';

const NS = 'airflow';
const SECRET = 'airflow-secrets';
const SA = 'airflow-secrets-bootstrap';
const TOKEN_SECRET = 'airflow-cdk8s-live-bootstrap-token';
const FOREIGN_JOB = 'airflow-cdk8s-live-foreign-job';
const SA_DIR_LINE = 'SA = "/var/run/secrets/kubernetes.io/serviceaccount"';
/** The documented command (docs/airflow.md, "Old Jobs"), for kubectl 1.20 (1.26 on: --prune-allowlist). */
const PRUNE_ARGS = ['--prune', '-l', `${ONE_SHOT_JOB_LABEL}=true`, '--prune-whitelist=batch/v1/Job'];

const { mutate: MUTATE } = clusterAccess();

const dir = tempDir('airflow-cdk8s-live-secrets-');
const saDir = path.join(dir, 'serviceaccount');
const defaultChart = synthAirflow();
const celeryChart = synthAirflow({ celery: {} });
// The next patch release after the default: an upgrade of the image (every one-shot Job is named after its pod spec).
const [MAJOR, MINOR, PATCH] = DEFAULT_AIRFLOW_VERSION.split('.').map(Number);
const upgradedChart = synthAirflow({ celery: {}, image: `apache/airflow:${MAJOR}.${MINOR}.${PATCH + 1}` });
const allCharts = [defaultChart, celeryChart, upgradedChart];
const pvs = () => [...new Set(allCharts.flat().filter((o) => o.kind === 'PersistentVolume').map((o) => o.metadata.name))];
let mayCleanUp = false;
let api = { host: '', port: '', ca: '', token: '' };

const jobs = (objects: any[]) => objects.filter((o) => o.kind === 'Job');
const bootstrapJob = (objects: any[]) => jobs(objects).find((o) => o.metadata.name.startsWith(`${SA}-`));
const scriptOf = (objects: any[]): string => bootstrapJob(objects).spec.template.spec.containers[0].command[2];

async function cleanUp(): Promise<void> {
  await deleteNamespace(NS);
  await deleteClusterObjects('persistentvolume', pvs());
}

/** The Secret's data, decoded. */
function secretData(): Record<string, string> {
  const secret = getObject('secret', SECRET, NS);
  return Object.fromEntries(Object.entries(secret?.data ?? {}).map(([k, v]) => [k, Buffer.from(v as string, 'base64').toString()]));
}

/**
 * Runs the Job's script with python3 as the Job's pod would: its env (SECRET_NAME as the Job has it, POD_NAMESPACE
 * from the downward API), the API server's address in KUBERNETES_SERVICE_HOST/PORT, and a copy of the
 * ServiceAccount's token and CA at the path the script reads them from. `prelude` is Python run before it.
 */
function runScript(objects: any[], prelude = ''): { code: number; stdout: string; stderr: string } {
  const script = scriptOf(objects);
  expect(script.split(SA_DIR_LINE)).toHaveLength(2);
  const env = bootstrapJob(objects).spec.template.spec.containers[0].env as any[];
  const secretName = env.find((e) => e.name === 'SECRET_NAME').value;
  expect(env.find((e) => e.name === 'POD_NAMESPACE').valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.namespace' } });
  const source = script.replace(SA_DIR_LINE, `SA = ${JSON.stringify(saDir)}`);
  const r = spawnSync('python3', ['-c', `${prelude}\nexec(compile(${JSON.stringify(source)}, "bootstrap", "exec"))`], {
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      KUBECONFIG: process.env.KUBECONFIG ?? '',
      SECRET_NAME: secretName,
      POD_NAMESPACE: NS,
      KUBERNETES_SERVICE_HOST: api.host,
      KUBERNETES_SERVICE_PORT: api.port,
    },
  });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** One request to the API server with the bootstrap ServiceAccount's token: its status code. */
function asBootstrap(method: string, urlPath: string, body?: unknown, contentType = 'application/json'): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      { host: api.host, port: Number(api.port), path: urlPath, method, ca: api.ca, headers: { Authorization: `Bearer ${api.token}`, 'Content-Type': contentType } },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? -1));
      },
    );
    request.on('error', reject);
    if (body !== undefined) request.write(JSON.stringify(body));
    request.end();
  });
}

/** `kubectl apply` of the objects (a directory with one file, like dist/), quietly, exit 0; the lines printed. */
function apply(name: string, objects: any[], extra: string[] = []): string[] {
  const target = path.join(dir, name);
  fs.mkdirSync(target, { recursive: true });
  writeYaml(target, 'airflow.k8s.yaml', objects);
  const r = kubectl(['apply', '-f', `${target}/`, ...extra]);
  expect(unexpectedStderr(r.stderr)).toEqual([]);
  expect(r.code).toBe(0);
  return r.stdout.trim().split('\n');
}

beforeAll(async () => {
  kubectlOk(['version']);
  if (!MUTATE && (getObject('namespace', NS) || pvs().some((pv) => getObject('persistentvolume', pv)))) {
    throw new Error(
      `The live tests apply and then delete the chart, but this cluster already has namespace ${NS} or its volumes. ` +
        'Run them on a scratch cluster, or set AIRFLOW_CDK8S_LIVE_MUTATE_CLUSTER=1 to let them replace it.',
    );
  }
  mayCleanUp = true;
  await cleanUp();
  const server = new URL(kubectlOk(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}']).trim());
  api = { ...api, host: server.hostname.replace(/^\[|\]$/g, ''), port: server.port || '443' };
});

afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  if (!mayCleanUp || process.env.AIRFLOW_CDK8S_LIVE_KEEP === '1') return;
  await cleanUp();
});

describe('the bootstrap script, run as the Job\'s ServiceAccount', () => {
  let created: Record<string, string> = {};

  test('the default chart: the Secret is created with the five keys; a second run keeps it as it is', async () => {
    apply('default', defaultChart);
    // A token of the Job's ServiceAccount, as a pod gets it (the token controller fills a token Secret; 1.20 to today).
    kubectlOk(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/service-account-token',
      metadata: { name: TOKEN_SECRET, namespace: NS, annotations: { 'kubernetes.io/service-account.name': SA } },
    }));
    const tokenSecret = await waitFor(`the token of ServiceAccount ${SA}`, 60_000, () => {
      const s = getObject('secret', TOKEN_SECRET, NS);
      return s?.data?.token && s.data['ca.crt'] ? s : undefined;
    });
    fs.mkdirSync(saDir, { recursive: true });
    for (const file of ['token', 'ca.crt']) fs.writeFileSync(path.join(saDir, file), Buffer.from(tokenSecret.data[file], 'base64'));
    api = { ...api, token: Buffer.from(tokenSecret.data.token, 'base64').toString(), ca: Buffer.from(tokenSecret.data['ca.crt'], 'base64').toString() };

    const first = runScript(defaultChart);
    expect([first.code, first.stderr]).toEqual([0, '']);
    expect(first.stdout.trim()).toBe(`created Secret ${NS}/${SECRET} with keys admin-password, api-secret-key, db-password, fernet-key, jwt-secret`);
    created = secretData();
    expect(Object.keys(created).sort()).toEqual(['admin-password', 'api-secret-key', 'db-password', 'fernet-key', 'jwt-secret']);
    expect(Buffer.from(created['fernet-key'], 'base64url')).toHaveLength(32);
    const secret = getObject('secret', SECRET, NS);
    expect(secret.metadata.annotations['airflow-cdk8s/generated-by']).toBe('job/airflow-secrets-bootstrap');

    const again = runScript(defaultChart);
    expect([again.code, again.stderr]).toEqual([0, '']);
    expect(again.stdout.trim()).toBe(`Secret ${NS}/${SECRET} already exists with every key: kept as it is, never overwritten`);
    expect(getObject('secret', SECRET, NS).metadata.resourceVersion).toBe(secret.metadata.resourceVersion);
  });

  test('the chart with celery applied over it: a new Job, whose script adds redis-password and keeps every other key byte for byte', () => {
    const oldJob = bootstrapJob(defaultChart).metadata.name;
    const newJob = bootstrapJob(celeryChart).metadata.name;
    expect(newJob).not.toBe(oldJob);
    const lines = apply('celery', celeryChart);
    expect(lines).toContain(`job.batch/${newJob} created`);
    expect(lines).toContain('role.rbac.authorization.k8s.io/airflow-secrets-bootstrap unchanged');

    const r = runScript(celeryChart);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout.trim()).toBe(`Secret ${NS}/${SECRET} already exists: added the missing keys redis-password, kept every other key as it is`);
    const after = secretData();
    const { 'redis-password': redis, ...rest } = after;
    expect(rest).toEqual(created);
    expect(redis).toMatch(/^[A-Za-z0-9]{32}$/);
    // the raw bytes too, not only the decoded strings
    const raw = getObject('secret', SECRET, NS).data;
    for (const key of Object.keys(created)) expect([key, raw[key]]).toEqual([key, Buffer.from(created[key]).toString('base64')]);

    const again = runScript(celeryChart);
    expect(again.stdout.trim()).toBe(`Secret ${NS}/${SECRET} already exists with every key: kept as it is, never overwritten`);
    expect(secretData()).toEqual(after);
  });

  test('a key written by someone else between its read and its patch is not overwritten: 409 Conflict, read again', () => {
    // An installation whose Secret lacks redis-password again (removed by hand, the admin's token).
    kubectlOk(['patch', 'secret', SECRET, '-n', NS, '--type', 'json', '-p', JSON.stringify([{ op: 'remove', path: '/data/redis-password' }])]);
    const before = secretData();
    expect(before['redis-password']).toBeUndefined();
    // Just before the script's first PATCH (it has read the Secret without the key), another writer adds the
    // key: the patch carries the resourceVersion read, which is stale now.
    const prelude = [
      'import subprocess, urllib.request',
      '_urlopen = urllib.request.urlopen',
      '_raced = []',
      'def _racing_urlopen(request, *args, **kwargs):',
      '    if request.get_method() == "PATCH" and not _raced:',
      '        _raced.append(1)',
      `        subprocess.run(["kubectl", "patch", "secret", ${JSON.stringify(SECRET)}, "-n", ${JSON.stringify(NS)}, "--type", "merge",`,
      '            "-p", \'{"stringData": {"redis-password": "written-concurrently"}}\'], check=True, stdout=subprocess.DEVNULL)',
      '    return _urlopen(request, *args, **kwargs)',
      'urllib.request.urlopen = _racing_urlopen',
    ].join('\n');
    const r = runScript(celeryChart, prelude);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout.trim().split('\n')).toEqual([
      `Secret ${NS}/${SECRET} changed meanwhile (HTTP 409): reading it again (attempt 1)`,
      `Secret ${NS}/${SECRET} already exists with every key: kept as it is, never overwritten`,
    ]);
    expect(secretData()).toEqual({ ...before, 'redis-password': 'written-concurrently' });
  });

  test('its token may not read, patch, update, list or delete another Secret, nor delete its own', async () => {
    kubectlOk(['create', 'secret', 'generic', 'another-secret', '-n', NS, '--from-literal=k=v']);
    kubectlOk(['create', 'secret', 'generic', SECRET, '-n', 'default', '--from-literal=k=v']);
    const base = `/api/v1/namespaces/${NS}/secrets`;
    const merge = 'application/merge-patch+json';
    try {
      const answers = {
        'GET own': await asBootstrap('GET', `${base}/${SECRET}`),
        'GET another': await asBootstrap('GET', `${base}/another-secret`),
        'PATCH another': await asBootstrap('PATCH', `${base}/another-secret`, { data: { k: 'eA==' } }, merge),
        'PUT another': await asBootstrap('PUT', `${base}/another-secret`, { metadata: { name: 'another-secret' }, data: { k: 'eA==' } }),
        'DELETE another': await asBootstrap('DELETE', `${base}/another-secret`),
        'PUT own': await asBootstrap('PUT', `${base}/${SECRET}`, { metadata: { name: SECRET }, data: {} }),
        'DELETE own': await asBootstrap('DELETE', `${base}/${SECRET}`),
        LIST: await asBootstrap('GET', base),
        'GET own name in namespace default': await asBootstrap('GET', `/api/v1/namespaces/default/secrets/${SECRET}`),
        'PATCH own name in namespace default': await asBootstrap('PATCH', `/api/v1/namespaces/default/secrets/${SECRET}`, { data: { k: 'eA==' } }, merge),
      };
      expect(answers).toEqual({
        'GET own': 200,
        'GET another': 403,
        'PATCH another': 403,
        'PUT another': 403,
        'DELETE another': 403,
        'PUT own': 403,
        'DELETE own': 403,
        LIST: 403,
        'GET own name in namespace default': 403,
        'PATCH own name in namespace default': 403,
      });
      expect(getObject('secret', 'another-secret', NS).data).toEqual({ k: 'dg==' });
      expect(getObject('secret', SECRET, 'default').data).toEqual({ k: 'dg==' });
    } finally {
      kubectl(['delete', 'secret', 'another-secret', '-n', NS, '--ignore-not-found']);
      kubectl(['delete', 'secret', SECRET, '-n', 'default', '--ignore-not-found']);
    }
  });
});

describe('old Jobs: the documented prune command', () => {
  test('after an upgrade it deletes the Jobs of earlier applies and nothing else', async () => {
    // A Job of someone else in the namespace, applied with kubectl too, without the label: spared.
    kubectlOk(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'batch/v1', kind: 'Job', metadata: { name: FOREIGN_JOB, namespace: NS },
      spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox', command: ['true'] }] } } },
    }));
    apply('upgraded', upgradedChart);
    const current = new Set(jobs(upgradedChart).map((j) => j.metadata.name));
    const old = [...new Set([...jobs(defaultChart), ...jobs(celeryChart)].map((j) => j.metadata.name))].filter((n) => !current.has(n)).sort();
    // every kind of one-shot Job changed with the image: four old ones of the default chart, the celery chart's bootstrap
    expect(old.map((n) => n.replace(/-[0-9a-f]{8}$/, ''))).toEqual([
      'airflow-create-user', `airflow-db-migrate-${DEFAULT_AIRFLOW_VERSION.replace(/\./g, '-')}`, 'airflow-secrets-bootstrap', 'airflow-secrets-bootstrap', 'airflow-volume-permissions',
    ]);
    const listed = () => (kubectlJson(['get', 'jobs', '-n', NS]).items as any[]).map((j) => j.metadata.name).sort();
    expect(listed()).toEqual([...old, ...current, FOREIGN_JOB].sort());
    const uids = new Map(upgradedChart.map((o) => [`${o.kind} ${o.metadata.name}`, getObject(kubectlKind(o), o.metadata.name, o.metadata.namespace)?.metadata.uid]));

    const lines = apply('upgraded', upgradedChart, PRUNE_ARGS);
    expect(lines.filter((l) => l.endsWith(' pruned')).sort()).toEqual(old.map((n) => `job.batch/${n} pruned`));
    // only the labelled objects of the files were applied (the current Jobs), unchanged
    expect(lines.filter((l) => !l.endsWith(' pruned')).sort()).toEqual([...current].map((n) => `job.batch/${n} unchanged`).sort());
    await waitFor('the old Jobs to be gone', 60_000, () => old.every((n) => getObject('job', n, NS) === undefined), () => listed().join(' '));
    expect(listed()).toEqual([...current, FOREIGN_JOB].sort());
    // every object of the chart is still the same object
    for (const o of upgradedChart) {
      expect([`${o.kind} ${o.metadata.name}`, getObject(kubectlKind(o), o.metadata.name, o.metadata.namespace)?.metadata.uid]).toEqual([`${o.kind} ${o.metadata.name}`, uids.get(`${o.kind} ${o.metadata.name}`)]);
    }
    // the Secret is untouched, and a second prune finds nothing
    expect(Object.keys(secretData()).sort()).toEqual(['admin-password', 'api-secret-key', 'db-password', 'fernet-key', 'jwt-secret', 'redis-password']);
    expect(apply('upgraded', upgradedChart, PRUNE_ARGS).filter((l) => l.endsWith(' pruned'))).toEqual([]);
  });
});
