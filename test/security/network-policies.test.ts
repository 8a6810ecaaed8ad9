// AirflowNetworkPolicies: every pod of the deployment isolated both ways, and exactly the connections a running
// deployment makes allowed, checked with the NetworkPolicy evaluator of test/support (the runtime stage checks
// the same policies against the connections the real Airflow makes: test/runtime/network-policies.runtime.test.ts).
import {
  AirflowChartProps,
  AirflowGeneration,
  AirflowNetworkPolicies,
  GitSyncMode,
  MetadataDb,
  RemoteLogging,
} from '../../lib';
import { airflowLabels } from '../../lib/core/labels';
import { errorOf, find, Manifest, objectIds, podsOf, selects, synthAirflowChart, synthIn } from '../support';
import { Endpoint, evaluate, networkPolicies } from '../support/network-policy';

function synthPolicies(props: ConstructorParameters<typeof AirflowNetworkPolicies>[2] = {}): Manifest[] {
  return synthIn((c) => new AirflowNetworkPolicies(c, 'policies', props)).objects;
}

/** The chart with networkPolicies: true and `props`: a function that says whether a connection is allowed. */
function chartNetwork(props: AirflowChartProps = {}) {
  const { manifests } = synthAirflowChart({ networkPolicies: true, ...props });
  const set = { policies: networkPolicies(manifests, 'airflow') };
  const labels = new Map<string, Record<string, string>>();
  for (const p of podsOf(manifests)) labels.set(p.labels['app.kubernetes.io/component'], p.labels);
  /** A pod of the chart by its component, with the labels its template gives it. */
  const pod = (component: string): Endpoint => {
    if (!labels.has(component)) throw new Error(`no pod of component ${component} in the chart`);
    return { namespace: 'airflow', labels: labels.get(component) };
  };
  const allowed = (from: Endpoint, to: Endpoint, port: number, protocol: 'TCP' | 'UDP' = 'TCP') => evaluate(set, { from, to, port, protocol }).allowed;
  return { manifests, set, pod, allowed, names: manifests.filter((m) => m.kind === 'NetworkPolicy').map((m) => m.metadata.name) };
}

const KUBE_DNS: Endpoint = { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };
const API_SERVER_ENDPOINT: Endpoint = { ip: '192.168.49.2' }; // minikube's, on 8443
const GITHUB: Endpoint = { ip: '140.82.121.4' };
const OUTSIDE: Endpoint = { ip: '203.0.113.7' };
const INGRESS_NGINX: Endpoint = { namespace: 'ingress-nginx', labels: { 'app.kubernetes.io/name': 'ingress-nginx' } };
const OTHER_APP: Endpoint = { namespace: 'airflow', labels: { run: 'debug-shell' } };
const DB_CLIENTS = ['scheduler', 'api-server', 'dag-processor', 'triggerer', 'db-migrate', 'create-user'];

describe('AirflowNetworkPolicies (Airflow 3, the default)', () => {
  const objects = synthPolicies();

  test('snapshot', () => {
    expect(objects).toMatchSnapshot();
  });

  test('the default deny, DNS, the Kubernetes API, the database, the execution API and the task pods\' egress', () => {
    expect(objectIds(objects)).toEqual([
      'networking.k8s.io/v1 NetworkPolicy/airflow-default-deny',
      'networking.k8s.io/v1 NetworkPolicy/airflow-dns',
      'networking.k8s.io/v1 NetworkPolicy/airflow-kubernetes-api',
      'networking.k8s.io/v1 NetworkPolicy/airflow-metadata-db',
      'networking.k8s.io/v1 NetworkPolicy/airflow-metadata-db-clients',
      'networking.k8s.io/v1 NetworkPolicy/airflow-api-server',
      'networking.k8s.io/v1 NetworkPolicy/airflow-execution-api-clients',
      'networking.k8s.io/v1 NetworkPolicy/airflow-task-egress',
    ]);
    for (const o of objects) expect(o.metadata.namespace).toBe('airflow');
  });

  test('the default deny selects the deployment\'s pods by the library\'s label, not the whole namespace', () => {
    const deny = find(objects, 'NetworkPolicy', 'airflow-default-deny');
    expect(deny.spec).toEqual({ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'airflow' } }, policyTypes: ['Ingress', 'Egress'] });
    const statefulSet = find(synthIn((c) => new MetadataDb(c, 'db', { passwordSecret: { name: 'pg', key: 'password' } })).objects, 'StatefulSet');
    expect(selects(deny.spec.podSelector, statefulSet.spec.template.metadata.labels)).toBe(true); // Postgres too
    expect(selects(deny.spec.podSelector, airflowLabels('worker'))).toBe(true);
    expect(selects(deny.spec.podSelector, { run: 'debug-shell' })).toBe(false);
  });
});

