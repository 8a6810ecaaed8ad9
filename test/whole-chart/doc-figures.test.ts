// The resource and capability figures written in docs/*.md, README.md and the JSDoc are the code's (issue #20
// item 12: task pods were documented at 384Mi while the YAML said 256Mi). A figure is written next to the name
// of the constant it comes from, in backticks in the docs (`DEFAULT_WORKER_RESOURCES`), first after `@default`
// in the JSDoc (`@default DEFAULT_WORKER_RESOURCES - 100m / 256Mi requested, 1 CPU / 1Gi limit`), or in the
// comment of the constant itself. Every CPU, memory and capability figure of such a passage must be one of the
// named constants'; and every passage with a figure names a constant, or is listed below as not a constant's
// figure (a sum, a measurement, a node's size) with the reason.
import * as fs from 'fs';
import * as path from 'path';
import {
  COMPONENT_RESOURCES,
  CeleryWorkers,
  DEFAULT_AIRFLOW_IMAGE,
  DEFAULT_AIRFLOW_VERSION,
  Flower,
  DEFAULT_WORKER_RESOURCES,
  DbMigrations,
  GIT_SYNC_RESOURCES,
  LOG_GROOMER_RESOURCES,
  MetadataDb,
  PgBouncer,
  RedisBroker,
  SECRETS_BOOTSTRAP_RESOURCES,
  STATSD_EXPORTER_RESOURCES,
} from '../../lib';
import { CREATE_USER_RESOURCES, ONE_SHOT_RESOURCES } from '../../lib/airflow/pod-parts';
import { VOLUME_PERMISSIONS_CAPABILITIES, VOLUME_PERMISSIONS_RESOURCES } from '../../lib/airflow/volume-permissions';
import { WAIT_FOR_DB_RESOURCES } from '../../lib/database/wait-for-db';
import { SECRETS_COPY_FOLDER_CAPABILITIES } from '../../lib/security/airflow-secrets';
import { PRE_PULL_RESOURCES } from '../../lib/image-pre-pull/image-pre-pull';
import { DatabaseCleanup } from '../../lib/database-cleanup/database-cleanup';
import { parseQuantity } from '../../lib/core/validators';

const ROOT = path.join(__dirname, '..', '..');

/** The constants figures may come from, by the name the docs give them. */
export const RESOURCE_CONSTANTS: Record<string, object> = {
  DEFAULT_WORKER_RESOURCES,
  'DbMigrations.DEFAULT_RESOURCES': DbMigrations.DEFAULT_RESOURCES,
  ONE_SHOT_RESOURCES,
  CREATE_USER_RESOURCES,
  COMPONENT_RESOURCES,
  ...Object.fromEntries(Object.entries(COMPONENT_RESOURCES).map(([component, r]) => [`COMPONENT_RESOURCES["${component}"]`, r])),
  'MetadataDb.DEFAULT_RESOURCES': MetadataDb.DEFAULT_RESOURCES,
  WAIT_FOR_DB_RESOURCES,
  SECRETS_BOOTSTRAP_RESOURCES,
  VOLUME_PERMISSIONS_RESOURCES,
  LOG_GROOMER_RESOURCES,
  GIT_SYNC_RESOURCES,
  STATSD_EXPORTER_RESOURCES,
  'RedisBroker.DEFAULT_RESOURCES': RedisBroker.DEFAULT_RESOURCES,
  'CeleryWorkers.DEFAULT_RESOURCES': CeleryWorkers.DEFAULT_RESOURCES,
  'Flower.DEFAULT_RESOURCES': Flower.DEFAULT_RESOURCES,
  'PgBouncer.DEFAULT_RESOURCES': PgBouncer.DEFAULT_RESOURCES,
  'DatabaseCleanup.DEFAULT_RESOURCES': DatabaseCleanup.DEFAULT_RESOURCES,
  PRE_PULL_RESOURCES,
  'PRE_PULL_RESOURCES.pull': PRE_PULL_RESOURCES.pull,
  'PRE_PULL_RESOURCES.pause': PRE_PULL_RESOURCES.pause,
};

export const CAPABILITY_CONSTANTS: Record<string, readonly string[]> = {
  SECRETS_COPY_FOLDER_CAPABILITIES,
  'MetadataDb.CAPABILITIES': MetadataDb.CAPABILITIES,
  VOLUME_PERMISSIONS_CAPABILITIES,
};

