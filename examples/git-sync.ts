import { App } from 'cdk8s';
import { AirflowChart, GitSyncCredentials, StorageProvisioning } from '../lib';

// DAGs from a private GitHub repository, on a cluster with ReadWriteMany storage (EFS, Filestore, NFS).
// The token is in a Secret you create, never in the YAML:
//   kubectl create secret generic dags-repo -n airflow --from-literal=token=<a read-only token>
export const app = new App();
new AirflowChart(app, 'airflow', {
  provisioning: StorageProvisioning.storageClass('efs-sc'),
  gitSync: {
    repository: 'https://github.com/example-org/airflow-dags.git',
    branch: 'main',
    subPath: 'dags', // the folder of the repository that holds the DAG files
    credentials: GitSyncCredentials.https({ passwordSecret: { name: 'dags-repo', key: 'token' } }),
  },
});