describe('the default chart with networkPolicies: true', () => {
  const { pod, allowed, manifests } = chartNetwork();

  test('every pod of the chart is isolated both ways (the worker pod template included)', () => {
    const set = { policies: networkPolicies(manifests, 'airflow') };
    for (const p of podsOf(manifests)) {
      const v = evaluate(set, { from: { namespace: 'airflow', labels: p.labels }, to: { namespace: 'airflow', labels: p.labels }, port: 1 });
      expect([p.object, v.egress.isolated, v.ingress.isolated]).toEqual([p.object, true, true]);
    }
  });

  test('every pod may query the cluster DNS, UDP and TCP 53, and nothing else there', () => {
    for (const p of podsOf(manifests)) {
      const from = { namespace: 'airflow', labels: p.labels };
      expect([p.object, allowed(from, KUBE_DNS, 53, 'UDP'), allowed(from, KUBE_DNS, 53, 'TCP')]).toEqual([p.object, true, true]);
    }
    expect(allowed(pod('api-server'), KUBE_DNS, 9153)).toBe(false);
    expect(allowed(pod('api-server'), { namespace: 'other', labels: { 'k8s-app': 'kube-dns' } }, 53, 'UDP')).toBe(false);
  });

  test('the database: its clients reach it on 5432; task pods, other pods and other namespaces do not', () => {
    for (const c of DB_CLIENTS) {
      expect([c, allowed(pod(c), pod('metadata-db'), 5432)]).toEqual([c, true]);
      expect([c, allowed(pod(c), pod('metadata-db'), 5433)]).toEqual([c, false]);
    }
    expect(allowed(pod('worker'), pod('metadata-db'), 5432)).toBe(false);
    expect(allowed(pod('secrets-bootstrap'), pod('metadata-db'), 5432)).toBe(false);
    expect(allowed(OTHER_APP, pod('metadata-db'), 5432)).toBe(false);
    expect(allowed({ namespace: 'other', labels: airflowLabels('scheduler') }, pod('metadata-db'), 5432)).toBe(false);
    expect(allowed(pod('metadata-db'), OUTSIDE, 443)).toBe(false); // Postgres opens nothing
  });

  test('the Kubernetes API: the scheduler and the secrets bootstrap Job, on 443, 6443 and 8443; nobody else', () => {
    for (const port of [443, 6443, 8443]) {
      expect(allowed(pod('scheduler'), API_SERVER_ENDPOINT, port)).toBe(true);
      expect(allowed(pod('secrets-bootstrap'), API_SERVER_ENDPOINT, port)).toBe(true);
      expect(allowed(pod('api-server'), API_SERVER_ENDPOINT, port)).toBe(false);
      expect(allowed(pod('dag-processor'), API_SERVER_ENDPOINT, port)).toBe(false);
    }
    expect(allowed(pod('scheduler'), API_SERVER_ENDPOINT, 80)).toBe(false);
  });

  test('the execution API: the task pods reach the api-server on 8080; other components, namespaces and pods do not', () => {
    expect(allowed(pod('worker'), pod('api-server'), 8080)).toBe(true);
    for (const c of ['scheduler', 'dag-processor', 'triggerer']) expect([c, allowed(pod(c), pod('api-server'), 8080)]).toEqual([c, false]);
    expect(allowed(INGRESS_NGINX, pod('api-server'), 8080)).toBe(false); // the UI: closed unless apiServerSources opens it
    expect(allowed(OTHER_APP, pod('api-server'), 8080)).toBe(false);
    expect(allowed(pod('worker'), pod('api-server'), 8793)).toBe(false);
  });

  test('task pods may reach anything else (DAGs call what their authors call); the control plane may not', () => {
    expect(allowed(pod('worker'), OUTSIDE, 443)).toBe(true);
    expect(allowed(pod('worker'), OUTSIDE, 5439)).toBe(true);
    for (const c of ['api-server', 'dag-processor', 'triggerer', 'db-migrate', 'create-user', 'volume-permissions']) {
      expect([c, allowed(pod(c), OUTSIDE, 443)]).toEqual([c, false]);
    }
    // The scheduler's Kubernetes API rule is port-only by default (the API server's address is the cluster's):
    // any address on 443/6443/8443, nothing else; kubernetesApiCidrs narrows it (below).
    expect(allowed(pod('scheduler'), OUTSIDE, 443)).toBe(true);
    expect(allowed(pod('scheduler'), OUTSIDE, 80)).toBe(false);
    expect(allowed(OUTSIDE, pod('worker'), 8793)).toBe(false);
  });

  test('the namespace\'s other pods are not touched (a namespace you manage may hold other applications)', () => {
    expect(allowed(OTHER_APP, OUTSIDE, 443)).toBe(true);
    expect(allowed(OUTSIDE, OTHER_APP, 80)).toBe(true);
  });
});

