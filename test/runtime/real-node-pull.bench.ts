// The task start path with and without the image on the node, and what ImagePrePull changes (issues #27 item 4
// and #24 item 2, docs/task-start.md "Image pre-pull"), measured on the REAL node (the kubelet 1.20.2 and
// containerd of scripts/runtime/real-node.sh, pulling from its loopback registry). Run by scripts/bench.js
// (`npm run bench`, BENCH_PULL=0 skips it) through scripts/test-runtime.sh with
// AIRFLOW_CDK8S_RUNTIME_NODE=real --testMatch '**/real-node-pull.bench.ts' (not by `npm run test:runtime`); the
// samples go to build/real-node-pull.json (BENCH_PULL_RESULTS), which scripts/bench.js prints (realNodePullReport).
//
// A task-like pod: the image and pull policy (IfNotPresent) of the base container of a synthesized default chart's
// pod template (its ConfigMap), its security context and resources, and `true` as its command. Per repetition:
//   (a) absent:   the image removed from the node's containerd (namespace k8s.io, every reference to it, with the
//                 exited containers that used it, `ctr images rm --sync`; checked gone), then the pod;
//   (b) present:  the same pod again;
//   (c) pre-pull: the image removed again, then the DaemonSet and ServiceAccount of AirflowChart's
//                 `prePullImages: true` applied (in this file's namespace) until the DaemonSet is ready, then the pod.
// From each pod's events and status: PodScheduled -> Pulling -> Pulled (the pull's own duration from the kubelet's
// "Successfully pulled image ... in X" message) -> Created -> the container's startedAt. The API's times are in
// whole seconds; the pull's duration is the kubelet's own, to the millisecond.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse } from 'yaml';
import { REPO_ROOT, kubectl, kubectlJson, kubectlOk, synthAirflow, waitFor } from '../live/support/cluster';
import { DEFAULT_AIRFLOW_IMAGE } from '../../lib';

const REAL = process.env.AIRFLOW_CDK8S_RUNTIME_NODE === 'real';
const NS = 'real-node-pull';
const RESULTS = process.env.BENCH_PULL_RESULTS ?? path.join(REPO_ROOT, 'build', 'real-node-pull.json');
const RUNS = Math.max(1, Number(process.env.BENCH_PULL_RUNS ?? 3));
/** No repetition starts after this time (ISO 8601), so that a run ends before a deadline. */
const STOP_AT = process.env.BENCH_PULL_STOP_AT ? Date.parse(process.env.BENCH_PULL_STOP_AT) : Infinity;
const NODE_STATE = process.env.AIRFLOW_CDK8S_NODE_STATE ?? `${process.env.AIRFLOW_CDK8S_STATE ?? '/tmp/airflow-cdk8s-k8s'}-node`;

if (!REAL) console.log('real-node-pull.bench.ts: skipped: it measures pulls on the real node (AIRFLOW_CDK8S_RUNTIME_NODE=real)');

