#!/usr/bin/env node
// npm run bench: how fast `cdk8s synth` is against the CLI's own floor, how long the test suite takes, what
// the default deployment costs on a minikube node, and how synth time grows with the chart.
//
//   BENCH_RUNS=5        runs per timing (median/min/max)
//   BENCH_TEST_RUNS=3   runs of the test suite (it takes seconds; 0 skips it)
//   BENCH_NODE_CPU=2 BENCH_NODE_MEMORY=4Gi   the node the footprint is fitted on
//   BENCH_WRITE=1       also rewrite docs/benchmark.md with the results
//   BENCH_START_LATENCY=0  do not measure the task start latency on the real Airflow (it needs root and takes
//                       10-20 minutes, under the machine-wide runtime lock); print the last measurement instead
//   BENCH_LATENCY_RUNS=5   measured runs per DAG and setting (after one warm-up run)
//   BENCH_API_WORKERS=0    do not measure the api-server's memory with [api] workers = 2 and 1 on the real Airflow
//                       (test/runtime/api-workers.bench.ts: root, about 10 minutes under the runtime lock); print
//                       the last measurement instead
//   BENCH_TRADEOFF=0       do not run the executor trade-off (test/runtime/executor-tradeoff.bench.ts: the
//                       KubernetesExecutor against one Celery worker on 40 and 20 short tasks; root, about 15
//                       minutes under the runtime lock); print the last measurement instead
//   BENCH_TRADEOFF_REAL=0  do not run the executor trade-off on the real node (the same file with
//                       AIRFLOW_CDK8S_RUNTIME_NODE=real: first the single task's start path, start_latency_one
//                       BENCH_TRADEOFF_SINGLE_RUNS (7) times, then the two DAGs on dist/ and on a Celery app; root,
//                       the KubernetesExecutor half alone 23 minutes under the runtime lock at a load of 6-23); print
//                       the last measurement instead
//   BENCH_TRADEOFF_STOP_AT=<ISO time>  no run of the real-node trade-off starts after it (the runs so far are kept)
//   BENCH_TRADEOFF_VARIANTS=kubernetes,celery BENCH_TRADEOFF_DAGS=executor_tradeoff_forty,executor_tradeoff_fanout
//                       the executors and DAGs of either trade-off run (fewer for a short run)
//   BENCH_PULL=0           do not measure the task start path on the real node with the image absent, present and
//                       after ImagePrePull (test/runtime/real-node-pull.bench.ts: root, the real node, about 5
//                       minutes under the runtime lock); print the last measurement instead
//   BENCH_PULL_RUNS=3      repetitions of each case
//   BENCH_TASK_CPU=0       do not measure the task pod's CPU and memory and its CPU request under contention on the
//                       real node (test/runtime/real-node-task-cpu.bench.ts: root, the real node, 9 minutes measured
//                       under the runtime lock); print the last measurement instead
//   BENCH_TASK_CPU_RUNS=3 BENCH_TASK_CPU_FANOUT_RUNS=3   runs of write_to_data_volume, rounds of the four-task fan-out
//   BENCH_TASK_CPU_VARIANTS=default,1cpu   the fan-out's CPU requests (default = the chart's 100m; 250m; 1cpu)
//
// Timings are wall-clock from this process (spawnSync), so they include node start-up, like a user's.
'use strict';
const childProcess = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const YAML = require('yaml');

const ROOT = path.resolve(__dirname, '..');
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS || 5));
const TEST_RUNS = Math.max(0, Number(process.env.BENCH_TEST_RUNS ?? 3));
const CLI = path.join(ROOT, 'node_modules', 'cdk8s-cli', 'bin', 'cdk8s');
const SCALE_STEPS = [0, 10, 50, 200];

// ---------------------------------------------------------------- helpers

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1], n: s.length };
}

function fmt(st, unit = 'ms') {
  const f = (v) => (unit === 's' ? (v / 1000).toFixed(2) : v.toFixed(0));
  return `${f(st.median)} ${unit} (min ${f(st.min)}, max ${f(st.max)}, n=${st.n})`;
}

function timeCommand(command, args, options = {}, allowFailure = false) {
  const t0 = process.hrtime.bigint();
  const r = childProcess.spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (allowFailure) return { ms, stdout: r.stdout, stderr: r.stderr, status: r.status };
  if (r.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  return { ms, stdout: r.stdout };
}

function repeat(n, fn) {
  fn(); // warm-up: file cache, transpile cache
  return stats(Array.from({ length: n }, () => fn()));
}

/**
 * Times several commands round-robin (one warm-up each, then n rounds of each in turn), so that a slow phase
 * of a shared machine weighs on all of them alike instead of on whichever ran during it.
 */
function interleaved(n, fns) {
  fns.forEach((fn) => fn());
  const samples = fns.map(() => []);
  for (let round = 0; round < n; round++) fns.forEach((fn, i) => samples[i].push(fn()));
  return samples.map(stats);
}

/** CPU in millicores, memory in bytes; undefined when absent. */
function cpuMilli(q) {
  if (q === undefined || q === null) return undefined;
  const s = String(q);
  return s.endsWith('m') ? Number(s.slice(0, -1)) : Number(s) * 1000;
}

function bytes(q) {
  if (q === undefined || q === null) return undefined;
  const m = /^([0-9.]+)([EPTGMK]i?|[mk]|e[0-9]+)?$/.exec(String(q));
  if (!m) return undefined;
  const factors = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, m: 1e-3 };
  return Number(m[1]) * (m[2] ? factors[m[2]] ?? 1 : 1);
}

const mi = (b) => `${Math.round(b / 2 ** 20)}Mi`;
const cpu = (m) => `${Math.round(m)}m`;

// ---------------------------------------------------------------- machine

function machine() {
  const cpuModel = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m) || [])[1] || os.cpus()[0]?.model;
  let free = '';
  try {
    free = childProcess.execFileSync('free', ['-h'], { encoding: 'utf8' }).split('\n')[1].trim().replace(/\s+/g, ' ');
  } catch {
    free = `${Math.round(os.totalmem() / 2 ** 30)}Gi total`;
  }
  const pkg = (name) => JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  return {
    nproc: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
    cpuModel,
    free,
    loadavg: os.loadavg().map((l) => l.toFixed(2)).join(' '),
    node: process.version,
    cdk8sCli: pkg('cdk8s-cli'),
    typescript: pkg('typescript'),
  };
}

// ---------------------------------------------------------------- synth timings

/** The floor: the same CLI synthesizing a one-object, precompiled JavaScript app. */
function floorApp() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk8s-floor-'));
  fs.writeFileSync(
    path.join(dir, 'app.js'),
    [
      `const { App, Chart, ApiObject } = require(${JSON.stringify(path.join(ROOT, 'node_modules', 'cdk8s'))});`,
      'const app = new App();',
      "new ApiObject(new Chart(app, 'floor'), 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'floor' } });",
      'app.synth();',
    ].join('\n'),
  );
  fs.writeFileSync(path.join(dir, 'cdk8s.yaml'), 'language: javascript\napp: node app.js\noutput: dist\n');
  return dir;
}

function cliSynth(cwd, outdir, extra = []) {
  return () => timeCommand(process.execPath, [CLI, 'synth', '--no-check-upgrade', '-o', outdir, ...extra], { cwd, env: { ...process.env, CDK8S_CHECK_UPGRADE: 'false' } }).ms;
}

/** Inside one fresh node process: require the library, build the chart, synthesize. */
const INPROCESS = `
const t0 = process.hrtime.bigint();
const ms = (t) => Number(t - t0) / 1e6;
require(${JSON.stringify(path.join(ROOT, 'scripts', 'app.js'))}).register();
const { App } = require('cdk8s');
const lib = require(${JSON.stringify(path.join(ROOT, 'lib'))});
const t1 = process.hrtime.bigint();
const extra = Number(process.env.BENCH_EXTRA_VOLUMES || 0);
const app = new App({ outdir: process.env.BENCH_OUTDIR });
const chart = new lib.AirflowChart(app, 'airflow');
for (let i = 0; i < extra; i++) chart.volumes.addVolume({ name: 'extra' + i });
const t2 = process.hrtime.bigint();
app.synth();
const t3 = process.hrtime.bigint();
const objects = chart.node.findAll().filter((c) => c.constructor && typeof c.toJson === 'function').length;
console.log(JSON.stringify({ load: ms(t1), construct: Number(t2 - t1) / 1e6, synth: Number(t3 - t2) / 1e6, total: ms(t3), objects }));
`;

