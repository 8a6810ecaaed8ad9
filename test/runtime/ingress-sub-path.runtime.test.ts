// The real Airflow 3 behind an Ingress on a sub-path (issue #20) with `airflowLocalSettings` and `auth` (issue #22,
// items 1 and 3), on ONE deployment (issue #25: one Airflow start-up for what were two suites,
// ingress-sub-path and auth-local-settings).
//
// Ingress: `ingress: { host: 'airflow.local', path: '/airflow', tlsSecretName: 'airflow-local-tls' }` sets `[api]
// base_url = https://airflow.local/airflow` and FAB's proxy fix for the Ingress's X-Forwarded-Proto, the
// api-server's startup, readiness and liveness probes ask under /airflow, and the task pods reach the execution
// API at http://airflow-api-server...:8080/airflow/execution/. The runtime stage has no Ingress controller: the
// chain reaches the api-server's Service directly, under the path an Ingress (pathType Prefix, no rewrite) forwards
// unchanged. What this proves: the kubelet's own httpGet probes pass on those paths
// (the Deployment becomes available), the REST API and the login answer under the path, and a task runs through
// the execution API under it. What it cannot: an Ingress controller's routing, and Airflow 2.
//
// Local settings and auth, on the same chart:
// - the pod_mutation_hook of airflow_local_settings.py, mounted at $AIRFLOW_HOME/config, changed the task pod the
//   KubernetesExecutor created (its label and annotation, read from the API server);
// - the api-server started with the generated webserver_config.py (FAB, AUTH_OAUTH): its login page under /airflow
//   offers both providers, and the GitHub button sends the browser to GitHub's authorize URL with the client id and
//   the callback under the sub-path (FAB's url_for(_external=True): the request's Host, then the SCRIPT_NAME
//   Starlette's WSGIMiddleware gives the mounted FAB app, i.e. FastAPI's root_path /airflow plus /auth). Authlib,
//   which FAB's OAuth login imports, is not in the trixie root: the test unpacks Debian's python3-authlib
//   (apt-get download) into the node folder a claim of the api-server reads, as an image that ships Authlib would
//   have it. The stage has no identity provider: no login completes.
// The admin's password still gives REST API tokens (POST /airflow/auth/token falls back to FAB's database users),
// so the chain runs as on the default chart.
//
// In namespace ingress-sub-path (issue #25 item 3: the real node runs two files at once, whose charts must share
// nothing): the chart's PersistentVolumes ingress-sub-path-*-volume on /data/ingress-sub-path (AirflowChart's
// defaults for a namespace other than airflow), Authlib's ingress-sub-path-authlib-volume on
// /data/ingress-sub-path/authlib. The sub-path /airflow is the Ingress's, not the namespace's.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { getObject } from '../live/support/cluster';
import { AirflowGeneration } from '../../lib';
import { parseCfg } from '../support';
import { getPage, http } from './support/airflow-api';
import { RuntimeChain, Step } from './support/chain';
import { newKubelet } from './support/real-kubelet';
import { recordRuntime } from './support/results';
import { AUTHLIB_PYTHONPATH, MUTATION_ANNOTATION, MUTATION_LABEL, ingressAuthChart, outsideOwnNamespace } from './support/variants';

const NAMESPACE = 'ingress-sub-path';
const kubelet = newKubelet('ingress-sub-path');
const variant = ingressAuthChart(NAMESPACE);
const chain = new RuntimeChain(variant, kubelet);
const steps = chain.steps();
const names = Object.keys(steps);
const AVAILABLE = names.find((n) => n.includes('become available'))!;
// The per-task resources run adds nothing about paths nor the hook: the first task already goes through the
// execution API, and its pod already went through the hook.
const SKIPPED = names.filter((n) => n.startsWith('per_task_resources'));

const register = (step: Step) => test(step.name, chain.jest(step), step.timeoutMs + 60_000);

chain.hooks({ recordTimings: true });

