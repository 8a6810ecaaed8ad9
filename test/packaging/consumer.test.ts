/**
 * The package as a user gets it, end to end: `npm pack` on this repository, then two separate cdk8s apps
 * install the tarball beside cdk8s, constructs, cdk8s-cli and TypeScript 5.9: a fresh copy of
 * examples/consumer (cdk8s-plus-28) and the same app on cdk8s-plus-33, the cdk8s-plus `cdk8s init
 * typescript-app` installs today (examples/consumer-plus33: its own package.json, ../consumer's sources).
 * Each composes the constructs by hand, mounts the volumes into a cdk8s-plus container of its own
 * cdk8s-plus, compiles under --strict, and synthesizes with the validation plugin loaded from the installed
 * package. Last, the first app installs a git+file:// URL of this repository's HEAD, which npm builds by
 * running `prepare` in a clone.
 *
 * Run by `npm run test:packaging` (and CI), not by `npm test`: the npm installs take a minute or two. The
 * installs use npm's cache (`--prefer-offline`; `npm ci` of this repository filled it, cdk8s-plus-33
 * included: a devDependency) and the npm registry for whatever is missing; every version is pinned in the
 * apps' package.json. AIRFLOW_CDK8S_KEEP_PACKAGING=1 keeps the temporary folder (tarball, consumer copy).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadAll } from 'js-yaml';

const root = path.resolve(__dirname, '..', '..');
const example = path.join(root, 'examples', 'consumer');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'airflow-cdk8s-packaging-'));

/** A consumer app: where its copy is, its cdk8s-plus, and its own package.json's folder. */
interface ConsumerApp {
  readonly plus: string;
  readonly dir: string;
  readonly installed: string;
  /** The example folder whose package.json the app takes. */
  readonly packageFrom: string;
}
const app = (folder: string, plus: string): ConsumerApp => ({
  plus,
  dir: path.join(work, folder),
  installed: path.join(work, folder, 'node_modules', 'airflow-cdk8s'),
  packageFrom: path.join(root, 'examples', folder),
});
const APPS: ConsumerApp[] = [app('consumer', 'cdk8s-plus-28'), app('consumer-plus33', 'cdk8s-plus-33')];
const consumer = APPS[0].dir;
const installed = APPS[0].installed;

const NAMESPACE = 'data-team';
/** The team's own cdk8s-plus Deployment in examples/consumer/chart.ts. */
const TOOLBOX = 'data-team-toolbox';
const DB_HOST = 'postgres.data-team.svc.example.internal';

/**
 * The environment of a user's shell: without the npm_* variables of the `npm run` that started jest
 * (npm_config_local_prefix would point the consumer's npm at this repository).
 */
const env: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) || /^npm_config_(cache|registry)$/i.test(k)),
);
delete env.INIT_CWD;
env.CDK8S_CHECK_UPGRADE = 'false';

interface Run {
  readonly stdout: string;
  /** stdout and stderr. */
  readonly output: string;
}

