// DAGs from git (issue #14): git-sync v4 in a Deployment beside the shared dags volume (the default), or in
// sidecars and a task-pod init container without shared storage. The shared-volume mode must add nothing to a
// task pod's start; dags_folder must be the link git-sync publishes; no credential may reach the YAML.
import { Chart, Duration, Testing } from 'cdk8s';
import {
  AirflowChart,
  AirflowSecrets,
  AirflowVolumes,
  DEFAULT_GIT_SYNC_IMAGE,
  EnvValue,
  GitSyncCredentials,
  GitSyncDags,
  GitSyncMode,
  KubernetesExecutorAirflow,
  MetadataDb,
  StorageProvisioning,
  WORKER_CONTAINER_NAME,
  GitSyncDagsOptions,
  addAirflowFeatures,
} from '../../lib';
import { validationReport } from '../../validation';
import { airflowPodSpecs, defaultVolumesOf, errorOf, find, synthesizing, podsOf, synthAirflowChart as synth } from '../support';
import { airflowPodViolations, isPostgresPod, isSecretsBootstrapPod, isVolumePermissionsPod, secretsBootstrapPodViolations } from '../support/pod-checks';
import { findSecretMaterial } from '../support/secret-scan';

const REPO = 'https://github.com/org/dags.git';

/** The value of `--flag=value` among a container's args. */
function flag(container: any, name: string): string | undefined {
  const arg = (container.args ?? []).find((a: string) => a.startsWith(`--${name}=`));
  return arg === undefined ? undefined : arg.slice(name.length + 3);
}

/** The path git-sync publishes the synced commit at: `--link` under `--root` (or absolute). */
function linkPath(container: any): string {
  const link = flag(container, 'link')!;
  return link.startsWith('/') ? link : `${flag(container, 'root')}/${link}`;
}

