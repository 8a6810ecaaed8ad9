// The default chart on a real Kubernetes API server (the 1.20 control plane of scripts/local-control-plane.sh,
// or minikube): see docs/live-tests.md. The tests run in file order and build on each other: the dry run,
// then the first apply (with look-alike volumes and a default StorageClass already there), the second apply,
// RBAC, the worker pod template, scheduling on a minikube-sized Node, then upgrades.
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { AirflowChartProps, DEFAULT_AIRFLOW_VERSION, GitSyncCredentials, GitSyncMode, OAuthProvider, RemoteLogging, StorageProvisioning } from '../../lib';
import {
  clusterAccess,
  controlPlaneScript,
  deleteClusterObjects,
  deleteNamespace,
  expectServerDryRun,
  fillWithTaskPods,
  getObject,
  kubectl,
  kubectlJson,
  kubectlKind,
  kubectlName,
  kubectlOk,
  objectKey,
  podsOf,
  recordResult,
  requestsOnNode,
  rulesReview,
  sumRequests,
  synthAirflow,
  tempDir,
  unexpectedStderr,
  waitFor,
  waitForWorkloadsOn,
  writeYaml,
} from './support/cluster';
import { executorLabels, executorWorkerPod } from './support/executor-pod';
import { EVERYTHING } from '../support/everything';

/** The next patch release after the default image: what an upgrade of the image applies. */
const UPGRADED_IMAGE = `apache/airflow:${DEFAULT_AIRFLOW_VERSION.replace(/\d+$/, (p) => String(Number(p) + 1))}`;

const NS = 'airflow';
const NODE = 'airflow-cdk8s-live-node';
const DEFAULT_STORAGE_CLASS = 'airflow-cdk8s-live-default';
const LOOKALIKE_PREFIX = 'airflow-cdk8s-live-lookalike-';
const WORKER_PREFIX = 'airflow-live-worker-';

/** Git-sync, remote logging, log retention and metrics all on (issue #14), with credentials by reference. */
function allFour(mode: GitSyncMode): AirflowChartProps {
  return {
    gitSync: {
      repository: 'https://github.com/org/dags.git',
      branch: 'main',
      subPath: 'dags',
      mode,
      credentials: GitSyncCredentials.https({ passwordSecret: { name: 'dags-repo', key: 'token' } }),
    },
    remoteLogging: RemoteLogging.s3({
      bucket: 'team-airflow-logs',
      region: 'eu-west-1',
      connectionId: 'aws_logs',
      connectionSecret: { name: 'airflow-logs-connection', key: 'uri' },
    }),
    logRetentionDays: 30,
    metrics: true,
  };
}

/**
 * Objects of the default chart a 1.20 API server cannot take, `apiVersion kind` -> why the tests skip them.
 * Empty: the default chart stays within what 1.20 serves (no batch/v1 CronJob, no policy/v1 PDB). An
 * object whose kind the server does not serve and that is not listed here fails the coverage test.
 */
const KNOWN_SKIPS: Readonly<Record<string, string>> = {};

const { local: LOCAL, mutate: MUTATE } = clusterAccess();
/** Tests that need the kubelet-less local control plane (a fake Node on which pods never start or finish). */
const testLocal = LOCAL ? test : test.skip;

/** Tests that create cluster-wide objects of their own (see mayMutateCluster). */
const testMutate = MUTATE ? test : test.skip;

const dir = tempDir();
const chartObjects = synthAirflow();
/** dist/ as committed: the default app's files by box (what the README applies with `kubectl apply -f dist/`). */
const DIST = path.join(__dirname, '..', '..', 'dist');
/** The default chart's objects the server takes (all of them unless KNOWN_SKIPS names some). */
let objects: any[] = chartObjects;
let chartFile = '';
const pvs = () => objects.filter((o) => o.kind === 'PersistentVolume');
const pvcs = () => objects.filter((o) => o.kind === 'PersistentVolumeClaim');
const lookalikeName = (pv: any) => `${LOOKALIKE_PREFIX}${pv.metadata.name}`;

let mayCleanUp = false;

/** Everything the tests may leave behind, deleted before (after a crashed run) and after the tests. */
async function cleanUp(): Promise<void> {
  await deleteNamespace(NS);
  const cluster = [...pvs().map((pv) => pv.metadata.name), ...(MUTATE ? pvs().map(lookalikeName) : [])];
  await deleteClusterObjects('persistentvolume', cluster);
  if (MUTATE) await deleteClusterObjects('storageclass', [DEFAULT_STORAGE_CLASS]);
  if (LOCAL) await deleteClusterObjects('node', [NODE]);
}

