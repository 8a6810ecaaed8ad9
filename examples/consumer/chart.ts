import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import {
  AirflowNamespace,
  AirflowSecrets,
  AirflowVolumes,
  KubernetesExecutorAirflow,
  MetadataDb,
  PostgresSslMode,
  StorageProvisioning,
} from 'airflow-cdk8s';

/**
 * The data team's Airflow: its own namespace, claims from the cluster's RWX storage class (including a
 * `plugins` volume), the team's managed Postgres instead of an in-cluster one, and its own scheduler
 * settings on top of the library's.
 */
export class DataTeamAirflow extends Chart {
  public readonly airflow: KubernetesExecutorAirflow;

  constructor(scope: Construct, id: string) {
    super(scope, id, { namespace: 'data-team', disableResourceNameHashes: true });

    new AirflowNamespace(this, 'namespace');
    const volumes = new AirflowVolumes(this, 'volumes', {
      provisioning: StorageProvisioning.storageClass('nfs-rwx'),
      volumes: [{ name: 'dags' }, { name: 'logs', size: '20Gi' }, { name: 'data' }, { name: 'plugins' }],
    });
    // Generated in the cluster under the team's own name; the control plane finds it in the chart.
    new AirflowSecrets(this, 'secrets', { secretName: 'data-team-airflow' });
    const database = MetadataDb.external(this, 'db', {
      host: 'postgres.data-team.svc.example.internal',
      databaseName: 'airflow_data_team',
      user: 'airflow',
      passwordSecret: { name: 'data-team-airflow-db', key: 'password' },
      sslMode: PostgresSslMode.REQUIRE,
    });
    this.airflow = new KubernetesExecutorAirflow(this, 'airflow', {
      volumes,
      database,
      parallelism: 16,
      config: {
        core: { max_active_tasks_per_dag: 8 },
        dag_processor: { refresh_interval: 60 },
      },
    });
  }
}
