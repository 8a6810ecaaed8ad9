// Issue #21 items 3 and 8, over a chart with every feature on: who mounts the DAGs and how, read-only roots,
// liveness probes, termination grace periods, and no pod on the namespace's default ServiceAccount.
import { Testing } from 'cdk8s';
import { AirflowChart, AirflowChartProps, GitSyncMode } from '../../lib';
import { COMPONENT_TERMINATION_GRACE_SECONDS } from '../../lib/airflow/control-plane-components';
import { TASK_POD_TERMINATION_GRACE_SECONDS } from '../../lib/airflow/worker-pod-template';
import { AIRFLOW_TMP_VOLUME_NAME, VolumeUse, volumeUse } from '../../lib/airflow/volume-use';
import { LOG_GROOMER_STALE_MINUTES } from '../../lib/logging/log-groomer';
import { airflowChart, cfgOf, find, podsOf, validationError } from '../support';

const EVERY_FEATURE: AirflowChartProps = {
  celery: {},
  metrics: true,
  logRetentionDays: 7,
  prePullImages: true,
  networkPolicies: true,
  gitSync: { repository: 'https://github.com/org/dags.git' },
};

const variants: Array<[string, AirflowChartProps]> = [
  ['every feature, git-sync on a shared volume', EVERY_FEATURE],
  ['every feature, git-sync in sidecars', { ...EVERY_FEATURE, gitSync: { repository: 'https://github.com/org/dags.git', mode: GitSyncMode.SIDECARS } }],
  ['the default chart', {}],
];

/** Every container of every pod template, with where it is. */
function containers(objects: any[]): Array<[string, any, boolean]> {
  return podsOf(objects).flatMap((p) => [
    ...(p.spec.initContainers ?? []).map((c: any) => [`${p.object}/${c.name}`, c, true] as [string, any, boolean]),
    ...p.spec.containers.map((c: any) => [`${p.object}/${c.name}`, c, false] as [string, any, boolean]),
  ]);
}

function synth(props: AirflowChartProps): any[] {
  return Testing.synth(new AirflowChart(Testing.app(), 'airflow', props));
}

for (const [label, props] of variants) {
  describe(label, () => {
    const objects = synth(props);
    const pods = podsOf(objects);

    test('guard: the feature pods are there', () => {
      if (label.startsWith('every')) {
        const names = pods.map((p) => p.object.split('/')[1]);
        expect(names).toEqual(expect.arrayContaining(['airflow-celery-worker', 'airflow-statsd', 'airflow-redis', 'airflow-image-pre-pull']));
      }
      expect(pods.length).toBeGreaterThan(8);
    });

    test('no pod runs as the namespace\'s default ServiceAccount: each names one of the chart\'s', () => {
      const accounts = objects.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name);
      for (const pod of pods) {
        const sa = pod.spec.serviceAccountName;
        expect([pod.object, sa !== undefined && sa !== 'default' && accounts.includes(sa)]).toEqual([pod.object, true]);
      }
    });

    test('every container has a read-only root file system (Airflow 3)', () => {
      for (const [where, c] of containers(objects)) {
        expect([where, c.securityContext?.readOnlyRootFilesystem]).toEqual([where, true]);
      }
    });

    test('every Airflow container has /tmp from an emptyDir', () => {
      for (const pod of pods.filter((p) => p.spec.volumes?.some((v: any) => v.name === AIRFLOW_TMP_VOLUME_NAME))) {
        expect(pod.spec.volumes).toContainEqual({ name: AIRFLOW_TMP_VOLUME_NAME, emptyDir: {} });
      }
      // (without: the secrets bootstrap, python3 on a script that only reads its token and calls the API, and
      // wait-for-db, bash opening /dev/tcp, the volume-permissions Job's chown and the pre-pull init containers, which only exit: none writes a file)
      for (const [where, c] of containers(objects).filter(([w, c]) => /^apache\/airflow/.test(c.image) && !/secrets-bootstrap|volume-permissions|image-pre-pull|wait-for-db$/.test(w))) {
        const tmp = (c.volumeMounts ?? []).find((m: any) => m.mountPath === '/tmp');
        expect([where, tmp !== undefined]).toEqual([where, true]);
      }
    });

    test('every long-running container has a liveness probe', () => {
      for (const pod of pods.filter((p) => /^(Deployment|StatefulSet|DaemonSet)\//.test(p.object))) {
        // (the pre-pull DaemonSet's pause container only sleeps: the image has no shell and no port to probe,
        // and a pause that dies is restarted by its restartPolicy like any container)
        for (const c of pod.spec.containers.filter((c: any) => !(pod.object === 'DaemonSet/airflow-image-pre-pull' && c.name === 'pause'))) {
          expect([`${pod.object}/${c.name}`, c.livenessProbe !== undefined]).toEqual([`${pod.object}/${c.name}`, true]);
        }
      }
    });

    test('no Airflow container writes the DAGs: every mount of them is read-only, outside git-sync', () => {
      const cfg = cfgOf(objects);
      for (const [where, c] of containers(objects)) {
        if (/git-sync|volume-permissions/.test(where)) continue;
        for (const m of (c.volumeMounts ?? []).filter((m: any) => m.name === 'dags' || m.mountPath === cfg.core.dags_folder)) {
          expect([where, m.readOnly]).toEqual([where, true]);
        }
      }
    });
  });
}

