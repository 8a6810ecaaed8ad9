// The real Airflow with hybrid executors (issue #16, docs/celery.md): the chart with `celery: {}` applied to the
// local control plane and run by the runtime kubelet. The chain of the default chart up to the parsed DAGs, then
// Redis from its StatefulSet and the Celery worker from its Deployment (their commands, env and users as the API
// server holds them), the worker's liveness probe, and the mixed DAG hybrid_executors: quick_check on the Celery
// worker, in_its_own_pod in a pod the KubernetesExecutor creates; both succeed. Memory of the pool at idle and
// while the DAG runs, and each task's wait from queued to running (build/runtime-results.json).
import * as fs from 'fs';
import * as path from 'path';
import { Testing } from 'cdk8s';
import { AirflowChart, CeleryWorkers, RedisBroker } from '../../lib';
import { getObject, kubectl } from '../live/support/cluster';
import { RuntimeChain, Step, waitForAsync, step } from './support/chain';

import { IDLE_SETTLE_MS, MemorySampler, memoryTable, SAMPLE_MS, sampleIdle } from './support/memory';
import { newKubelet } from './support/real-kubelet';
import { recordRuntime } from './support/results';
import { celeryChart } from './support/variants';

const kubelet = newKubelet('celery');
const chain = new RuntimeChain(celeryChart(), kubelet);
const steps = chain.steps();
const names = Object.keys(steps);
/** The default chain runs up to here (the chart, the components, the parsed DAGs); the Celery steps follow. */
const UNTIL = 'trigger write_to_data_volume through the REST API';
const redisSts = chain.objectsOf('StatefulSet').find((o) => o.metadata.name === 'airflow-redis');
const workerDeployment = chain.deployment('celery-worker');
let taskSampler: MemorySampler | undefined;
let tis: Record<string, any> = {};

const register = (step: Step) => test(step.name, chain.jest(step), step.timeoutMs + 60_000);

chain.hooks({ recordTimings: true, stop: () => taskSampler?.stop() });

