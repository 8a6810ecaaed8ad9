import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { Chart, Testing } from 'cdk8s';
import {
  AirflowSecrets,
  AirflowVersion,
  AirflowVolumes,
  DEFAULT_AIRFLOW_IMAGE,
  KubernetesExecutorAirflow,
  MetadataDb,
  POD_LAUNCHER_RULES,
} from '../lib';
import { renderAirflowCfg } from '../lib/airflow/airflow-configuration';
import { parseImageReference } from '../lib/core/airflow-generation';
import { airflowChart, airflowError, airflowPodSpecs, find, parseCfg } from './support/airflow';

/** The objects KubernetesExecutorAirflow adds (not the database's, the secrets' or the volumes'). */
function ownObjects(manifests: any[]): any[] {
  return manifests.filter((o) => {
    const component = o.metadata.labels?.['app.kubernetes.io/component'] ?? '';
    return (
      !['Namespace', 'PersistentVolume', 'PersistentVolumeClaim'].includes(o.kind) &&
      !['metadata-db', 'secrets-bootstrap', 'volume-permissions'].includes(component)
    );
  });
}

function cfgOf(manifests: any[]) {
  return parseCfg(find(manifests, 'ConfigMap', 'airflow-config').data['airflow.cfg']);
}

/** Every Airflow container (app and init containers of Deployments and Jobs, and the worker template's). */
function airflowContainers(manifests: any[]): Array<[string, any]> {
  const out: Array<[string, any]> = [];
  for (const [name, spec] of airflowPodSpecs(manifests)) {
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      if (c.name !== 'wait-for-db') out.push([`${name}/${c.name}`, c]);
    }
  }
  return out;
}

