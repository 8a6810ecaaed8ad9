import { ApiObject, App, Chart, JsonPatch } from 'cdk8s';
import { IConstruct } from 'constructs';
import { AirflowCdk8sValidationError, addCheck, invalid } from './errors';
import { validateDnsLabel } from './validators';

/**
 * The namespace the course's deployment lives in. In it, cluster-scoped names and host paths are exactly
 * the course's (`airflow-dags-volume` on `/data/dags`); in any other namespace they are derived from it.
 */
export const DEFAULT_NAMESPACE = 'airflow';

/** The default host directory of static volumes in namespace `airflow` (minikube keeps `/data`). */
export const DEFAULT_HOST_ROOT = '/data';

/**
 * Namespaces no construct of the library may be placed in: `default`, and Kubernetes' own (`kube-system`,
 * `kube-public`, `kube-node-lease`; every name that starts with `kube-` is reserved for them). The library
 * labels its namespace's Pod Security level (baseline, for Postgres) and grants a Role that creates pods in
 * it: in `kube-system` that would relax the cluster's own namespace.
 */
export const RESERVED_NAMESPACES: readonly string[] = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/** Whether `namespace` is reserved: one of {@link RESERVED_NAMESPACES}, or any name starting with `kube-`. */
export function isReservedNamespace(namespace: string): boolean {
  return RESERVED_NAMESPACES.includes(namespace) || namespace.startsWith('kube-');
}

/** A namespace name (a DNS-1123 label) that is not reserved ({@link RESERVED_NAMESPACES}). */
export function validateNamespaceName(scope: IConstruct, property: string, value: unknown, suggestion?: string): string {
  const namespace = validateDnsLabel(scope, property, value);
  if (isReservedNamespace(namespace)) {
    invalid(
      scope,
      property,
      namespace,
      `a namespace of your own: not "default" nor one of Kubernetes' own (${RESERVED_NAMESPACES.slice(1).map((n) => `"${n}"`).join(', ')}, ` +
        'any name starting with "kube-"), where the library would label the Pod Security level and grant a Role that creates pods',
      suggestion ?? 'Use a namespace of your own, such as "airflow".',
    );
  }
  return namespace;
}

/**
 * The namespace the objects of `scope` are created in: the one set on its Chart, a DNS-1123 label that is not
 * reserved ({@link RESERVED_NAMESPACES}). Claims, RBAC subjects and in-cluster DNS names depend on it, so a
 * chart without one is an error.
 */
export function namespaceOf(scope: IConstruct): string {
  const namespace = Chart.of(scope).namespace;
  if (!namespace) {
    invalid(
      scope,
      'Chart.namespace',
      namespace,
      'a namespace set on the Chart that contains this construct (new Chart(app, id, { namespace: "airflow" })): ' +
        'claim references, RBAC subjects and in-cluster DNS names are derived from it',
    );
  }
  return validateNamespaceName(scope, 'Chart.namespace', namespace);
}

/**
 * The one naming rule: every namespaced object is `airflow-<what>` (`airflow-scheduler`, `airflow-postgres`,
 * `airflow-dags-claim`) in every namespace, since the namespace tells deployments apart; only cluster-scoped
 * objects (the PersistentVolumes) carry a per-deployment prefix ({@link defaultNamePrefix}).
 */
export const NAMESPACED_NAME_PREFIX = 'airflow';

/**
 * The prefix of the names of cluster-scoped objects (PersistentVolumes: `<prefix>-dags-volume`) for a deployment
 * in `namespace`: `airflow` in namespace `airflow` (the course's names), the namespace itself elsewhere, so that
 * two deployments in one cluster never share a PersistentVolume. Namespaced objects: {@link NAMESPACED_NAME_PREFIX}.
 */
export function defaultNamePrefix(namespace: string): string {
  return namespace === DEFAULT_NAMESPACE ? 'airflow' : namespace;
}

/** The host directory of static volumes for a deployment in `namespace`: `/data`, or `/data/<namespace>`. */
export function defaultHostRoot(namespace: string): string {
  return namespace === DEFAULT_NAMESPACE ? DEFAULT_HOST_ROOT : `${DEFAULT_HOST_ROOT}/${namespace}`;
}

const CLUSTER_SCOPED = Symbol.for('airflow-cdk8s.ClusterScoped');

/**
 * Marks an object as cluster-scoped (Namespace, PersistentVolume, StorageClass): cdk8s stamps the
 * Chart's namespace on every object, which `kubectl apply` rejects or ignores for these kinds. Synth fails
 * when another cluster-scoped object of the app (in any chart) has the same kind and name: applied to one
 * cluster, the second would overwrite the first.
 */
export function clusterScoped<T extends ApiObject>(object: T): T {
  if (object.metadata.namespace !== undefined) {
    object.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
  }
  Object.defineProperty(object, CLUSTER_SCOPED, { value: true, enumerable: false });
  addCheck(object, () => clusterNameClashes(object));
  return object;
}

function clusterNameClashes(object: ApiObject): string[] {
  const same = App.of(object)
    .node.findAll()
    .filter(
      (c): c is ApiObject =>
        c instanceof ApiObject &&
        (c as unknown as Record<symbol, unknown>)[CLUSTER_SCOPED] === true &&
        c.kind === object.kind &&
        c.name === object.name,
    );
  // One clash, one message: the first of them in the app's tree order reports it, naming the others.
  if (same.length < 2 || same[0] !== object) return [];
  const others = same.slice(1);
  const owner = object.node.scope ?? object;
  return [
    new AirflowCdk8sValidationError(
      owner.constructor.name,
      owner.node.path,
      `${object.kind} name`,
      object.name,
      `a name no other construct of the app gives a ${object.kind}: it is cluster-scoped, and ` +
        `${others.map((o) => `"${o.node.path}"`).join(', ')} makes one named the same (applied to one cluster, one would overwrite the other)`,
      'Give each deployment its own namespace (names are derived from it), or its own namePrefix and hostRoot.',
    ).message,
  ];
}
