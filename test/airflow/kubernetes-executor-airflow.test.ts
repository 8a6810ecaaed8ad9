// KubernetesExecutorAirflow: the control plane of each Airflow generation, checked object by object on what
// matters (names, commands, probes, Services, init containers, resources, RBAC, env, mounts), a custom image,
// and the inputs. The YAML of the default deployment is dist/ (CI diffs it against a fresh synth); these
// variants are not in dist/, so the assertions below are what pins them.
import { Testing } from 'cdk8s';
import {
  AirflowSecrets,
  AirflowVolumes,
  COMPONENT_RESOURCES,
  DEFAULT_AIRFLOW_IMAGE,
  DeploymentStrategy,
  KubernetesExecutorAirflow,
  KubernetesExecutorAirflowProps,
  MetadataDb,
  POD_LAUNCHER_RULES,
} from '../../lib';
import {
  airflowChart,
  airflowError,
  airflowPodSpecs,
  cfgOf,
  defaultVolumesOf,
  containersOf,
  envOf,
  expectWarns,
  find,
  leaves,
  Manifest,
  parseCfg,
  testChart,
} from '../support';
import { parseYaml } from '../support/secret-scan';

/** The objects KubernetesExecutorAirflow adds (not the database's, the secrets' or the volumes'). */
function ownObjects(manifests: Manifest[]): Manifest[] {
  return manifests.filter((o) => {
    const component = o.metadata.labels?.['app.kubernetes.io/component'] ?? '';
    return (
      !['Namespace', 'PersistentVolume', 'PersistentVolumeClaim'].includes(o.kind) &&
      !['metadata-db', 'secrets-bootstrap', 'volume-permissions'].includes(component)
    );
  });
}

/** Every Airflow container (app and init containers of Deployments and Jobs), but the database wait. */
function airflowContainers(manifests: Manifest[]): Array<[string, any]> {
  const out: Array<[string, any]> = [];
  for (const [name, spec] of airflowPodSpecs(manifests)) {
    for (const c of containersOf(spec)) {
      // The log groomer runs no Airflow: it has no Airflow environment, configuration or DAGs by design.
      if (c.name !== 'wait-for-db' && c.name !== 'log-groomer') out.push([`${name}/${c.name}`, c]);
    }
  }
  return out;
}

const jobsCheck = (jobType: string) => [
  'sh',
  '-c',
  `AIRFLOW__LOGGING__LOGGING_LEVEL=ERROR exec airflow jobs check --job-type ${jobType} --local`,
];

/** What each generation's control plane must be; the same tests run over both. */
const GENERATIONS = [
  {
    label: 'Airflow 3 (the default)',
    props: {} as Partial<KubernetesExecutorAirflowProps>,
    version: '3.2.2',
    ui: 'api-server',
    health: '/api/v2/monitor/health',
    liveness: '/api/v2/version', // answers without the database: a database outage does not restart the UI
    startup: '/execution/health', // its first request initialises the execution API, before the pod is Ready
    components: ['api-server', 'dag-processor', 'scheduler', 'triggerer'],
    jobTypes: { scheduler: 'SchedulerJob', 'dag-processor': 'DagProcessorJob', triggerer: 'TriggererJob' } as Record<string, string>,
    keyEnv: ['AIRFLOW__API__SECRET_KEY', 'AIRFLOW__API_AUTH__JWT_SECRET'],
  },
  {
    label: 'Airflow 2 (2.11.0)',
    props: { image: 'apache/airflow:2.11.0-python3.11' } as Partial<KubernetesExecutorAirflowProps>,
    version: '2.11.0',
    ui: 'webserver',
    health: '/health',
    liveness: '/health',
    startup: '/health',
    components: ['scheduler', 'triggerer', 'webserver'],
    jobTypes: { scheduler: 'SchedulerJob', triggerer: 'TriggererJob' } as Record<string, string>,
    keyEnv: ['AIRFLOW__WEBSERVER__SECRET_KEY'],
  },
];

