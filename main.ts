import { AirflowApp, AirflowChart, userErrorMessage } from './lib';

// The default app: Airflow 3 (apache/airflow:3.1.3) with the KubernetesExecutor on minikube, in namespace
// "airflow": volumes, generated secrets, Postgres and the Airflow control plane (see docs/airflow.md).
// AirflowApp writes it as three files by box, in apply order: dist/airflow-0-storage.k8s.yaml (the Namespace and
// the volumes), airflow-1-database.k8s.yaml (secrets and Postgres), airflow-2-airflow.k8s.yaml (the rest); a plain
// cdk8s App writes one file per chart.
// For an image built inside minikube's docker:
//   new AirflowChart(app, 'airflow', { image: 'my-airflow:latest', airflowVersion: '2.11.0' });
try {
  const app = new AirflowApp();
  new AirflowChart(app, 'airflow');
  app.synth();
} catch (error) {
  // A refused prop (or a synth-time check) is the user's to fix: its message alone, without a stack trace
  // (docs/validation.md, "How errors look"). Anything else is a bug: thrown as it is, with its stack.
  const message = userErrorMessage(error);
  if (message === undefined) throw error;
  console.error(`Error: ${message}`);
  process.exitCode = 1;
}
