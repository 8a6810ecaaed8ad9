// A small evaluator of networking.k8s.io/v1 NetworkPolicies: is one connection (a source, a destination, a port
// and protocol) allowed by a set of policies? Used to check the chart's policies against the connections a
// running deployment makes (test/runtime/network-policies.runtime.test.ts), and tested on its own
// (test/support/network-policy.test.ts).
//
// The semantics (https://kubernetes.io/docs/concepts/services-networking/network-policies/):
// - a pod is isolated for egress (ingress) when a policy of its namespace selects it (spec.podSelector) and has
//   Egress (Ingress) in policyTypes; policyTypes defaults to ["Ingress"], plus "Egress" when spec.egress is set;
// - a connection is allowed when the source's egress allows it (not isolated, or a rule of a selecting policy
//   matches) AND the destination's ingress allows it; endpoints that are not pods (the node, the API server,
//   outside) have no policies of their own;
// - a rule matches when one of its peers matches the other end (no `to`/`from`, or an empty list: every peer) and
//   one of its ports matches (no `ports`, or an empty list: every port); a port without `protocol` is TCP, without
//   `port` every port of the protocol, `endPort` makes a range, a named port is the destination's container port;
// - a peer with only podSelector selects pods of the policy's namespace; with namespaceSelector, pods of the
//   namespaces it selects (every pod there without a podSelector); an ipBlock an address range minus `except`.
//   Whether an ipBlock matches pod IPs is up to the network plugin; here it does when the endpoint's IP is known.
// Policies are evaluated against the connection's real endpoint (after a Service's address translation), as the
// common network plugins do: a connection through a Service is given with the pod (or address) behind it.
import { selects } from './index';

/** One end of a connection: a pod (namespace and labels, maybe its IP), or an address outside any pod. */
export interface Endpoint {
  /** The pod's namespace; undefined for an endpoint that is not a pod. */
  readonly namespace?: string;
  /** The pod's labels. */
  readonly labels?: Record<string, string>;
  /** The IP address (a pod's, the node's, the API server's, an outside host's). */
  readonly ip?: string;
  /** The destination pod's named container ports (name -> number), for policies that name ports. */
  readonly namedPorts?: Record<string, { port: number; protocol?: string }>;
}

/** A connection from one endpoint to a port of another. */
export interface Connection {
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly port: number;
  /** TCP unless given. */
  readonly protocol?: 'TCP' | 'UDP' | 'SCTP';
}

/** The policies, and the labels of the namespaces the pods are in (kubernetes.io/metadata.name is added). */
export interface PolicySet {
  readonly policies: any[];
  readonly namespaceLabels?: Record<string, Record<string, string>>;
}

/** Why one side allowed or refused a connection. */
export interface SideVerdict {
  /** Whether a policy selects the pod for this direction. */
  readonly isolated: boolean;
  /** The names of the policies with a rule that matches. */
  readonly allowedBy: string[];
  readonly allowed: boolean;
}

export interface Verdict {
  readonly allowed: boolean;
  readonly egress: SideVerdict;
  readonly ingress: SideVerdict;
}

const isPod = (e: Endpoint) => e.namespace !== undefined;

function policyTypes(policy: any): string[] {
  return policy.spec.policyTypes ?? ['Ingress', ...(policy.spec.egress !== undefined ? ['Egress'] : [])];
}

function namespaceLabels(set: PolicySet, namespace: string): Record<string, string> {
  return { 'kubernetes.io/metadata.name': namespace, ...(set.namespaceLabels?.[namespace] ?? {}) };
}

function ipv4(ip: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  if (!m) return undefined;
  return m.slice(1).reduce((n, part) => n * 256 + Number(part), 0);
}

/** Whether an IPv4 address is in a CIDR (IPv6 endpoints and CIDRs never match: the stage runs IPv4). */
export function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const a = ipv4(ip);
  const b = ipv4(base);
  if (a === undefined || b === undefined) return false;
  const n = Number(bits);
  const size = 2 ** (32 - n);
  return Math.floor(a / size) === Math.floor(b / size);
}

function peerMatches(set: PolicySet, peer: any, policyNamespace: string, other: Endpoint): boolean {
  if (peer.ipBlock) {
    if (!other.ip || !inCidr(other.ip, peer.ipBlock.cidr)) return false;
    return !(peer.ipBlock.except ?? []).some((e: string) => inCidr(other.ip!, e));
  }
  if (!isPod(other)) return false;
  if (peer.namespaceSelector) {
    if (!selects(peer.namespaceSelector, namespaceLabels(set, other.namespace!))) return false;
  } else if (other.namespace !== policyNamespace) {
    return false;
  }
  return peer.podSelector ? selects(peer.podSelector, other.labels ?? {}) : true;
}

function portMatches(p: any, connection: Connection): boolean {
  const protocol = connection.protocol ?? 'TCP';
  if ((p.protocol ?? 'TCP') !== protocol) return false;
  if (p.port === undefined) return true;
  if (typeof p.port === 'string') {
    const named = connection.to.namedPorts?.[p.port];
    return named !== undefined && named.port === connection.port && (named.protocol ?? 'TCP') === protocol;
  }
  return p.endPort !== undefined ? connection.port >= p.port && connection.port <= p.endPort : p.port === connection.port;
}

function side(set: PolicySet, connection: Connection, direction: 'Egress' | 'Ingress'): SideVerdict {
  const self = direction === 'Egress' ? connection.from : connection.to;
  const other = direction === 'Egress' ? connection.to : connection.from;
  if (!isPod(self)) return { isolated: false, allowedBy: [], allowed: true };
  const selecting = set.policies.filter(
    (p) => p.kind === 'NetworkPolicy' && p.metadata.namespace === self.namespace && policyTypes(p).includes(direction) && selects(p.spec.podSelector ?? {}, self.labels ?? {}),
  );
  const allowedBy = selecting
    .filter((p) =>
      ((direction === 'Egress' ? p.spec.egress : p.spec.ingress) ?? []).some((rule: any) => {
        const peers = direction === 'Egress' ? rule.to : rule.from;
        const peerOk = !peers || peers.length === 0 || peers.some((peer: any) => peerMatches(set, peer, p.metadata.namespace, other));
        const portOk = !rule.ports || rule.ports.length === 0 || rule.ports.some((port: any) => portMatches(port, connection));
        return peerOk && portOk;
      }),
    )
    .map((p) => p.metadata.name);
  return { isolated: selecting.length > 0, allowedBy, allowed: selecting.length === 0 || allowedBy.length > 0 };
}

/** Whether the policies allow the connection: the source's egress and the destination's ingress, with the reasons. */
export function evaluate(set: PolicySet, connection: Connection): Verdict {
  const egress = side(set, connection, 'Egress');
  const ingress = side(set, connection, 'Ingress');
  return { allowed: egress.allowed && ingress.allowed, egress, ingress };
}

/** The NetworkPolicies among manifests, each with its namespace filled in (`namespace` for those without). */
export function networkPolicies(manifests: any[], namespace = 'default'): any[] {
  return manifests
    .filter((m) => m.kind === 'NetworkPolicy')
    .map((m) => ({ ...m, metadata: { ...m.metadata, namespace: m.metadata.namespace ?? namespace } }));
}