describe.each(GENERATIONS)('$label', (g) => {
  const { airflow, manifests } = airflowChart(g.props);
  const cfg = cfgOf(manifests);
  const deployment = (component: string) => find(manifests, 'Deployment', `airflow-${component}`);
  const container = (component: string) => deployment(component).spec.template.spec.containers[0];

  test('the version and the UI component come from the image tag', () => {
    expect(airflow.airflowVersion.toString()).toBe(g.version);
    expect(airflow.uiComponent).toBe(g.ui);
    expect(airflow.generation.uiComponent).toBe(g.ui);
  });

  test('its objects, by name', () => {
    const slug = g.version.replace(/\./g, '-');
    const names = ownObjects(manifests).map((o) => `${o.kind}/${o.metadata.name}`.replace(/-[0-9a-f]{8}$/, '-<hash>'));
    const accounts = [...g.components, 'create-user', 'db-migrate', 'worker'].sort();
    expect(names.sort()).toEqual(
      [
        'ConfigMap/airflow-config',
        ...g.components.map((c) => `Deployment/airflow-${c}`),
        `Service/airflow-${g.ui}`,
        ...accounts.map((c) => `ServiceAccount/airflow-${c}`),
        'Role/airflow-pod-launcher',
        'RoleBinding/airflow-pod-launcher',
        `Job/airflow-db-migrate-${slug}-<hash>`,
        'Job/airflow-create-user-<hash>',
      ].sort(),
    );
    // The volume-permissions Job's account is the control plane's too, though its objects are not Airflow pods.
    expect(Object.keys(airflow.serviceAccounts).sort()).toEqual([...accounts, 'volume-permissions'].sort());
    expect(Object.keys(airflow.deployments).sort()).toEqual(g.components);
  });

  test('each component runs its airflow command, one replica, with its resources; only the UI rolls', () => {
    for (const component of g.components) {
      const d = deployment(component);
      const c = container(component);
      expect([component, c.name, c.args]).toEqual([component, component, ['bash', '-c', `exec airflow ${component}`]]);
      // The UI rolls without a gap (a new pod before the old one goes); a second scheduler, dag-processor or
      // triggerer during a rollout would only compete for the node's CPU, so they are recreated.
      const strategy = component === g.ui ? { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } : { type: 'Recreate' };
      expect([component, d.spec.replicas, d.spec.strategy]).toEqual([component, 1, strategy]);
      const r = COMPONENT_RESOURCES[component];
      expect([component, c.resources]).toEqual([
        component,
        { requests: { cpu: r.cpuRequest, memory: r.memoryRequest }, limits: { cpu: r.cpuLimit, memory: r.memoryLimit } },
      ]);
      expect([component, d.spec.template.spec.serviceAccountName]).toEqual([component, `airflow-${component}`]);
    }
  });

  test('the UI is probed on its health path and served by its Service on port 8080', () => {
    const ui = container(g.ui);
    expect(ui.readinessProbe.httpGet).toEqual({ path: g.health, port: 'http' });
    expect(ui.startupProbe.httpGet).toEqual({ path: g.startup, port: 'http' });
    expect(ui.livenessProbe.httpGet).toEqual({ path: g.liveness, port: 'http' });
    expect(ui.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    const service = find(manifests, 'Service', `airflow-${g.ui}`);
    expect(service.spec.ports).toEqual([{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }]);
    expect(service.spec.selector).toEqual({ 'app.kubernetes.io/name': 'airflow', 'app.kubernetes.io/component': g.ui });
    expect(deployment(g.ui).spec.template.metadata.labels).toMatchObject(service.spec.selector);
    expect(airflow.uiService.name).toBe(`airflow-${g.ui}`);
  });

  test('behind an Ingress on a sub-path, the UI is probed under the path it is served at', () => {
    // Airflow 2's webserver answers 404 outside [webserver] base_url's path (DispatcherMiddleware); Airflow 3's
    // api-server answers both, and is probed where the Ingress, the REST API's users and the task pods reach it.
    const sub = airflowChart({ ...g.props, ingress: { host: 'airflow.local', path: '/airflow' } });
    const cfg = cfgOf(sub.manifests);
    const [section, key] = sub.airflow.generation.baseUrlKey.split('.');
    expect(cfg[section][key]).toBe('http://airflow.local/airflow');
    const ui = find(sub.manifests, 'Deployment', `airflow-${g.ui}`).spec.template.spec.containers[0];
    expect([ui.startupProbe.httpGet, ui.readinessProbe.httpGet, ui.livenessProbe.httpGet]).toEqual([
      { path: `/airflow${g.startup}`, port: 'http' },
      { path: `/airflow${g.health}`, port: 'http' },
      { path: `/airflow${g.liveness}`, port: 'http' },
    ]);
    expect(sub.airflow.generation.uiAnswersOutsideBasePath).toBe(g.version.startsWith('3'));
    // at the root ("/"), nothing changes
    const root = airflowChart({ ...g.props, ingress: { host: 'airflow.local' } });
    const rootUi = find(root.manifests, 'Deployment', `airflow-${g.ui}`).spec.template.spec.containers[0];
    expect([rootUi.readinessProbe.httpGet.path, rootUi.livenessProbe.httpGet.path]).toEqual([g.health, g.liveness]);
  });

  test('behind an Ingress that terminates TLS, the UI trusts its X-Forwarded-Proto, one proxy deep, and no other forwarded header', () => {
    // FAB builds the OAuth callback from the request (url_for(_external=True)); the Ingress controller sends http
    // with X-Forwarded-Proto https. Without the proxy fix the callback began with http:// (docs/auth.md).
    const section = g.version.startsWith('3') ? 'fab' : 'webserver';
    const tls = { host: 'airflow.example.com', path: '/airflow', tlsSecretName: 'airflow-tls' };
    const cfg = cfgOf(airflowChart({ ...g.props, ingress: tls }).manifests);
    expect(cfg[section]).toMatchObject({
      enable_proxy_fix: 'True',
      proxy_fix_x_proto: '1',
      proxy_fix_x_host: '0',
      proxy_fix_x_port: '0',
      proxy_fix_x_prefix: '0',
      proxy_fix_x_for: '0',
    });
    // Without TLS at the Ingress, or without an Ingress: Airflow's own default (no proxy fix), nothing written.
    for (const props of [{ ingress: { host: 'airflow.example.com', path: '/airflow' } }, {}]) {
      expect(Object.keys(cfgOf(airflowChart({ ...g.props, ...props }).manifests)[section] ?? {}).filter((k) => k.includes('proxy_fix'))).toEqual([]);
    }
    // A default the user may change: trusting X-Forwarded-For too, for the clients' addresses in the logs.
    const own = cfgOf(airflowChart({ ...g.props, ingress: tls, config: { [section]: { proxy_fix_x_for: 1 } } }).manifests);
    expect(own[section]).toMatchObject({ enable_proxy_fix: 'True', proxy_fix_x_proto: '1', proxy_fix_x_for: '1' });
  });

  test('several replicas: a rollout keeps one running, the pods spread over nodes beside the own affinity', () => {
    const nodeAffinity = { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['airflow'] }] }] } };
    const ownTerm = { weight: 10, podAffinityTerm: { labelSelector: { matchLabels: { team: 'data' } }, topologyKey: 'topology.kubernetes.io/zone' } };
    const affinity = { nodeAffinity, podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [ownTerm] } };
    const many = airflowChart({ ...g.props, affinity, scheduler: { replicas: 2 }, triggerer: { replicas: 3 }, apiServer: { replicas: 2 } });
    const spec = (component: string) => find(many.manifests, 'Deployment', `airflow-${component}`).spec;
    const spread = (component: string) => ({
      weight: 100,
      podAffinityTerm: { labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'airflow', 'app.kubernetes.io/component': component } }, topologyKey: 'kubernetes.io/hostname' },
    });
    for (const component of ['scheduler', 'triggerer']) {
      // one pod at a time, never one above replicas: the others keep scheduling / running triggers
      expect([component, spec(component).strategy]).toEqual([component, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } }]);
    }
    expect(spec(g.ui).strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    for (const component of ['scheduler', 'triggerer', g.ui]) {
      expect([component, spec(component).template.spec.affinity]).toEqual([
        component,
        { nodeAffinity, podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [ownTerm, spread(component)] } },
      ]);
      expect([component, find(many.manifests, 'PodDisruptionBudget', `airflow-${component}`).spec.minAvailable]).toEqual([component, 1]);
    }
    // the user's affinity object is not changed
    expect(affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).toEqual([ownTerm]);
    // a component left at one replica is exactly as before: Recreate, the own affinity only
    const single = g.components.find((c) => !['scheduler', 'triggerer', g.ui].includes(c));
    if (single) {
      expect(spec(single).strategy).toEqual({ type: 'Recreate' });
      expect(spec(single).template.spec.affinity).toEqual(affinity);
    }
  });

  test('the strategy is set per component, and recreate() stops several replicas at once only when asked for', () => {
    const set = airflowChart({
      ...g.props,
      scheduler: { replicas: 2, strategy: DeploymentStrategy.rollingUpdate({ maxSurge: '100%', maxUnavailable: '50%' }) },
      triggerer: { replicas: 2, strategy: DeploymentStrategy.recreate() },
      apiServer: { strategy: DeploymentStrategy.recreate() },
    });
    const strategy = (component: string) => find(set.manifests, 'Deployment', `airflow-${component}`).spec.strategy;
    expect(strategy('scheduler')).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: '100%', maxUnavailable: '50%' } });
    expect(strategy('triggerer')).toEqual({ type: 'Recreate' });
    expect(strategy(g.ui)).toEqual({ type: 'Recreate' });
    // Kubernetes' defaults (25%) for what is not given
    const defaults = airflowChart({ ...g.props, scheduler: { strategy: DeploymentStrategy.rollingUpdate() } });
    expect(find(defaults.manifests, 'Deployment', 'airflow-scheduler').spec.strategy).toEqual({ type: 'RollingUpdate' });
    expect(() => airflowChart({ ...g.props, scheduler: { replicas: 2, strategy: DeploymentStrategy.rollingUpdate({ maxUnavailable: 2 }) } })).toThrow(
      /AirflowComponent at "test\/airflow\/scheduler": property "scheduler\.strategy\.maxUnavailable" received 2; allowed: at most 1 \(of replicas: 2\).*DeploymentStrategy\.recreate\(\)\.$/,
    );
  });

  test('the other components are probed with airflow jobs check --local', () => {
    for (const [component, jobType] of Object.entries(g.jobTypes)) {
      expect([component, container(component).livenessProbe.exec.command]).toEqual([component, jobsCheck(jobType)]);
    }
  });

  test('every component waits for the database, then for the migrations', () => {
    for (const component of g.components) {
      const init = deployment(component).spec.template.spec.initContainers;
      expect([component, init.map((c: any) => c.name)]).toEqual([component, ['wait-for-db', 'wait-for-airflow-migrations']]);
      expect(init[1].args).toEqual(['bash', '-c', 'exec airflow db check-migrations --migration-wait-timeout=600']);
    }
  });

  test('every component reads the database connection, the fernet key and its generation\'s keys by reference', () => {
    for (const component of g.components) {
      const names = container(component).env.map((e: any) => e.name);
      expect([component, names]).toEqual([
        component,
        [
          'AIRFLOW_CONFIG',
          'AIRFLOW_DB_PASSWORD',
          'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN',
          'AIRFLOW__CORE__FERNET_KEY',
          ...g.keyEnv,
          'CONNECTION_CHECK_MAX_COUNT',
        ],
      ]);
    }
    expect(envOf(container('scheduler'), 'AIRFLOW__CORE__FERNET_KEY').valueFrom).toEqual({
      secretKeyRef: { name: 'airflow-secrets', key: 'fernet-key' },
    });
  });

  test('the scheduler ServiceAccount, and only it, has a token and is bound to the pod-launcher Role', () => {
    const role = find(manifests, 'Role', 'airflow-pod-launcher');
    expect(role.rules).toEqual(POD_LAUNCHER_RULES);
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['create', 'delete', 'get', 'list', 'patch', 'watch'] },
      { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
      { apiGroups: [''], resources: ['events'], verbs: ['list'] },
    ]);
    const binding = find(manifests, 'RoleBinding', 'airflow-pod-launcher');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'airflow-pod-launcher' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'airflow-scheduler', namespace: 'airflow' }]);
    expect(deployment('scheduler').spec.template.spec.automountServiceAccountToken).toBe(true);
    for (const [name, spec] of airflowPodSpecs(manifests)) {
      if (name === 'Deployment/airflow-scheduler') continue;
      expect([name, spec.automountServiceAccountToken]).toEqual([name, false]);
    }
    const accounts = manifests.filter((o) => o.kind === 'ServiceAccount' && o.metadata.labels['app.kubernetes.io/part-of'] === 'airflow');
    expect(accounts.filter((a) => a.automountServiceAccountToken !== false).map((a) => a.metadata.name)).toEqual(['airflow-scheduler']);
  });

  test('airflow.cfg: the executor, its namespace and image, batch size, pool and parallelism', () => {
    expect(cfg.core).toMatchObject({
      executor: 'KubernetesExecutor',
      dags_folder: '/opt/airflow/dags',
      load_examples: 'False',
      parallelism: '4',
      default_pool_task_slot_count: '4', // follows parallelism
    });
    expect(cfg.kubernetes_executor).toEqual({
      namespace: 'airflow',
      pod_template_file: '/opt/airflow/pod_templates/pod_template_file.yaml',
      worker_container_repository: 'apache/airflow',
      worker_container_tag: g.props.image ? g.props.image.split(':')[1] : g.version,
      delete_worker_pods: 'True',
      delete_worker_pods_on_failure: 'True',
      worker_pods_creation_batch_size: '4',
    });
    expect(cfg.logging.base_log_folder).toBe('/opt/airflow/logs');
  });
});

