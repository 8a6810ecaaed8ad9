// The task pod's start path (issue #17, docs/task-start.md): nothing in the worker pod template delays a task
// beyond pulling the image and starting Python, whatever the pod options, and the scheduler settings that decide
// how fast pods are created are the ones documented.
import * as fs from 'fs';
import * as path from 'path';
import { Testing } from 'cdk8s';
import { parse } from 'yaml';
import { AirflowChart, AirflowChartProps, EnvFrom, EnvValue, GitSyncMode, PodVolume, StorageProvisioning } from '../../lib';
import { expectSynthWarns, isAirflow2, parseCfg, synthAirflow } from '../support';

function synth(props: AirflowChartProps = {}): any[] {
  return synthAirflow(new AirflowChart(Testing.app(), 'airflow', props), isAirflow2(props));
}
const configMapOf = (objects: any[]) => objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'airflow-config');
const taskPodOf = (objects: any[]) => parse(configMapOf(objects).data['pod_template_file.yaml']);
const cfgOf = (objects: any[]) => parseCfg(configMapOf(objects).data['airflow.cfg']);

/** Every pod option at once, on the chart and for the worker: none of them may add to the start path. */
const EVERY_POD_OPTION: AirflowChartProps = {
  provisioning: StorageProvisioning.storageClass('efs-sc'),
  imagePullSecrets: ['regcred'],
  nodeSelector: { 'node-pool': 'airflow' },
  tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }],
  priorityClassName: 'airflow-critical',
  podLabels: { team: 'data' },
  podAnnotations: { 'sidecar.istio.io/inject': 'false' },
  env: { TZ: EnvValue.fromValue('Europe/Paris') },
  envFrom: [EnvFrom.configMap('team-env')],
  extraVolumes: [PodVolume.secret('team-certs', { secretName: 'team-certs', mountPath: '/opt/certs' })],
  worker: { resources: { memoryRequest: '512Mi' }, nodeSelector: { 'node-pool': 'tasks' } },
};

const VARIANTS: Array<[string, AirflowChartProps]> = [
  ['the default chart', {}],
  ['Airflow 2', { image: 'apache/airflow:2.11.0' }],
  ['a custom image', { image: 'my-airflow:latest', airflowVersion: '3.1.3' }],
  ['every pod option, on a real cluster', EVERY_POD_OPTION],
];

describe.each(VARIANTS)('the task pod of %s', (_label, props) => {
  const objects = synth(props);
  const pod = taskPodOf(objects);
  const base = pod.spec.containers[0];

  test('no init container, no sidecar: one container, base', () => {
    expect(pod.spec.initContainers).toBeUndefined();
    expect(pod.spec.containers.map((c: any) => c.name)).toEqual(['base']);
  });

  test('no probe and no lifecycle hook: a run-once pod is Running as soon as its process starts', () => {
    for (const field of ['startupProbe', 'readinessProbe', 'livenessProbe', 'lifecycle']) expect(base[field]).toBeUndefined();
    expect(pod.spec.readinessGates).toBeUndefined();
  });

  test('the image\'s entrypoint skips its database check (CONNECTION_CHECK_MAX_COUNT=0) and has nothing else to do', () => {
    expect(base.env).toContainEqual({ name: 'CONNECTION_CHECK_MAX_COUNT', value: '0' });
    // The executor gives the task's command as args: the image's ENTRYPOINT (dumb-init, /entrypoint) stays.
    expect(base.command).toBeUndefined();
    for (const name of ['_PIP_ADDITIONAL_REQUIREMENTS', '_AIRFLOW_DB_MIGRATE', '_AIRFLOW_DB_UPGRADE', '_AIRFLOW_WWW_USER_CREATE']) {
      expect((base.env ?? []).map((e: any) => e.name)).not.toContain(name);
    }
  });

  test('IfNotPresent: a pinned tag is pulled once per node, a local image never', () => {
    expect(base.imagePullPolicy).toBe('IfNotPresent');
  });

  test('no ServiceAccount token to mount', () => {
    expect(pod.spec.automountServiceAccountToken).toBe(false);
  });

  test('the scheduler creates every pod that may run in one loop: worker_pods_creation_batch_size = parallelism', () => {
    const cfg = cfgOf(objects);
    expect(cfg.kubernetes_executor.worker_pods_creation_batch_size).toBe(cfg.core.parallelism);
  });

  test('the executor\'s image (worker_container_repository:tag) is the template\'s: no second image to pull', () => {
    const cfg = cfgOf(objects).kubernetes_executor;
    expect(`${cfg.worker_container_repository}:${cfg.worker_container_tag}`).toBe(base.image);
  });
});

