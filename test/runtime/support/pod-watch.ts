// A watch on the task pods of the KubernetesExecutor for the benchmarks (start-latency.bench.ts,
// executor-tradeoff.bench.ts): `kubectl get pods -w`, each event stamped with the host's clock when it arrives.
import { ChildProcess, spawn } from 'child_process';
import { KUBECTL } from '../../live/support/cluster';

/** What a watch on the API server saw of one task pod, in host milliseconds. */
export interface PodTimes {
  name: string;
  runId?: string;
  taskId?: string;
  created?: number;
  bound?: number;
  running?: number;
  succeeded?: number;
  deleted?: number;
}

/** `kubectl get pods -w` on the task pods, each event stamped when it arrives. */
export class PodWatch {
  readonly pods = new Map<string, PodTimes>();
  private proc: ChildProcess | undefined;
  private buffer = '';

  start(ns: string): void {
    this.proc = spawn(
      KUBECTL,
      [
        'get', 'pods', '-n', ns, '-l', 'kubernetes_executor=True', '-w', '--output-watch-events', '-o',
        'jsonpath={.type}|{.object.metadata.name}|{.object.spec.nodeName}|{.object.status.phase}|{.object.metadata.labels.task_id}|{.object.metadata.annotations.run_id}{"\\n"}',
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    this.proc.stdout!.on('data', (chunk: Buffer) => {
      const t = Date.now();
      this.buffer += chunk.toString();
      const lines = this.buffer.split('\n');
      this.buffer = lines.pop()!;
      for (const line of lines) {
        const [type, name, node, phase, taskId, runId] = line.trim().split('|');
        if (!name) continue;
        const p = this.pods.get(name) ?? { name };
        this.pods.set(name, p);
        p.taskId ??= taskId || undefined;
        p.runId ??= runId || undefined;
        if (type === 'ADDED') p.created ??= t;
        if (node) p.bound ??= t;
        if (phase === 'Running') p.running ??= t;
        if (phase === 'Succeeded' || phase === 'Failed') p.succeeded ??= t;
        if (type === 'DELETED') p.deleted ??= t;
      }
    });
  }

  stop(): void {
    this.proc?.kill();
  }

  of(runId: string): PodTimes[] {
    return [...this.pods.values()].filter((p) => p.runId === runId);
  }
}
