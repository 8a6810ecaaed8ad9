import { App } from 'cdk8s';
import { AirflowChart } from '../lib';

// The default chart (minikube) keeping task logs for 7 days instead of 15. logRetentionDays: 0 keeps them.
export const app = new App();
new AirflowChart(app, 'airflow', { logRetentionDays: 7 });
