// The real Airflow on the default chart (docs/runtime-tests.md): a fresh synth of AirflowChart applied to the
// local control plane, every pod run by the runtime kubelet from what the API server holds, the chain from
// `kubectl apply` to a task pod the KubernetesExecutor created, ran and deleted; plus the memory of every
// component at idle and while tasks run, with the sizing rule on it (build/runtime-results.json). The api-server's
// memory with other [api] workers settings is a benchmark: test/runtime/api-workers.bench.ts (`npm run bench`).
//
// Then, on the same deployment (what was reapply.runtime.test.ts; issue #25 item 3: one Airflow start-up for both),
// the usual teardown and a later apply (issue #21 item 5), and turning Celery on over a running installation
// (issue #20, runtime proof (a)) (docs/runtime-tests.md, "Delete and apply again"):
//
// 1. Once the default chain and the memory checks above are done (they read this first deployment), a connection
//    with a password is stored (encrypted with the fernet key in the metadata database).
// 2. `kubectl delete -f` of the chart's YAML: the namespace goes, and the Secret airflow-secrets with it; the
//    PersistentVolumes go; their host folders (Postgres' data, the keys' copy beside it) stay on the node.
// 3. `kubectl apply -f` of the same YAML: the bootstrap Job restores the Secret from its copy, so Postgres (which
//    keeps its data and the password it was initialised with) lets Airflow in, the admin logs in with the
//    Secret's password, the earlier DAG run is listed and the connection's password is readable.
// 4. The same chart with `celery: {}` applied on top: a new bootstrap Job adds redis-password and keeps every
//    other key; no pod is left waiting on a missing Secret key. Then, on that deployment (what was
//    celery.runtime.test.ts, issue #16, docs/celery.md; issue #25 item 3: its own start-up of the Celery chart is
//    gone): Redis from its StatefulSet and the Celery worker from its Deployment (their commands, env and users as
//    the API server holds them), the worker's liveness probe and its reconnect after a blocked BRPOP read, the
//    memory of the pool at idle, the mixed DAG hybrid_executors (quick_check on the Celery worker, in_its_own_pod in
//    a pod the KubernetesExecutor creates; both succeed), the memory while it ran and each task's wait from queued
//    to running (build/runtime-results.json's `celery`), the KEDA query of celery.keda on Airflow's own schema, no
//    container restarted, and on the real node the cgroup memory rule with Redis and the worker.
//
// Between the two, on the same deployment (what was harness.runtime.test.ts, issue #15's "Done when"; issue #25: its
// own start-up of the default chart is gone), the tests of the runtime harness itself: a deliberately broken
// configuration must make a NAMED step of the chain fail, with a message that names the cause. The running chart
// is broken twice, each time only in the objects a user would get wrong, re-applied over it, then restored:
//   (a) airflow.cfg's [core] execution_api_server_url with a wrong port (the ConfigMap patched after synth, so
//       that only new pods - the task pods - read it, as kubectl apply of such a YAML would do);
//   (b) the scheduler's pod-launcher Role without the "watch" verb (the scheduler restarted to pick it up).
// On the real node the chain's failure reports come from the real kubelet's pods, logs and Events
// (test/runtime/support/real-kubelet.ts).
//
// It runs the default image, the version dist/ names (DEFAULT_AIRFLOW_IMAGE), on the root of that Airflow minor
// version. AIRFLOW_CDK8S_RUNTIME_AIRFLOW_IMAGE=apache/airflow:3.1.3 runs the same steps, the reapply phases
// included (the chart applied again and the Celery chart take the same `image`), on another release, e.g. the
// previous minor version, whose root test-runtime.sh builds too.
import * as fs from 'fs';
import * as path from 'path';
import { Testing } from 'cdk8s';
import { AirflowChart, CeleryWorkers, DEFAULT_AIRFLOW_IMAGE, RedisBroker } from '../../lib';
import { getObject, kubectl, kubectlJson, kubectlOk } from '../live/support/cluster';
import { RuntimeChain, Step, waitForAsync, step } from './support/chain';
import { airflowMinorOf, rootInfo } from './support/kubelet';
import { IDLE_SETTLE_MS, lifetimePeaks, MemorySampler, memoryTable, SAMPLE_MS, sampleIdle, settleLeft } from './support/memory';
import { newKubelet } from './support/real-kubelet';
import { recordRuntime } from './support/results';
import { celeryChart, defaultChart } from './support/variants';

const image = process.env.AIRFLOW_CDK8S_RUNTIME_AIRFLOW_IMAGE;
const kubelet = newKubelet('default');
const variant = defaultChart(image ? { image } : {});
const chain = new RuntimeChain(variant, kubelet);
const steps = chain.steps();
const names = Object.keys(steps);
const TRIGGER = 'trigger write_to_data_volume through the REST API';
const AVAILABLE = "api-server, scheduler, dag-processor and triggerer run their Deployments' commands and become available";
const CELERY_WORKER_AVAILABLE = "the Celery worker runs its Deployment's command and env, without database credentials or an API token, and becomes available";
const DELETED = 'the executor deletes the task pod';
let taskSampler: MemorySampler | undefined;

/** After the teardown: the same YAML applied again, checked by a chain of its own (new pods, new Jobs). */
const again = new RuntimeChain({ ...variant, id: 'reapply-again' }, kubelet);
const againSteps = again.steps();
/** Then the chart with Celery, applied over it. */
const celery = new RuntimeChain({ ...celeryChart(image ? { image } : {}), id: 'reapply-celery' }, kubelet);
const celerySteps = celery.steps();
const redisSts = celery.objectsOf('StatefulSet').find((o) => o.metadata.name === 'airflow-redis');
const workerDeployment = celery.deployment('celery-worker');
/** From the Celery phase's idle measurement until hybrid_executors ended. */
let celeryTaskSampler: MemorySampler | undefined;
/** hybrid_executors' task instances, by task id. */
let celeryTis: Record<string, any> = {};
/** Where the Celery phase's steps begin in the first chain's timings (they run through it). */
let celeryFrom: number | undefined;

