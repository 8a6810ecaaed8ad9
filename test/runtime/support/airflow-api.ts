// Airflow's REST API (api-server), reached like a user in the cluster would: through the Service's ClusterIP,
// which the runtime kubelet's proxy forwards to a ready api-server pod. On the real node (issue #27) the ClusterIPs
// exist only in the node's network namespace (kube-proxy's iptables rules are there, nothing is added to the
// machine's): the request is curl's, run in that namespace.
import { spawn } from 'child_process';
import { REAL_NODE } from './real-node';

const NODE_NETNS = process.env.AIRFLOW_CDK8S_NODE_NETNS ?? 'acdk8s-realnode';

/** An HTTP answer: status and parsed JSON body (or the raw text when it is not JSON). */
export interface HttpAnswer {
  readonly status: number;
  readonly body: any;
  readonly text: string;
}

export async function http(method: string, url: string, body?: unknown, token?: string, timeoutMs = 30_000): Promise<HttpAnswer> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  if (REAL_NODE) return curlInNode(method, url, headers, body, timeoutMs);
  const r = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await r.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: r.status, body: parsed, text };
}

/**
 * A GET that follows no redirect, with the answer's headers (lower-case names): the login pages' tests.
 * `requestHeaders` are sent as given (e.g. the `Host` an Ingress would forward).
 */
export async function getPage(url: string, timeoutMs = 30_000, requestHeaders: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string>; text: string }> {
  if (!REAL_NODE) {
    const r = await fetch(url, { redirect: 'manual', headers: requestHeaders, signal: AbortSignal.timeout(timeoutMs) });
    return { status: r.status, headers: Object.fromEntries([...r.headers.entries()]), text: await r.text() };
  }
  // curl -i: the status line and headers, a blank line, then the body
  const r = await curlInNode('GET', url, requestHeaders, undefined, timeoutMs, ['-i']);
  const raw = r.text.replace(/\r\n/g, '\n');
  const end = raw.indexOf('\n\n');
  const headers: Record<string, string> = {};
  for (const line of raw.slice(0, end).split('\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: r.status, headers, text: raw.slice(end + 2) };
}

/** The request made by curl in the real node's network namespace (nsenter --net, as real-node.sh's `exec`). */
function curlInNode(method: string, url: string, headers: Record<string, string>, body: unknown, timeoutMs: number, extra: string[] = []): Promise<HttpAnswer> {
  const args = [`--net=/var/run/netns/${NODE_NETNS}`, '--', 'curl', '-sS', ...extra, '-X', method, '--max-time', String(Math.ceil(timeoutMs / 1000)), '-w', '\n%{http_code}'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  if (body !== undefined) args.push('--data-binary', '@-');
  args.push(url);
  return new Promise((resolve, reject) => {
    // stdin only for a body (curl reads it before it connects); without one, a pipe that curl never reads could be
    // closed by curl's exit before node wrote to it: "write EPIPE" failed two real-node steps whose request had worked
    const p = spawn('nsenter', args, { stdio: [body === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`curl ${method} ${url} in the node's network namespace: exit ${code} ${err.trim()}`));
      const i = out.lastIndexOf('\n');
      const text = out.slice(0, i);
      let parsed: any = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON
      }
      resolve({ status: Number(out.slice(i + 1)), body: parsed, text });
    });
    if (body !== undefined) {
      p.stdin!.on('error', () => {}); // curl's exit is reported by 'close', with its code and stderr
      p.stdin!.end(JSON.stringify(body));
    }
  });
}

export class AirflowApi {
  private token: string | undefined;

  constructor(public readonly base: string) {}

  /** POST /auth/token (the FAB auth manager's login): a JWT for the REST API. */
  async login(username: string, password: string): Promise<HttpAnswer> {
    const r = await http('POST', `${this.base}/auth/token`, { username, password });
    if (r.status === 200 || r.status === 201) this.token = r.body.access_token;
    return r;
  }

  async health(): Promise<HttpAnswer> {
    return http('GET', `${this.base}/api/v2/monitor/health`, undefined, undefined, 15_000);
  }

  async call(method: string, path: string, body?: unknown): Promise<HttpAnswer> {
    if (!this.token) throw new Error('not logged in to the Airflow REST API');
    return http(method, `${this.base}/api/v2${path}`, body, this.token);
  }

  /** The same call, throwing with the answer unless it has a 2xx status. */
  async ok(method: string, path: string, body?: unknown): Promise<any> {
    const r = await this.call(method, path, body);
    if (r.status < 200 || r.status >= 300) {
      throw new Error(`${method} /api/v2${path}: HTTP ${r.status} ${r.text.slice(0, 500)}`);
    }
    return r.body;
  }
}