beforeAll(async () => {
  kubectlOk(['version']); // a clear failure when no cluster is reachable
  if (!MUTATE) {
    const existing = [
      getObject('namespace', NS) ? `namespace ${NS}` : '',
      ...pvs().map((pv) => (getObject('persistentvolume', pv.metadata.name) ? `persistentvolume ${pv.metadata.name}` : '')),
    ].filter(Boolean);
    if (existing.length > 0) {
      throw new Error(
        `The live tests apply and then delete the default chart, but this cluster already has ${existing.join(', ')}. ` +
          'Run them on a scratch cluster (e.g. `minikube start -p airflow-cdk8s-test`), or set ' +
          'AIRFLOW_CDK8S_LIVE_MUTATE_CLUSTER=1 to let them replace it.',
      );
    }
  }
  mayCleanUp = true; // only from here on: never delete a namespace or volumes the tests refused to touch
  await cleanUp();
  console.log(
    `LIVE: cluster ${LOCAL ? 'local 1.20 control plane (no kubelet)' : 'external'}; ` +
      `cluster-wide test objects (StorageClass, look-alike volumes) ${MUTATE ? 'allowed' : 'not allowed'}`,
  );
});

afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  if (!mayCleanUp || process.env.AIRFLOW_CDK8S_LIVE_KEEP === '1') return;
  await cleanUp();
});

describe('what Kubernetes 1.20 serves', () => {
  test('every apiVersion and kind of the default chart is served (skipped objects are named, with why)', () => {
    const served = new Map<string, Set<string>>();
    for (const apiVersion of new Set(chartObjects.map((o) => o.apiVersion))) {
      const url = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      const r = kubectl(['get', '--raw', url]);
      const kinds = r.code === 0 ? JSON.parse(r.stdout).resources.map((res: any) => res.kind) : [];
      served.set(apiVersion, new Set(kinds));
    }
    const unserved = chartObjects.filter((o) => !served.get(o.apiVersion)!.has(o.kind));
    const unexplained = unserved.filter((o) => KNOWN_SKIPS[`${o.apiVersion} ${o.kind}`] === undefined);
    expect(unexplained.map((o) => `${o.apiVersion} ${objectKey(o)}`)).toEqual([]);
    for (const o of unserved) {
      console.log(`LIVE: skipped ${o.apiVersion} ${objectKey(o)}: ${KNOWN_SKIPS[`${o.apiVersion} ${o.kind}`]}`);
    }
    objects = chartObjects.filter((o) => !unserved.includes(o));
    chartFile = writeYaml(dir, 'airflow.k8s.yaml', objects);
    // The chart really has the kinds the later tests rely on.
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of ['Namespace', 'PersistentVolume', 'PersistentVolumeClaim', 'Deployment', 'StatefulSet', 'Job', 'Role']) {
      expect(kinds).toContain(kind);
    }
  });
});