/** Linux capability names a passage may list. */
const CAPABILITY = /\b(CHOWN|DAC_OVERRIDE|DAC_READ_SEARCH|FOWNER|FSETID|KILL|SETGID|SETUID|SETPCAP|NET_BIND_SERVICE|NET_RAW|SYS_CHROOT|MKNOD|AUDIT_WRITE|SETFCAP|SYS_ADMIN)\b/g;

interface Figures {
  cpu: Set<number>;
  memory: Set<number>;
}

/** The CPU (millicores) and memory (bytes) figures of a constant: its leaves under a cpu or memory key. */
function constantFigures(value: unknown, key = ''): Figures {
  const out: Figures = { cpu: new Set(), memory: new Set() };
  if (typeof value === 'string') {
    if (/cpu/i.test(key)) out.cpu.add(Math.round(parseQuantity(value)! * 1000));
    if (/memory/i.test(key)) out.memory.add(parseQuantity(value)!);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const inner = constantFigures(v, `${key}.${k}`);
      inner.cpu.forEach((c) => out.cpu.add(c));
      inner.memory.forEach((m) => out.memory.add(m));
    }
  }
  return out;
}

/** The figures written in `text`: `100m`, `1 CPU`, `2 CPUs`; `256Mi`, `1Gi` (not MiB/GiB: measurements). */
function writtenFigures(text: string): Array<{ kind: 'cpu' | 'memory'; text: string; value: number }> {
  const out: Array<{ kind: 'cpu' | 'memory'; text: string; value: number }> = [];
  for (const m of text.matchAll(/(?<![\w.$/-])(\d+(?:\.\d+)?)m\b(?!\/)/g)) out.push({ kind: 'cpu', text: m[0], value: Number(m[1]) });
  for (const m of text.matchAll(/(?<![\w.$/-])(\d+(?:\.\d+)?) CPUs?\b/g)) out.push({ kind: 'cpu', text: m[0], value: Number(m[1]) * 1000 });
  for (const m of text.matchAll(/(?<![\w.$/-])(\d+(?:\.\d+)?)(Ki|Mi|Gi)\b/g)) out.push({ kind: 'memory', text: m[0], value: parseQuantity(m[0])! });
  return out;
}

/** A passage of the docs: a table row, a list item, or a sentence of a paragraph; code blocks left out. */
interface Passage {
  readonly where: string;
  readonly text: string;
  /** The constants it names. */
  readonly names: string[];
}

const NAME_IN_BACKTICKS = /`([A-Za-z]+\.)?([A-Z][A-Z0-9_]+)(\.[a-z]+|\["[a-z-]+"\])?`/g;

function namesIn(text: string): string[] {
  return [...text.matchAll(NAME_IN_BACKTICKS)]
    .map((m) => m[0].slice(1, -1))
    .filter((n) => n in RESOURCE_CONSTANTS || n in CAPABILITY_CONSTANTS);
}

function markdownPassages(file: string): Passage[] {
  const lines = fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n');
  const passages: Passage[] = [];
  let fence = false;
  let block: { start: number; text: string } | undefined;
  const flush = () => {
    if (!block) return;
    // Sentences: split after a full stop followed by a space and a capital or a backtick.
    const sentences = block.text.split(/(?<=\.)\s+(?=[A-Z`*(])/);
    for (const s of sentences) passages.push({ where: `${file}:${block.start}`, text: s, names: namesIn(s) });
    block = undefined;
  };
  lines.forEach((line, i) => {
    if (/^\s*(```|~~~)/.test(line)) {
      flush();
      fence = !fence;
      return;
    }
    if (fence || /^<!--/.test(line.trim())) return;
    if (line.startsWith('|')) {
      flush();
      passages.push({ where: `${file}:${i + 1}`, text: line, names: namesIn(line) });
    } else if (line.trim() === '' || /^\s*([-*]|\d+\.)\s/.test(line) || /^#/.test(line)) {
      flush();
      if (line.trim() !== '') block = { start: i + 1, text: line };
    } else {
      block = block ? { start: block.start, text: `${block.text} ${line.trim()}` } : { start: i + 1, text: line };
    }
  });
  flush();
  return passages;
}

function tsFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (e.name === 'data' ? [] : tsFiles(path.join(dir, e.name))) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