describe('git-sync', () => {
  const gitSync = { repository: 'https://github.com/org/dags.git', branch: 'main' };

  test('by default (a shared volume) it adds nothing to a task pod', () => {
    const pod = taskPodOf(synth({ gitSync }));
    expect(pod.spec.initContainers).toBeUndefined();
    expect(pod.spec.containers.map((c: any) => c.name)).toEqual(['base']);
  });

  test('in sidecar mode a task pod clones the repository first (the documented cost): that init container only', () => {
    const objects = synth({ gitSync: { ...gitSync, mode: GitSyncMode.SIDECARS }, provisioning: StorageProvisioning.storageClass('efs-sc') });
    const pod = taskPodOf(objects);
    expect(pod.spec.initContainers.map((c: any) => c.name)).toEqual(['git-sync-init']);
    for (const field of ['startupProbe', 'readinessProbe', 'livenessProbe', 'lifecycle']) expect(pod.spec.containers[0][field]).toBeUndefined();
    // its image is pre-pulled with the task's
    const ds = objects.find((o) => o.kind === 'DaemonSet');
    expect(ds.spec.template.spec.initContainers.map((c: any) => c.image)).toEqual([pod.spec.containers[0].image, pod.spec.initContainers[0].image]);
  });
});

describe('scheduler settings', () => {
  test('worker_pods_creation_batch_size follows parallelism, or the prop', () => {
    expect(cfgOf(synth({ parallelism: 16 })).kubernetes_executor.worker_pods_creation_batch_size).toBe('16');
    expect(cfgOf(synth({ parallelism: 16, workerPodsCreationBatchSize: 1 })).kubernetes_executor.worker_pods_creation_batch_size).toBe('1');
  });

  test('the scheduler loop keeps Airflow\'s idle sleep (1 s) unless the user sets it', () => {
    expect(cfgOf(synth()).scheduler?.scheduler_idle_sleep_time).toBeUndefined();
    expect(cfgOf(synth({ config: { scheduler: { scheduler_idle_sleep_time: 0.5 } } })).scheduler.scheduler_idle_sleep_time).toBe('0.5');
  });

  test('the task\'s supervisor notices the end of its task within 1 s ([workers] min_heartbeat_interval = 1; Airflow 3 only, the user\'s value wins)', () => {
    // Airflow's 5 s kept every task pod (and every Celery worker slot) about 5 s past its task (docs/benchmark.md)
    expect(cfgOf(synth()).workers.min_heartbeat_interval).toBe('1');
    expect(cfgOf(synth({ config: { workers: { min_heartbeat_interval: 5 } } })).workers.min_heartbeat_interval).toBe('5');
    expect(cfgOf(synth({ image: 'apache/airflow:2.11.0' })).workers).toBeUndefined();
  });

  test('Airflow 2\'s pending-pod settings are gone from the provider Airflow 3 uses ([scheduler] task_queued_timeout replaces them)', () => {
    for (const key of ['worker_pods_queued_check_interval', 'worker_pods_pending_timeout']) {
      expect(() => synth({ config: { kubernetes_executor: { [key]: 60 } } as any })).toThrow(
        new RegExp(`property "config.kubernetes_executor" received "${key}"; allowed: a key of \\[kubernetes_executor\\] that Airflow 3 defines`),
      );
    }
  });
});

