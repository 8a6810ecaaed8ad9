import { AIRFLOW_UI_PORT, AirflowGeneration, parseImageReference } from '../core';
import { StorageProvisioningMode } from '../storage';
import { AirflowConfigValues } from './airflow-config-keys';
import { AirflowConfigurationProps, POD_TEMPLATE_FILE_PATH } from './airflow-configuration';
import type { KubernetesExecutorAirflow } from './kubernetes-executor-airflow';

/**
 * The options of airflow.cfg set from a prop, by the prop: a user setting one in `config` is told to use the
 * prop. The features' options (git-sync, remote logging, metrics, Celery) are named after the AirflowChart
 * prop that adds the feature.
 */
export function managedByProp(generation: AirflowGeneration): Record<string, string> {
  return {
    'core.dags_folder': 'gitSync',
    'logging.remote_logging': 'remoteLogging',
    'logging.remote_base_log_folder': 'remoteLogging',
    'logging.remote_log_conn_id': 'remoteLogging',
    'metrics.statsd_on': 'metrics',
    'metrics.statsd_host': 'metrics',
    'core.parallelism': 'parallelism',
    'core.default_pool_task_slot_count': 'defaultPoolSlots',
    'kubernetes_executor.worker_pods_creation_batch_size': 'workerPodsCreationBatchSize',
    'kubernetes_executor.delete_worker_pods_on_failure': 'deleteFailedWorkerPods',
    'kubernetes_executor.worker_container_repository': 'image',
    'kubernetes_executor.worker_container_tag': 'image',
    'scheduler.standalone_dag_processor': 'standaloneDagProcessor',
    [generation.baseUrlKey]: 'ingress',
    'core.executor': 'celery',
    'celery.worker_concurrency': 'celery.concurrency',
  };
}

/**
 * Options of airflow.cfg the deployment cannot follow, each with what to do instead: the UI's port and
 * address are what its probes, Service and the execution API URL are built on, and the executor works in
 * the chart's namespace with the scheduler's in-cluster token.
 */
export function refusedConfig(generation: AirflowGeneration): Record<string, string> {
  const incluster = 'the scheduler runs in the cluster and launches task pods with its own ServiceAccount token';
  const oneNamespace = "not supported: the scheduler's Role grants pods in the chart's namespace only; run one deployment per namespace";
  return {
    [generation.baseUrlKey]: 'set by the "ingress" prop, which also keeps the execution API URL under the same path',
    [generation.uiPortKey]: `the UI listens on ${AIRFLOW_UI_PORT}: its container port, probes, Service and the execution API URL are built for it (expose it differently with apiServer.serviceType or ingress)`,
    [generation.uiHostKey]: 'the UI must listen on every address (the default) for its probes and its Service',
    'kubernetes_executor.multi_namespace_mode': oneNamespace,
    'kubernetes_executor.multi_namespace_mode_namespace_list': oneNamespace,
    'kubernetes_executor.in_cluster': incluster,
    'kubernetes_executor.config_file': incluster,
    'kubernetes_executor.cluster_context': incluster,
  };
}

/**
 * Options the library chooses and the user may change: no ANSI colours in `kubectl logs`; on minikube
 * (hostPath volumes, filled by `minikube mount`) a new DAG file is picked up within 30 s instead of Airflow's
 * default of 5 minutes (git-sync asks for the same: a new commit every period); behind an Ingress that terminates
 * TLS, the UI trusts the Ingress's X-Forwarded-Proto ({@link forwardedProtoTrust}).
 */
export function controlPlaneDefaults(generation: AirflowGeneration, hostPath: boolean, tlsIngress = false): AirflowConfigValues {
  const defaults: Record<string, Record<string, string | number | boolean>> = {
    ...generation.defaultConfig,
    logging: { colored_console_log: false },
  };
  const add = (values: AirflowConfigValues) => {
    for (const [section, keys] of Object.entries(values)) defaults[section] = { ...(defaults[section] ?? {}), ...keys };
  };
  if (hostPath) add(dagListRefresh(generation));
  if (tlsIngress) add(forwardedProtoTrust(generation));
  return defaults;
}

