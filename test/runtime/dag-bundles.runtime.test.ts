// The real Airflow 3.2 with `dagBundles` (issue #22, item 12): the default chart whose DAGs come from a Git
// repository through the git provider's GitDagBundle instead of the dags folder, and what that costs each task pod
// at start, measured.
//
// The repository: a bare repository on the node (created here with the host's git), served by `git daemon` from a
// pod of the chart's own image (the 3.2 root has Debian's git and GitPython, scripts/runtime/build-root.sh), reached
// through its Service as git://airflow-git-server.dag-bundles.svc.cluster.local:9418/dags.git, the Git connection's
// host (from a Secret, as `connectionSecret` takes it). The chain of the default chart runs up to the parsed DAGs;
// then the dag-processor parses dag_bundle_probe from the bundle at the repository's commit, and the probe is
// triggered RUNS times (after one warm-up run): each task pod initialises the bundle at the run's version in its own
// /tmp (GitDagBundle._initialize: a bare clone from the server, a local clone, a checkout) before the task body.
//
// It runs on the real node (REAL_NODE_SUITES in jest.runtime.config.js; docs/runtime-tests.md "The real node"): the
// kubelet 1.20, containerd and runc run the pods, the git daemon's pod among them (pulled from the node's registry),
// the bare repository is the machine's /data/dag-bundles/git (the node shares the machine's mount namespace), and the task pods
// reach the Service through the node's DNS (dnsmasq) and kube-proxy. The git daemon stays (not the HTTPS server of
// real-node-git-sync-metrics.runtime.test.ts): every pod that reads a bundle, the task pods' template included, would have to
// trust that server's private CA, for which the chart has no prop.
//
// Measured, host clock (every process runs on this machine), in seconds, p50 of RUNS:
// - trigger -> the task pod's process started (when the recorder saw runc start container base) -> the task instance's start_date
//   -> the task body's first line (time.time() in the task, written to the data volume) -> end_date;
// - in the task process: its start (psutil create_time) -> the task log's "Filling up the DagBag" (after the bundle
//   is initialised), and the bundle's clone lines' timestamps;
// - the bundle's initialisation alone, as the task runner does it (DagBundlesManager().get_bundle(name, version)
//   .initialize(), Airflow's task-sdk execution_time/task_runner.py parse()), in a fresh python3 process in the
//   dag-processor pod with a fresh storage path: the import of the git provider and the initialize() — the time a
//   task pod spends that a dags-folder DAG (LocalDagBundle, whose initialize() does nothing) does not.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { kubectlJson } from '../live/support/cluster';
import { RuntimeChain, Step, waitForAsync } from './support/chain';
import { newKubelet } from './support/real-kubelet';
import { recordRuntime } from './support/results';
import { DAG_BUNDLE_NAME, GIT_REPO, GIT_SERVICE, dagBundlesChart, outsideOwnNamespace } from './support/variants';

const RUNS = Math.max(1, Number(process.env.AIRFLOW_CDK8S_RUNTIME_BUNDLE_RUNS ?? 5));
const DAG = 'dag_bundle_probe';
const TASK = 'probe';
// In namespace dag-bundles (issue #25 item 3: the real node runs two files at once, whose charts must share nothing):
// the chart's PersistentVolumes dag-bundles-*-volume on /data/dag-bundles (AirflowChart's defaults for a namespace
// other than airflow), the repository beside them.
const NAMESPACE = 'dag-bundles';
const kubelet = newKubelet('dag-bundles');
const variant = dagBundlesChart(NAMESPACE);
const chain = new RuntimeChain(variant, kubelet);
const steps = chain.steps();
const names = Object.keys(steps);
// The chain's own DAG steps read the repository's dags/ folder, which this chart does not: its steps stop before them.
const UP_TO = names.indexOf('the DAGs are parsed with no import errors');
const GIT_URL = variant.gitUrl;
/** The chain the helpers below measure. */
const active = { chain, kubelet };
let commit = '';
let repoBytes = 0;

