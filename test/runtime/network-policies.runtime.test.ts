// The NetworkPolicies against the connections of a running deployment (issue #21 item 6): the default chart with
// `networkPolicies: true` runs the whole runtime chain (apply, secrets, Postgres, migrations, the components, a
// task pod the KubernetesExecutor creates, runs and deletes), while every connection its pods open is recorded: on
// the real node (REAL_NODE_SUITES, where it runs) every flow the node's kernel tracks (conntrack: TCP, and the DNS
// queries over UDP; support/node-connections.ts), on the emulated kubelet every connection through its Service proxy
// and the others by sampling the pods' sockets (and there the DNS query a real pod makes before a connection by name
// is assumed). Then each connection is checked against the chart's policies with the evaluator of
// test/support/network-policy.ts: every one must be allowed. Neither node enforces the policies (the real node's
// bridge network plugin does not): the check is the evaluator's, on connections the real Airflow made.
import { KUBECTL } from '../live/support/cluster';
import { RuntimeChain } from './support/chain';
import { checkConnections, flowTable, readConnections } from './support/connections';
import { NodeConnections } from './support/node-connections';
import { newKubelet } from './support/real-kubelet';
import { defaultChart } from './support/variants';
import { execFileSync } from 'child_process';

// The local control plane's API server listens on its own port: in the policy's ports, as a user of a cluster
// whose API server listens on a port other than 443, 6443 or 8443 would list it (kubernetesApiPorts).
const API_SERVER_PORT = Number(process.env.AIRFLOW_CDK8S_APISERVER_PORT ?? 16443);

// A namespace of its own (two real-node files may run at once: docs/runtime-tests.md, "Two files at once").
const NAMESPACE = 'netpol';

describe(`runtime: the default chart with networkPolicies: true in namespace ${NAMESPACE}, every connection checked against its policies`, () => {
  const kubelet = newKubelet('network-policies');
  const variant = {
    ...defaultChart({ namespace: NAMESPACE, networkPolicies: true, networkPolicyOptions: { kubernetesApiPorts: [443, API_SERVER_PORT] } }),
    id: 'network-policies',
    title: 'the default chart with networkPolicies: true',
  };
  const chain = new RuntimeChain(variant, kubelet);
  const steps = chain.steps();
  const node = kubelet.real ? new NodeConnections(NAMESPACE) : undefined;

  // from before the chart is applied to after its last step: every flow of its pods
  beforeAll(() => node?.start());
  chain.hooks({ recordTimings: false, stop: () => node?.stop() });

  test('the chart holds its NetworkPolicies, the default deny among them', () => {
    const names = variant.objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata.name);
    expect(names).toContain('airflow-default-deny');
    expect(names.length).toBeGreaterThan(5);
  });

  for (const step of Object.values(steps)) test(step.name, chain.jest(step), step.timeoutMs + 60_000);

  test('every connection the pods made is allowed by the NetworkPolicies', () => {
    const records = node
      ? node.connections(JSON.parse(execFileSync(KUBECTL, ['get', 'services', '-A', '-o', 'json'], { encoding: 'utf8', maxBuffer: 64 << 20 })))
      : readConnections(kubelet.state);
    const checked = checkConnections(variant.objects, chain.ns, records, kubelet.real);
    const table = flowTable(checked);
    console.log(
      `RUNTIME [network-policies]: ${records.length} connections recorded (${node ? `the node's conntrack: ${node.conntrack.tracked().length} new flows, ${node.pods.size} pod IPs` : "the emulated kubelet's records"}), ` +
        `${checked.length} from the pods of ${chain.ns} (DNS included)\n${table}${node?.conntrack.err ? `\nconntrack: ${node.conntrack.err.trim()}` : ''}`,
    );
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
