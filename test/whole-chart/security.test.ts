// Whole-chart security scans: no secret material, every pod's securityContext, RBAC, tokens, the worker pods'
// credentials and the namespace's Pod Security label. The scanners are first shown to catch each defect
// on corrupted objects, so that a green whole-chart scan means something.
import * as fs from 'fs';
import * as path from 'path';
import { Testing } from 'cdk8s';
import { loadAll } from 'js-yaml';
import {
  AIRFLOW_SECRET_KEYS,
  AirflowChart,
  AirflowNetworkPolicies,
  AirflowSecrets,
  GitSyncCredentials,
  GitSyncMode,
  MetadataDb,
  RemoteLogging,
  PodSecurityLevel,
  podSecurityLabels,
  airflowContainerSecurityContext,
  airflowPodSecurityContext,
} from '../../lib';
import { podSecurityLevelOf, podSecurityViolations } from '../../lib/security/pod-security';
import { FoundPod, podsOf, secretKeyRefs, synthIn } from '../support';
import {
  airflowPodViolations,
  isPostgresPod,
  isRedisPod,
  isSecretsBootstrapPod,
  isVolumePermissionsPod,
  podSecurityWarnings,
  postgresPodViolations,
  redisPodViolations,
  secretsBootstrapPodViolations,
  volumePermissionsPodViolations,
} from '../support/pod-checks';
import { findSecretMaterial } from '../support/secret-scan';

// ---------------------------------------------------------------------------------------------------------
// Checks run over a whole chart.

