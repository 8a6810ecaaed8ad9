import { App } from 'cdk8s';
import { AirflowChart } from '../lib';

// airflow_local_settings.py: every task pod gets a cost-center label and goes to the airflow-tasks node pool, and
// a task without an owner of its own is refused at parsing (a cluster policy).
export const app = new App();
new AirflowChart(app, 'airflow', {
  airflowLocalSettings: `
from airflow.exceptions import AirflowClusterPolicyViolation


def pod_mutation_hook(pod):
    pod.metadata.labels = {**(pod.metadata.labels or {}), "cost-center": "data-platform"}
    pod.spec.node_selector = {**(pod.spec.node_selector or {}), "pool": "airflow-tasks"}


def task_policy(task):
    if not task.owner or task.owner == "airflow":
        raise AirflowClusterPolicyViolation(f"task {task.task_id}: set owner= to your team")
`,
});