function inProcess(outdir, extraVolumes = 0) {
  const r = timeCommand(process.execPath, ['-e', INPROCESS], {
    cwd: ROOT,
    env: { ...process.env, BENCH_OUTDIR: outdir, BENCH_EXTRA_VOLUMES: String(extraVolumes) },
  });
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function repeatInProcess(n, outdir, extra = 0) {
  inProcess(outdir, extra);
  const samples = Array.from({ length: n }, () => inProcess(outdir, extra));
  const pick = (k) => stats(samples.map((s) => s[k]));
  return { load: pick('load'), construct: pick('construct'), synth: pick('synth'), total: pick('total'), objects: samples[0].objects };
}

function linearFit(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { slope, intercept, r2 };
}

// ---------------------------------------------------------------- footprint

// The minikube node and its control plane (kube-system) requests, as a kubeadm cluster sets them:
// kube-apiserver 250m, kube-controller-manager 200m, kube-scheduler 100m (kubeadm's static pod manifests),
// etcd 100m/100Mi, CoreDNS 100m/70Mi (limit 170Mi); kube-proxy and storage-provisioner request nothing.
const CONTROL_PLANE = [
  { name: 'kube-apiserver', cpu: 250, memory: 0 },
  { name: 'kube-controller-manager', cpu: 200, memory: 0 },
  { name: 'kube-scheduler', cpu: 100, memory: 0 },
  { name: 'etcd', cpu: 100, memory: 100 * 2 ** 20 },
  { name: 'coredns', cpu: 100, memory: 70 * 2 ** 20 },
];

/** The scheduler's view of a pod: max(largest init container, sum of containers), per resource. */
function podResources(spec, kind) {
  const sum = (containers, resource) => {
    let total = 0;
    let unbounded = false;
    for (const c of containers || []) {
      const v = (c.resources || {})[kind]?.[resource];
      const n = resource === 'cpu' ? cpuMilli(v) : bytes(v);
      if (n === undefined) unbounded = true;
      else total += n;
    }
    return { total, unbounded };
  };
  const out = {};
  for (const resource of ['cpu', 'memory']) {
    const main = sum(spec.containers, resource);
    let initMax = 0;
    let initUnbounded = false;
    for (const c of spec.initContainers || []) {
      const v = (c.resources || {})[kind]?.[resource];
      const n = resource === 'cpu' ? cpuMilli(v) : bytes(v);
      if (n === undefined) initUnbounded = true;
      else initMax = Math.max(initMax, n);
    }
    out[resource] = Math.max(main.total, initMax);
    out[`${resource}Missing`] = main.unbounded || initUnbounded;
  }
  return out;
}

function footprint(objects) {
  const nodeCpu = cpuMilli(process.env.BENCH_NODE_CPU || '2');
  const nodeMemory = bytes(process.env.BENCH_NODE_MEMORY || '4Gi');
  const alwaysOn = objects
    .filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].includes(o.kind))
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))
    .map((o) => {
      const replicas = o.kind === 'DaemonSet' ? 1 : o.spec?.replicas ?? 1;
      const spec = o.spec?.template?.spec || {};
      return { kind: o.kind, name: o.metadata.name, replicas, requests: podResources(spec, 'requests'), limits: podResources(spec, 'limits') };
    });
  const total = (k, r) => alwaysOn.reduce((acc, w) => acc + w.replicas * w[k][r], 0);
  const missing = (k, r) => alwaysOn.filter((w) => w[k][`${r}Missing`]).map((w) => w.name);
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name === 'airflow-config');
  const templateText = cm?.data?.['pod_template_file.yaml'];
  let worker;
  if (templateText) {
    const pod = YAML.parse(templateText);
    worker = { requests: podResources(pod.spec || {}, 'requests'), limits: podResources(pod.spec || {}, 'limits') };
  }
  const cp = { cpu: CONTROL_PLANE.reduce((a, c) => a + c.cpu, 0), memory: CONTROL_PLANE.reduce((a, c) => a + c.memory, 0) };
  const free = { cpu: nodeCpu - cp.cpu - total('requests', 'cpu'), memory: nodeMemory - cp.memory - total('requests', 'memory') };
  let fit;
  if (worker && worker.requests.cpu > 0 && worker.requests.memory > 0) {
    const byCpu = Math.floor(free.cpu / worker.requests.cpu);
    const byMemory = Math.floor(free.memory / worker.requests.memory);
    fit = { byCpu: Math.max(0, byCpu), byMemory: Math.max(0, byMemory), pods: Math.max(0, Math.min(byCpu, byMemory)) };
  }
  return {
    node: { cpu: nodeCpu, memory: nodeMemory },
    controlPlane: cp,
    alwaysOn,
    pods: alwaysOn.reduce((a, w) => a + w.replicas, 0),
    requests: { cpu: total('requests', 'cpu'), memory: total('requests', 'memory') },
    limits: { cpu: total('limits', 'cpu'), memory: total('limits', 'memory') },
    missingRequests: [...new Set([...missing('requests', 'cpu'), ...missing('requests', 'memory')])],
    missingLimits: [...new Set([...missing('limits', 'cpu'), ...missing('limits', 'memory')])],
    worker,
    free,
    fit,
  };
}

function readObjects(dir) {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJSON()))
    .filter(Boolean);
}

// ---------------------------------------------------------------- main

