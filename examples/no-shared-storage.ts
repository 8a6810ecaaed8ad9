import { App } from 'cdk8s';
import { AirflowChart, GitSyncMode, RemoteLogging, StorageProvisioning } from '../lib';

// A cluster with block storage only (EBS, Persistent Disk, Azure Disk): no claim shared by two pods.
// Task logs go to S3 from an emptyDir of each pod, the DAGs come from git into each pod, no data volume;
// only Postgres keeps a claim (ReadWriteOnce, one pod).
export const app = new App();
new AirflowChart(app, 'airflow', {
  provisioning: StorageProvisioning.storageClass('gp3'),
  volumes: [{ name: 'logs', emptyDir: true }],
  remoteLogging: RemoteLogging.s3({
    bucket: 'example-org-airflow-logs',
    prefix: 'airflow',
    region: 'eu-west-1',
    serviceAccountAnnotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/airflow-logs' },
  }),
  gitSync: {
    repository: 'https://github.com/example-org/airflow-dags.git',
    branch: 'main',
    subPath: 'dags',
    mode: GitSyncMode.SIDECARS,
  },
});