/** Runs a command; throws with its output unless it exits with `expectStatus`. */
function run(cwd: string, command: string, args: string[], expectStatus: number = 0): Run {
  const r = spawnSync(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  const output = `${r.stdout}${r.stderr}`;
  if (r.status !== expectStatus) {
    throw new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${r.status}, expected ${expectStatus}:\n${output.slice(-6000)}`);
  }
  return { stdout: r.stdout, output };
}

const npmInstall = ['install', '--prefer-offline', '--no-audit', '--no-fund'];
const cdk8sSynth = ['cdk8s', 'synth', '--no-check-upgrade'];

/** Files a consumer writes beside the example: a broken variant, and the plugin's checks called from code. */
const BROKEN_TS = `import { ApiObject, App } from 'cdk8s';
import { DataTeamAirflow } from './chart';

// The example's chart plus an object with a typo no construct catches: only the plugin reports it.
const app = new App();
const chart = new DataTeamAirflow(app, 'data-team');
new ApiObject(chart, 'scratch', {
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name: 'scratch' },
  spec: { volumName: 'scratch-volume', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
});
app.synth();
`;
const REPORT_TS = `import { App } from 'cdk8s';
import { AirflowManifestValidationProperties, validationReport } from 'airflow-cdk8s/validation';
import { DataTeamAirflow } from './chart';

const declared: AirflowManifestValidationProperties = { existingSecrets: ['data-team-airflow-db'] };
console.log(
  JSON.stringify({
    declared: validationReport(new DataTeamAirflow(new App(), 'data-team'), declared),
    undeclared: validationReport(new DataTeamAirflow(new App(), 'data-team')),
  }),
);
`;

let tarball = '';
let packedFiles: string[] = [];

afterAll(() => {
  if (!process.env.AIRFLOW_CDK8S_KEEP_PACKAGING) fs.rmSync(work, { recursive: true, force: true });
});

test('npm pack ships the compiled constructs, their declarations, the validation plugin, LICENSE and NOTICE, and no sources', () => {
  // `prepare` compiles the package (npm run build:package) before npm packs it.
  const { stdout } = run(root, 'npm', ['pack', '--json', '--pack-destination', work]);
  const packed = JSON.parse(stdout) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  tarball = path.join(work, packed[0].filename);
  packedFiles = packed[0].files.map((f) => f.path).sort();
  expect(fs.existsSync(tarball)).toBe(true);

  for (const file of [
    'LICENSE',
    'NOTICE',
    'package.json',
    'README.md',
    'build/lib/index.js',
    'build/lib/index.d.ts',
    'build/imports/k8s.js',
    'build/imports/k8s.d.ts',
    'build/validation/index.js',
    'build/validation/index.d.ts',
    'build/validation/manifest-validation.js',
  ]) {
    expect(packedFiles).toContain(file);
  }
  // Every module of the library has its declarations, and nothing else is shipped: no .ts sources, tests,
  // examples, main.ts, or the build's caches.
  const js = packedFiles.filter((f) => f.endsWith('.js'));
  expect(js.length).toBeGreaterThan(20);
  for (const f of js) expect(packedFiles).toContain(f.replace(/\.js$/, '.d.ts'));
  expect(packedFiles.filter((f) => !/^build\/(lib|imports|validation)\/.+\.(js|d\.ts)$/.test(f))).toEqual([
    'LICENSE',
    'NOTICE',
    'README.md',
    'package.json',
  ]);
  expect(fs.readFileSync(path.join(root, 'LICENSE'), 'utf8')).toContain('Apache License\n                           Version 2.0, January 2004');
  // The Airflow-derived configuration data keeps Apache Airflow's attribution (Apache License 2.0, section 4(d)).
  expect(fs.readFileSync(path.join(root, 'NOTICE'), 'utf8')).toContain('The Apache Software Foundation');

  // The example's own package.json names this very tarball (as `npm pack` writes it at the repository root).
  const examplePkg = JSON.parse(fs.readFileSync(path.join(example, 'package.json'), 'utf8'));
  expect(examplePkg.dependencies['airflow-cdk8s']).toBe(`file:../../${packed[0].filename}`);
}, 120_000);

describe.each(APPS)('the $plus app', ({ plus, dir, installed: appInstalled, packageFrom }) => {
  test(`a fresh copy of examples/consumer on ${plus} installs the tarball beside cdk8s, constructs, ${plus} and TypeScript 5.9`, () => {
    expect(tarball).not.toBe('');
    // What a user would copy: the sources, not a local install of the example.
    fs.cpSync(example, dir, {
      recursive: true,
      filter: (src) => !/^(node_modules|build|dist.*|package-lock\.json|.*\.tgz)$/.test(path.basename(src)),
    });
    // The app's own package.json (its pinned cdk8s-plus), and chart.ts on that cdk8s-plus.
    const pkg = JSON.parse(fs.readFileSync(path.join(packageFrom, 'package.json'), 'utf8'));
    expect(pkg.dependencies[plus]).toMatch(/^\d+\.\d+\.\d+$/); // pinned
    expect(Object.keys(pkg.dependencies).filter((d) => d.startsWith('cdk8s-plus'))).toEqual([plus]);
    expect(pkg.dependencies['airflow-cdk8s']).toBe(`file:../../${path.basename(tarball)}`);
    pkg.dependencies['airflow-cdk8s'] = `file:${tarball}`;
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
    const chartFile = path.join(dir, 'chart.ts');
    const chart = fs.readFileSync(chartFile, 'utf8');
    expect(chart).toContain("import * as kplus from 'cdk8s-plus-28';");
    fs.writeFileSync(chartFile, chart.replace("from 'cdk8s-plus-28'", `from '${plus}'`));
    fs.writeFileSync(path.join(dir, 'broken.ts'), BROKEN_TS);
    fs.writeFileSync(path.join(dir, 'report.ts'), REPORT_TS);

    run(dir, 'npm', npmInstall);

    // Exactly the packed files, and the versions the example pins.
    const installedFiles = fs
      .readdirSync(appInstalled, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => path.relative(appInstalled, path.join(d.parentPath, d.name)))
      .sort();
    expect(installedFiles).toEqual(packedFiles);
    const version = (p: string) => JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', p, 'package.json'), 'utf8')).version;
    expect(version('typescript')).toMatch(/^5\.9\./);
    expect(version(plus)).toBe(pkg.dependencies[plus]);
    // The plugin's run-time dependencies come with the package.
    expect(version('kubernetes-models')).toBe('4.3.1');
    expect(version('js-yaml')).toMatch(/^4\./);
  }, 300_000);

  test('the app compiles under --strict against the package declarations', () => {
    expect(fs.existsSync(appInstalled)).toBe(true);
    // main.ts and chart.ts import 'airflow-cdk8s'; report.ts imports 'airflow-cdk8s/validation'. The
    // example's tsconfig has no skipLibCheck, so the package's .d.ts files are checked too; chart.ts passes
    // a container of the app's own cdk8s-plus to AirflowVolumes.mountInto.
    run(dir, 'npx', ['tsc', '--strict', '--noEmit', '-p', '.']);
  }, 120_000);

  describe('cdk8s synth, with the validation plugin of the installed package', () => {
    let output = '';
    let objects: any[] = [];

    test('synthesizes, and the plugin checks every object', () => {
      expect(fs.existsSync(appInstalled)).toBe(true);
      output = run(dir, 'npx', cdk8sSynth).output;
      const pluginPath = path.join(appInstalled, 'build', 'validation', 'index.js');
      expect(output).toContain(pluginPath);
      const checked = /airflow-cdk8s validation: (\d+) objects match the Kubernetes 1\.28 schemas, and every Secret, ConfigMap, claim and ServiceAccount they read is in the output, generated by a secrets bootstrap Job of it, or declared as existing/.exec(output);
      expect(checked).not.toBeNull();

      const file = path.join(dir, 'dist', `${NAMESPACE}.k8s.yaml`);
      objects = loadAll(fs.readFileSync(file, 'utf8')).filter((o) => o !== null && o !== undefined);
      expect(objects.length).toBe(Number(checked![1]));
      // The plugin removes the construct metadata that the CLI makes the app write for it.
      expect(fs.readdirSync(path.join(dir, 'dist'))).toEqual([`${NAMESPACE}.k8s.yaml`]);
    }, 120_000);

    test('the chart is in its own namespace, with no cluster-scoped objects but the Namespace', () => {
      expect(objects.length).toBeGreaterThan(0);
      const clusterScoped = objects.filter((o) => o.metadata.namespace === undefined);
      expect(clusterScoped.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([`Namespace/${NAMESPACE}`]);
      for (const o of objects.filter((x) => x.kind !== 'Namespace')) expect([o.kind, o.metadata.namespace]).toEqual([o.kind, NAMESPACE]);
      // Storage-class claims: no PersistentVolumes.
      expect(objects.filter((o) => o.kind === 'PersistentVolume')).toEqual([]);
    });

    /** Pod specs of the control plane's Deployments, and of the worker pod template (YAML in the ConfigMap). */
    function podSpecs(): Array<{ name: string; spec: any }> {
      const deployments = objects
        .filter((o) => o.kind === 'Deployment' && o.metadata.name !== TOOLBOX)
        .map((d) => ({ name: `Deployment ${d.metadata.name}`, spec: d.spec.template.spec }));
      const config = objects.find((o) => o.kind === 'ConfigMap' && o.data?.['pod_template_file.yaml']);
      const template = loadAll(config.data['pod_template_file.yaml'])[0] as any;
      return [...deployments, { name: 'worker pod template', spec: template.spec }];
    }

    test('the extra plugins claim is mounted at /opt/airflow/plugins in every Airflow pod and the worker template', () => {
      const claim = objects.find((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name.includes('plugins'));
      expect(claim).toBeDefined();
      expect(claim.spec.storageClassName).toBe('nfs-rwx');
      const pods = podSpecs();
      expect(pods.map((p) => p.name)).toEqual(
        expect.arrayContaining(['Deployment airflow-scheduler', 'Deployment airflow-api-server', 'worker pod template']),
      );
      for (const { name, spec } of pods) {
        const volume = spec.volumes.find((v: any) => v.persistentVolumeClaim?.claimName === claim.metadata.name);
        expect([name, volume?.name]).toEqual([name, expect.any(String)]);
        const mounts = spec.containers.flatMap((c: any) => c.volumeMounts ?? []).filter((m: any) => m.name === volume.name);
        expect([name, mounts.map((m: any) => m.mountPath)]).toEqual([name, expect.arrayContaining(['/opt/airflow/plugins'])]);
      }
    });

    test(`the team's ${plus} Deployment mounts every claim where Airflow's pods mount it`, () => {
      const toolbox = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === TOOLBOX);
      expect(toolbox).toBeDefined();
      const spec = toolbox.spec.template.spec;
      const claims = objects.filter((o) => o.kind === 'PersistentVolumeClaim').map((o) => o.metadata.name);
      expect(spec.volumes.map((v: any) => v.persistentVolumeClaim?.claimName).sort()).toEqual([...claims].sort());
      expect(spec.containers[0].volumeMounts.map((m: any) => `${m.name} ${m.mountPath}`)).toEqual([
        'dags /opt/airflow/dags',
        'logs /opt/airflow/logs',
        'data /opt/airflow/data',
        'plugins /opt/airflow/plugins',
      ]);
      // the same pod volumes as the Airflow pods that use each claim (each Airflow pod mounts only what it uses)
      const airflowVolumes = objects
        .filter((o) => o.kind === 'Deployment' && o.metadata.name.startsWith('airflow-'))
        .flatMap((o) => o.spec.template.spec.volumes ?? []);
      for (const v of spec.volumes) expect(airflowVolumes).toContainEqual(v);
      expect(spec.securityContext).toMatchObject({ runAsUser: 50000, runAsGroup: 0, runAsNonRoot: true });
    });

    test('the external database: its host in the connection env, its password from the declared Secret, no Postgres', () => {
      expect(objects.filter((o) => o.kind === 'StatefulSet')).toEqual([]);
      for (const { name, spec } of podSpecs().filter((p) => p.name.startsWith('Deployment'))) {
        const env = spec.containers.flatMap((c: any) => c.env ?? []);
        const conn = env.find((e: any) => e.name === 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN');
        expect([name, conn?.value]).toEqual([
          name,
          `postgresql://airflow:$(AIRFLOW_DB_PASSWORD)@${DB_HOST}:5432/airflow_data_team?sslmode=require`,
        ]);
        const password = env.find((e: any) => e.name === 'AIRFLOW_DB_PASSWORD');
        expect([name, password?.valueFrom?.secretKeyRef]).toEqual([name, { name: 'data-team-airflow-db', key: 'password' }]);
      }
    });

    test('the config override is in airflow.cfg, beside the settings the constructs manage', () => {
      const config = objects.find((o) => o.kind === 'ConfigMap' && o.data?.['airflow.cfg']);
      const cfg: string = config.data['airflow.cfg'];
      const section = (name: string) => new RegExp(`^\\[${name}\\]\\n((?:.+\\n)*)`, 'm').exec(cfg)?.[1] ?? '';
      expect(section('core')).toContain('max_active_tasks_per_dag = 8\n');
      expect(section('core')).toContain('parallelism = 16\n');
      expect(section('dag_processor')).toContain('refresh_interval = 60\n');
      expect(section('kubernetes_executor')).toContain(`namespace = ${NAMESPACE}\n`);
    });

    test('the plugin rejects a broken variant: synth exits 2 with its report', () => {
      expect(output).not.toBe('');
      const broken = run(
        dir,
        'npx',
        // broken.ts was compiled with the rest by the synth above (the app command runs tsc first).
        [...cdk8sSynth, '--app', 'node build/broken.js', '--output', 'dist-broken'],
        2,
      ).output;
      expect(broken).toContain('airflow-cdk8s validation: 1 problem(s):');
      expect(broken).toContain(
        'data-team/scratch (PersistentVolumeClaim scratch): spec.volumName: unknown field (did you mean volumeName?)',
      );
    }, 120_000);
  });
});