/** RBAC defects: cluster-wide objects, wildcards, secret access beyond create and get/patch by name, foreign subjects. */
function rbacViolations(objects: any[]): string[] {
  const out: string[] = [];
  const namespace = objects.find((o) => o.kind === 'Namespace')?.metadata.name;
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata?.name}`;
    if (o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding') out.push(`${id}: cluster-scoped RBAC`);
    if (o.kind === 'Role') {
      if (!o.metadata.namespace) out.push(`${id}: no namespace`);
      for (const rule of o.rules ?? []) {
        for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames']) {
          if ((rule[field] ?? []).includes('*')) out.push(`${id}: wildcard in ${field}`);
        }
        if ((rule.resources ?? []).includes('secrets')) {
          const readsOrWrites = (rule.verbs ?? []).filter((v: string) => v !== 'create');
          // get and patch (the bootstrap Job adds the keys its Secret lacks) only on Secrets named in resourceNames
          if (readsOrWrites.length > 0 && !(rule.resourceNames?.length > 0 && readsOrWrites.every((v: string) => v === 'get' || v === 'patch'))) {
            out.push(`${id}: ${readsOrWrites.join(',')} on secrets (only create, or get/patch limited by resourceNames)`);
          }
        }
        for (const dangerous of ['escalate', 'bind', 'impersonate']) {
          if ((rule.verbs ?? []).includes(dangerous)) out.push(`${id}: verb ${dangerous}`);
        }
      }
    }
    if (o.kind === 'RoleBinding') {
      if (o.roleRef?.kind !== 'Role') out.push(`${id}: binds a ${o.roleRef?.kind}, not a namespaced Role`);
      for (const s of o.subjects ?? []) {
        if (s.kind !== 'ServiceAccount') out.push(`${id}: subject ${s.kind}/${s.name} is not a ServiceAccount`);
        else if (s.namespace !== o.metadata.namespace || (namespace && s.namespace !== namespace)) {
          out.push(`${id}: subject ServiceAccount ${s.namespace}/${s.name} in another namespace`);
        }
      }
    }
  }
  return out;
}

/** Pods that get a ServiceAccount token although their ServiceAccount is bound to no Role. */
function tokenViolations(objects: any[], pods: FoundPod[]): string[] {
  const accounts = new Map<string, any>(
    objects.filter((o) => o.kind === 'ServiceAccount').map((o) => [o.metadata.name, o]),
  );
  const bound = new Set<string>(
    objects
      .filter((o) => o.kind === 'RoleBinding')
      .flatMap((o) => (o.subjects ?? []).filter((s: any) => s.kind === 'ServiceAccount').map((s: any) => s.name)),
  );
  const out: string[] = [];
  for (const pod of pods) {
    const account = pod.spec.serviceAccountName ?? 'default';
    const automount = pod.spec.automountServiceAccountToken ?? accounts.get(account)?.automountServiceAccountToken ?? true;
    if (automount && !bound.has(account)) {
      out.push(`${pod.object}: mounts the token of ServiceAccount ${account}, which no RoleBinding uses`);
    }
  }
  return out;
}

/**
 * The securityContext rules: Airflow pods uid 50000 & restricted; Postgres, the volume-permissions Job and the
 * secrets bootstrap Job's copy-folder init container per their documented exceptions; the Celery broker (Redis) restricted as its image's non-root user.
 */
function securityContextViolations(pods: FoundPod[]): string[] {
  const rules = (pod: FoundPod) =>
    isPostgresPod(pod)
      ? postgresPodViolations(pod.spec)
      : isVolumePermissionsPod(pod)
        ? volumePermissionsPodViolations(pod.spec)
        : isRedisPod(pod)
          ? redisPodViolations(pod.spec)
          : isSecretsBootstrapPod(pod)
            ? secretsBootstrapPodViolations(pod.spec)
            : airflowPodViolations(pod.spec);
  return pods.flatMap((pod) => rules(pod).map((v) => `${pod.object}: ${v}`));
}

/**
 * Airflow 3 worker pods (the pod_template_file) and Celery workers (they run tasks the same way) must carry no
 * database credentials.
 */
function workerCredentialViolations(pods: FoundPod[]): string[] {
  const out: string[] = [];
  const runsTasks = (p: FoundPod) => p.object.includes('pod_template_file') || p.labels['app.kubernetes.io/component'] === 'celery-worker';
  for (const pod of pods.filter(runsTasks)) {
    const container = (pod.spec.containers ?? [])[0] ?? {};
    const major = /:(\d+)\./.exec(container.image ?? '')?.[1];
    if (major !== undefined && Number(major) < 3) continue; // Airflow 2 workers use the database
    for (const c of [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])]) {
      for (const env of c.env ?? []) {
        const ref = env.valueFrom?.secretKeyRef;
        if (/SQL_ALCHEMY_CONN|DATABASE__|POSTGRES|DB_PASSWORD/i.test(env.name) || (ref && /db-password|connection|conn/i.test(ref.key))) {
          out.push(`${pod.object}: container ${c.name} gets database credentials (${env.name})`);
        }
      }
      for (const from of c.envFrom ?? []) {
        if (from.secretRef) out.push(`${pod.object}: container ${c.name} imports a whole Secret (${from.secretRef.name})`);
      }
    }
  }
  return out;
}

/** Every pod meets the level the namespace enforces (when it says one). */
function namespaceLevelViolations(objects: any[], pods: FoundPod[]): string[] {
  const ns = objects.find((o) => o.kind === 'Namespace');
  const enforced = ns?.metadata?.labels?.['pod-security.kubernetes.io/enforce'] as PodSecurityLevel | undefined;
  if (!enforced) return [];
  return pods.flatMap((pod) => podSecurityViolations(pod.spec, enforced).map((v) => `${pod.object}: ${v} (namespace enforces ${enforced})`));
}

function wholeChartChecks(synth: () => any[]): void {
  const objects = synth();
  const pods = podsOf(objects);

  test('no secret material anywhere', () => {
    expect(findSecretMaterial(objects)).toEqual([]);
  });

  test('every pod: Airflow pods uid 50000 gid 0, non-root, no escalation, ALL dropped, seccomp RuntimeDefault; Postgres per its exception', () => {
    expect(securityContextViolations(pods)).toEqual([]);
  });

  test('RBAC: only namespaced Roles, no wildcards, secrets only created or got/patched by name, bound to ServiceAccounts of the namespace', () => {
    expect(rbacViolations(objects)).toEqual([]);
  });

  test('ServiceAccount tokens only where the API is used', () => {
    expect(tokenViolations(objects, pods)).toEqual([]);
  });

  test('Airflow 3 worker pods and Celery workers get no database credentials', () => {
    expect(workerCredentialViolations(pods)).toEqual([]);
  });

  test('every pod meets the Pod Security level the namespace enforces', () => {
    expect(namespaceLevelViolations(objects, pods)).toEqual([]);
  });

  test('kubectl apply prints no Pod Security warning: every pod meets the level the namespace warns at (issue #23 item 7)', () => {
    expect(podSecurityWarnings(objects)).toEqual([]);
  });
}

describe('the default AirflowChart', () => {
  wholeChartChecks(() => Testing.synth(new AirflowChart(Testing.app(), 'airflow')));

  test('the first kubectl apply of dist/ prints no Pod Security warning (issue #23 item 7)', () => {
    // dist/ as committed, what the README's walkthrough applies. Kubernetes 1.20 (the live stage) has no Pod
    // Security admission to print them, so they are computed: each pod against the namespace's warn label.
    const distDir = path.join(__dirname, '..', '..', 'dist');
    const dist = fs.readdirSync(distDir).sort().flatMap((f) => loadAll(fs.readFileSync(path.join(distDir, f), 'utf8')) as any[]);
    const ns = dist.find((o) => o.kind === 'Namespace');
    expect(ns.metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/warn': 'baseline', 'pod-security.kubernetes.io/enforce': 'baseline' });
    expect(podSecurityWarnings(dist)).toEqual([]);
    // The check has teeth: at restricted, Postgres and the volume-permissions Job would be warned about.
    ns.metadata.labels['pod-security.kubernetes.io/warn'] = 'restricted';
    const warned = new Set(podSecurityWarnings(dist).map((w) => w.slice(0, w.indexOf(' in airflow:'))));
    expect([...warned].map((w) => w.replace(/-[0-9a-f]{8}$/, ''))).toEqual(['Job/airflow-secrets-bootstrap', 'StatefulSet/airflow-postgres', 'Job/airflow-volume-permissions']);
  });

  test('the namespace enforces and warns at the strictest Pod Security level every pod meets, and audits at restricted', () => {
    const objects = Testing.synth(new AirflowChart(Testing.app(), 'airflow'));
    const order = [PodSecurityLevel.PRIVILEGED, PodSecurityLevel.BASELINE, PodSecurityLevel.RESTRICTED];
    const met = podsOf(objects)
      .map((pod) => podSecurityLevelOf(pod.spec))
      .reduce((a, b) => (order.indexOf(a) <= order.indexOf(b) ? a : b), PodSecurityLevel.RESTRICTED);
    const labels = objects.find((o) => o.kind === 'Namespace').metadata.labels ?? {};
    expect(labels).toEqual(expect.objectContaining(podSecurityLabels({ enforce: met })));
  });

  test('its secrets come from the bootstrap Job, and every secretKeyRef names a key the Job creates', () => {
    const objects = Testing.synth(new AirflowChart(Testing.app(), 'airflow'));
    expect(objects.filter((o) => o.kind === 'Job').map((o) => o.metadata.name)).toContainEqual(expect.stringMatching(/^airflow-secrets-bootstrap-/));
    const refs = new Set<string>();
    const visit = (value: any): void => {
      if (Array.isArray(value)) value.forEach(visit);
      else if (value && typeof value === 'object') {
        if (value.secretKeyRef) refs.add(`${value.secretKeyRef.name}/${value.secretKeyRef.key}`);
        Object.values(value).forEach(visit);
      }
    };
    visit(objects);
    podsOf(objects).forEach((pod) => visit(pod.spec)); // the worker pod template, parsed from its ConfigMap
    expect(refs.size).toBeGreaterThan(0);
    const generated = Object.values(AIRFLOW_SECRET_KEYS).map((key) => `airflow-secrets/${key}`);
    expect([...refs].filter((ref) => !generated.includes(ref))).toEqual([]);
  });
});

describe('the AirflowChart with Celery workers, their Redis broker and the network policies', () => {
  wholeChartChecks(() => {
    const objects = Testing.synth(new AirflowChart(Testing.app(), 'airflow', { celery: { replicas: 2 }, networkPolicies: true }));
    // Guard: the new objects are really there, or the checks above prove nothing about them.
    const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(names).toEqual(expect.arrayContaining(['StatefulSet/airflow-redis', 'Deployment/airflow-celery-worker', 'NetworkPolicy/airflow-redis']));
    return objects;
  });

  test('every secretKeyRef names a key the bootstrap Job creates, the broker\'s password included', () => {
    const objects = Testing.synth(new AirflowChart(Testing.app(), 'airflow', { celery: {} }));
    const script = objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-secrets-bootstrap-')).spec.template.spec.containers[0].command[2];
    const refs = new Set(secretKeyRefs(objects).map((ref) => ref.key));
    expect(refs).toContain('redis-password');
    for (const key of refs) expect([key, script.includes(`"${key}": `)]).toEqual([key, true]);
  });
});

describe('git-sync, remote logging, log retention and metrics together (issue #14)', () => {
  for (const mode of [GitSyncMode.SHARED_VOLUME, GitSyncMode.SIDECARS]) {
    describe(mode, () => {
      wholeChartChecks(() => {
        const objects = Testing.synth(
          new AirflowChart(Testing.app(), 'airflow', {
            gitSync: {
              repository: 'git@github.com:org/dags.git',
              mode,
              credentials: GitSyncCredentials.ssh({ keySecret: { name: 'dags-ssh', key: 'ssh' }, knownHostsSecret: { name: 'dags-ssh', key: 'known_hosts' } }),
            },
            remoteLogging: RemoteLogging.s3({ bucket: 'logs-1', connectionId: 'aws_logs', connectionSecret: { name: 'aws-logs', key: 'uri' } }),
            logRetentionDays: 30,
            metrics: true,
          }),
        );
        // Guard: the new pods are really there.
        const names = podsOf(objects).map((p) => p.object);
        expect(names).toEqual(expect.arrayContaining(['Deployment/airflow-statsd', ...(mode === GitSyncMode.SHARED_VOLUME ? ['Deployment/airflow-git-sync'] : [])]));
        return objects;
      });
    });
  }
});

describe('the secrets, the metadata database and the network policies together', () => {
  wholeChartChecks(() => {
    const { objects } = synthIn(
      (chart) => [new AirflowSecrets(chart, 'secrets'), new MetadataDb(chart, 'db'), new AirflowNetworkPolicies(chart, 'network-policies')],
      { id: 'airflow' },
    );
    // Guard: this composition must really contain pods and RBAC, or the checks above prove nothing.
    expect(podsOf(objects).length).toBeGreaterThanOrEqual(2);
    expect(objects.some((o) => o.kind === 'Role')).toBe(true);
    return objects;
  });
});

// ---------------------------------------------------------------------------------------------------------
// The scanners catch what they must (each check fed a corrupted object).

const airflowContainer = (extra: any = {}) => ({
  name: 'scheduler',
  image: 'apache/airflow:3.1.3',
  securityContext: airflowContainerSecurityContext(),
  ...extra,
});
const deployment = (containerExtra: any = {}, specExtra: any = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'airflow-scheduler', namespace: 'airflow' },
  spec: {
    template: {
      metadata: { labels: { 'app.kubernetes.io/component': 'scheduler' } },
      spec: { securityContext: airflowPodSecurityContext(), containers: [airflowContainer(containerExtra)], ...specExtra },
    },
  },
});
const configMap = (data: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'airflow-config', namespace: 'airflow' },
  data,
});
const reasons = (objects: any[]) => findSecretMaterial(objects).map((f) => f.reason);

describe('findSecretMaterial', () => {
  test('passes clean objects: references, secretKeyRef, _CMD indirections, connection ids, empty values', () => {
    const clean = [
      deployment({
        env: [
          { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'airflow-secrets', key: 'db-password' } } },
          { name: 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN', value: 'postgresql+psycopg2://airflow:$(DB_PASSWORD)@airflow-postgres.airflow.svc.cluster.local:5432/airflow' },
          { name: 'AIRFLOW__CORE__FERNET_KEY_CMD', value: 'cat /secrets/fernet-key' },
          { name: 'AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID', value: 'aws_default' },
          { name: 'SECRET_NAME', value: 'airflow-secrets' },
          { name: 'AIRFLOW__CORE__FERNET_KEY', value: '' },
          { name: 'API_TOKEN', value: '$(TOKEN_FROM_SECRET)' },
          { name: 'AIRFLOW__CORE__FERNET_KEY_SECRET', value: 'airflow/fernet-key' },
          { name: 'CONNECTION_CHECK_MAX_COUNT', value: '0' },
        ],
        command: ['bash', '-c', 'exec airflow users create --username admin --password "${ADMIN_PASSWORD}" --role Admin'],
      }),
      configMap({
        'airflow.cfg': '[core]\nfernet_key =\nexecutor = KubernetesExecutor\n[database]\nsql_alchemy_conn = postgresql://airflow@airflow-postgres/airflow\n[api]\nsecret_key_cmd = cat /x\n',
      }),
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'empty' }, type: 'Opaque' },
    ];
    expect(findSecretMaterial(clean)).toEqual([]);
  });

  test('flags a Secret with data or stringData', () => {
    expect(reasons([{ kind: 'Secret', metadata: { name: 's' }, data: { 'fernet-key': 'eA==' } }])).toEqual([
      'Secret with data (keys: fernet-key)',
    ]);
    expect(reasons([{ kind: 'Secret', metadata: { name: 's' }, stringData: { password: 'x' } }])).toEqual([
      'Secret with stringData (keys: password)',
    ]);
  });

  test.each([
    ['POSTGRES_PASSWORD', 'postgres'],
    ['AIRFLOW__CORE__FERNET_KEY', 'Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE='],
    ['AIRFLOW__API__SECRET_KEY', 'changeme'],
    ['AIRFLOW__API_AUTH__JWT_SECRET', 'secret-$(SUFFIX)'],
    ['GITHUB_TOKEN', 'ghp_x'],
    ['AIRFLOW_CONN_MY_DB', 'not-a-uri-but-a-secret'],
  ])('flags env %s with a literal value', (name, value) => {
    expect(findSecretMaterial([deployment({ env: [{ name, value }] })])).toEqual([
      expect.objectContaining({ object: 'Deployment/airflow-scheduler', path: 'spec.template.spec.containers[0].env[0]' }),
    ]);
  });

  test('flags URIs with a literal password, in env, args, config files and annotations', () => {
    expect(reasons([deployment({ env: [{ name: 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN', value: 'postgresql://airflow:airflow@db/airflow' }] })])).toEqual([
      'URI with a literal password: postgresql://airflow:***@',
    ]);
    expect(reasons([deployment({ args: ['--conn', 'redis://:hunter2@redis:6379/0'] })])).toEqual(['URI with a literal password: redis://:***@']);
    expect(reasons([configMap({ 'airflow.cfg': '[database]\nsql_alchemy_conn = postgresql+psycopg2://postgres:postgres@pg/airflow\n' })])).toEqual([
      'URI with a literal password: postgresql+psycopg2://postgres:***@',
    ]);
    expect(reasons([{ kind: 'Service', metadata: { name: 'x', annotations: { a: 'http://u:p@h' } } }])).toEqual(['URI with a literal password: http://u:***@']);
    expect(reasons([deployment({ env: [{ name: 'AIRFLOW_CONN_X', value: '{"conn_type": "postgres", "password": "pw"}' }] })])).toEqual([
      'env AIRFLOW_CONN_X: connection JSON with a literal password',
    ]);
  });

  test.each([
    ['fernet_key = Zm9vYmFy'],
    ['secret_key=changeme'],
    ['jwt_secret = abc'],
    ['password = hunter2'],
    ['  smtp_password = hunter2'],
    ['password: hunter2'],
  ])('flags the config line "%s"', (line) => {
    expect(reasons([configMap({ 'airflow.cfg': `[core]\nexecutor = KubernetesExecutor\n${line}\n` })])).toEqual([
      expect.stringMatching(/^config line ".*" with a literal value$/),
    ]);
  });

  test('flags Redis\' --requirepass with a literal value, not with a $(VAR) the kubelet expands', () => {
    expect(reasons([deployment({ args: ['--port', '6379', '--requirepass', 'hunter2'] })])).toEqual(['command-line --requirepass with a literal value']);
    expect(reasons([deployment({ command: ['sh', '-c', 'exec redis-server --requirepass hunter2'] })])).toEqual([
      'command-line --requirepass with a literal value',
    ]);
    expect(reasons([deployment({ args: ['--requirepass', '$(REDIS_PASSWORD)'] })])).toEqual([]);
  });

  test('flags --password with a literal value in commands, in both forms', () => {
    expect(reasons([deployment({ command: ['airflow', 'users', 'create', '--password', 'admin'] })])).toEqual([
      'command-line --password with a literal value',
    ]);
    expect(reasons([deployment({ args: ['bash', '-c', 'airflow users create --username admin --password=admin'] })])).toEqual([
      'command-line --password with a literal value',
    ]);
  });

  test('scans YAML documents inside ConfigMaps (the worker pod_template_file)', () => {
    const template = 'apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: base\n      env:\n        - name: AIRFLOW__CORE__FERNET_KEY\n          value: literal-key\n';
    expect(findSecretMaterial([configMap({ 'pod_template_file.yaml': template })])).toEqual([
      {
        object: 'ConfigMap/airflow-config pod_template_file.yaml',
        path: 'data["pod_template_file.yaml"][0].spec.containers[0].env[0]',
        reason: 'env AIRFLOW__CORE__FERNET_KEY has a literal value (use valueFrom.secretKeyRef)',
      },
    ]);
    expect(reasons([configMap({ 'broken.yaml': 'a: [' })])[0]).toMatch(/^YAML that cannot be parsed/);
  });
});

describe('the pod and RBAC checks', () => {
  const pods = (o: any) => podsOf([o]);

  test('a correct Airflow pod passes', () => {
    expect(securityContextViolations(pods(deployment()))).toEqual([]);
  });

  test.each([
    ['root', { securityContext: { ...airflowContainerSecurityContext(), runAsUser: 0, runAsNonRoot: false } }, /runAsUser is 0, not 50000/],
    ['another gid', { securityContext: { ...airflowContainerSecurityContext(), runAsGroup: 50000 } }, /runAsGroup is 50000, not 0/],
    ['privilege escalation', { securityContext: { ...airflowContainerSecurityContext(), allowPrivilegeEscalation: true } }, /allowPrivilegeEscalation is not false/],
    ['capabilities kept', { securityContext: { ...airflowContainerSecurityContext(), capabilities: {} } }, /capabilities.drop lacks ALL/],
    ['capabilities added', { securityContext: { ...airflowContainerSecurityContext(), capabilities: { drop: ['ALL'], add: ['NET_ADMIN'] } } }, /adds capabilities NET_ADMIN/],
    ['seccomp unconfined', { securityContext: { ...airflowContainerSecurityContext(), seccompProfile: { type: 'Unconfined' } } }, /seccompProfile is Unconfined/],
    ['no securityContext', { securityContext: undefined }, /allowPrivilegeEscalation is not false/],
  ])('an Airflow pod with %s fails', (_what, extra, expected) => {
    expect(securityContextViolations(pods(deployment(extra))).join('\n')).toMatch(expected);
  });

  test('init containers and Jobs are checked too', () => {
    const job = { kind: 'Job', metadata: { name: 'j' }, spec: { template: { spec: { securityContext: airflowPodSecurityContext(), initContainers: [{ name: 'init', image: 'busybox' }], containers: [airflowContainer()] } } } };
    expect(securityContextViolations(pods(job)).join('\n')).toMatch(/Job\/j: initContainers\[init\]: allowPrivilegeEscalation is not false/);
  });

  test('the Redis pod runs restricted as its image\'s non-root user, never as root', () => {
    const redis = (sc: any) => ({
      kind: 'StatefulSet',
      metadata: { name: 'airflow-redis' },
      spec: { template: { metadata: { labels: { 'app.kubernetes.io/component': 'redis' } }, spec: { securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } }, containers: [{ name: 'redis', image: 'redis:8.6.7-alpine', securityContext: sc }] } } },
    });
    const ok = { runAsUser: 999, runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
    expect(securityContextViolations(pods(redis(ok)))).toEqual([]);
    expect(securityContextViolations(pods(redis({ ...ok, runAsUser: 0, runAsNonRoot: false }))).join()).toMatch(/runAsUser is 0, not a non-root uid/);
    expect(securityContextViolations(pods(redis({ ...ok, runAsUser: undefined }))).join()).toMatch(/runAsUser is unset/);
    expect(securityContextViolations(pods(redis({ ...ok, capabilities: { drop: ['ALL'], add: ['SYS_RESOURCE'] } }))).join()).toMatch(/adds capabilities SYS_RESOURCE/);
  });

  test('the Postgres pod may start as root with baseline capabilities, but not escalate or keep other capabilities', () => {
    const postgres = (sc: any) => ({
      kind: 'StatefulSet',
      metadata: { name: 'airflow-postgres' },
      spec: { template: { metadata: { labels: { 'app.kubernetes.io/component': 'metadata-db' } }, spec: { securityContext: { seccompProfile: { type: 'RuntimeDefault' } }, containers: [{ name: 'postgres', image: 'postgres:17', securityContext: sc }] } } },
    });
    const ok = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: ['CHOWN', 'SETUID', 'SETGID'] } };
    expect(securityContextViolations(pods(postgres(ok)))).toEqual([]);
    expect(securityContextViolations(pods(postgres({ ...ok, capabilities: { drop: ['ALL'], add: ['SYS_ADMIN'] } }))).join()).toMatch(/adds capability SYS_ADMIN \(baseline\)/);
    expect(securityContextViolations(pods(postgres({ ...ok, privileged: true }))).join()).toMatch(/privileged/);
    expect(securityContextViolations(pods(postgres({ ...ok, allowPrivilegeEscalation: undefined }))).join()).toMatch(/allowPrivilegeEscalation/);
  });

  test('RBAC defects are caught', () => {
    const role = (rules: any[]) => ({ kind: 'Role', metadata: { name: 'r', namespace: 'airflow' }, rules });
    expect(rbacViolations([role([{ apiGroups: [''], resources: ['secrets'], verbs: ['create'] }])])).toEqual([]);
    expect(rbacViolations([role([{ apiGroups: [''], resources: ['secrets'], verbs: ['get'], resourceNames: ['airflow-secrets'] }])])).toEqual([]);
    expect(rbacViolations([role([{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'patch'], resourceNames: ['airflow-secrets'] }])])).toEqual([]);
    expect(rbacViolations([role([{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }])])).toEqual([
      'Role/r: get,list on secrets (only create, or get/patch limited by resourceNames)',
    ]);
    expect(rbacViolations([role([{ apiGroups: [''], resources: ['secrets'], verbs: ['patch'] }])])).toEqual([
      'Role/r: patch on secrets (only create, or get/patch limited by resourceNames)',
    ]);
    expect(rbacViolations([role([{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'update', 'delete'], resourceNames: ['airflow-secrets'] }])])).toEqual([
      'Role/r: get,update,delete on secrets (only create, or get/patch limited by resourceNames)',
    ]);
    expect(rbacViolations([role([{ apiGroups: ['*'], resources: ['pods'], verbs: ['*'] }])])).toEqual([
      'Role/r: wildcard in apiGroups',
      'Role/r: wildcard in verbs',
    ]);
    expect(rbacViolations([{ kind: 'ClusterRole', metadata: { name: 'c' }, rules: [] }])).toEqual(['ClusterRole/c: cluster-scoped RBAC']);
    expect(
      rbacViolations([
        { kind: 'RoleBinding', metadata: { name: 'b', namespace: 'airflow' }, roleRef: { kind: 'ClusterRole', name: 'admin' }, subjects: [{ kind: 'ServiceAccount', name: 'x', namespace: 'default' }, { kind: 'User', name: 'bob' }] },
      ]),
    ).toEqual([
      'RoleBinding/b: binds a ClusterRole, not a namespaced Role',
      'RoleBinding/b: subject ServiceAccount default/x in another namespace',
      'RoleBinding/b: subject User/bob is not a ServiceAccount',
    ]);
  });

  test('a token mounted without a Role is caught; an explicit false or a bound account passes', () => {
    const sa = { kind: 'ServiceAccount', metadata: { name: 'airflow-scheduler' } };
    const binding = { kind: 'RoleBinding', metadata: { name: 'b' }, subjects: [{ kind: 'ServiceAccount', name: 'airflow-scheduler' }] };
    const d = (spec: any) => deployment({}, spec);
    expect(tokenViolations([sa], pods(d({ serviceAccountName: 'airflow-scheduler' })))).toEqual([
      'Deployment/airflow-scheduler: mounts the token of ServiceAccount airflow-scheduler, which no RoleBinding uses',
    ]);
    expect(tokenViolations([], pods(d({})))).toHaveLength(1); // the default ServiceAccount
    expect(tokenViolations([sa], pods(d({ serviceAccountName: 'airflow-scheduler', automountServiceAccountToken: false })))).toEqual([]);
    expect(tokenViolations([{ ...sa, automountServiceAccountToken: false }], pods(d({ serviceAccountName: 'airflow-scheduler' })))).toEqual([]);
    expect(tokenViolations([sa, binding], pods(d({ serviceAccountName: 'airflow-scheduler' })))).toEqual([]);
  });

  test('database credentials on an Airflow 3 worker pod are caught, not on Airflow 2', () => {
    const template = (image: string) =>
      `apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: base\n      image: ${image}\n      env:\n        - name: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN\n          valueFrom:\n            secretKeyRef: {name: airflow-secrets, key: db-password}\n`;
    expect(workerCredentialViolations(podsOf([configMap({ 'pod_template_file.yaml': template('apache/airflow:3.1.3') })]))).toEqual([
      'ConfigMap/airflow-config pod_template_file.yaml: container base gets database credentials (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)',
    ]);
    expect(workerCredentialViolations(podsOf([configMap({ 'pod_template_file.yaml': template('apache/airflow:2.11.0') })]))).toEqual([]);
    const celeryWorker = (image: string) => ({
      kind: 'Deployment',
      metadata: { name: 'airflow-celery-worker' },
      spec: { template: { metadata: { labels: { 'app.kubernetes.io/component': 'celery-worker' } }, spec: { containers: [{ name: 'celery-worker', image, env: [{ name: 'AIRFLOW_DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'airflow-secrets', key: 'db-password' } } }] }] } } },
    });
    expect(workerCredentialViolations(podsOf([celeryWorker('apache/airflow:3.1.3')]))).toEqual([
      'Deployment/airflow-celery-worker: container celery-worker gets database credentials (AIRFLOW_DB_PASSWORD)',
    ]);
    expect(workerCredentialViolations(podsOf([celeryWorker('apache/airflow:2.11.0')]))).toEqual([]);
  });

  test('a pod below the level the namespace enforces is caught', () => {
    const ns = { kind: 'Namespace', metadata: { name: 'airflow', labels: podSecurityLabels({ enforce: PodSecurityLevel.RESTRICTED }) } };
    const rootPod = pods(deployment({ securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: false } }));
    expect(namespaceLevelViolations([ns], rootPod).join()).toMatch(/runAsNonRoot: true \(restricted\) \(namespace enforces restricted\)/);
    expect(namespaceLevelViolations([ns], pods(deployment()))).toEqual([]);
  });
});