describe('shared-volume mode (the default): one git-sync Deployment, nothing added to task pods', () => {
  const { manifests, cfg, worker } = synth({ gitSync: { repository: REPO, branch: 'main' } });
  const deployment = find(manifests, 'Deployment', 'airflow-git-sync');
  const gitSync = deployment.spec.template.spec.containers[0];

  test('the worker pod template has no init container and no container besides base', () => {
    expect(worker.spec.initContainers).toBeUndefined();
    expect(worker.spec.containers.map((c: any) => c.name)).toEqual([WORKER_CONTAINER_NAME]);
    // ...and no volume of its own for git: the dags claim, read-only, is all it gets.
    expect(worker.spec.volumes.map((v: any) => v.name)).toEqual(['dags', 'logs', 'data', 'airflow-config', 'airflow-tmp']);
    expect(worker.spec.volumes[0]).toEqual({ name: 'dags', persistentVolumeClaim: { claimName: 'airflow-dags-claim' } });
    expect(worker.spec.containers[0].volumeMounts).toContainEqual({ name: 'dags', mountPath: '/opt/airflow/dags', readOnly: true });
  });

  test('dags_folder is the link git-sync publishes, inside the folder every Airflow pod mounts read-only', () => {
    expect(cfg.core.dags_folder).toBe(linkPath(gitSync));
    expect(cfg.core.dags_folder).toBe('/opt/airflow/dags/git-sync/repo');
    // git-sync writes the dags claim at the same path Airflow reads it from, so the link resolves the same.
    expect(gitSync.volumeMounts).toContainEqual({ name: 'dags', mountPath: '/opt/airflow/dags' });
    expect(deployment.spec.template.spec.volumes).toContainEqual({ name: 'dags', persistentVolumeClaim: { claimName: 'airflow-dags-claim' } });
    const pods = new Map([...airflowPodSpecs(manifests)].filter(([name]) => name !== 'Deployment/airflow-git-sync'));
    expect(pods.size).toBe(6); // 4 components, 2 Jobs
    for (const [name, spec] of pods) {
      const containers = [...(spec.initContainers ?? []), ...spec.containers].filter((c: any) => c.volumeMounts?.some((m: any) => m.name === 'dags'));
      for (const c of containers) {
        expect([name, c.name, c.volumeMounts.find((m: any) => m.name === 'dags')]).toEqual([
          name,
          c.name,
          { name: 'dags', mountPath: '/opt/airflow/dags', readOnly: true },
        ]);
      }
      expect([name, spec.containers.map((c: any) => c.image).filter((i: string) => i.includes('git-sync'))]).toEqual([name, []]);
    }
  });

  test('git-sync v4, pinned by tag, with the v4 flags: repository, ref, root, link, period, depth', () => {
    expect(gitSync.image).toBe(DEFAULT_GIT_SYNC_IMAGE);
    expect(gitSync.image).toMatch(/^registry\.k8s\.io\/git-sync\/git-sync:v4\.\d+\.\d+$/);
    expect(gitSync.args).toEqual([
      `--repo=${REPO}`,
      '--ref=main',
      '--root=/opt/airflow/dags/git-sync',
      '--link=repo',
      '--period=30s',
      '--depth=1',
      '--http-bind=:8000',
    ]);
    expect(gitSync.readinessProbe.httpGet).toEqual({ path: '/', port: 'http' });
  });

  test('one writer at a time, without a token, restricted, as the Airflow user', () => {
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy).toEqual({ type: 'Recreate' });
    const spec = deployment.spec.template.spec;
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(find(manifests, 'ServiceAccount', 'airflow-git-sync').automountServiceAccountToken).toBe(false);
    expect(airflowPodViolations(spec)).toEqual([]);
    expect(gitSync.resources).toEqual({ requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '500m', memory: '512Mi' } });
  });

  test('the whole chart passes the schema, cross-object and pod security checks', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow', { gitSync: { repository: REPO, branch: 'main' } });
    expect(validationReport(chart)).toEqual([]);
    for (const pod of podsOf(manifests).filter((p) => !isPostgresPod(p) && !isVolumePermissionsPod(p))) {
      expect([pod.object, (isSecretsBootstrapPod(pod) ? secretsBootstrapPodViolations : airflowPodViolations)(pod.spec)]).toEqual([pod.object, []]);
    }
  });

  test('subPath, a tag, period and depth', () => {
    const { manifests: m, cfg: c } = synth({
      gitSync: { repository: REPO, rev: 'v1.4.0', subPath: 'airflow/dags/', period: Duration.minutes(2), depth: 0 },
    });
    const container = find(m, 'Deployment', 'airflow-git-sync').spec.template.spec.containers[0];
    expect(c.core.dags_folder).toBe(`${linkPath(container)}/airflow/dags`);
    expect(container.args).toEqual(expect.arrayContaining(['--ref=v1.4.0', '--period=120s', '--depth=0']));
    // Without branch or rev: the remote's default branch.
    const { manifests: d } = synth({ gitSync: { repository: REPO } });
    expect(find(d, 'Deployment', 'airflow-git-sync').spec.template.spec.containers[0].args).toContain('--ref=HEAD');
  });
});

test('the git-sync pod is placed like the control plane: the chart-wide pod options, under its own', () => {
  const tolerations = [{ key: 'dedicated', operator: 'Equal', value: 'airflow', effect: 'NoSchedule' }];
  const { manifests } = synth({
    nodeSelector: { pool: 'airflow', zone: 'a' },
    tolerations,
    podLabels: { team: 'data' },
    imagePullSecrets: ['regcred'],
    env: { TZ: EnvValue.fromValue('Europe/Paris') },
    gitSync: { repository: REPO, nodeSelector: { pool: 'git' }, podAnnotations: { 'example.com/owner': 'dags' } },
  });
  const pod = find(manifests, 'Deployment', 'airflow-git-sync').spec.template;
  expect(pod.spec.nodeSelector).toEqual({ pool: 'git', zone: 'a' }); // maps merge key by key, its own win
  expect(pod.spec.tolerations).toEqual(tolerations);
  expect(pod.spec.imagePullSecrets).toEqual([{ name: 'regcred' }]);
  expect(pod.metadata.labels).toMatchObject({ team: 'data', 'app.kubernetes.io/component': 'git-sync' });
  expect(pod.metadata.annotations).toEqual({ 'example.com/owner': 'dags' });
  // Environment and extra volumes are for Airflow's containers, not git-sync's.
  expect(pod.spec.containers[0].env).toBeUndefined();
  expect(find(manifests, 'Deployment', 'airflow-git-sync').spec.selector.matchLabels).toEqual({
    'app.kubernetes.io/name': 'airflow',
    'app.kubernetes.io/component': 'git-sync',
  });
});

