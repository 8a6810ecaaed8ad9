// Issue #20: git-sync's sidecar mode was documented as the way to run without ReadWriteMany storage, yet every
// pod still mounted ReadWriteMany logs and data claims. A deployment with no shared claims at all: logs on an
// emptyDir of each pod with remote logging (task logs uploaded when each task ends), no data volume, the DAGs
// from git-sync's sidecars and init containers. Only Postgres keeps a claim (ReadWriteOnce, one pod).
import { Chart, Testing } from 'cdk8s';
import {
  AirflowChart,
  AirflowChartProps,
  AirflowSecrets,
  AirflowVolumes,
  GitSyncMode,
  KubernetesExecutorAirflow,
  MetadataDb,
  RemoteLogging,
  StorageProvisioning,
} from '../../lib';
import { validationReport } from '../../validation';
import { byKind, cfgOf, errorOf, podsOf } from '../support';
import { airflowPodViolations, isPostgresPod } from '../support/pod-checks';

const REPO = 'https://github.com/org/dags.git';
const NO_SHARED_STORAGE: AirflowChartProps = {
  provisioning: StorageProvisioning.storageClass('gp3'),
  volumes: [{ name: 'logs', emptyDir: true }],
  remoteLogging: RemoteLogging.s3({ bucket: 'team-logs', prefix: 'airflow' }),
  gitSync: { repository: REPO, branch: 'main', mode: GitSyncMode.SIDECARS },
  celery: {},
};

describe('a chart with no shared claims (block storage only)', () => {
  const chart = new AirflowChart(Testing.app(), 'airflow', NO_SHARED_STORAGE);
  const manifests = Testing.synth(chart);
  const pods = podsOf(manifests);

  test('the only claim is Postgres\' own (ReadWriteOnce, one pod); no PersistentVolume', () => {
    expect(byKind(manifests, 'PersistentVolume')).toEqual([]);
    expect(byKind(manifests, 'PersistentVolumeClaim').map((c) => [c.metadata.name, c.spec.accessModes])).toEqual([['airflow-postgres-claim', ['ReadWriteOnce']]]);
    for (const pod of pods.filter((p) => !isPostgresPod(p))) {
      expect([pod.object, (pod.spec.volumes ?? []).filter((v: any) => v.persistentVolumeClaim)]).toEqual([pod.object, []]);
    }
  });

  test('every Airflow pod (components, Jobs, Celery workers, the task pods) writes its logs into an emptyDir of its own', () => {
    const airflowPods = pods.filter((p) => (p.spec.volumes ?? []).some((v: any) => v.name === 'airflow-config'));
    expect(airflowPods.map((p) => p.object).sort()).toEqual(
      [
        'ConfigMap/airflow-config pod_template_file.yaml',
        'Deployment/airflow-api-server',
        'Deployment/airflow-celery-worker',
        'Deployment/airflow-dag-processor',
        'Deployment/airflow-scheduler',
        'Deployment/airflow-triggerer',
        expect.stringMatching(/^Job\/airflow-create-user-/),
        expect.stringMatching(/^Job\/airflow-db-migrate-/),
      ].sort(),
    );
    for (const pod of airflowPods) {
      // the logs: an emptyDir of its own in every pod that writes or serves task logs (the one-shot Jobs mount none)
      const logs = pod.spec.volumes.find((v: any) => v.name === 'logs');
      expect([pod.object, logs]).toEqual([pod.object, pod.object.startsWith('Job/') ? undefined : { name: 'logs', emptyDir: {} }]);
      // the DAGs: an emptyDir of its own where the pod reads them (the UI, the Jobs and, on Airflow 3, the scheduler mount none)
      const dags = pod.spec.volumes.find((v: any) => v.name === 'dags');
      if (dags !== undefined) expect([pod.object, dags]).toEqual([pod.object, { name: 'dags', emptyDir: {} }]);
      if (/dag-processor|triggerer|celery-worker/.test(pod.object)) expect(dags).toEqual({ name: 'dags', emptyDir: {} });
      expect(pod.spec.volumes.find((v: any) => v.name === 'data')).toBeUndefined();
    }
  });

  test('[logging] base_log_folder is still the logs mount; remote logging uploads from there', () => {
    const cfg = cfgOf(manifests);
    expect(cfg.logging.base_log_folder).toBe('/opt/airflow/logs');
    expect(cfg.logging.remote_logging).toBe('True');
    expect(cfg.logging.remote_base_log_folder).toBe('s3://team-logs/airflow');
  });

  test('no volume-permissions Job: nothing to fix', () => {
    expect(manifests.filter((o) => /volume-permissions/.test(o.metadata.name))).toEqual([]);
  });

  test('the pods that read DAG files sync them first, then keep syncing', () => {
    for (const name of ['Deployment/airflow-dag-processor', 'Deployment/airflow-triggerer', 'Deployment/airflow-celery-worker']) {
      const spec = pods.find((p) => p.object === name)!.spec;
      expect([name, spec.initContainers.map((c: any) => c.name).pop(), spec.containers.map((c: any) => c.name).pop()]).toEqual([name, 'git-sync-init', 'git-sync']);
    }
  });

  test('it passes the schema, cross-object and pod security checks', () => {
    expect(validationReport(chart)).toEqual([]);
    for (const pod of pods.filter((p) => !isPostgresPod(p) && !/redis|image-pre-pull/.test(p.object))) {
      expect([pod.object, airflowPodViolations(pod.spec)]).toEqual([pod.object, []]);
    }
  });
});

describe('a logs emptyDir needs remote logging, checked at synth (features may be added later)', () => {
  test('without it the synth is refused, saying why and what to do', () => {
    const { remoteLogging, ...withoutRemoteLogging } = NO_SHARED_STORAGE;
    const chart = new AirflowChart(Testing.app(), 'airflow', withoutRemoteLogging);
    expect(errorOf(() => Testing.synth(chart))).toContain(
      'KubernetesExecutorAirflow at "airflow/airflow": property "volumes" received {"name":"logs","emptyDir":true}; allowed: a "logs" emptyDir only ' +
        'with remote logging ([logging] remote_logging, set by RemoteLogging): each pod\'s emptyDir is deleted with the pod, so without an upload ' +
        'the log of every task would be lost when its pod ends, and the UI (another pod) could never read it. Add remoteLogging: ' +
        'RemoteLogging.s3({ ... }) / .gcs({ ... }) / .azureBlob({ ... }) (airflow.addFeature(...) in a chart of your own), or give "logs" a ' +
        'ReadWriteMany claim (docs/storage.md).',
    );
  });

  test('composed by hand, remote logging added after the control plane counts', () => {
    const chart = new Chart(Testing.app(), 'team', { namespace: 'team-a', disableResourceNameHashes: true });
    const volumes = new AirflowVolumes(chart, 'volumes', { volumes: [{ name: 'dags' }, { name: 'logs', emptyDir: true }] });
    new AirflowSecrets(chart, 'secrets');
    const airflow = new KubernetesExecutorAirflow(chart, 'airflow', { volumes, database: new MetadataDb(chart, 'db') });
    expect(errorOf(() => Testing.synth(chart))).toMatch(/property "volumes" received \{"name":"logs","emptyDir":true\}; allowed: a "logs" emptyDir only with remote logging/);
    airflow.addFeature(RemoteLogging.gcs({ bucket: 'team-logs' }));
    expect(() => Testing.synth(chart)).not.toThrow();
  });
});
