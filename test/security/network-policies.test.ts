// AirflowNetworkPolicies: only the Airflow components that use the database reach it; the UI is open.
import { AirflowNetworkPolicies, AirflowCdk8sValidationError, AirflowGeneration, MetadataDb } from '../../lib';
import { airflowLabels } from '../../lib/core/labels';
import { find, Manifest, objectIds, selects, synthIn } from '../support';

function synthPolicies(props: ConstructorParameters<typeof AirflowNetworkPolicies>[2] = {}): Manifest[] {
  return synthIn((c) => new AirflowNetworkPolicies(c, 'policies', props)).objects;
}

const named = (objects: Manifest[], name: string) => find(objects, 'NetworkPolicy', name);

/** Whether a policy admits TCP `port` on its pods from a pod of the same namespace with `labels`. */
function admits(policy: any, labels: Record<string, string>, port: number): boolean {
  return policy.spec.ingress.some((rule: any) => {
    const portOk = !rule.ports || rule.ports.some((p: any) => p.port === port && (p.protocol ?? 'TCP') === 'TCP');
    const fromOk =
      !rule.from || rule.from.some((peer: any) => peer.podSelector && !peer.namespaceSelector && selects(peer.podSelector, labels));
    return portOk && fromOk;
  });
}

/** Whether a policy admits TCP `port` from a pod in another namespace (labels given for pod and namespace). */
function admitsOtherNamespace(policy: any, port: number): boolean {
  return policy.spec.ingress.some((rule: any) => {
    const portOk = !rule.ports || rule.ports.some((p: any) => p.port === port);
    return portOk && (!rule.from || rule.from.some((peer: any) => peer.namespaceSelector || peer.ipBlock));
  });
}

describe('AirflowNetworkPolicies (Airflow 3, the default)', () => {
  const objects = synthPolicies();
  const db = named(objects, 'airflow-metadata-db');
  const api = named(objects, 'airflow-api-server');

  test('snapshot', () => {
    expect(objects).toMatchSnapshot();
  });

  test('two ingress-only networking.k8s.io/v1 NetworkPolicies in the chart namespace', () => {
    expect(objectIds(objects)).toEqual([
      'networking.k8s.io/v1 NetworkPolicy/airflow-metadata-db',
      'networking.k8s.io/v1 NetworkPolicy/airflow-api-server',
    ]);
    for (const o of objects) {
      expect(o.metadata.namespace).toBe('airflow');
      expect(o.spec.policyTypes).toEqual(['Ingress']);
    }
  });

  test('the database policy selects the MetadataDb pods', () => {
    const statefulSet = find(synthIn((c) => new MetadataDb(c, 'db', { passwordSecret: { name: 'pg', key: 'password' } })).objects, 'StatefulSet');
    expect(selects(db.spec.podSelector, statefulSet.spec.template.metadata.labels)).toBe(true);
    expect(selects(db.spec.podSelector, airflowLabels('scheduler'))).toBe(false);
  });

  test('only the Airflow components that use the database reach it, on 5432 only', () => {
    for (const component of ['scheduler', 'api-server', 'dag-processor', 'triggerer', 'db-migrate', 'create-user']) {
      expect([component, admits(db, airflowLabels(component), 5432)]).toEqual([component, true]);
      expect([component, admits(db, airflowLabels(component), 5433)]).toEqual([component, false]);
    }
  });

  test('worker pods (Airflow 3), other pods of the namespace and other namespaces do not reach the database', () => {
    expect(admits(db, airflowLabels('worker'), 5432)).toBe(false);
    expect(admits(db, airflowLabels('secrets-bootstrap'), 5432)).toBe(false);
    expect(admits(db, { 'app.kubernetes.io/component': 'scheduler' }, 5432)).toBe(false); // not part-of airflow
    expect(admits(db, { run: 'debug-shell' }, 5432)).toBe(false);
    expect(admitsOtherNamespace(db, 5432)).toBe(false);
  });

  test('the api-server policy selects the api-server and admits its port from anyone (the UI); workers included', () => {
    expect(api.spec.podSelector).toEqual({ matchLabels: { 'app.kubernetes.io/component': 'api-server' } });
    expect(admits(api, airflowLabels('worker'), 8080)).toBe(true);
    expect(admits(api, { run: 'browser' }, 8080)).toBe(true);
    expect(admits(api, airflowLabels('worker'), 5432)).toBe(false);
  });
});

describe('AirflowNetworkPolicies options', () => {
  test('apiServerSources closes the api-server to everything but the Airflow pods and the sources given', () => {
    const objects = synthPolicies({
      apiServerSources: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }],
    });
    const api = named(objects, 'airflow-api-server');
    expect(api.spec.ingress[0].from).toEqual([
      { podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'airflow' } } },
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } },
    ]);
    expect(admits(api, airflowLabels('worker'), 8080)).toBe(true);
    expect(admits(api, { run: 'browser' }, 8080)).toBe(false);
  });

  test('Airflow 2: workers use the database; the webserver is fenced instead of the api-server', () => {
    const objects = synthPolicies({ generation: AirflowGeneration.AIRFLOW_2 });
    expect(admits(named(objects, 'airflow-metadata-db'), airflowLabels('worker'), 5432)).toBe(true);
    expect(named(objects, 'airflow-webserver').spec.podSelector).toEqual({
      matchLabels: { 'app.kubernetes.io/component': 'webserver' },
    });
  });

  test('ports, selectors and clients can be changed', () => {
    const objects = synthPolicies({
      databasePort: 6432,
      databaseSelector: { app: 'pgbouncer' },
      databaseClients: ['scheduler'],
      apiServerPort: 9091,
      apiServerSelector: { app: 'api' },
    });
    const db = named(objects, 'airflow-metadata-db');
    expect(db.spec.podSelector).toEqual({ matchLabels: { app: 'pgbouncer' } });
    expect(admits(db, airflowLabels('scheduler'), 6432)).toBe(true);
    expect(admits(db, airflowLabels('triggerer'), 6432)).toBe(false);
    expect(admits(named(objects, 'airflow-api-server'), { run: 'x' }, 9091)).toBe(true);
  });

  test('rejects bad input, naming the property', () => {
    expect(() => synthPolicies({ generation: 2 as any })).toThrow(AirflowCdk8sValidationError);
    expect(() => synthPolicies({ generation: 2 as any })).toThrow(/AirflowNetworkPolicies at "test\/policies": property "generation" received 2/);
    expect(() => synthPolicies({ databasePort: 0 })).toThrow(/property "databasePort" received 0/);
    expect(() => synthPolicies({ databaseSelector: {} })).toThrow(/property "databaseSelector" received \{\}/);
    expect(() => synthPolicies({ apiServerSelector: { app: 'api server' } })).toThrow(/property "apiServerSelector\["app"\]" received "api server"/);
    expect(() => synthPolicies({ databaseClients: [] })).toThrow(/property "databaseClients" received \[\]/);
    expect(() => synthPolicies({ databaseClients: ['Scheduler'] })).toThrow(/property "databaseClients\[0\]" received "Scheduler"/);
  });
});
