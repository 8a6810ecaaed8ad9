// PgBouncer (issue #22 item 9) on a real Kubernetes API server: the chart with `pgbouncer` (its Deployment,
// Service, ConfigMap, ServiceAccount and NetworkPolicy, and every Airflow pod pointed at it) passes the
// server-side dry run with field validation; nothing is stored. Its own namespace state: it cleans up before and
// after, like the other files (docs/live-tests.md).
import * as fs from 'fs';
import { clusterAccess, deleteClusterObjects, deleteNamespace, expectServerDryRun, getObject, kubectlOk, synthAirflow, tempDir, writeYaml } from './support/cluster';

const NS = 'airflow';
const { mutate: MUTATE } = clusterAccess();
const dir = tempDir('airflow-cdk8s-live-pgbouncer-');
let mayCleanUp = false;

beforeAll(async () => {
  kubectlOk(['version']);
  if (!MUTATE && getObject('namespace', NS)) {
    throw new Error(`The live tests create and delete namespace ${NS}: run them on a scratch cluster, or set AIRFLOW_CDK8S_LIVE_MUTATE_CLUSTER=1.`);
  }
  mayCleanUp = true;
  await deleteNamespace(NS);
});

afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  if (!mayCleanUp || process.env.AIRFLOW_CDK8S_LIVE_KEEP === '1') return;
  await deleteNamespace(NS);
  await deleteClusterObjects('persistentvolume', synthAirflow({ pgbouncer: {} }).filter((o) => o.kind === 'PersistentVolume').map((o) => o.metadata.name));
});

describe('the chart with pgbouncer: server-side dry run with field validation', () => {
  test.each([
    ['Airflow 3, with network policies and Celery', { pgbouncer: {}, networkPolicies: true, celery: {} }],
    ['Airflow 2.11 (task pods connect through PgBouncer)', { pgbouncer: { maxClientConn: 300, metadataPoolSize: 30 }, image: 'apache/airflow:2.11.0' }],
  ])('%s: every object is accepted, none stored', (_label, props) => {
    const variant = synthAirflow(props);
    kubectlOk(['apply', '-f', writeYaml(dir, 'namespace.yaml', variant.filter((o) => o.kind === 'Namespace'))]);
    const rest = variant.filter((o) => o.kind !== 'Namespace');
    const lines = expectServerDryRun(dir, 'rest.yaml', rest);
    expect(lines).toEqual(
      expect.arrayContaining([
        'deployment.apps/airflow-pgbouncer created (server dry run)',
        'service/airflow-pgbouncer created (server dry run)',
        'configmap/airflow-pgbouncer created (server dry run)',
        'serviceaccount/airflow-pgbouncer created (server dry run)',
      ]),
    );
    if ('networkPolicies' in props) expect(lines).toContain('networkpolicy.networking.k8s.io/airflow-pgbouncer created (server dry run)');
    expect(getObject('deployment', 'airflow-pgbouncer', NS)).toBeUndefined();
  });
});
