import { App } from 'cdk8s';
import { AirflowChart, RemoteLogging, StorageProvisioning } from '../lib';

// Task logs in S3 on EKS, with the pods' IAM role (IRSA): no access key anywhere. The role needs
// s3:GetObject, s3:PutObject and s3:ListBucket on the bucket and its "airflow/" prefix.
export const app = new App();
new AirflowChart(app, 'airflow', {
  provisioning: StorageProvisioning.storageClass('efs-sc'),
  remoteLogging: RemoteLogging.s3({
    bucket: 'example-org-airflow-logs',
    prefix: 'airflow',
    region: 'eu-west-1',
    serviceAccountAnnotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/airflow-logs' },
  }),
});