describe('who mounts what (lib/airflow/volume-use.ts)', () => {
  const { airflow, manifests } = airflowChart();
  const pod = (name: string) => find(manifests, 'Deployment', name).spec.template.spec;
  const mountOf = (spec: any, volume: string) => spec.containers[0].volumeMounts.find((m: any) => m.name === volume);

  test('the api-server: the logs it serves, read-only; no DAG files (their source is in the database), no data', () => {
    const spec = pod('airflow-api-server');
    expect(mountOf(spec, 'logs')).toEqual({ name: 'logs', mountPath: '/opt/airflow/logs', readOnly: true });
    expect([mountOf(spec, 'dags'), mountOf(spec, 'data')]).toEqual([undefined, undefined]);
    expect(spec.volumes.map((v: any) => v.name)).toEqual(['logs', 'airflow-config', 'airflow-tmp']);
  });

  test('the dag-processor reads the DAGs read-only and writes its logs; the triggerer also reads data', () => {
    expect(mountOf(pod('airflow-dag-processor'), 'dags')).toEqual({ name: 'dags', mountPath: '/opt/airflow/dags', readOnly: true });
    expect(mountOf(pod('airflow-dag-processor'), 'logs')).toEqual({ name: 'logs', mountPath: '/opt/airflow/logs' });
    expect(mountOf(pod('airflow-triggerer'), 'data')).toEqual({ name: 'data', mountPath: '/opt/airflow/data', readOnly: true });
  });

  test('a task pod writes logs and data, reads the DAGs', () => {
    const mounts = (airflow.workerPodTemplate as any).spec.containers[0].volumeMounts;
    expect(mounts.slice(0, 3)).toEqual([
      { name: 'dags', mountPath: '/opt/airflow/dags', readOnly: true },
      { name: 'logs', mountPath: '/opt/airflow/logs' },
      { name: 'data', mountPath: '/opt/airflow/data' },
    ]);
  });

  test('the one-shot Jobs mount no volume on Airflow 3; on Airflow 2 the migration reads the DAGs (it re-serializes them)', () => {
    const claimsOf = (objects: any[], prefix: string) =>
      objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith(prefix)).spec.template.spec.volumes.filter((v: any) => v.persistentVolumeClaim).map((v: any) => v.name);
    expect(claimsOf(manifests, 'airflow-db-migrate-')).toEqual([]);
    expect(claimsOf(manifests, 'airflow-create-user-')).toEqual([]);
    const a2 = airflowChart({ image: 'apache/airflow:2.11.0', standaloneDagProcessor: true });
    expect(claimsOf(a2.manifests, 'airflow-db-migrate-')).toEqual(['dags']);
    expect(volumeUse('dags', 'scheduler', a2.airflow)).toBe(VolumeUse.READ_ONLY);
    expect(volumeUse('dags', 'webserver', a2.airflow)).toBe(VolumeUse.NONE);
  });

  test('a volume of your own (plugins) is mounted read-write in every Airflow pod, as before', () => {
    expect(volumeUse('plugins', 'api-server', airflow)).toBe(VolumeUse.READ_WRITE);
  });

  test('Airflow 2 keeps a writable root (it copies webserver_config.py into AIRFLOW_HOME at every start); its /tmp is an emptyDir too', () => {
    const a2 = airflowChart({ image: 'apache/airflow:2.11.0' }).manifests;
    const scheduler = find(a2, 'Deployment', 'airflow-scheduler').spec.template.spec;
    expect(scheduler.containers[0].securityContext.readOnlyRootFilesystem).toBe(false);
    expect(scheduler.containers[0].volumeMounts).toContainEqual({ name: 'airflow-tmp', mountPath: '/tmp' });
  });
});

