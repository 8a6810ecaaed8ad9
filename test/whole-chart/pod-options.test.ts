// Every pod shaped the way production clusters need (issue #13): chart-wide pod options reach every pod they
// should and no other, per-component options override them, the UI's Service and Ingress, and the runtime
// traps of the review fixed, each with the message a user sees.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Testing } from 'cdk8s';
import { parse } from 'yaml';
import { AirflowChart, AirflowChartProps, EnvValue, PodVolume, StorageProvisioning } from '../../lib';
import { validationReport } from '../../validation';
import { EVERYTHING } from '../support/everything';
import { defaultVolumesOf, errorOf, synthesizing, validationError } from '../support';
import { findSecretMaterial } from '../support/secret-scan';
import { cfgOf, expectSynthWarns, isAirflow2, synthAirflow } from '../support';

/** Every pod of the chart by a readable name, with its metadata and spec (the worker template's included). */
function pods(objects: any[]): Map<string, { metadata: any; spec: any }> {
  const out = new Map<string, { metadata: any; spec: any }>();
  for (const o of objects) {
    if (['Deployment', 'StatefulSet', 'Job'].includes(o.kind)) {
      out.set(`${o.kind}/${o.metadata.name.replace(/-[0-9a-f]{8}$/, '').replace(/-\d+-\d+-\d+$/, '')}`, o.spec.template);
    }
    if (o.kind === 'ConfigMap' && o.data?.['pod_template_file.yaml']) out.set('worker', parse(o.data['pod_template_file.yaml']));
  }
  return out;
}



/** The preferred pod anti-affinity a component with several replicas gets: its pods spread over nodes. */
const spreadTerm = (component: string) => ({
  preferredDuringSchedulingIgnoredDuringExecution: [
    {
      weight: 100,
      podAffinityTerm: {
        labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'airflow', 'app.kubernetes.io/component': component } },
        topologyKey: 'kubernetes.io/hostname',
      },
    },
  ],
});

