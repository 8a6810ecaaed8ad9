import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-28';
import {
  AIRFLOW_GID,
  AIRFLOW_UID,
  AirflowNamespace,
  AirflowSecrets,
  AirflowVolumes,
  KubernetesExecutorAirflow,
  MetadataDb,
  PostgresSslMode,
  DEFAULT_AIRFLOW_IMAGE,
  StorageProvisioning,
} from 'airflow-cdk8s';

/**
 * The data team's Airflow: its own namespace, claims from the cluster's RWX storage class (including a
 * `plugins` volume), the team's managed Postgres instead of an in-cluster one, and its own scheduler
 * settings on top of the library's; beside it, a workload of the team's own written with cdk8s-plus that
 * mounts the same volumes.
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

    // The team's own workload, in cdk8s-plus (cdk8s-plus-28 here; `cdk8s init typescript-app` installs the
    // newest, and any cdk8s-plus-NN from 28 works the same): a shell with every Airflow volume mounted where
    // Airflow mounts it, to look at what tasks wrote (`kubectl exec -n data-team deploy/data-team-toolbox --
    // ls /opt/airflow/data`). It runs as Airflow's user, so it reads and writes what the tasks do.
    const toolbox = new kplus.Deployment(this, 'toolbox', {
      metadata: { name: 'data-team-toolbox' },
      replicas: 1,
      automountServiceAccountToken: false,
      securityContext: { user: AIRFLOW_UID, group: AIRFLOW_GID, ensureNonRoot: true },
    });
    const shell = toolbox.addContainer({
      name: 'shell',
      image: DEFAULT_AIRFLOW_IMAGE,
      command: ['sleep', 'infinity'],
      securityContext: { user: AIRFLOW_UID, group: AIRFLOW_GID, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
    });
    volumes.mountInto(shell);
  }
}
