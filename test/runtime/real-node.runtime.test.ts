// The real node (issue #27, docs/runtime-tests.md "The real node"): the kubelet 1.20.2, containerd, runc, the
// bridge CNI plugin, kube-proxy and dnsmasq that scripts/runtime/real-node.sh starts, and the images
// scripts/runtime/build-images.sh pushed to its registry. Runs only when scripts/test-runtime.sh started that node
// (AIRFLOW_CDK8S_RUNTIME_NODE=real, `npm run test:runtime:real`); the emulated stage skips it.
import * as fs from 'fs';
import * as path from 'path';
import { kubectl, kubectlJson, kubectlOk, waitFor } from '../live/support/cluster';
import { claimNamespace, NAMESPACE_CLAIMS } from './support/namespace-claim';
import { recordRuntime } from './support/results';
import { DEFAULT_AIRFLOW_IMAGE } from '../../lib';

const REAL = process.env.AIRFLOW_CDK8S_RUNTIME_NODE === 'real';
const NODE = process.env.AIRFLOW_CDK8S_NODE_NAME ?? 'airflow-cdk8s-real-node';
/**
 * This file's own namespace (no other suite uses it): its pods (airflow-version, postgres, client, oom) and its
 * Service are namespaced and it mounts no host folder and makes no cluster-scoped object, so it shares nothing with
 * a file running beside it on the node (issue #25 item 3).
 */
const NS = 'real-node-smoke';
const NODE_MEMORY = process.env.AIRFLOW_CDK8S_NODE_MEMORY ?? '4Gi';
// The image the default app's YAML names: build-images.sh builds it from the root of that Airflow's minor version.
const AIRFLOW_IMAGE = DEFAULT_AIRFLOW_IMAGE;
/**
 * The Airflow minor version of that image's tag: build-images.sh builds it from the root of that minor (the 3.2 root
 * holds the 3.2 source bundle, whose patch release may differ from the tag's), so `airflow version` says 3.2.x.
 */
const AIRFLOW_MINOR = /:(\d+\.\d+)\./.exec(AIRFLOW_IMAGE)![1];
const POSTGRES_IMAGE = 'postgres:17.10-bookworm';

const d = REAL ? describe : describe.skip;

function pod(name: string): any {
  return kubectlJson(['-n', NS, 'get', 'pod', name, '-o', 'json']);
}

function phase(name: string): string {
  return kubectl(['-n', NS, 'get', 'pod', name, '-o', 'jsonpath={.status.phase}']).stdout.trim();
}

function events(name: string): any[] {
  return kubectlJson(['-n', NS, 'get', 'events', '--field-selector', `involvedObject.name=${name}`, '-o', 'json']).items;
}

/** Seconds between two RFC 3339 times. */
const secs = (from: string, to: string) => Math.round((Date.parse(to) - Date.parse(from)) / 100) / 10;

/** The pod's start path from its events and status: scheduled → pulling → pulled → created → started → running. */
function startPath(name: string, container: string): Record<string, number | string> {
  const p = pod(name);
  const ev = events(name);
  const at = (reason: string) => ev.find((e) => e.reason === reason)?.firstTimestamp as string | undefined;
  const scheduled = p.status.conditions.find((c: any) => c.type === 'PodScheduled').lastTransitionTime;
  const cs = [...(p.status.initContainerStatuses ?? []), ...p.status.containerStatuses].find((c: any) => c.name === container);
  const running = cs.state.running?.startedAt ?? cs.state.terminated?.startedAt;
  const pulled = ev.find((e) => e.reason === 'Pulled')?.message ?? '';
  const out: Record<string, number | string> = { pulled };
  if (at('Pulling')) out.scheduledToPulling = secs(scheduled, at('Pulling')!);
  const pullIn = pulled.match(/in ([\d.]+)(m?s)/);
  if (pullIn) out.pullSeconds = Number(pullIn[1]) / (pullIn[2] === 'ms' ? 1000 : 1);
  if (at('Created')) out.scheduledToCreated = secs(scheduled, at('Created')!);
  if (running) out.scheduledToRunning = secs(scheduled, running);
  return out;
}

