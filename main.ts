import { App } from 'cdk8s';
import { AirflowChart } from './lib';

// The default app: Airflow 3 (apache/airflow:3.1.3) with the KubernetesExecutor on minikube, in namespace
// "airflow": volumes, generated secrets, Postgres and the Airflow control plane (see docs/airflow.md).
// For an image built inside minikube's docker:
//   new AirflowChart(app, 'airflow', { image: 'my-airflow:latest', airflowVersion: '2.11.0' });
const app = new App();
new AirflowChart(app, 'airflow');
app.synth();
