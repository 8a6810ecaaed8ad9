// test/runtime/support/node-connections.ts: the real node's conntrack events as the connections of a namespace's
// pods, in the emulated kubelet's form, for network-policies.runtime.test.ts on the real node.
import { checkConnections } from '../runtime/support/connections';
import { connectionsOf, parseConntrack, podAt, ServiceRef } from '../runtime/support/node-connections';
import { defaultChart } from '../runtime/support/variants';

// as `conntrack -E -e NEW -o timestamp` prints them in the node's network namespace (the UDP line was recorded on the
// real node, 2026-12-06; the TCP lines have its form): a DNS query to the kube-dns Service (its endpoint is the node's
// dnsmasq), the scheduler to Postgres' Service and to the Kubernetes API's (DNATed to the API server's port), a task
// pod to the api-server's Service, a pod-to-pod connection, the kubelet's probe from the node's bridge, and the task
// pod to Postgres (which the policies refuse: Airflow 3's task pods reach the database through the api-server)
const events = [
  '[1796533361.310133]\t    [NEW] udp      17 30 src=10.246.0.5 dst=10.0.0.10 sport=55681 dport=53 [UNREPLIED] src=10.246.1.2 dst=10.246.0.5 sport=53 dport=55681',
  '[1796533362.000001]\t    [NEW] tcp      6 120 SYN_SENT src=10.246.0.5 dst=10.0.0.77 sport=40000 dport=5432 [UNREPLIED] src=10.246.0.3 dst=10.246.0.5 sport=5432 dport=40000',
  '[1796533362.000002]\t    [NEW] tcp      6 120 SYN_SENT src=10.246.0.5 dst=10.0.0.1 sport=40002 dport=443 [UNREPLIED] src=10.246.1.1 dst=10.246.0.5 sport=18443 dport=40002',
  '[1796533370.000003]\t    [NEW] tcp      6 120 SYN_SENT src=10.246.0.9 dst=10.0.0.88 sport=40004 dport=8080 [UNREPLIED] src=10.246.0.4 dst=10.246.0.9 sport=8080 dport=40004',
  '[1796533371.000004]\t    [NEW] tcp      6 120 SYN_SENT src=10.246.0.5 dst=10.246.0.3 sport=40006 dport=5432 [UNREPLIED] src=10.246.0.3 dst=10.246.0.5 sport=5432 dport=40006',
  '[1796533372.000005]\t    [NEW] tcp      6 120 SYN_SENT src=10.246.1.1 dst=10.246.0.4 sport=40008 dport=8080 [UNREPLIED] src=10.246.0.4 dst=10.246.1.1 sport=8080 dport=40008',
  '[1796533373.000006]\t    [NEW] tcp      6 120 SYN_SENT src=10.246.0.9 dst=10.0.0.77 sport=40010 dport=5432 [UNREPLIED] src=10.246.0.3 dst=10.246.0.9 sport=5432 dport=40010',
  'conntrack v1.4.7 (conntrack-tools): 7 flow events have been shown.',
].join('\n');

// the labels the chart gives its pods
const pod = (name: string, component: string) => ({
  namespace: 'netpol',
  name,
  labels: { 'app.kubernetes.io/name': 'airflow', 'app.kubernetes.io/part-of': 'airflow', 'app.kubernetes.io/component': component },
});
const T0 = 1796533360;
// 10.246.0.9 held by a Job's pod first, then (reused) by the task pod
const held = new Map([
  ['10.246.0.5', [{ pod: pod('airflow-scheduler-1', 'scheduler'), t: T0 - 30 }]],
  ['10.246.0.3', [{ pod: pod('airflow-postgres-0', 'metadata-db'), t: T0 - 60 }]],
  ['10.246.0.4', [{ pod: pod('airflow-api-server-1', 'api-server'), t: T0 - 30 }]],
  ['10.246.0.9', [{ pod: pod('airflow-db-migrate-x', 'db-migrate'), t: T0 - 50 }, { pod: pod('write-file-y', 'worker'), t: T0 + 8 }]],
]);
const services = new Map<string, ServiceRef>([
  ['10.0.0.10', { namespace: 'kube-system', name: 'kube-dns' }],
  ['10.0.0.1', { namespace: 'default', name: 'kubernetes' }],
  ['10.0.0.77', { namespace: 'netpol', name: 'airflow-postgres' }],
  ['10.0.0.88', { namespace: 'netpol', name: 'airflow-api-server' }],
]);
const connections = connectionsOf(parseConntrack(events), (ip, t) => podAt(held.get(ip) ?? [], t), services);

test('each flow from a pod becomes a connection: via its Service to the endpoint, or direct; the node\'s own are left out', () => {
  expect(parseConntrack(events)).toHaveLength(7);
  expect(connections.map((c) => [c.via, c.source.pod?.name, c.destination.pod?.name ?? null, c.destination.ip, c.destination.port, c.destination.protocol, c.service?.name ?? null])).toEqual([
    ['service', 'airflow-scheduler-1', 'kube-dns', '10.246.1.2', 53, 'UDP', 'kube-dns'],
    ['service', 'airflow-scheduler-1', 'airflow-postgres-0', '10.246.0.3', 5432, 'TCP', 'airflow-postgres'],
    ['service', 'airflow-scheduler-1', null, '10.246.1.1', 18443, 'TCP', 'kubernetes'],
    ['service', 'write-file-y', 'airflow-api-server-1', '10.246.0.4', 8080, 'TCP', 'airflow-api-server'],
    ['direct', 'airflow-scheduler-1', 'airflow-postgres-0', '10.246.0.3', 5432, 'TCP', null],
    ['service', 'write-file-y', 'airflow-postgres-0', '10.246.0.3', 5432, 'TCP', 'airflow-postgres'],
  ]);
  // the cluster DNS's endpoint is the node's dnsmasq: the destination is the kube-dns pods a cluster has
  expect(connections[0].destination.pod?.labels).toEqual({ 'k8s-app': 'kube-dns' });
});

test('an IP held by two pods in turn names the one that held it at the flow\'s time', () => {
  expect(podAt(held.get('10.246.0.9')!, T0 - 20)?.name).toBe('airflow-db-migrate-x');
  expect(podAt(held.get('10.246.0.9')!, T0 + 10)?.name).toBe('write-file-y');
  expect(podAt([], T0)).toBeUndefined();
});

test('the recorded DNS queries are checked as they are, none assumed; each flow named by its protocol', () => {
  const objects = defaultChart({ namespace: 'netpol', networkPolicies: true, networkPolicyOptions: { kubernetesApiPorts: [443, 18443] } }).objects;
  const checked = checkConnections(objects, 'netpol', connections, true);
  expect(checked.map((c) => [c.flow, c.seen, c.verdict.allowed])).toEqual([
    ['scheduler -> kube-dns:53/UDP', 'service', true],
    ['scheduler -> metadata-db:5432/TCP', 'service', true],
    ['scheduler -> the Kubernetes API:18443/TCP', 'service', true],
    ['worker -> api-server:8080/TCP', 'service', true],
    ['scheduler -> metadata-db:5432/TCP', 'direct', true],
    ['worker -> metadata-db:5432/TCP', 'service', false],
  ]);
  // the emulated stage's records: the DNS query before a connection by name is assumed, UDP and TCP
  expect(checkConnections(objects, 'netpol', connections.slice(1, 2)).map((c) => [c.flow, c.seen])).toEqual([
    ['scheduler -> kube-dns:53/UDP', 'dns'],
    ['scheduler -> kube-dns:53/TCP', 'dns'],
    ['scheduler -> metadata-db:5432/TCP', 'service'],
  ]);
});