const PROBE_DAG = `"""The DAG of the runtime stage's DAG bundle (test/runtime/dag-bundles.runtime.test.ts): its task writes when its body
started, when its process started and where its DAG file was read from into the data volume."""
from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime

import psutil
from airflow.sdk import dag, task


@dag(dag_id="${DAG}", schedule=None, start_date=datetime(2024, 1, 1), catchup=False, tags=["airflow-cdk8s", "dag-bundles"])
def ${DAG}():
    @task
    def ${TASK}(**context):
        body_start = time.time()
        me = psutil.Process()
        parent = me.parent()
        in_bundle = "/dag_bundles/" in __file__
        bundle_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))) if in_bundle else None  # <name>/versions/<sha>/dags/x.py
        total = 0
        for d, _, files in os.walk(bundle_root) if in_bundle else []:
            for f in files:
                p = os.path.join(d, f)
                if not os.path.islink(p):
                    total += os.path.getsize(p)
        out = {
            "bodyStart": body_start,
            "taskProcessStarted": me.create_time(),
            "supervisorStarted": parent.create_time() if parent else None,
            "file": __file__,
            "bundleRoot": bundle_root,
            "bundleEntries": sorted(os.listdir(bundle_root)) if in_bundle else [],
            "bundleBytes": total,
        }
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(context["run_id"]))
        with open(f"/opt/airflow/data/${DAG}-{safe}.json", "w", encoding="utf-8") as f:
            json.dump(out, f)

    ${TASK}()


${DAG}()
`;

/** What the dag-processor pod runs RUNS times: the task runner's bundle initialisation, timed, in a fresh process. */
const INIT_SCRIPT = `
import json, os, sys, tempfile, time
t0 = time.time()
os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH"] = tempfile.mkdtemp(prefix="bundle-init-")
from airflow.dag_processing.bundles.manager import DagBundlesManager
t1 = time.time()
import airflow.providers.git.bundles.git  # noqa: the import the task runner's get_bundle() does (import_string)
t2 = time.time()
b = DagBundlesManager().get_bundle(name=sys.argv[1], version=sys.argv[2])
t3 = time.time()
b.initialize()
t4 = time.time()
total = 0
for d, _, files in os.walk(os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH"]):
    total += sum(os.path.getsize(os.path.join(d, f)) for f in files if not os.path.islink(os.path.join(d, f)))
print(json.dumps({"airflowImport": t1 - t0, "gitProviderImport": t2 - t1, "getBundle": t3 - t2, "initialize": t4 - t3, "storageBytes": total, "path": str(b.path)}))
`;

interface RunTimes {
  runId: string;
  pod: string;
  bundleVersion: string;
  kubeletSeen: number;
  processStarted: number;
  taskRunning: number;
  taskProcessStarted: number;
  cloneBareLogged?: number;
  dagBagFilling?: number;
  bodyStart: number;
  taskDone: number;
  bundleEntries: string[];
  bundleBytes: number;
  file: string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const r2 = (x: number) => Math.round(x * 100) / 100;

/** An ISO timestamp of Airflow's (microseconds, an offset) in host seconds. */
function airflowTime(iso: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$/.exec(iso);
  if (!m) return Date.parse(iso) / 1000;
  return Date.parse(`${m[1]}${m[3] ?? 'Z'}`) / 1000 + (m[2] ? Number(m[2]) : 0);
}

/** The runtime kubelet's events (events.jsonl) of one pod: when it first acted on it, when container base started. */
function kubeletTimes(pod: string): { seen?: number; started?: number } {
  if (active.kubelet.real) {
    // The real node: the kubelet's first Event of the pod (whole seconds), and when the recorder saw base running.
    const events = kubectlJson(['get', 'events', '-n', active.chain.ns, '--field-selector', `involvedObject.name=${pod}`]).items.filter((e: any) => e.source?.component === 'kubelet');
    const times = events.map((e: any) => Date.parse(e.firstTimestamp ?? e.eventTime) / 1000);
    const rec = active.kubelet.record(active.chain.ns, pod, 'base');
    return { seen: times.length ? Math.min(...times) : undefined, started: rec ? Date.parse(rec.startedAt) / 1000 : undefined };
  }
  const file = path.join(active.kubelet.state, 'events.jsonl');
  let seen: number | undefined;
  let started: number | undefined;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes(`"${active.chain.ns}/${pod}"`)) continue;
    const e = JSON.parse(line);
    seen ??= e.t;
    if (e.event === 'start' && e.container === 'base') started ??= e.t;
  }
  return { seen, started };
}

