// The real Airflow on the default chart (docs/runtime-tests.md): a fresh synth of AirflowChart applied to the
// local control plane, every pod run by the runtime kubelet from what the API server holds, the chain from
// `kubectl apply` to a task pod the KubernetesExecutor created, ran and deleted; plus the memory of every
// component at idle, while tasks run, and of the api-server with [api] workers = 2 and 1 (build/runtime-results.json).
import { getObject, kubectl } from '../live/support/cluster';
import { RuntimeChain, Step, waitForAsync } from './support/chain';
import { Kubelet } from './support/kubelet';
import { IDLE_SETTLE_MS, lifetimePeaks, MemorySampler, memoryTable, SAMPLE_MS, sampleIdle } from './support/memory';
import { recordRuntime } from './support/results';
import { defaultChart } from './support/variants';

const kubelet = new Kubelet('default');
const chain = new RuntimeChain(defaultChart(), kubelet);
const steps = chain.steps();
const names = Object.keys(steps);
const TRIGGER = 'trigger write_to_data_volume through the REST API';
const DELETED = 'the executor deletes the task pod';
let taskSampler: MemorySampler | undefined;

const register = (step: Step) => test(step.name, chain.jest(step), step.timeoutMs + 60_000);

chain.hooks({ recordTimings: true, stop: () => taskSampler?.stop() });

describe('runtime: the default chart', () => {
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
      // [api] workers = 1, the library's default: one uvicorn process, no supervisor (4 would be 5 processes)
      expect(m['api-server'].processes).toBe(1);
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

  // Before the [api] workers experiments below: their api-server pods (2 workers use about 0.8 GiB) are not the
  // chart's, and must not count as the default api-server's largest sample.
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
      // The sizing rule (docs/airflow.md): no long-running container's largest RSS above 80% of its limit.
      const over = ['metadata-db', ...chain.components()].filter((k) => (m[k]?.rssOfLimitPercent ?? 0) > 80).map((k) => `${k}: ${m[k].rssMiB} MiB = ${m[k].rssOfLimitPercent}% of ${m[k].limitMiB} MiB`);
      expect(over).toEqual([]);
    },
  });

  // [api] workers: the api-server runs one uvicorn process per worker, each with all of Airflow imported.
  for (const workers of [2, 1]) {
    register({
      name: `api-server memory with [api] workers = ${workers} (the ConfigMap and the api-server Deployment re-applied)`,
      components: ['api-server'],
      blocking: false,
      timeoutMs: 600_000,
      run: async () => {
        const v = defaultChart({ config: { api: { workers } } });
        const subset = v.objects.filter(
          (o) =>
            (o.kind === 'ConfigMap' && o.data?.['airflow.cfg']) ||
            (o.kind === 'Deployment' && o.metadata.labels?.['app.kubernetes.io/component'] === 'api-server'),
        );
        expect(subset.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'Deployment']);
        expect(subset.find((o) => o.kind === 'ConfigMap').data['airflow.cfg']).toMatch(new RegExp(`\\[api\\][^[]*workers = ${workers}\\n`));
        const r = kubectl(['apply', '-f', chain.writeYaml(`workers-${workers}.yaml`, subset)]);
        expect(r.stderr).toBe('');
        const d = subset.find((o) => o.kind === 'Deployment');
        await waitForAsync(
          `the api-server Deployment to roll out its new pod (and the old one to go)`,
          420_000,
          () => {
            const live = getObject('deployment', d.metadata.name, chain.ns);
            const s = live?.status ?? {};
            return live.metadata.generation === s.observedGeneration && s.updatedReplicas === 1 && s.availableReplicas === 1 && s.replicas === 1;
          },
          () => kubectl(['get', 'pods', '-n', chain.ns, '-l', 'app.kubernetes.io/component=api-server', '-o', 'wide']).stdout,
          2000,
        );
        await chain.execute(steps['GET /api/v2/monitor/health: the metadata database and every component are healthy']).then((e) => {
          if (e) throw e;
        });
        const pod = chain.podOf('api-server').metadata.name;
        expect(kubelet.log(chain.ns, pod, 'api-server')).toContain(`Workers: ${workers}`);
        // shorter windows than the first idle measurement: the api-server alone, and the stage's time is precious
        const idle = (await sampleIdle(kubelet, chain.ns, IDLE_SETTLE_MS / 2, SAMPLE_MS / 2))['api-server'];
        // and while a task runs: the task pod talks to the api-server's execution API all along
        const taskSampler = new MemorySampler(kubelet, chain.ns).start();
        await chain.trigger('write_to_data_volume');
        const end = await chain.runEnd('write_to_data_volume', 300_000);
        const task = taskSampler.stop()['api-server'];
        expect(end).toEqual({ state: 'success', tasks: { write_file: 'success' } });
        console.log(memoryTable(`RUNTIME [default]: api-server with [api] workers = ${workers}, at idle / while a task runs`, { idle, task }));
        recordRuntime(['memory', 'apiWorkers', String(workers)], { idle, task });
        expect(idle.pod).toBe(pod);
        expect(task.pod).toBe(pod);
        // workers = 1 runs uvicorn in the api-server process itself; more add a supervisor
        if (workers === 1) expect(idle.processes).toBeLessThanOrEqual(2);
        else expect(idle.processes).toBeGreaterThanOrEqual(workers + 1);
      },
    });
  }

});
