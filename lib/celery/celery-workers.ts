import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import {
  AirflowGeneration,
  Components,
  DeploymentStrategy,
  componentDeployment,
  podTemplateMetadata,
  MINIMUM_MULTIPLE_EXECUTORS_VERSION,
  FLOWER_PORT,
  REDIS_PORT,
  airflowLabels,
  atSynth,
  buildPart,
  invalid,
  namespaceOf,
  requestAirflowSecret,
  resolveDeploymentStrategy,
  secretEnv,
  selectorLabels,
  validateInteger,
  validateSecretKeyRef,
  refuseUnknownProps,
} from '../core';
import { CONFIG_CHECKSUM_ANNOTATION } from '../airflow/airflow-configuration';
import { AirflowContribution, IAirflowFeature } from '../airflow/airflow-feature';
import type { KubernetesExecutorAirflow } from '../airflow/kubernetes-executor-airflow';
import { CeleryOptions } from './celery-options';
import { ContainerResources, airflowServiceAccount, pickPlacement, resolvePodOptions, resolveResources, resourceRequirements } from '../airflow/pod-parts';
import { RedisBroker } from './redis-broker';
import { refuseAnnotationsOnExistingServiceAccount, resolveExistingServiceAccount, resolveExtraContainers, resolveProbe } from '../airflow/component-extras';
import { CeleryAutoscaler } from './celery-autoscaler';
import { Flower } from './flower';

/** Props for {@link CeleryWorkers}: the control plane they plug into, and how they run. */
export interface CeleryWorkersProps extends CeleryOptions {
  /** The control plane: the workers run its image with the task pods' environment, volumes and features. */
  readonly airflow: KubernetesExecutorAirflow;
}

/** The environment variable that carries the broker's password into Airflow containers (from its Secret). */
export const BROKER_PASSWORD_ENV = 'AIRFLOW_BROKER_PASSWORD';

/**
 * The Celery workers' liveness probe: Celery's own ping through the broker, answered by the worker's main process.
 * Celery with the broker URL alone: no Airflow import, so the probe costs a fraction of a second and ~40 MiB.
 * Its timings may be changed with `livenessProbe` (within the limits of `resolveProbe`).
 */
export const CELERY_LIVENESS_PROBE: k8s.Probe = {
  exec: {
    command: [
      'sh',
      '-c',
      'exec python -m celery --broker "$AIRFLOW__CELERY__BROKER_URL" inspect ping --destination "celery@$(hostname)" --timeout 10',
    ],
  },
  initialDelaySeconds: 60,
  periodSeconds: 60,
  timeoutSeconds: 30,
  failureThreshold: 5,
};

const QUEUE = /^[A-Za-z0-9_.-]{1,200}$/;

/**
 * The CeleryExecutor's side of hybrid executors: a Deployment of `airflow celery worker` pods
 * (`airflow-celery-worker`) and, unless the broker is external, the Redis broker they and the scheduler share
 * ({@link RedisBroker}). Built by `KubernetesExecutorAirflow` when its `celery` option is set, which also lists
 * the CeleryExecutor in `[core] executor` and gives the scheduler the broker's environment.
 *
 * A worker runs tasks like a task pod does, with the task pods' environment: on Airflow 3 no database
 * credentials and no fernet key (a task talks to the api-server's execution API with the token the scheduler
 * gives it), on Airflow 2 the database connection and fernet key. It gets no Kubernetes API token, runs
 * with the restricted security context as Airflow's user, and on SIGTERM stops taking tasks and finishes the
 * running ones within `terminationGracePeriodSeconds` (Celery's warm shutdown; `DUMB_INIT_SETSID=0` so
 * that the image's init passes SIGTERM to the worker only, not to the processes running tasks). Its liveness
 * probe pings the worker through the broker (`celery inspect ping`), as the official Helm chart does.
 */