describe('Airflow 3 only', () => {
  const { airflow, manifests } = airflowChart();
  const cfg = cfgOf(manifests);

  test('pins the default image', () => {
    expect(airflow.image).toBe(DEFAULT_AIRFLOW_IMAGE);
    expect(DEFAULT_AIRFLOW_IMAGE).toBe('apache/airflow:3.2.2');
  });

  test('the execution API URL names the api-server Service, and the JWT secret is shared by every component', () => {
    expect(cfg.core.execution_api_server_url).toBe('http://airflow-api-server.airflow.svc.cluster.local:8080/execution/');
    for (const name of ['airflow-scheduler', 'airflow-api-server', 'airflow-dag-processor', 'airflow-triggerer']) {
      expect(envOf(find(manifests, 'Deployment', name).spec.template.spec.containers[0], 'AIRFLOW__API_AUTH__JWT_SECRET')).toEqual({
        name: 'AIRFLOW__API_AUTH__JWT_SECRET',
        valueFrom: { secretKeyRef: { name: 'airflow-secrets', key: 'jwt-secret' } },
      });
    }
  });

  test('uses the FAB auth manager, and migrates its tables', () => {
    expect(cfg.core.auth_manager).toBe('airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager');
    expect(cfg.database.external_db_managers).toBe('airflow.providers.fab.auth_manager.models.db.FABDBManager');
  });

  test('a standalone dag-processor cannot be turned off', () => {
    expect(airflowError({ standaloneDagProcessor: false }).message).toMatch(
      /property "standaloneDagProcessor" received false; allowed: true \(or unset\) on Airflow 3/,
    );
  });

  test('the triggerer can be turned off', () => {
    const { manifests: m } = airflowChart({ triggerer: { enabled: false } });
    expect(m.filter((o) => o.metadata.name === 'airflow-triggerer')).toEqual([]);
  });
});

