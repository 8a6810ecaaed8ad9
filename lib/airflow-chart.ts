import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { AirflowNamespace } from './airflow-namespace';
import { AirflowVolumes } from './airflow-volumes';
import { StorageProvisioning } from './storage-provisioning';

/** Props for {@link AirflowChart}. */
export interface AirflowChartProps extends ChartProps {
  /**
   * How persistent storage is provisioned.
   * @default StorageProvisioning.hostPath() - minikube: static volumes under /data
   */
  readonly provisioning?: StorageProvisioning;
}

/**
 * Airflow on Kubernetes with the KubernetesExecutor, in one chart: the namespace, the volumes, the metadata
 * database and the Airflow control plane.
 */
export class AirflowChart extends Chart {
  /** The Namespace. */
  public readonly airflowNamespace: AirflowNamespace;

  /** The dags, logs and data volumes. */
  public readonly volumes: AirflowVolumes;

  constructor(scope: Construct, id: string, props: AirflowChartProps = {}) {
    super(scope, id, { ...props, namespace: props.namespace ?? 'airflow', disableResourceNameHashes: true });
    this.airflowNamespace = new AirflowNamespace(this, 'namespace');
    this.volumes = new AirflowVolumes(this, 'volumes', { provisioning: props.provisioning });
  }
}
