import { ApiObject } from 'cdk8s';

/**
 * Runs `render` with each of `objects` rendered at most once: while it runs, the first `toJson()` of an object
 * is kept and its later calls return that same JSON; afterwards every object renders as before.
 *
 * The Namespace's Pod Security labels are computed from every pod of the app, at synth (AirflowNamespace):
 * without this, each pod-bearing object of a chart was rendered once for that walk and once more for the chart
 * itself (issue #25: 7.8 of 65 s in a CPU profile of the suite). The objects render the same JSON both times, since
 * nothing a pod spec holds depends on the Namespace's labels; callers only read the JSON (AirflowChart's
 * toJson copies what it changes).
 */
export function renderingOnce<T>(objects: readonly ApiObject[], render: () => T): T {
  const restore: Array<() => void> = [];
  for (const o of objects) {
    const own = Object.getOwnPropertyDescriptor(o, 'toJson');
    const toJson = o.toJson.bind(o);
    let json: { value: any } | undefined;
    o.toJson = () => (json ??= { value: toJson() }).value;
    restore.push(own ? () => Object.defineProperty(o, 'toJson', own) : () => delete (o as { toJson?: unknown }).toJson);
  }
  try {
    return render();
  } finally {
    for (const r of restore) r();
  }
}