describe('terminationGracePeriodSeconds', () => {
  const { airflow, manifests } = airflowChart();
  test('the official chart\'s: scheduler 10 s, triggerer and dag-processor 60 s; the UI keeps Kubernetes\' 30 s', () => {
    const grace = (name: string) => find(manifests, 'Deployment', name).spec.template.spec.terminationGracePeriodSeconds;
    expect([grace('airflow-scheduler'), grace('airflow-triggerer'), grace('airflow-dag-processor'), grace('airflow-api-server')]).toEqual([10, 60, 60, undefined]);
    expect(COMPONENT_TERMINATION_GRACE_SECONDS).toEqual({ scheduler: 10, triggerer: 60, 'dag-processor': 60 });
  });

  test('a task pod: killed_task_cleanup_time (60 s) and 30 s to report its state and ship its log', () => {
    expect((airflow.workerPodTemplate as any).spec.terminationGracePeriodSeconds).toBe(TASK_POD_TERMINATION_GRACE_SECONDS);
    expect(TASK_POD_TERMINATION_GRACE_SECONDS).toBe(90);
    const longer = airflowChart({ config: { core: { killed_task_cleanup_time: 300 } } }).airflow;
    expect((longer.workerPodTemplate as any).spec.terminationGracePeriodSeconds).toBe(330);
  });
});

describe('the log groomer\'s liveness', () => {
  const { manifests } = airflowChart();
  const groomer = find(manifests, 'Deployment', 'airflow-scheduler').spec.template.spec.containers.find((c: any) => c.name === 'log-groomer');
  test('touches a heartbeat when it starts and after each round; the probe fails when it is older than two rounds', () => {
    expect(groomer.command[2]).toMatch(/^trap .*\ntouch \/tmp\/log-groomer-heartbeat\nwhile true; do\n/);
    expect(groomer.command[2]).toMatch(/\n {2}touch \/tmp\/log-groomer-heartbeat\n {2}sleep /);
    expect(groomer.livenessProbe.exec.command).toEqual(['bash', '-c', `find /tmp/log-groomer-heartbeat -mmin -${LOG_GROOMER_STALE_MINUTES} | grep -q .`]);
    expect(LOG_GROOMER_STALE_MINUTES).toBe(35);
  });
});

describe('refused: a volume in the place of /tmp', () => {
  const refused = (volumes: AirflowChartProps['volumes']) => validationError(() => new AirflowChart(Testing.app(), 'airflow', { volumes })).message;
  test('a volume named airflow-tmp', () => {
    expect(refused([{ name: 'dags' }, { name: 'airflow-tmp' }])).toMatch(/property "volumes" received .*"airflow-tmp".*no volume named "airflow-tmp"/);
  });
  test('a volume mounted at /tmp', () => {
    expect(refused([{ name: 'dags' }, { name: 'scratch', mountPath: '/tmp' }])).toMatch(/property "volumes.scratch.mountPath" received "\/tmp"; allowed: a path other than \/tmp/);
  });
});
