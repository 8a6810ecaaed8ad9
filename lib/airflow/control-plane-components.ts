import * as k8s from '../../imports/k8s';
import { AIRFLOW_UI_PORT, Components, PodOptions, buildPart, invalid, recover } from '../core';
import { AirflowComponent, AirflowComponentProps } from './airflow-component';
import { ComponentOptions } from './airflow-options';
import type { KubernetesExecutorAirflow, KubernetesExecutorAirflowProps } from './kubernetes-executor-airflow';
import { resolveExistingServiceAccount, resolveExtraContainers, resolveProbe } from './component-extras';
import { AdminUser } from './admin-user';
import { DbMigrations } from './db-migrations';
import { AirflowPodParts, ContainerResources, WAIT_FOR_MIGRATIONS_CONTAINER_NAME, pickPlacement, resolvePodOptions, resolveResources } from './pod-parts';
import { VolumePermissions } from './volume-permissions';

/**
 * The resources of the long-running components, sized for a 2 CPU / 4 GiB minikube node shared with the
 * metadata database, Kubernetes' own pods and the task pods, from the memory the runtime stage measured on
 * the real Airflow 3.1 (docs/benchmark.md, docs/runtime-tests.md): the memory request is the largest PSS at
 * idle or while a task runs, rounded up to 32Mi; the limit keeps the largest RSS seen (liveness probes
 * included: `airflow jobs check` starts a second Python process in the container, about 200 MiB) at or below
 * about 70% of it, so that the runtime stage's rule (at most 80%) holds with a margin. Limits do not count
 * when pods are placed: a higher one costs no task pod on the node. The api-server's figure is with `[api] workers = 1` (the library's default; 4 workers use about
 * 1.5 GiB). The webserver (Airflow 2) is not measured and keeps its earlier, larger size. CPU is not measured.
 */
export const COMPONENT_RESOURCES: Readonly<Record<string, ContainerResources>> = {
  [Components.SCHEDULER]: { cpuRequest: '150m', memoryRequest: '448Mi', cpuLimit: '1', memoryLimit: '1408Mi' },
  [Components.API_SERVER]: { cpuRequest: '150m', memoryRequest: '320Mi', cpuLimit: '1', memoryLimit: '768Mi' },
  [Components.WEBSERVER]: { cpuRequest: '150m', memoryRequest: '512Mi', cpuLimit: '1', memoryLimit: '1536Mi' },
  [Components.DAG_PROCESSOR]: { cpuRequest: '100m', memoryRequest: '384Mi', cpuLimit: '1', memoryLimit: '1Gi' },
  [Components.TRIGGERER]: { cpuRequest: '50m', memoryRequest: '448Mi', cpuLimit: '500m', memoryLimit: '1152Mi' },
};

/**
 * How long each component gets between SIGTERM and SIGKILL, the official chart's values (chart/values.yaml
 * `scheduler.terminationGracePeriodSeconds: 10`, `triggerer: 60`, `dagProcessor: 60`): the scheduler's state
 * is in the database and another scheduler (or its next pod) adopts its task pods, so it need not linger; the
 * triggerer gets a minute to cancel its triggers cleanly, which then run again on the next triggerer; the
 * dag-processor a minute to finish the file it parses. The UI keeps Kubernetes' 30 s (uvicorn's graceful stop).
 */
export const COMPONENT_TERMINATION_GRACE_SECONDS: Readonly<Record<string, number>> = {
  [Components.SCHEDULER]: 10,
  [Components.TRIGGERER]: 60,
  [Components.DAG_PROCESSOR]: 60,
};

/** What the components are built from: the control plane's parts and what its features add, at synth. */
export interface ControlPlaneParts {
  /** The parts of a component's pod (`property` names its options in messages). */
  podParts(component: string, property: string, override?: PodOptions): AirflowPodParts;
  /** What the features add to the pods of `component`. */
  contributed(kind: 'env' | 'volumes' | 'sidecars' | 'initContainers', component: string): unknown[];
}