describe('server-side dry run with field validation', () => {
  test('the server accepts every object of the chart', () => {
    // A server-side dry run of a namespaced object needs its namespace to exist (the namespace lifecycle
    // admission rejects objects of a missing namespace even in a dry run), so the Namespace alone is applied
    // for real; every other object is only dry-run.
    const namespace = objects.filter((o) => o.kind === 'Namespace');
    const rest = objects.filter((o) => o.kind !== 'Namespace');
    kubectlOk(['apply', '-f', writeYaml(dir, 'namespace.yaml', namespace)]);
    const lines = expectServerDryRun(dir, 'rest.yaml', rest);
    expect(lines).toHaveLength(rest.length);
    // ...and nothing was stored.
    expect(getObject('configmap', 'airflow-config', NS)).toBeUndefined();
    expect(getObject('persistentvolume', pvs()[0].metadata.name)).toBeUndefined();
  });

  test('kubectl apply --dry-run=server of dist/ as committed prints no warning (issue #23 item 7)', () => {
    // What the README's walkthrough applies. From Kubernetes 1.23 on this is where Pod Security admission would
    // print "Warning: would violate PodSecurity ..."; 1.20 has none, so test/whole-chart/security.test.ts also
    // computes them (each pod against the namespace's warn label). Any other warning (a deprecated API) fails too.
    const r = kubectl(['apply', '--dry-run=server', '--validate=true', '-f', DIST]);
    expect(unexpectedStderr(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(objects.length);
  });

  test.each([
    ['Airflow 2 (apache/airflow:2.11.0)', { image: 'apache/airflow:2.11.0' }],
    ['a custom image built inside minikube (my-airflow:latest, Airflow 2.11.0)', { image: 'my-airflow:latest', airflowVersion: '2.11.0' }],
  ])('the %s variant is accepted too', (_label, props) => {
    // The Namespace was applied for real by the test above; the variant is only dry-run.
    const variant = synthAirflow(props).filter((o) => o.kind !== 'Namespace');
    expect(variant.some((o) => o.kind === 'Deployment' && o.metadata.name === 'airflow-webserver')).toBe(true);
    expectServerDryRun(dir, 'variant.yaml', variant);
  });

  test('the chart with every pod option is accepted too (PodDisruptionBudgets only where policy/v1 is served)', () => {
    const everything = synthAirflow(EVERYTHING).filter((o) => o.kind !== 'Namespace');
    const served = kubectl(['get', '--raw', '/apis/policy/v1']).code === 0;
    // policy/v1 PodDisruptionBudget is served from Kubernetes 1.21; the local control plane is 1.20.
    const sent = everything.filter((o) => served || o.kind !== 'PodDisruptionBudget');
    if (!served) console.log(`LIVE: PodDisruptionBudgets not sent (policy/v1 is not served here): ${everything.length - sent.length}`);
    expect(everything.filter((o) => o.kind === 'PodDisruptionBudget')).toHaveLength(3);
    expect(sent.some((o) => o.kind === 'Ingress')).toBe(true);
    expectServerDryRun(dir, 'everything.yaml', sent);
  });

  test.each([
    ['shared volume', GitSyncMode.SHARED_VOLUME],
    ['sidecars', GitSyncMode.SIDECARS],
  ])('git-sync (%s), remote logging, log retention and metrics all on: accepted too', (_label, mode) => {
    const variant = synthAirflow(allFour(mode)).filter((o) => o.kind !== 'Namespace');
    const names = variant.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(names).toEqual(expect.arrayContaining(['Deployment/airflow-statsd', 'Service/airflow-statsd']));
    expect(names.includes('Deployment/airflow-git-sync')).toBe(mode === GitSyncMode.SHARED_VOLUME);
    expectServerDryRun(dir, `all-four-${mode}.yaml`, variant);
  });

  test('no shared claims (issue #20): logs on an emptyDir with remote logging, git-sync sidecars, no data, Celery workers: accepted too', () => {
    const variant = synthAirflow({
      ...allFour(GitSyncMode.SIDECARS),
      provisioning: StorageProvisioning.storageClass('gp3'),
      volumes: [{ name: 'logs', emptyDir: true }],
      celery: {},
    }).filter((o) => o.kind !== 'Namespace');
    expect(variant.filter((o) => o.kind === 'PersistentVolumeClaim').map((o) => o.metadata.name)).toEqual(['airflow-postgres-claim']);
    const workers = variant.find((o) => o.kind === 'Deployment' && o.metadata.name === 'airflow-celery-worker');
    expect(workers.spec.template.spec.initContainers.map((c: any) => c.name)).toEqual(['git-sync-init']);
    expectServerDryRun(dir, 'no-shared-claims.yaml', variant);
  });

  test.each([
    ['OAuth (every provider factory), role mapping', { auth: {
      oauth: [
        OAuthProvider.google({ clientId: 'id.apps.googleusercontent.com', clientSecret: { name: 'sso', key: 'google' } }),
        OAuthProvider.github({ clientId: 'Iv1.abc', clientSecret: { name: 'sso', key: 'github' } }),
        OAuthProvider.okta({ clientId: '0oa1', clientSecret: { name: 'sso', key: 'okta' }, domain: 'example.okta.com' }),
        OAuthProvider.azureAd({ clientId: '11111111-2222-3333-4444-555555555555', clientSecret: { name: 'sso', key: 'azure' }, tenantId: 'contoso.onmicrosoft.com' }),
        OAuthProvider.keycloak({ clientId: 'airflow', clientSecret: { name: 'sso', key: 'keycloak' }, url: 'https://sso.example.com', realm: 'data' }),
        OAuthProvider.generic({ name: 'dex', clientId: 'airflow', clientSecret: { name: 'sso', key: 'dex' }, issuerUrl: 'https://dex.example.com' }),
      ],
      rolesMapping: { admins: ['Admin'] },
    } }],
    ['LDAP with a bind user', { auth: { ldap: { uri: 'ldaps://ldap.example.com', searchBase: 'dc=example,dc=com', bindUser: 'cn=airflow', bindPassword: { name: 'ldap', key: 'password' } } } }],
  ])('auth (%s) and airflowLocalSettings, with their NetworkPolicy: accepted too', (_label, props: any) => {
    const variant = synthAirflow({ ...props, airflowLocalSettings: 'def pod_mutation_hook(pod):\n    pass\n', networkPolicies: true }).filter((o) => o.kind !== 'Namespace');
    const names = variant.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(names).toContainEqual(expect.stringMatching(/^ConfigMap\/airflow-api-server-config-[0-9a-f]+$/));
    expect(names).toContainEqual(expect.stringMatching(/^ConfigMap\/airflow-local-settings-[0-9a-f]+$/));
    expect(names).toContain('NetworkPolicy/airflow-identity-provider');
    expectServerDryRun(dir, 'auth-local-settings.yaml', variant);
  });

  test.each([
    ['the defaults', {}],
    ['every feature and every option', {
      ...allFour(GitSyncMode.SIDECARS),
      celery: {},
      networkPolicyOptions: {
        apiServerSources: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }, { ipBlock: { cidr: '192.0.2.0/24', except: ['192.0.2.128/25'] } }],
        prometheusSources: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { app: 'prometheus' } } }],
        dns: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }, { ipBlock: { cidr: '169.254.20.10/32' } }],
        kubernetesApiPorts: [443, 6443],
        kubernetesApiCidrs: ['192.168.49.2/32'],
        gitCidrs: ['140.82.112.0/20'],
        gitPorts: [443],
        objectStoreCidrs: ['203.0.113.0/24'],
        objectStorePorts: [443, 9000],
        taskEgress: [{ to: [{ ipBlock: { cidr: '10.20.0.0/16' } }], ports: [{ protocol: 'TCP', port: 5439 }] }],
      },
    }],
  ])('the NetworkPolicies (%s) are accepted', (_label, props: any) => {
    const policies = synthAirflow({ ...props, networkPolicies: true }).filter((o) => o.kind === 'NetworkPolicy');
    expect(policies.length).toBeGreaterThanOrEqual(8);
    expectServerDryRun(dir, 'network-policies.yaml', policies);
  });

  test('field validation is on: a misspelled field is rejected', () => {
    const deployment = structuredClone(objects.find((o) => o.kind === 'Deployment'));
    deployment.spec.replicaz = 1;
    const r = kubectl(['apply', '--dry-run=server', '--validate=true', '-f', writeYaml(dir, 'typo.yaml', [deployment])]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown field "replicaz"/);
  });
});