describe('a chart with every pod option set', () => {
  const chart = new AirflowChart(Testing.app(), 'airflow', EVERYTHING);
  const objects = Testing.synth(chart);
  const all = pods(objects);
  const airflowPods = ['Deployment/airflow-scheduler', 'Deployment/airflow-api-server', 'Deployment/airflow-dag-processor', 'Deployment/airflow-triggerer', 'Job/airflow-db-migrate', 'Job/airflow-create-user', 'worker'];
  const otherPods = ['StatefulSet/airflow-postgres', 'Job/airflow-secrets-bootstrap', 'Job/airflow-volume-permissions'];

  test('the pods are the ones this test walks', () => {
    expect([...all.keys()].sort()).toEqual([...airflowPods, ...otherPods].sort());
  });

  test('placement, pull secrets and labels reach every pod; a component override wins, key by key for maps', () => {
    for (const [name, pod] of all) {
      const spec = pod.spec;
      expect([name, spec.imagePullSecrets]).toEqual([name, [{ name: 'regcred' }]]);
      expect([name, spec.priorityClassName]).toEqual([name, 'airflow-critical']);
      // A component with several replicas keeps the chart-wide affinity and spreads over nodes beside it.
      const component = /^Deployment\/airflow-(.*)$/.exec(name)?.[1];
      const spread = ['scheduler', 'api-server', 'triggerer'].includes(component ?? '');
      expect([name, spec.affinity]).toEqual([name, spread ? { ...EVERYTHING.affinity, podAntiAffinity: spreadTerm(component!) } : EVERYTHING.affinity]);
      expect([name, spec.topologySpreadConstraints]).toEqual([name, EVERYTHING.topologySpreadConstraints]);
      expect([name, spec.nodeSelector]).toEqual([name, { 'node-pool': name === 'Deployment/airflow-api-server' ? 'web' : 'airflow' }]);
      expect([name, spec.tolerations]).toEqual([name, name === 'worker' ? EVERYTHING.worker!.tolerations : EVERYTHING.tolerations]);
      expect([name, pod.metadata.labels.team]).toEqual([name, 'data']);
      expect([name, pod.metadata.annotations?.['example.com/owner']]).toEqual([name, 'data-team']);
    }
    // The library's own labels win over podLabels; selectors never change.
    expect(all.get('Deployment/airflow-scheduler')!.metadata.labels).toMatchObject({ role: 'scheduler', 'app.kubernetes.io/component': 'scheduler' });
    expect(all.get('Deployment/airflow-api-server')!.metadata.labels.role).toBeUndefined();
    const scheduler = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'airflow-scheduler');
    expect(scheduler.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'airflow', 'app.kubernetes.io/component': 'scheduler' });
  });

  test("env, envFrom and extra volumes reach every Airflow container and no other pod's", () => {
    for (const [name, pod] of all) {
      const airflowPod = airflowPods.includes(name);
      const volumes = (pod.spec.volumes ?? []).map((v: any) => v.name);
      expect([name, volumes.includes('team-certs')]).toEqual([name, airflowPod]);
      const containers = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].filter((c: any) => c.name !== 'wait-for-db');
      for (const c of containers) {
        const where = `${name} ${c.name}`;
        const env = c.env ?? [];
        // The scheduler's log groomer runs no Airflow: it gets the logs volume and nothing else (issue #14).
        const airflow = airflowPod && c.name !== 'log-groomer';
        expect([where, env.find((e: any) => e.name === 'TZ')]).toEqual([where, airflow ? { name: 'TZ', value: 'Europe/Paris' } : undefined]);
        expect([where, env.find((e: any) => e.name === 'TEAM_API_TOKEN')?.valueFrom]).toEqual([
          where,
          airflow ? { secretKeyRef: { name: 'team-api', key: 'token' } } : undefined,
        ]);
        expect([where, c.envFrom]).toEqual([where, airflow ? [{ configMapRef: { name: 'team-env' } }] : undefined]);
        expect([where, (c.volumeMounts ?? []).find((m: any) => m.name === 'team-certs')]).toEqual([
          where,
          airflow ? { name: 'team-certs', mountPath: '/opt/certs', readOnly: true } : undefined,
        ]);
      }
    }
  });

  test("the cloud identity annotates the Airflow pods' ServiceAccounts only", () => {
    const annotated = objects
      .filter((o) => o.kind === 'ServiceAccount' && o.metadata.annotations?.['eks.amazonaws.com/role-arn'])
      .map((o) => o.metadata.name)
      .sort();
    expect(annotated).toEqual(
      ['airflow-api-server', 'airflow-create-user', 'airflow-dag-processor', 'airflow-db-migrate', 'airflow-scheduler', 'airflow-triggerer', 'airflow-worker'],
    );
  });

  test('replicas, resources, PodDisruptionBudgets where there is more than one replica', () => {
    const deployment = (name: string) => objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name);
    expect(deployment('airflow-scheduler').spec.replicas).toBe(2);
    expect(deployment('airflow-api-server').spec.replicas).toBe(2);
    expect(deployment('airflow-triggerer').spec.replicas).toBe(2);
    expect(deployment('airflow-dag-processor').spec.replicas).toBe(1);
    expect(deployment('airflow-scheduler').spec.template.spec.containers[0].resources.limits.memory).toBe('2Gi');
    expect(deployment('airflow-scheduler').spec.template.spec.containers[0].resources.requests.memory).toBe('448Mi'); // default kept
    expect(deployment('airflow-dag-processor').spec.template.spec.containers[0].resources.requests.cpu).toBe('200m');
    expect(all.get('worker')!.spec.containers[0].resources.requests.memory).toBe('512Mi');
    expect(all.get('Job/airflow-db-migrate')!.spec.containers[0].resources.limits.memory).toBe('2Gi');
    const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
    expect(pdbs.map((p) => [p.apiVersion, p.metadata.name, p.spec.minAvailable]).sort()).toEqual([
      ['policy/v1', 'airflow-api-server', 1],
      ['policy/v1', 'airflow-scheduler', 1],
      ['policy/v1', 'airflow-triggerer', 1],
    ]);
    for (const pdb of pdbs) {
      expect(deployment(pdb.metadata.name).spec.template.metadata.labels).toMatchObject(pdb.spec.selector.matchLabels);
    }
  });

  test('the UI: a LoadBalancer Service, and an Ingress whose URL is [api] base_url; the execution API keeps the path', () => {
    const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'airflow-api-server');
    expect(service.spec.type).toBe('LoadBalancer');
    expect(service.metadata.annotations).toEqual({ 'service.beta.kubernetes.io/aws-load-balancer-internal': 'true' });
    const ingress = objects.find((o) => o.kind === 'Ingress');
    expect(ingress.apiVersion).toBe('networking.k8s.io/v1');
    expect(ingress.spec).toEqual({
      ingressClassName: 'nginx',
      tls: [{ hosts: ['airflow.example.com'], secretName: 'airflow-tls' }],
      rules: [
        {
          host: 'airflow.example.com',
          http: { paths: [{ path: '/airflow', pathType: 'Prefix', backend: { service: { name: 'airflow-api-server', port: { number: 8080 } } } }] },
        },
      ],
    });
    const cfg = cfgOf(objects);
    expect(cfg.api.base_url).toBe('https://airflow.example.com/airflow');
    expect(cfg.core.execution_api_server_url).toBe('http://airflow-api-server.airflow.svc.corp.local:8080/airflow/execution/');
    expect(chart.airflow.ingress!.url).toBe('https://airflow.example.com/airflow');
  });

  test('clusterDomain reaches the database host and the execution API URL', () => {
    const env = all.get('Deployment/airflow-scheduler')!.spec.containers[0].env;
    expect(env.find((e: any) => e.name === 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN').value).toContain('@airflow-postgres.airflow.svc.corp.local:5432/');
  });

  test('the validation plugin finds nothing wrong once the Secrets and ConfigMap made outside the app are declared', () => {
    expect(
      validationReport(chart, { existingSecrets: ['regcred', 'team-api', 'team-certs', 'airflow-tls'], existingConfigMaps: ['team-env'] }),
    ).toEqual([]);
    expect(findSecretMaterial(objects)).toEqual([]);
  });
});