describe('credentials: by Secret reference only, as files git-sync reads', () => {
  test('HTTPS: a token from a Secret as --password-file; no value in the YAML', () => {
    const { manifests } = synth({
      gitSync: { repository: REPO, branch: 'main', credentials: GitSyncCredentials.https({ passwordSecret: { name: 'dags-repo', key: 'token' } }) },
    });
    const spec = find(manifests, 'Deployment', 'airflow-git-sync').spec.template.spec;
    const c = spec.containers[0];
    expect(c.args).toEqual(expect.arrayContaining(['--username=git', '--password-file=/etc/git-secret/password']));
    expect(c.volumeMounts).toContainEqual({ name: 'git-sync-credentials', mountPath: '/etc/git-secret', readOnly: true });
    expect(spec.volumes).toContainEqual({
      name: 'git-sync-credentials',
      projected: { defaultMode: 0o440, sources: [{ secret: { name: 'dags-repo', items: [{ key: 'token', path: 'password' }] } }] },
    });
    expect(findSecretMaterial(manifests)).toEqual([]);
    expect(c.env).toBeUndefined();
  });

  test('HTTPS with the user name in a Secret too: GITSYNC_USERNAME by secretKeyRef', () => {
    const { manifests } = synth({
      gitSync: {
        repository: REPO,
        credentials: GitSyncCredentials.https({ usernameSecret: { name: 'dags-repo', key: 'user' }, passwordSecret: { name: 'dags-repo', key: 'token' } }),
      },
    });
    const c = find(manifests, 'Deployment', 'airflow-git-sync').spec.template.spec.containers[0];
    expect(c.env).toEqual([{ name: 'GITSYNC_USERNAME', valueFrom: { secretKeyRef: { name: 'dags-repo', key: 'user' } } }]);
    expect(c.args.filter((a: string) => a.startsWith('--username'))).toEqual([]);
    expect(findSecretMaterial(manifests)).toEqual([]);
  });

  test('SSH: a deploy key and the host keys from Secrets, known hosts verified', () => {
    const { manifests } = synth({
      gitSync: {
        repository: 'git@github.com:org/dags.git',
        branch: 'main',
        credentials: GitSyncCredentials.ssh({ keySecret: { name: 'dags-ssh', key: 'ssh' }, knownHostsSecret: { name: 'dags-ssh', key: 'known_hosts' } }),
      },
    });
    const spec = find(manifests, 'Deployment', 'airflow-git-sync').spec.template.spec;
    expect(spec.containers[0].args).toEqual(
      expect.arrayContaining([
        '--repo=git@github.com:org/dags.git',
        '--ssh-key-file=/etc/git-secret/ssh',
        '--ssh-known-hosts=true',
        '--ssh-known-hosts-file=/etc/git-secret/known_hosts',
        '--add-user',
      ]),
    );
    expect(spec.volumes.find((v: any) => v.name === 'git-sync-credentials').projected.sources).toEqual([
      { secret: { name: 'dags-ssh', items: [{ key: 'ssh', path: 'ssh' }] } },
      { secret: { name: 'dags-ssh', items: [{ key: 'known_hosts', path: 'known_hosts' }] } },
    ]);
    expect(findSecretMaterial(manifests)).toEqual([]);
  });

  test('a credential in the URL, or credentials that do not fit the URL, are refused', () => {
    expect(errorOf(() => synth({ gitSync: { repository: 'https://bot:ghp_abc123@github.com/org/dags.git' } }))).toMatch(
      /GitSyncDags at "airflow\/airflow\/git-sync": property "repository" received "https:\/\/\(credentials not shown\)@github.com\/org\/dags.git"; allowed: a URL without credentials in it/,
    );
    expect(errorOf(() => synth({ gitSync: { repository: 'https://bot:ghp_abc123@github.com/org/dags.git' } }))).not.toContain('ghp_abc123');
    expect(errorOf(() => synth({ gitSync: { repository: 'git@github.com:org/dags.git' } }))).toMatch(
      /property "credentials" received undefined; allowed: GitSyncCredentials.ssh/,
    );
    const https = GitSyncCredentials.https({ passwordSecret: { name: 's', key: 'k' } });
    expect(errorOf(() => synth({ gitSync: { repository: 'http://git.example.com/dags.git', credentials: https } }))).toMatch(
      /allowed: an https:\/\/ URL with GitSyncCredentials.https/,
    );
    expect(errorOf(() => synth({ gitSync: { repository: REPO, branch: 'main', rev: 'abc' } }))).toMatch(/property "rev" received "abc"; allowed: either branch or rev/);
    expect(errorOf(() => synth({ gitSync: { repository: REPO, subPath: '../etc' } }))).toMatch(/property "subPath" received "..\/etc"/);
    expect(errorOf(() => synth({ gitSync: { repository: REPO, branch: 'main..x' } }))).toMatch(/property "branch" received "main..x"/);
  });
});

