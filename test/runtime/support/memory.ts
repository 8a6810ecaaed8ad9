// Memory of the chart's components as the kernel reports it (/proc), summed over every process of a container
// (the kubelet counts each process in the container's mount namespace: the uvicorn workers of the api-server,
// the scheduler's executor subprocesses, probe commands while they run). RSS sums count pages that forked
// processes share once per process; PSS splits them among the sharers (closer to what a memory cgroup
// charges). Both are recorded; the rule "no component's RSS above 80% of its limit" uses RSS.
import { RuntimeKubelet } from './kubelet';

const MiB = 1024;

/** How long an idle measurement first lets the pods settle ($AIRFLOW_CDK8S_RUNTIME_IDLE_SETTLE_MS, 30 s). */
export const IDLE_SETTLE_MS = Number(process.env.AIRFLOW_CDK8S_RUNTIME_IDLE_SETTLE_MS ?? 30_000);
/** How long an idle measurement samples ($AIRFLOW_CDK8S_RUNTIME_SAMPLE_MS, 30 s). */
export const SAMPLE_MS = Number(process.env.AIRFLOW_CDK8S_RUNTIME_SAMPLE_MS ?? 30_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A memory quantity ("1536Mi", "1Gi", "512M") in MiB. */
export function mebibytes(q: string | undefined): number | undefined {
  if (!q) return undefined;
  const m = String(q).match(/^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/);
  if (!m) return undefined;
  const f: Record<string, number> = { Ki: 1 / 1024, Mi: 1, Gi: 1024, Ti: 1024 * 1024, k: 1e3 / 2 ** 20, M: 1e6 / 2 ** 20, G: 1e9 / 2 ** 20, T: 1e12 / 2 ** 20, '': 1 / 2 ** 20 };
  return Number(m[1]) * f[m[2] ?? ''];
}

export interface ComponentMemory {
  readonly pod: string;
  readonly processes: number;
  readonly rssMiB: number;
  readonly pssMiB: number;
  readonly requestMiB?: number;
  readonly limitMiB?: number;
  /** rssMiB / limitMiB, in percent */
  readonly rssOfLimitPercent?: number;
  readonly commands?: string[];
}

/**
 * The memory of each component's running main container now, keyed by component (worker pods: "worker:<task_id>").
 * Only pods of `namespace`; with several pods of a component (a rollout), the largest.
 */
export function memoryNow(kubelet: RuntimeKubelet, namespace: string): Record<string, ComponentMemory> {
  const out: Record<string, ComponentMemory> = {};
  for (const c of kubelet.memory()) {
    if (c.namespace !== namespace || c.init) continue;
    const key = keyOf(c);
    const m = toComponentMemory(c);
    if (!out[key] || out[key].rssMiB < m.rssMiB) out[key] = m;
  }
  return out;
}

/** A key for a container: its component; init containers "<component>/<container>"; task pods "worker:<task_id>". */
function keyOf(c: ContainerMemoryLike): string {
  if (c.component === 'worker') return `worker:${c.labels.task_id ?? c.pod}`;
  const component = c.component ?? c.pod;
  return c.init ? `${component}/${c.container}` : component;
}

interface ContainerMemoryLike {
  readonly pod: string;
  readonly container: string;
  readonly init: boolean;
  readonly component: string | undefined;
  readonly labels: Record<string, string>;
  readonly processes: number;
  readonly rssKiB: number;
  readonly pssKiB: number;
  readonly resources: any;
  readonly commands?: string[];
}

function toComponentMemory(c: ContainerMemoryLike): ComponentMemory {
  const limit = mebibytes(c.resources?.limits?.memory);
  return {
    pod: c.pod,
    processes: c.processes,
    rssMiB: Math.round(c.rssKiB / MiB),
    pssMiB: Math.round(c.pssKiB / MiB),
    requestMiB: mebibytes(c.resources?.requests?.memory),
    limitMiB: limit,
    rssOfLimitPercent: limit ? Math.round((100 * c.rssKiB) / MiB / limit) : undefined,
    commands: c.commands,
  };
}

/**
 * The largest sample of every container the kubelet ran in `namespace` (Jobs and init containers included),
 * keyed as keyOf; several pods of one key (rollouts, several task pods) give their largest.
 */
export function lifetimePeaks(kubelet: RuntimeKubelet, namespace: string): Record<string, ComponentMemory> {
  const out: Record<string, ComponentMemory> = {};
  for (const c of kubelet.peaks()) {
    if (c.namespace !== namespace) continue;
    const m = toComponentMemory(c as unknown as ContainerMemoryLike);
    const k = keyOf(c as unknown as ContainerMemoryLike);
    if (!out[k] || out[k].rssMiB < m.rssMiB) out[k] = m;
  }
  return out;
}

/** Samples memoryNow every second and keeps, per component, the sample with the highest RSS (and the mean). */
export class MemorySampler {
  private timer: NodeJS.Timeout | undefined;
  private readonly max: Record<string, ComponentMemory> = {};
  private readonly sums: Record<string, { rss: number; pss: number; n: number }> = {};

  constructor(private readonly kubelet: RuntimeKubelet, private readonly namespace: string) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), 1000);
    return this;
  }

  private sample(): void {
    for (const [k, m] of Object.entries(memoryNow(this.kubelet, this.namespace))) {
      if (!this.max[k] || this.max[k].rssMiB < m.rssMiB) this.max[k] = m;
      const s = (this.sums[k] ??= { rss: 0, pss: 0, n: 0 });
      s.rss += m.rssMiB;
      s.pss += m.pssMiB;
      s.n += 1;
    }
  }

  /** Stops sampling; per component: the peak sample, plus the mean RSS/PSS over the window and the sample count. */
  stop(): Record<string, ComponentMemory & { meanRssMiB: number; meanPssMiB: number; samples: number }> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    const out: Record<string, any> = {};
    for (const [k, m] of Object.entries(this.max)) {
      const s = this.sums[k];
      out[k] = { ...m, meanRssMiB: Math.round(s.rss / s.n), meanPssMiB: Math.round(s.pss / s.n), samples: s.n };
    }
    return out;
  }
}