/**
 * The UI, the scheduler, and the dag-processor and triggerer where they run, each with what the features add
 * to it (environment, sidecars, init containers and their volumes), read at synth.
 */
export function createControlPlaneComponents(
  airflow: KubernetesExecutorAirflow,
  props: KubernetesExecutorAirflowProps,
  parts: ControlPlaneParts,
): Record<string, AirflowComponent> {
  const jobsCheck = (jobType: string): k8s.Probe => ({
    exec: {
      command: ['sh', '-c', `AIRFLOW__LOGGING__LOGGING_LEVEL=ERROR exec airflow jobs check --job-type ${jobType} --local`],
    },
    initialDelaySeconds: 120,
    periodSeconds: 60,
    timeoutSeconds: 60,
    failureThreshold: 5,
  });
  const components: Record<string, AirflowComponent> = {};
  const add = (
    id: string,
    component: string,
    property: string,
    options: ComponentOptions | undefined,
    rest: Omit<AirflowComponentProps, 'parts' | 'component' | 'command' | 'resources' | 'replicas' | 'strategy' | 'property'>,
  ) => {
    const {
      replicas, resources, strategy, extraContainers, extraInitContainers, livenessProbe, readinessProbe, startupProbe, existingServiceAccountName,
      ...podOptions
    } = options ?? {};
    // A component that refuses its options is recorded, and the next one is built (docs/validation.md).
    components[component] = buildPart(airflow, id, () => {
      const podParts = parts.podParts(component, property, podOptions);
      const context = {
        reservedNames: [component, podParts.waitForDatabase.name, WAIT_FOR_MIGRATIONS_CONTAINER_NAME],
        securityContext: podParts.containerSecurityContext ?? airflow.airflowContainerSecurityContext(),
      };
      const userContainers = recover(airflow, () => resolveExtraContainers(airflow, `${property}.extraContainers`, extraContainers, context), []);
      const userInitContainers = recover(airflow, () => resolveExtraContainers(airflow, `${property}.extraInitContainers`, extraInitContainers, {
        ...context,
        reservedNames: [...context.reservedNames, ...userContainers.map((c) => c.name)],
      }), []);
      const existingAccount = recover(
        airflow,
        () => resolveExistingServiceAccount(airflow, property, existingServiceAccountName, podParts.pod?.serviceAccountAnnotations ?? {}),
        undefined,
      );
      return new AirflowComponent(airflow, id, {
        parts: podParts,
        component,
        property,
        command: `airflow ${component}`,
        resources: resolveResources(airflow, `${property}.resources`, COMPONENT_RESOURCES[component], resources),
        replicas,
        terminationGracePeriodSeconds: COMPONENT_TERMINATION_GRACE_SECONDS[component],
        strategy,
        ...rest,
        livenessProbe: resolveProbe(airflow, property, 'livenessProbe', rest.livenessProbe, livenessProbe),
        readinessProbe: resolveProbe(airflow, property, 'readinessProbe', rest.readinessProbe, readinessProbe),
        startupProbe: resolveProbe(airflow, property, 'startupProbe', rest.startupProbe, startupProbe),
        sidecars: () => parts.contributed('sidecars', component) as k8s.Container[],
        extraInitContainers: () => parts.contributed('initContainers', component) as k8s.Container[],
        extraVolumes: () => parts.contributed('volumes', component) as k8s.Volume[],
        extraContainers: userContainers,
        userInitContainers,
        existingServiceAccountName: existingAccount,
      });
    });
  };

  // The worker pod template is mounted where it is used: the scheduler creates pods from it, and the UI
  // shows it in a task's "K8s Pod Spec" view.
  add('scheduler', Components.SCHEDULER, 'scheduler', props.scheduler, {
    automountServiceAccountToken: true,
    extraVolumeMounts: [airflow.configuration.podTemplateMount()],
    livenessProbe: jobsCheck('SchedulerJob'),
  });
  const { serviceType, serviceAnnotations, ...apiServer } = props.apiServer ?? {};
  // Under the Ingress's path, where the UI is served (Airflow 2 answers 404 anywhere else).
  const basePath = airflow.ingress?.basePath ?? '';
  const probe = (path: string) => ({ path, port: k8s.IntOrString.fromString('http') });
  add('ui', airflow.uiComponent, 'apiServer', apiServer, {
    port: { containerPort: AIRFLOW_UI_PORT, servicePort: AIRFLOW_UI_PORT, serviceType, serviceAnnotations },
    rollingUpdate: true,
    extraVolumeMounts: [airflow.configuration.podTemplateMount()],
    // Readiness asks the health endpoint (the database and every component's heartbeat); liveness only whether the
    // process answers, so that a slow database does not restart the UI. Startup asks the execution API's health on
    // Airflow 3, whose first request initialises it (AirflowGeneration.uiStartupPath), before the pod is Ready.
    startupProbe: { httpGet: probe(airflow.generation.uiStartupPathUnder(basePath)), periodSeconds: 10, timeoutSeconds: 10, failureThreshold: 60 },
    readinessProbe: { httpGet: probe(airflow.generation.uiHealthPathUnder(basePath)), periodSeconds: 10, timeoutSeconds: 10, failureThreshold: 3 },
    livenessProbe: { httpGet: probe(airflow.generation.uiLivenessPathUnder(basePath)), periodSeconds: 30, timeoutSeconds: 30, failureThreshold: 5 },
  });
  if (airflow.standaloneDagProcessor) {
    add('dag-processor', Components.DAG_PROCESSOR, 'dagProcessor', props.dagProcessor, { livenessProbe: jobsCheck('DagProcessorJob') });
  }
  if (airflow.triggerer) {
    const { enabled, ...triggerer } = props.triggerer ?? {};
    add('triggerer', Components.TRIGGERER, 'triggerer', triggerer, { livenessProbe: jobsCheck('TriggererJob') });
  } else if (props.triggerer && Object.keys(props.triggerer).some((k) => k !== 'enabled')) {
    invalid(airflow, 'triggerer', props.triggerer, 'only { enabled: false } when the triggerer does not run');
  }
  return components;
}