describe('the first apply: every claim Bound to the volume it names', () => {
  testMutate('first, a default StorageClass and look-alike Available volumes', async () => {
    kubectlOk(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: {
        name: DEFAULT_STORAGE_CLASS,
        annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
      },
      provisioner: 'k8s.io/minikube-hostpath', // nothing serves it here: a claim it got would stay Pending
      reclaimPolicy: 'Delete',
      volumeBindingMode: 'Immediate',
    }));
    // Same size, access modes, volume mode and class as each of our volumes; no claimRef: the binder
    // could give any of them to our claims if the claims did not name their volume.
    const lookalikes = pvs().map((pv) => ({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: lookalikeName(pv), labels: { 'airflow-cdk8s/live-test': 'lookalike' } },
      spec: {
        capacity: pv.spec.capacity,
        accessModes: pv.spec.accessModes,
        volumeMode: pv.spec.volumeMode,
        storageClassName: pv.spec.storageClassName,
        persistentVolumeReclaimPolicy: 'Retain',
        hostPath: { path: `/tmp/${lookalikeName(pv)}`, type: 'DirectoryOrCreate' },
      },
    }));
    kubectlOk(['apply', '-f', writeYaml(dir, 'lookalikes.yaml', lookalikes)]);
    await waitFor('the look-alike volumes to be Available', 60_000, () =>
      lookalikes.every((pv) => getObject('persistentvolume', pv.metadata.name)?.status?.phase === 'Available'),
    );
    expect(
      kubectlJson(['get', 'storageclass']).items
        .filter((sc: any) => sc.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true')
        .map((sc: any) => sc.metadata.name),
    ).toContain(DEFAULT_STORAGE_CLASS);
  });

  test('then the chart: every claim Bound to its pinned volume, the look-alikes left Available', async () => {
    const r = kubectl(['apply', '-f', chartFile]);
    expect(unexpectedStderr(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);

    const claims = pvcs();
    expect(claims.length).toBeGreaterThanOrEqual(4); // dags, logs, data, postgres
    const phases = () => claims.map((c) => `${c.metadata.name}: ${getObject('pvc', c.metadata.name, NS)?.status?.phase}`).join(', ');
    await waitFor('every claim to be Bound', 120_000, () =>
      claims.every((c) => getObject('pvc', c.metadata.name, NS)?.status?.phase === 'Bound'),
      phases,
    );
    for (const claim of claims) {
      const live = getObject('pvc', claim.metadata.name, NS);
      expect(live.spec.volumeName).toBe(claim.spec.volumeName);
      const pv = getObject('persistentvolume', claim.spec.volumeName);
      expect(pv.status.phase).toBe('Bound');
      expect(pv.spec.claimRef).toMatchObject({ namespace: NS, name: claim.metadata.name, uid: live.metadata.uid });
      // The DefaultStorageClass admission did not touch a claim that names its class.
      expect(live.spec.storageClassName).toBe(claim.spec.storageClassName);
    }
    if (MUTATE) {
      for (const pv of pvs()) {
        const lookalike = getObject('persistentvolume', lookalikeName(pv));
        expect([lookalike.metadata.name, lookalike.status.phase]).toEqual([lookalikeName(pv), 'Available']);
        expect(lookalike.spec.claimRef).toBeUndefined();
      }
    }
  });
});

/** What an apply could change of each object: identity, spec generation, and what kubectl last wrote. */
function applyState(file: string): Map<string, any> {
  const list = kubectlJson(['get', '-f', file]);
  const items: any[] = list.kind === 'List' ? list.items : [list];
  return new Map(
    items.map((o) => [
      objectKey(o),
      {
        uid: o.metadata.uid,
        resourceVersion: o.metadata.resourceVersion,
        generation: o.metadata.generation,
        lastApplied: o.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'],
        kubectlFields: (o.metadata.managedFields ?? []).filter((f: any) => String(f.manager).startsWith('kubectl')),
        lastManager: [...(o.metadata.managedFields ?? [])].sort((a: any, b: any) => (a.time < b.time ? -1 : 1)).pop()?.manager,
      },
    ]),
  );
}

