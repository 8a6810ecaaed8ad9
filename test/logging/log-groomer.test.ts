// Log retention (issue #14): a sidecar of the scheduler removes task logs older than logRetentionDays (15 by
// default) from the logs volume, on every Kubernetes version (no CronJob). It touches the logs volume only,
// has no token, no Secret and no Airflow configuration, and runs restricted. Its script is run here for real.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import {
  AirflowChart,
  AirflowSecrets,
  AirflowVolumes,
  KubernetesExecutorAirflow,
  LOG_GROOMER_RESOURCES,
  MetadataDb,
  addAirflowFeatures,
} from '../../lib';
import { logGroomerContainer } from '../../lib/logging/log-groomer';
import { errorOf, find, synthesizing } from '../support';
import { airflowPodViolations } from '../support/pod-checks';

function scheduler(props: ConstructorParameters<typeof AirflowChart>[2] = {}) {
  return find(Testing.synth(new AirflowChart(Testing.app(), 'airflow', props)), 'Deployment', 'airflow-scheduler').spec.template.spec;
}

describe('on by default: the log groomer beside the scheduler', () => {
  const spec = scheduler();
  const groomer = spec.containers.find((c: any) => c.name === 'log-groomer');

  test('removes *.log files older than 15 days from the logs volume, every 15 minutes', () => {
    expect(spec.containers.map((c: any) => c.name)).toEqual(['scheduler', 'log-groomer']);
    const script: string = groomer.command[2];
    expect(groomer.command.slice(0, 2)).toEqual(['bash', '-c']);
    expect(script).toContain(`find '/opt/airflow/logs' -xdev -mindepth 1 -type f -name '*.log' -mmin +${15 * 24 * 60} -delete`);
    expect(script).toContain('sleep 900');
  });

  test('touches only the logs volume: the one path in its script, the one volume it mounts (and no token)', () => {
    const script: string = groomer.command[2];
    expect([...script.matchAll(/'(\/[^']*)'/g)].map((m) => m[1])).toEqual(['/opt/airflow/logs', '/opt/airflow/logs']);
    expect(groomer.volumeMounts).toEqual([
      { name: 'logs', mountPath: '/opt/airflow/logs' },
      { name: 'log-groomer-tmp', mountPath: '/tmp' }, // its heartbeat: the root file system is read-only
      { name: 'no-service-account-token', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
    ]);
    // The scheduler's pod has a token (it creates task pods); an empty volume over the token path keeps the
    // API server's ServiceAccount admission from mounting it into the groomer.
    expect(spec.automountServiceAccountToken).toBe(true);
    expect(spec.volumes.find((v: any) => v.name === 'no-service-account-token')).toEqual({ name: 'no-service-account-token', emptyDir: { sizeLimit: '1Mi' } });
    expect(spec.volumes.find((v: any) => v.name === 'logs')).toEqual({ name: 'logs', persistentVolumeClaim: { claimName: 'airflow-logs-claim' } });
  });

  test('no environment, no Secret, no Airflow: bash from the Airflow image, past its entrypoint', () => {
    expect(groomer.env).toBeUndefined();
    expect(groomer.envFrom).toBeUndefined();
    expect(groomer.args).toBeUndefined();
    expect(groomer.image).toBe(spec.containers[0].image); // already on the node for the scheduler
    expect(groomer.resources).toEqual({
      requests: { cpu: LOG_GROOMER_RESOURCES.cpuRequest, memory: LOG_GROOMER_RESOURCES.memoryRequest },
      limits: { cpu: LOG_GROOMER_RESOURCES.cpuLimit, memory: LOG_GROOMER_RESOURCES.memoryLimit },
    });
  });

  test('restricted security context, as the Airflow user', () => {
    expect(groomer.securityContext).toMatchObject({ runAsUser: 50000, runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(airflowPodViolations(spec)).toEqual([]);
  });
});

test('the default chart differs from the one without retention by the groomer and its empty volume only', () => {
  const on = Testing.synth(new AirflowChart(Testing.app(), 'airflow'));
  const off = Testing.synth(new AirflowChart(Testing.app(), 'airflow', { logRetentionDays: 0 }));
  const isScheduler = (o: any) => o.kind === 'Deployment' && o.metadata.name === 'airflow-scheduler';
  expect(on.filter((o) => !isScheduler(o))).toEqual(off.filter((o) => !isScheduler(o)));
  const withGroomer = structuredClone(on.find(isScheduler));
  const spec = withGroomer.spec.template.spec;
  spec.containers = spec.containers.filter((c: any) => c.name !== 'log-groomer');
  spec.volumes = spec.volumes.filter((v: any) => !['no-service-account-token', 'log-groomer-tmp'].includes(v.name));
  expect(withGroomer).toEqual(off.find(isScheduler));
});

describe('logRetentionDays', () => {
  test('sets the age; 0 turns the groomer off and leaves the scheduler as it was without it', () => {
    expect(scheduler({ logRetentionDays: 7 }).containers[1].command[2]).toContain(`-mmin +${7 * 24 * 60}`);
    const off = scheduler({ logRetentionDays: 0 });
    expect(off.containers.map((c: any) => c.name)).toEqual(['scheduler']);
    expect(off.volumes.map((v: any) => v.name)).toEqual(['logs', 'airflow-config', 'airflow-tmp']);
  });

  test('a whole number of days up to 10 years', () => {
    expect(errorOf(() => scheduler({ logRetentionDays: 1.5 }))).toMatch(/property "logRetentionDays" received 1.5/);
    expect(errorOf(() => scheduler({ logRetentionDays: -1 }))).toMatch(/property "logRetentionDays" received -1/);
  });

  test('without a logs volume there is nothing to groom: no groomer, and asking for one is an error', () => {
    const make = (id: string, logRetentionDays?: number) => {
      const chart = new Chart(Testing.app(), id, { namespace: 'airflow', disableResourceNameHashes: true });
      const volumes = new AirflowVolumes(chart, 'volumes', { volumes: [{ name: 'dags' }] });
      new AirflowSecrets(chart, 'secrets');
      const airflow = new KubernetesExecutorAirflow(chart, 'airflow', { volumes, database: new MetadataDb(chart, 'db') });
      return { chart, features: addAirflowFeatures(airflow, { logRetentionDays }) };
    };
    expect(make('a').features.logGroomer).toBeUndefined();
    expect(errorOf(synthesizing(() => make('b', 5).chart))).toMatch(
      /KubernetesExecutorAirflow at "b\/airflow": property "logRetentionDays" received 5; allowed: 0 or unset: there is no "logs" volume \(dags\)/,
    );
  });
});

describe('the script, run for real on a folder of logs', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'log-groomer-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('removes old task logs and folders long empty; keeps recent logs, other files and fresh folders; exits on SIGTERM', async () => {
    const days = (n: number) => new Date(Date.now() - n * 24 * 3600 * 1000);
    const file = (rel: string, age: Date) => {
      const f = path.join(dir, rel);
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, 'log line\n');
      fs.utimesSync(f, age, age);
    };
    file('dag_id=a/run_id=r1/task_id=t/attempt=1.log', days(20));
    file('dag_id=a/run_id=r2/task_id=t/attempt=1.log', days(1));
    file('dag_id=a/run_id=r1/task_id=t/notes.txt', days(20));
    file('dag_id=b/run_id=r1/task_id=t/attempt=1.log', days(16));
    file('dag_processor/2024-01-01/dag.py.log', days(400));
    fs.mkdirSync(path.join(dir, 'dag_id=c/run_id=old'), { recursive: true });
    fs.utimesSync(path.join(dir, 'dag_id=c/run_id=old'), days(2), days(2));
    fs.utimesSync(path.join(dir, 'dag_id=c'), days(2), days(2));
    fs.mkdirSync(path.join(dir, 'dag_id=d/run_id=just-created'), { recursive: true });

    const container = logGroomerContainer({ image: 'x', imagePullPolicy: 'IfNotPresent', logsVolume: 'logs', logsPath: dir, retentionDays: 15 });
    const child = spawn(container.command![0], container.command!.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const start = Date.now();
    while (!out.includes('log-groomer: removed') && Date.now() - start < 10_000) await new Promise((r) => setTimeout(r, 50));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toMatch(/log-groomer: removed 3 task log files older than 15 days/);

    const left = (rel: string) => fs.existsSync(path.join(dir, rel));
    expect(left('dag_id=a/run_id=r1/task_id=t/attempt=1.log')).toBe(false);
    expect(left('dag_id=b/run_id=r1/task_id=t/attempt=1.log')).toBe(false);
    expect(left('dag_processor/2024-01-01/dag.py.log')).toBe(false);
    expect(left('dag_id=a/run_id=r2/task_id=t/attempt=1.log')).toBe(true);
    expect(left('dag_id=a/run_id=r1/task_id=t/notes.txt')).toBe(true);
    // Folders empty for more than an hour go; a folder a task just created stays, and so does one emptied now
    // (its time is now: it goes on a later round).
    expect(left('dag_id=c/run_id=old')).toBe(false);
    expect(left('dag_id=d/run_id=just-created')).toBe(true);
    expect(left('dag_id=b/run_id=r1/task_id=t')).toBe(true);
  }, 20_000);
});
