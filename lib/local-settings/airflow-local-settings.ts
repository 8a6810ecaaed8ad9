import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { AIRFLOW_HOME, APP_NAME, NAME_LABEL, PART_OF_LABEL, invalid, refuseUnknownProps, shortHash } from '../core';
import { AirflowContribution, AirflowPods, IAirflowFeature } from '../airflow/airflow-feature';
import type { KubernetesExecutorAirflow } from '../airflow/kubernetes-executor-airflow';

/**
 * The folder Airflow puts on `sys.path` for `airflow_local_settings` (`$AIRFLOW_HOME/config`:
 * airflow/settings.py `prepare_syspath_for_config_and_plugins`, Airflow 2 and 3); the official chart mounts the
 * file there too.
 */
export const LOCAL_SETTINGS_FOLDER = `${AIRFLOW_HOME}/config`;

/** Where every Airflow container finds `airflow_local_settings.py`. */
export const LOCAL_SETTINGS_PATH = `${LOCAL_SETTINGS_FOLDER}/airflow_local_settings.py`;

/** The largest `airflow_local_settings.py` accepted: a ConfigMap holds at most 1 MiB, the pod template's copy aside. */
export const MAX_LOCAL_SETTINGS_BYTES = 256 * 1024;

/** Props for {@link AirflowLocalSettings}. */
export interface AirflowLocalSettingsProps {
  /** The control plane whose containers and task pods load the file. */
  readonly airflow: KubernetesExecutorAirflow;

  /**
   * The Python source of `airflow_local_settings.py`: `pod_mutation_hook(pod)`, cluster policies
   * (`task_policy`, `dag_policy`, `task_instance_mutation_hook`), and any other setting Airflow reads from it.
   */
  readonly source: string;
}

/**
 * `airflow_local_settings.py` (`airflowLocalSettings`): Airflow's hooks into the pods it creates and the DAGs it
 * runs. The file is in ConfigMap `airflow-local-settings-<hash>` (named after its content, so that a change
 * rolls every Airflow pod and reaches the new task pods, while running task pods keep theirs) and mounted
 * read-only at {@link LOCAL_SETTINGS_PATH} in every Airflow container: the UI, the scheduler, the
 * dag-processor, the triggerer, the migration and create-user Jobs, the task pods (through the worker pod
 * template) and the Celery workers. Airflow imports it at start; a file that fails to import is logged as
 * critical ("Failed to import airflow_local_settings") and Airflow runs without it.
 */
export class AirflowLocalSettings extends Construct implements IAirflowFeature {
  /** How messages name this feature: the AirflowChart prop. */
  public readonly featureName = 'airflowLocalSettings';
  /** The Python source. */
  public readonly source: string;
  /** The ConfigMap holding it (`airflow_local_settings.py`). */
  public readonly configMap: k8s.KubeConfigMap;

  constructor(scope: Construct, id: string, props: AirflowLocalSettingsProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'AirflowLocalSettingsProps');
    const source = props.source;
    if (typeof source !== 'string' || source.trim().length === 0) {
      invalid(this, 'airflowLocalSettings', source, 'the Python source of airflow_local_settings.py, such as "def pod_mutation_hook(pod):\\n    ..."');
    }
    const bytes = Buffer.byteLength(source, 'utf8');
    if (bytes > MAX_LOCAL_SETTINGS_BYTES) {
      invalid(this, 'airflowLocalSettings', `(${bytes} bytes)`, `at most ${MAX_LOCAL_SETTINGS_BYTES} bytes: it is a ConfigMap (1 MiB at most). Put larger code in a package of your image and import it from here`);
    }
    if (source.includes('\0')) invalid(this, 'airflowLocalSettings', '(a NUL character)', 'Python source text, without NUL characters');
    this.source = source.endsWith('\n') ? source : `${source}\n`;
    this.configMap = new k8s.KubeConfigMap(this, 'config', {
      metadata: { name: `airflow-local-settings-${shortHash(this.source)}`, labels: { [NAME_LABEL]: APP_NAME, [PART_OF_LABEL]: APP_NAME } },
      data: { 'airflow_local_settings.py': this.source },
    });
    props.airflow.addFeature(this);
  }

  /** What the feature adds to the control plane (called once, by `addFeature`). */
  public contribute(): AirflowContribution {
    const volume: k8s.Volume = { name: 'airflow-local-settings', configMap: { name: this.configMap.name } };
    const mount: k8s.VolumeMount = {
      name: 'airflow-local-settings',
      mountPath: LOCAL_SETTINGS_PATH,
      subPath: 'airflow_local_settings.py',
      readOnly: true,
    };
    return {
      volumes: { [AirflowPods.CONTROL_PLANE]: [volume], [AirflowPods.TASKS]: [volume] },
      volumeMounts: { [AirflowPods.CONTROL_PLANE]: [mount], [AirflowPods.TASKS]: [mount] },
    };
  }
}