export class CeleryWorkers extends Construct implements IAirflowFeature {
  /**
   * The default resources of a worker container, sized like the other components' from the runtime stage's
   * measurements on Airflow 3.1 (docs/celery.md): the request above the largest PSS seen (465 MiB, one task
   * running) with room for the second pool slot's task, the limit keeping the largest RSS (1034 MiB) near half
   * of it, for two real tasks and the liveness probe's Python. CPU is not measured.
   */
  public static readonly DEFAULT_RESOURCES: ContainerResources = {
    cpuRequest: '200m',
    memoryRequest: '512Mi',
    cpuLimit: '1',
    memoryLimit: '2Gi',
  };

  /**
   * `[celery_broker_transport_options] socket_timeout` with the in-cluster Redis, in seconds: how long a read of
   * a broker connection may wait. kombu waits without limit by default, and a worker's event loop can block in
   * a read of its BRPOP connection that no reply will ever answer: the worker logs `ready`, takes no task and
   * answers no `celery inspect ping` until the liveness probe gets it restarted, minutes later. Seen on the real
   * node (Celery 5.5.2, kombu 5.5.3, redis-py 6.1: the main process in `recv` from `_brpop_read`, Redis holding
   * no command of that connection; the same stack as celery/celery#2606, #4321, #2464). With a timeout the read
   * fails, and the consumer reconnects ("Connection to broker lost") within it. Redis answers a command in
   * milliseconds, and the worker's one long command (BRPOP) waits 1 s, so 10 s never cuts a healthy read.
   * `config` may change it.
   */
  public static readonly BROKER_SOCKET_TIMEOUT_SECONDS = 10;

  /** The environment variables the workers get from the library, which pod options cannot replace. */
  public static readonly RESERVED_ENV: readonly string[] = [
    BROKER_PASSWORD_ENV,
    'AIRFLOW__CELERY__BROKER_URL',
    'AIRFLOW__CELERY__RESULT_BACKEND',
    'DUMB_INIT_SETSID',
  ];

  /** The name of the Deployment and its ServiceAccount. */
  public readonly name: string;
  /** How many worker pods (1 when unset; the autoscaler's minimum and maximum rule instead when there is one). */
  public readonly replicas: number;
  /** Tasks per worker pod. */
  public readonly concurrency: number;
  /** The queues the workers take tasks from. */
  public readonly queues: string[];
  /** The worker container's resources. */
  public readonly resources: ContainerResources;
  /** Seconds a stopping worker may finish its tasks. */
  public readonly terminationGracePeriodSeconds: number;
  /** The worker's command, as the container runs it in `bash -c`. */
  public readonly command: string;
  /** What scales the workers (`keda` or `hpa`); undefined with a fixed `replicas`. */
  public readonly autoscaler: CeleryAutoscaler | undefined;
  /** Flower, the workers' web UI (`flower`); undefined without it. */
  public readonly flower: Flower | undefined;
  /** The Redis broker; undefined with an external broker. */
  public readonly broker: RedisBroker | undefined;
  /** The ServiceAccount (no token); undefined when the workers run as one the user manages (`existingServiceAccountName`). */
  public readonly serviceAccount: k8s.KubeServiceAccount | undefined;
  /** The name of the ServiceAccount the workers run as. */
  public readonly serviceAccountName: string;
  /** The Deployment. */
  public readonly deployment: k8s.KubeDeployment;

  /** How messages name this feature: the AirflowChart prop. */
  public readonly featureName = 'celery';
  /** Whether the CeleryExecutor is the default executor (first in `[core] executor`). */
  public readonly defaultExecutor: boolean;

  private readonly brokerEnvOf: (optionalPassword: boolean) => k8s.EnvVar[];

