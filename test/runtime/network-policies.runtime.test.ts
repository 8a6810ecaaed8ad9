// The NetworkPolicies against the connections of a running deployment (issue #21 item 6): the default chart with
// `networkPolicies: true` runs the whole runtime chain (apply, secrets, Postgres, migrations, the components, a
// task pod the KubernetesExecutor creates, runs and deletes), while the runtime kubelet records every connection
// its pods open (through its Service proxy, and the others by sampling the pods' sockets). Then each connection,
// and the DNS query a real pod makes before it, is checked against the chart's policies with the evaluator of
// test/support/network-policy.ts: every one must be allowed. The emulated node does not enforce the policies
// (no network plugin): the check is the evaluator's, on connections the real Airflow made.
import { RuntimeChain } from './support/chain';
import { checkConnections, flowTable, readConnections } from './support/connections';
import { Kubelet } from './support/kubelet';
import { defaultChart } from './support/variants';

// The local control plane's API server listens on its own port: in the policy's ports, as a user of a cluster
// whose API server listens on a port other than 443, 6443 or 8443 would list it (kubernetesApiPorts).
const API_SERVER_PORT = Number(process.env.AIRFLOW_CDK8S_APISERVER_PORT ?? 16443);

describe('runtime: the default chart with networkPolicies: true, every connection checked against its policies', () => {
  const kubelet = new Kubelet('network-policies');
  const variant = {
    ...defaultChart({ networkPolicies: true, networkPolicyOptions: { kubernetesApiPorts: [443, API_SERVER_PORT] } }),
    id: 'network-policies',
    title: 'the default chart with networkPolicies: true',
  };
  const chain = new RuntimeChain(variant, kubelet);
  const steps = chain.steps();

  chain.hooks({ recordTimings: false });

  test('the chart holds its NetworkPolicies, the default deny among them', () => {
    const names = variant.objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata.name);
    expect(names).toContain('airflow-default-deny');
    expect(names.length).toBeGreaterThan(5);
  });

  for (const step of Object.values(steps)) test(step.name, chain.jest(step), step.timeoutMs + 60_000);

  test('every connection the pods made is allowed by the NetworkPolicies', () => {
    const records = readConnections(kubelet.state);
    const checked = checkConnections(variant.objects, chain.ns, records);
    const table = flowTable(checked);
    console.log(`RUNTIME [network-policies]: ${records.length} connections recorded, ${checked.length} from the pods of ${chain.ns} (DNS included)\n${table}`);
    const flows = new Set(checked.map((c) => c.flow));
    // The recorder saw the connections the chain cannot run without (else the check below would be vacuous).
    for (const flow of [
      'scheduler -> metadata-db:5432/TCP',
      'api-server -> metadata-db:5432/TCP',
      'db-migrate -> metadata-db:5432/TCP',
      `scheduler -> the Kubernetes API:${API_SERVER_PORT}/TCP`,
      `secrets-bootstrap -> the Kubernetes API:${API_SERVER_PORT}/TCP`,
      'worker -> api-server:8080/TCP',
      'worker -> kube-dns:53/UDP',
    ]) {
      expect([flow, flows.has(flow)]).toEqual([flow, true]);
    }
    expect(table.split('\n').filter((l) => l.startsWith('DENIED'))).toEqual([]);
  });
});