/** containerd's CLI on the node's socket, namespace k8s.io (the CRI plugin's), through real-node.sh exec. */
function ctr(args: string[]): string {
  const r = spawnSync('bash', [path.join(REPO_ROOT, 'scripts', 'runtime', 'real-node.sh'), 'exec', 'ctr', '--address', `${NODE_STATE}/containerd.sock`, '-n', 'k8s.io', ...args], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`ctr ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** {@link ctr} that may fail (what it removes may be gone already). */
function ctrMay(args: string[]): void {
  spawnSync('bash', [path.join(REPO_ROOT, 'scripts', 'runtime', 'real-node.sh'), 'exec', 'ctr', '--address', `${NODE_STATE}/containerd.sock`, '-n', 'k8s.io', ...args], { encoding: 'utf8', timeout: 300_000 });
}

/** containerd's image references: ref, target digest, size as ctr prints it. */
function images(): Array<{ ref: string; digest: string; size: string }> {
  return ctr(['images', 'ls']).split('\n').slice(1).filter((l) => l.trim()).map((l) => {
    const f = l.split(/\s+/);
    // REF TYPE DIGEST SIZE(2 fields: "1.1" "GiB") PLATFORMS LABELS
    return { ref: f[0], digest: f[2], size: `${f[3]} ${f[4]}` };
  });
}

/** The docker.io reference containerd stores for `image`. */
const fullRef = (image: string) => (image.split('/')[0].includes('.') ? image : `docker.io/${image.includes('/') ? image : `library/${image}`}`);

/**
 * Removes `image` from the node: the exited containers that used it (their pods are deleted first by the caller),
 * then every reference to its manifest (tag, digest and image-id references of the CRI plugin), synchronously
 * garbage-collected. Returns what was removed; throws when a reference is left.
 */
function removeImage(image: string): { refs: string[]; containers: number; snapshotsBefore: number; snapshotsAfter: number } {
  const snapshotsBefore = ctr(['snapshots', 'ls']).split('\n').length - 2;
  const target = images().find((i) => i.ref === fullRef(image))?.digest;
  const refs = target ? images().filter((i) => i.digest === target).map((i) => i.ref) : [];
  const containers = ctr(['containers', 'ls']).split('\n').slice(1).filter((l) => l.includes(fullRef(image))).map((l) => l.split(/\s+/)[0]);
  // Their snapshots would keep the image's unpacked layers, and a pull would then only fetch. The kubelet removes
  // the containers of a deleted pod only at its next garbage collection (every minute): removed here (either may
  // be gone already).
  for (const c of containers) for (const args of [['tasks', 'delete', '-f', c], ['containers', 'rm', c]]) ctrMay(args);
  if (refs.length) ctr(['images', 'rm', '--sync', ...refs]);
  const left = images().filter((i) => i.ref === fullRef(image) || (target && i.digest === target));
  if (left.length) throw new Error(`${image} still on the node: ${left.map((i) => i.ref).join(', ')}`);
  const snapshotsAfter = ctr(['snapshots', 'ls']).split('\n').length - 2;
  return { refs, containers: containers.length, snapshotsBefore, snapshotsAfter };
}

const secs = (from: string, to: string) => Math.round((Date.parse(to) - Date.parse(from)) / 100) / 10;

function events(name: string): any[] {
  return kubectlJson(['-n', NS, 'get', 'events', '--field-selector', `involvedObject.name=${name}`, '-o', 'json']).items;
}

/** The kubelet's pull duration from "Successfully pulled image "x" in 41.2s" (1.20's message), in seconds. */
function pullSeconds(message: string): number | undefined {
  const m = /in ([\d.]+)(ms|s|m)\b/.exec(message) ?? /in ((?:\d+m)?[\d.]+s)/.exec(message);
  if (!m) return undefined;
  if (m[2] === 'ms') return Number(m[1]) / 1000;
  if (m[2] === 's') return Number(m[1]);
  const mm = /(?:(\d+)m)?([\d.]+)s/.exec(m[1])!;
  return Number(mm[1] ?? 0) * 60 + Number(mm[2]);
}

/** A pod's start path for `container` of `image`. */
function startPath(name: string, container: string, image: string): Record<string, number | string | boolean> {
  const p = kubectlJson(['-n', NS, 'get', 'pod', name, '-o', 'json']);
  const ev = events(name).filter((e) => !e.involvedObject.fieldPath || e.involvedObject.fieldPath.includes(`{${container}}`) || e.reason === 'Scheduled');
  const at = (reason: string) => ev.find((e) => e.reason === reason)?.firstTimestamp as string | undefined;
  const scheduled = p.status.conditions.find((c: any) => c.type === 'PodScheduled').lastTransitionTime;
  const cs = [...(p.status.initContainerStatuses ?? []), ...(p.status.containerStatuses ?? [])].find((c: any) => c.name === container);
  const started = cs?.state.running?.startedAt ?? cs?.state.terminated?.startedAt;
  const pulled = ev.find((e) => e.reason === 'Pulled' && e.message.includes(image))?.message ?? '';
  const out: Record<string, number | string | boolean> = { pulled, alreadyPresent: /already present on machine/.test(pulled) };
  if (at('Pulling')) out.scheduledToPulling = secs(scheduled, at('Pulling')!);
  const ps = pullSeconds(pulled);
  if (ps !== undefined && !out.alreadyPresent) out.pullSeconds = ps;
  if (at('Pulled')) out.scheduledToPulled = secs(scheduled, at('Pulled')!);
  if (at('Created')) out.scheduledToCreated = secs(scheduled, at('Created')!);
  if (started) out.scheduledToRunning = secs(scheduled, started);
  return out;
}

async function waitPodGone(selectorArgs: string[]): Promise<void> {
  await waitFor('the pods to be gone', 300_000, () => kubectlJson(['-n', NS, 'get', 'pods', ...selectorArgs, '-o', 'json']).items.length === 0, () => kubectl(['-n', NS, 'get', 'pods']).stdout, 1000);
}

const d = REAL ? describe : describe.skip;

d('bench: the task start path on the real node, with and without the image, and with ImagePrePull', () => {
  const objects = synthAirflow({ prePullImages: true });
  const template = parse(objects.find((o) => o.kind === 'ConfigMap' && o.data?.['pod_template_file.yaml'])!.data['pod_template_file.yaml']);
  const base = template.spec.containers.find((c: any) => c.name === 'base');
  const image: string = base.image;
  const prePull = objects
    .filter((o) => o.metadata?.labels?.['app.kubernetes.io/component'] === 'image-pre-pull' && ['DaemonSet', 'ServiceAccount'].includes(o.kind))
    .map((o) => ({ ...o, metadata: { ...o.metadata, namespace: NS } }));
  const dsName: string = prePull.find((o) => o.kind === 'DaemonSet')!.metadata.name;

  const results: any = {
    measuredAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryMiB: Math.round(os.totalmem() / 2 ** 20), loadAverageAtStart: fs.readFileSync('/proc/loadavg', 'utf8').trim() },
    image,
    imagePullPolicy: base.imagePullPolicy,
    registry: 'the node\'s loopback registry (scripts/runtime/build-images.sh push): no network between registry and node',
    runs: [] as any[],
  };
  const save = () => {
    results.machine.loadAverageAtEnd = fs.readFileSync('/proc/loadavg', 'utf8').trim();
    fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
    fs.writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  };

  /** Runs the task-like pod `name` to its end; its start path. */
  async function taskPod(name: string): Promise<Record<string, number | string | boolean>> {
    kubectlOk(['-n', NS, 'apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels: { bench: 'task' } },
      spec: {
        restartPolicy: 'Never',
        securityContext: template.spec.securityContext,
        containers: [{ name: 'base', image, imagePullPolicy: base.imagePullPolicy, command: ['true'], securityContext: base.securityContext, resources: base.resources }],
      },
    }));
    let phase = '';
    await waitFor(`pod ${name} to end`, 900_000, () => ['Succeeded', 'Failed'].includes((phase = kubectl(['-n', NS, 'get', 'pod', name, '-o', 'jsonpath={.status.phase}']).stdout.trim())),
      () => `phase ${phase}; events:\n${events(name).map((e) => `${e.reason}: ${e.message}`).join('\n')}`, 500);
    expect(phase).toBe('Succeeded');
    const out = startPath(name, 'base', image);
    console.log(`BENCH [real node pull] ${name}: ${JSON.stringify(out)}`);
    return out;
  }

  async function deleteTaskPods(): Promise<void> {
    kubectl(['-n', NS, 'delete', 'pods', '-l', 'bench=task', '--wait=false']);
    await waitPodGone(['-l', 'bench=task']);
  }

  beforeAll(() => {
    kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=120s']);
    kubectlOk(['create', 'namespace', NS]);
  });
  afterAll(() => {
    save();
    kubectl(['delete', 'namespace', NS, '--wait=false']);
  });

  test(`${DEFAULT_AIRFLOW_IMAGE}: absent, present, and after the pre-pull DaemonSet (${RUNS} repetitions)`, async () => {
    expect(image).toBe(DEFAULT_AIRFLOW_IMAGE);
    expect(base.imagePullPolicy).toBe('IfNotPresent');
    // The image is on the node before the first removal (pushed and, normally, pulled by an earlier run): pull it
    // once if not, so that every "absent" sample removes the same content.
    await taskPod('warm-up');
    await deleteTaskPods();
    results.imageSize = images().find((i) => i.ref === fullRef(image))?.size;
    for (let run = 1; run <= RUNS; run++) {
      if (Date.now() > STOP_AT) {
        results.stoppedEarly = `BENCH_PULL_STOP_AT ${process.env.BENCH_PULL_STOP_AT} passed before repetition ${run}`;
        break;
      }
      const r: any = { run };
      r.absentRemoved = removeImage(image);
      r.absent = await taskPod(`absent-${run}`);
      expect(r.absent.alreadyPresent).toBe(false);
      r.present = await taskPod(`present-${run}`);
      expect(r.present.alreadyPresent).toBe(true);
      await deleteTaskPods();

      r.prePullRemoved = removeImage(image);
      const applied = new Date().toISOString();
      kubectlOk(['-n', NS, 'apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: prePull }));
      await waitFor(`DaemonSet ${dsName} ready`, 900_000, () => {
        const s = kubectlJson(['-n', NS, 'get', 'daemonset', dsName, '-o', 'json']).status;
        return s.desiredNumberScheduled >= 1 && s.numberReady === s.desiredNumberScheduled;
      }, () => kubectl(['-n', NS, 'get', 'pods', '-o', 'wide']).stdout, 500);
      const ds = kubectlJson(['-n', NS, 'get', 'pods', '-l', 'app.kubernetes.io/component=image-pre-pull', '-o', 'json']).items[0];
      const init = (ds.spec.initContainers as any[]).find((c) => c.image === image).name;
      const ready = ds.status.conditions.find((c: any) => c.type === 'Ready').lastTransitionTime;
      r.prePull = { ...startPath(ds.metadata.name, init, image), appliedToReady: secs(applied, ready), scheduledToReady: secs(ds.status.conditions.find((c: any) => c.type === 'PodScheduled').lastTransitionTime, ready) };
      console.log(`BENCH [real node pull] pre-pull ${ds.metadata.name}: ${JSON.stringify(r.prePull)}`);
      expect(r.prePull.alreadyPresent).toBe(false);
      r.afterPrePull = await taskPod(`after-pre-pull-${run}`);
      expect(r.afterPrePull.alreadyPresent).toBe(true);
      await deleteTaskPods();
      kubectl(['-n', NS, 'delete', 'daemonset', dsName, '--wait=false']);
      await waitPodGone(['-l', 'app.kubernetes.io/component=image-pre-pull']);
      results.runs.push(r);
      save();
    }
    expect(results.runs.length).toBeGreaterThan(0);
  });
});
