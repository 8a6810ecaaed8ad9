// The connections of a namespace's pods on the real node, from the node's kernel: every new flow its conntrack table
// tracks (`conntrack -E -e NEW`, TCP and UDP, in the node's network namespace), with the pod at each end from a watch
// on the namespace's pods (their IPs) and the Service a flow dialled (kube-proxy DNATs a ClusterIP to an endpoint: the
// original direction names the Service, the reply direction the endpoint). Unlike the recorder's samples of the pods'
// sockets (real-node-recorder.py), it misses no connection however short, and it sees the DNS queries the pods make.
// The records have the emulated kubelet's form (support/connections.ts).
import { ChildProcess, spawn } from 'child_process';
import { KUBECTL } from '../../live/support/cluster';
import { KUBE_DNS_POD, RecordedConnection, RecordedPod } from './connections';
import { WatchEvents } from './watch-stream';

/** The real node's network namespace (real-kubelet.ts's and real-node.sh's default): its conntrack table. */
export const NODE_NETNS = process.env.AIRFLOW_CDK8S_NODE_NETNS ?? 'acdk8s-realnode';

/** A flow the kernel tracked (conntrack -E -e NEW -o timestamp): the original and the reply direction. */
export interface Tracked {
  t: number;
  protocol: string;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  replySrc: string;
  replySport: number;
  line: string;
}

/** The NEW events of `conntrack -E -e NEW -o timestamp`, one per line. */
export function parseConntrack(out: string): Tracked[] {
  return out.split('\n').flatMap((line) => {
    const t = line.match(/^\[(\d+(?:\.\d+)?)\]\s+\[NEW\]\s+(\w+)/);
    const v = [...line.matchAll(/\b(?:src|dst|sport|dport)=(\S+)/g)].map((m) => m[1]);
    return t && v.length >= 8
      ? [{ t: Number(t[1]), protocol: t[2], src: v[0], dst: v[1], sport: Number(v[2]), dport: Number(v[3]), replySrc: v[4], replySport: Number(v[6]), line: line.trim() }]
      : [];
  });
}

/**
 * `conntrack -E -e NEW -o timestamp` in the node's network namespace while a test file runs (`protocol`: only that
 * one's flows): every new flow the kernel tracks, however short. Start before the chart, stop after.
 */
export class ConntrackWatch {
  private proc: ChildProcess | undefined;
  private out = '';
  /** What conntrack printed on stderr (its summary, or why it could not watch). */
  err = '';

  constructor(private readonly protocol?: 'tcp' | 'udp') {}