describe('the second apply of the same files', () => {
  test('changes nothing and reports no error', () => {
    const before = applyState(chartFile);
    expect(before.size).toBe(objects.length);
    const r = kubectl(['apply', '-f', chartFile]);
    expect(unexpectedStderr(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual(objects.map((o) => `${kubectlName(o)} unchanged`));

    const after = applyState(chartFile);
    const controllerWrites: string[] = [];
    for (const [key, b] of before) {
      const a = after.get(key);
      expect({ key, ...a, resourceVersion: undefined, lastManager: undefined }).toEqual({
        key,
        ...b,
        resourceVersion: undefined,
        lastManager: undefined,
      });
      // A new resourceVersion may only come from a controller (status, a token, a bound claim), never kubectl.
      if (a.resourceVersion !== b.resourceVersion) {
        expect(`${key}: ${a.lastManager}`).not.toMatch(/: kubectl/);
        controllerWrites.push(`${key} (${a.lastManager})`);
      }
    }
    console.log(`LIVE: second apply: ${objects.length} objects unchanged; written meanwhile by controllers only: ${controllerWrites.join(', ') || 'none'}`);
  });
});

/** `kubectl auth can-i` as a service account of the namespace (with the groups a pod's token carries). */
function canI(serviceAccount: string, verb: string, resource: string, namespace = NS, subresource?: string): boolean {
  const r = kubectl([
    'auth', 'can-i', verb, resource,
    ...(subresource ? [`--subresource=${subresource}`] : []),
    '-n', namespace,
    `--as=system:serviceaccount:${NS}:${serviceAccount}`,
    '--as-group=system:serviceaccounts',
    `--as-group=system:serviceaccounts:${NS}`,
    '--as-group=system:authenticated',
  ]);
  // exit 0 "yes", exit 1 "no"; anything else is an error
  if (r.code === 0 && r.stdout.trim() === 'yes') return true;
  if (r.code === 1 && r.stdout.trim().startsWith('no')) return false;
  throw new Error(`kubectl auth can-i ${verb} ${resource} as ${serviceAccount}: exit ${r.code} ${r.stdout} ${r.stderr}`);
}

/**
 * What a service account may do in the namespace, from the API server's SelfSubjectRulesReview (what
 * `kubectl auth can-i --list` prints): `group/resource verb` strings, without the self-review rules every
 * authenticated user has.
 */
function grantedRules(serviceAccount: string): string[] {
  const review = rulesReview(NS, serviceAccount);
  const out = new Set<string>();
  for (const rule of review.status.resourceRules ?? []) {
    for (const group of rule.apiGroups ?? []) {
      if (group === 'authorization.k8s.io') continue; // selfsubjectaccessreviews / selfsubjectrulesreviews
      for (const resource of rule.resources ?? []) {
        for (const verb of rule.verbs ?? []) out.add(`${group}/${resource} ${verb}${rule.resourceNames ? ` ${rule.resourceNames}` : ''}`);
      }
    }
  }
  return [...out].sort();
}

describe('RBAC: kubectl auth can-i as each service account', () => {
  const POD_VERBS = ['create', 'get', 'list', 'watch', 'patch', 'delete'];

  test('the scheduler launches, watches and deletes pods in its namespace, and nothing more', () => {
    const sa = 'airflow-scheduler';
    for (const verb of POD_VERBS) expect([verb, canI(sa, verb, 'pods')]).toEqual([verb, true]);
    expect(canI(sa, 'get', 'pods', NS, 'log')).toBe(true);
    expect(canI(sa, 'list', 'events')).toBe(true);
    // not granted
    for (const verb of ['update', 'deletecollection']) expect([verb, canI(sa, verb, 'pods')]).toEqual([verb, false]);
    expect(canI(sa, 'create', 'pods', NS, 'exec')).toBe(false);
    expect(canI(sa, 'watch', 'events')).toBe(false);
    // another namespace: no
    for (const verb of ['create', 'list', 'watch', 'delete']) expect([verb, canI(sa, verb, 'pods', 'default')]).toEqual([verb, false]);
    // secrets: no
    for (const verb of ['get', 'list', 'watch', 'create']) expect([verb, canI(sa, verb, 'secrets')]).toEqual([verb, false]);
    expect(canI(sa, 'get', 'configmaps')).toBe(false);
    expect(canI(sa, 'list', 'nodes', NS)).toBe(false);
  });

  test('the worker, the UI and the other service accounts cannot touch pods or secrets', () => {
    const sas = objects.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name);
    for (const sa of sas.filter((s) => !['airflow-scheduler', 'airflow-secrets-bootstrap'].includes(s))) {
      for (const [verb, resource] of [['create', 'pods'], ['list', 'pods'], ['delete', 'pods'], ['get', 'secrets'], ['list', 'secrets'], ['create', 'secrets']]) {
        expect([sa, verb, resource, canI(sa, verb, resource)]).toEqual([sa, verb, resource, false]);
      }
    }
  });

  test('the secrets bootstrap Job may create Secrets, get and patch airflow-secrets only, and not delete any', () => {
    const sa = 'airflow-secrets-bootstrap';
    expect(canI(sa, 'create', 'secrets')).toBe(true);
    for (const verb of ['get', 'patch']) expect([verb, canI(sa, verb, 'secrets/airflow-secrets')]).toEqual([verb, true]);
    for (const verb of ['update', 'delete']) expect([verb, canI(sa, verb, 'secrets/airflow-secrets')]).toEqual([verb, false]);
    for (const verb of ['get', 'list', 'watch', 'update', 'patch', 'delete']) {
      expect([verb, canI(sa, verb, 'secrets')]).toEqual([verb, false]);
      expect([verb, canI(sa, verb, 'secrets/another-secret')]).toEqual([verb, false]);
    }
    expect(canI(sa, 'create', 'secrets', 'default')).toBe(false);
    expect(canI(sa, 'get', 'secrets/airflow-secrets', 'default')).toBe(false);
    expect(canI(sa, 'create', 'pods')).toBe(false);
  });

  test('every service account has exactly the rules it is designed to have', () => {
    const designed: Record<string, string[]> = {
      'airflow-scheduler': [
        ...['create', 'delete', 'get', 'list', 'patch', 'watch'].map((v) => `/pods ${v}`),
        '/pods/log get',
        '/events list',
      ],
      'airflow-secrets-bootstrap': ['/secrets create', '/secrets get airflow-secrets', '/secrets patch airflow-secrets'],
    };
    const sas = objects.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name).sort();
    expect(sas).toEqual(expect.arrayContaining(['airflow-scheduler', 'airflow-worker', 'airflow-api-server', 'airflow-secrets-bootstrap']));
    for (const sa of sas) {
      expect([sa, grantedRules(sa)]).toEqual([sa, (designed[sa] ?? []).sort()]);
    }
  });
});