test("the plugin's checks from code: airflow-cdk8s/validation resolves, with its types", () => {
  expect(fs.existsSync(path.join(consumer, 'build', 'report.js'))).toBe(true); // compiled by the synths above
  const report = JSON.parse(run(consumer, 'node', ['build/report.js']).stdout) as { declared: string[]; undeclared: string[] };
  expect(report.declared).toEqual([]);
  // Without the Secrets declared as existing, each is reported (once, with every object that reads it).
  expect(report.undeclared.length).toBeGreaterThan(0);
  expect(report.undeclared.join('\n')).toContain('data-team-airflow-db');
  // The Secret the bootstrap Job creates under the team's name is never reported: the Job announces it.
  expect(report.undeclared.join('\n')).not.toContain('"data-team-airflow"');
}, 60_000);

test('a git+file:// install of HEAD: npm runs prepare in a clone and installs the compiled package', () => {
  expect(fs.existsSync(installed)).toBe(true);
  // HEAD, not the working tree: what a user installing from the repository's URL gets.
  const head = run(root, 'git', ['rev-parse', 'HEAD']).stdout.trim();
  fs.rmSync(path.join(consumer, 'build'), { recursive: true, force: true });
  run(consumer, 'npm', [...npmInstall, `git+file://${root}#${head}`]);

  const pkg = JSON.parse(fs.readFileSync(path.join(consumer, 'package.json'), 'utf8'));
  expect(pkg.dependencies['airflow-cdk8s']).toBe(`git+file://${root}#${head}`);
  for (const file of ['LICENSE', 'NOTICE', 'build/lib/index.js', 'build/lib/index.d.ts', 'build/validation/index.js']) {
    expect([file, fs.existsSync(path.join(installed, file))]).toEqual([file, true]);
  }
  expect(fs.existsSync(path.join(installed, 'lib'))).toBe(false); // the packed files, not the clone
  run(consumer, 'npx', ['tsc', '--strict', '-p', '.']);
  expect(JSON.parse(run(consumer, 'node', ['build/report.js']).stdout).declared).toEqual([]);
}, 300_000);