/**
 * What is left of the settle time of an idle measurement when the pods to measure settled from `since` (ms since the
 * epoch: when the step that waited for them to be available ended): the steps run in between count, so the chain
 * does not wait 30 s more after checks that took most of it (probes, config lint, logins; docs/runtime-tests.md, "Memory").
 * Without a time, the whole settle time.
 */
export function settleLeft(since: number | undefined, settleMs = IDLE_SETTLE_MS, now = Date.now()): number {
  return since === undefined ? settleMs : Math.max(0, Math.min(settleMs, settleMs - (now - since)));
}

/** Memory at idle: waits `settleMs`, then samples for `sampleMs` with a {@link MemorySampler}; what it stops with. */
export async function sampleIdle(kubelet: RuntimeKubelet, namespace: string, settleMs = IDLE_SETTLE_MS, sampleMs = SAMPLE_MS): Promise<ReturnType<MemorySampler['stop']>> {
  await sleep(settleMs);
  const sampler = new MemorySampler(kubelet, namespace).start();
  await sleep(sampleMs);
  return sampler.stop();
}

/** A table of component memory for the console. */
export function memoryTable(title: string, m: Record<string, ComponentMemory & { meanRssMiB?: number }>): string {
  const rows = Object.entries(m)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) =>
      `  ${k.padEnd(22)} rss ${String(v.rssMiB).padStart(5)} MiB  pss ${String(v.pssMiB).padStart(5)} MiB  ` +
      `procs ${String(v.processes).padStart(2)}  limit ${v.limitMiB ?? '-'} MiB (${v.rssOfLimitPercent ?? '-'}% rss)`,
    );
  return `${title}\n${rows.join('\n')}`;
}
