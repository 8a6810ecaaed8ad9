#!/usr/bin/env node
// Renders "what gets deployed" as a Mermaid flowchart from the synthesized objects, and writes it into
// README.md between `<!-- diagram:start -->` and `<!-- diagram:end -->`.
//
// Shown: the namespace; workloads (Deployment, StatefulSet, Job, CronJob, Pod) with their replicas and the
// ServiceAccount they run as; Services -> the workloads they select; which claims each workload mounts;
// claims -> the PersistentVolume they bind (with its hostPath); Role/ClusterRole -> ServiceAccount through
// each (Cluster)RoleBinding; the KubernetesExecutor's worker pod template (ConfigMap `airflow-config`, key
// `pod_template_file.yaml`) with its ServiceAccount and mounts; and every Secret and ConfigMap a pod reads
// (Secrets the YAML does not contain, e.g. created at run time, are marked "not in the YAML"). Everything sorted, so the output is
// deterministic. test/scripts/diagram.test.ts fails when the README block differs from a fresh synth.
//
// Usage: node scripts/diagram.js [dir]   (default: synthesize main.ts afresh with scripts/app.js, so the
//                                          picture is never stale; with dir: read dir/*.yaml, e.g. dist)
//        node scripts/diagram.js --check  (exit 1 when the README block is out of date)
'use strict';
const childProcess = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const YAML = require('yaml');

const ROOT = path.resolve(__dirname, '..');
const START = '<!-- diagram:start -->';
const END = '<!-- diagram:end -->';
const POD_TEMPLATE_CONFIGMAP = 'airflow-config';
const POD_TEMPLATE_KEY = 'pod_template_file.yaml';

const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'Job', 'CronJob', 'Pod'];
const PREFIX = {
  Deployment: 'deploy',
  StatefulSet: 'sts',
  Job: 'job',
  CronJob: 'cronjob',
  Pod: 'pod',
  PodTemplate: 'template',
  ServiceAccount: 'sa',
  Service: 'svc',
  PersistentVolumeClaim: 'pvc',
  PersistentVolume: 'pv',
  Role: 'role',
  ClusterRole: 'crole',
  Secret: 'secret',
  ConfigMap: 'cm',
};

