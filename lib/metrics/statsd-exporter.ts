import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import {
  Components,
  PodPlacementOptions,
  STATSD_METRICS_PORT,
  STATSD_PORT,
  airflowLabels,
  componentDeployment,
  namespaceOf,
  namedPortService,
  podPlacementFields,
  podTemplateMetadata,
  selectorLabels,
  sha256,
  validateChoice,
  validateDnsSubdomain,
  validateImage,
  validatePodOptions,
  refuseUnknownProps,
} from '../core';
import { airflowContainerSecurityContext, airflowPodSecurityContext } from '../security';
import { AirflowContribution, IAirflowFeature } from '../airflow/airflow-feature';
import type { KubernetesExecutorAirflow } from '../airflow/kubernetes-executor-airflow';
import { ContainerResources, airflowServiceAccount, pickPlacement, resourceRequirements } from '../airflow/pod-parts';
import { statsdMappingsYaml } from './statsd-mappings';

/** Where the exporter reads its mapping file (the ConfigMap's folder, mounted read-only). */
export const STATSD_MAPPINGS_PATH = '/etc/statsd-exporter/mappings.yml';
/** The pod template annotation that holds the sha256 of the mapping file: a new mapping rolls the exporter. */
export const STATSD_MAPPINGS_CHECKSUM_ANNOTATION = 'checksum/statsd-mappings';

/** The statsd-exporter image (prometheus/statsd_exporter), pinned by tag. */
export const DEFAULT_STATSD_EXPORTER_IMAGE = 'prom/statsd-exporter:v0.28.0';

/** CPU and memory of the statsd-exporter: a small Go process holding the current value of each metric. */
export const STATSD_EXPORTER_RESOURCES: ContainerResources = { cpuRequest: '10m', memoryRequest: '32Mi', cpuLimit: '200m', memoryLimit: '128Mi' };

/** Props for {@link StatsdExporter}; the placement options place its pod. */
export interface StatsdExporterProps extends PodPlacementOptions {
  /**
   * The control plane whose metrics it receives: `[metrics] statsd_*` point at it, and its pod is placed like
   * the control plane's unless placement options are given.
   * @default - none: only the exporter (point Airflow at `host` yourself)
   */
  readonly airflow?: KubernetesExecutorAirflow;

  /**
   * The statsd-exporter image.
   * @default DEFAULT_STATSD_EXPORTER_IMAGE - "prom/statsd-exporter:v0.28.0"
   */
  readonly image?: string;

  /**
   * The image pull policy.
   * @default "IfNotPresent"
   */
  readonly imagePullPolicy?: string;

  /**
   * The cluster's DNS domain, for the Service's in-cluster name that Airflow sends its metrics to.
   * @default "cluster.local"
   */
  readonly clusterDomain?: string;
}

/**
 * Airflow's metrics for Prometheus: a `statsd-exporter` Deployment that receives Airflow's StatsD metrics on
 * UDP {@link STATSD_PORT} and serves them at `:9102/metrics`, and its Service `airflow-statsd`, annotated for
 * Prometheus' annotation-based discovery (`prometheus.io/scrape`, `port`, `path`). The exporter reads the
 * mapping file of ConfigMap `airflow-statsd` ({@link AIRFLOW_STATSD_MAPPINGS}, as the official chart ships
 * one), which turns the DAG, task, pool, executor and file in Airflow's metric names into labels. The
 * exporter runs without a ServiceAccount token, as a non-root user with the restricted security context.
 */
export class StatsdExporter extends Construct implements IAirflowFeature {
  /** How messages name this feature: the AirflowChart prop. */
  public readonly featureName = 'metrics';
  /** The name of the Deployment, its ServiceAccount and its Service. */
  public readonly name: string;
  /** The in-cluster DNS name Airflow sends its metrics to (`[metrics] statsd_host`). */
  public readonly host: string;
  /** The StatsD port (UDP). */
  public readonly port: number;
  /** The ServiceAccount (no token). */
  public readonly serviceAccount: k8s.KubeServiceAccount;
  /** The Deployment. */
  public readonly deployment: k8s.KubeDeployment;
  /** The Service: `statsd` 9125/UDP, `metrics` 9102/TCP. */
  public readonly service: k8s.KubeService;
  /** The ConfigMap holding the mapping file (`mappings.yml`). */
  public readonly mappings: k8s.KubeConfigMap;