describe('a volume from a claim that exists already', () => {
  const volumes = [{ name: 'dags', existingClaim: 'team-dags' }, { name: 'logs' }, { name: 'data' }];
  const chart = new AirflowChart(Testing.app(), 'airflow', { volumes });
  const objects = Testing.synth(chart);

  test('no claim or volume is made for it; every Airflow pod and the worker template mount that claim', () => {
    const made = objects.filter((o) => ['PersistentVolume', 'PersistentVolumeClaim'].includes(o.kind)).map((o) => o.metadata.name);
    expect(made.filter((n) => n.includes('dags'))).toEqual([]);
    for (const [name, pod] of pods(objects)) {
      if (['StatefulSet/airflow-postgres', 'Job/airflow-secrets-bootstrap'].includes(name)) continue;
      const dags = (pod.spec.volumes ?? []).find((v: any) => v.name === 'dags');
      const readsDags = name === 'worker pod template' || defaultVolumesOf(name).includes('dags');
      expect([name, dags?.persistentVolumeClaim?.claimName]).toEqual([name, readsDags && name !== 'Job/airflow-volume-permissions' ? 'team-dags' : undefined]);
    }
    expect(validationReport(chart, { existingClaims: ['team-dags'] })).toEqual([]);
  });

  test('size and access modes do not apply to it', () => {
    expect(synthesizing(() => new AirflowChart(Testing.app(), 'x', { volumes: [{ name: 'dags', existingClaim: 'team-dags', size: '10Gi' }] }))).toThrow(
      /^AirflowVolumes at "x\/volumes": property "volumes\[0\]\.size" received "10Gi"; allowed: nothing with existingClaim/,
    );
  });
});