describe('the chart\'s options', () => {
  test('apiServerSources opens the UI to the ingress controller\'s namespace only', () => {
    const { pod, allowed } = chartNetwork({
      networkPolicyOptions: { apiServerSources: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }] },
    });
    expect(allowed(INGRESS_NGINX, pod('api-server'), 8080)).toBe(true);
    expect(allowed({ namespace: 'other', labels: {} }, pod('api-server'), 8080)).toBe(false);
    expect(allowed(pod('worker'), pod('api-server'), 8080)).toBe(true);
  });

  test('networkPolicies must be a boolean, and networkPolicyOptions needs it', () => {
    expect(errorOf(() => synthAirflowChart({ networkPolicies: 'yes' as any }))).toBe('AirflowChart at "airflow": property "networkPolicies" received "yes"; allowed: true or false.');
    expect(errorOf(() => synthAirflowChart({ networkPolicies: false, networkPolicyOptions: {} }))).toMatch(/property "networkPolicyOptions" received \{\}; allowed: unset unless networkPolicies is true/);
  });

  test('taskEgress: [] leaves the task pods only what Airflow needs', () => {
    const { pod, allowed, names } = chartNetwork({ networkPolicyOptions: { taskEgress: [] } });
    expect(names).not.toContain('airflow-task-egress');
    expect(allowed(pod('worker'), OUTSIDE, 443)).toBe(false);
    expect(allowed(pod('worker'), pod('api-server'), 8080)).toBe(true);
    expect(allowed(pod('worker'), KUBE_DNS, 53, 'UDP')).toBe(true);
  });

  test('kubernetesApiPorts and kubernetesApiCidrs narrow the API server\'s rule', () => {
    const { pod, allowed } = chartNetwork({ networkPolicyOptions: { kubernetesApiPorts: [6443], kubernetesApiCidrs: ['192.168.49.2/32'] } });
    expect(allowed(pod('scheduler'), API_SERVER_ENDPOINT, 6443)).toBe(true);
    expect(allowed(pod('scheduler'), API_SERVER_ENDPOINT, 443)).toBe(false);
    expect(allowed(pod('scheduler'), { ip: '192.168.49.3' }, 6443)).toBe(false);
    expect(allowed(pod('scheduler'), OUTSIDE, 443)).toBe(false);
  });

  test('celery: the scheduler and the Celery workers reach Redis; the Celery workers the execution API; task pods neither', () => {
    const { pod, allowed } = chartNetwork({ celery: {} });
    expect(allowed(pod('scheduler'), pod('redis'), 6379)).toBe(true);
    expect(allowed(pod('celery-worker'), pod('redis'), 6379)).toBe(true);
    expect(allowed(pod('celery-worker'), pod('api-server'), 8080)).toBe(true);
    expect(allowed(pod('celery-worker'), pod('metadata-db'), 5432)).toBe(false); // Airflow 3
    expect(allowed(pod('worker'), pod('redis'), 6379)).toBe(false);
    expect(allowed(pod('api-server'), pod('redis'), 6379)).toBe(false);
    expect(allowed(pod('celery-worker'), OUTSIDE, 443)).toBe(true); // it runs tasks
  });

  test('metrics: every Airflow pod sends StatsD (9125/UDP) to the exporter; any namespace scrapes 9102 unless prometheusSources says', () => {
    const { pod, allowed } = chartNetwork({ metrics: true });
    for (const c of ['scheduler', 'api-server', 'dag-processor', 'triggerer', 'worker']) {
      expect([c, allowed(pod(c), pod('statsd'), 9125, 'UDP')]).toEqual([c, true]);
    }
    expect(allowed(pod('scheduler'), pod('statsd'), 9125, 'TCP')).toBe(false);
    expect(allowed({ namespace: 'monitoring', labels: { app: 'prometheus' } }, pod('statsd'), 9102)).toBe(true);
    expect(allowed({ namespace: 'monitoring', labels: { app: 'prometheus' } }, pod('statsd'), 9125, 'UDP')).toBe(false);
    const narrowed = chartNetwork({ metrics: true, networkPolicyOptions: { prometheusSources: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] } });
    expect(narrowed.allowed({ namespace: 'monitoring', labels: {} }, narrowed.pod('statsd'), 9102)).toBe(true);
    expect(narrowed.allowed({ namespace: 'other', labels: {} }, narrowed.pod('statsd'), 9102)).toBe(false);
  });

  test('gitSync, shared volume: the git-sync Deployment reaches git on 443 and 22, nothing else', () => {
    const { pod, allowed } = chartNetwork({ gitSync: { repository: 'https://github.com/org/dags.git' } });
    expect(allowed(pod('git-sync'), GITHUB, 443)).toBe(true);
    expect(allowed(pod('git-sync'), GITHUB, 22)).toBe(true);
    expect(allowed(pod('git-sync'), pod('metadata-db'), 5432)).toBe(false);
    expect(allowed(pod('dag-processor'), GITHUB, 443)).toBe(false);
  });

  test('gitSync, sidecars: the pods with a git-sync container reach git; gitCidrs narrows it', () => {
    const { pod, allowed } = chartNetwork({
      gitSync: { repository: 'https://github.com/org/dags.git', mode: GitSyncMode.SIDECARS },
      networkPolicyOptions: { gitCidrs: ['140.82.112.0/20'], taskEgress: [] },
    });
    for (const c of ['dag-processor', 'triggerer', 'worker']) expect([c, allowed(pod(c), GITHUB, 443)]).toEqual([c, true]);
    expect(allowed(pod('worker'), OUTSIDE, 443)).toBe(false);
    expect(allowed(pod('api-server'), GITHUB, 443)).toBe(false);
    expect(allowed(pod('scheduler'), GITHUB, 22)).toBe(false); // the dag-processor parses on Airflow 3
  });

  test('remoteLogging: the components that write or read task logs reach the object store on 443', () => {
    const { pod, allowed } = chartNetwork({ remoteLogging: RemoteLogging.s3({ bucket: 'team-logs', connectionId: 'aws_logs' } as any), networkPolicyOptions: { taskEgress: [] } });
    for (const c of ['api-server', 'scheduler', 'dag-processor', 'triggerer', 'worker']) expect([c, allowed(pod(c), OUTSIDE, 443)]).toEqual([c, true]);
    expect(allowed(pod('api-server'), OUTSIDE, 80)).toBe(false);
    expect(allowed(pod('db-migrate'), OUTSIDE, 443)).toBe(false);
  });

  test('Airflow 2: task pods use the database, no execution API, the webserver closed without apiServerSources', () => {
    const { pod, allowed, names } = chartNetwork({ image: 'apache/airflow:2.11.0' });
    expect(allowed(pod('worker'), pod('metadata-db'), 5432)).toBe(true);
    expect(allowed(pod('webserver'), pod('metadata-db'), 5432)).toBe(true);
    expect(allowed(pod('worker'), pod('webserver'), 8080)).toBe(false);
    expect(names).not.toContain('airflow-execution-api-clients');
    expect(names).not.toContain('airflow-webserver');
  });
});