describe('Airflow 2 only', () => {
  const { manifests } = airflowChart({ image: 'apache/airflow:2.11.0-python3.11' });
  const cfg = cfgOf(manifests);

  test('the scheduler parses DAGs itself by default', () => {
    expect(cfg.scheduler.standalone_dag_processor).toBe('False');
    expect(manifests.filter((o) => o.metadata.name === 'airflow-dag-processor')).toEqual([]);
  });

  test('uses [webserver] secret_key, no JWT secret, no execution API, no auth manager override', () => {
    expect(cfg.core.execution_api_server_url).toBeUndefined();
    expect(cfg.core.auth_manager).toBeUndefined();
    expect(cfg.webserver.workers).toBe('2');
  });

  test('a standalone dag-processor on request', () => {
    const { manifests: m } = airflowChart({ image: 'apache/airflow:2.11.0', standaloneDagProcessor: true, triggerer: { enabled: false } });
    expect(cfgOf(m).scheduler.standalone_dag_processor).toBe('True');
    const dp = find(m, 'Deployment', 'airflow-dag-processor').spec.template.spec.containers[0];
    expect(dp.livenessProbe.exec.command).toEqual(jobsCheck('DagProcessorJob'));
    expect(m.find((o) => o.kind === 'Deployment' && o.metadata.name === 'airflow-triggerer')).toBeUndefined();
  });

  test('2.7.0 is the oldest Airflow 2 accepted', () => {
    expect(airflowChart({ image: 'apache/airflow:2.7.0' }).airflow.airflowVersion.toString()).toBe('2.7.0');
    expect(airflowError({ image: 'apache/airflow:2.6.3' }).message).toMatch(
      /property "airflowVersion" received "2.6.3"; allowed: Airflow 3.x, or Airflow 2.x from 2.7.0/,
    );
  });
});