/** The task pod the kubelet first saw after `since` (host seconds): the executor names it after the DAG and task. */
function taskPodSeenAfter(since: number): string | undefined {
  if (active.kubelet.real) {
    const prefix = DAG.replace(/_/g, '-');
    return active.kubelet.records().find((r) => r.namespace === active.chain.ns && r.pod.startsWith(prefix) && Date.parse(r.startedAt) / 1000 >= since)?.pod;
  }
  const file = path.join(active.kubelet.state, 'events.jsonl');
  const prefix = `${active.chain.ns}/${DAG.replace(/_/g, '-')}`;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes(`"${prefix}`)) continue;
    const e = JSON.parse(line);
    if (e.t >= since) return String(e.pod).split('/')[1];
  }
  return undefined;
}

/** The host folder of one of the chart's volumes (data-storage, logs-storage). */
function volumeDir(component: string): string {
  const pv = active.chain.objectsOf('PersistentVolume').find((v) => v.metadata.labels?.['app.kubernetes.io/component'] === component);
  return active.kubelet.hostPath(pv.spec.hostPath.path);
}

/** The task log's lines (JSON, one event a line) of one run's task. */
function taskLog(runId: string): { t: number; event: string }[] {
  const dir = path.join(volumeDir('logs-storage'), `dag_id=${DAG}`, `run_id=${runId}`, `task_id=${TASK}`);
  if (!fs.existsSync(dir)) return [];
  const lines: { t: number; event: string }[] = [];
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.log'))) {
    for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      try {
        const e = JSON.parse(line);
        if (e.timestamp && e.event) lines.push({ t: airflowTime(e.timestamp), event: String(e.event) });
      } catch {
        // not a JSON line
      }
    }
  }
  return lines;
}

async function measureRun(): Promise<RunTimes> {
  const api = await active.chain.loggedIn();
  await waitForAsync('no task pod left from the previous run', 120_000, () => active.chain.pods('kubernetes_executor=True').length === 0);
  const trigger = Date.now() / 1000;
  const runId = await active.chain.trigger(DAG);
  const end = await active.chain.runEnd(DAG, 300_000);
  const podName = active.chain.taskPodsOf(DAG)[0]?.metadata.name ?? taskPodSeenAfter(trigger);
  if (end.state !== 'success' || end.tasks[TASK] !== 'success') {
    const log = podName ? (active.chain.taskLog(podName) ?? '').split('\n').slice(-15).join('\n') : '(no task pod captured)';
    throw new Error(`DAG run ${runId}: ${end.state}, task ${TASK}: ${end.tasks[TASK]}\n${log}`);
  }
  const run = await api.ok('GET', `/dags/${DAG}/dagRuns/${encodeURIComponent(runId)}`);
  const ti = await api.ok('GET', `/dags/${DAG}/dagRuns/${encodeURIComponent(runId)}/taskInstances/${TASK}`);
  const safe = runId.replace(/[^A-Za-z0-9_.-]+/g, '_');
  const probe = JSON.parse(fs.readFileSync(path.join(volumeDir('data-storage'), `${DAG}-${safe}.json`), 'utf8'));
  if (!podName) throw new Error(`no task pod of ${runId} in the kubelet's events`);
  const k = kubeletTimes(podName);
  const log = taskLog(runId);
  const rel = (t: number | undefined) => (t === undefined ? undefined : r2(t - trigger));
  return {
    runId,
    pod: podName,
    bundleVersion: run.bundle_version,
    kubeletSeen: rel(k.seen)!,
    processStarted: rel(k.started)!,
    taskRunning: rel(airflowTime(ti.start_date))!,
    taskProcessStarted: rel(probe.taskProcessStarted)!,
    cloneBareLogged: rel(log.find((l) => l.event.startsWith('Cloning bare repository'))?.t),
    dagBagFilling: rel(log.find((l) => l.event.startsWith('Filling up the DagBag'))?.t),
    bodyStart: rel(probe.bodyStart)!,
    taskDone: rel(airflowTime(ti.end_date))!,
    bundleEntries: probe.bundleEntries,
    bundleBytes: probe.bundleBytes,
    file: probe.file,
  };
}

