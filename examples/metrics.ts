import { App } from 'cdk8s';
import { AirflowChart } from '../lib';

// The default chart (minikube) with Airflow's metrics for Prometheus: StatsD to a statsd-exporter.
export const app = new App();
new AirflowChart(app, 'airflow', { metrics: true });