describe('a custom image (built inside minikube)', () => {
  const image = 'my-airflow:latest';
  const { airflow, manifests } = airflowChart({ image, airflowVersion: '2.11.0' });
  const cfg = cfgOf(manifests);

  test('every Airflow container, the task pods and the database wait run the image with IfNotPresent', () => {
    for (const [, spec] of airflowPodSpecs(manifests)) {
      for (const c of containersOf(spec)) {
        expect([c.name, c.image, c.imagePullPolicy]).toEqual([c.name, image, 'IfNotPresent']);
      }
    }
    const pod: any = airflow.workerPodTemplate;
    expect(pod.spec.containers[0].image).toBe(image);
    expect(cfg.kubernetes_executor.worker_container_repository).toBe('my-airflow');
    expect(cfg.kubernetes_executor.worker_container_tag).toBe('latest');
  });

  test('differs from apache/airflow:2.11.0 in the image alone: image fields, the task image, hashes and checksums', () => {
    // Field by field (airflow.cfg and the worker pod template parsed), every difference from the official
    // image of the same version must be one of these; anything else is a change the custom image caused.
    const official = ownObjects(airflowChart({ image: 'apache/airflow:2.11.0' }).manifests);
    const flat = (objects: Manifest[]) => {
      const out = new Map<string, unknown>();
      objects.forEach((o, i) => {
        const { data, ...rest } = o;
        const expanded = data
          ? { ...rest, data: { ...data, 'airflow.cfg': parseCfg(data['airflow.cfg']), 'pod_template_file.yaml': parseYaml(data['pod_template_file.yaml']) } }
          : o;
        for (const [p, v] of leaves(expanded, {}, `[${i}]`)) out.set(p, v);
      });
      return out;
    };
    const ours = flat(ownObjects(manifests));
    const theirs = flat(official);
    expect([...ours.keys()]).toEqual([...theirs.keys()]);
    const differences = [...ours.keys()].filter((p) => ours.get(p) !== theirs.get(p));
    const allowed = [
      /\.image$/, // every container
      /\.worker_container_(repository|tag)$/, // airflow.cfg: the task image
      /\.annotations\.checksum\/airflow-config$/, // airflow.cfg changed, so the pods roll
      /^\[\d+\]\.metadata\.name$/, // the Jobs' names hash their pod spec, which names the image
    ];
    expect(differences.filter((p) => !allowed.some((a) => a.test(p)))).toEqual([]);
    expect(differences.some((p) => p.endsWith('.image'))).toBe(true);
    const renamed = differences.filter((p) => p.endsWith('.metadata.name')).map((p) => ours.get(p));
    expect(renamed).toEqual([expect.stringMatching(/^airflow-db-migrate-2-11-0-/), expect.stringMatching(/^airflow-create-user-/)]);
  });

  test('needs airflowVersion, and says so', () => {
    expect(airflowError({ image: 'my-airflow:latest' }).message).toMatch(
      /KubernetesExecutorAirflow at "test\/airflow": property "airflowVersion" received undefined; allowed: the Airflow version inside the image.*"my-airflow:latest" does not name a version/,
    );
  });

  test('an airflowVersion that contradicts the tag is an error', () => {
    expect(airflowError({ image: 'apache/airflow:3.1.3', airflowVersion: '2.11.0' }).message).toMatch(
      /property "airflowVersion" received "2.11.0"; allowed: the version the image's tag names \(3.1.3\)/,
    );
  });

  test('a malformed airflowVersion is an error', () => {
    expect(airflowError({ image: 'my-airflow:dev', airflowVersion: '3.1' }).message).toMatch(
      /property "airflowVersion" received "3.1"; allowed: an Airflow release as major.minor.patch/,
    );
  });

  test('an image by digest runs the task pods by that digest: the pod template holds it, worker_container_* stay unset', () => {
    // The KubernetesExecutor (cncf.kubernetes kube_config.py) builds kube_image = repository:tag only when both
    // options are set, else None; PodGenerator.construct_pod gives the dynamic "base" container that image, and
    // reconcile_pods (merge_objects) keeps the template's image where the dynamic one is empty. So with both
    // unset the task pod runs the template's image, digest included.
    const digest = `registry.example.com/team/airflow@sha256:${'a'.repeat(64)}`;
    const { manifests } = airflowChart({ image: digest, airflowVersion: '3.1.3' });
    const cfg = cfgOf(manifests);
    const worker = workerOf(manifests);
    expect(cfg.kubernetes_executor.worker_container_repository).toBeUndefined();
    expect(cfg.kubernetes_executor.worker_container_tag).toBeUndefined();
    expect(worker.spec.containers.find((c: { name: string }) => c.name === 'base').image).toBe(digest);
    expect(find(manifests, 'Deployment', 'airflow-scheduler').spec.template.spec.containers[0].image).toBe(digest);
    // A tag and a digest: the digest is what runs, the tag is for people.
    const both = `apache/airflow:3.1.3@sha256:${'b'.repeat(64)}`;
    const tagged = airflowChart({ image: both, airflowVersion: '3.1.3' }).manifests;
    expect(cfgOf(tagged).kubernetes_executor.worker_container_repository).toBeUndefined();
    expect(workerOf(tagged).spec.containers[0].image).toBe(both);
    // By tag, as before.
    expect(cfgOf(airflowChart({}).manifests).kubernetes_executor).toMatchObject({ worker_container_repository: 'apache/airflow', worker_container_tag: '3.2.2' });
  });

  test('an image by digest needs airflowVersion: a digest names no version', () => {
    expect(airflowError({ image: `apache/airflow@sha256:${'a'.repeat(64)}` }).message).toMatch(
      /property "airflowVersion" received undefined; allowed: the Airflow version inside the image, .*: it is required because "apache\/airflow@sha256:a+" is pinned by digest, which names no version/,
    );
  });

  test('an image without a tag or digest is refused', () => {
    expect(airflowError({ image: 'registry.example.com/team/airflow', airflowVersion: '3.1.3' }).message).toMatch(
      /property "image" received "registry.example.com\/team\/airflow"; allowed: an image pinned by a tag or a digest.* Add the tag \(or the digest\) of the build you tested: "registry.example.com\/team\/airflow:<tag>"\.$/,
    );
  });

  test('the pull policy can be overridden, and is checked', () => {
    const { manifests: m } = expectWarns(() => airflowChart({ imagePullPolicy: 'Always' }), /imagePullPolicy "Always" makes every task pod ask the registry/);
    expect(find(m, 'Deployment', 'airflow-scheduler').spec.template.spec.containers[0].imagePullPolicy).toBe('Always');
    expect(airflowError({ imagePullPolicy: 'always' }).message).toMatch(/Did you mean "Always"\?/);
  });
});