/** p50 of the runs' phases, in seconds (after the trigger unless said). */
function summarize(runs: RunTimes[]) {
  const p50 = (f: (r: RunTimes) => number | undefined) => r2(median(runs.map(f).filter((x): x is number => x !== undefined)));
  return {
    runs: runs.length,
    taskPodBundleBytes: p50((r) => r.bundleBytes),
    p50Seconds: {
      triggerToProcessStarted: p50((r) => r.processStarted),
      triggerToTaskRunning: p50((r) => r.taskRunning),
      triggerToBodyStart: p50((r) => r.bodyStart),
      triggerToTaskDone: p50((r) => r.taskDone),
      processStartedToTaskRunning: p50((r) => r.taskRunning - r.processStarted),
      processStartedToBodyStart: p50((r) => r.bodyStart - r.processStarted),
      taskRunningToBodyStart: p50((r) => r.bodyStart - r.taskRunning),
      taskProcessStartedToBodyStart: p50((r) => r.bodyStart - r.taskProcessStarted),
      taskProcessStartedToDagBagFilling: p50((r) => (r.dagBagFilling === undefined ? undefined : r.dagBagFilling - r.taskProcessStarted)),
      cloneBareLoggedToDagBagFilling: p50((r) => (r.dagBagFilling === undefined || r.cloneBareLogged === undefined ? undefined : r.dagBagFilling - r.cloneBareLogged)),
    },
    samples: runs,
  };
}

/** RUNS runs of the probe after a warm-up, on the active chain. */
async function measureRuns(label: string): Promise<{ warmUp: RunTimes; runs: RunTimes[] }> {
  const warmUp = await measureRun();
  const runs: RunTimes[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await measureRun();
    runs.push(r);
    console.log(`RUNTIME [${label}]: run ${i + 1}/${RUNS} ${r.runId}: ${JSON.stringify(r)}`);
  }
  return { warmUp, runs };
}

const register = (step: Step) => test(step.name, chain.jest(step), step.timeoutMs + 60_000);

