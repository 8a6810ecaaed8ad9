// ImagePrePull (issue #17): a DaemonSet that keeps the task pods' images on exactly the nodes task pods can
// run on, at almost no cost, without a token or privileges. Each property is checked against what the task
// pods really get (the pod template and airflow.cfg of the same chart), not against the construct's inputs.
import { Chart, Testing } from 'cdk8s';
import { parse } from 'yaml';
import {
  AirflowChart,
  AirflowChartProps,
  DEFAULT_GIT_SYNC_IMAGE,
  DEFAULT_PAUSE_IMAGE,
  GitSyncMode,
  ImagePrePull,
  ImagePrePullProps,
  PodSecurityLevel,
  StorageProvisioning,
} from '../../lib';
import { parseQuantity } from '../../lib/core';
import { podSecurityViolations } from '../../lib/security/pod-security';
import { validationReport } from '../../validation';
import { isAirflow2, parseCfg, synthAirflow } from '../support';

const CLUSTER: AirflowChartProps = { provisioning: StorageProvisioning.storageClass('efs-sc') };

function build(props: AirflowChartProps): { chart: AirflowChart; objects: any[] } {
  const chart = new AirflowChart(Testing.app(), 'airflow', { ...CLUSTER, ...props });
  return { chart, objects: synthAirflow(chart, isAirflow2(props)) };
}

/** Deep-freezes synthesized JSON, so that a test that changed a shared synth would throw instead of passing. */
function frozen<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) frozen(v);
    Object.freeze(value);
  }
  return value;
}

// The default cluster chart, synthesized once for the file (a dozen tests read it; each synth is ~30-60 ms).
let shared: { chart: AirflowChart; objects: any[] } | undefined;

/** The cluster chart with `props`, synthesized; without props, the file's one shared (frozen) synth. */
function synth(props?: AirflowChartProps): { chart: AirflowChart; objects: any[] } {
  if (props !== undefined) return build(props);
  if (!shared) {
    const { chart, objects } = build({});
    shared = { chart, objects: frozen(objects) };
  }
  return shared;
}

const daemonSetsOf = (objects: any[]) => objects.filter((o) => o.kind === 'DaemonSet');
const daemonSetOf = (objects: any[]) => {
  const found = daemonSetsOf(objects);
  expect(found).toHaveLength(1);
  return found[0];
};
const podTemplateOf = (objects: any[]) =>
  parse(objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'airflow-config').data['pod_template_file.yaml']);
const cfgOf = (objects: any[]) => parseCfg(objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'airflow-config').data['airflow.cfg']);

/**
 * The images a task pod runs: the executor's worker_container_repository:tag (the `base` container's), and every
 * container of the pod template (init containers included).
 */
function taskImages(objects: any[]): string[] {
  const cfg = cfgOf(objects).kubernetes_executor;
  const spec = podTemplateOf(objects).spec;
  return [
    ...new Set([
      `${cfg.worker_container_repository}:${cfg.worker_container_tag}`,
      ...[...(spec.initContainers ?? []), ...spec.containers].map((c: any) => c.image),
    ]),
  ];
}

/** The images of the control plane's pods (Deployments and Jobs of the Airflow image). */
function controlPlaneImages(objects: any[]): string[] {
  return [
    ...new Set(
      objects
        .filter((o) => o.kind === 'Deployment')
        .flatMap((o) => [...(o.spec.template.spec.initContainers ?? []), ...o.spec.template.spec.containers].map((c: any) => c.image)),
    ),
  ];
}

/**
 * What a pod reserves on its node, as the kube-scheduler counts it: per resource, the larger of the largest init
 * container's request and the sum of the containers' requests.
 */
function effectiveRequests(spec: any): { cpu: number; memory: number } {
  const of = (c: any, r: 'cpu' | 'memory') => parseQuantity(String(c.resources?.requests?.[r] ?? '0'))!;
  const per = (r: 'cpu' | 'memory') =>
    Math.max(Math.max(0, ...(spec.initContainers ?? []).map((c: any) => of(c, r))), (spec.containers ?? []).reduce((s: number, c: any) => s + of(c, r), 0));
  return { cpu: per('cpu'), memory: per('memory') };
}

