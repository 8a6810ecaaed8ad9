// The worker pod the KubernetesExecutor creates from our pod_template_file, built the way the cncf.kubernetes
// provider's PodGenerator.construct_pod does (providers/cncf/kubernetes/.../pod_generator.py): the template is
// the base pod; the executor's "dynamic pod" adds name, namespace, labels (build_labels_for_k8s_executor_pod),
// annotations, and a container "base" whose args run the task and whose env gains AIRFLOW_IS_K8S_EXECUTOR_POD;
// labels and annotations are merged, env and volume mounts appended.
import { parse } from 'yaml';

/** The task a worker pod runs. */
export interface ExecutorTask {
  /** The pod name (the executor's pod_id). */
  readonly name: string;
  /** The namespace (`[kubernetes_executor] namespace`). */
  readonly namespace: string;
  /** The Airflow version label (`airflow_version`, "+" replaced by "-"). */
  readonly airflowVersion: string;
  readonly dagId?: string;
  readonly taskId?: string;
  readonly runId?: string;
  readonly tryNumber?: number;
  /** The scheduler job id: the `airflow-worker` label. */
  readonly schedulerJobId?: string;
}

/** The labels the KubernetesExecutor puts on a worker pod (build_labels_for_k8s_executor_pod). */
export function executorLabels(task: ExecutorTask): Record<string, string> {
  return {
    dag_id: task.dagId ?? 'example_dag',
    task_id: task.taskId ?? 'example_task',
    try_number: String(task.tryNumber ?? 1),
    kubernetes_executor: 'True',
    airflow_version: task.airflowVersion.replace('+', '-'),
    'airflow-worker': task.schedulerJobId ?? '1',
    // make_safe_label_value: ':' and '+' are not allowed in label values, so a run id that has them is
    // truncated and suffixed with a hash; this one is already safe.
    run_id: task.runId ?? 'manual__2025-01-01T000000-0000',
  };
}

/** The worker pod for `task`, from the pod_template_file YAML text of the airflow-config ConfigMap. */
export function executorWorkerPod(podTemplateYaml: string, task: ExecutorTask): any {
  const pod = parse(podTemplateYaml);
  if (pod?.kind !== 'Pod') throw new Error('pod_template_file.yaml is not a Pod');
  const labels = executorLabels(task);
  pod.metadata = {
    ...pod.metadata,
    name: task.name,
    namespace: task.namespace,
    labels: { ...(pod.metadata?.labels ?? {}), ...labels },
    annotations: {
      ...(pod.metadata?.annotations ?? {}),
      dag_id: labels.dag_id,
      task_id: labels.task_id,
      try_number: labels.try_number,
      run_id: labels.run_id,
    },
  };
  const base = pod.spec.containers.find((c: any) => c.name === 'base');
  if (!base) throw new Error('the pod template has no container named "base"');
  // Airflow 3: the task runs through the Task SDK with its workload as JSON.
  base.args = [
    'python',
    '-m',
    'airflow.sdk.execution_time.execute_workload',
    '--json-string',
    JSON.stringify({ ti: { dag_id: labels.dag_id, task_id: labels.task_id, try_number: Number(labels.try_number) } }),
  ];
  base.env = [...(base.env ?? []), { name: 'AIRFLOW_IS_K8S_EXECUTOR_POD', value: 'True' }];
  return pod;
}
