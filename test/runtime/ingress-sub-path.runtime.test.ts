// The real Airflow 3 behind an Ingress on a sub-path (issue #20): `ingress: { host: 'airflow.local', path:
// '/airflow' }` sets `[api] base_url = http://airflow.local/airflow`, the api-server's startup, readiness and
// liveness probes ask under /airflow, and the task pods reach the execution API at
// http://airflow-api-server...:8080/airflow/execution/. The runtime stage has no Ingress controller: the chain
// reaches the api-server's Service directly, under the path an Ingress (pathType Prefix, no rewrite) forwards
// unchanged. What this proves: the kubelet's own httpGet probes pass on those paths (the Deployment becomes
// available), the REST API and the login answer under the path, and a task runs through the execution API
// under it. What it cannot: an Ingress controller's routing, and Airflow 2 (the stage runs Airflow 3.1 only).
import { getObject } from '../live/support/cluster';
import { AirflowGeneration } from '../../lib';
import { http } from './support/airflow-api';
import { RuntimeChain, Step } from './support/chain';
import { newKubelet } from './support/real-kubelet';
import { recordRuntime } from './support/results';
import { ingressSubPathChart } from './support/variants';

const kubelet = newKubelet('ingress-sub-path');
const chain = new RuntimeChain(ingressSubPathChart(), kubelet);
const steps = chain.steps();
const names = Object.keys(steps);
const AVAILABLE = names.find((n) => n.includes('become available'))!;
// The per-task resources run adds nothing about paths: the first task already goes through the execution API.
const SKIPPED = names.filter((n) => n.startsWith('per_task_resources'));

const register = (step: Step) => test(step.name, chain.jest(step), step.timeoutMs + 60_000);

chain.hooks({ recordTimings: true });

describe('runtime: the default chart behind an Ingress on /airflow', () => {
  test('the chart says /airflow: [api] base_url, the probes and the execution API URL', () => {
    expect(chain.basePath()).toBe('/airflow');
    const ui = chain.deployment('api-server').spec.template.spec.containers[0];
    expect([ui.startupProbe.httpGet.path, ui.readinessProbe.httpGet.path, ui.livenessProbe.httpGet.path]).toEqual([
      '/airflow/api/v2/monitor/health',
      '/airflow/api/v2/monitor/health',
      '/airflow/api/v2/version',
    ]);
    const cfg: string = chain.configMap().data['airflow.cfg'];
    expect(cfg).toContain('base_url = http://airflow.local/airflow\n');
    expect(cfg).toContain('execution_api_server_url = http://airflow-api-server.airflow.svc.cluster.local:8080/airflow/execution/\n');
  });

  for (const name of names.slice(0, names.indexOf(AVAILABLE) + 1)) register(steps[name]);

  register({
    name: "the kubelet's httpGet probes of the api-server pass under /airflow: started, Ready, no probe ever failed",
    components: ['api-server'],
    blocking: false,
    timeoutMs: 60_000,
    run: async () => {
      const pod = chain.podOf('api-server');
      const live = getObject('pod', pod.metadata.name, chain.ns);
      const c = live.spec.containers[0];
      expect([c.startupProbe.httpGet.path, c.readinessProbe.httpGet.path, c.livenessProbe.httpGet.path]).toEqual([
        '/airflow/api/v2/monitor/health',
        '/airflow/api/v2/monitor/health',
        '/airflow/api/v2/version',
      ]);
      const status = live.status.containerStatuses.find((s: any) => s.name === 'api-server');
      expect([status.started, status.ready]).toEqual([true, true]);
      expect(live.status.conditions.find((x: any) => x.type === 'Ready').status).toBe('True');
      // The kubelet logs "probe-failed" when a startup or liveness probe reaches its failureThreshold and it kills
      // the container: none, so no restart came from a probe. (Restarts are the chain's last step's business; the
      // exits are printed here.)
      // The real kubelet's word for it is the Event "Killing" with "failed startup probe" / "failed liveness probe".
      const podEvents = (rx: RegExp) => kubelet.events(new RegExp(`"pod": "${chain.ns}/${pod.metadata.name}"`)).split('\n').filter((l) => rx.test(l)).join('\n');
      expect(podEvents(kubelet.real ? /"event": "Killing".*failed (startup|liveness) probe/ : /"event": "probe-failed"/)).toBe('');
      if (status.restartCount > 0) console.log(`RUNTIME [ingress-sub-path]: the api-server restarted ${status.restartCount} time(s), not for a probe:\n${podEvents(kubelet.real ? /"event": "(Killing|BackOff)"/ : /"event": "exit"/)}`);
    },
  });

  for (const name of names.slice(names.indexOf(AVAILABLE) + 1).filter((n) => !SKIPPED.includes(n))) register(steps[name]);

  register({
    name: 'the REST API answers under /airflow; what the api-server answers at the root is measured',
    components: ['api-server'],
    blocking: false,
    timeoutMs: 120_000,
    run: async () => {
      const root = chain.serviceRoot();
      const api = await chain.loggedIn();
      expect(api.base).toBe(`${root}/airflow`);
      const under = {
        health: (await http('GET', `${root}/airflow/api/v2/monitor/health`)).status,
        version: (await http('GET', `${root}/airflow/api/v2/version`)).status,
        dags: (await api.call('GET', '/dags?limit=1')).status,
      };
      const atRoot = {
        health: (await http('GET', `${root}/api/v2/monitor/health`)).status,
        version: (await http('GET', `${root}/api/v2/version`)).status,
      };
      console.log(`RUNTIME [ingress-sub-path]: HTTP status under /airflow ${JSON.stringify(under)}, at the root ${JSON.stringify(atRoot)}`);
      recordRuntime(['ingressSubPath', 'httpStatus'], { underBasePath: under, atRoot });
      expect(under).toEqual({ health: 200, version: 200, dags: 200 });
      // AirflowGeneration.AIRFLOW_3.uiAnswersOutsideBasePath: Starlette routes a path outside root_path unchanged
      const outside = AirflowGeneration.AIRFLOW_3.uiAnswersOutsideBasePath;
      expect(atRoot).toEqual(outside ? { health: 200, version: 200 } : { health: 404, version: 404 });
    },
  });
});
