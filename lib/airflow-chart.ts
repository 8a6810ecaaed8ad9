import { ApiObject, Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { AirflowConfigValues } from './airflow-config-validation';
import { AirflowNamespace } from './airflow-namespace';
import { AirflowSecrets, ExistingAirflowSecretsProps } from './airflow-secrets';
import { AirflowVolumes } from './airflow-volumes';
import { KubernetesExecutorAirflow } from './kubernetes-executor-airflow';
import { MetadataDb } from './metadata-db';
import { AirflowNetworkPolicies } from './network-policies';
import { PodSecurityLevel, podSecurityLabels, podSecurityLevelOf } from './pod-security';
import { StorageProvisioning } from './storage-provisioning';
import { invalid } from './validation';

/** Props for {@link AirflowChart}. */
export interface AirflowChartProps extends ChartProps {
  /**
   * How persistent storage (the dags, logs and data volumes, and the database's) is provisioned.
   * @default StorageProvisioning.hostPath() - minikube: static volumes under /data
   */
  readonly provisioning?: StorageProvisioning;

  /**
   * The Airflow image (see {@link KubernetesExecutorAirflowProps.image}).
   * @default DEFAULT_AIRFLOW_IMAGE - "apache/airflow:3.1.3"
   */
  readonly image?: string;

  /**
   * The Airflow version in the image; required when the image's tag does not name it.
   * @default - the version in the image's tag
   */
  readonly airflowVersion?: string;

  /**
   * The image pull policy.
   * @default "IfNotPresent"
   */
  readonly imagePullPolicy?: string;

  /**
   * `[core] parallelism`.
   * @default 4
   */
  readonly parallelism?: number;

  /**
   * The slots of `default_pool`.
   * @default 2
   */
  readonly defaultPoolSlots?: number;

  /**
   * Whether to run the triggerer.
   * @default true
   */
  readonly triggerer?: boolean;

  /**
   * Your own Airflow settings, `{ section: { key: value } }`.
   * @default - none
   */
  readonly config?: AirflowConfigValues;

  /**
   * Secrets that already exist (sealed-secrets, external-secrets, a vault): nothing is generated then.
   * `databasePassword` is required, for the in-cluster Postgres.
   * @default - generated once inside the cluster by the bootstrap Job (Secret `airflow-secrets`)
   */
  readonly existingSecrets?: ExistingAirflowSecretsProps;

  /**
   * Whether to add NetworkPolicies: only Airflow components reach Postgres on 5432. They need a network plugin
   * that enforces them (minikube's default does not: `minikube start --cni=calico`).
   * @default false
   */
  readonly networkPolicies?: boolean;
}

/**
 * Airflow on Kubernetes with the KubernetesExecutor, in one chart: the namespace, the volumes, the generated
 * secrets, the metadata database (Postgres in the cluster) and the Airflow control plane.
 */
export class AirflowChart extends Chart {
  /** The Namespace. */
  public readonly airflowNamespace: AirflowNamespace;

  /** The dags, logs and data volumes. */
  public readonly volumes: AirflowVolumes;

  /** Airflow's secrets (generated in the cluster by a Job, once). */
  public readonly secrets: AirflowSecrets;

  /** The metadata database. */
  public readonly metadataDb: MetadataDb;

  /** The Airflow control plane. */
  public readonly airflow: KubernetesExecutorAirflow;

  constructor(scope: Construct, id: string, props: AirflowChartProps = {}) {
    super(scope, id, { ...props, namespace: props.namespace ?? 'airflow', disableResourceNameHashes: true });
    this.airflowNamespace = new AirflowNamespace(this, 'namespace');
    this.volumes = new AirflowVolumes(this, 'volumes', { provisioning: props.provisioning });
    if (props.existingSecrets && !props.existingSecrets.databasePassword) {
      invalid(
        this,
        'existingSecrets.databasePassword',
        undefined,
        'a Secret key holding the password of the in-cluster Postgres, when existingSecrets is given',
      );
    }
    this.secrets = props.existingSecrets
      ? AirflowSecrets.fromExistingSecrets(this, 'secrets', props.existingSecrets)
      : new AirflowSecrets(this, 'secrets');
    this.metadataDb = new MetadataDb(this, 'metadata-db', {
      provisioning: props.provisioning,
      passwordSecret: this.secrets.databasePassword,
    });
    this.airflow = new KubernetesExecutorAirflow(this, 'airflow', {
      volumes: this.volumes,
      database: this.metadataDb,
      secrets: this.secrets,
      image: props.image,
      airflowVersion: props.airflowVersion,
      imagePullPolicy: props.imagePullPolicy,
      parallelism: props.parallelism,
      defaultPoolSlots: props.defaultPoolSlots,
      triggerer: props.triggerer,
      config: props.config,
    });

    if (props.networkPolicies) {
      new AirflowNetworkPolicies(this, 'network-policies', { airflowMajorVersion: this.airflow.airflowVersion.major });
    }

    // The namespace enforces the strictest Pod Security Standard every pod of the chart meets (baseline:
    // the Postgres entrypoint starts as root to own its data directory), and warns and audits at restricted.
    const podSpecs: any[] = [(this.airflow.workerPodTemplate as any).spec];
    for (const child of this.node.findAll()) {
      if (child instanceof ApiObject && ['Deployment', 'StatefulSet', 'Job'].includes(child.kind)) {
        podSpecs.push(child.toJson().spec.template.spec);
      }
    }
    const order = [PodSecurityLevel.PRIVILEGED, PodSecurityLevel.BASELINE, PodSecurityLevel.RESTRICTED];
    const enforce = podSpecs
      .map((spec) => podSecurityLevelOf(spec))
      .reduce((a, b) => (order.indexOf(a) <= order.indexOf(b) ? a : b), PodSecurityLevel.RESTRICTED);
    for (const [key, value] of Object.entries(podSecurityLabels({ enforce }))) {
      this.airflowNamespace.namespace.metadata.addLabel(key, value);
    }
  }
}