describe('prePullImages: on by default for a real cluster, off on minikube', () => {
  test('the default chart (hostPath, minikube) has no DaemonSet', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow');
    expect(chart.imagePrePull).toBeUndefined();
    expect(daemonSetsOf(Testing.synth(chart))).toEqual([]);
  });

  test('a StorageClass chart has it; prePullImages: false removes it, true adds it on minikube', () => {
    expect(synth().chart.imagePrePull).toBeInstanceOf(ImagePrePull);
    expect(daemonSetsOf(synth({ prePullImages: false }).objects)).toEqual([]);
    const minikube = new AirflowChart(Testing.app(), 'airflow', { prePullImages: true });
    expect(daemonSetsOf(Testing.synth(minikube)).map((d) => d.metadata.name)).toEqual(['airflow-image-pre-pull']);
  });

  test('with imagePullPolicy "Never" it is off by default, and refused when asked for', () => {
    expect(synth({ imagePullPolicy: 'Never' }).chart.imagePrePull).toBeUndefined();
    expect(() => synth({ imagePullPolicy: 'Never', prePullImages: true })).toThrow(
      'AirflowChart at "airflow": property "prePullImages" received true; allowed: false (or unset) with imagePullPolicy "Never": the nodes never pull, so there is nothing to pre-pull.',
    );
  });

  test('bad values are refused with the message a user sees', () => {
    expect(() => synth({ prePullImages: 'yes' as any })).toThrow('AirflowChart at "airflow": property "prePullImages" received "yes"; allowed: true or false.');
    expect(() => synth({ prePullImages: false, prePullPauseImage: 'mirror.example.com/pause:3.10' })).toThrow(
      /property "prePullPauseImage" received "mirror.example.com\/pause:3.10"; allowed: nothing unless prePullImages is on/,
    );
    expect(() => synth({ prePullPauseImage: 'Pause:3.10' })).toThrow(/ImagePrePull at "airflow\/image-pre-pull": property "pauseImage" received "Pause:3.10"/);
  });
});