function main() {
  const lines = [];
  const say = (s = '') => {
    lines.push(s);
    console.log(s);
  };
  const m = machine();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'airflow-bench-'));
  const floorDir = floorApp();
  try {
    say(`## Machine`);
    say();
    say(`- CPU: ${m.cpuModel}, nproc ${m.nproc}; load average at start ${m.loadavg}`);
    say(`- Memory (free -h): ${m.free}`);
    say(`- node ${m.node}, cdk8s-cli ${m.cdk8sCli}, typescript ${m.typescript}; ${RUNS} runs per timing after one warm-up; the CLI synths run round-robin`);
    say();

    const synths = [
      cliSynth(floorDir, path.join(floorDir, 'dist')),
      cliSynth(ROOT, path.join(work, 'dist')),
      cliSynth(ROOT, path.join(work, 'dist-nv'), ['--no-validate']),
    ];
    if (fs.existsSync(path.join(ROOT, 'build', 'main.js'))) {
      synths.push(cliSynth(ROOT, path.join(work, 'dist-pre'), ['-a', 'node build/main.js']));
    }
    const [floor, ours, noValidate, precompiled] = interleaved(RUNS, synths);
    const app = repeatInProcess(RUNS, path.join(work, 'inproc'));
    say(`## Synth`);
    say();
    say('| What | median (min, max) |');
    say('| --- | --- |');
    say(`| CLI floor: \`cdk8s synth\` of a one-object precompiled app | ${fmt(floor)} |`);
    say(`| \`cdk8s synth\` of this project (app \`node scripts/app.js\`, from source) | ${fmt(ours)} |`);
    say(`| the same with \`--no-validate\` (without the \`validations:\` plugins of cdk8s.yaml) | ${fmt(noValidate)} |`);
    if (precompiled) say(`| \`cdk8s synth -a 'node build/main.js'\` (precompiled; stale after an edit without \`npm run build\`) | ${fmt(precompiled)} |`);
    say(`| ratio to the floor (medians; the target is at most 1.30): with validations / without | ${(ours.median / floor.median).toFixed(2)} / ${(noValidate.median / floor.median).toFixed(2)} |`);
    say(`| inside the app: loading cdk8s, cdk8s-plus and lib/ | ${fmt(app.load)} |`);
    say(`| inside the app: \`new AirflowChart\` | ${fmt(app.construct)} |`);
    say(`| inside the app: \`app.synth()\` (validation, YAML, write) | ${fmt(app.synth)} |`);
    say(`| inside the app: all of the above | ${fmt(app.total)} |`);
    say();

    if (TEST_RUNS > 0) {
      const jestBin = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
      const tscBin = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      // Timed even when something fails (the time is what is measured); failures are reported.
      const failures = new Set();
      const timed = (name, args) => () => {
        const r = timeCommand(process.execPath, args, { cwd: ROOT }, true);
        if (r.status !== 0) {
          const summary = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /^(Tests:|Test Suites:)|error TS/.test(l.trim())).slice(0, 5).join('; ');
          failures.add(`${name} exited ${r.status}${summary ? ` (${summary.trim()})` : ''}`);
        }
        return r.ms;
      };
      const tsc = repeat(TEST_RUNS, timed('tsc', [tscBin, '-p', 'tsconfig.json', '--noEmit']));
      const lint = repeat(TEST_RUNS, timed('lint', [path.join(ROOT, 'scripts', 'lint.js')]));
      const jest = repeat(TEST_RUNS, timed('jest', ['--no-opt', jestBin, '--silent']));
      const all = repeat(TEST_RUNS, timed('npm test', [path.join(ROOT, 'scripts', 'test.js'), '--silent']));
      say('## Tests');
      say();
      say('| What | median (min, max) |');
      say('| --- | --- |');
      say(`| type check \`tsc -p tsconfig.json --noEmit\` (incremental; nothing changed) | ${fmt(tsc, 's')} |`);
      say(`| ESLint \`scripts/lint.js\` (content cache; nothing changed) | ${fmt(lint, 's')} |`);
      say(`| \`jest\` (unit and snapshot suite, ts-jest isolatedModules, \`node --no-opt\` as in npm test) | ${fmt(jest, 's')} |`);
      say(`| \`npm test\` (\`scripts/test.js\`: the three side by side; the target is at most 10 s) | ${fmt(all, 's')} |`);
      say();
      for (const f of failures) say(`Not green while measured: ${f}.`);
      if (failures.size) say();
    }

    const objects = readObjects(path.join(work, 'dist'));
    const f = footprint(objects);
    say('## Footprint of the default deployment');
    say();
    say(`From the freshly synthesized default chart (the same YAML as \`dist/\`): ${objects.length} objects.`);
    say();
    say('| Always-on workload | Replicas | CPU request | Memory request | CPU limit | Memory limit |');
    say('| --- | --- | --- | --- | --- | --- |');
    for (const w of f.alwaysOn) {
      say(`| ${w.kind} ${w.name} | ${w.replicas} | ${cpu(w.requests.cpu)} | ${mi(w.requests.memory)} | ${cpu(w.limits.cpu)} | ${mi(w.limits.memory)} |`);
    }
    say(`| **total: ${f.pods} always-on pods** | | **${cpu(f.requests.cpu)}** | **${mi(f.requests.memory)}** | **${cpu(f.limits.cpu)}** | **${mi(f.limits.memory)}** |`);
    say();
    if (f.missingRequests.length) say(`Workloads with a container without requests (counted as 0): ${f.missingRequests.join(', ')}.`);
    if (f.missingLimits.length) say(`Workloads with a container without limits (unbounded; counted as 0 above): ${f.missingLimits.join(', ')}.`);
    if (f.missingRequests.length || f.missingLimits.length) say();
    if (f.worker) {
      say(`Worker pod (one per running task, from \`pod_template_file.yaml\`): requests ${cpu(f.worker.requests.cpu)} CPU, ${mi(f.worker.requests.memory)}; limits ${cpu(f.worker.limits.cpu)} CPU, ${mi(f.worker.limits.memory)}.`);
    } else {
      say('Worker pod: n/a (no ConfigMap `airflow-config` with `pod_template_file.yaml` in the chart).');
    }
    say();
    say(`On a ${cpu(f.node.cpu)} CPU / ${mi(f.node.memory)} node (assumed allocatable = capacity, as \`scripts/local-control-plane.sh add-node\` models a`);
    say(`default \`minikube start --cpus 2 --memory 4096\` node), beside the control plane's requests (${CONTROL_PLANE.map((c) => `${c.name} ${cpu(c.cpu)}${c.memory ? `/${mi(c.memory)}` : ''}`).join(', ')};`);
    say(`total ${cpu(f.controlPlane.cpu)} CPU, ${mi(f.controlPlane.memory)}) and the always-on pods: ${cpu(f.free.cpu)} CPU and ${mi(f.free.memory)} remain for workers.`);
    say();
    if (f.fit) {
      say(`**Concurrent worker pods that fit: ${f.fit.pods}** (by CPU ${f.fit.byCpu}, by memory ${f.fit.byMemory}); the scheduler places pods by requests, so more`);
      say('tasks than this stay Pending until a running one finishes.');
    } else {
      say('**Concurrent worker pods that fit: n/a** (no worker pod template, or it requests no CPU/memory).');
    }
    say();

    const scale = SCALE_STEPS.map((extra) => ({ extra, r: repeatInProcess(RUNS, path.join(work, `scale-${extra}`), extra) }));
    const xs = scale.map((s) => s.extra);
    const work_ = scale.map((s) => s.r.construct.median + s.r.synth.median);
    const fit = linearFit(xs, work_);
    const predicted200 = fit.intercept + fit.slope * 200;
    const actual200 = work_[work_.length - 1];
    say('## Scaling: extra volumes');
    say();
    say('`chart.volumes.addVolume(...)` N times (each adds a PersistentVolume and a claim), construct + synth inside the app:');
    say();
    say('| Extra volumes | construct + synth (median) | construct | synth | whole process |');
    say('| --- | --- | --- | --- | --- |');
    for (const s of scale) {
      say(`| ${s.extra} | ${(s.r.construct.median + s.r.synth.median).toFixed(0)} ms | ${fmt(s.r.construct)} | ${fmt(s.r.synth)} | ${fmt(s.r.total)} |`);
    }
    say();
    say(`Least-squares line: ${fit.intercept.toFixed(1)} ms + ${fit.slope.toFixed(3)} ms per extra volume, R² = ${fit.r2.toFixed(3)};`);
    say(`at 200 the line predicts ${predicted200.toFixed(0)} ms and the run took ${actual200.toFixed(0)} ms (ratio ${(actual200 / predicted200).toFixed(2)}).`);
    // "Stays linear" means no superlinear growth: a line fitted on the small steps (0, 10, 50 volumes) and
    // extrapolated to 200 must not underestimate the 200-volume run by more than 30%. (R² alone punishes the
    // fixed warm-up cost that makes small runs relatively slower, i.e. growth that is better than linear.)
    const small = scale.filter((s) => s.extra <= 50);
    const smallFit = linearFit(small.map((s) => s.extra), small.map((s) => s.r.construct.median + s.r.synth.median));
    const extrapolated200 = smallFit.intercept + smallFit.slope * 200;
    say(`A line through the 0-50 steps (${smallFit.intercept.toFixed(1)} ms + ${smallFit.slope.toFixed(3)} ms per volume) extrapolates to ${extrapolated200.toFixed(0)} ms at 200: the run took ${(actual200 / extrapolated200).toFixed(2)}x that.`);
    const linear = actual200 / extrapolated200 <= 1.3;
    say(linear ? 'Growth is linear or better (no superlinear term).' : '**Growth is superlinear (the 200-volume run is > 1.3x the extrapolated line): investigate.**');
    say();

    const runtimeFile = path.join(ROOT, 'build', 'runtime-results.json');
    const apiWorkersFile = path.join(ROOT, 'build', 'api-workers.json');
    const apiWorkers = measureApiWorkers(apiWorkersFile);
    say('## Runtime: memory of the real Airflow');
    say();
    if (fs.existsSync(runtimeFile)) {
      const results = JSON.parse(fs.readFileSync(runtimeFile, 'utf8'));
      // the [api] workers experiments are this benchmark's (test/runtime/api-workers.bench.ts), not the stage's
      if (fs.existsSync(apiWorkersFile)) {
        results.memory = { ...results.memory, apiWorkers: JSON.parse(fs.readFileSync(apiWorkersFile, 'utf8')).apiWorkers };
      }
      for (const l of runtimeReport(results, objects).lines) say(l);
    } else {
      say('No build/runtime-results.json: run `npm run test:runtime` (docs/runtime-tests.md) first.');
    }
    if (!apiWorkers.ok) {
      say(fs.existsSync(apiWorkersFile) ? `The [api] workers rows: not measured now (${apiWorkers.why}), the last measurement.` : `The [api] workers experiments: not measured (${apiWorkers.why}), and no build/api-workers.json from an earlier run.`);
    }
    say();

    // A benchmark of the runtime stage: run it, then print its report, or the last one kept when it did not run.
    const runtimeBench = (heading, name, measure, report) => {
      const file = path.join(ROOT, 'build', name);
      const measured = measure(file);
      say(`## ${heading}`);
      say();
      if (fs.existsSync(file)) {
        if (!measured.ok) say(`Not measured now (${measured.why}); the last measurement:`);
        if (!measured.ok) say();
        for (const l of report(JSON.parse(fs.readFileSync(file, 'utf8')))) say(l);
      } else {
        say(`Not measured (${measured.why}), and no build/${name} from an earlier run.`);
      }
      say();
    };
    runtimeBench('Task start latency on the real Airflow', 'start-latency.json', measureStartLatency, (r) => startLatencyReport(r).lines);
    runtimeBench('The executor trade-off on the real Airflow', 'executor-tradeoff.json', measureExecutorTradeoff, executorTradeoffReport);
    runtimeBench('The executor trade-off on the real node', 'executor-tradeoff-real-node.json', measureExecutorTradeoffRealNode, (r) => [...realNodeStartPathReport(r), '', ...executorTradeoffReport(r)]);
    runtimeBench('The image pull and ImagePrePull on the real node', 'real-node-pull.json', measureRealNodePull, realNodePullReport);
    runtimeBench('The task pod\'s CPU and memory, and its CPU request, on the real node', 'real-node-task-cpu.json', measureRealNodeTaskCpu, taskCpuReport);

    return { text: lines.join('\n'), ratio: ours.median / floor.median, linear };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(floorDir, { recursive: true, force: true });
  }
}

