// createNamespace: false on a real API server (issue #21): the chart deploys into a namespace that the user
// created and labelled beforehand, emits no Namespace, and leaves that namespace's labels as they were. The
// server accepts every object (a server-side dry run, then a real apply); without the namespace it refuses them,
// which is why the docs say to create it first.
import * as fs from 'fs';
import { AirflowChart, PodSecurityLevel } from '../../lib';
import { Testing } from 'cdk8s';
import {
  clusterAccess,
  deleteClusterObjects,
  deleteNamespace,
  expectServerDryRun,
  getObject,
  kubectl,
  kubectlName,
  kubectlOk,
  tempDir,
  unexpectedStderr,
  writeYaml,
} from './support/cluster';

const NS = 'airflow-cdk8s-live-existing';
/** A label of the user's own, which the chart must not remove. */
const TEAM_LABEL = 'example.com/team';

const chart = new AirflowChart(Testing.app(), 'airflow', { namespace: NS, createNamespace: false });
const objects = Testing.synth(chart);
const pvs = objects.filter((o) => o.kind === 'PersistentVolume').map((o) => o.metadata.name);
const { mutate: MUTATE } = clusterAccess();
const dir = tempDir('airflow-cdk8s-live-existing-');
let mayCleanUp = false;

async function cleanUp(): Promise<void> {
  await deleteNamespace(NS);
  await deleteClusterObjects('persistentvolume', pvs);
}

const labelsOf = (ns: string) => getObject('namespace', ns)?.metadata?.labels ?? {};

beforeAll(async () => {
  kubectlOk(['version']);
  if (!MUTATE && (getObject('namespace', NS) || pvs.some((pv) => getObject('persistentvolume', pv)))) {
    throw new Error(`namespace ${NS} or its volumes exist already: run the live tests on a scratch cluster, or set AIRFLOW_CDK8S_LIVE_MUTATE_CLUSTER=1`);
  }
  mayCleanUp = true;
  await cleanUp();
});

afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  if (!mayCleanUp || process.env.AIRFLOW_CDK8S_LIVE_KEEP === '1') return;
  await cleanUp();
});

describe('createNamespace: false, into a namespace the user manages', () => {
  test('the chart has no Namespace object, and says the level its namespace must allow', () => {
    expect(objects.filter((o) => o.kind === 'Namespace')).toEqual([]);
    expect(chart.podSecurityLevel).toBe(PodSecurityLevel.BASELINE);
  });

  test('without the namespace, the server refuses the namespaced objects', () => {
    const r = kubectl(['apply', '--dry-run=server', '-f', writeYaml(dir, 'missing.yaml', objects)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`namespaces "${NS}" not found`));
  });

  test('created and labelled as docs/secrets-and-security.md says, the server accepts every object (dry run)', () => {
    kubectlOk(['create', 'namespace', NS]);
    // The docs' command, with the level the chart computes.
    kubectlOk(['label', 'namespace', NS, `pod-security.kubernetes.io/enforce=${chart.podSecurityLevel}`, `${TEAM_LABEL}=data`]);
    expectServerDryRun(dir, 'all.yaml', objects);
  });

  test('applied for real: every object is created, and the namespace keeps its labels', () => {
    const before = labelsOf(NS);
    expect(before).toEqual(expect.objectContaining({ 'pod-security.kubernetes.io/enforce': 'baseline', [TEAM_LABEL]: 'data' }));
    const r = kubectl(['apply', '-f', writeYaml(dir, 'apply.yaml', objects)]);
    expect(unexpectedStderr(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    for (const o of objects) expect(r.stdout).toContain(`${kubectlName(o)} created`);
    expect(r.stdout).not.toMatch(/^namespace\//m);
    expect(labelsOf(NS)).toEqual(before);
    expect(getObject('configmap', 'airflow-config', NS)).toBeDefined();
  });
});
