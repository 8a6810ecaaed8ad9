// Airflow's REST API (api-server), reached like a user in the cluster would: through the Service's ClusterIP,
// which the runtime kubelet's proxy forwards to a ready api-server pod.

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