/** The pod_template_file.yaml of the airflow-config ConfigMap as the server stores it. */
function podTemplateYaml(): string {
  return getObject('configmap', 'airflow-config', NS).data['pod_template_file.yaml'];
}

describe('the worker pod template', () => {
  test('with the labels the KubernetesExecutor adds, a server-side dry-run create accepts it', () => {
    const pod = executorWorkerPod(podTemplateYaml(), { name: 'exampledagexampletask-3f2a1b', namespace: NS, airflowVersion: DEFAULT_AIRFLOW_VERSION });
    const r = kubectl(['create', '--dry-run=server', '--validate=true', '-o', 'json', '-f', '-'], JSON.stringify(pod));
    expect(unexpectedStderr(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    const created = JSON.parse(r.stdout);
    expect(created.metadata.labels).toMatchObject(executorLabels({ name: '', namespace: NS, airflowVersion: DEFAULT_AIRFLOW_VERSION }));
    expect(created.spec.serviceAccountName).toBe('airflow-worker');
    expect(created.spec.containers[0].resources.requests).toEqual({ cpu: '100m', memory: '256Mi' });
    expect(getObject('pod', 'exampledagexampletask-3f2a1b', NS)).toBeUndefined();
  });

  test('with airflowLocalSettings, the task pod (the file mounted from its ConfigMap) is accepted too', () => {
    const variant = synthAirflow({ airflowLocalSettings: 'def pod_mutation_hook(pod):\n    pass\n' });
    const template = variant.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'airflow-config').data['pod_template_file.yaml'];
    const pod = executorWorkerPod(template, { name: 'local-settings-task', namespace: NS, airflowVersion: DEFAULT_AIRFLOW_VERSION });
    const r = kubectl(['create', '--dry-run=server', '--validate=true', '-o', 'json', '-f', '-'], JSON.stringify(pod));
    expect(unexpectedStderr(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    const created = JSON.parse(r.stdout);
    expect(created.spec.containers[0].volumeMounts).toContainEqual({ name: 'airflow-local-settings', mountPath: '/opt/airflow/config/airflow_local_settings.py', subPath: 'airflow_local_settings.py', readOnly: true });
  });

  test.each([
    ['shared volume', GitSyncMode.SHARED_VOLUME],
    ['sidecars', GitSyncMode.SIDECARS],
  ])('with git-sync (%s) and the other three on, the task pod is accepted too (an init container only in sidecar mode)', (_label, mode) => {
    const variant = synthAirflow(allFour(mode));
    const template = variant.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'airflow-config').data['pod_template_file.yaml'];
    const pod = executorWorkerPod(template, { name: `all-four-${mode.toLowerCase()}-task`, namespace: NS, airflowVersion: DEFAULT_AIRFLOW_VERSION });
    const r = kubectl(['create', '--dry-run=server', '--validate=true', '-o', 'json', '-f', '-'], JSON.stringify(pod));
    expect(unexpectedStderr(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    const created = JSON.parse(r.stdout);
    expect((created.spec.initContainers ?? []).map((c: any) => c.name)).toEqual(mode === GitSyncMode.SIDECARS ? ['git-sync-init'] : []);
    expect(created.spec.containers.map((c: any) => c.name)).toEqual(['base']);
  });
});

/**
 * Adds the minikube-sized Node (once), waits until the real kube-scheduler has bound every control-plane pod
 * of `applied` to it, then creates worker pods from the stored template one at a time until one is
 * unschedulable. Returns how many fit, and what the control plane requests; the worker pods are deleted again.
 */
async function placeControlPlaneAndCountWorkers(applied: any[]): Promise<{ fit: number; requested: { cpu: number; memoryMi: number }; unschedulable: any }> {
  if (!getObject('node', NODE)) controlPlaneScript(['add-node', NODE, '2', '4Gi']);
  const workloads = applied.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind));
  await waitForWorkloadsOn(NODE, NS, workloads, 'every control-plane pod to be bound to the node');
  const controlPlanePods = kubectlJson(['get', 'pods', '-n', NS]).items as any[];
  console.log(`LIVE: control-plane pods on ${NODE}: ${controlPlanePods.map((p) => p.metadata.name).join(', ')}`);

  const template = podTemplateYaml();
  const { fit, unschedulable } = await fillWithTaskPods({
    namespace: NS,
    prefix: WORKER_PREFIX,
    noun: 'worker pod',
    build: (name, i) => executorWorkerPod(template, { name, namespace: NS, airflowVersion: DEFAULT_AIRFLOW_VERSION, taskId: `task_${i}` }),
    onScheduled: (name) => expect(getObject('pod', name, NS).spec.nodeName).toBe(NODE),
  });
  expect(unschedulable).toBeDefined();
  expect(unschedulable.message).toMatch(/Insufficient (cpu|memory)/);

  const requested = sumRequests(requestsOnNode(NS, NODE, WORKER_PREFIX));
  // The worker pods are gone again (force: no kubelet ever confirms a deletion).
  const workers = Array.from({ length: fit + 1 }, (_, i) => `${WORKER_PREFIX}${i + 1}`);
  kubectlOk(['delete', 'pod', '-n', NS, ...workers, '--grace-period=0', '--force', '--wait=false']);
  return { fit, requested, unschedulable };
}

describe('scheduling on a minikube-sized node (2 CPUs, 4 GiB)', () => {
  testLocal('the real kube-scheduler places every control-plane pod, then as many worker pods as fit', async () => {
    const { fit, requested, unschedulable } = await placeControlPlaneAndCountWorkers(objects);
    console.log(`LIVE: worker pods that fit on a 2 CPU / 4Gi node beside the control plane: ${fit}`);
    console.log(`LIVE: control plane (incl. the one-shot Jobs' pods) requests ${requested.cpu}m CPU, ${requested.memoryMi}Mi memory; the next worker: ${unschedulable.message}`);
    recordResult('workerPodsThatFit', {
      node: { cpu: '2', memory: '4Gi' },
      workerRequests: { cpu: '100m', memory: '384Mi' },
      controlPlaneRequests: { cpu: `${requested.cpu}m`, memory: `${requested.memoryMi}Mi` },
      workerPodsThatFit: fit,
      firstUnschedulable: unschedulable.message,
      measuredAt: new Date().toISOString(),
    });
    expect(fit).toBeGreaterThanOrEqual(1);
  });

  testLocal('the log groomer beside the scheduler gets no ServiceAccount token; the scheduler does', () => {
    // The ServiceAccount admission mounts the token into every container of a pod whose account has one,
    // except a container that already mounts something at the token path: the groomer's empty volume.
    const [pod] = podsOf(NS, 'app.kubernetes.io/component=scheduler');
    const tokenMount = (name: string) =>
      pod.spec.containers.find((c: any) => c.name === name).volumeMounts.find((m: any) => m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount');
    expect(tokenMount('scheduler')?.name).toMatch(/token|kube-api-access/);
    expect(tokenMount('log-groomer')).toEqual({ name: 'no-service-account-token', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true });
    expect(pod.spec.containers.find((c: any) => c.name === 'log-groomer').volumeMounts.map((m: any) => m.name)).toEqual(['logs', 'log-groomer-tmp', 'no-service-account-token']);
  });
});

describe('upgrades re-applied over the running chart', () => {
  const CONFIG_CHANGE = { parallelism: 8, config: { core: { dagbag_import_timeout: 60 } } };
  let appliedFiles: string[] = [];

  /** uid of every object of the given files, as the server has them now. */
  const uids = (files: string[]) => {
    const out = new Map<string, string>();
    for (const file of files) for (const [key, state] of applyState(file)) out.set(key, state.uid);
    return out;
  };

  /** Applies a file and checks: no error, no immutable field, every earlier object still the same object. */
  function applyOver(file: string): string[] {
    const before = uids(appliedFiles);
    const r = kubectl(['apply', '-f', file]);
    expect(r.stderr).not.toMatch(/immutable/i);
    expect(unexpectedStderr(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    expect(uids(appliedFiles)).toEqual(before); // nothing deleted, nothing re-created
    appliedFiles = [...appliedFiles, file];
    return r.stdout.trim().split('\n');
  }

  test('a configuration change', () => {
    appliedFiles = [chartFile];
    const changed = synthAirflow(CONFIG_CHANGE);
    const lines = applyOver(writeYaml(dir, 'config-change.yaml', changed));
    expect(lines).toContain('configmap/airflow-config configured');
    const cfg = getObject('configmap', 'airflow-config', NS).data['airflow.cfg'];
    expect(cfg).toMatch(/^parallelism = 8$/m);
    expect(cfg).toMatch(/^dagbag_import_timeout = 60$/m);
    // The one-shot Jobs (immutable pod templates) were left alone.
    for (const job of changed.filter((o) => o.kind === 'Job')) {
      expect(lines).toContain(`job.batch/${job.metadata.name} unchanged`);
    }
  });

  test('a new Airflow version', () => {
    const oldJobs = objects.filter((o) => o.kind === 'Job').map((o) => o.metadata.name);
    const upgraded = synthAirflow({ ...CONFIG_CHANGE, image: UPGRADED_IMAGE });
    const lines = applyOver(writeYaml(dir, 'upgrade.yaml', upgraded));

    const newMigration = upgraded.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-db-migrate-'));
    expect(newMigration.metadata.name).toMatch(new RegExp(`^airflow-db-migrate-${UPGRADED_IMAGE.split(':')[1].replace(/\./g, '-')}-`));
    expect(lines).toContain(`job.batch/${newMigration.metadata.name} created`);
    // the old version's migration Job is still there, beside the new one
    for (const name of oldJobs) expect(getObject('job', name, NS)).toBeDefined();
    expect(getObject('job', newMigration.metadata.name, NS)).toBeDefined();
    // the secrets bootstrap Job runs the Airflow image and is named after its pod spec: an upgrade is a new
    // Job (no "field is immutable"), the old one stays, and the Secret it created is kept (409: never rewritten)
    const oldBootstrap = oldJobs.find((n) => n.startsWith('airflow-secrets-bootstrap-'))!;
    const newBootstrap = upgraded.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-secrets-bootstrap-'));
    expect(newBootstrap.metadata.name).not.toBe(oldBootstrap);
    expect(newBootstrap.spec.template.spec.containers[0].image).toBe(UPGRADED_IMAGE);
    expect(lines).toContain(`job.batch/${newBootstrap.metadata.name} created`);

    for (const deployment of upgraded.filter((o) => o.kind === 'Deployment')) {
      const live = getObject(kubectlKind(deployment), deployment.metadata.name, NS);
      const images = live.spec.template.spec.containers.map((c: any) => c.image);
      expect([deployment.metadata.name, images]).toEqual([deployment.metadata.name, images.map(() => UPGRADED_IMAGE)]); // the log groomer too
    }
    expect(parse(podTemplateYaml()).spec.containers[0].image).toBe(UPGRADED_IMAGE);
  });
});

describe('scheduling with git-sync on (shared volume), from a fresh namespace', () => {
  testLocal('the control plane and the git-sync pod are placed, and the worker pods that fit are counted', async () => {
    // The chart so far is removed (pods force-deleted, the pinned volumes deleted so that the new claims bind).
    await deleteNamespace(NS);
    await deleteClusterObjects('persistentvolume', pvs().map((pv) => pv.metadata.name));
    const variant = synthAirflow({ gitSync: { repository: 'https://github.com/org/dags.git', branch: 'main' } });
    const r = kubectl(['apply', '-f', writeYaml(dir, 'git-sync.yaml', variant)]);
    expect(unexpectedStderr(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    const claims = variant.filter((o) => o.kind === 'PersistentVolumeClaim');
    await waitFor('every claim to be Bound', 120_000, () => claims.every((c) => getObject('pvc', c.metadata.name, NS)?.status?.phase === 'Bound'));
    expect(parse(podTemplateYaml()).spec.initContainers).toBeUndefined();

    const { fit, requested, unschedulable } = await placeControlPlaneAndCountWorkers(variant);
    const [gitSync] = podsOf(NS, 'app.kubernetes.io/component=git-sync');
    expect(gitSync.spec.nodeName).toBe(NODE);
    console.log(`LIVE: with git-sync on (shared volume), worker pods that fit on a 2 CPU / 4Gi node beside the control plane: ${fit}`);
    console.log(`LIVE: control plane with git-sync requests ${requested.cpu}m CPU, ${requested.memoryMi}Mi memory; the next worker: ${unschedulable.message}`);
    recordResult('workerPodsThatFitWithGitSync', {
      node: { cpu: '2', memory: '4Gi' },
      gitSync: 'shared volume (one git-sync Deployment)',
      controlPlaneRequests: { cpu: `${requested.cpu}m`, memory: `${requested.memoryMi}Mi` },
      workerPodsThatFit: fit,
      firstUnschedulable: unschedulable.message,
      measuredAt: new Date().toISOString(),
    });
    expect(fit).toBeGreaterThanOrEqual(1);
  });
});

describe('kubectl apply -f dist/ from nothing, as the README does (issue #23 item 6)', () => {
  test('one pass, in the order of the file names: the Namespace first, then every object, no error and no warning', async () => {
    await deleteNamespace(NS);
    await deleteClusterObjects('persistentvolume', pvs().map((pv) => pv.metadata.name));
    expect(getObject('namespace', NS)).toBeUndefined();
    const files = fs.readdirSync(DIST).sort();
    expect(files).toEqual(['airflow-0-storage.k8s.yaml', 'airflow-1-database.k8s.yaml', 'airflow-2-airflow.k8s.yaml']);
    const r = kubectl(['apply', '-f', DIST]);
    expect(unexpectedStderr(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(`namespace/${NS} created`);
    expect(lines).toHaveLength(chartObjects.length);
    expect(lines.filter((l) => !l.endsWith(' created'))).toEqual([]);
    console.log(`LIVE: kubectl apply -f dist/ (${files.length} files) from nothing: ${lines.length} objects created in one pass`);
  });
});