function compare(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

function id(kind, name, namespace) {
  const raw = namespace ? `${PREFIX[kind]}_${namespace}__${name}` : `${PREFIX[kind]}_${name}`;
  return raw.replace(/[^A-Za-z0-9_]/g, '_');
}

function label(...lines) {
  return `"${lines.filter((l) => l !== undefined && l !== '').join('<br/>').replace(/"/g, '#quot;')}"`;
}

/** The pod spec of a workload object, or undefined. */
function podSpecOf(obj) {
  const spec = obj.spec || {};
  switch (obj.kind) {
    case 'Pod':
      return spec;
    case 'CronJob':
      return (((spec.jobTemplate || {}).spec || {}).template || {}).spec;
    default:
      return (spec.template || {}).spec;
  }
}

function podLabelsOf(obj) {
  if (obj.kind === 'Pod') return (obj.metadata || {}).labels || {};
  if (obj.kind === 'CronJob') return ((((obj.spec || {}).jobTemplate || {}).spec || {}).template || {}).metadata?.labels || {};
  return (((obj.spec || {}).template || {}).metadata || {}).labels || {};
}

/** What a pod spec refers to: claims, secrets, config maps, its service account. */
function podReferences(podSpec) {
  const claims = new Set();
  const secrets = new Set();
  const configMaps = new Set();
  if (!podSpec) return { claims, secrets, configMaps, serviceAccount: undefined };
  for (const v of podSpec.volumes || []) {
    if (v.persistentVolumeClaim) claims.add(v.persistentVolumeClaim.claimName);
    if (v.secret) secrets.add(v.secret.secretName);
    if (v.configMap) configMaps.add(v.configMap.name);
    for (const s of (v.projected || {}).sources || []) {
      if (s.secret) secrets.add(s.secret.name);
      if (s.configMap) configMaps.add(s.configMap.name);
    }
  }
  for (const c of [...(podSpec.initContainers || []), ...(podSpec.containers || [])]) {
    for (const e of c.env || []) {
      const from = e.valueFrom || {};
      if (from.secretKeyRef) secrets.add(from.secretKeyRef.name);
      if (from.configMapKeyRef) configMaps.add(from.configMapKeyRef.name);
    }
    for (const e of c.envFrom || []) {
      if (e.secretRef) secrets.add(e.secretRef.name);
      if (e.configMapRef) configMaps.add(e.configMapRef.name);
    }
  }
  for (const s of podSpec.imagePullSecrets || []) secrets.add(s.name);
  return { claims, secrets, configMaps, serviceAccount: podSpec.serviceAccountName || podSpec.serviceAccount };
}

function selects(selector, labels) {
  const entries = Object.entries(selector || {});
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/** The worker pod template object from ConfigMap `airflow-config`, or undefined. */
function podTemplateOf(objects) {
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name === POD_TEMPLATE_CONFIGMAP);
  const text = cm && cm.data && cm.data[POD_TEMPLATE_KEY];
  if (!text) return undefined;
  return { configMap: cm, pod: YAML.parse(text) };
}

/**
 * Renders the Mermaid flowchart (without the ``` fence) for a list of Kubernetes objects.
 * @param {object[]} objects the synthesized manifests
 * @returns {string}
 */
function renderDiagram(objects) {
  objects = objects.filter((o) => o && o.kind && o.metadata && o.metadata.name);
  const namespaces = [
    ...new Set([
      ...objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name),
      ...objects.filter((o) => o.metadata.namespace).map((o) => o.metadata.namespace),
    ]),
  ].sort(compare);
  const qualify = namespaces.length > 1;
  const nodes = new Map(); // id -> { namespace, line, sortKey }
  const edges = new Set();
  const addNode = (kind, name, namespace, text, shape) => {
    const nodeId = id(kind, name, qualify ? namespace : undefined);
    if (!nodes.has(nodeId)) {
      const [open, close] = shape;
      nodes.set(nodeId, {
        namespace,
        sortKey: `${String(Object.keys(PREFIX).indexOf(kind)).padStart(2, '0')} ${name}`,
        line: `${nodeId}${open}${text}${close}`,
      });
    }
    return nodeId;
  };
  const byKind = (kind) => objects.filter((o) => o.kind === kind).sort((a, b) => compare(a.metadata.name, b.metadata.name));
  const inChart = (kind, name, namespace) =>
    objects.some((o) => o.kind === kind && o.metadata.name === name && (!namespace || o.metadata.namespace === namespace));

  const secretNode = (name, namespace) =>
    addNode('Secret', name, namespace, label('Secret', name, inChart('Secret', name, namespace) ? '' : '(not in the YAML)'), ['[/', '/]']);
  const configMapNode = (name, namespace) => addNode('ConfigMap', name, namespace, label('ConfigMap', name), ['[\\', '/]']);
  const claimNode = (name, namespace) => addNode('PersistentVolumeClaim', name, namespace, label('PVC', name), ['[(', ')]']);
  const serviceAccountNode = (name, namespace) => addNode('ServiceAccount', name, namespace, label('ServiceAccount', name), ['([', '])']);

  const linkPod = (fromId, podSpec, namespace) => {
    const refs = podReferences(podSpec);
    if (refs.serviceAccount) edges.add(`${fromId} -->|runs as| ${serviceAccountNode(refs.serviceAccount, namespace)}`);
    for (const c of refs.claims) edges.add(`${fromId} -->|mounts| ${claimNode(c, namespace)}`);
    for (const s of refs.secrets) edges.add(`${fromId} -.->|reads| ${secretNode(s, namespace)}`);
    for (const m of refs.configMaps) edges.add(`${fromId} -.->|reads| ${configMapNode(m, namespace)}`);
  };

  // Workloads.
  const workloads = [];
  for (const kind of WORKLOAD_KINDS) {
    for (const o of byKind(kind)) {
      const ns = o.metadata.namespace;
      const replicas = kind === 'Deployment' || kind === 'StatefulSet' ? `${o.spec?.replicas ?? 1} replica${(o.spec?.replicas ?? 1) === 1 ? '' : 's'}` : '';
      const schedule = kind === 'CronJob' ? o.spec?.schedule : '';
      const nodeId = addNode(kind, o.metadata.name, ns, label(kind, o.metadata.name, replicas, schedule), ['[', ']']);
      workloads.push({ nodeId, object: o });
      linkPod(nodeId, podSpecOf(o), ns);
    }
  }

  // The KubernetesExecutor's worker pod template.
  const template = podTemplateOf(objects);
  if (template) {
    const ns = template.configMap.metadata.namespace;
    const requests = ((template.pod.spec?.containers || [])[0]?.resources || {}).requests || {};
    const sized = requests.cpu || requests.memory ? `requests ${requests.cpu ?? '-'} CPU, ${requests.memory ?? '-'}` : '';
    const tplId = addNode('PodTemplate', 'worker', ns, label('worker pod template', 'one pod per task', sized), ['[[', ']]']);
    edges.add(`${configMapNode(template.configMap.metadata.name, ns)} -.->|${POD_TEMPLATE_KEY}| ${tplId}`);
    linkPod(tplId, template.pod.spec, ns);
  }

  // Every ServiceAccount, claim, Secret and ConfigMap of the chart, referenced or not.
  for (const o of byKind('ServiceAccount')) serviceAccountNode(o.metadata.name, o.metadata.namespace);
  for (const o of byKind('PersistentVolumeClaim')) claimNode(o.metadata.name, o.metadata.namespace);
  for (const o of byKind('Secret')) secretNode(o.metadata.name, o.metadata.namespace);
  for (const o of byKind('ConfigMap')) configMapNode(o.metadata.name, o.metadata.namespace);

  // Services -> the workloads they select.
  for (const o of byKind('Service')) {
    const ports = (o.spec?.ports || []).map((p) => `:${p.port}`).join(' ');
    const svcId = addNode('Service', o.metadata.name, o.metadata.namespace, label('Service', o.metadata.name, ports), ['{{', '}}']);
    for (const w of workloads) {
      if (w.object.metadata.namespace === o.metadata.namespace && selects(o.spec?.selector, podLabelsOf(w.object))) {
        edges.add(`${svcId} -->|selects| ${w.nodeId}`);
      }
    }
  }

  // Claims -> volumes.
  for (const pv of byKind('PersistentVolume')) {
    const name = pv.metadata.name;
    const source = pv.spec?.hostPath ? `hostPath ${pv.spec.hostPath.path}` : pv.spec?.nfs ? `nfs ${pv.spec.nfs.server}:${pv.spec.nfs.path}` : '';
    const capacity = pv.spec?.capacity?.storage;
    const pvId = addNode('PersistentVolume', name, undefined, label('PV', name, source, capacity), ['[(', ')]']);
    const ref = pv.spec?.claimRef;
    if (ref && ref.name) edges.add(`${claimNode(ref.name, ref.namespace)} -->|bound to| ${pvId}`);
  }
  for (const pvc of byKind('PersistentVolumeClaim')) {
    const volumeName = pvc.spec?.volumeName;
    if (volumeName && inChart('PersistentVolume', volumeName)) {
      edges.add(`${claimNode(pvc.metadata.name, pvc.metadata.namespace)} -->|bound to| ${id('PersistentVolume', volumeName)}`);
    }
  }

  // RBAC: Role -> ServiceAccount, labelled with the binding.
  for (const kind of ['RoleBinding', 'ClusterRoleBinding']) {
    for (const b of byKind(kind)) {
      const roleKind = b.roleRef?.kind === 'ClusterRole' ? 'ClusterRole' : 'Role';
      const roleNs = roleKind === 'Role' ? b.metadata.namespace : undefined;
      const roleId = addNode(roleKind, b.roleRef?.name, roleNs, label(roleKind, b.roleRef?.name), ['>', ']']);
      for (const s of b.subjects || []) {
        if (s.kind !== 'ServiceAccount') continue;
        edges.add(`${roleId} -->|${kind} ${b.metadata.name}| ${serviceAccountNode(s.name, s.namespace || b.metadata.namespace)}`);
      }
    }
  }
  for (const kind of ['Role', 'ClusterRole']) {
    for (const r of byKind(kind)) {
      addNode(kind, r.metadata.name, kind === 'Role' ? r.metadata.namespace : undefined, label(kind, r.metadata.name), ['>', ']']);
    }
  }

  const sorted = [...nodes.values()].sort((a, b) => compare(a.sortKey, b.sortKey));
  const lines = ['flowchart LR'];
  for (const ns of namespaces) {
    lines.push(`  subgraph ${`ns_${ns}`.replace(/[^A-Za-z0-9_]/g, '_')}["namespace ${ns}"]`);
    for (const n of sorted.filter((x) => x.namespace === ns)) lines.push(`    ${n.line}`);
    lines.push('  end');
  }
  for (const n of sorted.filter((x) => !x.namespace || !namespaces.includes(x.namespace))) lines.push(`  ${n.line}`);
  for (const e of [...edges].sort(compare)) lines.push(`  ${e}`);
  return `${lines.join('\n')}\n`;
}

