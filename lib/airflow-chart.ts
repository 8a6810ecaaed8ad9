import { ApiObject, Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { AirflowOptions, KubernetesExecutorAirflow } from './airflow';
import { invalid } from './core';
import { MetadataDb } from './database';
import {
  AirflowNamespace,
  AirflowNetworkPolicies,
  AirflowSecrets,
  ExistingAirflowSecretsProps,
  PodSecurityLevel,
  podSecurityLabels,
  podSecurityLevelOf,
} from './security';
import { AirflowVolumes, StorageProvisioning } from './storage';

/** Props for {@link AirflowChart}: where it runs, and how Airflow runs ({@link AirflowOptions}). */
export interface AirflowChartProps extends ChartProps, AirflowOptions {
  /**
   * How persistent storage (the dags, logs and data volumes, and the database's) is provisioned.
   * @default StorageProvisioning.hostPath() - minikube: static volumes under /data
   */
  readonly provisioning?: StorageProvisioning;

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

  /** The NetworkPolicies; undefined unless `networkPolicies` is true. */
  public readonly networkPolicies: AirflowNetworkPolicies | undefined;

  constructor(scope: Construct, id: string, props: AirflowChartProps = {}) {
    super(scope, id, { ...props, namespace: props.namespace ?? 'airflow', disableResourceNameHashes: true });
    const { provisioning, existingSecrets, networkPolicies, ...airflowOptions } = props;
    this.airflowNamespace = new AirflowNamespace(this, 'namespace');
    this.volumes = new AirflowVolumes(this, 'volumes', { provisioning });
    if (existingSecrets && !existingSecrets.databasePassword) {
      invalid(
        this,
        'existingSecrets.databasePassword',
        undefined,
        'a Secret key holding the password of the in-cluster Postgres, when existingSecrets is given',
      );
    }
    this.secrets = existingSecrets
      ? AirflowSecrets.fromExistingSecrets(this, 'secrets', existingSecrets)
      : new AirflowSecrets(this, 'secrets');
    this.metadataDb = new MetadataDb(this, 'metadata-db', {
      provisioning,
      passwordSecret: this.secrets.databasePassword,
      clusterDomain: props.clusterDomain,
    });
    this.airflow = new KubernetesExecutorAirflow(this, 'airflow', {
      ...airflowOptions,
      volumes: this.volumes,
      database: this.metadataDb,
      secrets: this.secrets,
    });

    this.networkPolicies = networkPolicies
      ? new AirflowNetworkPolicies(this, 'network-policies', { generation: this.airflow.generation })
      : undefined;

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