describe('sidecar mode (no ReadWriteMany): git-sync in the DAG readers and in every task pod', () => {
  const { manifests, cfg, worker } = synth({ gitSync: { repository: REPO, branch: 'main', mode: GitSyncMode.SIDECARS } });

  test('no dags claim: each pod syncs into its own emptyDir, mounted read-only by Airflow at dags_folder\'s volume', () => {
    expect(manifests.filter((o) => /dags/.test(o.metadata.name))).toEqual([]);
    expect(cfg.core.dags_folder).toBe('/opt/airflow/dags/git-sync/repo');
    for (const [name, spec] of airflowPodSpecs(manifests)) {
      // only in the pods that read DAG files
      const expected = defaultVolumesOf(name).includes('dags') ? { name: 'dags', emptyDir: {} } : undefined;
      expect([name, spec.volumes.find((v: any) => v.name === 'dags')]).toEqual([name, expected]);
    }
  });

  test('the worker pod template clones once in an init container before the task starts (the start-time cost)', () => {
    expect(worker.spec.initContainers.map((c: any) => c.name)).toEqual(['git-sync-init']);
    const init = worker.spec.initContainers[0];
    expect(init.args).toContain('--one-time');
    expect(linkPath(init)).toBe(cfg.core.dags_folder);
    expect(init.volumeMounts).toEqual([{ name: 'dags', mountPath: '/opt/airflow/dags' }, { name: 'git-sync-tmp', mountPath: '/tmp' }]);
    expect(worker.spec.containers.map((c: any) => c.name)).toEqual([WORKER_CONTAINER_NAME]);
    expect(worker.spec.containers[0].volumeMounts).toContainEqual({ name: 'dags', mountPath: '/opt/airflow/dags', readOnly: true });
    expect(airflowPodViolations(worker.spec)).toEqual([]);
  });

  test('Airflow 3: the dag-processor and the triggerer sync continuously; the scheduler and api-server do not read DAG files', () => {
    const sidecars = (name: string) => find(manifests, 'Deployment', name).spec.template.spec.containers.map((c: any) => c.name);
    expect(sidecars('airflow-dag-processor')).toEqual(['dag-processor', 'git-sync']);
    expect(sidecars('airflow-triggerer')).toEqual(['triggerer', 'git-sync']);
    expect(sidecars('airflow-scheduler')).toEqual(['scheduler', 'log-groomer']);
    expect(sidecars('airflow-api-server')).toEqual(['api-server']);
    expect(find(manifests, 'Deployment', 'airflow-dag-processor').spec.template.spec.containers[1].args).not.toContain('--one-time');
  });

  test('every pod with a sidecar starts only after a one-time sync (git-sync-init, --one-time), after the database waits', () => {
    // Issue #20: without it the dag-processor and triggerer start on an empty folder, as the official chart's
    // git-sync-init (scheduler, dag-processor, triggerer, workers) avoids.
    for (const name of ['airflow-dag-processor', 'airflow-triggerer']) {
      const spec = find(manifests, 'Deployment', name).spec.template.spec;
      const init = spec.initContainers;
      expect([name, init.map((c: any) => c.name)]).toEqual([name, ['wait-for-db', 'wait-for-airflow-migrations', 'git-sync-init']]);
      const sidecar = spec.containers.find((c: any) => c.name === 'git-sync');
      // the same sync as the sidecar's, once (the sidecar alone serves its health endpoint for its probes)
      expect(init[2].args).toEqual([...sidecar.args.filter((a: string) => !a.startsWith('--http-bind')), '--one-time']);
      expect(init[2].volumeMounts).toEqual(sidecar.volumeMounts);
      expect(linkPath(init[2])).toBe(cfg.core.dags_folder);
    }
    for (const name of ['airflow-scheduler', 'airflow-api-server']) {
      expect(find(manifests, 'Deployment', name).spec.template.spec.initContainers.map((c: any) => c.name)).not.toContain('git-sync-init');
    }
  });

  test('Airflow 2 without a standalone dag-processor: the scheduler parses, so it syncs', () => {
    const { manifests: m } = synth({ image: 'apache/airflow:2.11.0', gitSync: { repository: REPO, mode: GitSyncMode.SIDECARS } });
    expect(find(m, 'Deployment', 'airflow-scheduler').spec.template.spec.containers.map((c: any) => c.name)).toEqual(['scheduler', 'log-groomer', 'git-sync']);
    expect(find(m, 'Deployment', 'airflow-scheduler').spec.template.spec.initContainers.map((c: any) => c.name)).toContain('git-sync-init');
    expect(find(m, 'Deployment', 'airflow-webserver').spec.template.spec.containers.map((c: any) => c.name)).toEqual(['webserver']);
  });

  test('the chart passes the schema, cross-object and pod security checks, with credentials', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow', {
      gitSync: { repository: REPO, mode: GitSyncMode.SIDECARS, credentials: GitSyncCredentials.https({ passwordSecret: { name: 'dags-repo', key: 'token' } }) },
    });
    expect(validationReport(chart, { existingSecrets: ['dags-repo'] })).toEqual([]);
    const m = Testing.synth(chart);
    for (const pod of podsOf(m).filter((p) => !isPostgresPod(p) && !isVolumePermissionsPod(p))) {
      expect([pod.object, (isSecretsBootstrapPod(pod) ? secretsBootstrapPodViolations : airflowPodViolations)(pod.spec)]).toEqual([pod.object, []]);
    }
    expect(findSecretMaterial(m)).toEqual([]);
  });
});