/**
 * The runtime stage's measurements (build/runtime-results.json, written by `npm run test:runtime`) as markdown
 * lines: memory of every component at idle and while a task runs, against the limits of the chart as it is
 * synthesized now (`objects`), flagging every component whose measured RSS is above 80% of its memory limit;
 * the api-server per `[api] workers`; the stage's timings.
 */
function runtimeReport(results, objects) {
  const out = [];
  const memory = results.memory ?? {};
  // keys as the runtime tests record them: "<component>" (main container), "<component>/<init container>"
  const limits = {};
  const mib = (c) => ({ request: bytes(c.resources?.requests?.memory) / 2 ** 20, limit: bytes(c.resources?.limits?.memory) / 2 ** 20 });
  for (const o of objects) {
    if (!['Deployment', 'StatefulSet', 'Job'].includes(o.kind)) continue;
    const component = o.spec.template.metadata?.labels?.['app.kubernetes.io/component'];
    limits[component] = mib(o.spec.template.spec.containers[0]);
    for (const c of o.spec.template.spec.initContainers ?? []) limits[`${component}/${c.name}`] = mib(c);
  }
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.data?.['pod_template_file.yaml']);
  if (cm) limits.worker = mib(YAML.parse(cm.data['pod_template_file.yaml']).spec.containers.find((c) => c.name === 'base'));
  // A task pod has the template's resources unless its task overrides them (pod_override): for tasks, the
  // resources the measured pod really had are recorded; the template's are the fallback.
  const limitsOf = (k, m) =>
    k.startsWith('worker:') && m?.limitMiB ? { request: m.requestMiB, limit: m.limitMiB } : limits[k.startsWith('worker:') ? 'worker' : k] ?? {};
  const peaks = {};
  for (const [name, m] of Object.entries(memory.lifetime ?? {})) peaks[name] = m;
  const components = [...new Set([...Object.keys(memory.idle ?? {}), ...Object.keys(memory.task ?? {}), ...Object.keys(peaks)])].sort();
  const over = [];
  out.push(`Measured ${results.startedAt ?? '?'} on ${results.machine?.cpus ?? '?'} CPUs (load average at start ${(results.machine?.loadAverage ?? []).map((x) => x.toFixed(1)).join(' ')}):`);
  out.push('RSS and PSS summed over every process of the container, in MiB; "peak" is the largest sample; limits and requests');
  out.push('are those of the chart as synthesized now. A component is flagged when its largest measured RSS is above 80% of its limit.');
  out.push('');
  out.push('| Component | idle RSS (PSS) | while a task runs RSS (PSS) | largest RSS seen (PSS) | request | limit | largest RSS / limit |');
  out.push('| --- | --- | --- | --- | --- | --- | --- |');
  for (const k of components) {
    const idle = memory.idle?.[k];
    const task = memory.task?.[k];
    const life = peaks[k];
    const lim = limitsOf(k, life ?? task ?? idle);
    const largest = Math.max(idle?.rssMiB ?? 0, task?.rssMiB ?? 0, life?.rssMiB ?? 0);
    const pssAtLargest = [idle, task, life].filter(Boolean).sort((a, b) => b.rssMiB - a.rssMiB)[0]?.pssMiB;
    const ratio = lim.limit ? Math.round((100 * largest) / lim.limit) : undefined;
    if (ratio !== undefined && ratio > 80) over.push(`${k} (${largest} MiB of ${lim.limit} MiB)`);
    const cell = (m) => (m ? `${m.rssMiB} (${m.pssMiB})` : '-');
    out.push(`| ${k} | ${cell(idle)} | ${cell(task)} | ${largest} (${pssAtLargest ?? '-'}) | ${lim.request ?? '-'}Mi | ${lim.limit ?? '-'}Mi | ${ratio === undefined ? '-' : `${ratio}%${ratio > 80 ? ' **over 80%**' : ''}`} |`);
  }
  out.push('');
  out.push(over.length ? `**Above 80% of the limit: ${over.join(', ')}.**` : 'Every component stays within 80% of its memory limit.');
  out.push('');
  const workers = memory.apiWorkers ?? {};
  if (Object.keys(workers).length || memory.idle?.['api-server']) {
    out.push('api-server by `[api] workers` (one uvicorn process per worker, each with Airflow imported):');
    out.push('');
    out.push('| [api] workers | idle RSS (PSS) | while a task runs RSS (PSS) | processes |');
    out.push('| --- | --- | --- | --- |');
    const rows = { ...workers };
    // the chart's own setting ([api] workers in airflow.cfg as synthesized now; Airflow's default is 4)
    const cfg = objects.find((o) => o.kind === 'ConfigMap' && o.data?.['airflow.cfg'])?.data['airflow.cfg'] ?? '';
    const api = /^\[api\]$([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(cfg)?.[1] ?? '';
    const chartWorkers = /^workers\s*=\s*(\d+)/m.exec(api)?.[1] ?? '4';
    if (memory.idle?.['api-server']) rows[`${chartWorkers} (the chart's default)`] = { idle: memory.idle['api-server'], task: memory.task?.['api-server'] };
    for (const [n, w] of Object.entries(rows)) {
      const idle = w.idle ?? w;
      out.push(`| ${n} | ${idle.rssMiB} (${idle.pssMiB}) | ${w.task ? `${w.task.rssMiB} (${w.task.pssMiB})` : '-'} | ${idle.processes} |`);
    }
    out.push('');
  }
  const t = [];
  if (results.root) t.push(`root ${results.root.cached ? 'cached' : `built in ${results.root.seconds} s`}`);
  if (results.controlPlaneSeconds !== undefined) t.push(`control plane up in ${results.controlPlaneSeconds} s`);
  for (const [id, v] of Object.entries(results.variants ?? {})) t.push(`${id} chain ${v.seconds} s`);
  if (results.jestSeconds !== undefined) t.push(`jest ${results.jestSeconds} s`);
  if (results.stageSeconds !== undefined) t.push(`whole stage ${results.stageSeconds} s`);
  if (t.length) out.push(`Timings: ${t.join(', ')}.`);
  return { lines: out, over };
}

/**
 * Runs a benchmark file of test/runtime through the runtime stage's own script (scripts/test-runtime.sh), which
 * takes the machine-wide runtime lock, builds or reuses the roots, starts the local control plane (and, with
 * `realNode`, the real node and its images); its step output goes to the console. The stage's own results file
 * stays the tests' (their memory): this run writes its stage record to build/<stageResults> and its measurements
 * to `file` (through the environment variable `resultsEnv`). `skipEnv=0` skips it. Returns whether it ran, and
 * why not.
 */
function runRuntimeBench({ skipEnv, title, testMatch, stageResults, resultsEnv, realNode = false }, file) {
  if (process.env[skipEnv] === '0') return { ok: false, why: `${skipEnv}=0` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return { ok: false, why: realNode ? 'the real node needs root' : 'the runtime stage needs root' };
  console.log(`\n== ${title}`);
  const r = childProcess.spawnSync('bash', [path.join(ROOT, 'scripts', 'test-runtime.sh'), '--testMatch', testMatch], {
    cwd: ROOT,
    stdio: 'inherit',
    env: {
      ...process.env,
      // one file at a time: a benchmark runs alone on a node with a minikube node's 4Gi (scripts/test-runtime.sh)
      ...(realNode ? { AIRFLOW_CDK8S_RUNTIME_NODE: 'real', AIRFLOW_CDK8S_RUNTIME_WORKERS: '1' } : {}),
      AIRFLOW_CDK8S_RUNTIME_RESULTS: path.join(ROOT, 'build', stageResults),
      [resultsEnv]: file,
    },
  });
  return r.status === 0 ? { ok: true } : { ok: false, why: `scripts/test-runtime.sh exited ${r.status}` };
}

/** The start-latency benchmark (test/runtime/start-latency.bench.ts): the default chart and one changed setting. */
const measureStartLatency = (file) => runRuntimeBench({
  skipEnv: 'BENCH_START_LATENCY',
  title: 'start latency: the runtime stage (scripts/test-runtime.sh), the default chart and one changed setting',
  testMatch: '**/start-latency.bench.ts',
  stageResults: 'start-latency-stage.json',
  resultsEnv: 'BENCH_LATENCY_RESULTS',
}, file);

/** The [api] workers benchmark (test/runtime/api-workers.bench.ts): the api-server's memory per setting. */
const measureApiWorkers = (file) => runRuntimeBench({
  skipEnv: 'BENCH_API_WORKERS',
  title: '[api] workers: the runtime stage (scripts/test-runtime.sh), the default chart with [api] workers = 2, then 1',
  testMatch: '**/api-workers.bench.ts',
  stageResults: 'api-workers-stage.json',
  resultsEnv: 'BENCH_API_WORKERS_RESULTS',
}, file);

/** The executor trade-off (test/runtime/executor-tradeoff.bench.ts). */
const measureExecutorTradeoff = (file) => runRuntimeBench({
  skipEnv: 'BENCH_TRADEOFF',
  title: 'executor trade-off: the runtime stage (scripts/test-runtime.sh), the KubernetesExecutor, then one Celery worker',
  testMatch: '**/executor-tradeoff.bench.ts',
  stageResults: 'executor-tradeoff-stage.json',
  resultsEnv: 'BENCH_TRADEOFF_RESULTS',
}, file);

/** The same file on the real node: the single task's start path, then the trade-off (issue #24 on the real node). */
const measureExecutorTradeoffRealNode = (file) => runRuntimeBench({
  skipEnv: 'BENCH_TRADEOFF_REAL',
  title: 'executor trade-off on the real node (scripts/test-runtime.sh, AIRFLOW_CDK8S_RUNTIME_NODE=real): one task\'s start path, then the KubernetesExecutor and one Celery worker',
  testMatch: '**/executor-tradeoff.bench.ts',
  stageResults: 'executor-tradeoff-real-node-stage.json',
  resultsEnv: 'BENCH_TRADEOFF_RESULTS',
  realNode: true,
}, file);

/** The image pull on the real node (test/runtime/real-node-pull.bench.ts). */
const measureRealNodePull = (file) => runRuntimeBench({
  skipEnv: 'BENCH_PULL',
  title: 'the image pull on the real node (scripts/test-runtime.sh, AIRFLOW_CDK8S_RUNTIME_NODE=real): absent, present, after ImagePrePull',
  testMatch: '**/real-node-pull.bench.ts',
  stageResults: 'real-node-pull-stage.json',
  resultsEnv: 'BENCH_PULL_RESULTS',
  realNode: true,
}, file);

/** The task pod's CPU and memory and its CPU request on the real node (test/runtime/real-node-task-cpu.bench.ts). */
const measureRealNodeTaskCpu = (file) => runRuntimeBench({
  skipEnv: 'BENCH_TASK_CPU',
  title: 'the task pod\'s CPU and memory and its CPU request on the real node (scripts/test-runtime.sh, AIRFLOW_CDK8S_RUNTIME_NODE=real)',
  testMatch: '**/real-node-task-cpu.bench.ts',
  stageResults: 'real-node-task-cpu-stage.json',
  resultsEnv: 'BENCH_TASK_CPU_RESULTS',
  realNode: true,
}, file);

/** build/real-node-pull.json as markdown lines: one row per case, median (min-max) of the repetitions, seconds. */
function realNodePullReport(results) {
  const out = [];
  const m = results.machine ?? {};
  const runs = results.runs ?? [];
  out.push(`Measured ${results.measuredAt} on ${m.cpus} CPUs (${m.cpuModel}); /proc/loadavg at the start ${m.loadAverageAtStart}, at the end ${m.loadAverageAtEnd ?? '-'}. ${results.image} (${results.imageSize ?? 'size unknown'} in containerd), \`imagePullPolicy: ${results.imagePullPolicy}\`, from ${results.registry}; ${runs.length} repetitions${results.stoppedEarly ? ` (${results.stoppedEarly})` : ''}. API times are whole seconds; the pull is the kubelet's own duration.`);
  out.push('');
  const cell = (xs) => {
    const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
    if (v.length === 0) return '-';
    const st = stats(v);
    return `${st.median.toFixed(1)} (${st.min.toFixed(1)}-${st.max.toFixed(1)})`;
  };
  const cases = [
    ['absent', '(a) image absent'],
    ['present', '(b) image present'],
    ['prePull', '(c) the ImagePrePull pod (its init container), image absent'],
    ['afterPrePull', '(c) then the task pod'],
  ];
  out.push('| case | image | pull, s | scheduled → pulled, s | scheduled → running, s |');
  out.push('| --- | --- | --- | --- | --- |');
  for (const [k, label] of cases) {
    const rs = runs.map((r) => r[k]).filter(Boolean);
    const present = rs.filter((r) => r.alreadyPresent).length;
    out.push(`| ${label} | ${present === rs.length ? 'already present' : present === 0 ? 'pulled' : `${present}/${rs.length} present`} | ${cell(rs.map((r) => r.pullSeconds))} | ${cell(rs.map((r) => r.scheduledToPulled))} | ${cell(rs.map((r) => r.scheduledToRunning))} |`);
  }
  out.push('');
  out.push(`The pre-pull DaemonSet: apply → ready ${cell(runs.map((r) => r.prePull?.appliedToReady))} s.`);
  return out;
}

/**
 * build/real-node-task-cpu.json as markdown lines: the single task pod's CPU and memory, then the four-task
 * fan-out per CPU request; median (min-max) over the runs (fan-out task rows: over every task of every run).
 */
function taskCpuReport(results) {
  const out = [];
  const m = results.machine ?? {};
  const num = (x) => typeof x === 'number' && Number.isFinite(x);
  const cell = (xs, digits = 1) => {
    const v = xs.filter(num);
    if (v.length === 0) return '-';
    const st = stats(v);
    return st.min === st.max ? st.median.toFixed(digits) : `${st.median.toFixed(digits)} (${st.min.toFixed(digits)}-${st.max.toFixed(digits)})`;
  };
  const ok = (runs) => (runs ?? []).filter((r) => r.state === 'success');
  const single = ok(results.single?.runs);
  const node = results.node ?? {};
  out.push(`Measured ${results.measuredAt} on ${m.cpus} CPUs (${m.cpuModel}); /proc/loadavg at the start ${m.loadAverageAtStart}, at the end ${m.loadAverageAtEnd ?? '-'}. The real node (allocatable ${node.allocatableCpu ?? '?'} CPU / ${node.allocatableMemory ?? '?'}; the default chart's pods request ${node.requestedCpuMilliByTheChartsPods ?? '?'}m CPU), cgroups ${results.cgroups ?? '?'}, read every ${results.samplerIntervalSeconds} s (${results.sampler?.samples ?? '?'} samples; the sampler used ${results.sampler?.cpuSeconds ?? '?'} CPU s).`);
  out.push('');
  const t = (r) => r.tasks?.[0] ?? {};
  out.push(`One task pod of the default chart (\`write_to_data_volume\`, requests 100m / 256Mi, limits 1 / 1Gi; ${single.length} runs after a warm-up${results.single?.stoppedEarly ? `; ${results.single.stoppedEarly}` : ''}):`);
  out.push('');
  out.push('| | median (min-max) |');
  out.push('| --- | --- |');
  out.push(`| the pod's CPU time (its cgroup's \`cpuacct.usage\`), s | ${cell(single.map((r) => t(r).cpuSeconds), 2)} |`);
  out.push(`| its peak memory, page cache included (\`memory.max_usage_in_bytes\`), MiB | ${cell(single.map((r) => t(r).peakUsageMiB))} |`);
  out.push(`| its largest sampled RSS (\`total_rss\`), MiB | ${cell(single.map((r) => t(r).peakRssMiB))} |`);
  out.push(`| its largest sampled working set (usage - inactive file), MiB | ${cell(single.map((r) => t(r).peakWorkingSetMiB))} |`);
  out.push(`| the cgroup's life (first to last sample), s | ${cell(single.map((r) => t(r).cgroupSeconds))} |`);
  out.push(`| task scheduled → running / running → done, s | ${cell(single.map((r) => t(r).scheduledToRunning))} / ${cell(single.map((r) => t(r).runningToDone))} |`);
  out.push(`| CFS throttled periods (of periods) | ${single.map((r) => (t(r).throttled ? `${t(r).throttled.throttledPeriods}/${t(r).throttled.periods}` : '-')).join(', ')} |`);
  out.push(`| cpu.shares | ${[...new Set(single.map((r) => t(r).cpuShares))].join(', ')} |`);
  out.push('');
  const variants = (results.fanout?.variants ?? []).filter((v) => (v.runs ?? []).length);
  if (variants.length) {
    out.push(`Four tasks at once (\`task_cpu_fanout_<variant>\`: each task spins until its process has used ${results.fanout.workCpuSeconds} s of CPU; the control plane on the same node; rounds alternate the variants${results.fanout.stoppedEarly ? `; ${results.fanout.stoppedEarly}` : ''}). Task rows: every task of every counted run:`);
    out.push('');
    out.push(`| | ${variants.map((v) => `${v.id}: request ${v.cpuRequest}, runs ${ok(v.runs).length}`).join(' | ')} |`);
    out.push(`| --- | ${variants.map(() => '---').join(' | ')} |`);
    const row = (label, get) => out.push(`| ${label} | ${variants.map((v) => get(ok(v.runs))).join(' | ')} |`);
    const tasks = (runs) => runs.flatMap((r) => r.tasks ?? []);
    row('cpu.shares of a task pod', (runs) => [...new Set(tasks(runs).map((x) => x.cpuShares))].join(', '));
    row('**makespan** (dag run start → end), s', (runs) => cell(runs.map((r) => r.makespan)));
    row('task scheduled → running, s', (runs) => cell(tasks(runs).map((x) => x.scheduledToRunning)));
    row('task pod created → bound (Pending for room), s', (runs) => cell(tasks(runs).map((x) => x.podCreatedToBound)));
    row('task running → done, s', (runs) => cell(tasks(runs).map((x) => x.runningToDone)));
    row('task scheduled → done, s', (runs) => cell(tasks(runs).map((x) => x.scheduledToDone)));
    row('a task pod\'s CPU time, s', (runs) => cell(tasks(runs).map((x) => x.cpuSeconds), 2));
    row('a task pod\'s peak memory (page cache included) / largest RSS, MiB', (runs) => `${cell(tasks(runs).map((x) => x.peakUsageMiB))} / ${cell(tasks(runs).map((x) => x.peakRssMiB))}`);
    row('CFS throttled periods, per task pod', (runs) => cell(tasks(runs).map((x) => x.throttled?.throttledPeriods), 0));
    for (const c of ['scheduler', 'api-server', 'dag-processor', 'triggerer', 'metadata-db']) {
      row(`${c} CPU s, trigger → pods deleted`, (runs) => cell(runs.map((r) => r.controlPlaneCpuSeconds?.[c]), 2));
    }
    row('of the scheduler\'s: the `airflow dags trigger` CLI in its container', (runs) => cell(runs.map((r) => r.triggerCliCpuSeconds), 2));
    row('the node\'s pods\' CPU s / the machine\'s busy CPU s / window s', (runs) => `${cell(runs.map((r) => r.nodePodsCpuSeconds))} / ${cell(runs.map((r) => r.machineBusyCpuSeconds))} / ${cell(runs.map((r) => r.windowSeconds))}`);
    row('load average (1 min) at the trigger', (runs) => runs.map((r) => r.loadavg?.start?.split(' ')[0]).join(', '));
    out.push('');
    const failed = variants.flatMap((v) => (v.runs ?? []).filter((r) => r.state !== 'success').map((r) => `${v.id} round ${r.round ?? '?'}: ${(r.tasks ?? []).filter((x) => x.state !== 'success').length} of ${(r.tasks ?? []).length} tasks not success`));
    if (failed.length) {
      out.push(`**Runs that did not succeed (not counted above): ${failed.join('; ')}.**`);
      out.push('');
    }
  }
  return out;
}

/** The steps of the single task's start path on the real node: label, from, to (fields of a run's `path`, ms after the trigger). */
const START_PATH_STEPS = [
  ['trigger → task instance queued (the scheduler\'s loop)', undefined, 'queued'],
  ['queued → pod created (the executor; the watch)', 'queued', 'podCreated'],
  ['pod created → bound (kube-scheduler)', 'podCreated', 'podBound'],
  ['bound → sandbox created (the kubelet sees the pod; containerd)', 'podBound', 'sandboxCreated'],
  ['sandbox created → started (runc; the network)', 'sandboxCreated', 'sandboxStarted'],
  ['sandbox started → container created', 'sandboxStarted', 'containerCreated'],
  ['container created → started', 'containerCreated', 'containerStarted'],
  ['container started → task running (Python, the imports, ti_run)', 'containerStarted', 'running'],
  ['task running → done (the task\'s own run)', 'running', 'done'],
  ['task done → container exited', 'done', 'containerExited'],
  ['container exited → pod Succeeded in the API', 'containerExited', 'podSucceeded'],
  ['pod Succeeded → pod deleted (the executor)', 'podSucceeded', 'podDeleted'],
];

/** build/executor-tradeoff-real-node.json's single-task runs as markdown lines: each step, p50 / p95 (min-max). */
function realNodeStartPathReport(results) {
  const out = [];
  const v = (results.variants ?? []).find((x) => x.id === 'kubernetes');
  const runs = (v?.single ?? []).filter((r) => r.path);
  if (runs.length === 0) return ['No single-task run on the real node in this measurement.'];
  const s2 = (x) => (x === undefined || !Number.isFinite(x) ? '-' : (x / 1000).toFixed(2));
  const cell = (xs) => {
    const ys = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
    return ys.length ? `${s2(percentile(ys, 50))} / ${s2(percentile(ys, 95))} (${s2(Math.min(...ys))}-${s2(Math.max(...ys))})` : '-';
  };
  const d = (p, a, b) => (b === undefined || p[b] === undefined || (a !== undefined && p[a] === undefined) ? undefined : p[b] - (a === undefined ? 0 : p[a]));
  out.push(`The single task's start path (\`start_latency_one\`, a task that returns at once; the default chart, image present): ${runs.length} runs after a warm-up, one at a time, ${runs.filter((r) => r.state === 'success').length} success. Seconds, p50 / p95 (min-max); the trigger is the machine's clock just before the REST call, the task instance's times are the metadata DB's, the pod's the watch's, the sandbox's and the container's containerd's own events.`);
  out.push('');
  out.push('| step | s, p50 / p95 (min-max) |');
  out.push('| --- | --- |');
  for (const [label, a, b] of START_PATH_STEPS) out.push(`| ${label} | ${cell(runs.map((r) => d(r.path, a, b)))} |`);
  const kubeletShare = runs.map((r) => d(r.path, 'podBound', 'containerStarted'));
  out.push(`| **trigger → task done** | **${cell(runs.map((r) => r.path.done))}** |`);
  out.push(`| of it the node's start of the pod (bound → container started: the kubelet, containerd, runc) | ${cell(kubeletShare)} |`);
  out.push(`| trigger → task done without the node's start (the issue's goal: p50 at most 2 s) | ${cell(runs.map((r, i) => (r.path.done === undefined || kubeletShare[i] === undefined ? undefined : r.path.done - kubeletShare[i])))} |`);
  out.push(`| trigger → pod deleted | ${cell(runs.map((r) => r.path.podDeleted))} |`);
  out.push(`| the task pod's CPU seconds (its cgroup, trigger → pod deleted) | ${(() => { const xs = runs.map((r) => r.cpuSecondsToPodsGone?.taskPods).filter(Number.isFinite); return xs.length ? `${percentile(xs, 50).toFixed(2)} (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})` : '-'; })()} |`);
  return out;
}

/** The p-th percentile (nearest rank) of `xs`. */
function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** One run of test/runtime/executor-tradeoff.bench.ts as the figures of the table (seconds, CPU seconds, MiB). */
function tradeoffFigures(run) {
  const ok = run.tasks.filter((t) => t.state === 'success');
  const q2r = run.tasks.map((t) => t.running - t.queued).filter(Number.isFinite);
  const t2d = run.tasks.map((t) => t.done).filter(Number.isFinite);
  const pods = run.podsCreated ?? [];
  const span = pods.length > 1 ? (pods[pods.length - 1] - pods[0]) / 1000 : undefined;
  return {
    tasks: run.tasks.length,
    makespan: (Date.parse(run.dagRunEnd) - Date.parse(run.dagRunStart)) / 1000,
    q2rP50: percentile(q2r, 50) / 1000,
    q2rP95: percentile(q2r, 95) / 1000,
    t2dP50: percentile(t2d, 50) / 1000,
    t2dP95: percentile(t2d, 95) / 1000,
    pods: pods.length,
    podsPerSecond: span ? pods.length / span : undefined,
    cpu: run.cpuSeconds,
    rss: run.schedulerMaxRssMiB,
    lost: run.tasks.length - ok.length,
    load: run.loadavg,
  };
}

/** build/executor-tradeoff.json as markdown lines: one column per executor and DAG. */
function executorTradeoffReport(results) {
  const out = [];
  const m = results.machine ?? {};
  const realNode = results.node === 'real';
  const n = results.nodeInfo;
  const nodeText = realNode ? ` The real node${n ? ` (${n.kubelet} kubelet, ${n.containerRuntime}, allocatable ${n.allocatable?.cpu} CPU / ${n.allocatable?.memory})` : ''}, every pod of the chart and every task on it.` : '';
  out.push(`Measured ${results.measuredAt} on ${m.cpus} CPUs (${m.cpuModel}); /proc/loadavg at the start ${m.loadAverageAtStart}, at the end ${results.loadAverageAtEnd ?? '-'}.${nodeText} One run of each DAG after one warm-up run of the fan-out; tasks of 1 CPU second each.`);
  out.push('');
  const cols = [];
  for (const v of results.variants ?? []) for (const r of v.runs ?? []) cols.push({ v, r, f: tradeoffFigures(r) });
  const name = (c) => `${{ celery: 'Celery', kubernetes: 'KE' }[c.v.id] ?? c.v.id}, ${c.f.tasks} tasks`;
  const f2 = (x) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(2));
  const row = (label, get) => `| ${label} | ${cols.map((c) => get(c)).join(' | ')} |`;
  out.push(`| | ${cols.map(name).join(' | ')} |`);
  out.push(`| --- | ${cols.map(() => '---').join(' | ')} |`);
  out.push(row('makespan (dag run start → end), s', (c) => f2(c.f.makespan)));
  out.push(row('makespan / (CPU the tasks need / 2 CPUs)', (c) => f2(c.f.makespan / (c.f.tasks / (m.cpus || 2)))));
  out.push(row('queued → running, p50 / p95, s', (c) => `${f2(c.f.q2rP50)} / ${f2(c.f.q2rP95)}`));
  out.push(row('trigger → task done, p50 / p95, s', (c) => `${f2(c.f.t2dP50)} / ${f2(c.f.t2dP95)}`));
  out.push(row('task pods created (per second, first to last)', (c) => (c.f.pods ? `${c.f.pods} (${f2(c.f.podsPerSecond)}/s)` : '0')));
  out.push(row('scheduler CPU seconds (trigger → run end)', (c) => f2(c.f.cpu?.scheduler)));
  out.push(row('scheduler largest RSS, MiB', (c) => String(c.f.rss)));
  out.push(row('api-server CPU seconds (the execution API: ti_run, heartbeats, task states)', (c) => f2(c.f.cpu?.apiServer)));
  out.push(row('Celery worker CPU seconds', (c) => f2(c.f.cpu?.celeryWorker)));
  if (realNode) {
    out.push(row('task pods\' CPU seconds (their cgroups)', (c) => f2(c.f.cpu?.taskPods)));
    out.push(row('the node\'s own: kubelet / containerd / its shims / kube-proxy CPU seconds', (c) => [c.f.cpu?.kubelet, c.f.cpu?.containerd, c.f.cpu?.containerdShims, c.f.cpu?.kubeProxy].map(f2).join(' / ')));
  } else {
    out.push(row('emulated kubelet CPU seconds (its own process, not the containers it started)', (c) => f2(c.f.cpu?.kubelet)));
  }
  out.push(row('whole machine busy CPU seconds', (c) => f2(c.f.cpu?.machine)));
  out.push(row('load average (1 min) at the trigger / largest sampled during the run', (c) => `${c.f.load?.start?.split(' ')[0]} / ${f2(c.f.load?.max1m)}`));
  out.push(row('**tasks lost** (not success)', (c) => String(c.f.lost)));
  out.push('');
  for (const v of results.variants ?? []) out.push(`- ${v.id}: ${v.title}; ${Object.entries(v.config ?? {}).map(([k, x]) => `${k} = ${x ?? '(Airflow default)'}`).join(', ')}; up in ${v.upSeconds ?? '-'} s.`);
  return out;
}