describe('Airflow 2 (2.11.0)', () => {
  const { airflow, manifests } = airflowChart({ image: 'apache/airflow:2.11.0-python3.11' });
  const cfg = cfgOf(manifests);

  test('snapshot', () => {
    expect(ownObjects(manifests)).toMatchSnapshot();
  });

  test('the version comes from the tag', () => {
    expect(airflow.airflowVersion.toString()).toBe('2.11.0');
    expect(airflow.uiComponent).toBe('webserver');
  });

  test('runs webserver, scheduler and triggerer; the scheduler parses DAGs itself by default', () => {
    const deployments = manifests.filter((o) => o.kind === 'Deployment' && o.metadata.name !== 'airflow-postgres');
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['airflow-scheduler', 'airflow-triggerer', 'airflow-webserver']);
    expect(cfg.scheduler.standalone_dag_processor).toBe('False');
    const webserver = find(manifests, 'Deployment', 'airflow-webserver').spec.template.spec.containers[0];
    expect(webserver.args).toEqual(['bash', '-c', 'exec airflow webserver']);
    expect(webserver.livenessProbe.httpGet.path).toBe('/health');
    expect(webserver.readinessProbe.httpGet.path).toBe('/health');
    expect(find(manifests, 'Service', 'airflow-webserver').spec.ports).toEqual([
      { name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' },
    ]);
  });

  test('uses [webserver] secret_key, no JWT secret, no execution API, no auth manager override', () => {
    const env = find(manifests, 'Deployment', 'airflow-webserver').spec.template.spec.containers[0].env.map((e: any) => e.name);
    expect(env).toContain('AIRFLOW__WEBSERVER__SECRET_KEY');
    expect(env).not.toContain('AIRFLOW__API__SECRET_KEY');
    expect(env).not.toContain('AIRFLOW__API_AUTH__JWT_SECRET');
    expect(cfg.core.execution_api_server_url).toBeUndefined();
    expect(cfg.core.auth_manager).toBeUndefined();
    expect(cfg.webserver.workers).toBe('2');
  });

  test('a standalone dag-processor on request', () => {
    const { manifests: m } = airflowChart({ image: 'apache/airflow:2.11.0', standaloneDagProcessor: true, triggerer: { enabled: false } });
    expect(cfgOf(m).scheduler.standalone_dag_processor).toBe('True');
    const dp = find(m, 'Deployment', 'airflow-dag-processor').spec.template.spec.containers[0];
    expect(dp.livenessProbe.exec.command[2]).toContain('airflow jobs check --job-type DagProcessorJob --local');
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
  const { airflow, manifests } = airflowChart({ image: 'my-airflow:latest', airflowVersion: '2.11.0' });
  const cfg = cfgOf(manifests);

  test('snapshot', () => {
    expect(ownObjects(manifests)).toMatchSnapshot();
  });

  test('every Airflow container, the task pods and the database wait run the image with IfNotPresent', () => {
    for (const [, spec] of airflowPodSpecs(manifests)) {
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        expect([c.name, c.image, c.imagePullPolicy]).toEqual([c.name, 'my-airflow:latest', 'IfNotPresent']);
      }
    }
    const pod: any = airflow.workerPodTemplate;
    expect(pod.spec.containers[0].image).toBe('my-airflow:latest');
    expect(cfg.kubernetes_executor.worker_container_repository).toBe('my-airflow');
    expect(cfg.kubernetes_executor.worker_container_tag).toBe('latest');
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

  test('an image by digest is rejected: the executor names the task image by repository and tag', () => {
    const digest = `apache/airflow@sha256:${'a'.repeat(64)}`;
    expect(airflowError({ image: digest, airflowVersion: '3.1.3' }).message).toMatch(
      /property "image" received ".*"; allowed: an image reference by tag/,
    );
  });

  test('the pull policy can be overridden, and is checked', () => {
    const { manifests: m } = airflowChart({ imagePullPolicy: 'Always' });
    expect(find(m, 'Deployment', 'airflow-scheduler').spec.template.spec.containers[0].imagePullPolicy).toBe('Always');
    expect(airflowError({ imagePullPolicy: 'always' }).message).toMatch(/Did you mean "Always"\?/);
  });
});

describe('Airflow 3 (default)', () => {
  const { airflow, manifests } = airflowChart();
  const cfg = cfgOf(manifests);

  test('pins the default image', () => {
    expect(airflow.image).toBe(DEFAULT_AIRFLOW_IMAGE);
    expect(DEFAULT_AIRFLOW_IMAGE).toBe('apache/airflow:3.1.3');
    expect(airflow.airflowVersion.major).toBe(3);
  });

  test('runs api-server, scheduler, dag-processor and triggerer', () => {
    const names = manifests.filter((o) => o.kind === 'Deployment').map((d) => d.metadata.name).sort();
    expect(names).toEqual(['airflow-api-server', 'airflow-dag-processor', 'airflow-scheduler', 'airflow-triggerer']);
    const commands = Object.fromEntries(
      manifests.filter((o) => o.kind === 'Deployment').map((d) => [d.metadata.name, d.spec.template.spec.containers[0].args[2]]),
    );
    expect(commands).toEqual({
      'airflow-api-server': 'exec airflow api-server',
      'airflow-dag-processor': 'exec airflow dag-processor',
      'airflow-scheduler': 'exec airflow scheduler',
      'airflow-triggerer': 'exec airflow triggerer',
    });
  });

  test('the api-server: ready on /api/v2/monitor/health, alive on /api/v2/version (no database), Service port 8080', () => {
    const api = find(manifests, 'Deployment', 'airflow-api-server').spec.template.spec.containers[0];
    for (const probe of [api.startupProbe, api.readinessProbe]) {
      expect(probe.httpGet).toEqual({ path: '/api/v2/monitor/health', port: 'http' });
    }
    expect(api.livenessProbe.httpGet).toEqual({ path: '/api/v2/version', port: 'http' });
    expect(api.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    const service = find(manifests, 'Service', 'airflow-api-server');
    expect(service.spec.selector).toEqual({ 'app.kubernetes.io/name': 'airflow', 'app.kubernetes.io/component': 'api-server' });
    expect(find(manifests, 'Deployment', 'airflow-api-server').spec.template.metadata.labels).toMatchObject(service.spec.selector);
  });

  test('scheduler, dag-processor and triggerer are probed with airflow jobs check --local', () => {
    const check = (name: string) =>
      find(manifests, 'Deployment', name).spec.template.spec.containers[0].livenessProbe.exec.command;
    expect(check('airflow-scheduler')).toEqual([
      'sh',
      '-c',
      'AIRFLOW__LOGGING__LOGGING_LEVEL=ERROR exec airflow jobs check --job-type SchedulerJob --local',
    ]);
    expect(check('airflow-dag-processor')[2]).toMatch(/--job-type DagProcessorJob --local$/);
    expect(check('airflow-triggerer')[2]).toMatch(/--job-type TriggererJob --local$/);
  });

  test('every long-running component waits for the database, then for the migrations', () => {
    for (const d of manifests.filter((o) => o.kind === 'Deployment' && o.metadata.name !== 'airflow-postgres')) {
      const init = d.spec.template.spec.initContainers;
      expect([d.metadata.name, init.map((c: any) => c.name)]).toEqual([d.metadata.name, ['wait-for-db', 'wait-for-airflow-migrations']]);
      expect(init[1].args).toEqual(['bash', '-c', 'exec airflow db check-migrations --migration-wait-timeout=600']);
    }
  });

  test('the execution API URL names the api-server Service, and the JWT secret is shared by every component', () => {
    expect(cfg.core.execution_api_server_url).toBe('http://airflow-api-server.airflow.svc.cluster.local:8080/execution/');
    const jwt = (name: string) =>
      find(manifests, 'Deployment', name).spec.template.spec.containers[0].env.find(
        (e: any) => e.name === 'AIRFLOW__API_AUTH__JWT_SECRET',
      );
    for (const name of ['airflow-scheduler', 'airflow-api-server', 'airflow-dag-processor', 'airflow-triggerer']) {
      expect(jwt(name)).toEqual({ name: 'AIRFLOW__API_AUTH__JWT_SECRET', valueFrom: { secretKeyRef: { name: 'airflow-secrets', key: 'jwt-secret' } } });
    }
  });

  test('uses the FAB auth manager, and migrates its tables', () => {
    expect(cfg.core.auth_manager).toBe('airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager');
    expect(cfg.database.external_db_managers).toBe('airflow.providers.fab.auth_manager.models.db.FABDBManager');
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
      worker_container_tag: '3.1.3',
      delete_worker_pods: 'True',
      delete_worker_pods_on_failure: 'True',
      worker_pods_creation_batch_size: '4',
    });
    expect(cfg.logging.base_log_folder).toBe('/opt/airflow/logs');
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
    const scheduler = find(manifests, 'Deployment', 'airflow-scheduler').spec.template.spec;
    expect(scheduler.serviceAccountName).toBe('airflow-scheduler');
    expect(scheduler.automountServiceAccountToken).toBe(true);
    for (const [name, spec] of airflowPodSpecs(manifests)) {
      if (name === 'Deployment/airflow-scheduler') continue;
      expect([name, spec.automountServiceAccountToken]).toEqual([name, false]);
    }
    const accounts = manifests.filter((o) => o.kind === 'ServiceAccount' && o.metadata.labels['app.kubernetes.io/part-of'] === 'airflow');
    expect(accounts.filter((a) => a.automountServiceAccountToken !== false).map((a) => a.metadata.name)).toEqual(['airflow-scheduler']);
    expect(Object.keys(airflow.serviceAccounts).sort()).toEqual(
      ['api-server', 'create-user', 'dag-processor', 'db-migrate', 'scheduler', 'triggerer', 'volume-permissions', 'worker'],
    );
  });

  test('a standalone dag-processor cannot be turned off on Airflow 3', () => {
    expect(airflowError({ standaloneDagProcessor: false }).message).toMatch(
      /property "standaloneDagProcessor" received false; allowed: true \(or unset\) on Airflow 3/,
    );
  });

  test('the triggerer can be turned off', () => {
    const { manifests: m } = airflowChart({ triggerer: { enabled: false } });
    expect(m.filter((o) => o.metadata.name === 'airflow-triggerer')).toEqual([]);
  });
});

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
        expect([name, mounts.find((m: any) => m.name === 'dags')?.mountPath]).toEqual([name, cfg.core.dags_folder]);
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

describe('configuration', () => {
  test('the user settings are added to airflow.cfg, checked and sorted', () => {
    const { manifests } = airflowChart({ config: { webserver: {}, core: { default_task_retries: 2 }, api: { expose_config: true } } });
    const text = find(manifests, 'ConfigMap', 'airflow-config').data['airflow.cfg'];
    expect(parseCfg(text).core.default_task_retries).toBe('2');
    expect(parseCfg(text).api.expose_config).toBe('True');
    const sections = text.split('\n').filter((l: string) => l.startsWith('[')).map((l: string) => l.slice(1, -1));
    expect(sections).toEqual([...sections].sort());
    expect(sections).not.toContain('webserver');
  });

  test('a config change changes the checksum on the pods, so they roll', () => {
    const a = airflowChart().airflow.configuration.checksum;
    const b = airflowChart({ config: { core: { default_task_retries: 1 } } }).airflow.configuration.checksum;
    expect(a).not.toBe(b);
    expect(airflowChart().airflow.configuration.checksum).toBe(a);
  });

  test('an unknown key is rejected by the configuration check', () => {
    expect(airflowError({ config: { core: { paralellism: 8 } } }).message).toMatch(/"config.core" received "paralellism"/);
  });

  test('an option the library sets is rejected, with the prop to use instead', () => {
    expect(airflowError({ config: { core: { parallelism: 8 } } }).message).toMatch(
      /property "config.core.parallelism" received 8; allowed: an option the library does not set itself; it sets core.parallelism = 4. Use the "parallelism" prop instead./,
    );
    expect(airflowError({ config: { core: { executor: 'LocalExecutor' } } }).message).toMatch(
      /"config.core.executor" received "LocalExecutor"; allowed: an option the library does not set itself; it sets core.executor = KubernetesExecutor. Use the "celery" prop instead./,
    );
    expect(airflowError({ config: { core: { dags_folder: '/dags' } } }).message).toMatch(/"config.core.dags_folder".*cannot be changed here/);
  });

  test('a secret in the config is rejected without echoing it', () => {
    const error = airflowError({ config: { core: { fernet_key: 'c2VjcmV0' } } });
    expect(error.message).toMatch(/property "config.core.fernet_key" received "\(value not shown\)"; allowed: an option that is not a secret/);
    expect(error.message).not.toContain('c2VjcmV0');
  });

  test('values on more than one line are rejected', () => {
    expect(airflowError({ config: { core: { default_timezone: 'utc\n[core]\nexecutor = x' } } }).message).toMatch(
      /property "config.core.default_timezone".*a string on one line/,
    );
  });

  test('renderAirflowCfg doubles % (Airflow interpolates the file) and writes booleans as Airflow does', () => {
    expect(renderAirflowCfg({ logging: { simple_log_format: '%(message)s', colored_console_log: false } })).toBe(
      '# Rendered by airflow-cdk8s. Secrets are not in this file: they come from Secrets as AIRFLOW__* env vars.\n' +
        '\n[logging]\ncolored_console_log = False\nsimple_log_format = %%(message)s\n',
    );
  });

  test('parallelism, pool size and batch size come from props', () => {
    const cfg = cfgOf(airflowChart({ parallelism: 16, defaultPoolSlots: 8, workerPodsCreationBatchSize: 5 }).manifests);
    expect([cfg.core.parallelism, cfg.core.default_pool_task_slot_count, cfg.kubernetes_executor.worker_pods_creation_batch_size]).toEqual([
      '16',
      '8',
      '5',
    ]);
    expect(cfgOf(airflowChart({ parallelism: 16 }).manifests).kubernetes_executor.worker_pods_creation_batch_size).toBe('16');
    expect(airflowError({ defaultPoolSlots: 0 }).message).toMatch(/property "defaultPoolSlots" received 0; allowed: a whole number from 1/);
  });
});

describe('database migrations Job', () => {
  const job = (manifests: any[]) => manifests.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-db-migrate-'));

  test('is named from the Airflow version and a hash of its pod spec, runs airflow db migrate, no TTL', () => {
    const { manifests } = airflowChart();
    const j = job(manifests);
    expect(j.metadata.name).toMatch(/^airflow-db-migrate-3-1-3-[0-9a-f]{8}$/);
    expect(j.spec.ttlSecondsAfterFinished).toBeUndefined();
    expect(j.metadata.annotations?.['helm.sh/hook']).toBeUndefined();
    const spec = j.spec.template.spec;
    expect(spec.containers[0].args).toEqual(['bash', '-c', 'exec airflow db migrate']);
    expect(spec.initContainers.map((c: any) => c.name)).toEqual(['wait-for-db']);
    expect(spec.serviceAccountName).toBe('airflow-db-migrate');
  });

  test('the same inputs give the same name: applying the YAML again changes nothing', () => {
    expect(job(airflowChart().manifests).metadata.name).toBe(job(airflowChart().manifests).metadata.name);
  });

  test('a new Airflow version is a new Job', () => {
    const v3 = job(airflowChart().manifests).metadata.name;
    const v2 = job(airflowChart({ image: 'apache/airflow:2.11.0' }).manifests).metadata.name;
    const v310 = job(airflowChart({ image: 'apache/airflow:3.1.0' }).manifests).metadata.name;
    expect(v2).toMatch(/^airflow-db-migrate-2-11-0-[0-9a-f]{8}$/);
    expect(v310).toMatch(/^airflow-db-migrate-3-1-0-[0-9a-f]{8}$/);
    expect(new Set([v3, v2, v310]).size).toBe(3);
  });

  test('a new image with the same version (a rebuilt custom image tag) is a new Job too', () => {
    const a = job(airflowChart({ image: 'my-airflow:v1', airflowVersion: '3.1.3' }).manifests).metadata.name;
    const b = job(airflowChart({ image: 'my-airflow:v2', airflowVersion: '3.1.3' }).manifests).metadata.name;
    expect(a.slice(0, -9)).toBe(b.slice(0, -9));
    expect(a).not.toBe(b);
  });

  test('a user config change does not re-run migrations', () => {
    const a = job(airflowChart().manifests).metadata.name;
    const b = job(airflowChart({ config: { core: { default_task_retries: 3 } } }).manifests).metadata.name;
    expect(a).toBe(b);
  });
});

describe('admin user', () => {
  test('a Job creates it with FAB, the password read from the Secret, after the migrations', () => {
    const { manifests, airflow } = airflowChart();
    const job = manifests.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-create-user-'));
    expect(job.metadata.name).toBe(airflow.adminUser!.jobName);
    const spec = job.spec.template.spec;
    expect(spec.initContainers.map((c: any) => c.name)).toEqual(['wait-for-db', 'wait-for-airflow-migrations']);
    const c = spec.containers[0];
    expect(c.args[2]).toMatch(/^exec airflow users create --role Admin --username "\$AIRFLOW_ADMIN_USERNAME" .*--password "\$AIRFLOW_ADMIN_PASSWORD"$/);
    expect(c.args[2]).not.toContain('$(');
    expect(c.env).toContainEqual({ name: 'AIRFLOW_ADMIN_USERNAME', value: 'admin' });
    expect(c.env).toContainEqual({
      name: 'AIRFLOW_ADMIN_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'airflow-secrets', key: 'admin-password' } },
    });
  });

  test('can be left out, and its fields are checked', () => {
    const { manifests, airflow } = airflowChart({ createAdminUser: false });
    expect(airflow.adminUser).toBeUndefined();
    expect(manifests.filter((o) => o.metadata.name.startsWith('airflow-create-user'))).toEqual([]);
    expect(airflowError({ adminEmail: 'nope' }).message).toMatch(/AdminUser at "test\/airflow\/admin-user": property "email" received "nope"/);
  });
});

describe('inputs', () => {
  test('the volumes must include dags', () => {
    const chart = new Chart(Testing.app(), 'test', { namespace: 'airflow' });
    const volumes = new AirflowVolumes(chart, 'volumes', { volumes: [{ name: 'logs' }] });
    const secrets = new AirflowSecrets(chart, 'secrets');
    const database = new MetadataDb(chart, 'db');
    expect(() => new KubernetesExecutorAirflow(chart, 'airflow', { volumes, database, secrets })).toThrow(
      /property "volumes" received \["logs"\]; allowed: volumes that include "dags"/,
    );
  });

  test('a plugins volume is mounted everywhere too', () => {
    const chart = new Chart(Testing.app(), 'test', { namespace: 'airflow' });
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

describe('AirflowVersion', () => {
  test.each([
    ['apache/airflow:3.1.3', '3.1.3'],
    ['apache/airflow:3.1.3-python3.12', '3.1.3'],
    ['apache/airflow:slim-2.11.0-python3.11', '2.11.0'],
    ['localhost:5000/team/airflow:2.10.5', '2.10.5'],
    ['my-airflow:latest', undefined],
    ['my-airflow', undefined],
    [`apache/airflow@sha256:${'b'.repeat(64)}`, undefined],
  ])('%s -> %s', (image, version) => {
    expect(AirflowVersion.fromImage(image)?.toString()).toBe(version);
  });

  test('of() rejects what is not major.minor.patch', () => {
    expect(() => AirflowVersion.of('3')).toThrow(/property "version" received "3"/);
    expect(AirflowVersion.of('2.11.0').slug).toBe('2-11-0');
    expect(AirflowVersion.of('3.0.0').isAtLeast(AirflowVersion.of('2.11.9'))).toBe(true);
  });

  test('parseImageReference splits registry ports from tags', () => {
    expect(parseImageReference('localhost:5000/airflow:3.1.3')).toEqual({ repository: 'localhost:5000/airflow', tag: '3.1.3', digest: undefined });
    expect(parseImageReference('localhost:5000/airflow')).toEqual({ repository: 'localhost:5000/airflow', tag: undefined, digest: undefined });
  });
});

describe('the DAGs in dags/', () => {
  const dir = path.join(__dirname, '..', 'dags');

  test('compile with Python', () => {
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.py')).map((f) => path.join(dir, f));
    expect(files.length).toBe(3);
    const code = 'import ast,sys\nfor f in sys.argv[1:]: ast.parse(open(f).read(), f)';
    expect(() => execFileSync('python3', ['-c', code, ...files], { stdio: 'pipe' })).not.toThrow();
  });

  test('the example writes into the data volume and the resources example overrides the container named base', () => {
    const write = fs.readFileSync(path.join(dir, 'write_to_data_volume.py'), 'utf8');
    const { airflow } = airflowChart();
    const pod: any = airflow.workerPodTemplate;
    const dataMount = pod.spec.containers[0].volumeMounts.find((m: any) => m.name === 'data').mountPath;
    expect(write).toContain(`DATA_DIR = "${dataMount}"`);
    const resourcesDag = fs.readFileSync(path.join(dir, 'per_task_resources.py'), 'utf8');
    expect(resourcesDag).toContain('executor_config={"pod_override": HEAVIER_POD}');
    expect(resourcesDag).toContain(`name="${pod.spec.containers[0].name}"`);
  });
});
