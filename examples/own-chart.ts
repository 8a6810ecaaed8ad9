import { App, Chart } from 'cdk8s';
import {
  AirflowNamespace,
  AirflowSecrets,
  AirflowVolumes,
  CeleryWorkers,
  KubernetesExecutorAirflow,
  LogGroomer,
  MetadataDb,
  PostgresSslMode,
  StorageProvisioning,
} from '../lib';

export const app = new App();
const chart = new Chart(app, 'airflow', { namespace: 'airflow', disableResourceNameHashes: true });
new AirflowNamespace(chart, 'namespace');
const volumes = new AirflowVolumes(chart, 'volumes', {
  provisioning: StorageProvisioning.storageClass('efs-sc'),
  volumes: [{ name: 'dags' }, { name: 'logs', size: '20Gi' }, { name: 'plugins' }], // no data, plus plugins
});
const secrets = new AirflowSecrets(chart, 'secrets'); // or AirflowSecrets.fromExistingSecrets(...)
const database = MetadataDb.external(chart, 'db', {
  host: 'airflow.abc123.eu-west-1.rds.amazonaws.com',
  databaseName: 'airflow',
  user: 'airflow',
  passwordSecret: { name: 'rds-airflow', key: 'password' },
  sslMode: PostgresSslMode.REQUIRE,
});
export const airflow = new KubernetesExecutorAirflow(chart, 'airflow', {
  volumes,
  database,
  secrets,
  // The image and the chart-wide pod settings reach every pod of the chart, the secrets bootstrap Job added
  // above included (read at synth, so the order does not matter).
  image: 'registry.example.com/data/airflow:3.1.3',
  imagePullSecrets: ['regcred'],
  nodeSelector: { pool: 'airflow' },
  parallelism: 32,
  config: { dag_processor: { refresh_interval: 60 } }, // checked against Airflow's own keys
});
// Features plug into the control plane, each from its folder of lib/ (docs/architecture.md):
new CeleryWorkers(chart, 'celery', { airflow, concurrency: 8 }); // Celery workers beside the KubernetesExecutor
airflow.addFeature(new LogGroomer(15)); // task logs older than 15 days removed from the logs volume