const CONN_ID = 'reapply_check';
const CONN_PASSWORD = `p${Date.now().toString(36)}Xy9`;
const APPLY = 'kubectl apply: the API server takes every object of the synthesized YAML';
const CREATE_USER = 'the admin user Job (FAB airflow users create) completes';
let before: Record<string, string> = {};
const HEALTH = 'GET /api/v2/monitor/health: the metadata database and every component are healthy';
const SUCCEED = 'the task instance and the DAG run succeed';
const clone = (o: any) => JSON.parse(JSON.stringify(o));

/** The harness's cases: a fresh chain over the same running chart, with `objects` as the YAML (its steps read them). */
function chainWith(id: string, objects: any[]): { chain: RuntimeChain; task: Step[] } {
  const c = new RuntimeChain({ id, title: `default chart, ${id}`, objects }, kubelet);
  c.secretValues = chain.secretValues;
  const s = c.steps();
  const n = Object.keys(s);
  return { chain: c, task: n.slice(n.indexOf(TRIGGER), n.indexOf(DELETED) + 1).map((x) => s[x]) };
}

const register = (step: Step) => test(step.name, chain.jest(step), step.timeoutMs + 60_000);
/** A step of the reapply phases, of any of the three chains, run through the first one's: a blocking step that fails stops all that follow. */
const registerOf = (c: RuntimeChain, step: Step) => test(`${c === chain ? '' : `[${c.variant.id}] `}${step.name}`, chain.jest(step), step.timeoutMs + 60_000);

const keysPv = () => variant.objects.find((o) => o.kind === 'PersistentVolume' && o.metadata.labels?.['app.kubernetes.io/component'] === 'metadata-db-keys');
const pgPv = () => variant.objects.find((o) => o.kind === 'PersistentVolume' && o.metadata.labels?.['app.kubernetes.io/component'] === 'metadata-db-storage');
const schedulerExec = (c: RuntimeChain, argv: string[]) => kubelet.exec(c.ns, c.podOf('scheduler').metadata.name, 'scheduler', argv, 180);
const connectionPassword = (c: RuntimeChain): string => {
  // stdout only (Airflow's deprecation warnings go to stderr), the JSON array in it
  const r = schedulerExec(c, ['sh', '-c', `airflow connections get ${CONN_ID} -o json 2>/dev/null`]);
  if (r.code !== 0) throw new Error(`airflow connections get ${CONN_ID} exited ${r.code}:\n${r.output.slice(-3000)}`);
  const json = r.output.slice(r.output.indexOf('['), r.output.lastIndexOf(']') + 1);
  return JSON.parse(json)[0].password;
};

/** build/runtime-results.json's variants.default: the default chain's timings, recorded before the harness's cases and the reapply phases (their steps run through `chain` too). */
let timingsRecorded = false;
const recordDefaultTimings = () => {
  if (!timingsRecorded) chain.recordTimings();
  timingsRecorded = true;
};
/**
 * build/runtime-results.json's variants['reapply-celery'] (what was variants.celery, the Celery file's whole chain):
 * the timings of the Celery phase's steps, from its `kubectl apply` over the running chart to its last check.
 */
const recordCeleryTimings = () => {
  if (celeryFrom === undefined) return;
  const timings = chain.timings.slice(celeryFrom);
  recordRuntime(['variants', celery.variant.id], {
    title: `${celery.variant.title}, applied over the running default chart`,
    namespace: celery.ns,
    steps: timings,
    seconds: Math.round(timings.reduce((a, t) => a + t.seconds, 0)),
    configLintFindings: celery.findings.configLint,
  });
};

// One kubelet, one set-up and one tear-down for the file: the three chains share the namespace and the node.
chain.hooks({
  recordTimings: false,
  stop: () => {
    taskSampler?.stop();
    celeryTaskSampler?.stop();
    recordDefaultTimings();
    recordCeleryTimings();
    again.stopPhaseWatch();
    celery.stopPhaseWatch();
  },
});