/** Seconds with two decimals: "1.23". */
const sec = (ms) => (ms / 1000).toFixed(2);

/** median (min-max) of the samples, in seconds; "-" when there are none. */
function cellOf(samples) {
  const xs = samples.filter((x) => typeof x === 'number' && Number.isFinite(x));
  if (xs.length === 0) return '-';
  const st = stats(xs);
  return `${sec(st.median)} (${sec(st.min)}-${sec(st.max)})`;
}

/** The phases of one task, in milliseconds, from the timestamps of test/runtime/start-latency.bench.ts. */
function taskPhases(t) {
  const d = (a, b) => (t[a] === undefined || t[b] === undefined ? undefined : t[b] - t[a]);
  return {
    toQueued: t.queued,
    queuedToCreated: d('queued', 'podCreated'),
    toCreated: t.podCreated,
    createdToBound: d('podCreated', 'podBound'),
    kubelet: d('podBound', 'processStarted'),
    processToRunning: d('processStarted', 'taskRunning'),
    createdToRunning: d('podCreated', 'taskRunning'),
    runningToDone: d('taskRunning', 'taskDone'),
    doneToSucceeded: d('taskDone', 'podSucceeded'),
    succeededToDeleted: d('podSucceeded', 'podDeleted'),
    total: t.taskDone,
  };
}

