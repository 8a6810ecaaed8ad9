// The wait-for-db init container (lib/database/wait-for-db.ts) run for real: bash against a TCP socket.
import { execFile } from 'child_process';
import * as net from 'net';
import * as k8s from '../../imports/k8s';
import { MetadataDb } from '../../lib';
import { testChart } from '../support';

const chart = () => testChart();

/** Runs a container's command with its plain env entries (plus `extraEnv`, as the kubelet would fill from Secrets). */
function runContainer(
  container: k8s.Container,
  extraEnv: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  // HOME=/nonexistent: bash would source ~/.bashrc when its stdin is a socket, as execFile's is.
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', ...extraEnv };
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  const [file, ...args] = container.command!;
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as any).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('wait-for-db really waits (bash against a real TCP socket)', () => {
  let server: net.Server;
  let openPort: number;
  let closedPort: number;

  beforeAll(async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    openPort = (server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('exits 0 once the port accepts connections', async () => {
    const db = MetadataDb.external(chart(), 'db', { host: '127.0.0.1', port: openPort });
    const result = await runContainer(db.waitForDatabaseContainer('apache/airflow:3.1.3'));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`wait-for-db: 127.0.0.1:${openPort} accepts connections`);
  });

  test('gives up with a clear message after the bounded wait', async () => {
    const db = MetadataDb.external(chart(), 'db', { host: '127.0.0.1', port: closedPort, waitTimeoutSeconds: 3 });
    // The script's `sleep 2` between tries is a bash function here (bash imports exported functions from its
    // environment, BASH_FUNC_<name>%%): it notes its argument and moves bash's own clock, $SECONDS, on by as many
    // seconds instead of waiting them. The rest is the script as it runs: two seconds of real sleep left one
    // jest worker idle, in every run.
    const result = await runContainer(db.waitForDatabaseContainer('apache/airflow:3.1.3'), {
      'BASH_FUNC_sleep%%': '() { echo "sleep $*" >&2; SECONDS=$((SECONDS + $1)); }',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`wait-for-db: gave up after`);
    expect(result.stderr).toContain(`127.0.0.1:${closedPort} does not accept TCP connections`);
    // tried at 0, 2 and 4 s: waited 2 s between tries, until the bound of 3 s was passed
    expect(result.stderr.split('\n').filter((l) => l.startsWith('sleep '))).toEqual(['sleep 2', 'sleep 2']);
    // 4 s by the fake clock; 5 when a second of the real one ticks over between the last `sleep` and the check (bash
    // counts $SECONDS in whole seconds of the wall clock from when it was set): seen once in a quiet `npm test`
    expect(result.stderr).toMatch(/wait-for-db: gave up after [45]s:/);
  });

  test('URI mode: finds host and port in the URI and never prints the password', async () => {
    const db = MetadataDb.fromConnectionUriSecret(chart(), 'db', { uriSecret: { name: 'airflow-db', key: 'uri' } });
    const uri = `postgresql+psycopg2://airflow:s3cr%40t%2Fpw@127.0.0.1:${openPort}/airflow?sslmode=require`;
    const result = await runContainer(db.waitForDatabaseContainer('apache/airflow:3.1.3'), { DB_URI: uri });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`127.0.0.1:${openPort} accepts connections`);
    expect(result.stdout + result.stderr).not.toContain('s3cr');
  });

  test('URI mode: a URI without a host fails at once, without printing the URI', async () => {
    const db = MetadataDb.fromConnectionUriSecret(chart(), 'db', { uriSecret: { name: 'airflow-db', key: 'uri' } });
    const result = await runContainer(db.waitForDatabaseContainer('apache/airflow:3.1.3'), {
      DB_URI: 'postgresql://airflow:s3cret@/airflow?host=/var/run/postgresql',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot find a host name');
    expect(result.stdout + result.stderr).not.toContain('s3cret');
  });
});

describe('said once, and short (issue #23 item 6)', () => {
  test('with a host and port known at synth: six lines, no URI parsing (it was 33 lines in each of six pods)', () => {
    const db = MetadataDb.external(chart(), 'db', { host: 'db.example.com', port: 5432 });
    const script = db.waitForDatabaseContainer('apache/airflow:3.1.3').command![2];
    expect(script.split('\n')).toHaveLength(6);
    expect(script).not.toContain('DB_URI');
  });

  test('with a connection URI: the URI parsing comes first, then the same six lines', () => {
    const db = MetadataDb.fromConnectionUriSecret(chart(), 'db', { uriSecret: { name: 'airflow-db', key: 'uri' } });
    const script = db.waitForDatabaseContainer('apache/airflow:3.1.3').command![2];
    const known = MetadataDb.external(chart(), 'db', { host: 'db.example.com', port: 5432 }).waitForDatabaseContainer('apache/airflow:3.1.3').command![2];
    expect(script.startsWith('authority="${DB_URI#*://}"')).toBe(true);
    expect(script.endsWith(known)).toBe(true);
  });
});
