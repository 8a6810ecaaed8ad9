// The [api] workers benchmark (`npm run bench`, docs/benchmark.md): the api-server's memory with [api] workers = 2
// and 1 on the real Airflow of the runtime stage, at idle and while a task runs. Until issue #25 these two
// experiments ended the default chain of test/runtime/default-chart.runtime.test.ts (about 7 of its 11 minutes);
// they measure a setting the chart does not use by default, so they are a benchmark, not a test of the chart.
// Run by scripts/bench.js through scripts/test-runtime.sh with `--testMatch '**/api-workers.bench.ts'` (so not by
// `npm run test:runtime`); the results go to build/api-workers.json (BENCH_API_WORKERS_RESULTS), which
// scripts/bench.js adds to the runtime memory report (runtimeReport: the api-server by [api] workers).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT, getObject, kubectl } from '../live/support/cluster';
import { RuntimeChain, waitForAsync } from './support/chain';
import { Kubelet } from './support/kubelet';
import { IDLE_SETTLE_MS, MemorySampler, memoryTable, SAMPLE_MS, sampleIdle } from './support/memory';
import { defaultChart } from './support/variants';

const RESULTS = process.env.BENCH_API_WORKERS_RESULTS ?? path.join(REPO_ROOT, 'build', 'api-workers.json');
const HEALTH = 'GET /api/v2/monitor/health: the metadata database and every component are healthy';

const results: any = {
  measuredAt: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))) },
  apiWorkers: {} as Record<string, unknown>,
};

function save(): void {
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
}

const kubelet = new Kubelet('api-workers');
const chain = new RuntimeChain(defaultChart(), kubelet);

chain.hooks({ recordTimings: false });
afterAll(() => {
  results.loadAverageAtEnd = os.loadavg().map((l) => Number(l.toFixed(2)));
  save();
});

describe('[api] workers: the api-server\'s memory on the real Airflow', () => {
  test('the default chart comes up (the blocking steps of the runtime chain, up to the parsed DAGs)', async () => {
    const steps = chain.steps();
    const names = Object.keys(steps);
    for (const name of names.slice(0, names.indexOf('the DAGs are parsed with no import errors') + 1)) {
      if (!steps[name].blocking) continue;
      const err = await chain.execute(steps[name]);
      if (err) throw err;
    }
  }, 2_400_000);

  // [api] workers: the api-server runs one uvicorn process per worker, each with all of Airflow imported.
  for (const workers of [2, 1]) {
    test(`api-server memory with [api] workers = ${workers} (the ConfigMap and the api-server Deployment re-applied)`, async () => {
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
      const err = await chain.execute(chain.steps()[HEALTH]);
      if (err) throw err;
      const pod = chain.podOf('api-server').metadata.name;
      expect(kubelet.log(chain.ns, pod, 'api-server')).toContain(`Workers: ${workers}`);
      // shorter windows than the runtime stage's idle measurement: the api-server alone
      const idle = (await sampleIdle(kubelet, chain.ns, IDLE_SETTLE_MS / 2, SAMPLE_MS / 2))['api-server'];
      // and while a task runs: the task pod talks to the api-server's execution API all along
      const taskSampler = new MemorySampler(kubelet, chain.ns).start();
      await chain.trigger('write_to_data_volume');
      const end = await chain.runEnd('write_to_data_volume', 300_000);
      const task = taskSampler.stop()['api-server'];
      expect(end).toEqual({ state: 'success', tasks: { write_file: 'success' } });
      console.log(memoryTable(`BENCH [api-workers]: api-server with [api] workers = ${workers}, at idle / while a task runs`, { idle, task }));
      results.apiWorkers[String(workers)] = { idle, task };
      save();
      expect(idle.pod).toBe(pod);
      expect(task.pod).toBe(pod);
      // workers = 1 runs uvicorn in the api-server process itself; more add a supervisor
      if (workers === 1) expect(idle.processes).toBeLessThanOrEqual(2);
      else expect(idle.processes).toBeGreaterThanOrEqual(workers + 1);
    }, 660_000);
  }
});