describe('runtime: the chart with Celery workers (hybrid executors)', () => {
  test('the chart has Redis, the Celery worker and both executors', () => {
    expect(redisSts).toBeDefined();
    expect(workerDeployment).toBeDefined();
    expect(chain.configMap().data['airflow.cfg']).toMatch(/^executor = KubernetesExecutor,CeleryExecutor$/m);
  });

  for (const name of names.slice(0, names.indexOf(UNTIL))) register(steps[name]);

  register(step('Redis: the StatefulSet pod runs redis-server as uid 999 with the password of the Secret, and becomes Ready', ['redis'], async () => {
    await waitForAsync(
      'StatefulSet airflow-redis to have a ready replica',
      300_000,
      () => (getObject('statefulset', 'airflow-redis', chain.ns)?.status?.readyReplicas ?? 0) >= 1,
      () => kubectl(['get', 'pods', '-n', chain.ns, '-l', 'app.kubernetes.io/component=redis', '-o', 'wide']).stdout,
      2000,
    );
    const c = redisSts.spec.template.spec.containers[0];
    expect(c.image).toBe(RedisBroker.DEFAULT_IMAGE);
    const rec = chain.mainRecord('redis')!;
    const password = chain.secretValues['redis-password'];
    expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
    // the kubelet expanded $(REDIS_PASSWORD) from the Secret: the YAML never had it
    expect(rec.argv).toEqual([...c.command, ...c.args].map((a: string) => a.replace('$(REDIS_PASSWORD)', password)));
    expect([rec.uid, rec.gid]).toEqual([999, 1000]);
    expect(rec.noNewPrivs).toBe(true);
    const pod = chain.podOf('redis').metadata.name;
    // the password is enforced: no answer without it, PONG with it (the readiness probe's command)
    const anonymous = kubelet.exec(chain.ns, pod, 'redis', ['redis-cli', 'ping'], 30);
    expect(anonymous.output).toMatch(/NOAUTH|Authentication required/);
    const probe = kubelet.exec(chain.ns, pod, 'redis', c.readinessProbe.exec.command, 30);
    expect(probe.code).toBe(0);
    // read-only root file system: only /data (an emptyDir) is writable
    expect(kubelet.exec(chain.ns, pod, 'redis', ['sh', '-c', 'touch /etc/x 2>&1; touch /data/x && echo data-ok'], 30).output).toMatch(/Read-only file system[\s\S]*data-ok/);
  }));

  register(step("the Celery worker runs its Deployment's command and env, without database credentials or an API token, and becomes available", ['celery-worker'], async () => {
    await waitForAsync(
      'Deployment airflow-celery-worker to be available',
      420_000,
      () => (getObject('deployment', 'airflow-celery-worker', chain.ns)?.status?.availableReplicas ?? 0) >= 1,
      () => kubectl(['get', 'pods', '-n', chain.ns, '-l', 'app.kubernetes.io/component=celery-worker', '-o', 'wide']).stdout,
      2000,
    );
    const c = workerDeployment.spec.template.spec.containers[0];
    const rec = chain.mainRecord('celery-worker')!;
    expect(rec.argv).toEqual(kubelet.argvFor(c));
    const own = [...(c.command ?? []), ...c.args];
    expect(rec.argv.slice(rec.argv.length - own.length)[2]).toBe('exec airflow celery worker --concurrency 2 --queues default --skip-serve-logs');
    for (const e of c.env) expect(rec.env).toHaveProperty(e.name);
    expect(rec.env.AIRFLOW__CELERY__BROKER_URL).toBe(`redis://:${chain.secretValues['redis-password']}@airflow-redis.${chain.ns}.svc.cluster.local:6379/0`);
    expect(Object.keys(rec.env).filter((k) => /SQL_ALCHEMY_CONN|DB_PASSWORD|FERNET|JWT|SECRET_KEY/.test(k))).toEqual([]);
    expect([rec.uid, rec.gid]).toEqual([50000, 0]);
    const pod = chain.podOf('celery-worker').metadata.name;
    expect(rec.hostname).toBe(pod);
    expect(kubelet.exec(chain.ns, pod, 'celery-worker', ['sh', '-c', 'ls /var/run/secrets/kubernetes.io/serviceaccount 2>&1 || true'], 30).output).toMatch(/No such file/);
    await waitForAsync(
      'the worker to connect to the broker and be ready',
      240_000,
      () => /celery@\S+ ready\./.test(kubelet.log(chain.ns, pod, 'celery-worker') ?? ''),
      () => kubelet.logTail(chain.ns, pod, 'celery-worker', 30),
      2000,
    );
  }, { timeoutMs: 600_000 }));

  register(step('liveness probe of airflow-celery-worker: celery inspect ping through the broker', ['celery-worker'], async () => {
    const probe = workerDeployment.spec.template.spec.containers[0].livenessProbe.exec.command;
    const pod = chain.podOf('celery-worker').metadata.name;
    const r = kubelet.exec(chain.ns, pod, 'celery-worker', probe, 120);
    if (r.code !== 0) throw new Error(`the probe exited ${r.code}:\n${r.output.slice(-2000)}`);
    expect(r.output).toMatch(new RegExp(`celery@${pod}: OK`));
  }, { blocking: false }));

  register(step(`a worker whose event loop blocks in a read of its BRPOP connection (the hang seen on the real node) reconnects within ${CeleryWorkers.BROKER_SOCKET_TIMEOUT_SECONDS} s and answers a ping`, ['celery-worker'], async () => {
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
    const pod = chain.podOf('celery-worker').metadata.name;
    const r = kubelet.exec(chain.ns, pod, 'celery-worker', ['python3', '-c', script], 180);
    const out = r.output;
    expect(out).toContain(`socket timeout ${CeleryWorkers.BROKER_SOCKET_TIMEOUT_SECONDS}`);
    expect(out).toContain('second read of one BRPOP reply');
    // the blocked read ended with redis-py's TimeoutError, which kombu counts as a lost connection
    expect(out).toMatch(/Connection to broker lost[\s\S]*TimeoutError/);
    expect(out).toMatch(/ping \{'ok': 'pong'\} after \d+ s/);
    console.log(`RUNTIME [celery]: the hang made on purpose: ${out.match(/ping .* s/)?.[0]}`);
  }, { blocking: false, timeoutMs: 240_000 }));

  register(step('memory at idle: Redis and the Celery worker measured from /proc', [], async () => {
    const m = await sampleIdle(kubelet, chain.ns);
    console.log(memoryTable(`RUNTIME [celery]: memory at idle (peak of ${Math.round(SAMPLE_MS / 1000)} s of samples)`, m));
    recordRuntime(['celery', 'memory', 'idle'], m);
    expect(m['celery-worker']?.rssMiB).toBeGreaterThan(50);
    expect(m.redis?.rssMiB).toBeGreaterThan(0);
    taskSampler = new MemorySampler(kubelet, chain.ns).start();
  }, { blocking: false, timeoutMs: IDLE_SETTLE_MS + SAMPLE_MS + 60_000 }));

  register(step('trigger hybrid_executors through the REST API', ['api-server', 'scheduler'], async () => {
    chain.startPhaseWatch();
    expect(await chain.trigger('hybrid_executors')).toMatch(/^manual__/);
  }));

  register(step('quick_check runs on the Celery worker, in_its_own_pod in a pod of the KubernetesExecutor; both succeed', ['scheduler', 'celery-worker', 'worker'], async () => {
    const end = await chain.runEnd('hybrid_executors', 480_000);
    const api = await chain.loggedIn();
    const list = await api.ok('GET', `/dags/hybrid_executors/dagRuns/${encodeURIComponent(chain.runs.hybrid_executors)}/taskInstances`);
    tis = Object.fromEntries(list.task_instances.map((t: any) => [t.task_id, t]));
    chain.captureTaskPods();
    const pods = chain.taskPodsOf('hybrid_executors');
    const worker = chain.podOf('celery-worker').metadata.name;
    const summary = Object.values(tis).map((t: any) => `${t.task_id}: ${t.state} on ${t.hostname} (executor ${t.executor ?? 'default'})`).join('; ');
    console.log(`RUNTIME [celery]: hybrid_executors ${end.state}: ${summary}; task pods: ${pods.map((p) => `${p.metadata.name} (${p.metadata.labels.task_id})`).join(', ')}`);
    expect(end).toEqual({ state: 'success', tasks: { quick_check: 'success', in_its_own_pod: 'success' } });
    expect([tis.quick_check.executor, tis.quick_check.hostname]).toEqual(['CeleryExecutor', worker]);
    // one task pod, for in_its_own_pod only: quick_check started none
    expect(pods.map((p) => p.metadata.labels.task_id)).toEqual(['in_its_own_pod']);
    expect(tis.in_its_own_pod.hostname).toBe(pods[0].metadata.name);
    expect(kubelet.log(chain.ns, worker, 'celery-worker')).toMatch(/Executing workload in Celery/);
    // each wrote its line into the data volume, naming the host it ran on
    const pv = chain.objectsOf('PersistentVolume').find((v) => v.metadata.labels?.['app.kubernetes.io/component'] === 'data-storage');
    const dir = kubelet.hostPath(pv.spec.hostPath.path);
    const safe = chain.runs.hybrid_executors.replace(/[^A-Za-z0-9_.-]+/g, '_');
    expect(fs.readFileSync(path.join(dir, `hybrid_executors-${safe}-quick_check.txt`), 'utf8')).toContain(`quick_check ran on ${worker}`);
    expect(fs.readFileSync(path.join(dir, `hybrid_executors-${safe}-in_its_own_pod.txt`), 'utf8')).toContain(`in_its_own_pod ran on ${pods[0].metadata.name}`);
  }, { timeoutMs: 600_000 }));

  register(step('memory while hybrid_executors ran, and each task\'s wait from queued to running', [], async () => {
    if (!taskSampler) throw new Error('not sampled: the idle measurement did not run');
    const m = taskSampler.stop();
    taskSampler = undefined;
    console.log(memoryTable('RUNTIME [celery]: peak memory from the trigger until the run ended', m));
    const seconds = (a?: string, b?: string) => (a && b ? Math.round((Date.parse(b) - Date.parse(a)) / 100) / 10 : undefined);
    const waits = Object.fromEntries(
      Object.values(tis).map((t: any) => [
        t.task_id,
        { executor: t.executor ?? 'KubernetesExecutor (default)', queuedToRunning: seconds(t.queued_when, t.start_date), running: seconds(t.start_date, t.end_date), queuedToDone: seconds(t.queued_when, t.end_date) },
      ]),
    );
    console.log(`RUNTIME [celery]: queued -> running -> done, in seconds: ${JSON.stringify(waits)}`);
    recordRuntime(['celery', 'memory', 'task'], m);
    recordRuntime(['celery', 'taskStart'], waits);
    expect(m['celery-worker']?.rssMiB).toBeGreaterThan(50);
    expect(waits.quick_check.queuedToRunning).toBeLessThan(waits.in_its_own_pod.queuedToRunning!);
  }, { blocking: false, timeoutMs: 60_000 }));

  register(step("the KEDA query, as celery.keda renders it, counts the Celery tasks queued or running on the workers' queues / concurrency, in Airflow's own schema", ['metadata-db'], async () => {
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
    const pod = chain.podOf('metadata-db').metadata.name;
    const psql = (...commands: string[]) =>
      kubelet.exec(chain.ns, pod, 'postgres', ['env', `PGPASSWORD=${chain.secretValues[auth.key]}`, 'psql', '-X', '-qtA', '-v', 'ON_ERROR_STOP=1', conninfo, ...commands.flatMap((c) => ['-c', c])], 60);
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
    console.log(`RUNTIME [celery]: KEDA query before and after ${n} rows (${rows.map(([s, q, e, t]) => `${t}x ${s}/${q}/${e ?? 'NULL'}`).join(', ')}), then with defaultExecutor: ${JSON.stringify(r.output)}`);
    expect(r.code).toBe(0);
    // Before: 0 (every task of the chain has ended). After: 7 Celery tasks queued or running on "default" / 2 -> 4;
    // with the CeleryExecutor as default, the 2 without an executor too: 9 / 2 -> 5.
    expect(r.output.trim().split('\n')).toEqual(['0', '4', '5']);
    // Rolled back: nothing of it stays.
    expect(psql("SELECT count(*) FROM task_instance WHERE task_id LIKE 'keda_probe_%'").output.trim()).toBe('0');
  }, { blocking: false, timeoutMs: 120_000 }));

  register(steps['no container restarted, and the scheduler log has no RBAC denial']);
  // The real node: the memory the kernel charges (page cache included) against each cgroup's limit
  if (kubelet.real) register(chain.cgroupMemoryStep([...chain.components(), 'redis', 'celery-worker']));
});
