// The real Airflow 3.1 with `airflowLocalSettings` and `auth` (issue #22, items 1 and 3): the whole chain of the
// default chart, then
// - the pod_mutation_hook of airflow_local_settings.py, mounted at $AIRFLOW_HOME/config, changed the task pod the
//   KubernetesExecutor created (its label and annotation, read from the API server);
// - the api-server started with the generated webserver_config.py (FAB, AUTH_OAUTH): its login page offers both
//   providers, and the GitHub button sends the browser to GitHub's authorize URL with the client id and the
//   callback. Authlib, which FAB's OAuth login imports, is not in the trixie root: the test unpacks Debian's
//   python3-authlib (apt-get download) into the node folder a claim of the api-server reads, as an image that
//   ships Authlib would have it. The stage has no identity provider: no login completes.
// The admin's password still gives REST API tokens (POST /auth/token falls back to FAB's database users), so the
// chain runs as on the default chart.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { getObject } from '../live/support/cluster';
import { getPage } from './support/airflow-api';
import { RuntimeChain, Step } from './support/chain';
import { newKubelet } from './support/real-kubelet';
import { AUTHLIB_HOST_PATH, AUTHLIB_PYTHONPATH, MUTATION_ANNOTATION, MUTATION_LABEL, authLocalSettingsChart } from './support/variants';

const kubelet = newKubelet('auth-local-settings');
const chain = new RuntimeChain(authLocalSettingsChart(), kubelet);
const steps = chain.steps();
const names = Object.keys(steps);
// The per-task resources run adds nothing here: the first task pod already went through the hook.
const SKIPPED = names.filter((n) => n.startsWith('per_task_resources'));

const register = (step: Step) => test(step.name, chain.jest(step), step.timeoutMs + 60_000);

chain.hooks({ recordTimings: false });

// After the kubelet started on its fresh state directory (chain.hooks' beforeAll), before anything is applied.
beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'authlib-'));
  try {
    execFileSync('apt-get', ['download', '-q', 'python3-authlib'], { cwd: dir, stdio: 'pipe' });
    const deb = fs.readdirSync(dir).find((f) => f.endsWith('.deb'))!;
    const target = kubelet.hostPath(AUTHLIB_HOST_PATH.slice(1));
    fs.mkdirSync(target, { recursive: true });
    execFileSync('dpkg-deb', ['-x', path.join(dir, deb), target]);
    console.log(`RUNTIME [auth-local-settings]: Authlib for the api-server from ${deb}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

describe('runtime: airflowLocalSettings (pod_mutation_hook) and auth (OAuth login page)', () => {
  test('the chart: the file in every Airflow pod, webserver_config.py in the api-server, [fab] config_file', () => {
    const cfg: string = chain.configMap().data['airflow.cfg'];
    expect(cfg).toContain('config_file = /opt/airflow/webserver_config.py\n');
    expect(cfg).toContain('auth_manager = airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager\n');
    const api = chain.deployment('api-server').spec.template.spec.containers[0];
    expect(api.volumeMounts.map((m: any) => m.mountPath)).toEqual(expect.arrayContaining(['/opt/airflow/webserver_config.py', '/opt/airflow/config/airflow_local_settings.py']));
    expect(api.env).toContainEqual({ name: 'PYTHONPATH', value: AUTHLIB_PYTHONPATH });
  });

  for (const name of names.filter((n) => !SKIPPED.includes(n))) register(steps[name]);

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
      console.log(`RUNTIME [auth-local-settings]: task pod ${pod.metadata.name}: labels[${MUTATION_LABEL}] = ${pod.metadata.labels[MUTATION_LABEL]}, annotations[${MUTATION_ANNOTATION}] = ${pod.metadata.annotations[MUTATION_ANNOTATION]}`);
    },
  });

  register({
    name: "the api-server's login page offers the OAuth providers of webserver_config.py; GitHub's button goes to GitHub",
    components: ['api-server'],
    blocking: false,
    timeoutMs: 60_000,
    run: async () => {
      const root = chain.serviceRoot();
      const page = await getPage(`${root}/auth/login/`);
      const html = page.text;
      expect(page.status).toBe(200);
      for (const provider of ['github', 'corp-sso']) {
        expect([provider, html.includes(`id="btn-signin-${provider}"`)]).toEqual([provider, true]);
      }
      expect(html).not.toContain('name="password"'); // not FAB's database login form
      const go = await getPage(`${root}/auth/login/github`);
      const location = new URL(go.headers.location ?? 'http://none/');
      expect([go.status, location.origin + location.pathname]).toEqual([302, 'https://github.com/login/oauth/authorize']);
      expect(location.searchParams.get('client_id')).toBe('Iv1.runtime0client');
      expect(location.searchParams.get('redirect_uri')).toBe(`${root}/auth/oauth-authorized/github`);
      console.log(`RUNTIME [auth-local-settings]: GET /auth/login/ offers github and corp-sso; /auth/login/github -> ${go.status} ${location.origin}${location.pathname}?client_id=${location.searchParams.get('client_id')}&redirect_uri=${location.searchParams.get('redirect_uri')}`);
      // The api-server's container read the client secrets from the Secret (the kubelet's record of what it ran).
      const pod = chain.podOf('api-server');
      const live = getObject('pod', pod.metadata.name, chain.ns);
      expect(live.spec.containers[0].env).toContainEqual({ name: 'AIRFLOW_AUTH_GITHUB_CLIENT_SECRET', valueFrom: { secretKeyRef: { name: 'oauth-client', key: 'github' } } });
    },
  });
});