const PHASES = [
  ['toQueued', 'trigger → task instance queued (the scheduler loop: dag run started, task scheduled and queued)'],
  ['queuedToCreated', 'queued → task pod created (the executor: pod built from the template, POST to the API server)'],
  ['toCreated', '**trigger → task pod created**'],
  ['createdToBound', 'pod created → bound to the node (kube-scheduler)'],
  ['kubelet', 'bound → task process started (**simulated kubelet**: its 0.7 s poll, namespaces, mounts)'],
  ['processToRunning', 'process started → task running (Python, the Task SDK, `ti_run` on the execution API)'],
  ['createdToRunning', '**pod created → task running**'],
  ['runningToDone', '**task running → task done** (the DAG file parsed in the pod, the task, its end reported)'],
  ['doneToSucceeded', 'task done → pod Succeeded (the process exits, the kubelet reports it)'],
  ['succeededToDeleted', 'pod Succeeded → pod deleted (the executor\'s watcher, the next scheduler loop)'],
  ['total', '**trigger → task done**'],
];

/**
 * build/start-latency.json (test/runtime/start-latency.bench.ts) as markdown lines: per setting, the phases of a
 * single task (median, min, max over the runs) and how four tasks at once fan out.
 */
function startLatencyReport(results) {
  const out = [];
  const settings = results.settings ?? [];
  const m = results.machine ?? {};
  out.push(
    `Measured ${results.measuredAt ?? '?'} on ${m.cpus ?? '?'} CPUs (${m.cpuModel ?? '?'}; load average ${(m.loadAverageAtStart ?? []).join(' ')} at the start, ` +
      `${(results.loadAverageAtEnd ?? []).join(' ')} at the end), the runtime stage's Airflow 3.1 on the default chart; ${results.runs ?? '?'} runs per DAG and ` +
      'setting after one warm-up run. Seconds: median (min-max).',
  );
  out.push('');
  if (settings.length === 0) return { lines: [...out, 'No runs recorded.'] };
  // A run that did not succeed (a task failed: its times are a failure's, not a start's) is listed, not counted.
  const ok = (runs) => (runs ?? []).filter((r) => r.state === 'success');

  out.push('Settings: ' + settings.map((s, i) => `(${i + 1}) ${s.title}`).join('; ') + '.');
  out.push('');
  out.push(`One task (\`start_latency_one\`, a task that does nothing; runs counted: ${settings.map((x, i) => `(${i + 1}) ${ok(x.one).length}`).join(', ')}):`);
  out.push('');
  out.push(`| Phase | ${settings.map((s, i) => `(${i + 1}) ${s.id}`).join(' | ')} |`);
  out.push(`| --- | ${settings.map(() => '---').join(' | ')} |`);
  const phasesOf = (s) => ok(s.one).flatMap((r) => r.tasks.map(taskPhases));
  for (const [key, label] of PHASES) {
    out.push(`| ${label} | ${settings.map((s) => cellOf(phasesOf(s).map((p) => p[key]))).join(' | ')} |`);
  }
  out.push('');
  const failed = settings.flatMap((s) =>
    [...(s.one ?? []), ...(s.fanout ?? [])]
      .filter((r) => r.state !== 'success')
      .map((r) => `${s.id} ${r.runId}: ${r.state} (tasks ${r.tasks.map((t) => `${t.taskId} ${t.state}`).join(', ')})`),
  );
  const fan = (s) =>
    ok(s.fanout).map((r) => {
      const created = r.tasks.map((t) => t.podCreated).filter((x) => x !== undefined);
      return {
        first: Math.min(...created),
        last: Math.max(...created),
        spread: Math.max(...created) - Math.min(...created),
        running: Math.max(...r.tasks.map((t) => t.taskRunning ?? NaN)),
        done: Math.max(...r.tasks.map((t) => t.taskDone ?? NaN)),
        tasks: r.tasks.length,
      };
    });
  const tasks = Math.max(0, ...settings.flatMap((s) => fan(s).map((f) => f.tasks)));
  out.push(`${tasks} tasks at once (\`start_latency_fanout\`, parallelism 4; runs counted: ${settings.map((x, i) => `(${i + 1}) ${ok(x.fanout).length}`).join(', ')}):`);
  out.push('');
  out.push(`| | ${settings.map((s, i) => `(${i + 1}) ${s.id}`).join(' | ')} |`);
  out.push(`| --- | ${settings.map(() => '---').join(' | ')} |`);
  for (const [key, label] of [
    ['first', 'trigger → first task pod created'],
    ['last', 'trigger → last task pod created'],
    ['spread', '**first → last task pod created**'],
    ['running', 'trigger → every task running'],
    ['done', 'trigger → every task done'],
  ]) {
    out.push(`| ${label} | ${settings.map((s) => cellOf(fan(s).map((f) => f[key]))).join(' | ')} |`);
  }
  out.push('');
  if (failed.length) {
    out.push(`**Runs that did not succeed (not counted above): ${failed.join(', ')}.**`);
    out.push('');
  }
  const kubelet = settings.map((s) => stats(phasesOf(s).map((p) => p.kubelet).filter((x) => x !== undefined)).median);
  const created = settings.map((s) => stats(phasesOf(s).map((p) => p.createdToRunning).filter((x) => x !== undefined)).median);
  if (settings.length && Number.isFinite(kubelet[0]) && Number.isFinite(created[0])) {
    out.push(
      `Of "pod created → task running" (${sec(created[0])} s in setting 1), the simulated kubelet's part is ${sec(kubelet[0])} s; ` +
        `without it, ${sec(created[0] - kubelet[0])} s are the kube-scheduler's and the task's own start. A real node replaces the simulated ` +
        'part with its sandbox and container start and, on a node without the image, the image pull (docs/task-start.md).',
    );
  }
  return { lines: out };
}

module.exports = { footprint, podResources, linearFit, stats, cpuMilli, bytes, runtimeReport, startLatencyReport, taskPhases, executorTradeoffReport, realNodeStartPathReport, realNodePullReport, taskCpuReport, tradeoffFigures, percentile };

if (require.main === module) {
  const result = main();
  if (process.env.BENCH_WRITE === '1') {
    const target = path.join(ROOT, 'docs', 'benchmark.md');
    const current = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
    const start = '<!-- bench:start -->';
    const end = '<!-- bench:end -->';
    const block = `${start}\n${result.text.trim()}\n${end}`;
    const next = current.includes(start) && current.includes(end)
      ? current.slice(0, current.indexOf(start)) + block + current.slice(current.indexOf(end) + end.length)
      : `# Benchmark\n\n${block}\n`;
    fs.writeFileSync(target, next);
    console.log(`\nwrote ${path.relative(ROOT, target)}`);
  }
}