describe('extraVolumes never mount a claim of the app\'s own storage (docs/validation.md, row 58)', () => {
  const build = (props: AirflowChartProps) => synthesizing(() => new AirflowChart(Testing.app(), 'airflow', props));
  const claim = (name: string, claimName: string) => PodVolume.existingClaim(name, { claimName, mountPath: `/mnt/${name}` });

  test('the database\'s data into task pods: refused at synth, naming the option, the claim and whose it is', () => {
    expect(build({ worker: { extraVolumes: [claim('pg', 'airflow-postgres-claim')] } })).toThrow(
      /\[airflow\/airflow\] KubernetesExecutorAirflow at "airflow\/airflow": property "worker\.extraVolumes\[0\]\.claimName" received "airflow-postgres-claim"; allowed: a claim the app's storage does not use: "airflow-postgres-claim" is the claim of PersistentStorage at "airflow\/metadata-db\/storage", which the library mounts where it belongs/,
    );
  });

  test('chart-wide, the database\'s keys and the DAGs: each reported once (not once per component), beside a claim of its own that passes', () => {
    const lines = errorOf(() => new AirflowChart(Testing.app(), 'airflow', { extraVolumes: [claim('keys', 'airflow-postgres-keys-claim'), claim('team', 'team-scratch'), claim('dags-rw', 'airflow-dags-claim')] }))
      .split('\n')
      .slice(1);
    expect(lines).toEqual([
      expect.stringMatching(/property "extraVolumes\[0\]\.claimName" received "airflow-postgres-keys-claim".*PersistentStorage at "airflow\/metadata-db\/keys-storage"/),
      expect.stringMatching(/property "extraVolumes\[2\]\.claimName" received "airflow-dags-claim".*PersistentStorage at "airflow\/volumes\/dags"/),
    ]);
  });

  test('an existing claim AirflowVolumes mounts as the DAGs is the app\'s too; a claim of its own is mounted', () => {
    const volumes = [{ name: 'dags', existingClaim: 'team-dags' }, { name: 'logs' }, { name: 'data' }];
    expect(build({ volumes, worker: { extraVolumes: [claim('dags-rw', 'team-dags')] } })).toThrow(
      /property "worker\.extraVolumes\[0\]\.claimName" received "team-dags"; allowed: a claim the app's storage does not use: "team-dags" is the claim of volume "dags" of AirflowVolumes at "airflow\/volumes"/,
    );
    const objects = Testing.synth(new AirflowChart(Testing.app(), 'airflow', { volumes, worker: { extraVolumes: [claim('team', 'team-scratch')] } }));
    const template = parse(objects.find((o) => o.kind === 'ConfigMap' && o.data?.['pod_template_file.yaml'])!.data['pod_template_file.yaml']);
    expect(template.spec.volumes).toContainEqual({ name: 'team', persistentVolumeClaim: { claimName: 'team-scratch' } });
  });
});

