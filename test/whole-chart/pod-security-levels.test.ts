// Issue #21: the Pod Security Standard level each pod meets, for three charts: the default app, a chart with
// every feature on, and the control plane on an external database. Rendered into docs/secrets-and-security.md
// between `<!-- pod-security-levels:start -->` and `<!-- pod-security-levels:end -->`; the last test fails when
// that table is out of date (`UPDATE=1 npx jest test/whole-chart/pod-security-levels.test.ts` rewrites it).
import * as fs from 'fs';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import {
  AirflowChart,
  AirflowNamespace,
  AirflowSecrets,
  AirflowVolumes,
  GitSyncMode,
  KubernetesExecutorAirflow,
  MetadataDb,
  PodSecurityLevel,
  RemoteLogging,
  addAirflowFeatures,
} from '../../lib';
import { podSecurityLevelOf, podSecurityViolations } from '../../lib/security/pod-security';
import { Manifest, podsOf } from '../support';

/** Every feature of the chart on: git-sync's sidecars, Celery with its Redis, KEDA and Flower, metrics, remote logging, NetworkPolicies, image pre-pull, PgBouncer. */
const EVERY_FEATURE = {
  gitSync: { repository: 'https://github.com/example-org/airflow-dags.git', branch: 'main', mode: GitSyncMode.SIDECARS },
  celery: { keda: {}, flower: { basicAuthSecret: { name: 'flower-auth', key: 'basic-auth' } } },
  metrics: true,
  remoteLogging: RemoteLogging.s3({ bucket: 'airflow-logs', region: 'eu-west-1' }),
  networkPolicies: true,
  prePullImages: true,
  pgbouncer: {},
};

/** The control plane on an external Postgres (MetadataDb.external), in a chart of its own with the default volumes. */
function externalDatabaseChart(): Chart {
  const chart = new Chart(Testing.app(), 'airflow', { namespace: 'airflow', disableResourceNameHashes: true });
  new AirflowNamespace(chart, 'namespace');
  const volumes = new AirflowVolumes(chart, 'volumes');
  const secrets = new AirflowSecrets(chart, 'secrets');
  const database = MetadataDb.external(chart, 'db', {
    host: 'airflow.abc123.eu-west-1.rds.amazonaws.com',
    passwordSecret: { name: 'rds-airflow', key: 'password' },
  });
  const airflow = new KubernetesExecutorAirflow(chart, 'airflow', { volumes, database, secrets });
  addAirflowFeatures(airflow, {});
  return chart;
}

const CHARTS: ReadonlyArray<[string, () => Chart]> = [
  ['default app', () => new AirflowChart(Testing.app(), 'airflow')],
  ['every feature on', () => new AirflowChart(Testing.app(), 'airflow', EVERY_FEATURE)],
  ['external database', externalDatabaseChart],
];

/** A pod's name in the table: its object, with the hash of a Job's name left out (it changes with the spec). */
const podName = (object: string) => object.replace(/-[0-9a-f]{8}$/, '').replace(/^ConfigMap\/airflow-config pod_template_file\.yaml$/, 'worker pod template (pod_template_file.yaml)');

/** pod -> level, per chart: computed once per file (both tests read it, neither changes it; 3 synths). */
let computedLevels: Array<{ chart: string; pods: Map<string, { level: PodSecurityLevel; why: string[] }> }> | undefined;
function levels(): Array<{ chart: string; pods: Map<string, { level: PodSecurityLevel; why: string[] }> }> {
  return (computedLevels ??= CHARTS.map(([chart, build]) => {
    const pods = new Map<string, { level: PodSecurityLevel; why: string[] }>();
    for (const pod of podsOf(Testing.synth(build()) as Manifest[])) {
      pods.set(podName(pod.object), { level: podSecurityLevelOf(pod.spec), why: podSecurityViolations(pod.spec, PodSecurityLevel.RESTRICTED) });
    }
    return { chart, pods };
  }));
}

/** The table of docs/secrets-and-security.md. */
export function renderPodSecurityTable(): string {
  const all = levels();
  const names = [...new Set(all.flatMap((c) => [...c.pods.keys()]))].sort();
  const lines = [
    `| Pod | ${all.map((c) => c.chart).join(' | ')} |`,
    `| --- | ${all.map(() => '---').join(' | ')} |`,
  ];
  const reasons = new Map<string, string[]>();
  for (const name of names) {
    const cells = all.map((c) => c.pods.get(name)?.level ?? '—');
    lines.push(`| ${name} | ${cells.join(' | ')} |`);
    const below = all.map((c) => c.pods.get(name)).find((p) => p && p.level !== PodSecurityLevel.RESTRICTED);
    if (below) reasons.set(name, below.why);
  }
  lines.push('', 'Why a pod is not restricted (the rules of the restricted standard it breaks, from `podSecurityViolations`):', '');
  for (const [name, why] of reasons) {
    const rules = [...new Set(why.map((w) => w.replace(/^(init)?[cC]ontainers?\[[^\]]*\]\s*/, '')))];
    const added = rules.map((r) => /^adds capability (\w+)/.exec(r)?.[1]).filter((c): c is string => c !== undefined);
    const constant = /postgres/.test(name) ? 'MetadataDb.CAPABILITIES' : /secrets-bootstrap/.test(name) ? 'SECRETS_COPY_FOLDER_CAPABILITIES' : 'VOLUME_PERMISSIONS_CAPABILITIES';
    const others = rules.filter((r) => !/^adds capability/.test(r));
    lines.push(`- ${name}: ${[...others, ...(added.length ? [`adds capabilities ${added.join(', ')} (\`${constant}\`; restricted adds none of them)`] : [])].join('; ')}`);
  }
  return lines.join('\n');
}

const DOC = path.join(__dirname, '..', '..', 'docs', 'secrets-and-security.md');
const START = '<!-- pod-security-levels:start -->';
const END = '<!-- pod-security-levels:end -->';

describe('the Pod Security level of each pod (issue #21)', () => {
  test('every pod meets baseline at least; only Postgres, the volume-permissions Job and (beside the data of Postgres) the secrets bootstrap Job are not restricted', () => {
    for (const { chart, pods } of levels()) {
      for (const [name, { level }] of pods) {
        // the bootstrap Job is baseline where it keeps the copy of the keys beside Postgres' data (its folder is given
        // to uid 50000 by a root init container with CHOWN): with the in-cluster database on hostPath volumes
        const baseline = /postgres|volume-permissions/.test(name) || (/secrets-bootstrap/.test(name) && chart !== 'external database');
        expect([chart, name, level]).toEqual([chart, name, baseline ? PodSecurityLevel.BASELINE : PodSecurityLevel.RESTRICTED]);
      }
    }
  });

  test('docs/secrets-and-security.md holds the table', () => {
    const table = renderPodSecurityTable();
    const doc = fs.readFileSync(DOC, 'utf8');
    const start = doc.indexOf(START);
    const end = doc.indexOf(END);
    expect(start).toBeGreaterThan(-1);
    expect(end).toBeGreaterThan(start);
    if (process.env.UPDATE === '1') fs.writeFileSync(DOC, `${doc.slice(0, start + START.length)}\n${table}\n${doc.slice(end)}`);
    else expect(doc.slice(start + START.length, end)).toBe(`\n${table}\n`);
  });
});
