import { parse } from 'yaml';
import * as k8s from '../../imports/k8s';
import { GitSyncMode, StorageProvisioning, WORKER_CONTAINER_NAME } from '../../lib';
import { workerPodTemplate } from '../../lib/airflow/worker-pod-template';
import { podSecurityViolations, PodSecurityLevel } from '../../lib/security/pod-security';
import { airflowChart, airflowError, find, parseCfg, synthAirflowChart } from '../support';

describe('the worker pod template in the default deployment', () => {
  const { airflow, manifests } = airflowChart();
  const configMap = find(manifests, 'ConfigMap', 'airflow-config');
  const pod = parse(configMap.data['pod_template_file.yaml']);
  const cfg = parseCfg(configMap.data['airflow.cfg']);

  test('is the YAML of the template the construct exposes', () => {
    expect(pod).toEqual(airflow.workerPodTemplate);
  });

  test('is a valid v1 Pod with exactly one container, named base, and no init containers', () => {
    expect(pod.apiVersion).toBe('v1');
    expect(pod.kind).toBe('Pod');
    expect(pod.spec.containers.map((c: any) => c.name)).toEqual([WORKER_CONTAINER_NAME]);
    expect(WORKER_CONTAINER_NAME).toBe('base');
    expect(pod.spec.initContainers).toBeUndefined();
    expect(pod.spec.restartPolicy).toBe('Never');
  });

  test('runs the control plane image under the worker ServiceAccount, without a token', () => {
    const base = pod.spec.containers[0];
    const scheduler = find(manifests, 'Deployment', 'airflow-scheduler').spec.template.spec.containers[0];
    expect(base.image).toBe(scheduler.image);
    expect(base.imagePullPolicy).toBe('IfNotPresent');
    expect(pod.spec.serviceAccountName).toBe('airflow-worker');
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    const sa = find(manifests, 'ServiceAccount', 'airflow-worker');
    expect(sa.automountServiceAccountToken).toBe(false);
    // No Role is bound to the worker's ServiceAccount.
    const bindings = manifests.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding');
    expect(bindings.flatMap((b) => b.subjects.map((s: any) => s.name))).not.toContain('airflow-worker');
  });

  test('is labelled as the worker component', () => {
    expect(pod.metadata.labels).toEqual({
      'app.kubernetes.io/name': 'airflow',
      'app.kubernetes.io/part-of': 'airflow',
      'app.kubernetes.io/component': 'worker',
    });
  });

  test('mounts dags (read-only: a task cannot add a DAG file), logs and data at their paths, airflow.cfg from the ConfigMap, /tmp', () => {
    const mounts = pod.spec.containers[0].volumeMounts;
    expect(mounts).toEqual(
      expect.arrayContaining([
        { name: 'dags', mountPath: '/opt/airflow/dags', readOnly: true },
        { name: 'airflow-tmp', mountPath: '/tmp' },
        { name: 'logs', mountPath: '/opt/airflow/logs' },
        { name: 'data', mountPath: '/opt/airflow/data' },
        { name: 'airflow-config', mountPath: '/opt/airflow/airflow.cfg', subPath: 'airflow.cfg', readOnly: true },
      ]),
    );
    expect(cfg.core.dags_folder).toBe('/opt/airflow/dags');
    const claims = Object.fromEntries(
      pod.spec.volumes.filter((v: any) => v.persistentVolumeClaim).map((v: any) => [v.name, v.persistentVolumeClaim.claimName]),
    );
    expect(claims).toEqual({ dags: 'airflow-dags-claim', logs: 'airflow-logs-claim', data: 'airflow-data-claim' });
    expect(pod.spec.volumes).toContainEqual({ name: 'airflow-config', configMap: { name: 'airflow-config' } });
  });

  test('has default task resources', () => {
    expect(pod.spec.containers[0].resources).toEqual({
      requests: { cpu: '100m', memory: '256Mi' },
      limits: { cpu: '1', memory: '1Gi' },
    });
  });

  test('on Airflow 3, gets no database credentials and no secret at all: tasks use the Execution API', () => {
    expect(pod.spec.containers[0].env).toEqual([
      { name: 'AIRFLOW_CONFIG', value: '/opt/airflow/airflow.cfg' },
      { name: 'CONNECTION_CHECK_MAX_COUNT', value: '0' },
    ]);
    expect(cfg.core.execution_api_server_url).toBe('http://airflow-api-server.airflow.svc.cluster.local:8080/execution/');
  });

  test('on Airflow 2, gets the database connection and the fernet key by reference, not the UI secret', () => {
    const env = (airflowChart({ image: 'apache/airflow:2.11.0' }).airflow.workerPodTemplate as any).spec.containers[0].env;
    const names = env.map((e: any) => e.name);
    expect(names).toEqual(
      expect.arrayContaining(['AIRFLOW_CONFIG', 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN', 'AIRFLOW__CORE__FERNET_KEY']),
    );
    expect(names).not.toContain('AIRFLOW__WEBSERVER__SECRET_KEY');
    // The image's entrypoint must not run `airflow db check` before every task: it only adds start time.
    expect(env).toContainEqual({ name: 'CONNECTION_CHECK_MAX_COUNT', value: '0' });
    expect(env.find((e: any) => e.name === 'AIRFLOW__CORE__FERNET_KEY').valueFrom.secretKeyRef).toEqual({
      name: 'airflow-secrets',
      key: 'fernet-key',
    });
  });

  test('meets the restricted Pod Security Standard', () => {
    expect(podSecurityViolations(pod.spec, PodSecurityLevel.RESTRICTED)).toEqual([]);
  });

  test('is what [kubernetes_executor] pod_template_file points at, mounted where it is used: the scheduler and the UI', () => {
    expect(cfg.kubernetes_executor.pod_template_file).toBe('/opt/airflow/pod_templates/pod_template_file.yaml');
    const mountsOfTemplate = manifests
      .filter((o) => o.kind === 'Deployment' || o.kind === 'Job')
      .filter((o) =>
        o.spec.template.spec.containers.some((c: any) =>
          (c.volumeMounts ?? []).some((m: any) => m.mountPath === cfg.kubernetes_executor.pod_template_file),
        ),
      )
      .map((o) => o.metadata.name);
    // The scheduler creates pods from it; the UI shows it in a task's "K8s Pod Spec" view.
    expect(mountsOfTemplate.sort()).toEqual(['airflow-api-server', 'airflow-scheduler']);
    const scheduler = find(manifests, 'Deployment', 'airflow-scheduler').spec.template.spec.containers[0];
    expect(scheduler.volumeMounts).toContainEqual({
      name: 'airflow-config',
      mountPath: '/opt/airflow/pod_templates/pod_template_file.yaml',
      subPath: 'pod_template_file.yaml',
      readOnly: true,
    });
  });
});

describe('worker resources', () => {
  test('follow the props', () => {
    const { airflow } = airflowChart({
      worker: { resources: { cpuRequest: '250m', memoryRequest: '512Mi', cpuLimit: '2', memoryLimit: '2Gi' } },
    });
    const pod: any = airflow.workerPodTemplate;
    expect(pod.spec.containers[0].resources).toEqual({
      requests: { cpu: '250m', memory: '512Mi' },
      limits: { cpu: '2', memory: '2Gi' },
    });
  });

  test('a request above its limit is an error naming the prop', () => {
    expect(() => airflowChart({ worker: { resources: { memoryRequest: '2Gi', memoryLimit: '1Gi' } } })).toThrow(
      /property "worker\.resources\.memoryRequest" received "2Gi"; allowed: at most the memory limit \("1Gi"\)/,
    );
    expect(() => airflowChart({ worker: { resources: { cpuRequest: 'lots' } } })).toThrow(/property "worker\.resources\.cpuRequest" received "lots"/);
    // What is not given keeps its default.
    expect((airflowChart({ worker: { resources: { memoryLimit: '3Gi' } } }).airflow.workerPodTemplate as any).spec.containers[0].resources).toEqual({
      requests: { cpu: '100m', memory: '256Mi' },
      limits: { cpu: '1', memory: '3Gi' },
    });
  });
});

test('workerPodTemplate renders quantities as strings', () => {
  const pod: any = workerPodTemplate({
    image: 'apache/airflow:3.1.3',
    imagePullPolicy: 'IfNotPresent',
    env: [],
    volumes: [],
    volumeMounts: [],
    serviceAccountName: 'airflow-worker',
    labels: { a: 'b' },
    resources: { cpuRequest: '1', memoryRequest: '1Gi', cpuLimit: '2', memoryLimit: '2Gi' },
  });
  expect(pod.spec.containers[0].resources.requests).toEqual({ cpu: '1', memory: '1Gi' });
});

describe('the task image (worker.image)', () => {
  const image = 'registry.example.com/team/airflow-tasks:3.2.2-extras';

  test('the pod template, [kubernetes_executor] worker_container_*, the pre-pull and the Celery workers follow it; the control plane keeps its own', () => {
    const { manifests, cfg, worker, chart } = synthAirflowChart({
      worker: { image },
      celery: {},
      provisioning: StorageProvisioning.storageClass('efs-sc'),
    });
    expect(worker.spec.containers[0].image).toBe(image);
    expect(cfg.kubernetes_executor.worker_container_repository).toBe('registry.example.com/team/airflow-tasks');
    expect(cfg.kubernetes_executor.worker_container_tag).toBe('3.2.2-extras');
    expect(find(manifests, 'Deployment', 'airflow-scheduler').spec.template.spec.containers[0].image).toBe('apache/airflow:3.2.2');
    expect(find(manifests, 'Deployment', 'airflow-celery-worker').spec.template.spec.containers[0].image).toBe(image);
    expect(chart.imagePrePull?.images).toEqual(['apache/airflow:3.2.2', image]);
    const prePull = find(manifests, 'DaemonSet').spec.template.spec.initContainers.map((c: any) => c.image);
    expect(prePull).toEqual(['apache/airflow:3.2.2', image]);
  });

  test('an image whose tag names no version (latest, a build tag) is taken as the control plane\'s Airflow', () => {
    const { worker, cfg } = synthAirflowChart({ worker: { image: 'my-tasks:latest' } });
    expect(worker.spec.containers[0].image).toBe('my-tasks:latest');
    expect(cfg.kubernetes_executor.worker_container_tag).toBe('latest');
  });

  test('another Airflow version, an untagged image and the slim image are refused', () => {
    expect(airflowError({ worker: { image: 'apache/airflow:3.0.6' } }).message).toBe(
      'KubernetesExecutorAirflow at "test/airflow": property "worker.image" received "apache/airflow:3.0.6"; allowed: an image of the control ' +
        "plane's Airflow, 3.2.2 (the tag names 3.0.6): the task pods run the same Airflow as the scheduler, dag-processor and API server, whose " +
        'execution API and database schema are versioned with it. Build the task image FROM apache/airflow:3.2.2 (or change image to Airflow 3.0.6 too).',
    );
    // a build of one's own tagged after the Airflow it is built FROM names that Airflow too
    expect(airflowError({ worker: { image: 'registry.example.com/team/airflow-tasks:3.1.3-extras' } }).message).toMatch(
      /received "registry\.example\.com\/team\/airflow-tasks:3\.1\.3-extras"; allowed: an image of the control plane's Airflow, 3\.2\.2 \(the tag names 3\.1\.3\)/,
    );
    expect(() => synthAirflowChart({ worker: { image: 'registry.example.com/team/airflow-tasks:1.0.0-gpu' } })).not.toThrow();
    expect(airflowError({ worker: { image: 'my-tasks' } }).message).toMatch(/property "worker\.image" received "my-tasks"; allowed: an image pinned by a tag or a digest/);
    expect(airflowError({ worker: { image: 'apache/airflow:slim-3.2.2' } }).property).toBe('worker.image');
  });
});

describe('the task pods\' own init containers', () => {
  const q = (v: string) => k8s.Quantity.fromString(v);
  const resources = { requests: { cpu: q('10m'), memory: q('32Mi') }, limits: { cpu: q('100m'), memory: q('64Mi') } };

  test('come after the features\' init containers, with the task container\'s securityContext', () => {
    const { worker, chart } = synthAirflowChart({ worker: { extraInitContainers: [{ name: 'fetch-model', image: 'busybox:1.36', command: ['true'], resources }] } });
    expect(worker.spec.initContainers.map((c: any) => c.name)).toEqual(['fetch-model']);
    expect(worker.spec.initContainers[0].securityContext).toEqual(worker.spec.containers[0].securityContext);
    // Their images are task pod images: the pre-pull keeps them too.
    expect(chart.airflow.taskPodImages).toEqual(['apache/airflow:3.2.2', 'busybox:1.36']);
  });

  test('a name git-sync\'s init container has is refused at synth; a container beside base is refused', () => {
    const init = { name: 'git-sync-init', image: 'busybox:1.36', resources };
    expect(() =>
      synthAirflowChart({ worker: { extraInitContainers: [init] }, gitSync: { repository: 'https://github.com/org/dags.git', mode: GitSyncMode.SIDECARS } }),
    ).toThrow(/property "worker\.extraInitContainers" received a container named "git-sync-init"/);
    expect(airflowError({ worker: { extraInitContainers: [{ ...init, name: 'base' }] } }).property).toBe('worker.extraInitContainers[0].name');
    expect(airflowError({ worker: { extraContainers: [{ ...init, name: 'proxy' }] } }).message).toMatch(
      /property "worker\.extraContainers" received \["proxy"\]; allowed: none: the KubernetesExecutor learns that a task ended from its pod's phase/,
    );
  });
});