  constructor(scope: Construct, id: string, props: CeleryWorkersProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'CeleryWorkersProps');
    const airflow = props.airflow;
    const {
      replicas, resources, strategy, concurrency, queues, terminationGracePeriodSeconds, defaultExecutor, externalBroker, redis, keda, hpa, flower,
      extraContainers, extraInitContainers, livenessProbe, readinessProbe, startupProbe, existingServiceAccountName,
      ...celeryPod
    } = props;
    delete (celeryPod as { airflow?: unknown }).airflow;
    if (!airflow.airflowVersion.supportsMultipleExecutors) {
      const { airflow: _, ...options } = props;
      invalid(
        airflow,
        'celery',
        options,
        `no Celery workers on Airflow ${airflow.airflowVersion}: they run beside the KubernetesExecutor ` +
          `([core] executor = KubernetesExecutor,CeleryExecutor), and Airflow runs several executors at once only ` +
          `from ${MINIMUM_MULTIPLE_EXECUTORS_VERSION}`,
        `Use an image of Airflow ${MINIMUM_MULTIPLE_EXECUTORS_VERSION} or newer (2.11, 3.x), or leave celery unset.`,
      );
    }
    this.defaultExecutor = defaultExecutor ?? false;
    this.name = `airflow-${Components.CELERY_WORKER}`;
    const autoscaled = keda !== undefined || hpa !== undefined;
    if (autoscaled && replicas !== undefined) {
      invalid(
        this,
        'replicas',
        replicas,
        `nothing with ${keda !== undefined ? 'keda' : 'hpa'}: the autoscaler sets the number of worker pods, and a fixed replicas would reset it at every kubectl apply`,
        `Remove replicas and give ${keda !== undefined ? 'keda' : 'hpa'} its minReplicas and maxReplicas.`,
      );
    }
    this.replicas = validateInteger(this, 'replicas', replicas ?? 1, 1, 100);
    this.concurrency = validateInteger(airflow, 'celery.concurrency', concurrency ?? 2, 1, 256);
    const defaultQueue = airflow.configuration.get('operators', 'default_queue') ?? 'default';
    this.queues = this.validateQueues(queues ?? [defaultQueue], defaultQueue);
    this.resources = resolveResources(this, 'resources', CeleryWorkers.DEFAULT_RESOURCES, resources);
    this.terminationGracePeriodSeconds = validateInteger(this, 'terminationGracePeriodSeconds', terminationGracePeriodSeconds ?? 600, 30, 7 * 24 * 3600);
    const reserved = airflow.reservedNames(Components.CELERY_WORKER);
    const pod = resolvePodOptions(airflow, 'celery', airflow.podOptionsFor(celeryPod), [...reserved.env, ...CeleryWorkers.RESERVED_ENV], reserved.volumes);
    const generation = airflow.generation;

    // The broker, and the environment its clients (the scheduler and the workers) read it from. URLs are built
    // from references the kubelet expands ($(VAR) of an earlier entry): no password is ever in the YAML.
    const clusterDomain = airflow.clusterDomain;
    const namespace = namespaceOf(this);
    this.checkBrokerTls(airflow, externalBroker !== undefined);
    if (externalBroker !== undefined) {
      if (redis !== undefined) {
        invalid(this, 'redis', redis, 'no redis options with an externalBroker: no Redis runs in the cluster then');
      }
      const url = validateSecretKeyRef(this, 'externalBroker.urlSecret', externalBroker.urlSecret);
      const results =
        externalBroker.resultBackendSecret === undefined
          ? undefined
          : validateSecretKeyRef(this, 'externalBroker.resultBackendSecret', externalBroker.resultBackendSecret);
      this.broker = undefined;
      // Your own Secret, there before Celery is turned on: required everywhere (optional, a missing URL would
      // leave the scheduler on Airflow's default broker URL).
      this.brokerEnvOf = () => [
        secretEnv('AIRFLOW__CELERY__BROKER_URL', url),
        results !== undefined
          ? secretEnv('AIRFLOW__CELERY__RESULT_BACKEND', results)
          : { name: 'AIRFLOW__CELERY__RESULT_BACKEND', value: this.defaultResultBackend(generation, '$(AIRFLOW__CELERY__BROKER_URL)') },
      ];
    } else {
      requestAirflowSecret(airflow, 'brokerPassword'); // the generated Secret then holds it
      const password = airflow.secretRef(
        'brokerPassword',
        "a Secret key reference { name, key } of the Celery broker's password, when Celery workers run with the in-cluster broker",
        'Add brokerPassword to AirflowSecrets.fromExistingSecrets(...) / existingSecrets, or give celery an externalBroker.',
      );
      this.broker = new RedisBroker(this, 'redis', { ...redis, passwordSecret: password, placement: pickPlacement(airflow.podOptions) });
      const host = this.broker.host(namespace, clusterDomain);
      const redisUrl = (db: number) => `redis://:$(${BROKER_PASSWORD_ENV})@${host}:${REDIS_PORT}/${db}`;
      this.brokerEnvOf = (optional) => [
        secretEnv(BROKER_PASSWORD_ENV, password, optional ? true : undefined),
        // Tasks in database 0, their results in database 1.
        { name: 'AIRFLOW__CELERY__BROKER_URL', value: redisUrl(0) },
        { name: 'AIRFLOW__CELERY__RESULT_BACKEND', value: this.defaultResultBackend(generation, redisUrl(1)) },
      ];
    }