describe('pod options: what is refused, with the message a user sees', () => {
  const chart = (props: AirflowChartProps) => synthesizing(() => new AirflowChart(Testing.app(), 'airflow', props));

  test('a secret as a literal env value', () => {
    expect(chart({ env: { DB_PASSWORD: EnvValue.fromValue('hunter2') } })).toThrow(
      /^KubernetesExecutorAirflow at "airflow\/airflow": property "env\["DB_PASSWORD"\]" received "\(value not shown\)"; allowed: a reference for "DB_PASSWORD", whose name says it holds a secret: secrets never go into the YAML as literals\. Use EnvValue\.fromSecret/,
    );
  });

  test('a literal for an option Airflow marks sensitive, chart-wide or per component, with how to pass it', () => {
    expect(chart({ env: { AIRFLOW__CELERY__BROKER_URL: EnvValue.fromValue('redis://redis:6379/0') } })).toThrow(
      /^KubernetesExecutorAirflow at "airflow\/airflow": property "env\["AIRFLOW__CELERY__BROKER_URL"\]" received "\(value not shown\)"; allowed: a reference for "AIRFLOW__CELERY__BROKER_URL": it sets celery\.broker_url, which Airflow marks sensitive, and a literal puts the secret in the YAML\. Pass it as the variable AIRFLOW__CELERY__BROKER_URL read from a Secret: the pod options' env \{ AIRFLOW__CELERY__BROKER_URL: EnvValue\.fromSecret\(\{ name, key \}\) \} \(valueFrom\.secretKeyRef\)/,
    );
    expect(chart({ scheduler: { env: { AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__SENTINEL_KWARGS: EnvValue.fromValue('{"password": "x"}') } } })).toThrow(
      /property "scheduler\.env\["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__SENTINEL_KWARGS"\]" received "\(value not shown\)"; allowed: a reference for .*celery_broker_transport_options\.sentinel_kwargs, which Airflow marks sensitive/,
    );
    expect(chart({ worker: { env: { AIRFLOW__DATABASE__SQL_ALCHEMY_ENGINE_ARGS: EnvValue.fromValue('{}') } } })).toThrow(
      /property "worker\.env\["AIRFLOW__DATABASE__SQL_ALCHEMY_ENGINE_ARGS"\]" received "\(value not shown\)".*database\.sql_alchemy_engine_args, which Airflow marks sensitive/,
    );
  });

  test('a literal holding a URL with a password, whatever the variable is called; a $(VAR) password is fine', () => {
    const error = validationError(chart({ env: { TEAM_WAREHOUSE: EnvValue.fromValue('postgresql://etl:hunter2@warehouse/db') } }));
    expect(error.message).toMatch(
      /^KubernetesExecutorAirflow at "airflow\/airflow": property "env\["TEAM_WAREHOUSE"\]" received "\(value not shown\)"; allowed: a value without credentials: "TEAM_WAREHOUSE" holds a URL with a password \(scheme:\/\/user:password@host\), which would be in the YAML\. Read the whole value from a Secret with EnvValue\.fromSecret\(\{ name, key \}\) \(valueFrom\.secretKeyRef\)/,
    );
    expect(error.message).not.toContain('hunter2');
    expect(chart({ triggerer: { env: { UPSTREAM: EnvValue.fromValue('https://bot:t0ken@git.example.com/repo.git') } } })).toThrow(/property "triggerer\.env\["UPSTREAM"\]".*holds a URL with a password/);
    expect(chart({ env: { DB_PASS: EnvValue.fromSecret({ name: 'warehouse', key: 'password' }), TEAM_WAREHOUSE: EnvValue.fromValue('postgresql://etl:$(DB_PASS)@warehouse/db') } })).not.toThrow();
  });

  test('an Airflow setting as a literal env value, and a variable the library sets', () => {
    expect(chart({ env: { AIRFLOW__CORE__PARALLELISM: EnvValue.fromValue('64') } })).toThrow(
      /property "env\["AIRFLOW__CORE__PARALLELISM"\]" received "AIRFLOW__CORE__PARALLELISM"; allowed: no Airflow setting as a literal variable: it would bypass the checks of airflow\.cfg\. Put it in config/,
    );
    expect(chart({ worker: { env: { AIRFLOW_CONFIG: EnvValue.fromValue('/tmp/x.cfg') } } })).toThrow(
      /property "worker\.env\["AIRFLOW_CONFIG"\]" received "AIRFLOW_CONFIG"; allowed: a variable the library does not set itself/,
    );
  });

  test('bad names and shapes', () => {
    expect(chart({ imagePullSecrets: ['Reg Cred'] })).toThrow(/property "imagePullSecrets\[0\]" received "Reg Cred"; allowed: a DNS-1123 subdomain/);
    expect(chart({ podLabels: { team: 'data team' } })).toThrow(/property "podLabels\["team"\]" received "data team"; allowed: a label value/);
    expect(chart({ extraVolumes: [PodVolume.configMap('dags', { configMapName: 'x', mountPath: '/x' })] })).toThrow(
      /property "extraVolumes\[0\]\.name" received "dags"; allowed: a volume name the pod does not use already/,
    );
    expect(chart({ scheduler: { replicas: 0 } })).toThrow(/property "replicas" received 0; allowed: a whole number from 1 to 100/);
    expect(chart({ apiServer: { serviceType: 'External' } })).toThrow(/property "port\.serviceType" received "External"; allowed: one of "ClusterIP", "NodePort", "LoadBalancer"/);
    expect(chart({ ingress: { host: 'airflow.example.com', path: 'airflow/' } })).toThrow(/property "ingress\.path" received "airflow\/"/);
  });
});

