import * as k8s from '../../imports/k8s';
import { AirflowGeneration, Components } from '../core';
import { DagsSource } from './airflow-feature';
import type { KubernetesExecutorAirflow } from './kubernetes-executor-airflow';

/** The pod volume every Airflow pod has for `/tmp`: the one place besides its volumes an Airflow container writes to. */
export const AIRFLOW_TMP_VOLUME_NAME = 'airflow-tmp';

/** Where {@link AIRFLOW_TMP_VOLUME_NAME} is mounted. */
export const AIRFLOW_TMP_PATH = '/tmp';

/** How a pod of a component mounts one of the Airflow volumes. */
export enum VolumeUse {
  /** Not mounted: the component does not use it. */
  NONE = 'none',
  /** Mounted read-only: the component reads it, and nothing in it is written by the component. */
  READ_ONLY = 'read-only',
  /** Mounted read-write. */
  READ_WRITE = 'read-write',
}

/** What {@link volumeUse} needs to know of the control plane. */
export interface VolumeUseContext {
  /** The Airflow generation. */
  readonly generation: AirflowGeneration;
  /** The UI component (`api-server`, `webserver`). */
  readonly uiComponent: string;
  /** The pods that read DAG files: the parser and the triggerer (`KubernetesExecutorAirflow.dagReaders`). */
  readonly dagReaders: readonly string[];
}

const TASK_PODS: readonly string[] = [Components.WORKER, Components.CELERY_WORKER];

/**
 * How the pods of `component` mount the volume `volume` (docs/secrets-and-security.md, "Who mounts what"):
 *
 * - `dags`: read-only, and only in the pods that read DAG files (the parser, the triggerer, the tasks; on
 *   Airflow 2 also the scheduler and the migration Job). Nothing in the chart writes it but git-sync's
 *   Deployment (its own mount), so a task cannot drop a DAG file that the dag-processor would run with the
 *   database password, the Fernet key and the JWT secret.
 * - `logs`: read-write where logs are written (the scheduler, the dag-processor, the triggerer, the tasks),
 *   read-only in the UI, which serves them; not in the one-shot Jobs.
 * - `data`: read-write in the pods that run tasks, read-only in the triggerer (triggers wait for files
 *   there); nowhere else.
 * - any other volume (`plugins`, your own): every Airflow pod, read-write, as declared.
 */
export function volumeUse(volume: string, component: string, context: VolumeUseContext): VolumeUse {
  const tasks = TASK_PODS.includes(component);
  switch (volume) {
    case 'dags':
      return tasks || context.dagReaders.includes(component) || context.generation.dagFileReaders.includes(component)
        ? VolumeUse.READ_ONLY
        : VolumeUse.NONE;
    case 'logs':
      if (component === context.uiComponent) return VolumeUse.READ_ONLY;
      return tasks || [Components.SCHEDULER, Components.DAG_PROCESSOR, Components.TRIGGERER].includes(component as never)
        ? VolumeUse.READ_WRITE
        : VolumeUse.NONE;
    case 'data':
      if (tasks) return VolumeUse.READ_WRITE;
      return component === Components.TRIGGERER ? VolumeUse.READ_ONLY : VolumeUse.NONE;
    default:
      return VolumeUse.READ_WRITE;
  }
}

/** The emptyDir behind `/tmp` in every Airflow pod. */
export function airflowTmpVolume(): k8s.Volume {
  return { name: AIRFLOW_TMP_VOLUME_NAME, emptyDir: {} };
}

/** Its mount. */
export function airflowTmpMount(): k8s.VolumeMount {
  return { name: AIRFLOW_TMP_VOLUME_NAME, mountPath: AIRFLOW_TMP_PATH };
}

/** The pod volumes of an Airflow pod of `component` ({@link KubernetesExecutorAirflow.airflowPodVolumes}). */
export function airflowPodVolumesOf(airflow: KubernetesExecutorAirflow, component: string, dagsSource: DagsSource | undefined): k8s.Volume[] {
  const used = airflow.volumes.all.filter((v) => volumeUse(v.name, component, airflow) !== VolumeUse.NONE);
  const dags = volumeUse('dags', component, airflow) !== VolumeUse.NONE ? (dagsSource?.volumes ?? []) : [];
  return [...dags, ...used.map((v) => v.podVolume()), airflow.configuration.podVolume(), airflowTmpVolume()];
}

/** The mounts of an Airflow container of `component`, the features' aside ({@link KubernetesExecutorAirflow.airflowVolumeMounts}). */
export function airflowVolumeMountsOf(airflow: KubernetesExecutorAirflow, component: string, dagsSource: DagsSource | undefined): k8s.VolumeMount[] {
  const dags = dagsSource?.mount;
  const mounts: k8s.VolumeMount[] = [];
  if (dags && volumeUse('dags', component, airflow) !== VolumeUse.NONE) mounts.push({ ...dags, readOnly: true });
  for (const v of airflow.volumes.all) {
    if (dags && v.name === dags.name) continue;
    const use = volumeUse(v.name, component, airflow);
    if (use === VolumeUse.NONE) continue;
    mounts.push({ ...v.volumeMount(), ...(use === VolumeUse.READ_ONLY ? { readOnly: true } : {}) });
  }
  return [...mounts, airflow.configuration.airflowCfgMount(), airflowTmpMount()];
}
