// npm run bench's report of the runtime stage's memory (scripts/bench.js runtimeReport): the sizing rule "no
// component's measured RSS above 80% of its memory limit" is applied to the limits of the chart as it is now.
import { Testing } from 'cdk8s';
import { AirflowChart } from '../lib';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { runtimeReport } = require('../scripts/bench.js') as {
  runtimeReport: (results: any, objects: any[]) => { lines: string[]; over: string[] };
};

const objects = Testing.synth(new AirflowChart(Testing.app(), 'airflow'));
const limitMiB = (component: string): number => {
  const d = objects.find((o) => o.kind === 'Deployment' && o.spec.template.metadata.labels['app.kubernetes.io/component'] === component);
  const q: string = d.spec.template.spec.containers[0].resources.limits.memory;
  return q.endsWith('Gi') ? Number(q.slice(0, -2)) * 1024 : Number(q.replace(/Mi$/, ''));
};
const sample = (rssMiB: number) => ({ rssMiB, pssMiB: Math.round(rssMiB / 2), processes: 1 });

describe('runtimeReport', () => {
  test('flags a component whose largest RSS is above 80% of the chart\'s limit, and only that one', () => {
    const results = {
      memory: {
        idle: { triggerer: sample(Math.round(limitMiB('triggerer') * 0.5)), scheduler: sample(Math.round(limitMiB('scheduler') * 0.5)) },
        task: { triggerer: sample(Math.round(limitMiB('triggerer') * 0.6)), scheduler: sample(Math.round(limitMiB('scheduler') * 0.79)) },
        lifetime: { triggerer: sample(Math.round(limitMiB('triggerer') * 0.9)) },
      },
    };
    const r = runtimeReport(results, objects);
    expect(r.over).toEqual([`triggerer (${Math.round(limitMiB('triggerer') * 0.9)} MiB of ${limitMiB('triggerer')} MiB)`]);
    expect(r.lines.join('\n')).toContain('**Above 80% of the limit: triggerer');
    const schedulerRow = r.lines.find((l) => l.startsWith('| scheduler |'))!;
    expect(schedulerRow).toContain('79%');
    expect(schedulerRow).not.toContain('over 80%');
  });

  test('with every component within 80%, says so; the api-server workers table lists each measured setting', () => {
    const results = {
      memory: {
        idle: { 'api-server': { ...sample(Math.round(limitMiB('api-server') * 0.7)), processes: 6 } },
        apiWorkers: { 1: { idle: sample(300), task: sample(320) }, 2: { idle: { ...sample(800), processes: 4 } } },
      },
    };
    const r = runtimeReport(results, objects);
    expect(r.over).toEqual([]);
    expect(r.lines).toContain('Every component stays within 80% of its memory limit.');
    expect(r.lines).toContain('| 1 | 300 (150) | 320 (160) | 1 |');
    expect(r.lines).toContain('| 2 | 800 (400) | - | 4 |');
    // the chart's own [api] workers (1, from airflow.cfg as synthesized), not Airflow's default of 4
    expect(r.lines.some((l) => l.startsWith("| 1 (the chart's default) |"))).toBe(true);
    expect(r.lines.some((l) => l.startsWith('| 4 '))).toBe(false);
  });
});
