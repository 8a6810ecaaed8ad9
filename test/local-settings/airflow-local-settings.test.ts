// airflowLocalSettings (lib/local-settings/airflow-local-settings.ts): airflow_local_settings.py in a ConfigMap,
// mounted where Airflow imports it in every Airflow container, the task pods' and the Celery workers' included.
import { Testing } from 'cdk8s';
import { AirflowChart, AirflowChartProps, LOCAL_SETTINGS_PATH } from '../../lib';
import { validationReport } from '../../validation';
import { airflowPodSpecs, cfgOf, find, Manifest, synthesizing } from '../support';

const HOOK = [
  'def pod_mutation_hook(pod):',
  '    pod.metadata.labels = {**(pod.metadata.labels or {}), "mutated-by": "airflow-local-settings"}',
  '',
].join('\n');

function synth(props: AirflowChartProps): { chart: AirflowChart; objects: Manifest[] } {
  const chart = new AirflowChart(Testing.app(), 'airflow', props);
  return { chart, objects: Testing.synth(chart) };
}
const MOUNT = { name: 'airflow-local-settings', mountPath: '/opt/airflow/config/airflow_local_settings.py', subPath: 'airflow_local_settings.py', readOnly: true };

describe('airflowLocalSettings', () => {
  const { chart, objects } = synth({ airflowLocalSettings: HOOK, celery: {} });
  const settings = chart.features.localSettings!;

  test('Airflow imports it from $AIRFLOW_HOME/config, which it puts on sys.path (airflow/settings.py)', () => {
    expect(LOCAL_SETTINGS_PATH).toBe('/opt/airflow/config/airflow_local_settings.py');
  });

  test('the file is in a ConfigMap named after its content', () => {
    expect(settings.configMap.name).toMatch(/^airflow-local-settings-[0-9a-f]{8,}$/);
    expect(find(objects, 'ConfigMap', settings.configMap.name).data).toEqual({ 'airflow_local_settings.py': HOOK });
    const other = synth({ airflowLocalSettings: `${HOOK}# v2\n` }).chart.features.localSettings!;
    expect(other.configMap.name).not.toBe(settings.configMap.name);
  });

  test('every Airflow container mounts it: the components, the Jobs, the Celery workers and the task pods', () => {
    const pods = [...airflowPodSpecs(objects).entries(), ['worker pod template', (chart.airflow.workerPodTemplate as any).spec]] as Array<[string, any]>;
    const names = pods.map(([n]) => n);
    expect(names).toEqual(expect.arrayContaining(['Deployment/airflow-scheduler', 'Deployment/airflow-api-server', 'Deployment/airflow-celery-worker', 'worker pod template']));
    expect(names).toContainEqual(expect.stringMatching(/^Job\/airflow-db-migrate-/));
    expect(names).toContainEqual(expect.stringMatching(/^Job\/airflow-create-user-/));
    for (const [name, spec] of pods) {
      expect([name, spec.volumes]).toEqual([name, expect.arrayContaining([{ name: 'airflow-local-settings', configMap: { name: settings.configMap.name } }])]);
      // The Airflow container (not the sidecars, nor the init containers that wait for the database and the schema)
      for (const c of [spec.containers[0]]) {
        expect([name, c.name, c.volumeMounts]).toEqual([name, c.name, expect.arrayContaining([MOUNT])]);
      }
    }
    // The task pods' template, as the executor reads it from airflow.cfg's ConfigMap.
    expect(find(objects, 'ConfigMap', 'airflow-config').data['pod_template_file.yaml']).toContain(`name: ${settings.configMap.name}`);
  });

  test('a change of the file rolls every Airflow pod (the config checksum covers the pod template)', () => {
    const checksum = (o: Manifest[]) => find(o, 'Deployment', 'airflow-scheduler').spec.template.metadata.annotations['checksum/airflow-config'];
    expect(checksum(synth({ airflowLocalSettings: `${HOOK}# v2\n` }).objects)).not.toBe(checksum(objects));
  });

  test('no Airflow option changes; the validation passes', () => {
    expect(cfgOf(objects)).toEqual(cfgOf(synth({ celery: {} }).objects));
    expect(validationReport(chart)).toEqual([]);
  });

  test('refused: empty, too large, not a string', () => {
    const error = (source: unknown) => synthesizing(() => new AirflowChart(Testing.app(), 'airflow', { airflowLocalSettings: source as string }));
    expect(error('  \n')).toThrow(
      'AirflowLocalSettings at "airflow/airflow/local-settings": property "airflowLocalSettings" received "  \\n"; allowed: the Python source of airflow_local_settings.py, such as "def pod_mutation_hook(pod):\\n    ...".',
    );
    expect(error('#'.repeat(300 * 1024))).toThrow(
      'AirflowLocalSettings at "airflow/airflow/local-settings": property "airflowLocalSettings" received "(307200 bytes)"; allowed: at most 262144 bytes: it is a ConfigMap (1 MiB at most). Put larger code in a package of your image and import it from here.',
    );
    expect(error({ pod_mutation_hook: 'x' })).toThrow(/property "airflowLocalSettings" received \{"pod_mutation_hook":"x"\}; allowed: the Python source/);
  });
});
