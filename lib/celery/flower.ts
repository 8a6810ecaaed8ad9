import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { Components, FLOWER_PORT, airflowLabels, atSynth, componentDeployment, invalid, namedPortService, podPlacementFields, podTemplateMetadata, refuseUnknownProps, secretEnv, selectorLabels, validateSecretKeyRef } from '../core';
import { CONFIG_CHECKSUM_ANNOTATION } from '../airflow/airflow-configuration';
import type { KubernetesExecutorAirflow } from '../airflow/kubernetes-executor-airflow';
import { ContainerResources, airflowServiceAccount, pickPlacement, resolveResources, resourceRequirements } from '../airflow/pod-parts';
import { FlowerOptions } from './celery-options';

/** Props for {@link Flower}: the control plane whose image and `airflow.cfg` it runs, the broker's environment, and its options. */
export interface FlowerProps extends FlowerOptions {
  /** The control plane: Flower runs its image and `airflow.cfg`, with the Celery workers' environment. */
  readonly airflow: KubernetesExecutorAirflow;
  /** The broker's environment (`CeleryWorkers.brokerEnv()`): Flower is a Celery client like the workers. */
  readonly brokerEnv: () => k8s.EnvVar[];
}

/** The variable Airflow reads `[celery] flower_basic_auth` from, which `airflow celery flower` passes as `--basic-auth`. */
export const FLOWER_BASIC_AUTH_ENV = 'AIRFLOW__CELERY__FLOWER_BASIC_AUTH';

/**
 * Flower, the Celery workers' web UI, as the official Helm chart runs it (chart/templates/flower/
 * flower-deployment.yaml and flower-service.yaml, values `flower:`): one pod of `airflow celery flower` in the
 * control plane's image with its `airflow.cfg`, the broker's environment, the port `[celery] flower_port` 5555,
 * and a ClusterIP Service `airflow-flower` on it (port `flower-ui`). Its login is `[celery] flower_basic_auth`
 * from a Secret key (`AIRFLOW__CELERY__FLOWER_BASIC_AUTH`); without one it is refused unless
 * `unauthenticated: true`: Flower can revoke and kill running tasks and shut down the workers. The celery
 * provider's `flower` command (cli/celery_command.py, `action_cli(check_db=False)`) passes `[celery] flower_host`,
 * `flower_port`, `flower_url_prefix` and `flower_basic_auth` to Flower and never opens the metadata database: Flower
 * gets the Celery workers' environment (no database credentials on Airflow 3). The pod runs as
 * Airflow's user with the restricted security context and no Kubernetes API token; its probes are the chart's
 * (curl on the UI, with the login), timings included.
 */
export class Flower extends Construct {
  /**
   * The default resources: chosen, not measured here (the runtime root has no Flower): an `airflow` CLI process
   * with Celery and Tornado, below the Celery worker's request (`CeleryWorkers.DEFAULT_RESOURCES`).
   */
  public static readonly DEFAULT_RESOURCES: ContainerResources = {
    cpuRequest: '50m',
    memoryRequest: '256Mi',
    cpuLimit: '500m',
    memoryLimit: '512Mi',
  };

  /** The name of the Deployment, its Service and ServiceAccount. */
  public readonly name: string;
  /** The Secret key of the login; undefined when `unauthenticated`. */
  public readonly basicAuthSecret: { readonly name: string; readonly key: string } | undefined;
  /** The container's resources. */
  public readonly resources: ContainerResources;
  /** The ServiceAccount (no token). */
  public readonly serviceAccount: k8s.KubeServiceAccount;
  /** The Deployment. */
  public readonly deployment: k8s.KubeDeployment;
  /** The Service (ClusterIP, port 5555). */
  public readonly service: k8s.KubeService;