  constructor(scope: Construct, id: string, props: StatsdExporterProps = {}) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'StatsdExporterProps');
    const image = validateImage(this, 'image', props.image ?? DEFAULT_STATSD_EXPORTER_IMAGE);
    const imagePullPolicy = validateChoice(this, 'imagePullPolicy', props.imagePullPolicy ?? 'IfNotPresent', ['Always', 'IfNotPresent', 'Never']);
    const airflow = props.airflow;
    const openShift = airflow?.openShift ?? false;
    const clusterDomain = validateDnsSubdomain(this, 'clusterDomain', props.clusterDomain ?? airflow?.clusterDomain ?? 'cluster.local');
    const given = pickPlacement(props);
    const options: PodPlacementOptions = airflow && Object.keys(given).length === 0 ? pickPlacement(airflow.podOptions) : given;
    validatePodOptions(this, '', options);
    this.name = `airflow-${Components.STATSD}`;
    this.host = `${this.name}.${namespaceOf(this)}.svc.${clusterDomain}`;
    this.port = STATSD_PORT;
    const labels = airflowLabels(Components.STATSD);
    const selector = selectorLabels(Components.STATSD);
    const probe = (path: string): k8s.Probe => ({ httpGet: { path, port: k8s.IntOrString.fromString('metrics') }, periodSeconds: 10, timeoutSeconds: 5 });

    this.serviceAccount = airflowServiceAccount(this, 'service-account', this.name, Components.STATSD, false);
    const mappingsYaml = statsdMappingsYaml();
    this.mappings = new k8s.KubeConfigMap(this, 'mappings', {
      metadata: { name: this.name, labels },
      data: { 'mappings.yml': mappingsYaml },
    });
    this.deployment = componentDeployment(this, 'deployment', {
      name: this.name,
      labels,
      selector,
      replicas: 1,
      podMetadata: podTemplateMetadata(labels, options, { [STATSD_MAPPINGS_CHECKSUM_ANNOTATION]: sha256(mappingsYaml) }),
      podSpec: {
        serviceAccountName: this.name,
        automountServiceAccountToken: false,
        securityContext: airflowPodSecurityContext(openShift),
        ...podPlacementFields(options),
        containers: [
          {
            name: 'statsd-exporter',
            image,
            imagePullPolicy,
            args: [
              `--statsd.listen-udp=:${STATSD_PORT}`,
              `--statsd.listen-tcp=:${STATSD_PORT}`,
              `--web.listen-address=:${STATSD_METRICS_PORT}`,
              `--statsd.mapping-config=${STATSD_MAPPINGS_PATH}`,
            ],
            ports: [
              { name: 'statsd', containerPort: STATSD_PORT, protocol: 'UDP' },
              { name: 'metrics', containerPort: STATSD_METRICS_PORT, protocol: 'TCP' },
            ],
            readinessProbe: probe('/-/ready'),
            livenessProbe: probe('/-/healthy'),
            resources: resourceRequirements(STATSD_EXPORTER_RESOURCES),
            securityContext: airflowContainerSecurityContext(true, openShift),
            volumeMounts: [{ name: 'mappings', mountPath: '/etc/statsd-exporter', readOnly: true }],
          },
        ],
        volumes: [{ name: 'mappings', configMap: { name: this.name } }],
      },
    });

    this.service = namedPortService(this, 'service', {
      name: this.name,
      labels,
      selector,
      annotations: {
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(STATSD_METRICS_PORT),
        'prometheus.io/path': '/metrics',
      },
      ports: [
        { name: 'statsd', port: STATSD_PORT, protocol: 'UDP' },
        { name: 'metrics', port: STATSD_METRICS_PORT },
      ],
    });
    airflow?.addFeature(this);
  }

  /** `[metrics] statsd_on`, `statsd_host`, `statsd_port` and `statsd_prefix`: Airflow sends its metrics here. */
  public contribute(): AirflowContribution {
    return { config: { metrics: { statsd_on: true, statsd_host: this.host, statsd_port: this.port, statsd_prefix: 'airflow' } } };
  }
}