/** The control plane's one-shot Jobs: the database migrations, the first admin user, the volumes' permissions. */
export function createControlPlaneJobs(
  airflow: KubernetesExecutorAirflow,
  props: KubernetesExecutorAirflowProps,
  parts: ControlPlaneParts,
): { migrations: DbMigrations; adminUser: AdminUser | undefined; volumePermissions: VolumePermissions | undefined } {
  const migrations = buildPart(airflow, 'db-migrations', () => new DbMigrations(airflow, 'db-migrations', {
    parts: parts.podParts(Components.DB_MIGRATE, 'migrations', props.migrations),
    resources: resolveResources(airflow, 'migrations.resources', DbMigrations.DEFAULT_RESOURCES, props.migrations?.resources),
  }));
  const adminUser = airflow.createAdminUser
    ? buildPart(airflow, 'admin-user', () => new AdminUser(airflow, 'admin-user', {
      parts: parts.podParts(Components.CREATE_USER, ''),
      passwordSecret: airflow.secrets.adminPassword,
      username: airflow.adminUsername,
      email: airflow.adminEmail,
      firstName: airflow.adminFirstName,
      lastName: airflow.adminLastName,
      role: airflow.adminRole,
    }))
    : undefined;
  const volumePermissions = airflow.fixVolumePermissions
    ? buildPart(airflow, 'volume-permissions', () => new VolumePermissions(airflow, 'volume-permissions', {
      volumes: airflow.volumes,
      image: airflow.image,
      imagePullPolicy: airflow.imagePullPolicy,
      pod: resolvePodOptions(airflow, '', pickPlacement(airflow.podOptions)),
    }))
    : undefined;
  return { migrations, adminUser, volumePermissions };
}