function workerOf(manifests: Manifest[]): any {
  return parseYaml(find(manifests, 'ConfigMap', 'airflow-config').data['pod_template_file.yaml'])[0];
}

describe('every Airflow container', () => {
  for (const [label, props] of [
    ['Airflow 3', {}],
    ['Airflow 2', { image: 'apache/airflow:2.11.0', standaloneDagProcessor: true }],
  ] as const) {
    const { airflow, manifests } = airflowChart(props);
    const cfg = cfgOf(manifests);
    const containers = airflowContainers(manifests);
    containers.push(['worker/base', (airflow.workerPodTemplate as any).spec.containers[0]]);

    test(`${label}: mounts dags at dags_folder, and airflow.cfg where AIRFLOW_CONFIG says`, () => {
      expect(containers.length).toBeGreaterThan(8);
      for (const [name, c] of containers) {
        const mounts = c.volumeMounts ?? [];
        // dags only where DAG files are read, read-only everywhere
        const pod = name.split('/').slice(0, 2).join('/');
        const reads = pod === 'worker/base' || defaultVolumesOf(pod, label === 'Airflow 2' ? 2 : 3).includes('dags');
        const dags = mounts.find((m: any) => m.name === 'dags');
        expect([name, dags]).toEqual([name, reads ? { name: 'dags', mountPath: cfg.core.dags_folder, readOnly: true } : undefined]);
        const configEnv = c.env.find((e: any) => e.name === 'AIRFLOW_CONFIG')?.value;
        expect([name, configEnv]).toEqual([name, '/opt/airflow/airflow.cfg']);
        expect(mounts).toContainEqual({ name: 'airflow-config', mountPath: configEnv, subPath: 'airflow.cfg', readOnly: true });
      }
    });

    test(`${label}: env agrees across components: a variable is the same wherever it is set`, () => {
      const seen = new Map<string, string>();
      for (const [name, c] of containers) {
        for (const e of c.env) {
          if (['AIRFLOW_ADMIN_USERNAME', 'AIRFLOW_ADMIN_EMAIL', 'AIRFLOW_ADMIN_FIRSTNAME', 'AIRFLOW_ADMIN_LASTNAME', 'AIRFLOW_ADMIN_PASSWORD'].includes(e.name)) continue;
          const value = JSON.stringify(e);
          if (seen.has(e.name)) expect([name, value]).toEqual([name, seen.get(e.name)]);
          seen.set(e.name, value);
        }
      }
      // Every control-plane container has the same environment.
      const controlPlane = containers.filter(([n]) => !n.startsWith('worker/') && !n.endsWith('/create-user'));
      const first = JSON.stringify(controlPlane[0][1].env);
      for (const [name, c] of controlPlane) expect([name, JSON.stringify(c.env)]).toEqual([name, first]);
    });

    test(`${label}: no secret is in airflow.cfg or in a plain env value`, () => {
      for (const key of ['fernet_key', 'sql_alchemy_conn', 'secret_key', 'jwt_secret']) {
        expect(Object.values(cfg).flatMap((s) => Object.keys(s))).not.toContain(key);
      }
      for (const [name, c] of containers) {
        for (const e of c.env) {
          if (/SECRET|PASSWORD|FERNET/.test(e.name)) {
            expect([name, e.name, e.value]).toEqual([name, e.name, undefined]);
            expect(e.valueFrom.secretKeyRef.name).toBe('airflow-secrets');
          }
        }
      }
    });

    test(`${label}: pod templates carry the checksum of the configuration`, () => {
      const checksum = airflow.configuration.checksum;
      expect(checksum).toMatch(/^[0-9a-f]{64}$/);
      for (const d of manifests.filter((o) => o.kind === 'Deployment' && o.metadata.name !== 'airflow-postgres')) {
        expect(d.spec.template.metadata.annotations['checksum/airflow-config']).toBe(checksum);
      }
    });
  }
});

