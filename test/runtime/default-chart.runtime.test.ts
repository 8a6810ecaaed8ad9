// The real Airflow on the default chart (docs/runtime-tests.md): a fresh synth of AirflowChart applied to the
// local control plane, every pod run by the runtime kubelet from what the API server holds, the chain from
// `kubectl apply` to a task pod the KubernetesExecutor created, ran and deleted; plus the memory of every
// component at idle and while tasks run, with the sizing rule on it (build/runtime-results.json). The api-server's
// memory with other [api] workers settings is a benchmark: test/runtime/api-workers.bench.ts (`npm run bench`).
//
// It runs the default image, the version dist/ names (DEFAULT_AIRFLOW_IMAGE), on the root of that Airflow minor
// version. AIRFLOW_CDK8S_RUNTIME_AIRFLOW_IMAGE=apache/airflow:3.1.3 runs the same chain on another release (the
// chart's `image`), e.g. the previous minor version, whose root test-runtime.sh builds too.
import { DEFAULT_AIRFLOW_IMAGE } from '../../lib';
import { RuntimeChain, Step } from './support/chain';
import { airflowMinorOf, rootInfo } from './support/kubelet';
import { IDLE_SETTLE_MS, lifetimePeaks, MemorySampler, memoryTable, SAMPLE_MS, sampleIdle } from './support/memory';
import { newKubelet } from './support/real-kubelet';
import { recordRuntime } from './support/results';
import { defaultChart } from './support/variants';

const image = process.env.AIRFLOW_CDK8S_RUNTIME_AIRFLOW_IMAGE;
const kubelet = newKubelet('default');
const chain = new RuntimeChain(defaultChart(image ? { image } : {}), kubelet);
const steps = chain.steps();
const names = Object.keys(steps);
const TRIGGER = 'trigger write_to_data_volume through the REST API';
const DELETED = 'the executor deletes the task pod';
let taskSampler: MemorySampler | undefined;

const register = (step: Step) => test(step.name, chain.jest(step), step.timeoutMs + 60_000);

chain.hooks({ recordTimings: true, stop: () => taskSampler?.stop() });

describe(`runtime: the default chart (${image ?? DEFAULT_AIRFLOW_IMAGE})`, () => {
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
      const m = await sampleIdle(kubelet, chain.ns);
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
});
