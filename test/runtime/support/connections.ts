// The connections the runtime kubelet saw (scripts/runtime/kubelet.py writes connections.jsonl: every connection
// through its Service proxy, and the pods' other outgoing TCP connections, sampled every second; on the real node the
// kernel's conntrack events, support/node-connections.ts), checked against the chart's NetworkPolicies with the
// evaluator of test/support/network-policy.ts.
import * as fs from 'fs';
import * as path from 'path';
import { Connection, evaluate, networkPolicies, Verdict } from '../../support/network-policy';

/** One line of connections.jsonl. */
export interface RecordedConnection {
  readonly t: number;
  readonly via: 'service' | 'direct';
  readonly source: { ip: string; pod: RecordedPod | null };
  readonly destination: { ip: string; port: number; protocol: 'TCP' | 'UDP'; pod: RecordedPod | null };
  readonly service?: { namespace: string | null; name: string | null; ip: string; port: number };
}

export interface RecordedPod {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Record<string, string>;
}

/** A connection as the check sees it, with its verdict. */
export interface CheckedConnection {
  /** `<source component> -> <destination>:<port>/<protocol>`, the flow's name in the report. */
  readonly flow: string;
  readonly connection: Connection;
  readonly verdict: Verdict;
  /** Whether the kubelet saw it, or it is the DNS query a real cluster makes before a connection by name (assumed). */
  readonly seen: 'service' | 'direct' | 'dns';
}

/** The cluster DNS as the default `dns` peer selects it: the kube-dns pods of kube-system. */
export const KUBE_DNS_POD = { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' }, ip: '10.244.255.10' };

export function readConnections(state: string): RecordedConnection[] {
  const file = path.join(state, 'connections.jsonl');
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

const componentOf = (pod: RecordedPod | null) => pod?.labels['app.kubernetes.io/component'] ?? pod?.name ?? 'the node';

/**
 * The connections made by the pods of `namespace`, and the one to each pod's DNS (the emulated stage resolves
 * Services' names from /etc/hosts; a real pod asks the cluster DNS, UDP and TCP 53, before it connects by name;
 * `dnsRecorded`: the records hold the pods' real DNS queries, the real node's, and none is assumed), each
 * evaluated against the NetworkPolicies among `objects`. Connections from the node (the tests' own calls, the
 * kubelet's probes) are left out: NetworkPolicy does not apply to them.
 */
export function checkConnections(objects: any[], namespace: string, records: RecordedConnection[], dnsRecorded = false): CheckedConnection[] {
  const set = { policies: networkPolicies(objects, namespace) };
  const out: CheckedConnection[] = [];
  const dnsDone = new Set<string>();
  for (const r of records) {
    const src = r.source.pod;
    if (!src || src.namespace !== namespace) continue;
    const from = { namespace: src.namespace, labels: src.labels, ip: r.source.ip };
    if (!dnsRecorded && r.via === 'service' && !dnsDone.has(src.name)) {
      dnsDone.add(src.name);
      for (const protocol of ['UDP', 'TCP'] as const) {
        const c: Connection = { from, to: KUBE_DNS_POD, port: 53, protocol };
        out.push({ flow: `${componentOf(src)} -> kube-dns:53/${protocol}`, connection: c, verdict: evaluate(set, c), seen: 'dns' });
      }
    }
    const dst = r.destination.pod;
    const to = dst ? { namespace: dst.namespace, labels: dst.labels, ip: r.destination.ip } : { ip: r.destination.ip };
    const name = dst ? componentOf(dst) : r.service?.name === 'kubernetes' ? 'the Kubernetes API' : r.destination.ip;
    const protocol = r.destination.protocol;
    const c: Connection = { from, to, port: r.destination.port, protocol };
    out.push({ flow: `${componentOf(src)} -> ${name}:${r.destination.port}/${protocol}`, connection: c, verdict: evaluate(set, c), seen: r.via });
  }
  return out;
}

/** The distinct flows, with how often each was seen and the policies that allowed it (or what refused it). */
export function flowTable(checked: CheckedConnection[]): string {
  const rows = new Map<string, { n: number; v: Verdict }>();
  for (const c of checked) {
    const row = rows.get(c.flow) ?? { n: 0, v: c.verdict };
    row.n++;
    if (!c.verdict.allowed) row.v = c.verdict;
    rows.set(c.flow, row);
  }
  return [...rows.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([flow, { n, v }]) =>
      `${v.allowed ? 'allowed' : 'DENIED '}  ${flow.padEnd(58)} ×${String(n).padEnd(4)} egress: ${v.egress.allowed ? v.egress.allowedBy.join(', ') || '(not isolated)' : 'refused'}; ingress: ${v.ingress.allowed ? v.ingress.allowedBy.join(', ') || '(not isolated)' : 'refused'}`,
    )
    .join('\n');
}