  constructor(scope: Construct, id: string, props: FlowerProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'FlowerProps');
    const { airflow, brokerEnv, basicAuthSecret, unauthenticated, resources } = props;
    if (unauthenticated !== undefined && typeof unauthenticated !== 'boolean') invalid(this, 'unauthenticated', unauthenticated, 'true or false');
    if (typeof basicAuthSecret === 'string') {
      invalid(
        this,
        'basicAuthSecret',
        '(value not shown)',
        'a reference to the Secret key holding "user:password" ({ name, key }), never the value: it would be in the YAML',
        'Create a Secret with the key (kubectl create secret generic flower-auth --from-literal=basic-auth=admin:<password>) and give { name: "flower-auth", key: "basic-auth" }.',
      );
    }
    if (basicAuthSecret !== undefined && unauthenticated === true) {
      invalid(this, 'unauthenticated', unauthenticated, 'false (or unset) with a basicAuthSecret: Flower asks for the login either way', 'Remove unauthenticated, or the basicAuthSecret.');
    }
    if (basicAuthSecret === undefined && unauthenticated !== true) {
      invalid(
        this,
        'basicAuthSecret',
        undefined,
        "a Secret key reference { name, key } holding Flower's login \"user:password\": without one, whoever reaches Flower's port can revoke and kill running tasks and shut the Celery workers down (Flower's REST API)",
        'Give celery.flower a basicAuthSecret, or set unauthenticated: true for a Flower behind an authenticating proxy.',
      );
    }
    this.basicAuthSecret = basicAuthSecret === undefined ? undefined : validateSecretKeyRef(this, 'basicAuthSecret', basicAuthSecret);
    this.resources = resolveResources(this, 'resources', Flower.DEFAULT_RESOURCES, resources);
    this.name = `airflow-${Components.FLOWER}`;
    const labels = airflowLabels(Components.FLOWER);
    const selector = selectorLabels(Components.FLOWER);
    // The chart-wide placement (node selector, tolerations, ...), as Redis gets it.
    const placement = pickPlacement(airflow.podOptions);

    this.serviceAccount = airflowServiceAccount(this, 'service-account', this.name, Components.FLOWER, false);
    // The chart's probe (curl on the UI, with the login), through sh so that the login's variable is expanded
    // (the first user of a comma-separated list); --fail: a 401 means a login that Flower does not accept.
    const user = this.basicAuthSecret === undefined ? '' : ` --user "\${${FLOWER_BASIC_AUTH_ENV}%%,*}"`;
    const curl: k8s.ExecAction = {
      command: ['sh', '-c', `exec curl --silent --fail --max-time 4 --output /dev/null${user} http://localhost:${FLOWER_PORT}/`],
    };
    this.deployment = componentDeployment(this, 'deployment', {
      name: this.name,
      labels,
      selector,
      // One replica, as the chart's: Flower keeps the workers' events in memory, two would show two views.
      replicas: 1,
      podMetadata: podTemplateMetadata(labels, placement, { [CONFIG_CHECKSUM_ANNOTATION]: airflow.configuration.checksumAtSynth() }),
      podSpec: {
        ...podPlacementFields(placement),
        serviceAccountName: this.name,
        automountServiceAccountToken: false,
        securityContext: airflow.airflowPodSecurityContext(),
        containers: [
          {
            name: Components.FLOWER,
            image: airflow.image,
            imagePullPolicy: airflow.imagePullPolicy,
            // The chart's args (values `flower.args`): the port is [celery] flower_port (5555, set by CeleryWorkers).
            args: ['bash', '-c', 'exec airflow celery flower'],
            env: atSynth(() => [
              ...airflow.taskEnv(Components.FLOWER),
              ...brokerEnv(),
              ...(this.basicAuthSecret === undefined ? [] : [secretEnv(FLOWER_BASIC_AUTH_ENV, this.basicAuthSecret)]),
            ]),
            ports: [{ name: 'flower-ui', containerPort: FLOWER_PORT, protocol: 'TCP' }],
            // The chart's timings (values flower.livenessProbe, readinessProbe, startupProbe).
            livenessProbe: { exec: curl, initialDelaySeconds: 10, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 10 },
            readinessProbe: { exec: curl, initialDelaySeconds: 10, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 10 },
            startupProbe: { exec: curl, initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 20, failureThreshold: 6 },
            resources: resourceRequirements(this.resources),
            securityContext: airflow.airflowContainerSecurityContext(),
            volumeMounts: atSynth(() => airflow.airflowVolumeMounts(Components.FLOWER)),
          },
        ],
        volumes: atSynth(() => [...airflow.airflowPodVolumes(Components.FLOWER), ...airflow.contributed('volumes', Components.FLOWER)]),
      },
    });
    this.service = namedPortService(this, 'service', { name: this.name, labels, selector, ports: [{ name: 'flower-ui', port: FLOWER_PORT }] });
  }
}