async function waitPhase(name: string, want: string[], timeoutMs: number): Promise<string> {
  let got = '';
  await waitFor(
    `pod ${name} to reach ${want.join(' or ')}`,
    timeoutMs,
    () => want.includes((got = phase(name))),
    () => `phase ${got}; events:\n${events(name).map((e) => `${e.reason}: ${e.message}`).join('\n')}`,
    1000,
  );
  return got;
}

d('runtime: the real node (kubelet, containerd, runc, kube-proxy, dnsmasq)', () => {
  let release: (() => void) | undefined;
  beforeAll(() => {
    // another file runs beside this one on the real node: its namespace must be this file's alone
    release = claimNamespace(NAMESPACE_CLAIMS, NS, path.basename(__filename));
    kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=120s']);
    kubectlOk(['create', 'namespace', NS]);
  });
  afterAll(() => {
    kubectl(['delete', 'namespace', NS, '--wait=false']);
    release?.();
  });

  // allocatable memory: a minikube node's 4Gi per test file running at once (scripts/test-runtime.sh exports it)
  test(`the node is Ready with 2 CPUs and ${NODE_MEMORY} allocatable (minikube's default 4Gi per file running at once) and untainted`, () => {
    const n = kubectlJson(['get', 'node', NODE, '-o', 'json']);
    expect(n.status.conditions.find((c: any) => c.type === 'Ready').status).toBe('True');
    expect(n.status.allocatable.cpu).toBe('2');
    expect(n.status.allocatable.memory).toBe(NODE_MEMORY);
    expect(n.spec.taints ?? []).toEqual([]);
    expect(n.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\/1\.6\./);
    expect(n.status.nodeInfo.kubeletVersion).toBe('v1.20.2');
    recordRuntime(['realNode', 'node'], { allocatable: n.status.allocatable, capacity: n.status.capacity, nodeInfo: n.status.nodeInfo });
  });

  test(`${AIRFLOW_IMAGE} pulled from the registry runs through dumb-init and /entrypoint as uid 50000 gid 0`, async () => {
    kubectlOk(['-n', NS, 'apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'airflow-version' },
      spec: {
        restartPolicy: 'Never',
        containers: [{
          name: 'base',
          image: AIRFLOW_IMAGE,
          imagePullPolicy: 'Always',
          // args only: the image's ENTRYPOINT runs (its `airflow db check`, then `bash ...`)
          args: ['bash', '-c', 'echo "uid=$(id -u) gid=$(id -g) pid1=$(cat /proc/1/comm) home=$HOME pwd=$PWD"; airflow version'],
          resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } },
        }],
      },
    }));
    expect(await waitPhase('airflow-version', ['Succeeded', 'Failed'], 600_000)).toBe('Succeeded');
    const log = kubectlOk(['-n', NS, 'logs', 'airflow-version']);
    expect(log).toMatch(/uid=50000 gid=0 pid1=dumb-init home=\/home\/airflow pwd=\/opt\/airflow/);
    expect(log).toMatch(new RegExp(`^${AIRFLOW_MINOR.replace('.', '\\.')}\\.\\d+$`, 'm'));
    const path = startPath('airflow-version', 'base');
    console.log(`RUNTIME [real node]: ${AIRFLOW_IMAGE} start path ${JSON.stringify(path)}`);
    recordRuntime(['realNode', 'startPath', 'airflow'], path);
  });

  test(`${POSTGRES_IMAGE} starts with the docker-library entrypoint and answers pg_isready; a Service name reaches it through dnsmasq and kube-proxy`, async () => {
    kubectlOk(['-n', NS, 'apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'postgres', labels: { app: 'postgres' } },
          spec: {
            containers: [{
              name: 'postgres',
              image: POSTGRES_IMAGE,
              env: [{ name: 'POSTGRES_PASSWORD', value: 'smoke' }, { name: 'POSTGRES_DB', value: 'airflow' }],
              ports: [{ name: 'postgres', containerPort: 5432 }],
              readinessProbe: { exec: { command: ['pg_isready', '-U', 'postgres', '-h', '127.0.0.1'] }, periodSeconds: 2 },
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
            }],
          },
        },
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'postgres' },
          spec: { selector: { app: 'postgres' }, ports: [{ port: 5432, targetPort: 'postgres' }] },
        },
      ],
    }));
    await waitFor('postgres Ready (pg_isready)', 600_000, () => pod('postgres').status.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True', () => kubectl(['-n', NS, 'logs', 'postgres', '--tail', '20']).stdout, 2000);
    expect(kubectlOk(['-n', NS, 'exec', 'postgres', '--', 'pg_isready', '-U', 'postgres', '-h', '127.0.0.1'])).toMatch(/accepting connections/);
    const path = startPath('postgres', 'postgres');
    console.log(`RUNTIME [real node]: ${POSTGRES_IMAGE} start path ${JSON.stringify(path)}`);
    recordRuntime(['realNode', 'startPath', 'postgres'], path);
    // From another pod: the Service's DNS name (dnsmasq) and its ClusterIP (kube-proxy's iptables DNAT).
    kubectlOk(['-n', NS, 'run', 'client', `--image=${AIRFLOW_IMAGE}`, '--restart=Never', '--env=CONNECTION_CHECK_MAX_COUNT=0', '--', 'python', '-c',
      `import socket; a = socket.gethostbyname("postgres.${NS}.svc.cluster.local"); socket.create_connection((a, 5432), 10); print("connected", a)`]);
    expect(await waitPhase('client', ['Succeeded', 'Failed'], 300_000)).toBe('Succeeded');
    const svcIP = kubectlOk(['-n', NS, 'get', 'service', 'postgres', '-o', 'jsonpath={.spec.clusterIP}']).trim();
    expect(kubectlOk(['-n', NS, 'logs', 'client'])).toContain(`connected ${svcIP}`);
  });

  test('a container over its memory limit is OOM-killed by the kernel (cgroup limit, not a measurement)', async () => {
    kubectlOk(['-n', NS, 'apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'oom' },
      spec: {
        restartPolicy: 'Never',
        containers: [{
          name: 'base',
          image: AIRFLOW_IMAGE,
          command: ['python', '-c', 'b = bytearray(256 << 20); print("allocated", len(b))'],
          resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '64Mi' } },
        }],
      },
    }));
    expect(await waitPhase('oom', ['Succeeded', 'Failed'], 300_000)).toBe('Failed');
    expect(pod('oom').status.containerStatuses[0].state.terminated.reason).toBe('OOMKilled');
  });

  test('memory of the node\'s own processes (RSS)', () => {
    const state = process.env.AIRFLOW_CDK8S_NODE_STATE ?? `${process.env.AIRFLOW_CDK8S_STATE ?? '/tmp/airflow-cdk8s-k8s'}-node`;
    const out: Record<string, number> = {};
    for (const c of ['containerd', 'kubelet', 'kube-proxy', 'dnsmasq', 'registry']) {
      const f = `${state}/pids/${c}.pid`;
      if (!fs.existsSync(f)) continue;
      const pid = fs.readFileSync(f, 'utf8').trim();
      const rss = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
      if (rss) out[c] = Math.round(Number(rss[1]) / 1024);
    }
    console.log(`RUNTIME [real node]: RSS of the node's processes (MiB) ${JSON.stringify(out)}`);
    recordRuntime(['realNode', 'componentsRssMiB'], out);
    expect(out.kubelet).toBeGreaterThan(10);
    expect(out.containerd).toBeGreaterThan(10);
  });
});
