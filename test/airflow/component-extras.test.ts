import { Testing } from 'cdk8s';
import { parse } from 'yaml';
import * as k8s from '../../imports/k8s';
import { AirflowChart, AirflowChartProps, PodSecurityLevel, RemoteLogging, StorageProvisioning } from '../../lib';
import { podSecurityViolations } from '../../lib/security/pod-security';
import { MIN_LIVENESS_WINDOW_SECONDS, MIN_STARTUP_WINDOW_SECONDS } from '../../lib/airflow/component-extras';
import { airflowChart, airflowError, byKind, find, podsOf, synthAirflowChart, validationError } from '../support';

const q = (v: string) => k8s.Quantity.fromString(v);
const RESOURCES = { requests: { cpu: q('10m'), memory: q('32Mi') }, limits: { cpu: q('100m'), memory: q('64Mi') } };
/** A container of the user's own, as small as the checks allow. */
const proxy = (extra: Partial<k8s.Container> = {}): k8s.Container => ({ name: 'proxy', image: 'envoyproxy/envoy:v1.31.0', resources: RESOURCES, ...extra });
const podSpec = (manifests: any[], name: string) => find(manifests, 'Deployment', name).spec.template.spec;

describe('probe timings', () => {
  test('the scheduler, dag-processor and triggerer take liveness timings; the command stays airflow jobs check', () => {
    const { manifests } = airflowChart({
      scheduler: { livenessProbe: { periodSeconds: 30, timeoutSeconds: 25 } },
      triggerer: { livenessProbe: { failureThreshold: 10, initialDelaySeconds: 300 } },
    });
    const scheduler = podSpec(manifests, 'airflow-scheduler').containers[0].livenessProbe;
    expect(scheduler).toEqual({
      exec: { command: ['sh', '-c', 'AIRFLOW__LOGGING__LOGGING_LEVEL=ERROR exec airflow jobs check --job-type SchedulerJob --local'] },
      periodSeconds: 30,
      timeoutSeconds: 25,
      failureThreshold: 5,
      initialDelaySeconds: 120,
    });
    const triggerer = podSpec(manifests, 'airflow-triggerer').containers[0].livenessProbe;
    expect([triggerer.periodSeconds, triggerer.timeoutSeconds, triggerer.failureThreshold, triggerer.initialDelaySeconds]).toEqual([60, 60, 10, 300]);
    // The others keep the library's.
    expect(podSpec(manifests, 'airflow-dag-processor').containers[0].livenessProbe.periodSeconds).toBe(60);
  });

  test("the UI takes startup, readiness and liveness timings, on the library's health paths", () => {
    const { manifests } = airflowChart({
      apiServer: { startupProbe: { failureThreshold: 12 }, readinessProbe: { periodSeconds: 5, timeoutSeconds: 2 }, livenessProbe: { periodSeconds: 20 } },
    });
    const ui = podSpec(manifests, 'airflow-api-server').containers[0];
    expect(ui.startupProbe).toMatchObject({ httpGet: { path: '/execution/health' }, periodSeconds: 10, failureThreshold: 12 });
    expect(ui.readinessProbe).toMatchObject({ periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3 });
    expect(ui.livenessProbe).toMatchObject({ periodSeconds: 20, timeoutSeconds: 30, failureThreshold: 5 });
  });

  test('a probe the component does not have is refused', () => {
    airflowError({ scheduler: { readinessProbe: { periodSeconds: 10 } } });
    expect(airflowError({ scheduler: { readinessProbe: { periodSeconds: 10 } } }).message).toBe(
      'KubernetesExecutorAirflow at "test/airflow": property "scheduler.readinessProbe" received {"periodSeconds":10}; allowed: nothing: this component has no readiness probe.',
    );
    expect(airflowError({ triggerer: { startupProbe: {} } }).property).toBe('triggerer.startupProbe');
  });

  test('a liveness probe that could restart a healthy component is refused: timeout, failures, window', () => {
    expect(airflowError({ scheduler: { livenessProbe: { timeoutSeconds: 5 } } }).message).toMatch(
      /property "scheduler\.livenessProbe\.timeoutSeconds" received 5; allowed: at least 20: the probe starts a Python process/,
    );
    expect(airflowError({ apiServer: { livenessProbe: { timeoutSeconds: 1 } } }).message).toMatch(/allowed: at least 5: the official chart gives the UI's health endpoint 5 s/);
    expect(airflowError({ dagProcessor: { livenessProbe: { failureThreshold: 1 } } }).property).toBe('dagProcessor.livenessProbe.failureThreshold');
    const window = airflowError({ apiServer: { livenessProbe: { periodSeconds: 5, failureThreshold: 3, timeoutSeconds: 5 } } });
    expect(window.property).toBe('apiServer.livenessProbe');
    expect(window.message).toMatch(new RegExp(`of at least ${MIN_LIVENESS_WINDOW_SECONDS} s \\(here 15 s\\)`));
    // The official chart's own UI liveness probe (every 10 s, 5 s timeout, 5 failures) passes.
    airflowChart({ apiServer: { livenessProbe: { initialDelaySeconds: 15, timeoutSeconds: 5, failureThreshold: 5, periodSeconds: 10 } } });
  });

  test('a startup probe that gives the UI less than a minute is refused; readiness only has Kubernetes\' bounds', () => {
    const e = airflowError({ apiServer: { startupProbe: { periodSeconds: 5, failureThreshold: 6 } } });
    expect(e.message).toMatch(new RegExp(`of at least ${MIN_STARTUP_WINDOW_SECONDS} s \\(here 30 s\\)`));
    airflowChart({ apiServer: { readinessProbe: { periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 1 } } });
    expect(airflowError({ apiServer: { readinessProbe: { periodSeconds: 0 } } }).property).toBe('apiServer.readinessProbe.periodSeconds');
  });

  test('Celery workers take liveness timings, and refuse the probes they do not have', () => {
    const { manifests } = synthAirflowChart({ celery: { livenessProbe: { periodSeconds: 120 } } });
    expect(podSpec(manifests, 'airflow-celery-worker').containers[0].livenessProbe).toMatchObject({ periodSeconds: 120, timeoutSeconds: 30 });
    expect(validationError(() => new AirflowChart(Testing.app(), 'airflow', { celery: { startupProbe: {} } })).property).toBe('celery.startupProbe');
  });
});

describe('extra containers and init containers', () => {
  test("a component's own containers come after its own and the features', with the component's securityContext filled in", () => {
    const init = proxy({ name: 'fetch-certs', command: ['true'] });
    const { manifests } = airflowChart({ scheduler: { extraContainers: [proxy()], extraInitContainers: [init] }, logRetentionDays: 7 });
    const spec = podSpec(manifests, 'airflow-scheduler');
    expect(spec.containers.map((c: any) => c.name)).toEqual(['scheduler', 'log-groomer', 'proxy']);
    expect(spec.initContainers.map((c: any) => c.name)).toEqual(['wait-for-db', 'wait-for-airflow-migrations', 'fetch-certs']);
    const sc = spec.containers[2].securityContext;
    expect(sc).toEqual(spec.containers[0].securityContext);
    expect(sc).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(spec.containers[2].resources).toEqual({ requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '64Mi' } });
  });

  test('quantities given as strings (JSON, YAML) are written, not dropped', () => {
    const resources = { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '64Mi' } } as any;
    const { manifests } = airflowChart({ triggerer: { extraContainers: [proxy({ resources })] } });
    expect(podSpec(manifests, 'airflow-triggerer').containers[1].resources).toEqual(resources);
  });

  test('Celery workers take them too', () => {
    const { manifests } = synthAirflowChart({ celery: { extraContainers: [proxy()], extraInitContainers: [proxy({ name: 'warm-up' })] } });
    const spec = podSpec(manifests, 'airflow-celery-worker');
    expect(spec.containers.map((c: any) => c.name)).toEqual(['celery-worker', 'proxy']);
    expect(spec.initContainers.map((c: any) => c.name)).toEqual(['warm-up']);
  });

  test.each([
    ['a name the pod has', { name: 'scheduler' }, 'scheduler.extraContainers[0].name', /allowed: a container name not used in the pod already \(scheduler, wait-for-db, wait-for-airflow-migrations\)/],
    ['no resources', { resources: undefined }, 'scheduler.extraContainers[0].resources.requests.cpu', /allowed: requests and limits of cpu and memory/],
    ['no memory limit', { resources: { requests: RESOURCES.requests, limits: { cpu: q('1') } } }, 'scheduler.extraContainers[0].resources.limits.memory', /requests and limits/],
    ['a request above its limit', { resources: { requests: { cpu: q('2'), memory: q('32Mi') }, limits: RESOURCES.limits } }, 'scheduler.extraContainers[0].resources.requests.cpu', /at most the CPU limit/],
    ['privilege escalation', { securityContext: { allowPrivilegeEscalation: true } }, 'scheduler.extraContainers[0].securityContext.allowPrivilegeEscalation', /allowed: false: the component's own container has it/],
    ['root', { securityContext: { runAsUser: 0 } }, 'scheduler.extraContainers[0].securityContext.runAsUser', /allowed: 50000 \(Airflow's user\) or unset/],
    ['runAsNonRoot false', { securityContext: { runAsNonRoot: false } }, 'scheduler.extraContainers[0].securityContext.runAsNonRoot', /allowed: true/],
    ['a capability added', { securityContext: { capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] } } }, 'scheduler.extraContainers[0].securityContext.capabilities.add', /allowed: none/],
    ['capabilities not all dropped', { securityContext: { capabilities: { drop: ['NET_RAW'] } } }, 'scheduler.extraContainers[0].securityContext.capabilities.drop', /allowed: \["ALL"\]/],
    ['a writable root', { securityContext: { readOnlyRootFilesystem: false } }, 'scheduler.extraContainers[0].securityContext.readOnlyRootFilesystem', /allowed: true \(mount an emptyDir where it writes\)/],
    ['privileged', { securityContext: { privileged: true } }, 'scheduler.extraContainers[0].securityContext.privileged', /allowed: false/],
    ['an image without a tag', { image: 'envoyproxy/envoy' }, 'scheduler.extraContainers[0].image', /pinned by a tag or a digest/],
    ['a field Kubernetes 1.28 does not have', { restartPolcy: 'Always' } as any, 'scheduler.extraContainers[0].restartPolcy', /allowed: a field of a Kubernetes 1\.28 container \(k8s\.Container\): this one would not be written/],
    ['restartPolicy on a container that is not an init container', { restartPolicy: 'Always' }, 'scheduler.extraContainers[0].restartPolicy', /allowed: unset: only an init container has one \(restartPolicy: "Always" makes it a sidecar, Kubernetes 1\.29 and later\)/],
    ['a misspelt nested field', { securityContext: { readOnlyRootFileSystem: true } } as any, 'scheduler.extraContainers[0].securityContext.readOnlyRootFileSystem', /would not be written/],
  ])('refused: %s', (_name, extra, property, message) => {
    validationError(() => airflowChart({ scheduler: { extraContainers: [proxy(extra as Partial<k8s.Container>)] } }), property, message);
  });

  test('two of the same name, and a name a feature takes at synth, are refused', () => {
    expect(airflowError({ apiServer: { extraContainers: [proxy()], extraInitContainers: [proxy()] } }).property).toBe('apiServer.extraInitContainers[0].name');
    // The log groomer is added as a feature: known at synth only.
    expect(() => airflowChart({ scheduler: { extraContainers: [proxy({ name: 'log-groomer' })] }, logRetentionDays: 7 })).toThrow(
      /AirflowComponent at "test\/airflow\/scheduler": property "scheduler\.extraContainers" received a container named "log-groomer"; allowed: a name no other container of the pod has/,
    );
  });
});