describe('the images: exactly those of the task pods', () => {
  test('the default image: one init container, the image task pods and the control plane run', () => {
    const { objects } = synth();
    const spec = daemonSetOf(objects).spec.template.spec;
    expect(spec.initContainers.map((c: any) => c.image)).toEqual(taskImages(objects));
    expect(taskImages(objects)).toEqual(['apache/airflow:3.2.2']);
    expect(controlPlaneImages(objects)).toEqual(['apache/airflow:3.2.2']);
    expect(spec.containers.map((c: any) => c.image)).toEqual([DEFAULT_PAUSE_IMAGE]);
    expect(DEFAULT_PAUSE_IMAGE).toMatch(/^registry\.k8s\.io\/pause:3\.\d+$/); // pinned by tag
  });

  test.each([
    ['a custom image in a private registry', { image: 'registry.example.com/data/airflow:3.1.3', imagePullSecrets: ['regcred'] }],
    ['an Airflow 2 image', { image: 'apache/airflow:2.11.0' }],
    ['a custom image without a version in its tag', { image: 'registry.example.com/airflow:latest', airflowVersion: '3.1.3' }],
  ])('%s', (_label, props) => {
    const { objects } = synth(props);
    const spec = daemonSetOf(objects).spec.template.spec;
    expect(spec.initContainers.map((c: any) => c.image)).toEqual(taskImages(objects));
    expect(taskImages(objects)).toEqual([props.image]);
  });

  test('the chart pulls the Airflow image and the task pods\' images, each once', () => {
    const { chart } = synth({ image: 'registry.example.com/data/airflow:3.1.3' });
    expect(chart.airflow.workerImage).toBe(chart.airflow.image);
    expect(chart.airflow.taskPodImages).toEqual([chart.airflow.image]);
    expect(chart.imagePrePull!.images).toEqual([chart.airflow.image]);
  });

  test('git-sync in sidecar mode: its init container runs in every task pod, so its image is pulled too', () => {
    const gitSync = { repository: 'https://github.com/org/dags.git', branch: 'main' };
    const sidecars = synth({ gitSync: { ...gitSync, mode: GitSyncMode.SIDECARS } });
    const spec = daemonSetOf(sidecars.objects).spec.template.spec;
    expect(podTemplateOf(sidecars.objects).spec.initContainers.map((c: any) => c.image)).toEqual([DEFAULT_GIT_SYNC_IMAGE]);
    expect(spec.initContainers.map((c: any) => c.image)).toEqual(taskImages(sidecars.objects));
    expect(spec.initContainers.map((c: any) => c.image)).toEqual(['apache/airflow:3.2.2', DEFAULT_GIT_SYNC_IMAGE]);
    expect(effectiveRequests(spec)).toEqual(effectiveRequests(daemonSetOf(synth().objects).spec.template.spec));
    // the default mode syncs beside the pods: nothing more in a task pod, nothing more to pull
    const shared = synth({ gitSync }).objects;
    expect(daemonSetOf(shared).spec.template.spec.initContainers.map((c: any) => c.image)).toEqual(['apache/airflow:3.2.2']);
  });

  test('a worker image other than the control plane image gets an init container of its own, in order', () => {
    const chart = new Chart(Testing.app(), 'c', { namespace: 'airflow' });
    const prePull = new ImagePrePull(chart, 'image-pre-pull', {
      images: ['registry.example.com/airflow:3.1.3', 'registry.example.com/airflow-tasks:3.1.3-ml', 'registry.example.com/airflow:3.1.3'],
    });
    const spec = daemonSetOf(Testing.synth(chart)).spec.template.spec;
    expect(prePull.images).toEqual(['registry.example.com/airflow:3.1.3', 'registry.example.com/airflow-tasks:3.1.3-ml']);
    expect(spec.initContainers.map((c: any) => [c.name, c.image])).toEqual([
      ['pull-1', 'registry.example.com/airflow:3.1.3'],
      ['pull-2', 'registry.example.com/airflow-tasks:3.1.3-ml'],
    ]);
    expect(effectiveRequests(spec)).toEqual(effectiveRequests(daemonSetOf(synth().objects).spec.template.spec));
  });

  test('pulled with the task pods\' policy: IfNotPresent by default, Always when they have it', () => {
    const policies = (objects: any[]) => daemonSetOf(objects).spec.template.spec.initContainers.map((c: any) => c.imagePullPolicy);
    expect(policies(synth().objects)).toEqual([podTemplateOf(synth().objects).spec.containers[0].imagePullPolicy]);
    expect(policies(synth().objects)).toEqual(['IfNotPresent']);
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      expect(policies(synth({ imagePullPolicy: 'Always' }).objects)).toEqual(['Always']);
    } finally {
      warn.mockRestore();
    }
  });

  test('the no-op bypasses the image\'s ENTRYPOINT (no `airflow db check`, no Python): command /bin/true', () => {
    for (const c of daemonSetOf(synth().objects).spec.template.spec.initContainers) {
      // `command` replaces ENTRYPOINT ["/usr/bin/dumb-init", "--", "/entrypoint"]; `args` alone would run it.
      expect(c.command).toEqual(['/bin/true']);
      expect(c.args).toBeUndefined();
      expect(c.env).toBeUndefined();
      expect(c.volumeMounts).toBeUndefined();
    }
  });

  test('a mirrored pause image', () => {
    const { objects } = synth({ prePullPauseImage: 'mirror.example.com/k8s/pause:3.10' });
    expect(daemonSetOf(objects).spec.template.spec.containers[0].image).toBe('mirror.example.com/k8s/pause:3.10');
  });
});