describe('composed by hand', () => {
  function parts(volumes: ConstructorParameters<typeof AirflowVolumes>[2]) {
    const chart = new Chart(Testing.app(), 'team', { namespace: 'team-a', disableResourceNameHashes: true });
    const v = new AirflowVolumes(chart, 'volumes', volumes);
    new AirflowSecrets(chart, 'secrets');
    return { chart, volumes: v, database: new MetadataDb(chart, 'db') };
  }

  test('KubernetesExecutorAirflow takes the same gitSync option, on a StorageClass with ReadWriteMany', () => {
    const { chart, volumes, database } = parts({ provisioning: StorageProvisioning.storageClass('efs-sc') });
    const airflow = new KubernetesExecutorAirflow(chart, 'airflow', { volumes, database });
    const gitSync = new GitSyncDags(chart, 'git-sync', { airflow, repository: REPO, branch: 'main', subPath: 'dags' });
    expect(airflow.features).toEqual([gitSync]);
    expect(airflow.configuration.get('core', 'dags_folder')).toBe(gitSync.dagsFolder);
    expect(gitSync.dagsFolder).toBe('/opt/airflow/dags/git-sync/repo/dags');
    // A new DAG file of a new commit is listed within 30 s (Airflow's default is 5 minutes), as on minikube.
    expect(airflow.configuration.get('dag_processor', 'refresh_interval')).toBe('30');
    expect((airflow.workerPodTemplate as any).spec.initContainers).toBeUndefined();
    expect(validationReport(chart)).toEqual([]);
  });

  test('shared-volume mode needs a ReadWriteMany dags volume; sidecar mode needs none', () => {
    const rwo = parts({ volumes: [{ name: 'dags', accessModes: ['ReadWriteOnce'] }, { name: 'logs' }] });
    const withGitSync = (p: ReturnType<typeof parts>, gitSync: GitSyncDagsOptions, id = 'airflow') => {
      const airflow = new KubernetesExecutorAirflow(p.chart, id, { volumes: p.volumes, database: p.database });
      return addAirflowFeatures(airflow, { gitSync }).gitSync!;
    };
    expect(errorOf(synthesizing(() => withGitSync(rwo, { repository: REPO })))).toMatch(
      /GitSyncDags at "team\/airflow\/git-sync": property "mode" received "SharedVolume"; allowed: GitSyncMode.SIDECARS: the dags volume is ReadWriteOnce/,
    );
    const withDags = parts({});
    expect(
      errorOf(synthesizing(() => withGitSync(withDags, { repository: REPO, mode: GitSyncMode.SIDECARS }))),
    ).toMatch(/property "volumes" received \["dags","logs","data"\]; allowed: volumes without "dags" in GitSyncMode.SIDECARS/);
    const noDags = parts({ volumes: [{ name: 'logs' }] });
    // Without dags and without a feature that delivers them, the synth says so (the feature may come later).
    const alone = parts({ volumes: [{ name: 'logs' }] });
    new KubernetesExecutorAirflow(alone.chart, 'airflow', { volumes: alone.volumes, database: alone.database });
    expect(errorOf(() => Testing.synth(alone.chart))).toMatch(/volumes that include "dags"/);
    const ok = withGitSync(noDags, { repository: REPO, mode: GitSyncMode.SIDECARS }, 'airflow-2');
    expect(ok.mode).toBe(GitSyncMode.SIDECARS);
  });

  test('minikube (hostPath volumes): git-sync writes into the dags volume\'s own folder, never the whole volume', () => {
    const { manifests } = synth({ gitSync: { repository: REPO } });
    const pv = find(manifests, 'PersistentVolume', 'airflow-dags-volume');
    expect(pv.spec.hostPath.path).toBe('/data/dags');
    const root = flag(find(manifests, 'Deployment', 'airflow-git-sync').spec.template.spec.containers[0], 'root');
    expect(root).toBe('/opt/airflow/dags/git-sync'); // /data/dags/git-sync on the node: a minikube-mounted ./dags keeps its files
  });

  test('without gitSync nothing of it is in the chart', () => {
    const { manifests, cfg, worker } = synth();
    expect(manifests.filter((o) => /git-sync/.test(JSON.stringify(o)))).toEqual([]);
    expect(cfg.core.dags_folder).toBe('/opt/airflow/dags');
    expect(worker.spec.containers[0].volumeMounts).toContainEqual({ name: 'dags', mountPath: '/opt/airflow/dags', readOnly: true });
  });
});
