import { ApiObject, Chart, JsonPatch } from 'cdk8s';
import { IConstruct } from 'constructs';
import { invalid } from './errors';

/**
 * The namespace the objects of `scope` are created in: the one set on its Chart.
 * Claims, RBAC subjects and in-cluster DNS names depend on it, so a chart without one is an error.
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
  return namespace;
}

/**
 * Marks an object as cluster-scoped (Namespace, PersistentVolume, StorageClass): cdk8s stamps the
 * Chart's namespace on every object, which `kubectl apply` rejects or ignores for these kinds.
 */
export function clusterScoped<T extends ApiObject>(object: T): T {
  if (object.metadata.namespace !== undefined) {
    object.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
  }
  return object;
}