/** The README block between the markers (fenced Mermaid plus a legend). */
function renderBlock(objects) {
  return [
    START,
    '```mermaid',
    renderDiagram(objects).trimEnd(),
    '```',
    '',
    'Solid arrows: a pod runs as a ServiceAccount, mounts a claim; a claim is bound to its volume; a Service',
    'selects pods; a Role is granted to a ServiceAccount by the binding named on the arrow. Dotted arrows: a pod',
    'reads a Secret or ConfigMap (environment or volume). Generated by `npm run docs` (`scripts/diagram.js`).',
    END,
  ].join('\n');
}

/** Every object in dir/*.yaml, files in name order. */
function readManifests(dir) {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJSON()))
    .filter(Boolean);
}

/** Synthesizes main.ts (through scripts/app.js) into a temp dir and returns its objects. */
function synthesize(root = ROOT) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airflow-diagram-'));
  try {
    childProcess.execFileSync(process.execPath, [path.join(root, 'scripts', 'app.js')], {
      cwd: root,
      env: { ...process.env, CDK8S_OUTDIR: dir },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    return readManifests(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The current README block (markers included), or undefined when the markers are missing. */
function readmeBlock(readme) {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) return undefined;
  return readme.slice(start, end + END.length);
}

function replaceBlock(readme, block) {
  const current = readmeBlock(readme);
  if (current === undefined) throw new Error(`README.md has no ${START} ... ${END} block`);
  return readme.replace(current, () => block);
}

module.exports = { renderDiagram, renderBlock, readManifests, synthesize, readmeBlock, replaceBlock, podTemplateOf, START, END };

if (require.main === module) {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const dir = args.find((a) => !a.startsWith('--'));
  const objects = dir ? readManifests(path.resolve(dir)) : synthesize(ROOT);
  const readmePath = path.join(ROOT, 'README.md');
  const readme = fs.readFileSync(readmePath, 'utf8');
  const updated = replaceBlock(readme, renderBlock(objects));
  if (check) {
    if (updated !== readme) {
      console.error('The README diagram is out of date: run npm run docs');
      process.exit(1);
    }
    console.log('README diagram is up to date');
  } else if (updated !== readme) {
    fs.writeFileSync(readmePath, updated);
    console.log('wrote the diagram into README.md');
  } else {
    console.log('README diagram unchanged');
  }
}