describe('the runtime traps of the review', () => {
  const synth = (props: AirflowChartProps = {}) => synthAirflow(new AirflowChart(Testing.app(), 'airflow', props), isAirflow2(props));

  test("slim images lack the providers the deployment needs: refused, naming them", () => {
    expect(synthesizing(() => new AirflowChart(Testing.app(), 'airflow', { image: 'apache/airflow:slim-3.1.3' }))).toThrow(
      /^KubernetesExecutorAirflow at "airflow\/airflow": property "image" received "apache\/airflow:slim-3\.1\.3"; allowed: an image with the apache-airflow-providers-cncf-kubernetes \(the KubernetesExecutor\), -postgres \(the metadata database\) and -fab \(the UI login\) packages.* Use "apache\/airflow:3\.1\.3"/,
    );
    expect(synthesizing(() => new AirflowChart(Testing.app(), 'airflow', { image: 'apache/airflow:slim-2.11.0-python3.12' }))).toThrow(/Use "apache\/airflow:2\.11\.0-python3\.12"/);
  });

  test.each([
    [{ api: { base_url: 'https://host/airflow' } }, 'config.api.base_url', /set by the "ingress" prop, which also keeps the execution API URL under the same path/],
    [{ api: { port: 9090 } }, 'config.api.port', /the UI listens on 8080: its container port, probes, Service and the execution API URL are built for it/],
    [{ api: { host: '127.0.0.1' } }, 'config.api.host', /the UI must listen on every address/],
    [{ kubernetes_executor: { multi_namespace_mode: true } }, 'config.kubernetes_executor.multi_namespace_mode', /the scheduler's Role grants pods in the chart's namespace only/],
    [{ kubernetes_executor: { in_cluster: false } }, 'config.kubernetes_executor.in_cluster', /launches task pods with its own ServiceAccount token/],
    [{ kubernetes_executor: { config_file: '/kube/config' } }, 'config.kubernetes_executor.config_file', /launches task pods with its own ServiceAccount token/],
  ])('config %j is refused', (config, property, reason) => {
    expect(synthesizing(() => new AirflowChart(Testing.app(), 'airflow', { config: config as any }))).toThrow(
      new RegExp(`^AirflowConfiguration at "airflow/airflow/configuration": property "${property.replace(/\./g, '\\.')}" received .*; allowed: an option the deployment can follow; not`),
    );
    expect(synthesizing(() => new AirflowChart(Testing.app(), 'airflow', { config: config as any }))).toThrow(reason);
  });

  test('Airflow 2: the webserver port and base_url are refused the same way', () => {
    expect(synthesizing(() => new AirflowChart(Testing.app(), 'airflow', { image: 'apache/airflow:2.11.0', config: { webserver: { web_server_port: 9090 } } }))).toThrow(
      /property "config\.webserver\.web_server_port" received 9090; allowed: an option the deployment can follow/,
    );
    const cfg = cfgOf(synth({ image: 'apache/airflow:2.11.0', ingress: { host: 'airflow.example.com' } }));
    expect(cfg.webserver.base_url).toBe('http://airflow.example.com');
  });

  test('the default pool follows parallelism; a smaller one is reported at synth', () => {
    expect(cfgOf(synth({ parallelism: 16 })).core.default_pool_task_slot_count).toBe('16');
    const chart = new AirflowChart(Testing.app(), 'airflow', { parallelism: 32, defaultPoolSlots: 2 });
    expect(chart.airflow.warnings).toEqual([
      'KubernetesExecutorAirflow at "airflow/airflow": defaultPoolSlots (2) is smaller than parallelism (32): at most 2 tasks of default_pool run at once. Raise defaultPoolSlots, or give tasks pools of their own.',
    ]);
    expectSynthWarns(chart, chart.airflow.warnings[0]);
  });

  test('the secrets bootstrap Job runs the Airflow image in use (no second pull), or the one given', () => {
    const image = (objects: any[]) =>
      objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-secrets-bootstrap-')).spec.template.spec.containers[0].image;
    expect(image(synth({ image: 'apache/airflow:2.11.0' }))).toBe('apache/airflow:2.11.0');
    expect(image(synth({ image: 'my-airflow:latest', airflowVersion: '3.1.3', secretsBootstrapImage: 'python:3.12-slim' }))).toBe('python:3.12-slim');
  });

  test('every Airflow container skips the entrypoint database check: wait-for-db already waited', () => {
    for (const [name, pod] of pods(synth())) {
      if (name.includes('postgres') || name.includes('secrets-bootstrap') || name.includes('volume-permissions')) continue;
      // The log groomer runs bash as its command, past the entrypoint: there is no check to skip.
      for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers].filter((c: any) => !['wait-for-db', 'log-groomer'].includes(c.name))) {
        expect([name, c.name, (c.env ?? []).find((e: any) => e.name === 'CONNECTION_CHECK_MAX_COUNT')]).toEqual([
          name,
          c.name,
          { name: 'CONNECTION_CHECK_MAX_COUNT', value: '0' },
        ]);
      }
    }
  });

  test('no ANSI colours in kubectl logs; on minikube new DAG files show within 30 s; both may be changed', () => {
    const cfg = cfgOf(synth());
    expect(cfg.logging.colored_console_log).toBe('False');
    expect(cfg.dag_processor.refresh_interval).toBe('30');
    expect(cfgOf(synth({ image: 'apache/airflow:2.11.0' })).scheduler.dag_dir_list_interval).toBe('30');
    expect(cfgOf(synth({ provisioning: StorageProvisioning.storageClass('efs') })).dag_processor).toBeUndefined();
    const mine = cfgOf(synth({ config: { logging: { colored_console_log: true }, dag_processor: { refresh_interval: 120 } } }));
    expect([mine.logging.colored_console_log, mine.dag_processor.refresh_interval]).toEqual(['True', '120']);
  });
});