describe('inputs', () => {
  test('the volumes must include dags', () => {
    const chart = testChart();
    const volumes = new AirflowVolumes(chart, 'volumes', { volumes: [{ name: 'logs' }] });
    const secrets = new AirflowSecrets(chart, 'secrets');
    const database = new MetadataDb(chart, 'db');
    // A feature may still deliver the DAGs (git-sync in sidecar mode): the synth decides.
    new KubernetesExecutorAirflow(chart, 'airflow', { volumes, database, secrets });
    expect(() => Testing.synth(chart)).toThrow(/property "volumes" received \["logs"\]; allowed: volumes that include "dags"/);
  });

  test('a plugins volume is mounted everywhere too', () => {
    const chart = testChart();
    const volumes = new AirflowVolumes(chart, 'volumes');
    volumes.addVolume({ name: 'plugins' });
    const secrets = new AirflowSecrets(chart, 'secrets');
    const airflow = new KubernetesExecutorAirflow(chart, 'airflow', { volumes, database: new MetadataDb(chart, 'db'), secrets });
    const pod: any = airflow.workerPodTemplate;
    expect(pod.spec.containers[0].volumeMounts).toContainEqual({ name: 'plugins', mountPath: '/opt/airflow/plugins' });
  });

  test('secret references are checked', () => {
    const bad = { fernetKey: { name: 'Bad Name', key: 'k' }, apiSecretKey: { name: 's', key: 'k' }, jwtSecret: { name: 's', key: 'k' }, adminPassword: { name: 's', key: 'k' } };
    expect(airflowError({ secrets: bad }).message).toMatch(/property "secrets.fernetKey.name" received "Bad Name"/);
  });
});