describe('the nodes: the same node selection as the task pods', () => {
  const props: AirflowChartProps = {
    imagePullSecrets: ['regcred'],
    nodeSelector: { 'node-pool': 'airflow' },
    tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'airflow', effect: 'NoSchedule' }],
    priorityClassName: 'airflow-critical',
    topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' }],
    podLabels: { team: 'data' },
    podAnnotations: { 'sidecar.istio.io/inject': 'false' },
    scheduler: { nodeSelector: { 'node-pool': 'control-plane' } },
    worker: {
      nodeSelector: { 'node-pool': 'tasks', 'kubernetes.io/arch': 'amd64' },
      tolerations: [{ key: 'spot', operator: 'Exists', effect: 'NoSchedule' }],
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: 'node.kubernetes.io/instance-type', operator: 'In', values: ['m6i.xlarge', 'm6i.2xlarge'] }] }],
          },
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 10, preference: { matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['eu-west-1a'] }] } },
          ],
        },
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 50, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'app.kubernetes.io/component': 'worker' } } } },
          ],
        },
      },
      imagePullSecrets: ['tasks-regcred'],
      podLabels: { cost: 'tasks' },
    },
  };
  const { objects } = synth(props);
  const ds = daemonSetOf(objects);
  const spec = ds.spec.template.spec;
  const task = podTemplateOf(objects);

  test('nodeSelector, tolerations and node affinity are the task pods\', not the control plane\'s', () => {
    expect(spec.nodeSelector).toEqual(task.spec.nodeSelector);
    expect(spec.nodeSelector).toEqual({ 'node-pool': 'tasks', 'kubernetes.io/arch': 'amd64' });
    expect(spec.tolerations).toEqual(task.spec.tolerations);
    expect(spec.affinity).toEqual({ nodeAffinity: task.spec.affinity.nodeAffinity });
  });

  test('pod (anti-)affinity, topology spread and the priority class (about task pods among pods) are left out', () => {
    expect(task.spec.affinity.podAntiAffinity).toBeDefined();
    expect(task.spec.topologySpreadConstraints).toBeDefined();
    expect(task.spec.priorityClassName).toBe('airflow-critical');
    expect(spec.topologySpreadConstraints).toBeUndefined();
    expect(spec.priorityClassName).toBeUndefined();
  });

  test('the task pods\' pull secrets, labels and annotations (a sidecar opt-out reaches the pre-pull pods)', () => {
    expect(spec.imagePullSecrets).toEqual(task.spec.imagePullSecrets);
    expect(spec.imagePullSecrets).toEqual([{ name: 'tasks-regcred' }]);
    expect(ds.spec.template.metadata.annotations).toEqual(task.metadata.annotations);
    expect(ds.spec.template.metadata.labels).toEqual({
      team: 'data',
      cost: 'tasks',
      'app.kubernetes.io/name': 'airflow',
      'app.kubernetes.io/part-of': 'airflow',
      'app.kubernetes.io/component': 'image-pre-pull',
    });
    expect(ds.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'airflow', 'app.kubernetes.io/component': 'image-pre-pull' });
  });

  test('no node selection at all: every node', () => {
    const plain = daemonSetOf(synth().objects).spec.template.spec;
    for (const field of ['nodeSelector', 'tolerations', 'affinity', 'imagePullSecrets']) expect(plain[field]).toBeUndefined();
  });

  test('the validation plugin finds nothing wrong', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow', { ...CLUSTER, ...props });
    expect(validationReport(chart, { existingSecrets: ['regcred', 'tasks-regcred'] })).toEqual([]);
  });
});

describe('the cost: at most 10m CPU and 16Mi per node', () => {
  test('what the kube-scheduler reserves per node (max of init containers, sum of containers)', () => {
    const spec = daemonSetOf(synth().objects).spec.template.spec;
    const { cpu, memory } = effectiveRequests(spec);
    expect(cpu).toBeLessThanOrEqual(0.01);
    expect(memory).toBeLessThanOrEqual(16 * 1024 * 1024);
    expect({ cpu, memory }).toEqual({ cpu: 0.005, memory: 16 * 1024 * 1024 });
  });

  test('every container has requests and limits, limits at least the requests', () => {
    const spec = daemonSetOf(synth().objects).spec.template.spec;
    for (const c of [...spec.initContainers, ...spec.containers]) {
      for (const r of ['cpu', 'memory']) {
        expect(parseQuantity(c.resources.limits[r])!).toBeGreaterThanOrEqual(parseQuantity(c.resources.requests[r])!);
      }
    }
  });

  test('a rollout replaces every node\'s pod at once: the new image is pulled everywhere before tasks need it', () => {
    const ds = daemonSetOf(synth().objects);
    expect(ds.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '100%' } });
    const chart = new Chart(Testing.app(), 'c', { namespace: 'airflow' });
    new ImagePrePull(chart, 'image-pre-pull', { images: ['apache/airflow:3.1.3'], maxUnavailable: 5 });
    expect(daemonSetOf(Testing.synth(chart)).spec.updateStrategy.rollingUpdate).toEqual({ maxUnavailable: 5 });
  });

  test('an image change changes the pod template (so the DaemonSet rolls); nothing else does', () => {
    const a = daemonSetOf(synth({ image: 'apache/airflow:3.1.3' }).objects);
    const b = daemonSetOf(synth({ image: 'apache/airflow:3.1.5' }).objects);
    const c = daemonSetOf(synth({ image: 'apache/airflow:3.1.3', parallelism: 16, config: { core: { dagbag_import_timeout: 60 } } }).objects);
    expect(b.spec.template).not.toEqual(a.spec.template);
    expect(c).toEqual(a); // a configuration change does not make every node re-run the pre-pull
  });
});