// After the kubelet started on its fresh state directory (chain.hooks' beforeAll), before anything is applied.
beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'authlib-'));
  try {
    execFileSync('apt-get', ['download', '-q', 'python3-authlib'], { cwd: dir, stdio: 'pipe' });
    const deb = fs.readdirSync(dir).find((f) => f.endsWith('.deb'))!;
    const target = kubelet.hostPath(variant.authlibHostPath.slice(1));
    fs.mkdirSync(target, { recursive: true });
    execFileSync('dpkg-deb', ['-x', path.join(dir, deb), target]);
    console.log(`RUNTIME [ingress-sub-path]: Authlib for the api-server from ${deb}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

describe('runtime: the default chart behind an Ingress on /airflow, with airflowLocalSettings (pod_mutation_hook) and auth (OAuth login page)', () => {
  test('the chart says /airflow: [api] base_url, the probes and the execution API URL', () => {
    expect(chain.basePath()).toBe('/airflow');
    const ui = chain.deployment('api-server').spec.template.spec.containers[0];
    expect([ui.startupProbe.httpGet.path, ui.readinessProbe.httpGet.path, ui.livenessProbe.httpGet.path]).toEqual([
      '/airflow/execution/health',
      '/airflow/api/v2/monitor/health',
      '/airflow/api/v2/version',
    ]);
    const cfg: string = chain.configMap().data['airflow.cfg'];
    expect(cfg).toContain('base_url = https://airflow.local/airflow\n');
    // TLS at the Ingress: FAB takes the scheme from X-Forwarded-Proto, and nothing else from forwarded headers
    expect(parseCfg(cfg).fab).toMatchObject({ enable_proxy_fix: 'True', proxy_fix_x_proto: '1', proxy_fix_x_for: '0', proxy_fix_x_host: '0', proxy_fix_x_port: '0', proxy_fix_x_prefix: '0' });
    expect(cfg).toContain(`execution_api_server_url = http://airflow-api-server.${NAMESPACE}.svc.cluster.local:8080/airflow/execution/\n`);
  });

  test(`the chart shares nothing with another suite's: namespace ${NAMESPACE}, its volumes ${NAMESPACE}-*-volume on /data/${NAMESPACE} (Authlib's too)`, () => {
    expect(chain.ns).toBe(NAMESPACE);
    expect(chain.objectsOf('PersistentVolume').map((pv) => pv.metadata.name).sort()).toEqual(
      ['authlib', 'dags', 'data', 'logs', 'postgres', 'postgres-keys'].map((v) => `${NAMESPACE}-${v}-volume`).sort(),
    );
    expect(variant.authlibHostPath).toBe(`/data/${NAMESPACE}/authlib`);
    expect(outsideOwnNamespace(variant, NAMESPACE)).toEqual([]);
  });

  test('the chart: the local settings file in every Airflow pod, webserver_config.py in the api-server, [fab] config_file', () => {
    const cfg: string = chain.configMap().data['airflow.cfg'];
    expect(cfg).toContain('config_file = /opt/airflow/webserver_config.py\n');
    expect(cfg).toContain('auth_manager = airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager\n');
    const api = chain.deployment('api-server').spec.template.spec.containers[0];
    expect(api.volumeMounts.map((m: any) => m.mountPath)).toEqual(expect.arrayContaining(['/opt/airflow/webserver_config.py', '/opt/airflow/config/airflow_local_settings.py']));
    expect(api.env).toContainEqual({ name: 'PYTHONPATH', value: AUTHLIB_PYTHONPATH });
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
        '/airflow/execution/health',
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

  register({
    name: "pod_mutation_hook: the task pod the executor created carries the hook's label and annotation (from the API server)",
    components: ['scheduler'],
    blocking: false,
    timeoutMs: 30_000,
    run: async () => {
      const pod = chain.taskPodsOf('write_to_data_volume')[0];
      expect(pod).toBeDefined();
      expect(pod.metadata.labels[MUTATION_LABEL]).toBe('airflow-local-settings');
      expect(pod.metadata.annotations[MUTATION_ANNOTATION]).toBe('ran in airflow_local_settings');
      // The hook ran in the scheduler (the executor builds the pod there); the task pod mounts the file too.
      const mount = pod.spec.containers[0].volumeMounts.find((m: any) => m.name === 'airflow-local-settings');
      expect(mount).toEqual({ name: 'airflow-local-settings', mountPath: '/opt/airflow/config/airflow_local_settings.py', subPath: 'airflow_local_settings.py', readOnly: true });
      console.log(`RUNTIME [ingress-sub-path]: task pod ${pod.metadata.name}: labels[${MUTATION_LABEL}] = ${pod.metadata.labels[MUTATION_LABEL]}, annotations[${MUTATION_ANNOTATION}] = ${pod.metadata.annotations[MUTATION_ANNOTATION]}`);
    },
  });

  register({
    name: "the api-server's login page under /airflow offers the OAuth providers of webserver_config.py; GitHub's button goes to GitHub with a callback under /airflow",
    components: ['api-server'],
    blocking: false,
    timeoutMs: 60_000,
    run: async () => {
      const root = chain.serviceRoot();
      const page = await getPage(`${root}/airflow/auth/login/`);
      const html = page.text;
      expect(page.status).toBe(200);
      for (const provider of ['github', 'corp-sso']) {
        expect([provider, html.includes(`id="btn-signin-${provider}"`)]).toEqual([provider, true]);
      }
      expect(html).not.toContain('name="password"'); // not FAB's database login form
      const go = await getPage(`${root}/airflow/auth/login/github`);
      const location = new URL(go.headers.location ?? 'http://none/');
      expect([go.status, location.origin + location.pathname]).toEqual([302, 'https://github.com/login/oauth/authorize']);
      expect(location.searchParams.get('client_id')).toBe('Iv1.runtime0client');
      // FAB builds the callback with url_for(".oauth_authorized", _external=True): the request's Host and the
      // SCRIPT_NAME of the mounted FAB app (FastAPI's root_path, the path of [api] base_url, plus /auth).
      expect(location.searchParams.get('redirect_uri')).toBe(`${root}/airflow/auth/oauth-authorized/github`);
      console.log(`RUNTIME [ingress-sub-path]: GET /airflow/auth/login/ offers github and corp-sso; /airflow/auth/login/github -> ${go.status} ${location.origin}${location.pathname}?client_id=${location.searchParams.get('client_id')}&redirect_uri=${location.searchParams.get('redirect_uri')}`);
      // Through the Ingress the browser's Host is airflow.local (an Ingress controller forwards it): the callback is
      // then the one to register at GitHub, http://airflow.local/airflow/auth/oauth-authorized/github.
      const viaIngress = await getPage(`${root}/airflow/auth/login/github`, 30_000, { Host: 'airflow.local' });
      const ingressLocation = new URL(viaIngress.headers.location ?? 'http://none/');
      expect([viaIngress.status, ingressLocation.searchParams.get('redirect_uri')]).toEqual([302, 'http://airflow.local/airflow/auth/oauth-authorized/github']);
      console.log(`RUNTIME [ingress-sub-path]: with Host: airflow.local, redirect_uri=${ingressLocation.searchParams.get('redirect_uri')}`);
      // What the Ingress that terminates TLS (ingress.tlsSecretName) sends: X-Forwarded-Proto https. FAB's proxy fix
      // ([fab] enable_proxy_fix, proxy_fix_x_proto 1) takes the scheme from it: the callback is the https:// one the
      // provider holds. (Before the library set it, the callback stayed http:// and the provider refused the login.)
      const viaTls = await getPage(`${root}/airflow/auth/login/github`, 30_000, { 'Host': 'airflow.local', 'X-Forwarded-Proto': 'https' });
      const tlsRedirect = new URL(viaTls.headers.location ?? 'http://none/').searchParams.get('redirect_uri');
      console.log(`RUNTIME [ingress-sub-path]: with Host: airflow.local and X-Forwarded-Proto: https, ${viaTls.status} redirect_uri=${tlsRedirect}`);
      expect([viaTls.status, tlsRedirect]).toEqual([302, 'https://airflow.local/airflow/auth/oauth-authorized/github']);
      recordRuntime(['ingressSubPath', 'oauthCallback'], { service: location.searchParams.get('redirect_uri')?.replace(root, '<Service>'), hostAirflowLocal: ingressLocation.searchParams.get('redirect_uri'), forwardedProtoHttps: tlsRedirect });
      // The api-server's container read the client secrets from the Secret (the kubelet's record of what it ran).
      const pod = chain.podOf('api-server');
      const live = getObject('pod', pod.metadata.name, chain.ns);
      expect(live.spec.containers[0].env).toContainEqual({ name: 'AIRFLOW_AUTH_GITHUB_CLIENT_SECRET', valueFrom: { secretKeyRef: { name: 'oauth-client', key: 'github' } } });
    },
  });
});