describe('the static hostPath folders are made writable for uid 50000 / gid 0', () => {
  const objects = Testing.synth(new AirflowChart(Testing.app(), 'airflow'));
  const job = objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-volume-permissions-'));
  const spec = job.spec.template.spec;
  const container = spec.containers[0];

  test('a Job mounting each static volume of Airflow, as root with only CHOWN and FOWNER, no token', () => {
    expect(spec.volumes.map((v: any) => v.persistentVolumeClaim.claimName)).toEqual(['airflow-dags-claim', 'airflow-logs-claim', 'airflow-data-claim']);
    expect(container.volumeMounts.map((m: any) => m.mountPath)).toEqual(['/volumes/dags', '/volumes/logs', '/volumes/data']);
    // Pairs: the folder in the container, and on the node (for the Job's log).
    expect(container.command.slice(3)).toEqual(['volume-permissions', '/volumes/dags', '/data/dags', '/volumes/logs', '/data/logs', '/volumes/data', '/data/data']);
    expect(container.securityContext).toMatchObject({ runAsUser: 0, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: ['CHOWN', 'FOWNER'] } });
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(container.image).toBe('apache/airflow:3.2.2');
  });

  test('none with a StorageClass, or when turned off', () => {
    const none = (props: AirflowChartProps) =>
      Testing.synth(new AirflowChart(Testing.app(), 'airflow', props)).filter((o) => o.metadata.name.startsWith('airflow-volume-permissions'));
    expect(none({ provisioning: StorageProvisioning.storageClass('efs') })).toEqual([]);
    expect(none({ fixVolumePermissions: false })).toEqual([]);
  });

  // The script itself, under the container's exact user and capabilities: root with only CHOWN and FOWNER.
  const root = process.getuid?.() === 0;
  (root ? test : test.skip)('its script gives a root:root 0755 folder to 50000:0, leaves an owned one alone, and Airflow can then write', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'volume-permissions-'));
    fs.chmodSync(dir, 0o755); // the node's /data: uid 50000 may pass through
    const fresh = path.join(dir, 'logs');
    const owned = path.join(dir, 'dags');
    fs.mkdirSync(fresh, { mode: 0o755 });
    fs.mkdirSync(owned, { mode: 0o755 });
    fs.chownSync(owned, 50000, 0);
    try {
      const [, flag, script] = container.command;
      const out = execFileSync(
        'setpriv',
        ['--reuid=0', '--regid=0', '--clear-groups', '--inh-caps=-all,+chown,+fowner', '--bounding-set=-all,+chown,+fowner', '--no-new-privs', 'bash', flag, script, 'volume-permissions', fresh, fresh, owned, owned],
        { encoding: 'utf8' },
      );
      expect(out).toContain(`${fresh}: was 0:0, now 50000:0 mode 0775`);
      expect(out).toContain(`${owned}: already 50000:0`);
      const st = fs.statSync(fresh);
      expect([st.uid, st.gid, (st.mode & 0o777).toString(8)]).toEqual([50000, 0, '775']);
      // Airflow's user, as the pods run it, writes a log file there.
      execFileSync('setpriv', ['--reuid=50000', '--regid=0', '--clear-groups', '--inh-caps=-all', 'sh', '-c', `echo log > ${fresh}/task.log`]);
      expect(fs.readFileSync(path.join(fresh, 'task.log'), 'utf8')).toBe('log\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