describe('security: no token, no privileges, the restricted Pod Security Standard', () => {
  const { objects } = synth();
  const ds = daemonSetOf(objects);
  const spec = ds.spec.template.spec;

  test('meets restricted', () => {
    expect(podSecurityViolations(spec, PodSecurityLevel.RESTRICTED)).toEqual([]);
  });

  test('no ServiceAccount token, a ServiceAccount of its own bound to nothing', () => {
    expect(spec.automountServiceAccountToken).toBe(false);
    const sa = objects.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === spec.serviceAccountName);
    expect(sa.metadata.name).toBe('airflow-image-pre-pull');
    expect(sa.automountServiceAccountToken).toBe(false);
    expect(sa.metadata.annotations).toBeUndefined();
    const subjects = objects.filter((o) => o.kind === 'RoleBinding').flatMap((b) => b.subjects.map((s: any) => s.name));
    expect(subjects).not.toContain('airflow-image-pre-pull');
  });

  test('the worker\'s ServiceAccount annotations (a cloud identity) do not reach it', () => {
    const annotated = synth({ worker: { serviceAccountAnnotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/tasks' } } }).objects;
    const sa = annotated.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === 'airflow-image-pre-pull');
    expect(sa.metadata.annotations).toBeUndefined();
  });

  test('the Airflow image runs as its user 50000:0, the pause image as its own 65535:65535; read-only, nothing added', () => {
    expect(spec.securityContext).toEqual({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const users = [...spec.initContainers, ...spec.containers].map((c: any) => [c.name, c.securityContext.runAsUser, c.securityContext.runAsGroup]);
    expect(users).toEqual([
      ['pull-1', 50000, 0],
      ['pause', 65535, 65535],
    ]);
    for (const c of [...spec.initContainers, ...spec.containers]) {
      expect(c.securityContext).toEqual(
        expect.objectContaining({
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          privileged: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        }),
      );
      expect(c.ports).toBeUndefined();
    }
    expect(spec.volumes).toBeUndefined();
    for (const field of ['hostNetwork', 'hostPID', 'hostIPC']) expect(spec[field]).toBeUndefined();
  });

  test('the namespace still enforces baseline (Postgres), the DaemonSet changes nothing there', () => {
    const ns = objects.find((o) => o.kind === 'Namespace');
    const without = synth({ prePullImages: false }).objects.find((o: any) => o.kind === 'Namespace');
    expect(ns.metadata.labels).toEqual(without.metadata.labels);
  });
});

describe('ImagePrePull on its own: what is refused', () => {
  const build = (props: Partial<ImagePrePullProps>) => () =>
    new ImagePrePull(new Chart(Testing.app(), 'c', { namespace: 'airflow' }), 'image-pre-pull', { images: ['apache/airflow:3.1.3'], ...props });

  test.each([
    [{ images: [] }, 'property "images" received []; allowed: a non-empty list of images'],
    [{ images: ['Apache/Airflow:3.1.3'] }, 'property "images[0]" received "Apache/Airflow:3.1.3"'],
    [{ imagePullPolicy: 'Never' }, 'property "imagePullPolicy" received "Never"; allowed: "IfNotPresent" or "Always"'],
    [{ imagePullPolicy: 'ifNotPresent' }, 'Did you mean "IfNotPresent"?'],
    [{ maxUnavailable: 0 }, 'property "maxUnavailable" received 0; allowed: a number of nodes (1 or more) or a percentage of them'],
    [{ maxUnavailable: '0%' }, 'property "maxUnavailable" received "0%"'],
    [{ maxUnavailable: '150%' }, 'property "maxUnavailable" received "150%"'],
  ])('%j', (props, message) => {
    expect(build(props as Partial<ImagePrePullProps>)).toThrow(message);
  });

  test('bad placement is reported under "placement"', () => {
    expect(build({ placement: { nodeSelector: { 'bad key!': 'x' } } })).toThrow(/property "placement\.nodeSelector\["bad key!"\]"/);
  });
});
