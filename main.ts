import { App } from 'cdk8s';
import { AirflowChart } from './lib';

// The default app: Airflow with the KubernetesExecutor on minikube, in namespace "airflow".
const app = new App();
new AirflowChart(app, 'airflow');
app.synth();