    this.flower = flower === undefined
      ? undefined
      : buildPart(this, 'flower', () => new Flower(this, 'flower', { ...flower, airflow, brokerEnv: () => this.brokerEnv() }));

    this.command = [
      'airflow celery worker',
      `--concurrency ${this.concurrency}`,
      `--queues ${this.queues.join(',')}`,
      // Task logs go to the shared logs volume, which the UI reads: the worker's own log server (a process of
      // its own, and a port the UI could only reach with the pod's name in DNS) is not needed.
      '--skip-serve-logs',
    ].join(' ');

    this.autoscaler = autoscaled
      ? new CeleryAutoscaler(this, 'autoscaler', {
          deploymentName: this.name,
          database: airflow.database,
          query: { concurrency: this.concurrency, queues: this.queues, celeryIsDefault: this.defaultExecutor },
          keda,
          hpa,
        })
      : undefined;
    // With an autoscaler the Deployment leaves `replicas` to it (as the official chart does): a fixed count
    // would put the workers back to it at every apply.
    const rolloutReplicas = this.autoscaler !== undefined ? Math.max(1, this.autoscaler.minReplicas) : this.replicas;

    const labels = airflowLabels(Components.CELERY_WORKER);
    const existingAccount = resolveExistingServiceAccount(airflow, 'celery', existingServiceAccountName, pod.serviceAccountAnnotations);
    this.serviceAccountName = existingAccount ?? this.name;
    this.serviceAccount = existingAccount === undefined
      ? airflowServiceAccount(this, 'service-account', this.name, Components.CELERY_WORKER, false, pod.serviceAccountAnnotations)
      : undefined;
    const context = { reservedNames: [Components.CELERY_WORKER], securityContext: airflow.airflowContainerSecurityContext() };
    const userContainers = resolveExtraContainers(airflow, 'celery.extraContainers', extraContainers, context);
    const userInit = resolveExtraContainers(airflow, 'celery.extraInitContainers', extraInitContainers, {
      ...context,
      reservedNames: [...context.reservedNames, ...userContainers.map((c) => c.name)],
    });
    const probe = resolveProbe(airflow, 'celery', 'livenessProbe', CELERY_LIVENESS_PROBE, livenessProbe);
    resolveProbe(airflow, 'celery', 'readinessProbe', undefined, readinessProbe);
    resolveProbe(airflow, 'celery', 'startupProbe', undefined, startupProbe);
    this.deployment = componentDeployment(this, 'deployment', {
      name: this.name,
      labels,
      selector: selectorLabels(Components.CELERY_WORKER),
      replicas: this.autoscaler === undefined ? this.replicas : undefined,
      // One pod at a time, never one more than `replicas`: a rollout on a full node does not wait for room
      // for a surge pod, and a stopping pod finishes its tasks while the others keep working.
      strategy: resolveDeploymentStrategy(this, 'strategy', strategy, DeploymentStrategy.rollingUpdate({ maxSurge: 0, maxUnavailable: 1 }), rolloutReplicas),
      podMetadata: podTemplateMetadata(labels, pod, { [CONFIG_CHECKSUM_ANNOTATION]: airflow.configuration.checksumAtSynth() }),
      podSpec: {
        ...pod.placement,
        serviceAccountName: this.serviceAccountName,
        automountServiceAccountToken: false,
        terminationGracePeriodSeconds: this.terminationGracePeriodSeconds,
        securityContext: airflow.airflowPodSecurityContext(),
        // The features' init containers (git-sync's one-time sync in sidecar mode), read at synth like the sidecars.
        initContainers: atSynth(() => {
          const init = [...airflow.contributed('initContainers', Components.CELERY_WORKER), ...userInit];
          return init.length ? init : undefined;
        }),
        containers: atSynth(() => [
          {
            name: Components.CELERY_WORKER,
            image: airflow.workerImage,
            imagePullPolicy: airflow.imagePullPolicy,
            args: ['bash', '-c', `exec ${this.command}`],
            env: atSynth(() => [
              ...airflow.taskEnv(Components.CELERY_WORKER),
              ...this.brokerEnv(),
              // The official image's init (dumb-init) signals only the worker, not its process group: the
              // worker then shuts down warm instead of its pool processes dying with their tasks.
              { name: 'DUMB_INIT_SETSID', value: '0' },
              ...pod.env,
            ]),
            ...(pod.envFrom.length ? { envFrom: pod.envFrom } : {}),
            resources: resourceRequirements(this.resources),
            livenessProbe: probe,
            securityContext: airflow.airflowContainerSecurityContext(),
            volumeMounts: atSynth(() => [...airflow.airflowVolumeMounts(Components.CELERY_WORKER), ...pod.volumeMounts]),
          },
          ...airflow.contributed('sidecars', Components.CELERY_WORKER),
          ...userContainers,
        ]),
        volumes: atSynth(() => [...airflow.airflowPodVolumes(Components.CELERY_WORKER), ...pod.volumes, ...airflow.contributed('volumes', Components.CELERY_WORKER)]),
      },
    });
    // The features' ServiceAccount annotations for task-running pods (remote logging's cloud identity).
    const annotations = airflow.serviceAccountAnnotationsFor(Components.CELERY_WORKER);
    if (existingAccount !== undefined) refuseAnnotationsOnExistingServiceAccount(airflow, 'a feature', Components.CELERY_WORKER, existingAccount, annotations);
    for (const [key, value] of Object.entries(annotations)) this.serviceAccount?.metadata.addAnnotation(key, value);
    if (this.autoscaler?.hpa !== undefined) {
      // The HPA computes CPU use against the pod's request: a container without one (a feature's sidecar) leaves
      // it without a figure ("missing request for cpu"), and the workers are never scaled.
      this.node.addValidation({
        validate: () =>
          airflow
            .contributed('sidecars', Components.CELERY_WORKER)
            .filter((c) => (c as k8s.Container).resources?.requests?.cpu === undefined)
            .map(
              (c) =>
                `CeleryWorkers at "${this.node.path}": property "hpa" received ${JSON.stringify(hpa)}; allowed: only with a CPU request on every ` +
                `container of the worker pods: the sidecar "${(c as k8s.Container).name}" has none, and the HPA cannot compute the pods' CPU use ` +
                '(missing request for cpu). Use keda, or give that sidecar a CPU request.',
            ),
      });
    }
    airflow.addFeature(this);
  }

  /** The CeleryExecutor beside the KubernetesExecutor, its concurrency, and the broker's environment for the scheduler. */
  public contribute(): AirflowContribution {
    return {
      executor: { name: 'CeleryExecutor', isDefault: this.defaultExecutor },
      // Flower's port, which its Service and NetworkPolicy name: set, so that a config of another is refused.
      config: { celery: { worker_concurrency: this.concurrency, ...(this.flower !== undefined ? { flower_port: FLOWER_PORT } : {}) } },
      // Redis only: an external broker's scheme is in its Secret, and the option is kombu's Redis transport's.
      ...(this.broker !== undefined
        ? { defaultConfig: { celery_broker_transport_options: { socket_timeout: CeleryWorkers.BROKER_SOCKET_TIMEOUT_SECONDS } } }
        : {}),
      env: { [Components.SCHEDULER]: this.brokerEnv({ optionalPassword: true }) },
    };
  }

  /**
   * The environment of the broker's clients, in this order: the broker password (in-cluster broker),
   * `AIRFLOW__CELERY__BROKER_URL`, `AIRFLOW__CELERY__RESULT_BACKEND`. For the scheduler with
   * `optionalPassword` (in-cluster broker only): a generated Secret that lacks the broker's key (one created
   * before Celery was turned on) then leaves the scheduler running its KubernetesExecutor tasks, while Redis and
   * the workers report the missing key.
   */
  public brokerEnv(options: { readonly optionalPassword?: boolean } = {}): k8s.EnvVar[] {
    return this.brokerEnvOf(options.optionalPassword === true);
  }

  /**
   * Where the workers report task results: the metadata database where they use it anyway (Airflow 2: what
   * Airflow recommends), the broker where they must not (Airflow 3: the workers have no database credentials;
   * the executor only learns from it that a Celery task ended, the task's state goes through the execution API).
   */
  private defaultResultBackend(generation: AirflowGeneration, brokerResults: string): string {
    return generation.workersUseDatabase ? 'db+$(AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)' : brokerResults;
  }

  /**
   * `[celery] ssl_active` where synth can tell it would not connect. With it, Airflow's celery provider
   * (`default_celery.py`) hands the broker `broker_use_ssl` = { ssl_keyfile, ssl_certfile, ssl_ca_certs from
   * `[celery] ssl_key`, `ssl_cert`, `ssl_cacert`, ssl_cert_reqs: CERT_REQUIRED } for any `redis://` or
   * `rediss://` URL: the in-cluster Redis serves plain `redis://` only, and an empty `ssl_cacert` is passed to
   * redis-py as the CA file "" (`load_verify_locations` raises FileNotFoundError at the first connection).
   */
  private checkBrokerTls(airflow: KubernetesExecutorAirflow, external: boolean): void {
    const sslActive = airflow.configuration.get('celery', 'ssl_active');
    if (sslActive === undefined || !['t', 'true', '1'].includes(sslActive.trim().toLowerCase())) return;
    if (!external) {
      invalid(
        airflow,
        'config.celery.ssl_active',
        sslActive,
        'false (or unset) with the in-cluster broker: its Redis serves plain redis:// without TLS, and with ' +
          'ssl_active Airflow connects to it with TLS (broker_use_ssl), which fails',
        'Remove config.celery.ssl_active, or give celery an externalBroker that serves TLS (rediss://).',
      );
    }
    const caFile = airflow.configuration.get('celery', 'ssl_cacert');
    if (caFile === undefined || caFile.trim() === '') {
      invalid(
        airflow,
        'config.celery.ssl_cacert',
        caFile,
        'the path of a CA file mounted in the scheduler and the Celery workers, with config.celery.ssl_active: ' +
          'Airflow passes ssl_cacert to the broker connection as its CA file, and an empty one fails at the first ' +
          'connection (No such file or directory)',
        'Mount the CA file (pod options volumes) and set config.celery.ssl_cacert to its path; or leave ' +
          'ssl_active unset and end the rediss:// URL in your Secret with ?ssl_cert_reqs=required, which verifies ' +
          "the broker's certificate against the image's CA store (docs/celery.md, \"A broker of your own\").",
      );
    }
  }

  private validateQueues(queues: unknown, defaultQueue: string): string[] {
    if (!Array.isArray(queues) || queues.length === 0) {
      invalid(this, 'queues', queues, 'a non-empty list of Celery queue names, e.g. ["default", "sensors"]');
    }
    queues.forEach((q, i) => {
      if (typeof q !== 'string' || !QUEUE.test(q)) {
        invalid(this, `queues[${i}]`, q, "a queue name of letters, digits, '_', '.' and '-' (no commas)");
      }
    });
    if (new Set(queues).size !== queues.length) invalid(this, 'queues', queues, 'queue names without repeats');
    if (!queues.includes(defaultQueue)) {
      invalid(
        this,
        'queues',
        queues,
        `a list that includes ${JSON.stringify(defaultQueue)} ([operators] default_queue): Celery tasks without a queue go there, and no other worker would take them`,
        `Did you mean ${JSON.stringify([defaultQueue, ...queues])}?`,
      );
    }
    return [...queues];
  }

}