describe('runtime: dagBundles (a GitDagBundle from git daemon) on Airflow 3.2, and its cost per task pod', () => {
  chain.hooks({ recordTimings: true });

  // After the kubelet started on its fresh state directory (chain.hooks' beforeAll), before anything is applied: the
  // repository, one commit of dags/dag_bundle_probe.py on main, pushed into a bare repository on the node.
  beforeAll(() => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dag-bundle-'));
    try {
      const git = (...args: string[]) => execFileSync('git', args, { cwd: work, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: work } }).trim();
      git('init', '-q', '-b', 'main');
      fs.mkdirSync(path.join(work, 'dags'));
      fs.writeFileSync(path.join(work, 'dags', `${DAG}.py`), PROBE_DAG);
      git('add', '.');
      git('-c', 'user.name=airflow-cdk8s', '-c', 'user.email=runtime@airflow-cdk8s.invalid', 'commit', '-q', '-m', 'dag_bundle_probe');
      commit = git('rev-parse', 'HEAD');
      const served = kubelet.hostPath(variant.gitHostPath.slice(1));
      fs.mkdirSync(served, { recursive: true });
      const bare = path.join(served, GIT_REPO);
      git('clone', '-q', '--bare', work, bare);
      repoBytes = Number(execFileSync('du', ['-sb', path.join(bare, 'objects')], { encoding: 'utf8' }).split('\t')[0]);
      execFileSync('chown', ['-R', '50000:0', served]);
      console.log(`RUNTIME [dag-bundles]: repository ${GIT_URL}: main at ${commit} (1 commit; the bare repository's objects: ${repoBytes} bytes)`);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }, 120_000);

  test('the chart: dag_bundle_config_list names the GitDagBundle; the connection reaches the dag-processor and the task pods', () => {
    const cfg: string = chain.configMap().data['airflow.cfg'];
    const list = JSON.parse(/^dag_bundle_config_list = (.*)$/m.exec(cfg)![1]);
    expect(list).toEqual([{ name: DAG_BUNDLE_NAME, classpath: 'airflow.providers.git.bundles.git.GitDagBundle', kwargs: { tracking_ref: 'main', subdir: 'dags', git_conn_id: 'git_runtime_dags' } }]);
    const conn = { name: 'AIRFLOW_CONN_GIT_RUNTIME_DAGS', valueFrom: { secretKeyRef: { name: 'git-dags', key: 'connection' } } };
    expect(chain.deployment('dag-processor').spec.template.spec.containers[0].env).toContainEqual(conn);
    expect(chain.configMap().data['pod_template_file.yaml']).toContain('AIRFLOW_CONN_GIT_RUNTIME_DAGS');
  });

  test(`the chart shares nothing with another suite's: namespace ${NAMESPACE}, its volumes ${NAMESPACE}-*-volume and the repository on /data/${NAMESPACE}`, () => {
    expect(chain.ns).toBe(NAMESPACE);
    expect(chain.objectsOf('PersistentVolume').map((pv) => pv.metadata.name).sort()).toEqual(
      ['dags', 'data', 'logs', 'postgres', 'postgres-keys'].map((v) => `${NAMESPACE}-${v}-volume`).sort(),
    );
    expect(variant.gitHostPath).toBe(`/data/${NAMESPACE}/git`);
    // The Git connection's host: the git daemon's Service in this namespace.
    expect(GIT_URL).toBe(`git://${GIT_SERVICE}.${NAMESPACE}.svc.cluster.local:9418/${GIT_REPO}`);
    const secret = chain.objectsOf('Secret').find((o) => o.metadata.name === 'git-dags');
    expect(JSON.parse(secret.stringData.connection).host).toBe(GIT_URL);
    expect(outsideOwnNamespace(variant, NAMESPACE)).toEqual([]);
  });

  for (const name of names.slice(0, UP_TO)) register(steps[name]);

  register({
    name: `git daemon serves the repository: git ls-remote ${GIT_URL} from the dag-processor pod gives main's commit`,
    components: ['dag-processor'],
    blocking: true,
    timeoutMs: 180_000,
    run: async () => {
      const pod = chain.podOf('dag-processor').metadata.name;
      const out = await waitForAsync('git ls-remote to answer', 120_000, () => {
        const r = kubelet.exec(chain.ns, pod, 'dag-processor', ['git', 'ls-remote', GIT_URL, 'main'], 30);
        return r.code === 0 ? r.output : undefined;
      });
      expect(out.trim().split(/\s+/)).toEqual([commit, 'refs/heads/main']);
    },
  });

  register({
    name: `the dag-processor parses ${DAG} from bundle ${DAG_BUNDLE_NAME} at main's commit, with no import errors`,
    components: ['dag-processor'],
    blocking: true,
    timeoutMs: 300_000,
    run: async () => {
      const api = await chain.loggedIn();
      const dag = await waitForAsync(`${DAG} in the REST API`, 240_000, async () => {
        const r = await api.call('GET', `/dags/${DAG}`);
        return r.status === 200 ? r.body : undefined;
      }, async () => JSON.stringify(await api.ok('GET', '/importErrors')), 3000);
      expect(dag.bundle_name).toBe(DAG_BUNDLE_NAME);
      expect(dag.bundle_version).toBe(commit);
      expect((await api.ok('GET', '/importErrors')).import_errors).toEqual([]);
      await api.ok('PATCH', `/dags/${DAG}`, { is_paused: false });
    },
  });

  register({
    name: `${DAG}: ${RUNS} runs after a warm-up, each task pod clones the bundle at the run's version and succeeds; start times measured`,
    components: ['scheduler', 'worker'],
    blocking: false,
    timeoutMs: (RUNS + 1) * 360_000,
    run: async () => {
      const { warmUp, runs } = await measureRuns('dag-bundles');
      for (const r of [warmUp, ...runs]) {
        // each run kept the commit it started with, and its task read the DAG from its own clone of that version
        expect(r.bundleVersion).toBe(commit);
        expect(r.file).toBe(`/tmp/airflow/dag_bundles/${DAG_BUNDLE_NAME}/versions/${commit}/dags/${DAG}.py`);
        expect(r.bundleEntries).toEqual(['bare', 'versions']);
        expect(r.cloneBareLogged).toBeDefined();
      }
      const summary = { ...summarize(runs), commit, repositoryBytes: repoBytes, warmUp };
      console.log(`RUNTIME [dag-bundles]: p50 of ${RUNS} runs (seconds after the trigger unless said): ${JSON.stringify(summary.p50Seconds)}; the task pod's bundle folder ${summary.taskPodBundleBytes} bytes (repository ${repoBytes})`);
      recordRuntime(['dagBundles', 'taskRuns'], summary);
    },
  });

  register({
    name: `the bundle's initialisation alone, as the task runner does it, ${RUNS} times in the dag-processor pod (fresh process, fresh storage path)`,
    components: ['dag-processor'],
    blocking: false,
    timeoutMs: RUNS * 120_000,
    run: async () => {
      const pod = chain.podOf('dag-processor').metadata.name;
      const samples: any[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t0 = Date.now();
        const r = kubelet.exec(chain.ns, pod, 'dag-processor', ['python3', '-c', INIT_SCRIPT, DAG_BUNDLE_NAME, commit], 120);
        const wall = (Date.now() - t0) / 1000;
        if (r.code !== 0) throw new Error(`the bundle's initialize() exited ${r.code}:\n${r.output.slice(-3000)}`);
        const s = JSON.parse(r.output.trim().split('\n').pop()!);
        expect(s.path).toMatch(new RegExp(`/${DAG_BUNDLE_NAME}/versions/${commit}/dags$`));
        samples.push({ ...s, processWall: wall });
      }
      const p50 = (k: string) => r2(median(samples.map((s) => s[k])));
      const summary = {
        runs: RUNS,
        p50Seconds: { airflowImport: p50('airflowImport'), gitProviderImport: p50('gitProviderImport'), getBundle: p50('getBundle'), initialize: p50('initialize'), processWall: p50('processWall') },
        storageBytes: p50('storageBytes'),
        samples,
      };
      console.log(`RUNTIME [dag-bundles]: the bundle's initialisation alone, p50 of ${RUNS}: ${JSON.stringify(summary.p50Seconds)}; ${summary.storageBytes} bytes in the storage path`);
      recordRuntime(['dagBundles', 'initialize'], summary);
    },
  });

  // As the other suites of the real node: after the clones of every run, no container restarted, and what the kernel
  // charged each running container (the dag-processor's clones included) stays under 80% of its limit, no OOM kill.
  register(steps['no container restarted, and the scheduler log has no RBAC denial']);
  if (kubelet.real) register(chain.cgroupMemoryStep(chain.components()));
});

