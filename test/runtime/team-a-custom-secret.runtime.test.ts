// The real Airflow on the constructs composed by hand (README "Use the constructs in your own chart"): namespace
// team-a, the generated Secret named data-team-airflow. The whole chain must pass here as on the default chart.
// Then issue #11's report as written (MetadataDb without passwordSecret): the database password of Postgres AND of
// every Airflow pod comes from airflow-secrets/db-password, a Secret nobody creates (the bootstrap Job creates
// data-team-airflow), so nothing starts. Pinned with test.failing until #11 lands.
import { getObject } from '../live/support/cluster';
import { RuntimeChain, waitForAsync } from './support/chain';
import { Kubelet } from './support/kubelet';
import { teamAChart } from './support/variants';

describe('runtime: constructs composed in namespace team-a, Secret data-team-airflow', () => {
  const kubelet = new Kubelet('team-a');
  const chain = new RuntimeChain(teamAChart(), kubelet);
  const steps = chain.steps();

  beforeAll(async () => {
    await chain.cleanUp();
    await kubelet.start();
    chain.prepareHostFolders();
  }, 300_000);

  afterAll(async () => {
    chain.stopPhaseWatch();
    chain.recordTimings();
    if (process.env.AIRFLOW_CDK8S_RUNTIME_KEEP === '1') return;
    await chain.cleanUp();
    kubelet.stop();
  }, 300_000);

  test('the chart reads its Secret under the custom name only', () => {
    expect(chain.bootstrapSecretName()).toBe('data-team-airflow');
    expect([...new Set([...chain.secretRefs().keys()].map((k) => k.split('/')[0]))]).toEqual(['data-team-airflow']);
    expect(chain.ns).toBe('team-a');
  });

  for (const step of Object.values(steps)) test(step.name, chain.jest(step), step.timeoutMs + 60_000);
});

// TODO(#11): with one secrets wiring, MetadataDb takes its password from AirflowSecrets and these pass: then
// turn test.failing back into test (jest reports a test.failing that passes as a failure, so it cannot be missed).
describe('runtime: issue #11 as reported: MetadataDb without passwordSecret beside a custom Secret name', () => {
  const kubelet = new Kubelet('team-a-issue-11');
  const chain = new RuntimeChain(teamAChart(false), kubelet);
  const steps = chain.steps();
  const [apply, bootstrap, secretsExist] = Object.values(steps);

  beforeAll(async () => {
    await chain.cleanUp();
    await kubelet.start();
    chain.prepareHostFolders();
  }, 300_000);

  afterAll(async () => {
    if (process.env.AIRFLOW_CDK8S_RUNTIME_KEEP === '1') return;
    await chain.cleanUp();
    kubelet.stop();
  }, 300_000);

  test(apply.name, chain.jest(apply), apply.timeoutMs);
  test(bootstrap.name, chain.jest(bootstrap), bootstrap.timeoutMs);

  test.failing(`${secretsExist.name} [known bug #11: the database password is read from airflow-secrets]`, async () => {
    const err = await chain.execute(secretsExist);
    if (err) console.log(`RUNTIME [team-a-issue-11] (#11): ${err.message.split('\n').slice(0, 3).join('\n')}`);
    if (err) throw err;
  });

  test.failing('Postgres starts [known bug #11: its POSTGRES_PASSWORD names Secret airflow-secrets, which nobody creates]', async () => {
    const sts = chain.objectsOf('StatefulSet')[0];
    try {
      await waitForAsync(
        `StatefulSet ${sts.metadata.name} to have a ready replica`,
        60_000,
        () => (getObject('statefulset', sts.metadata.name, chain.ns)?.status?.readyReplicas ?? 0) >= 1,
        () => JSON.stringify(chain.podOf('metadata-db')?.status?.containerStatuses?.[0]?.state),
        2000,
      );
    } catch (e) {
      console.log(`RUNTIME [team-a-issue-11] (#11): ${(e as Error).message}`);
      throw e;
    }
  }, 120_000);
});