describe(`runtime: the default chart (${image ?? DEFAULT_AIRFLOW_IMAGE}); then kubectl delete -f and apply again keep Airflow's metadata, and Celery turned on over it`, () => {
  register({
    name: 'the chart runs the image dist/ names, served from the root of its Airflow minor version',
    components: [],
    blocking: true,
    timeoutMs: 10_000,
    run: async () => {
      const want = image ?? DEFAULT_AIRFLOW_IMAGE;
      expect(chain.airflowImage()).toBe(want);
      const info = rootInfo(kubelet.root);
      console.log(`RUNTIME [default]: ${want} served from ${kubelet.root} (airflow ${info.airflow}, python ${info.python})`);
      recordRuntime(['default', 'image'], { image: want, root: kubelet.root, ...info });
      // the root's `airflow version` is of the image's minor version (3.2.0 for apache/airflow:3.2.2)
      expect(airflowMinorOf(`apache/airflow:${info.airflow}`)).toBe(airflowMinorOf(want));
    },
  });
  for (const name of names.slice(0, names.indexOf(TRIGGER))) register(steps[name]);

  register({
    name: 'memory at idle: every component measured from /proc',
    components: [],
    blocking: false,
    timeoutMs: IDLE_SETTLE_MS + SAMPLE_MS + 30_000,
    run: async () => {
      // settled since the control plane became available: the probes, lint and login checks since count
      expect(chain.passedAt.has(AVAILABLE)).toBe(true);
      const m = await sampleIdle(kubelet, chain.ns, settleLeft(chain.passedAt.get(AVAILABLE)));
      console.log(memoryTable(`RUNTIME [default]: memory at idle (peak of ${Math.round(SAMPLE_MS / 1000)} s of samples, api-server with the default [api] workers)`, m));
      recordRuntime(['memory', 'idle'], m);
      for (const c of chain.components()) {
        expect(m[c]?.rssMiB).toBeGreaterThan(50);
        expect(m[c]?.limitMiB).toBeGreaterThan(0);
      }
      // [api] workers = 1, the library's default: one uvicorn process, no supervisor (4 would be 5 processes). On the
      // real node the image's ENTRYPOINT, dumb-init, is the container's first process, above it: not counted.
      const own = (m['api-server'].commands ?? []).filter((c) => !c.startsWith('/usr/bin/dumb-init'));
      expect(own.length).toBe(1);
      expect(m['api-server'].processes).toBe(kubelet.real ? 2 : 1);
      taskSampler = new MemorySampler(kubelet, chain.ns).start();
    },
  });

  for (const name of names.slice(names.indexOf(TRIGGER), names.indexOf(DELETED) + 1)) register(steps[name]);

  register({
    name: 'memory while write_to_data_volume runs: every component and the task pod measured',
    components: [],
    blocking: false,
    timeoutMs: 30_000,
    run: async () => {
      if (!taskSampler) throw new Error('not sampled: the idle measurement did not run');
      const m = taskSampler.stop();
      taskSampler = undefined;
      console.log(memoryTable('RUNTIME [default]: peak memory from the trigger until the task pod was deleted', m));
      recordRuntime(['memory', 'task'], m);
      expect(m['worker:write_file']?.rssMiB).toBeGreaterThan(50);
      for (const c of chain.components()) expect(m[c]?.rssMiB).toBeGreaterThan(50);
    },
  });

  for (const name of names.slice(names.indexOf(DELETED) + 1)) register(steps[name]);

  register({
    name: 'memory: the largest sample of every container the kubelet ran (Jobs, init containers and task pods included)',
    components: [],
    blocking: false,
    timeoutMs: 30_000,
    run: async () => {
      const m = lifetimePeaks(kubelet, chain.ns);
      console.log(memoryTable('RUNTIME [default]: largest memory sample of every container (exec\'d probes and the tests\' airflow commands included)', m));
      recordRuntime(['memory', 'lifetime'], m);
      // (the secrets bootstrap Job's python3 runs for well under the kubelet's 1 s sampling period: not listed)
      for (const k of ['db-migrate', 'create-user', 'metadata-db', 'worker:write_file', ...chain.components()]) {
        expect(m[k]?.rssMiB).toBeGreaterThan(0);
      }
      // The sizing rule (docs/airflow.md): no long-running container's largest RSS above 80% of its limit. On the real
      // node the summed RSS counts the pages the forked processes share once per process (the dag-processor's 5
      // processes, an exec'd `airflow jobs check` among them, summed 1,030 MiB = 101% of 1,024 while its cgroup was
      // charged 492 MiB at most): there the rule is on PSS (each shared page split among its sharers, counted once
      // in all, as the cgroup charges it), and the next step holds the kernel's own figure, page cache included.
      const rule = kubelet.real ? { what: 'PSS', of: (k: string) => (100 * m[k].pssMiB) / (m[k].limitMiB ?? Infinity) } : { what: 'RSS', of: (k: string) => m[k].rssOfLimitPercent ?? 0 };
      const over = ['metadata-db', ...chain.components()].filter((k) => m[k] && rule.of(k) > 80).map((k) => `${k}: ${rule.what} ${kubelet.real ? m[k].pssMiB : m[k].rssMiB} MiB = ${Math.round(rule.of(k))}% of ${m[k].limitMiB} MiB`);
      expect(over).toEqual([]);
    },
  });

  // The real node: the memory the kernel charges (page cache included) against each cgroup's limit
  if (kubelet.real) register(chain.cgroupMemoryStep(chain.components()));

  // ------------------------------------------------------------------ on the same deployment: the harness's own tests
  // (non-blocking: a case that does not fail as it must is reported, and the reapply phases still run; each case
  // restores the chart's objects in its `finally`)
  describe('the runtime harness: a broken configuration makes a named step fail', () => {
    register(step('(a) a wrong [core] execution_api_server_url fails "the task instance and the DAG run succeed", naming the URL', ['scheduler', 'worker'], async () => {
      recordDefaultTimings(); // the default chain's steps, all run by now
      const broken = variant.objects.map(clone);
      const cm = broken.find((o) => o.kind === 'ConfigMap' && o.data?.['airflow.cfg']);
      const good = cm.data['airflow.cfg'].match(/^execution_api_server_url = (.*)$/m)[1];
      const wrong = good.replace(':8080/', ':8081/');
      expect(wrong).not.toBe(good);
      cm.data['airflow.cfg'] = cm.data['airflow.cfg'].replace(good, wrong);
      // only the ConfigMap changes: the Deployments keep their config checksum, nothing restarts
      const applied = kubectlOk(['apply', '-f', chain.writeYaml('broken-a.yaml', broken)]);
      expect(applied.split('\n').filter((l) => l.endsWith(' configured'))).toEqual([`configmap/${cm.metadata.name} configured`]);

      const { chain: c, task } = chainWith('harness-a', broken);
      try {
        const outcome = await c.runSteps(task);
        console.log(`RUNTIME [harness-a]: failed as it must: ${outcome.message?.split('\n').slice(0, 6).join('\n')}`);
        expect(outcome.failedStep).toBe(SUCCEED);
        expect(outcome.message).toContain(`execution_api_server_url = ${wrong}`);
        // the task pod's own log says why: it could not reach the execution API
        expect(outcome.message).toMatch(/errors in the task pod's log:[\s\S]*(refused|ConnectError|connect|Errno 111)/i);
        expect(outcome.passed).toContain('the KubernetesExecutor creates the task pod, as ServiceAccount airflow-scheduler');
      } finally {
        c.stopPhaseWatch();
        kubectlOk(['apply', '-f', chain.writeYaml('restore-a.yaml', variant.objects)]);
      }
    }, { blocking: false, timeoutMs: 1_200_000 }));

    register(step('(b) the pod-launcher Role without "watch" fails "the executor deletes the task pod", naming the denied watch', ['scheduler'], async () => {
      const broken = variant.objects.map(clone);
      const role = broken.find((o) => o.kind === 'Role' && o.metadata.name.endsWith('pod-launcher'));
      const pods = role.rules.find((r: any) => r.resources.includes('pods'));
      expect(pods.verbs).toContain('watch');
      pods.verbs = pods.verbs.filter((v: string) => v !== 'watch');
      const applied = kubectlOk(['apply', '-f', chain.writeYaml('broken-b.yaml', broken)]);
      expect(applied.split('\n').filter((l) => l.endsWith(' configured'))).toEqual([`role.rbac.authorization.k8s.io/${role.metadata.name} configured`]);
      // a running watch keeps its permission: restart the scheduler, as a rollout of the new Role would
      const restarted = chain.podOf('scheduler').metadata.name;
      kubectlOk(['delete', 'pod', '-n', chain.ns, restarted, '--wait=false']);
      await waitForAsync(
        'a new scheduler pod to be Ready',
        300_000,
        () => {
          const p = chain.podOf('scheduler');
          return p && p.metadata.name !== restarted && p.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True');
        },
        () => kubectl(['get', 'pods', '-n', chain.ns, '-l', 'app.kubernetes.io/component=scheduler', '-o', 'wide']).stdout,
        2000,
      );

      const { chain: c, task } = chainWith('harness-b', broken);
      // the step must fail here; 20 s is still 18 times the longest deletion of the passing runs
      c.taskPodDeletionTimeoutMs = 20_000;
      try {
        const restart = await c.runSteps([
          steps["api-server, scheduler, dag-processor and triggerer run their Deployments' commands and become available"],
          steps[HEALTH],
        ]);
        if (restart.failedStep) throw new Error(`the scheduler did not come back: ${restart.message}`);
        const outcome = await c.runSteps(task);
        const denied = outcome.message?.split('\n').filter((l) => /forbidden/i.test(l)).slice(-2).map((l) => l.slice(0, 300));
        console.log(`RUNTIME [harness-b]: failed as it must: ${outcome.message?.split('\n')[0]}\n${denied?.join('\n')}`);
        expect(outcome.failedStep).toBe(DELETED);
        expect(outcome.passed).toContain(SUCCEED);
        // the failure shows the scheduler's denied watch
        expect(outcome.message).toMatch(/forbidden/i);
        expect(outcome.message).toMatch(/"?watch"?/);
      } finally {
        c.stopPhaseWatch();
        kubectlOk(['apply', '-f', chain.writeYaml('restore-b.yaml', variant.objects)]);
        kubectl(['delete', 'pods', '-n', chain.ns, '-l', 'kubernetes_executor=True', '--wait=false']);
      }
    }, { blocking: false, timeoutMs: 1_200_000 }));
  });

  // ------------------------------------------------------------------ on the same deployment: delete, apply again
  describe('then kubectl delete -f and apply again keep Airflow\'s metadata; Celery turned on over it', () => {
    test('the chart keeps a copy of the generated keys on a volume beside Postgres\' data', () => {
      expect(keysPv().spec).toMatchObject({ persistentVolumeReclaimPolicy: 'Retain', hostPath: { path: '/data/postgres-keys' } });
      const job = chain.job('secrets-bootstrap');
      expect(job.spec.template.spec.volumes).toEqual([{ name: 'secrets-copy', persistentVolumeClaim: { claimName: 'airflow-postgres-keys-claim' } }]);
    });

    registerOf(chain, step('a connection with a password is stored, encrypted with the fernet key', ['scheduler', 'metadata-db'], async () => {
      recordDefaultTimings(); // the default chain's steps, all run by now
      before = { ...chain.secretValues };
      const add = schedulerExec(chain, ['airflow', 'connections', 'add', CONN_ID, '--conn-type', 'generic', '--conn-host', 'db.example.invalid', '--conn-login', 'someone', '--conn-password', CONN_PASSWORD]);
      if (add.code !== 0) throw new Error(`airflow connections add exited ${add.code}:\n${add.output.slice(-3000)}`);
      expect(connectionPassword(chain)).toBe(CONN_PASSWORD);
      // in the database only encrypted: without the fernet key it cannot be read
      const pod = chain.podOf('metadata-db').metadata.name;
      const row = kubelet.exec(chain.ns, pod, 'postgres', ['env', `PGPASSWORD=${before['db-password']}`, 'psql', '-h', '127.0.0.1', '-U', 'airflow', '-d', 'airflow', '-tAc', `select is_encrypted, password from connection where conn_id = '${CONN_ID}'`], 60);
      expect(row.code).toBe(0);
      expect(row.output.startsWith('t|')).toBe(true);
      expect(row.output).not.toContain(CONN_PASSWORD);
    }));

    registerOf(chain, step('the copy of the keys is on the node, beside Postgres\' data, readable by Airflow\'s user only', ['secrets-bootstrap'], async () => {
      const dir = kubelet.hostPath(keysPv().spec.hostPath.path);
      const file = path.join(dir, 'airflow-secrets.json');
      expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
      expect([fs.statSync(dir).uid, fs.statSync(dir).gid]).toEqual([50000, 0]);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const copy = JSON.parse(fs.readFileSync(file, 'utf8'));
      const decoded = Object.fromEntries(Object.entries(copy.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
      expect(decoded).toEqual(before);
    }));

    registerOf(chain, step('kubectl delete -f the chart\'s YAML: the namespace, its Secret and the volumes go; the host folders stay', [], async () => {
      chain.stopPhaseWatch();
      const file = path.join(chain.dir, 'chart.yaml');
      const r = kubectl(['delete', '-f', file, '--wait=false']);
      if (r.code !== 0) throw new Error(`kubectl delete exited ${r.code}\n${r.stderr}\n${r.stdout}`);
      await waitForAsync(
        `namespace ${chain.ns} to be deleted (its pods stopped by the kubelet)`,
        600_000,
        () => getObject('namespace', chain.ns) === undefined,
        () => kubectl(['get', 'pods', '-n', chain.ns, '-o', 'wide']).stdout,
        3000,
      );
      // a volume is deleted once no claim uses it (the pv-protection finalizer)
      const pvs = chain.objectsOf('PersistentVolume').map((pv) => pv.metadata.name);
      await waitForAsync('the PersistentVolumes to be deleted', 120_000, () => pvs.every((pv) => getObject('persistentvolume', pv) === undefined), () => kubectl(['get', 'pv']).stdout, 2000);
      expect(fs.existsSync(path.join(kubelet.hostPath(pgPv().spec.hostPath.path), 'pgdata', 'PG_VERSION'))).toBe(true);
      expect(fs.existsSync(path.join(kubelet.hostPath(keysPv().spec.hostPath.path), 'airflow-secrets.json'))).toBe(true);
    }, { timeoutMs: 660_000 }));

    for (const name of Object.keys(againSteps).slice(0, Object.keys(againSteps).indexOf(CREATE_USER))) registerOf(again, againSteps[name]);

    registerOf(again, step('the bootstrap Job restored the Secret from its copy: every value as before', ['secrets-bootstrap'], async () => {
      expect(again.secretValues).toEqual(before);
      const job = again.job('secrets-bootstrap').metadata.name;
      const pod = again.pods(`job-name=${job}`)[0].metadata.name;
      expect(kubelet.log(again.ns, pod, 'bootstrap')).toMatch(/^restored Secret airflow\/airflow-secrets from its copy \/secrets-copy\/airflow-secrets.json: kept admin-password, api-secret-key, db-password, fernet-key, jwt-secret$/m);
    }));

    registerOf(again, step('the admin user Job completes and keeps the existing user', ['create-user'], async () => {
      const job = again.job('create-user');
      await waitForAsync(`Job ${job.metadata.name} to complete`, 300_000, () => (getObject('job', job.metadata.name, again.ns)?.status?.succeeded ?? 0) >= 1, () => '', 2000);
    }));

    for (const name of Object.keys(againSteps).slice(Object.keys(againSteps).indexOf(CREATE_USER) + 1, Object.keys(againSteps).indexOf('trigger write_to_data_volume through the REST API'))) {
      if (!/liveness probe|config lint/.test(name)) registerOf(again, againSteps[name]);
    }

    registerOf(again, step('the DAG run of before the teardown is listed, and the connection\'s password is readable', ['api-server', 'scheduler'], async () => {
      const api = await again.loggedIn();
      const run = await api.ok('GET', `/dags/write_to_data_volume/dagRuns/${encodeURIComponent(chain.runs.write_to_data_volume)}`);
      expect([run.dag_run_id, run.state]).toEqual([chain.runs.write_to_data_volume, 'success']);
      expect(connectionPassword(again)).toBe(CONN_PASSWORD);
    }));

    // ------------------------------------------------------------------ issue #20 (a): celery: {} over it
    test('the Celery chart has Redis, the Celery worker and both executors', () => {
      expect(redisSts).toBeDefined();
      expect(workerDeployment).toBeDefined();
      expect(celery.configMap().data['airflow.cfg']).toMatch(/^executor = KubernetesExecutor,CeleryExecutor$/m);
    });

    registerOf(celery, {
      ...celerySteps[APPLY],
      run: async () => {
        celeryFrom = chain.timings.length;
        await celerySteps[APPLY].run();
      },
    });

    const bootstrapStep = Object.keys(celerySteps).find((n) => n.startsWith('the secrets bootstrap Job creates'))!;
    registerOf(celery, { ...celerySteps[bootstrapStep], name: 'a new bootstrap Job adds redis-password to the Secret' });

    registerOf(celery, step('every key of before is kept byte for byte, and its copy follows the Secret', ['secrets-bootstrap'], async () => {
      const { 'redis-password': redis, ...rest } = celery.secretValues;
      expect(rest).toEqual(before);
      expect(redis).toMatch(/^[A-Za-z0-9]{32}$/);
      const job = celery.job('secrets-bootstrap').metadata.name;
      expect(job).not.toBe(chain.job('secrets-bootstrap').metadata.name);
      // every pod of the Job (one, unless one was retried), its phase and log
      const pods = celery.pods(`job-name=${job}`).map((p) => `${p.metadata.name} ${p.status.phase}: ${kubelet.log(celery.ns, p.metadata.name, 'bootstrap') ?? '(no log)'}`);
      // (the copy got redis-password before the patch: the log adds "its copy ... written" only when it changed after)
      expect(pods.join('\n')).toMatch(/added the missing keys redis-password, kept every other key as it is/);
      const copy = JSON.parse(fs.readFileSync(path.join(kubelet.hostPath(keysPv().spec.hostPath.path), 'airflow-secrets.json'), 'utf8'));
      const decoded = Object.fromEntries(Object.entries(copy.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
      expect(decoded).toEqual(celery.secretValues);
    }));

    registerOf(celery, celerySteps['every Secret and key the pods reference exists in the namespace']);

    registerOf(celery, step('every Deployment and StatefulSet rolls out, and no pod waits on a missing Secret key', ['scheduler', 'celery-worker', 'redis'], async () => {
      for (const o of [...celery.objectsOf('StatefulSet'), ...celery.objectsOf('Deployment')]) {
        await waitForAsync(
          `${o.kind} ${o.metadata.name} to roll out`,
          600_000,
          () => {
            const live = getObject(o.kind.toLowerCase(), o.metadata.name, celery.ns);
            const st = live?.status ?? {};
            return st.observedGeneration >= live?.metadata.generation && st.updatedReplicas === live.spec.replicas && st.readyReplicas === live.spec.replicas && (st.replicas ?? 0) === live.spec.replicas;
          },
          () => kubectl(['get', 'pods', '-n', celery.ns, '-o', 'wide']).stdout,
          3000,
        );
      }
      const waiting = kubectlJson(['get', 'pods', '-n', celery.ns]).items.flatMap((p: any) =>
        [...(p.status.containerStatuses ?? []), ...(p.status.initContainerStatuses ?? [])]
          .filter((c: any) => c.state?.waiting?.reason === 'CreateContainerConfigError')
          .map((c: any) => `${p.metadata.name}/${c.name}: ${c.state.waiting.message}`),
      );
      expect(waiting).toEqual([]);
      const transient = kubelet.events(new RegExp(`"pod": "${celery.ns}/`)).split('\n').filter((l) => /CreateContainerConfigError|not found/.test(l));
      if (transient.length) console.log(`RUNTIME [reapply-celery]: pods that waited on the Secret before the new Job added its key (retried by the kubelet):\n${transient.slice(-5).join('\n')}`);
    }, { timeoutMs: 1_200_000 }));

    // The Celery file's chain steps that read what the Celery chart changed (the four Deployments and airflow.cfg):
    // the rolled-out pods' init containers, commands, env and users, the Celery config's lint, the scheduler's
    // liveness probe with both executors, the login and the DAGs. (Postgres, the migration and admin user Jobs are
    // the same objects in both charts, unchanged by this apply: [reapply-again] and the default chain check them;
    // the dag-processor's and triggerer's probes are the default chain's commands, as in [reapply-again].)
    registerOf(celery, celerySteps['airflow db check-migrations: the wait-for-airflow-migrations init container of every Deployment passes']);
    registerOf(celery, celerySteps["api-server, scheduler, dag-processor and triggerer run their Deployments' commands and become available"]);
    registerOf(celery, celerySteps['airflow config lint (its findings are reported)']);
    registerOf(celery, celerySteps[HEALTH]);
    registerOf(celery, celerySteps[Object.keys(celerySteps).find((n) => n.startsWith('liveness probe of airflow-scheduler:'))!]);
    registerOf(celery, celerySteps['the admin user logs in: POST /auth/token with the password of the Secret']);
    registerOf(celery, celerySteps['the DAGs are parsed with no import errors']);

    // ------------------------------------------------------------------ the Celery checks on that deployment
    // (what was celery.runtime.test.ts: its own start-up of the Celery chart is gone, issue #25 item 3)
    registerOf(celery, step('Redis: the StatefulSet pod runs redis-server as uid 999 with the password of the Secret, and becomes Ready', ['redis'], async () => {
      await waitForAsync(
        'StatefulSet airflow-redis to have a ready replica',
        300_000,
        () => (getObject('statefulset', 'airflow-redis', celery.ns)?.status?.readyReplicas ?? 0) >= 1,
        () => kubectl(['get', 'pods', '-n', celery.ns, '-l', 'app.kubernetes.io/component=redis', '-o', 'wide']).stdout,
        2000,
      );
      const c = redisSts.spec.template.spec.containers[0];
      expect(c.image).toBe(RedisBroker.DEFAULT_IMAGE);
      const rec = celery.mainRecord('redis')!;
      const password = celery.secretValues['redis-password'];
      expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
      // the kubelet expanded $(REDIS_PASSWORD) from the Secret: the YAML never had it
      expect(rec.argv).toEqual([...c.command, ...c.args].map((a: string) => a.replace('$(REDIS_PASSWORD)', password)));
      expect([rec.uid, rec.gid]).toEqual([999, 1000]);
      expect(rec.noNewPrivs).toBe(true);
      const pod = celery.podOf('redis').metadata.name;
      // the password is enforced: no answer without it, PONG with it (the readiness probe's command)
      const anonymous = kubelet.exec(celery.ns, pod, 'redis', ['redis-cli', 'ping'], 30);
      expect(anonymous.output).toMatch(/NOAUTH|Authentication required/);
      const probe = kubelet.exec(celery.ns, pod, 'redis', c.readinessProbe.exec.command, 30);
      expect(probe.code).toBe(0);
      // read-only root file system: only /data (an emptyDir) is writable
      expect(kubelet.exec(celery.ns, pod, 'redis', ['sh', '-c', 'touch /etc/x 2>&1; touch /data/x && echo data-ok'], 30).output).toMatch(/Read-only file system[\s\S]*data-ok/);
    }));

    registerOf(celery, step(CELERY_WORKER_AVAILABLE, ['celery-worker'], async () => {
      await waitForAsync(
        'Deployment airflow-celery-worker to be available',
        420_000,
        () => (getObject('deployment', 'airflow-celery-worker', celery.ns)?.status?.availableReplicas ?? 0) >= 1,
        () => kubectl(['get', 'pods', '-n', celery.ns, '-l', 'app.kubernetes.io/component=celery-worker', '-o', 'wide']).stdout,
        2000,
      );
      const c = workerDeployment.spec.template.spec.containers[0];
      const rec = celery.mainRecord('celery-worker')!;
      expect(rec.argv).toEqual(kubelet.argvFor(c));
      const own = [...(c.command ?? []), ...c.args];
      expect(rec.argv.slice(rec.argv.length - own.length)[2]).toBe('exec airflow celery worker --concurrency 2 --queues default --skip-serve-logs');
      for (const e of c.env) expect(rec.env).toHaveProperty(e.name);
      expect(rec.env.AIRFLOW__CELERY__BROKER_URL).toBe(`redis://:${celery.secretValues['redis-password']}@airflow-redis.${celery.ns}.svc.cluster.local:6379/0`);
      expect(Object.keys(rec.env).filter((k) => /SQL_ALCHEMY_CONN|DB_PASSWORD|FERNET|JWT|SECRET_KEY/.test(k))).toEqual([]);
      expect([rec.uid, rec.gid]).toEqual([50000, 0]);
      const pod = celery.podOf('celery-worker').metadata.name;
      expect(rec.hostname).toBe(pod);
      expect(kubelet.exec(celery.ns, pod, 'celery-worker', ['sh', '-c', 'ls /var/run/secrets/kubernetes.io/serviceaccount 2>&1 || true'], 30).output).toMatch(/No such file/);
      await waitForAsync(
        'the worker to connect to the broker and be ready',
        240_000,
        () => /celery@\S+ ready\./.test(kubelet.log(celery.ns, pod, 'celery-worker') ?? ''),
        () => kubelet.logTail(celery.ns, pod, 'celery-worker', 30),
        2000,
      );
    }, { timeoutMs: 600_000 }));

    registerOf(celery, step('liveness probe of airflow-celery-worker: celery inspect ping through the broker', ['celery-worker'], async () => {
      const probe = workerDeployment.spec.template.spec.containers[0].livenessProbe.exec.command;
      const pod = celery.podOf('celery-worker').metadata.name;
      const r = kubelet.exec(celery.ns, pod, 'celery-worker', probe, 120);
      if (r.code !== 0) throw new Error(`the probe exited ${r.code}:\n${r.output.slice(-2000)}`);
      expect(r.output).toMatch(new RegExp(`celery@${pod}: OK`));
    }, { blocking: false }));

    registerOf(celery, step(`a worker whose event loop blocks in a read of its BRPOP connection (the hang seen on the real node) reconnects within ${CeleryWorkers.BROKER_SOCKET_TIMEOUT_SECONDS} s and answers a ping`, ['celery-worker'], async () => {
      // The hang, made on purpose: a second Celery worker in the worker's container, with the worker's own app
      // (airflow.cfg and its pod's broker env), on a queue of its own, whose first _brpop_read reads the BRPOP
      // reply and then reads once more, as the worker's loop did on the real node. Without a socket_timeout that
      // second read waits forever and the worker answers no ping; with it, the read fails, the consumer
      // reconnects, and the ping is answered.
      const script = [
        'import logging, multiprocessing, socket, sys, time',
        'logging.basicConfig(level=logging.WARNING, stream=sys.stdout)',
        'from airflow.providers.celery.executors.celery_executor import app',
        'from kombu.transport import redis as kombu_redis',
        'name = "hang-probe@" + socket.gethostname()',
        'def worker():',
        '    original = kombu_redis.Channel._brpop_read',
        '    state = {"reads": 0}',
        '    def read_twice(self, **options):',
        '        state["reads"] += 1',
        '        try:',
        '            return original(self, **options)',
        '        finally:',
        '            if state["reads"] == 1:',
        '                print("second read of one BRPOP reply", flush=True)',
        '                original(self, **options)',
        '    kombu_redis.Channel._brpop_read = read_twice',
        '    app.worker_main(["worker", "--pool", "solo", "--queues", "acdk8s_hang_probe", "--hostname", name,',
        '                     "--without-mingle", "--without-gossip", "--without-heartbeat", "--loglevel", "WARNING"])',
        'print("socket timeout", app.conf.broker_transport_options.get("socket_timeout"), flush=True)',
        'child = multiprocessing.Process(target=worker)',
        'child.start()',
        'started, answer = time.monotonic(), None',
        'while answer is None and time.monotonic() - started < 90:',
        '    time.sleep(5)',
        '    replies = app.control.ping(destination=[name], timeout=3)',
        '    answer = next((r[name] for r in replies if name in r), None)',
        'print("ping", answer, "after", round(time.monotonic() - started), "s", flush=True)',
        'child.terminate(); child.join(10)',
        'if child.is_alive(): child.kill()',
      ].join('\n');
      const pod = celery.podOf('celery-worker').metadata.name;
      const r = kubelet.exec(celery.ns, pod, 'celery-worker', ['python3', '-c', script], 180);
      const out = r.output;
      expect(out).toContain(`socket timeout ${CeleryWorkers.BROKER_SOCKET_TIMEOUT_SECONDS}`);
      expect(out).toContain('second read of one BRPOP reply');
      // the blocked read ended with redis-py's TimeoutError, which kombu counts as a lost connection
      expect(out).toMatch(/Connection to broker lost[\s\S]*TimeoutError/);
      expect(out).toMatch(/ping \{'ok': 'pong'\} after \d+ s/);
      console.log(`RUNTIME [reapply-celery]: the hang made on purpose: ${out.match(/ping .* s/)?.[0]}`);
    }, { blocking: false, timeoutMs: 240_000 }));

    registerOf(celery, step('memory at idle: Redis and the Celery worker measured from /proc', [], async () => {
      // settled since the worker was ready (the broker's ping, the hang's reconnect since count)
      expect(chain.passedAt.has(CELERY_WORKER_AVAILABLE)).toBe(true);
      const m = await sampleIdle(kubelet, celery.ns, settleLeft(chain.passedAt.get(CELERY_WORKER_AVAILABLE)));
      console.log(memoryTable(`RUNTIME [reapply-celery]: memory at idle (peak of ${Math.round(SAMPLE_MS / 1000)} s of samples)`, m));
      recordRuntime(['celery', 'memory', 'idle'], m);
      expect(m['celery-worker']?.rssMiB).toBeGreaterThan(50);
      expect(m.redis?.rssMiB).toBeGreaterThan(0);
      celeryTaskSampler = new MemorySampler(kubelet, celery.ns).start();
    }, { blocking: false, timeoutMs: IDLE_SETTLE_MS + SAMPLE_MS + 60_000 }));

    registerOf(celery, step('trigger hybrid_executors through the REST API', ['api-server', 'scheduler'], async () => {
      celery.startPhaseWatch();
      expect(await celery.trigger('hybrid_executors')).toMatch(/^manual__/);
    }));

    // The Celery file's step and the reapply phase's one ("hybrid_executors: quick_check on the Celery worker,
    // in_its_own_pod in a pod; both succeed") in one: every assertion of both.
    registerOf(celery, step('hybrid_executors: quick_check on the Celery worker, in_its_own_pod in a pod of the KubernetesExecutor; both succeed', ['scheduler', 'celery-worker', 'worker'], async () => {
      const end = await celery.runEnd('hybrid_executors', 480_000);
      const api = await celery.loggedIn();
      const list = await api.ok('GET', `/dags/hybrid_executors/dagRuns/${encodeURIComponent(celery.runs.hybrid_executors)}/taskInstances`);
      celeryTis = Object.fromEntries(list.task_instances.map((t: any) => [t.task_id, t]));
      const tis = celeryTis;
      celery.captureTaskPods();
      const pods = celery.taskPodsOf('hybrid_executors');
      const worker = celery.podOf('celery-worker').metadata.name;
      const summary = Object.values(tis).map((t: any) => `${t.task_id}: ${t.state} on ${t.hostname} (executor ${t.executor ?? 'default'})`).join('; ');
      console.log(`RUNTIME [reapply-celery]: hybrid_executors ${end.state}: ${summary}; task pods: ${pods.map((p) => `${p.metadata.name} (${p.metadata.labels.task_id})`).join(', ')}`);
      expect(end).toEqual({ state: 'success', tasks: { quick_check: 'success', in_its_own_pod: 'success' } });
      expect([tis.quick_check.executor, tis.quick_check.hostname]).toEqual(['CeleryExecutor', worker]);
      // one task pod, for in_its_own_pod only: quick_check started none
      expect(pods.map((p) => p.metadata.labels.task_id)).toEqual(['in_its_own_pod']);
      expect(tis.in_its_own_pod.hostname).toBe(pods[0].metadata.name);
      expect(kubelet.log(celery.ns, worker, 'celery-worker')).toMatch(/Executing workload in Celery/);
      // each wrote its line into the data volume, naming the host it ran on
      const pv = celery.objectsOf('PersistentVolume').find((v) => v.metadata.labels?.['app.kubernetes.io/component'] === 'data-storage');
      const dir = kubelet.hostPath(pv.spec.hostPath.path);
      const safe = celery.runs.hybrid_executors.replace(/[^A-Za-z0-9_.-]+/g, '_');
      expect(fs.readFileSync(path.join(dir, `hybrid_executors-${safe}-quick_check.txt`), 'utf8')).toContain(`quick_check ran on ${worker}`);
      expect(fs.readFileSync(path.join(dir, `hybrid_executors-${safe}-in_its_own_pod.txt`), 'utf8')).toContain(`in_its_own_pod ran on ${pods[0].metadata.name}`);
      // and what was there before Celery is still readable
      expect(connectionPassword(celery)).toBe(CONN_PASSWORD);
      kubectlOk(['get', 'namespace', celery.ns]);
    }, { timeoutMs: 600_000 }));

    registerOf(celery, step('memory while hybrid_executors ran, and each task\'s wait from queued to running', [], async () => {
      if (!celeryTaskSampler) throw new Error('not sampled: the idle measurement did not run');
      const m = celeryTaskSampler.stop();
      celeryTaskSampler = undefined;
      console.log(memoryTable('RUNTIME [reapply-celery]: peak memory from the trigger until the run ended', m));
      const seconds = (a?: string, b?: string) => (a && b ? Math.round((Date.parse(b) - Date.parse(a)) / 100) / 10 : undefined);
      const waits = Object.fromEntries(
        Object.values(celeryTis).map((t: any) => [
          t.task_id,
          { executor: t.executor ?? 'KubernetesExecutor (default)', queuedToRunning: seconds(t.queued_when, t.start_date), running: seconds(t.start_date, t.end_date), queuedToDone: seconds(t.queued_when, t.end_date) },
        ]),
      );
      console.log(`RUNTIME [reapply-celery]: queued -> running -> done, in seconds: ${JSON.stringify(waits)}`);
      recordRuntime(['celery', 'memory', 'task'], m);
      recordRuntime(['celery', 'taskStart'], waits);
      expect(m['celery-worker']?.rssMiB).toBeGreaterThan(50);
      expect(waits.quick_check.queuedToRunning).toBeLessThan(waits.in_its_own_pod.queuedToRunning!);
    }, { blocking: false, timeoutMs: 60_000 }));

    registerOf(celery, step("the KEDA query, as celery.keda renders it, counts the Celery tasks queued or running on the workers' queues / concurrency, in Airflow's own schema", ['metadata-db'], async () => {
      // The same chart with celery.keda (the API server here has no KEDA CRDs, so the ScaledObject is not applied):
      // its trigger's query and connection, run with psql from the Postgres pod as KEDA's operator would connect.
      const kedaObjects = Testing.synth(new AirflowChart(Testing.app(), 'airflow', { celery: { keda: {} } }));
      const trigger = kedaObjects.find((o: any) => o.kind === 'ScaledObject').spec.triggers[0];
      const auth = kedaObjects.find((o: any) => o.kind === 'TriggerAuthentication').spec.secretTargetRef[0];
      const celeryDefault = Testing.synth(new AirflowChart(Testing.app(), 'airflow', { celery: { keda: {}, defaultExecutor: true } }))
        .find((o: any) => o.kind === 'ScaledObject').spec.triggers[0].metadata.query;
      const m = trigger.metadata;
      expect(auth).toEqual({ parameter: 'password', name: 'airflow-secrets', key: 'db-password' });
      const conninfo = `host=${m.host} port=${m.port} user=${m.userName} dbname=${m.dbName} sslmode=${m.sslmode}`;
      const pod = celery.podOf('metadata-db').metadata.name;
      const psql = (...commands: string[]) =>
        kubelet.exec(celery.ns, pod, 'postgres', ['env', `PGPASSWORD=${celery.secretValues[auth.key]}`, 'psql', '-X', '-qtA', '-v', 'ON_ERROR_STOP=1', conninfo, ...commands.flatMap((c) => ['-c', c])], 60);
      // A known queue state, in one transaction that is rolled back: rows copied from a finished task instance of
      // hybrid_executors (so every foreign key and NOT NULL column holds), each with its own id, task_id, state, queue, executor.
      const rows: Array<[state: string, queue: string, executor: string | null, times: number]> = [
        ['queued', 'default', 'CeleryExecutor', 4], // counted
        ['running', 'default', 'CeleryExecutor', 2], // counted
        ['queued', 'default', 'airflow.providers.celery.executors.celery_executor.CeleryExecutor', 1], // counted
        ['queued', 'sensors', 'CeleryExecutor', 1], // another queue: no worker of these takes it
        ['queued', 'default', null, 2], // no executor: the KubernetesExecutor's (the default); Celery's with defaultExecutor
        ['running', 'default', 'KubernetesExecutor', 1],
        ['scheduled', 'default', 'CeleryExecutor', 1],
        ['deferred', 'default', 'CeleryExecutor', 1],
        ['success', 'default', 'CeleryExecutor', 1],
      ];
      const inserts: string[] = ["CREATE TEMP TABLE keda_seed AS SELECT * FROM task_instance WHERE dag_id = 'hybrid_executors' LIMIT 1"];
      let n = 0;
      for (const [state, queue, executor, times] of rows) {
        for (let i = 0; i < times; i++) {
          inserts.push(
            `UPDATE keda_seed SET id = gen_random_uuid(), task_id = 'keda_probe_${n++}', state = '${state}', queue = '${queue}', executor = ${executor === null ? 'NULL' : `'${executor}'`}`,
            'INSERT INTO task_instance SELECT * FROM keda_seed',
          );
        }
      }
      const r = psql('BEGIN', m.query, ...inserts, m.query, celeryDefault, 'ROLLBACK');
      console.log(`RUNTIME [reapply-celery]: KEDA query before and after ${n} rows (${rows.map(([st, q, e, t]) => `${t}x ${st}/${q}/${e ?? 'NULL'}`).join(', ')}), then with defaultExecutor: ${JSON.stringify(r.output)}`);
      expect(r.code).toBe(0);
      // Before: 0 (every task of the deployment's DAG runs, the default chain's and the harness's included, has
      // ended). After: 7 Celery tasks queued or running on "default" / 2 -> 4; with the CeleryExecutor as default,
      // the 2 without an executor too: 9 / 2 -> 5.
      expect(r.output.trim().split('\n')).toEqual(['0', '4', '5']);
      // Rolled back: nothing of it stays.
      expect(psql("SELECT count(*) FROM task_instance WHERE task_id LIKE 'keda_probe_%'").output.trim()).toBe('0');
    }, { blocking: false, timeoutMs: 120_000 }));

    registerOf(celery, celerySteps['no container restarted, and the scheduler log has no RBAC denial']);
    // The real node: the memory the kernel charges (page cache included) against each cgroup's limit
    if (kubelet.real) registerOf(celery, celery.cgroupMemoryStep([...celery.components(), 'redis', 'celery-worker']));
  });
});