  /** Starts the watch, and gives conntrack a second to begin. */
  async start(): Promise<void> {
    this.proc = spawn('nsenter', [`--net=/var/run/netns/${NODE_NETNS}`, '--', 'conntrack', '-E', '-e', 'NEW', ...(this.protocol ? ['-p', this.protocol] : []), '-o', 'timestamp'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stdout!.on('data', (c: string) => { this.out += c; });
    this.proc.stderr!.on('data', (c: Buffer) => { this.err += c.toString(); });
    await new Promise((res) => setTimeout(res, 1000));
  }

  stop(): void {
    this.proc?.kill('SIGTERM');
  }

  /** The flows tracked so far. */
  tracked(): Tracked[] {
    return parseConntrack(this.out);
  }
}

/** A Service as its ClusterIP names it. */
export interface ServiceRef {
  namespace: string;
  name: string;
}

/**
 * The tracked flows as connections of the emulated kubelet's form: those whose source is a pod (`podAt`: the pod that
 * held an IP at a time), TCP and UDP. A flow to a Service's ClusterIP goes `via: 'service'`, to the endpoint of its reply direction (the
 * cluster DNS's endpoint is the node's dnsmasq: its destination is the kube-dns pods a cluster has, KUBE_DNS_POD);
 * any other goes `via: 'direct'`.
 */
export function connectionsOf(tracked: Tracked[], podAt: (ip: string, t: number) => RecordedPod | undefined, services: Map<string, ServiceRef>): RecordedConnection[] {
  const kubeDns: RecordedPod = { namespace: KUBE_DNS_POD.namespace, name: 'kube-dns', labels: KUBE_DNS_POD.labels };
  const out: RecordedConnection[] = [];
  for (const f of tracked) {
    const source = podAt(f.src, f.t);
    const protocol = f.protocol.toUpperCase();
    if (!source || (protocol !== 'TCP' && protocol !== 'UDP')) continue;
    const service = services.get(f.dst);
    if (service) {
      const dns = service.namespace === 'kube-system' && service.name === 'kube-dns';
      out.push({
        t: f.t,
        via: 'service',
        source: { ip: f.src, pod: source },
        destination: { ip: f.replySrc, port: f.replySport, protocol: protocol as 'TCP' | 'UDP', pod: podAt(f.replySrc, f.t) ?? (dns ? kubeDns : null) },
        service: { namespace: service.namespace, name: service.name, ip: f.dst, port: f.dport },
      });
    } else {
      out.push({
        t: f.t,
        via: 'direct',
        source: { ip: f.src, pod: source },
        destination: { ip: f.dst, port: f.dport, protocol: protocol as 'TCP' | 'UDP', pod: podAt(f.dst, f.t) ?? null },
      });
    }
  }
  return out;
}

/**
 * Of the pods that held an IP (in the order the watch saw them), the one that held it at `t`: the last seen before
 * `t` + 5 s (a pod's first connections follow its IP closely, and the watch reports it a moment after it is assigned),
 * else the first.
 */
export function podAt(held: { pod: RecordedPod; t: number }[], t: number): RecordedPod | undefined {
  let at = held[0];
  for (const h of held) if (h.t <= t + 5) at = h;
  return at?.pod;
}

/** The connections of a namespace's pods while a test file runs on the real node: start before the chart, stop after. */
export class NodeConnections {
  /** The pods of the namespace that held each IP, each from when the watch saw it with it (an IP is reused). */
  readonly pods = new Map<string, { pod: RecordedPod; t: number }[]>();
  /** The node's flows, TCP and UDP. */
  readonly conntrack = new ConntrackWatch();
  private podWatch: ChildProcess | undefined;

  constructor(private readonly namespace: string) {}

  /** Starts the pod watch and the conntrack watch. */
  async start(): Promise<void> {
    const events = new WatchEvents();
    this.podWatch = spawn(KUBECTL, ['get', 'pods', '-n', this.namespace, '-w', '--output-watch-events', '-o', 'json'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.podWatch.stdout!.setEncoding('utf8');
    this.podWatch.stdout!.on('data', (chunk: string) => {
      for (const e of events.push(chunk)) {
        const p = e.object;
        const ip = p?.status?.podIP;
        if (e.type === 'ERROR' || !ip) continue;
        const held = this.pods.get(ip) ?? [];
        if (held[held.length - 1]?.pod.name !== p.metadata.name) held.push({ pod: { namespace: p.metadata.namespace, name: p.metadata.name, labels: p.metadata.labels ?? {} }, t: Date.now() / 1000 });
        this.pods.set(ip, held);
      }
    });
    await this.conntrack.start();
  }

  stop(): void {
    this.conntrack.stop();
    this.podWatch?.kill('SIGTERM');
  }

  /** The connections of the namespace's pods so far, the Services named from the API server's ClusterIPs now. */
  connections(servicesJson: any): RecordedConnection[] {
    const services = new Map<string, ServiceRef>();
    for (const s of servicesJson.items ?? []) {
      if (s.spec?.clusterIP && s.spec.clusterIP !== 'None') services.set(s.spec.clusterIP, { namespace: s.metadata.namespace, name: s.metadata.name });
    }
    return connectionsOf(this.conntrack.tracked(), (ip, t) => podAt(this.pods.get(ip) ?? [], t), services).filter((c) => c.source.pod?.namespace === this.namespace);
  }
}
