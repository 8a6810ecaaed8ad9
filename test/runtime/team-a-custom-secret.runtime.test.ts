// The real Airflow on the constructs composed by hand (README "Use the constructs in your own chart"): namespace
// team-a, the generated Secret named data-team-airflow, composed as issue #11 reported it (MetadataDb and the
// control plane given no secret references). Before #11's one secrets wiring the database password of Postgres
// and of every Airflow pod came from airflow-secrets, which nobody creates, and nothing started; the whole chain
// must pass here as on the default chart.
import { RuntimeChain } from './support/chain';
import { newKubelet } from './support/real-kubelet';
import { teamAChart } from './support/variants';

describe('runtime: constructs composed in namespace team-a, Secret data-team-airflow', () => {
  const kubelet = newKubelet('team-a');
  const chain = new RuntimeChain(teamAChart(), kubelet);
  const steps = chain.steps();

  chain.hooks({ recordTimings: true });

  test('the chart reads its Secret under the custom name only', () => {
    expect(chain.bootstrapSecretName()).toBe('data-team-airflow');
    expect([...new Set([...chain.secretRefs().keys()].map((k) => k.split('/')[0]))]).toEqual(['data-team-airflow']);
    expect(chain.ns).toBe('team-a');
  });

  for (const step of Object.values(steps)) test(step.name, chain.jest(step), step.timeoutMs + 60_000);
});
