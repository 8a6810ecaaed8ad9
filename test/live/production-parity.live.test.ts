// Issue #22 items 10, 11, 12 on a real API server: the charts with databaseCleanup, remoteLogging to Elasticsearch and
// OpenSearch, and Git dagBundles pass the server-side dry run. The local control plane is Kubernetes 1.20, which
// serves CronJob as batch/v1beta1 only: the chart's batch/v1 CronJob is checked against the 1.28 schema (the synth
// plugin, test/database-cleanup/), shown here to be the one object 1.20 cannot take, and its jobTemplate passes the
// dry run as the Job the CronJob controller would create (the runtime stage runs it: pgbouncer.runtime.test.ts, through PgBouncer).
import * as fs from 'fs';
import { Testing } from 'cdk8s';
import { AirflowChart, RemoteLogging } from '../../lib';
import { validationReport } from '../../validation';
import { clusterAccess, deleteNamespace, expectServerDryRun, getObject, kubectl, kubectlOk, synthAirflow, tempDir, writeYaml } from './support/cluster';

const NS = 'airflow-parity';
const dir = tempDir();
const { local: LOCAL } = clusterAccess();

const props = {
  namespace: NS,
  databaseCleanup: { retentionDays: 30 },
  dagBundles: [{ name: 'team-dags', repoUrl: 'https://github.com/example-org/dags.git', trackingRef: 'main', connectionSecret: { name: 'airflow-git', key: 'connection' } }],
};
const objects = synthAirflow(props);
const cron = objects.find((o) => o.kind === 'CronJob');

beforeAll(async () => {
  kubectlOk(['version']);
  if (!LOCAL && getObject('namespace', NS)) throw new Error(`namespace ${NS} exists already: run the live tests on a scratch cluster`);
  await deleteNamespace(NS);
  kubectlOk(['apply', '-f', writeYaml(dir, 'namespace.yaml', objects.filter((o) => o.kind === 'Namespace'))]);
});

afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  if (process.env.AIRFLOW_CDK8S_LIVE_KEEP !== '1') await deleteNamespace(NS);
});

describe('databaseCleanup and dagBundles: the server-side dry run', () => {
  test('the API server\'s batch groups: whether batch/v1 CronJob is served decides how the CronJob is checked', () => {
    const v1 = JSON.parse(kubectlOk(['get', '--raw', '/apis/batch/v1'])).resources.map((r: any) => r.kind);
    const served = v1.includes('CronJob');
    console.log(`LIVE [parity]: batch/v1 CronJob served: ${served} (${kubectlOk(['version', '-o', 'json']).match(/"gitVersion":\s*"([^"]+)"/g)?.join(', ')})`);
    expect(cron.apiVersion).toBe('batch/v1');
    const chart = new AirflowChart(Testing.app(), 'airflow', props);
    expect(validationReport(chart, { existingSecrets: ['airflow-secrets', 'airflow-git'] })).toEqual([]);
    if (served) expectServerDryRun(dir, 'cron.yaml', [cron]);
    else {
      const r = kubectl(['apply', '--dry-run=server', '-f', writeYaml(dir, 'cron.yaml', [cron])]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/no matches for kind "CronJob" in version "batch\/v1"/);
    }
  });

  test('every other object, and the CronJob\'s jobTemplate as a Job, pass the dry run', () => {
    const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'airflow-database-cleanup-dry-run', namespace: NS, labels: cron.spec.jobTemplate.metadata.labels }, spec: cron.spec.jobTemplate.spec };
    const rest = objects.filter((o) => o.kind !== 'Namespace' && o.kind !== 'CronJob');
    const lines = expectServerDryRun(dir, 'rest.yaml', [...rest, job]);
    expect(lines).toContain('job.batch/airflow-database-cleanup-dry-run created (server dry run)');
    expect(lines).toContain('serviceaccount/airflow-database-cleanup created (server dry run)');
  });
});

describe('remoteLogging to Elasticsearch and OpenSearch: the server-side dry run', () => {
  test.each([
    ['elasticsearch', RemoteLogging.elasticsearch({ hostSecret: { name: 'airflow-es', key: 'connection' }, writeStdout: true })],
    ['opensearch', RemoteLogging.opensearch({ host: 'opensearch.logging.svc', usernameSecret: { name: 'os', key: 'u' }, passwordSecret: { name: 'os', key: 'p' } })],
  ])('%s', (name, remoteLogging) => {
    const rest = synthAirflow({ namespace: NS, remoteLogging }).filter((o) => o.kind !== 'Namespace');
    expectServerDryRun(dir, `${name}.yaml`, rest);
  });
});