describe('AirflowNetworkPolicies props', () => {
  test('an external database: no policy for database pods; its clients reach its port at the CIDRs given', () => {
    const objects = synthPolicies({ externalDatabaseCidrs: ['10.5.0.0/24'] });
    const set = { policies: networkPolicies(objects, 'airflow') };
    expect(objects.map((o) => o.metadata.name)).not.toContain('airflow-metadata-db');
    const scheduler = { namespace: 'airflow', labels: airflowLabels('scheduler') };
    expect(evaluate(set, { from: scheduler, to: { ip: '10.5.0.9' }, port: 5432 }).allowed).toBe(true);
    expect(evaluate(set, { from: scheduler, to: { ip: '10.6.0.9' }, port: 5432 }).allowed).toBe(false);
    const anywhere = { policies: networkPolicies(synthPolicies({ externalDatabaseCidrs: [] }), 'airflow') };
    expect(evaluate(anywhere, { from: scheduler, to: { ip: '10.6.0.9' }, port: 5432 }).allowed).toBe(true);
    expect(evaluate(anywhere, { from: scheduler, to: { ip: '10.6.0.9' }, port: 5433 }).allowed).toBe(false);
  });

  test('ports, selectors and clients can be changed', () => {
    const objects = synthPolicies({ databasePort: 6432, databaseSelector: { app: 'pgbouncer' }, databaseClients: ['scheduler'], apiServerPort: 9091, apiServerSelector: { app: 'api' } });
    const set = { policies: networkPolicies(objects, 'airflow') };
    const ok = (from: string, to: Record<string, string>, port: number) =>
      evaluate(set, { from: { namespace: 'airflow', labels: airflowLabels(from) }, to: { namespace: 'airflow', labels: { ...to, 'app.kubernetes.io/name': 'airflow' } }, port }).allowed;
    expect(ok('scheduler', { app: 'pgbouncer' }, 6432)).toBe(true);
    expect(ok('triggerer', { app: 'pgbouncer' }, 6432)).toBe(false);
    expect(ok('worker', { app: 'api' }, 9091)).toBe(true);
    expect(ok('worker', { app: 'api' }, 8080)).toBe(false);
  });

  test('Airflow 2 without apiServerSources: the webserver has no policy of its own (the default deny closes it)', () => {
    const objects = synthPolicies({ generation: AirflowGeneration.AIRFLOW_2, apiServerSources: [{ ipBlock: { cidr: '0.0.0.0/0' } }] });
    expect(find(objects, 'NetworkPolicy', 'airflow-webserver').spec.podSelector).toEqual({ matchLabels: { 'app.kubernetes.io/component': 'webserver' } });
  });

  test('rejects bad input, naming the property', () => {
    const err = (props: any) => errorOf(() => synthPolicies(props));
    expect(err({ generation: 2 })).toMatch(/AirflowNetworkPolicies at "test\/policies": property "generation" received 2/);
    expect(err({ databasePort: 0 })).toMatch(/property "databasePort" received 0/);
    expect(err({ databaseSelector: {} })).toMatch(/property "databaseSelector" received \{\}/);
    expect(err({ apiServerSelector: { app: 'api server' } })).toMatch(/property "apiServerSelector\["app"\]" received "api server"/);
    expect(err({ databaseClients: [] })).toMatch(/property "databaseClients" received \[\]/);
    expect(err({ databaseClients: ['Scheduler'] })).toMatch(/property "databaseClients\[0\]" received "Scheduler"/);
    expect(err({ kubernetesApiPorts: [] })).toMatch(/property "kubernetesApiPorts" received \[\]; allowed: a non-empty list of ports/);
    expect(err({ kubernetesApiPorts: [443, 70000] })).toMatch(/property "kubernetesApiPorts\[1\]" received 70000/);
    expect(err({ kubernetesApiCidrs: ['10.0.0.1'] })).toMatch(/property "kubernetesApiCidrs\[0\]" received "10.0.0.1"; allowed: an IPv4 or IPv6 CIDR/);
    expect(err({ externalDatabaseCidrs: ['10.0.0.0/8'], databaseSelector: { app: 'pg' } })).toMatch(/property "databaseSelector" received .*; allowed: unset with externalDatabaseCidrs/);
    expect(err({ apiServerSources: [{}] })).toMatch(/property "apiServerSources\[0\]" received \{\}; allowed: a NetworkPolicy peer with a podSelector, a namespaceSelector or an ipBlock/);
    expect(err({ apiServerSources: [{ ipBlock: { cidr: '0.0.0.0/0' }, namespaceSelector: {} }] })).toMatch(/allowed: either an ipBlock or selectors, not both/);
    expect(err({ apiServerSources: [{ ipBlock: { cidr: 'everyone' } }] })).toMatch(/property "apiServerSources\[0\].ipBlock.cidr" received "everyone"/);
    expect(err({ dns: [] })).toMatch(/property "dns" received \[\]; allowed: at least one peer/);
    expect(err({ prometheusSources: [{ namespaceSelector: {} }] })).toMatch(/property "prometheusSources" received .*; allowed: unset without statsd/);
    expect(err({ gitCidrs: ['10.0.0.0/8'] })).toMatch(/property "gitCidrs" received \["10.0.0.0\/8"\]; allowed: unset without gitSync: nothing would use the rule\. Turn gitSync on, or leave gitCidrs out\./);
    expect(err({ objectStorePorts: [9000] })).toMatch(/property "objectStorePorts" received \[9000\]; allowed: unset without remoteLogging/);
    expect(err({ taskEgress: {} })).toMatch(/property "taskEgress" received \{\}; allowed: a list of NetworkPolicy egress rules/);
  });
});