describe('existing ServiceAccounts', () => {
  test('a component runs as the ServiceAccount the user manages; none is created; the RoleBinding binds the scheduler\'s', () => {
    const { manifests, airflow } = airflowChart({
      scheduler: { existingServiceAccountName: 'airflow-scheduler-irsa' },
      apiServer: { existingServiceAccountName: 'airflow-ui' },
      worker: { existingServiceAccountName: 'airflow-tasks' },
    });
    const accounts = byKind(manifests, 'ServiceAccount').map((s) => s.metadata.name);
    expect(accounts).not.toContain('airflow-scheduler');
    expect(accounts).not.toContain('airflow-api-server');
    expect(accounts).not.toContain('airflow-worker');
    expect(accounts).toContain('airflow-triggerer');
    expect(podSpec(manifests, 'airflow-scheduler').serviceAccountName).toBe('airflow-scheduler-irsa');
    expect(podSpec(manifests, 'airflow-scheduler').automountServiceAccountToken).toBe(true);
    expect(podSpec(manifests, 'airflow-api-server').serviceAccountName).toBe('airflow-ui');
    expect(find(manifests, 'RoleBinding', 'airflow-pod-launcher').subjects).toEqual([{ kind: 'ServiceAccount', name: 'airflow-scheduler-irsa', namespace: 'airflow' }]);
    const template = parse(find(manifests, 'ConfigMap', 'airflow-config').data['pod_template_file.yaml']);
    expect(template.spec.serviceAccountName).toBe('airflow-tasks');
    expect(airflow.userServiceAccounts).toEqual({ worker: 'airflow-tasks', scheduler: 'airflow-scheduler-irsa', 'api-server': 'airflow-ui' });
    expect(Object.keys(airflow.serviceAccounts)).not.toContain('scheduler');
  });

  test('Celery workers too', () => {
    const { manifests } = synthAirflowChart({ celery: { existingServiceAccountName: 'celery-irsa' } });
    expect(podSpec(manifests, 'airflow-celery-worker').serviceAccountName).toBe('celery-irsa');
    expect(byKind(manifests, 'ServiceAccount').map((s) => s.metadata.name)).not.toContain('airflow-celery-worker');
  });

  test('annotations the library would put on the ServiceAccount are refused, saying where to put them', () => {
    const own = airflowError({ serviceAccountAnnotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/a' }, worker: { existingServiceAccountName: 'airflow-tasks' } });
    expect(own.message).toBe(
      'KubernetesExecutorAirflow at "test/airflow": property "worker.serviceAccountAnnotations" received {"eks.amazonaws.com/role-arn":"arn:aws:iam::1:role/a"}; ' +
        'allowed: none with existingServiceAccountName "airflow-tasks": the library creates no ServiceAccount to put them on (the chart-wide serviceAccountAnnotations reach every component). ' +
        'Put them on ServiceAccount "airflow-tasks" yourself, and leave serviceAccountAnnotations out for this component.',
    );
    const logs = RemoteLogging.s3({ bucket: 'logs', region: 'eu-west-1', serviceAccountAnnotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/logs' } });
    const feature = airflowError({ remoteLogging: logs, worker: { existingServiceAccountName: 'airflow-tasks' } });
    expect(feature.message).toMatch(
      /^KubernetesExecutorAirflow at "test\/airflow": property "remoteLogging\.serviceAccountAnnotations" received \{.*\}; allowed: none for the worker pods, which run as ServiceAccount "airflow-tasks" \(existingServiceAccountName\): .* Put eks\.amazonaws\.com\/role-arn: arn:aws:iam::1:role\/logs on ServiceAccount "airflow-tasks" yourself/,
    );
    expect(airflowError({ scheduler: { existingServiceAccountName: 'Airflow_SA' } }).property).toBe('scheduler.existingServiceAccountName');
  });
});

describe('OpenShift (openShift: true)', () => {
  /** Every feature with pods of its own on, on volumes from a StorageClass (OpenShift allows no hostPath). */
  const OPENSHIFT: AirflowChartProps = {
    openShift: true,
    provisioning: StorageProvisioning.storageClass('gp3-csi'),
    celery: {},
    gitSync: { repository: 'https://github.com/org/dags.git' },
    metrics: true,
    logRetentionDays: 7,
    scheduler: { extraContainers: [proxy()] },
  };
  const { manifests, chart } = synthAirflowChart(OPENSHIFT);
  const pods = podsOf(manifests);

  test('no pod or container of the chart fixes a uid, a gid or an fsGroup, and every one runs as non-root', () => {
    expect(pods.map((p) => p.object)).toEqual(expect.arrayContaining([
      'Deployment/airflow-scheduler', 'StatefulSet/airflow-postgres', 'StatefulSet/airflow-redis', 'DaemonSet/airflow-image-pre-pull',
      'Deployment/airflow-git-sync', 'Deployment/airflow-statsd', expect.stringMatching(/^Job\/airflow-secrets-bootstrap-/), 'Deployment/airflow-celery-worker', 'ConfigMap/airflow-config pod_template_file.yaml',
    ]));
    for (const pod of pods) {
      expect([pod.object, pod.spec.securityContext?.runAsUser, pod.spec.securityContext?.runAsGroup, pod.spec.securityContext?.fsGroup]).toEqual([pod.object, undefined, undefined, undefined]);
      for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
        expect([pod.object, c.name, c.securityContext?.runAsUser, c.securityContext?.runAsGroup]).toEqual([pod.object, c.name, undefined, undefined]);
        expect([pod.object, c.name, c.securityContext?.runAsNonRoot ?? pod.spec.securityContext?.runAsNonRoot]).toEqual([pod.object, c.name, true]);
      }
    }
  });

  test('every pod meets the restricted Pod Security Standard, Postgres included (no root, no capability)', () => {
    for (const pod of pods) expect([pod.object, podSecurityViolations(pod.spec, PodSecurityLevel.RESTRICTED)]).toEqual([pod.object, []]);
    const postgres = pods.find((p) => p.object === 'StatefulSet/airflow-postgres')!.spec.containers[0];
    expect(postgres.securityContext).toEqual({
      runAsNonRoot: true, allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
    });
    // So the namespace is labelled restricted (without openShift, Postgres makes it baseline).
    expect(chart.podSecurityLevel).toBe(PodSecurityLevel.RESTRICTED);
    // PGDATA is a folder below the claim's root, which the fsGroup makes group-writable: the entrypoint creates it.
    expect(postgres.env).toContainEqual({ name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' });
  });

  test('the chart without it keeps uid 50000 / gid 0 and Postgres its capabilities', () => {
    const plain = podsOf(synthAirflowChart({ provisioning: StorageProvisioning.storageClass('gp3-csi') }).manifests);
    expect(plain.find((p) => p.object === 'Deployment/airflow-scheduler')!.spec.securityContext).toMatchObject({ runAsUser: 50000, runAsGroup: 0, fsGroup: 0 });
    expect(plain.find((p) => p.object === 'StatefulSet/airflow-postgres')!.spec.containers[0].securityContext.capabilities.add).toEqual(['CHOWN', 'DAC_OVERRIDE', 'SETGID', 'SETUID']);
  });

  test('refused: hostPath volumes, the volume-permissions Job, a fixed uid in a container of your own', () => {
    expect(validationError(() => new AirflowChart(Testing.app(), 'airflow', { openShift: true })).message).toMatch(
      /^KubernetesExecutorAirflow at "airflow\/airflow": property "openShift" received true; allowed: volumes from a StorageClass \(provisioning: StorageProvisioning\.storageClass\(\.\.\.\)\): OpenShift's restricted SCC allows no hostPath volume/,
    );
    expect(validationError(() => new AirflowChart(Testing.app(), 'airflow', { ...OPENSHIFT, fixVolumePermissions: true })).property).toBe('fixVolumePermissions');
    const uid = validationError(() => new AirflowChart(Testing.app(), 'airflow', { ...OPENSHIFT, scheduler: { extraContainers: [proxy({ securityContext: { runAsUser: 50000 } })] } }));
    expect(uid.message).toMatch(/property "scheduler\.extraContainers\[0\]\.securityContext\.runAsUser" received 50000; allowed: unset \(the platform assigns the uid\)/);
    expect(validationError(() => new AirflowChart(Testing.app(), 'airflow', { openShift: 'yes' as any })).property).toBe('openShift');
  });
});