/**
 * Behind an Ingress that terminates TLS (`ingress.tlsSecretName`), the UI's Flask app (FAB) takes the scheme from
 * the Ingress's X-Forwarded-Proto, one proxy deep, and trusts no other forwarded header. The api-server (Airflow 3)
 * or the webserver (Airflow 2) gets plain http from the Ingress controller, and FAB builds its absolute URLs from
 * the request (`url_for(..., _external=True)`): without this, the OAuth callback it sends to the provider began with
 * http:// and a provider holding the https:// one refused the login (measured on the real node: docs/auth.md).
 * Only the scheme: the Host is the browser's already (an Ingress forwards it), X-Forwarded-Prefix would replace
 * the SCRIPT_NAME the api-server gives FAB (root_path plus /auth), and X-Forwarded-For is the client's to write when
 * it reaches the Service without the Ingress (Airflow's own defaults trust one hop of each: 1).
 */
export function forwardedProtoTrust(generation: AirflowGeneration): AirflowConfigValues {
  return {
    [generation.proxyFixSection]: {
      enable_proxy_fix: true,
      proxy_fix_x_proto: 1,
      proxy_fix_x_host: 0,
      proxy_fix_x_port: 0,
      proxy_fix_x_prefix: 0,
      proxy_fix_x_for: 0,
    },
  };
}

/** The DAG list refreshed every 30 s instead of Airflow's 5 minutes (for DAGs that change often: minikube mounts, git). */
export function dagListRefresh(generation: AirflowGeneration): AirflowConfigValues {
  const [section, key] = generation.dagListIntervalKey.split('.');
  return { [section]: { [key]: 30 } };
}

/** The options of `airflow.cfg` the control plane sets: executor, folders, concurrency, the pod template, the UI's URL. */
export function controlPlaneConfig(
  airflow: Pick<KubernetesExecutorAirflow, 'workerImage' | 'volumes' | 'parallelism' | 'defaultPoolSlots' | 'deleteFailedWorkerPods' | 'workerPodsCreationBatchSize' | 'generation' | 'standaloneDagProcessor' | 'ingress'>,
  namespace: string,
  uiServiceHost: string,
): AirflowConfigValues {
  const ref = parseImageReference(airflow.workerImage);
  const managed: Record<string, Record<string, string | number | boolean>> = {
    core: {
      executor: 'KubernetesExecutor',
      ...(airflow.volumes.has('dags') ? { dags_folder: airflow.volumes.get('dags').mountPath } : {}),
      load_examples: false,
      parallelism: airflow.parallelism,
      default_pool_task_slot_count: airflow.defaultPoolSlots,
    },
    kubernetes_executor: {
      namespace,
      pod_template_file: POD_TEMPLATE_FILE_PATH,
      // The task image as repository:tag, as the KubernetesExecutor has always read it. By digest these two stay
      // unset: the executor's image is then None, and PodGenerator.construct_pod keeps the image of the pod
      // template's `base` container, which holds the whole reference (cncf.kubernetes kube_config.py and
      // pod_generator.py: kube_image only when both are set; reconcile_pods keeps the base's image where the
      // executor's is empty).
      ...(ref.digest === undefined ? { worker_container_repository: ref.repository, worker_container_tag: ref.tag! } : {}),
      delete_worker_pods: true,
      delete_worker_pods_on_failure: airflow.deleteFailedWorkerPods,
      worker_pods_creation_batch_size: airflow.workerPodsCreationBatchSize,
    },
    ...(airflow.volumes.has('logs') ? { logging: { base_log_folder: airflow.volumes.get('logs').mountPath } } : {}),
  };
  const generationManaged = airflow.generation.managedConfig({
    uiServiceHost,
    standaloneDagProcessor: airflow.standaloneDagProcessor,
    baseUrl: airflow.ingress?.url,
    basePath: airflow.ingress?.basePath,
  });
  for (const [section, keys] of Object.entries(generationManaged)) managed[section] = { ...(managed[section] ?? {}), ...keys };
  return managed;
}

/**
 * The props of the control plane's `AirflowConfiguration`: the options it sets ({@link controlPlaneConfig}) and the
 * prop that decides each, those it refuses and those it chooses for the user, checked against the image's release,
 * and the user's own `config`.
 */
export function controlPlaneConfigurationProps(
  airflow: KubernetesExecutorAirflow,
  namespace: string,
  uiServiceHost: string,
  config: AirflowConfigValues | undefined,
): AirflowConfigurationProps {
  return {
    generation: airflow.generation,
    airflowVersion: airflow.airflowVersion,
    managed: controlPlaneConfig(airflow, namespace, uiServiceHost),
    managedByProp: managedByProp(airflow.generation),
    refused: refusedConfig(airflow.generation),
    defaults: controlPlaneDefaults(airflow.generation, airflow.volumes.provisioning.mode === StorageProvisioningMode.HOST_PATH, airflow.ingress?.tls === true),
    config,
  };
}