/** The JSDoc passages: each `@default` (with its continuation lines), and the comment of a constant above it. */
function jsdocPassages(file: string): Passage[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const passages: Passage[] = [];
  for (const m of text.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*(export const|public static readonly) (\w+)/g)) {
    const before = text.slice(0, m.index);
    const owner = m[2] === 'export const' ? '' : `${[...before.matchAll(/export class (\w+)/g)].pop()?.[1]}.`;
    const name = `${owner}${m[3]}`;
    if (!(name in RESOURCE_CONSTANTS) && !(name in CAPABILITY_CONSTANTS)) continue;
    const line = before.split('\n').length;
    for (const sentence of m[1].replace(/\n\s*\*/g, ' ').split(/(?<=\.)\s+(?=[A-Z`(])/)) passages.push({ where: `${file}:${line}`, text: sentence, names: [name] });
  }
  for (const m of text.matchAll(/@default (.*(?:\n\s*\*\s{3,}.*)*)/g)) {
    const line = text.slice(0, m.index).split('\n').length;
    const body = m[1].replace(/\n\s*\*\s+/g, ' ');
    const first = /^([A-Za-z]+\.)?[A-Z][A-Z0-9_]+(\.[a-z]+)?/.exec(body)?.[0];
    passages.push({ where: `${file}:${line}`, text: body, names: first && (first in RESOURCE_CONSTANTS || first in CAPABILITY_CONSTANTS) ? [first] : [] });
  }
  return passages;
}

const DOCS = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md') && f !== 'API.md').map((f) => `docs/${f}`)];

/**
 * Figures that are not a constant's, each with why: removed from a passage before it is checked (a passage may
 * hold both). docs/benchmark.md is a dated record of measurements (and of the requests at the time), not a
 * statement of the defaults; docs/API.md is generated from the JSDoc, which is checked here.
 */
const NOT_A_CONSTANT: Array<{ file: string; match: RegExp; why: string }> = [
  { file: 'docs/benchmark.md', match: /^[\s\S]*$/, why: 'dated measurements' },
  { file: '*', match: /\b\d+ CPUs?( \/ |, )\d+ ?GiB?|--cpus \d+|\d+ CPUs\b|\d+m CPU \/ \d+Mi node/g, why: "a node's size" },
  { file: '*', match: /"\d+(Mi|Gi|G)"|\d+Gi(?=' ?\})|storageSize: '\d+Gi'|memoryLimit: '\d+Gi'|emptyDir` of \d+Mi|<br\/>\d+Gi/g, why: 'a volume size, an example input or a message' },
  { file: '*', match: /--timeout=\d+m/g, why: 'a duration' },
  { file: 'docs/secrets-and-security.md', match: /postgres-keys`, 1Mi,/g, why: "a volume size (the keys volume's)" },
  {
    file: '*',
    match: /\b(225m|770m|780m|960m|950m|995m)( CPU)?\b|\b(544Mi|2256Mi|2320Mi|2768Mi|2800Mi|3328Mi|3344Mi)\b|Jobs' (pods \()?512Mi|those 512Mi|\(\d+ - \d+ \+ \d+\) \/ \d+|\+10m CPU and \+16Mi/g,
    why: 'a sum of several constants (the steady-state and live-test totals, computed by the tests that assert them)',
  },
  { file: '*', match: /old \d+Mi limit|rounded up to \d+Mi/g, why: 'a former value, or a rounding step' },
  { file: '*', match: /kube-apiserver \d+m, kube-controller-manager \d+m, kube-scheduler \d+m, etcd \d+m\/\d+Mi, coredns \d+m\/\d+Mi|about 750m CPU/g, why: "the cluster's own pods" },
  { file: '*', match: /without `DAC_OVERRIDE`/g, why: 'one capability, discussed' },
  { file: 'docs/runtime-tests.md', match: /\(2 CPUs, [\d.]+ GiB here\)|memory above 4Gi plus the 100Mi eviction threshold|puts that 4Gi|over its 64Mi limit|limited to 4Gi \+ the 100Mi eviction threshold/g, why: "the real node's machine, reservations and a test pod's limit (scripts/runtime/real-node.sh)" },
  { file: 'docs/runtime-tests.md', match: /a minikube node's 4Gi per file|8Gi for two|run kept 4Gi|a 2-CPU 4Gi Node|4Gi per test file running at once \(8Gi/g, why: "the real node's allocatable memory per test file running at once (scripts/test-runtime.sh) and the live stage's Node" },
  { file: 'docs/runtime-tests.md', match: /[\d,]+ CPU seconds/g, why: "CPU time measured over a CI stage (issue #25), not a request or a limit" },
  { file: 'docs/validation.md', match: /^\| \d+ \| Resources and counts \|.*$/g, why: 'an example input of the dangerous-inputs table (test/whole-chart/abuse.test.ts), and its message' },
];

/** `p`'s text without the figures that are not a constant's. */
function checkedText(p: Passage): string {
  const file = p.where.split(':')[0];
  return NOT_A_CONSTANT.filter((e) => e.file === '*' || e.file === file).reduce((text, e) => text.replace(e.match, ' '), p.text);
}

const passages = [...DOCS.flatMap(markdownPassages), ...tsFiles('lib').flatMap(jsdocPassages)];

test('every figure next to a constant is the constant\'s', () => {
  const wrong: string[] = [];
  for (const p of passages.filter((q) => q.names.length > 0)) {
    const resources = p.names.filter((n) => n in RESOURCE_CONSTANTS);
    if (resources.length > 0) {
      const allowed = constantFigures(resources.map((n) => RESOURCE_CONSTANTS[n]));
      for (const f of writtenFigures(checkedText(p))) {
        if (!allowed[f.kind].has(f.value)) wrong.push(`${p.where}: ${f.text} is not a figure of ${resources.join(', ')}: ${p.text.trim()}`);
      }
    }
    const capabilities = p.names.filter((n) => n in CAPABILITY_CONSTANTS);
    if (capabilities.length > 0 && new RegExp(CAPABILITY.source).test(checkedText(p))) {
      const expected = [...new Set(capabilities.flatMap((n) => CAPABILITY_CONSTANTS[n]))].sort();
      const written = [...new Set([...checkedText(p).matchAll(CAPABILITY)].map((m) => m[1]))].sort();
      if (written.join() !== expected.join()) wrong.push(`${p.where}: capabilities ${written.join(', ')}, but ${capabilities.join(', ')} is ${expected.join(', ')}`);
    }
  }
  expect(wrong).toEqual([]);
});

test('every resource or capability figure of the docs and the JSDoc names its constant, or is listed as not one', () => {
  const unnamed = passages
    .filter((p) => p.names.length === 0 && (writtenFigures(checkedText(p)).length > 0 || /\b(CHOWN|FOWNER|DAC_OVERRIDE)\b/.test(checkedText(p))))
    .map((p) => `${p.where}: ${p.text.trim()}`);
  expect(unnamed).toEqual([]);
});

test('the check catches a wrong figure, as the 384Mi of the task pods was', () => {
  const figures = constantFigures(DEFAULT_WORKER_RESOURCES);
  expect(writtenFigures('Task pods request 100m / 384Mi by default (`DEFAULT_WORKER_RESOURCES`)').map((f) => figures[f.kind].has(f.value))).toEqual([true, false]);
  expect(namesIn('(`DEFAULT_WORKER_RESOURCES`), `COMPONENT_RESOURCES["dag-processor"]`, `MetadataDb.CAPABILITIES`')).toEqual([
    'DEFAULT_WORKER_RESOURCES',
    'COMPONENT_RESOURCES["dag-processor"]',
    'MetadataDb.CAPABILITIES',
  ]);
});

// The default Airflow version (issue #26 item 1): where the docs name DEFAULT_AIRFLOW_VERSION or
// DEFAULT_AIRFLOW_IMAGE, the version written beside it is the constant's, and the README's first statement of the
// default is too; docs/airflow.md says where the number comes from.
test('the default Airflow version written in the docs is DEFAULT_AIRFLOW_VERSION, with its source', () => {
  const airflowMd = fs.readFileSync(path.join(ROOT, 'docs', 'airflow.md'), 'utf8');
  const section = airflowMd.slice(airflowMd.indexOf('## The default version'), airflowMd.indexOf('## Components per Airflow version'));
  expect(section).toContain(`\`DEFAULT_AIRFLOW_VERSION\` is ${DEFAULT_AIRFLOW_VERSION} (\`DEFAULT_AIRFLOW_IMAGE\` = \`${DEFAULT_AIRFLOW_IMAGE}\`)`);
  expect(section).toContain(`\`appVersion: ${DEFAULT_AIRFLOW_VERSION}\``);
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  expect(readme).toMatch(new RegExp(`Airflow versions: 3\\.x \\(${DEFAULT_AIRFLOW_VERSION.replace(/\./g, '\\.')} is the default`));
  // every "default: apache/airflow:X" in the docs is the default image
  const wrong: string[] = [];
  for (const f of ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((n) => n.endsWith('.md')).map((n) => `docs/${n}`)]) {
    for (const m of fs.readFileSync(path.join(ROOT, f), 'utf8').matchAll(/default:? `?(apache\/airflow:[0-9][^`\s)|,]*)/g)) {
      if (m[1] !== DEFAULT_AIRFLOW_IMAGE) wrong.push(`${f}: ${m[0]}`);
    }
  }
  expect(wrong).toEqual([]);
});
