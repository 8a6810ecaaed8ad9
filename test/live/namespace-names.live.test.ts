// Any valid namespace name deploys with the defaults (test/airflow-chart.test.ts): the API server takes a namespace of
// 63 characters that starts with a digit, and every object of the default chart in it (server-side dry run), the
// PersistentVolumes named after it included. Its own namespace, deleted before and after (docs/live-tests.md).
import * as fs from 'fs';
import { clusterAccess, deleteNamespace, expectServerDryRun, getObject, kubectlOk, synthAirflow, tempDir, writeYaml } from './support/cluster';

const NS = `2024-${'a'.repeat(58)}`;
const dir = tempDir();
const { local: LOCAL } = clusterAccess();
const objects = synthAirflow({ namespace: NS });

beforeAll(async () => {
  kubectlOk(['version']);
  if (!LOCAL && getObject('namespace', NS)) throw new Error(`namespace ${NS} exists already: run the live tests on a scratch cluster`);
  await deleteNamespace(NS);
});

afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  if (process.env.AIRFLOW_CDK8S_LIVE_KEEP !== '1') await deleteNamespace(NS);
});

test('a namespace of 63 characters starting with a digit: created, and every other object passes the dry run', () => {
  expect(NS).toHaveLength(63);
  kubectlOk(['apply', '-f', writeYaml(dir, 'namespace.yaml', objects.filter((o) => o.kind === 'Namespace'))]);
  expect(getObject('namespace', NS)?.metadata.name).toBe(NS);
  const lines = expectServerDryRun(dir, 'rest.yaml', objects.filter((o) => o.kind !== 'Namespace'));
  expect(lines).toContain(`persistentvolume/${NS}-postgres-keys-volume created (server dry run)`);
  expect(lines).toContain('statefulset.apps/airflow-postgres created (server dry run)');
});
