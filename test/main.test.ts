// main.ts, the default app, run as `cdk8s synth` runs it (`node scripts/app.js`, cdk8s.yaml's `app`): a
// configuration error is printed as its message alone, without a stack trace (issue #23 item 3).
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..');
const MAIN = fs.readFileSync(path.join(root, 'main.ts'), 'utf8');
const CHART_LINE = "  new AirflowChart(app, 'airflow');\n";

const outdirs: string[] = [];
afterAll(() => outdirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A line of a JavaScript stack trace. */
const STACK_LINE = /^\s+at\s/m;

/**
 * main.ts with its chart line replaced, run by scripts/app.js. It is written under build/ (so that its imports
 * resolve), in a folder named after its text: scripts/app.js keys its transpile cache by the file's path and
 * text, so from the second run on the entry is found there and TypeScript (0.2 s of CPU to load and transpile)
 * is not loaded for it; a random folder missed the cache every time and left a new cache file per run. The file
 * is written to a temporary name and renamed, so another run of this test reading it sees a whole file.
 */
function runMain(chartLines: string): { code: number | null; stdout: string; stderr: string; outdir: string } {
  expect(MAIN).toContain(CHART_LINE);
  const text = MAIN.replace(CHART_LINE, chartLines).replace("from './lib'", "from '../../lib'");
  const dir = path.join(root, 'build', `main-test-${crypto.createHash('sha256').update(text).digest('hex').slice(0, 16)}`);
  fs.mkdirSync(dir, { recursive: true });
  const entry = path.join(dir, 'main.ts');
  if (!fs.existsSync(entry) || fs.readFileSync(entry, 'utf8') !== text) {
    fs.writeFileSync(`${entry}.${process.pid}.tmp`, text);
    fs.renameSync(`${entry}.${process.pid}.tmp`, entry);
  }
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'main-test-out-'));
  outdirs.push(outdir);
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'app.js'), entry], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, CDK8S_OUTDIR: outdir },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, outdir };
}

test('main.ts as it is synthesizes, quietly', () => {
  const r = runMain(CHART_LINE);
  expect([r.code, r.stderr]).toEqual([0, '']);
  // one file per box, in apply order (issue #23 item 6): AirflowApp splits the chart
  expect(fs.readdirSync(r.outdir).sort()).toEqual(['airflow-0-storage.k8s.yaml', 'airflow-1-database.k8s.yaml', 'airflow-2-airflow.k8s.yaml']);
});

test('a refused prop: "Error: <message>" on stderr, exit 1, no stack trace (it used to be ~25 lines of one)', () => {
  const r = runMain("  new AirflowChart(app, 'airflow', { paralelism: 8 } as never);\n");
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(
    /^Error: Validation failed with the following errors:\n {2}\[airflow\] AirflowChart at "airflow": property "paralelism" received 8; allowed: a prop of AirflowChartProps \(adminEmail, .*\)\. Did you mean "parallelism"\?\n$/,
  );
  expect(r.stderr).not.toMatch(STACK_LINE);
  expect(fs.readdirSync(r.outdir)).toEqual([]);
});

test('five mistakes in five constructs: every one in one error, one line each, no stack trace (issue #23 item 3)', () => {
  const r = runMain(
    "  new AirflowChart(app, 'airflow', { paralelism: 8, parallelism: 0, adminUsername: 'admin user', " +
      "gitSync: { repository: 'git://example.com/dags.git' }, celery: { queues: ['a,b'] } } as never);\n",
  );
  expect(r.code).toBe(1);
  expect(r.stderr.trimEnd().split('\n')).toEqual([
    'Error: Validation failed with the following errors:',
    expect.stringMatching(/^ {2}\[airflow\] AirflowChart at "airflow": property "paralelism" received 8; allowed: a prop of AirflowChartProps/),
    expect.stringMatching(/^ {2}\[airflow\/airflow\] KubernetesExecutorAirflow at "airflow\/airflow": property "parallelism" received 0; allowed: a whole number from 1 to 10000\.$/),
    expect.stringMatching(/^ {2}\[airflow\/airflow\/admin-user\] AdminUser at "airflow\/airflow\/admin-user": property "username" received "admin user"/),
    expect.stringMatching(/^ {2}\[airflow\/airflow\/git-sync\] GitSyncDags at "airflow\/airflow\/git-sync": property "repository" received "git:\/\/example.com\/dags.git"/),
    expect.stringMatching(/^ {2}\[airflow\/airflow\/celery\] CeleryWorkers at "airflow\/airflow\/celery": property "queues\[0\]" received "a,b"/),
  ]);
  expect(fs.readdirSync(r.outdir)).toEqual([]);
});

test('a synth-time check (two deployments on the same volumes): each problem once, no stack trace', () => {
  const r = runMain(
    "  new AirflowChart(app, 'team-a', { namespace: 'team-a', namePrefix: 'shared', hostRoot: '/data/shared' });\n" +
      "  new AirflowChart(app, 'team-b', { namespace: 'team-b', namePrefix: 'shared', hostRoot: '/data/shared' });\n",
  );
  expect(r.code).toBe(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines[0]).toBe('Error: Validation failed with the following errors:');
  // dags, logs, data, Postgres and its keys: a PersistentVolume name and a host folder each, reported by team-a only.
  expect(lines.slice(1)).toHaveLength(10);
  for (const line of lines.slice(1)) expect(line).toMatch(/^ {2}\[team-a\/\S+\] PersistentStorage at "team-a\/.*"team-b\//);
  expect(r.stderr).not.toMatch(STACK_LINE);
});

test('any other error is a bug: thrown as it is, with its stack trace', () => {
  const r = runMain("  new AirflowChart(app, 'airflow');\n  (undefined as unknown as { x: number }).x;\n");
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/TypeError: Cannot read properties of undefined/);
  expect(r.stderr).toMatch(STACK_LINE);
});