describe('what would slow every task down is refused or reported', () => {
  test.each([
    ['_PIP_ADDITIONAL_REQUIREMENTS', 'pip-installs packages at every start and kills the container 10 minutes later'],
    ['_AIRFLOW_DB_MIGRATE', 'runs "airflow db migrate" at every start'],
    ['_AIRFLOW_DB_UPGRADE', 'runs "airflow db migrate" at every start'],
    ['_AIRFLOW_WWW_USER_CREATE', 'runs "airflow users create" at every start'],
  ])('%s in env', (name, what) => {
    for (const props of [{ worker: { env: { [name]: EnvValue.fromValue('x') } } }, { env: { [name]: EnvValue.fromValue('x') } }]) {
      expect(() => synth(props)).toThrow(
        `property "${props.worker ? 'worker.' : ''}env["${name}"]" received "${name}"; allowed: a variable the image's entrypoint does not act on: "${name}" ${what}`,
      );
    }
  });

  test('imagePullPolicy "Always" is reported at synth, with what to do for a pinned tag and for :latest', () => {
    const pinned = new AirflowChart(Testing.app(), 'airflow', { imagePullPolicy: 'Always' });
    expect(pinned.airflow.warnings).toEqual([
      'KubernetesExecutorAirflow at "airflow/airflow": imagePullPolicy "Always" makes every task pod ask the registry for the image before it ' +
        'starts (a round trip of its own per task, and on Docker Hub a pull counted against the rate limit; a registry outage stops every ' +
        'task). The tag "3.2.2" is pinned: "IfNotPresent" (the default) pulls it once per node. See docs/task-start.md.',
    ]);
    const latest = new AirflowChart(Testing.app(), 'airflow', { imagePullPolicy: 'Always', image: 'registry.example.com/airflow:latest', airflowVersion: '3.1.3' });
    expect(latest.airflow.warnings[0]).toMatch(/Give the image a tag of its own per build instead of "latest", and use "IfNotPresent"\./);
    expectSynthWarns(pinned, pinned.airflow.warnings[0]);
    expect(new AirflowChart(Testing.app(), 'airflow').airflow.warnings).toEqual([]);
    expect(new AirflowChart(Testing.app(), 'airflow', { imagePullPolicy: 'Never' }).airflow.warnings).toEqual([]);
  });
});

describe('docs/task-start.md "Past one node, on paper": the settings it gives for 1,000 task pods', () => {
  // The section's table and paragraphs, as one chart: each option must be accepted (Airflow's own keys of the
  // default version) and reach airflow.cfg as written there.
  const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'task-start.md'), 'utf8');
  const RETRY = /api_client_retry_configuration: '(\{[^']*\})'/.exec(doc)![1];
  const objects = synth({
    parallelism: 1000,
    defaultPoolSlots: 1000,
    workerPodsCreationBatchSize: 100,
    apiServer: { replicas: 3 },
    config: {
      core: { max_active_tasks_per_dag: 1000 },
      scheduler: { task_queued_timeout: 1800 },
      api: { workers: 2 },
      workers: { min_heartbeat_interval: 5 },
      kubernetes_executor: { api_client_retry_configuration: RETRY, task_publish_max_retries: 3 },
    },
  });
  const cfg = cfgOf(objects);

  test('every option is accepted and rendered into airflow.cfg', () => {
    expect(cfg.core).toMatchObject({ parallelism: '1000', default_pool_task_slot_count: '1000', max_active_tasks_per_dag: '1000' });
    expect(cfg.kubernetes_executor).toMatchObject({ worker_pods_creation_batch_size: '100', api_client_retry_configuration: RETRY, task_publish_max_retries: '3' });
    expect(cfg.scheduler.task_queued_timeout).toBe('1800');
    expect(cfg.api.workers).toBe('2');
    expect(cfg.workers.min_heartbeat_interval).toBe('5');
  });

  test('the retry configuration is JSON that urllib3.Retry takes as keyword arguments: no retry of a read, 429 retried on every verb', () => {
    expect(JSON.parse(cfg.kubernetes_executor.api_client_retry_configuration)).toEqual({
      total: 5, status: 5, read: 0, status_forcelist: [429], allowed_methods: null, backoff_factor: 0.5,
    });
  });

  test('the api-server runs the replicas asked for', () => {
    const api = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'airflow-api-server');
    expect(api.spec.replicas).toBe(3);
  });
});
