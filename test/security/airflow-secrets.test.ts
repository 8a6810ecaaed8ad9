// AirflowSecrets: keys and passwords generated once inside the cluster by a Job, never in the YAML; or
// references to Secrets that already exist.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Testing, Yaml } from 'cdk8s';
import {
  AIRFLOW_SECRET_KEYS,
  AirflowCdk8sValidationError,
  AirflowSecrets,
  airflowContainerSecurityContext,
  airflowPodSecurityContext,
  AirflowGeneration,
  DEFAULT_SECRETS_BOOTSTRAP_IMAGE,
  ONE_SHOT_JOB_LABEL,
  PodSecurityLevel,
} from '../../lib';
import { secretEnv } from '../../lib/core/secret-key-ref';
import { requestAirflowSecret } from '../../lib/core/registry';
import { BOOTSTRAP_ATTEMPTS, bootstrapScript } from '../../lib/security/airflow-secrets';
import { podSecurityViolations } from '../../lib/security/pod-security';
import { EXISTING_SECRETS, find, Manifest, objectIds, synthIn, testChart } from '../support';
import { python3 } from '../support/python';
import { findSecretMaterial } from '../support/secret-scan';

const chart = () => testChart();

function synthGenerated(props: ConstructorParameters<typeof AirflowSecrets>[2] = {}): { secrets: AirflowSecrets; objects: Manifest[] } {
  const { built, objects } = synthIn((c) => new AirflowSecrets(c, 'secrets', props));
  return { secrets: built, objects };
}

const BYO = EXISTING_SECRETS;

describe('AirflowSecrets, generated in the cluster (the default)', () => {
  const { secrets, objects } = synthGenerated();
  const job = find(objects, 'Job');
  const pod = job.spec.template.spec;

  test('snapshot', () => {
    expect(objects).toMatchSnapshot();
  });

  test('creates a ServiceAccount, a Role, a RoleBinding and the Job, named airflow-secrets-bootstrap, and no Secret', () => {
    // The Job's name ends with a hash of its pod spec: a new image (an Airflow upgrade) is a new Job, not an
    // "immutable field" error.
    expect(job.metadata.name).toBe(secrets.jobName);
    expect(job.metadata.name).toMatch(/^airflow-secrets-bootstrap-[0-9a-f]{8}$/);
    expect(objectIds(objects).sort()).toEqual([
      `batch/v1 Job/${secrets.jobName}`,
      'rbac.authorization.k8s.io/v1 Role/airflow-secrets-bootstrap',
      'rbac.authorization.k8s.io/v1 RoleBinding/airflow-secrets-bootstrap',
      'v1 ServiceAccount/airflow-secrets-bootstrap',
    ]);
    for (const o of objects) expect(o.metadata.namespace).toBe('airflow');
  });

  test('the Role grants create on secrets, and get and patch on the generated Secret only', () => {
    // create cannot be limited by name; get and patch can, and are: no list, watch, update or delete at all
    expect(find(objects, 'Role', 'airflow-secrets-bootstrap').rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['airflow-secrets'], verbs: ['get', 'patch'] },
    ]);
    const custom = synthGenerated({ secretName: 'team-a-airflow' }).objects;
    expect(find(custom, 'Role', 'airflow-secrets-bootstrap').rules[1].resourceNames).toEqual(['team-a-airflow']);
  });

  test('the Job carries the one-shot Job label (for the prune of old Jobs), its pod template does not', () => {
    expect(job.metadata.labels[ONE_SHOT_JOB_LABEL]).toBe('true');
    expect(job.spec.template.metadata.labels[ONE_SHOT_JOB_LABEL]).toBeUndefined();
  });

  test('a new set of keys is a new Job (named after its pod spec), which adds the new keys to an existing Secret', () => {
    const { built, objects: withBroker } = synthIn((c) => {
      requestAirflowSecret(c, 'brokerPassword'); // what the Celery broker does
      return new AirflowSecrets(c, 'secrets');
    });
    expect(built.onDemandKeys).toEqual(['redis-password']);
    const newJob = find(withBroker, 'Job');
    expect(newJob.spec.template.spec.containers[0].command[2]).toBe(bootstrapScript(['redis-password']));
    expect(newJob.metadata.name).toBe(built.jobName);
    expect(newJob.metadata.name).not.toBe(secrets.jobName);
    // only the script differs
    expect({ ...newJob.spec.template.spec, containers: [] }).toEqual({ ...pod, containers: [] });
  });

  test('the RoleBinding binds exactly that Role to exactly the Job\'s ServiceAccount', () => {
    const binding = find(objects, 'RoleBinding', 'airflow-secrets-bootstrap');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'airflow-secrets-bootstrap' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'airflow-secrets-bootstrap', namespace: 'airflow' }]);
  });

  test('the token is mounted only on the Job\'s pod, which uses the API', () => {
    expect(find(objects, 'ServiceAccount', 'airflow-secrets-bootstrap').automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBe('airflow-secrets-bootstrap');
    expect(pod.automountServiceAccountToken).toBe(true);
  });

  test('the Job runs once, is retried a few times and is never deleted by a TTL', () => {
    expect(job.spec.backoffLimit).toBe(4);
    expect(job.spec.ttlSecondsAfterFinished).toBeUndefined();
    expect(pod.restartPolicy).toBe('Never');
  });

  test('the Job runs the bootstrap script with python3 in the default bootstrap image', () => {
    expect(pod.containers).toHaveLength(1);
    const container = pod.containers[0];
    expect(container.image).toBe(DEFAULT_SECRETS_BOOTSTRAP_IMAGE);
    expect(DEFAULT_SECRETS_BOOTSTRAP_IMAGE).toBe('apache/airflow:3.2.2');
    expect(container.command).toEqual(['python3', '-c', bootstrapScript()]);
    expect(container.env).toEqual([
      { name: 'SECRET_NAME', value: 'airflow-secrets' },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ]);
    expect(container.resources.limits.memory).toBe('256Mi');
  });

  test('the Job\'s pod runs as the Airflow user and meets the restricted Pod Security Standard', () => {
    expect(pod.securityContext).toEqual(airflowPodSecurityContext());
    expect(pod.containers[0].securityContext).toEqual(airflowContainerSecurityContext());
    expect(podSecurityViolations(pod, PodSecurityLevel.RESTRICTED)).toEqual([]);
  });

  test('consumers get references to the generated Secret\'s keys', () => {
    expect(secrets.generated).toBe(true);
    expect(secrets.secretName).toBe('airflow-secrets');
    expect(secrets.fernetKey).toEqual({ name: 'airflow-secrets', key: 'fernet-key' });
    expect(secrets.apiSecretKey).toEqual({ name: 'airflow-secrets', key: 'api-secret-key' });
    expect(secrets.jwtSecret).toEqual({ name: 'airflow-secrets', key: 'jwt-secret' });
    expect(secrets.databasePassword).toEqual({ name: 'airflow-secrets', key: 'db-password' });
    expect(secrets.adminPassword).toEqual({ name: 'airflow-secrets', key: 'admin-password' });
    expect(secrets.jobName).toMatch(/^airflow-secrets-bootstrap-[0-9a-f]{8}$/);
  });

  test('Airflow 3 components read the API secret key and the JWT secret by reference', () => {
    expect(AirflowGeneration.AIRFLOW_3.keyEnv(secrets)).toEqual([
      { name: 'AIRFLOW__API__SECRET_KEY', valueFrom: { secretKeyRef: { name: 'airflow-secrets', key: 'api-secret-key' } } },
      { name: 'AIRFLOW__API_AUTH__JWT_SECRET', valueFrom: { secretKeyRef: { name: 'airflow-secrets', key: 'jwt-secret' } } },
    ]);
  });

  test('Airflow 2 components read the webserver secret key by reference, and no JWT secret', () => {
    expect(AirflowGeneration.AIRFLOW_2.keyEnv(secrets)).toEqual([
      { name: 'AIRFLOW__WEBSERVER__SECRET_KEY', valueFrom: { secretKeyRef: { name: 'airflow-secrets', key: 'api-secret-key' } } },
    ]);
  });

  test('secretEnv builds an env var read from a Secret key', () => {
    expect(secretEnv('DB_PASSWORD', secrets.databasePassword!)).toEqual({
      name: 'DB_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'airflow-secrets', key: 'db-password' } },
    });
    expect(secrets.secretNames).toEqual(['airflow-secrets']);
  });

  test('no secret material in the synthesized objects', () => {
    expect(findSecretMaterial(objects)).toEqual([]);
  });

  test('two synths are byte-identical (re-synth and re-apply change nothing)', () => {
    expect(Yaml.stringify(...synthGenerated().objects)).toBe(Yaml.stringify(...objects));
  });
});

describe('the bootstrap script', () => {
  const script = bootstrapScript();

  test('creates the Secret with one POST; on 409 AlreadyExists reads it and patches only the keys it lacks', () => {
    expect(script).toMatch(/^collection = "https:\/\/%s:%s\/api\/v1\/namespaces\/%s\/secrets" % /m);
    expect(script).toContain('item = collection + "/" + name');
    expect(script).toContain('status, answer = call("POST", collection, body)');
    expect(script).toMatch(/if status == 201:\n(\s+.*\n){0,4}\s+print\("created Secret/);
    expect(script).toContain('status, current = call("GET", item)');
    expect(script).toContain('have = current.get("data") or {}');
    expect(script).toContain('missing = sorted(k for k in values if k not in have)');
    expect(script).toMatch(/if not missing:\n(\s+#.*\n)?\s+print\(.*already exists with every key: kept as it is, never overwritten.*\)\n\s+sys\.exit\(0\)/);
    // the patch carries only the missing keys, and nothing but data and the resourceVersion
    expect(script).toContain(
      'patch = {"metadata": {"resourceVersion": current["metadata"]["resourceVersion"]}, "data": {k: data[k] for k in missing}}',
    );
    expect(script).toContain('status, answer = call("PATCH", item, patch, "application/merge-patch+json")');
    // never an update, a delete or a list; one place that talks to the API server
    // (the first GET only when there is a copy folder but no copy yet: an installation from before the copy)
    expect(script.match(/call\("[A-Z]+"/g)).toEqual(['call("GET"', 'call("POST"', 'call("GET"', 'call("PATCH"']);
    expect(script).not.toMatch(/"(PUT|DELETE)"/);
    expect(script.match(/urlopen\(/g)).toHaveLength(1);
  });

  test('optimistic concurrency: a 409 Conflict on the patch (the Secret changed since it was read) reads it again, a bounded number of times', () => {
    expect(BOOTSTRAP_ATTEMPTS).toBe(5);
    expect(script).toContain(`for attempt in range(1, ${BOOTSTRAP_ATTEMPTS + 1}):`);
    expect(script).toMatch(/if status not in \(404, 409\):\n\s+fail\("patching", status, answer\)\n\s+print\(.*changed meanwhile/);
    // deleted meanwhile: created again
    expect(script).toMatch(/if status == 404:\n\s+exists = False\n\s+continue/);
    expect(script).toMatch(/gave up after 5 attempts.*file=sys\.stderr\)\nsys\.exit\(1\)\n$/);
    // any other answer fails the Job (retried by its backoffLimit, visible)
    for (const what of ['creating', 'reading', 'patching']) expect(script).toContain(`fail("${what}", status, `);
    expect(script).toMatch(/def fail\(what, status, answer\):\n.*\n\s+sys\.exit\(1\)/);
  });

  test('never prints a value: only key names, and the API server\'s error answers', () => {
    const prints = script.split('\n').filter((l) => /\bprint\(/.test(l));
    expect(prints.length).toBeGreaterThan(4);
    for (const line of prints) expect(line).not.toMatch(/values\[|data\[|\bcurrent\b|\bpatch\b|\bbody\b/);
  });

  test('generates every key of the Secret; the Celery broker\'s password only when asked for', () => {
    const always = ['admin-password', 'api-secret-key', 'db-password', 'fernet-key', 'jwt-secret'];
    for (const key of always) expect(script).toContain(`"${key}": `);
    expect(script).not.toContain('redis-password');
    expect(Object.values(AIRFLOW_SECRET_KEYS).sort()).toEqual([...always, 'redis-password'].sort());
    const withBroker = bootstrapScript([AIRFLOW_SECRET_KEYS.brokerPassword]);
    expect(withBroker).toContain('    "admin-password": password(),\n    "redis-password": password(),\n}');
    // the same script otherwise: an existing Secret gets the key by the same read-and-patch
    expect(withBroker.replace('    "redis-password": password(),\n', '')).toBe(script);
  });

  test('uses a CSPRNG: a Fernet key of 32 random bytes, url-safe tokens, alphanumeric passwords', () => {
    expect(script).toContain('"fernet-key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()');
    expect(script).toContain('"api-secret-key": secrets.token_urlsafe(32)');
    expect(script).toContain('"jwt-secret": secrets.token_urlsafe(32)');
    expect(script).toContain('"db-password": password()');
    expect(script).toContain('"admin-password": password()');
    expect(script).toContain('ALNUM = string.ascii_letters + string.digits');
    expect(script).not.toMatch(/\brandom\./);
  });

  test('marks the Secret as generated and not to be deleted', () => {
    expect(script).toContain('"airflow-cdk8s/generated-by": "job/airflow-secrets-bootstrap"');
    expect(script).toMatch(/Do not delete/);
  });

  test('authenticates with the pod\'s token and verifies the API server with the cluster CA', () => {
    expect(script).toContain('"Authorization": "Bearer " + token');
    expect(script).toContain('ssl.create_default_context(cafile=SA + "/ca.crt")');
  });
});

describe('AirflowSecrets options and validation', () => {
  test('secretName and image', () => {
    const { secrets, objects } = synthGenerated({ secretName: 'my-airflow-keys', image: 'registry.local:5000/python:3.12' });
    expect(secrets.fernetKey).toEqual({ name: 'my-airflow-keys', key: 'fernet-key' });
    const container = find(objects, 'Job', secrets.jobName!).spec.template.spec.containers[0];
    expect(container.image).toBe('registry.local:5000/python:3.12');
    // A new image is a new Job (its pod template is immutable), not an error at the next apply.
    expect(secrets.jobName).not.toBe(synthGenerated({ secretName: 'my-airflow-keys' }).secrets.jobName);
    expect(container.env[0]).toEqual({ name: 'SECRET_NAME', value: 'my-airflow-keys' });
  });

  test('rejects a secretName that is not a DNS subdomain, naming the construct, the property and the value', () => {
    expect(() => synthGenerated({ secretName: 'Airflow_Secrets' })).toThrow(AirflowCdk8sValidationError);
    expect(() => synthGenerated({ secretName: 'Airflow_Secrets' })).toThrow(
      /AirflowSecrets at "test\/secrets": property "secretName" received "Airflow_Secrets"; allowed: a DNS-1123 subdomain.*Did you mean "airflow-secrets"\?/,
    );
  });

  test('rejects a bad image', () => {
    expect(() => synthGenerated({ image: 'Apache/Airflow:3.1.3' })).toThrow(/property "image" received "Apache\/Airflow:3.1.3"/);
  });

  test('needs a namespace on the Chart (the RoleBinding subject names it)', () => {
    expect(() => new AirflowSecrets(testChart({ namespace: null }), 'secrets')).toThrow(/property "Chart.namespace" received undefined/);
  });
});

describe('AirflowSecrets.fromExistingSecrets (bring your own)', () => {
  test('creates nothing: no Job, no Role, no Secret', () => {
    const c = chart();
    const secrets = AirflowSecrets.fromExistingSecrets(c, 'secrets', BYO);
    expect(Testing.synth(c)).toEqual([]);
    expect(secrets.generated).toBe(false);
    expect(secrets.bootstrapJob).toBeUndefined();
    expect(secrets.role).toBeUndefined();
    expect(secrets.serviceAccount).toBeUndefined();
    expect(secrets.secretName).toBeUndefined();
  });

  test('hands out the references it was given', () => {
    const secrets = AirflowSecrets.fromExistingSecrets(chart(), 'secrets', BYO);
    expect(secrets.fernetKey).toEqual(BYO.fernetKey);
    expect(secrets.apiSecretKey).toEqual(BYO.apiSecretKey);
    expect(secrets.jwtSecret).toEqual(BYO.jwtSecret);
    expect(secrets.adminPassword).toEqual(BYO.adminPassword);
    expect(secrets.databasePassword).toEqual(BYO.databasePassword);
    expect(AirflowGeneration.AIRFLOW_3.keyEnv(secrets)[1]).toEqual({
      name: 'AIRFLOW__API_AUTH__JWT_SECRET',
      valueFrom: { secretKeyRef: { name: 'vault-airflow', key: 'jwt.secret' } },
    });
  });

  test('the database password is optional', () => {
    const { databasePassword, ...rest } = BYO;
    expect(AirflowSecrets.fromExistingSecrets(chart(), 'secrets', rest).databasePassword).toBeUndefined();
  });

  test('rejects a bad Secret name or key, naming the property', () => {
    expect(() =>
      AirflowSecrets.fromExistingSecrets(chart(), 'secrets', { ...BYO, jwtSecret: { name: 'Vault', key: 'jwt' } }),
    ).toThrow(/property "jwtSecret.name" received "Vault"/);
    expect(() =>
      AirflowSecrets.fromExistingSecrets(chart(), 'secrets', { ...BYO, fernetKey: { name: 'vault', key: 'fernet key' } }),
    ).toThrow(/property "fernetKey.key" received "fernet key"; allowed: a Secret key/);
    expect(() =>
      AirflowSecrets.fromExistingSecrets(chart(), 'secrets', { ...BYO, adminPassword: undefined as any }),
    ).toThrow(/property "adminPassword" received undefined/);
  });
});

/**
 * The script run by python3 against an in-memory API server (urlopen replaced; the Secret kept in a JSON file
 * between runs), with the copy of the keys in a folder of its own, as the Job's volume beside Postgres' data.
 */
describe('the bootstrap script keeps a copy of the keys and restores the Secret from it (issue #21 item 5)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airflow-cdk8s-bootstrap-'));
  const copyDir = path.join(dir, 'copy');
  const apiState = path.join(dir, 'api.json');
  const FAKE_API = [
    'import atexit, io, json, os, ssl, urllib.error, urllib.request',
    'STATE = os.environ["FAKE_API_STATE"]',
    'store = json.load(open(STATE)) if os.path.exists(STATE) else {}',
    'atexit.register(lambda: json.dump(store, open(STATE, "w")))',
    'ssl.create_default_context = lambda cafile=None: None',
    'class Answer:',
    '    def __init__(self, status, body): self.status, self.body = status, json.dumps(body).encode()',
    '    def read(self): return self.body',
    '    def __enter__(self): return self',
    '    def __exit__(self, *a): return False',
    'def error(url, code): return urllib.error.HTTPError(url, code, "", {}, io.BytesIO(b"{}"))',
    'calls = []',
    'def urlopen(request, context=None, timeout=None):',
    '    calls.append(request.get_method())',
    '    if len(calls) > int(os.environ.get("FAKE_API_CALLS", "99")): raise urllib.error.URLError("the API server went away")',
    '    method, body, secret = request.get_method(), json.loads(request.data) if request.data else None, store.get("secret")',
    '    if method == "POST":',
    '        if secret: raise error(request.full_url, 409)',
    '        body["metadata"]["resourceVersion"] = "1"',
    '        store["secret"] = body',
    '        return Answer(201, body)',
    '    if secret is None: raise error(request.full_url, 404)',
    '    if method == "GET": return Answer(200, secret)',
    '    secret["data"].update(body["data"])',
    '    return Answer(200, secret)',
    'urllib.request.urlopen = urlopen',
  ].join('\n');

  function run(copy: boolean, onDemand: string[] = [], calls?: number): string {
    const script = bootstrapScript(onDemand).replace('SA = "/var/run/secrets/kubernetes.io/serviceaccount"', `SA = ${JSON.stringify(dir)}`);
    fs.writeFileSync(path.join(dir, 'token'), 'token');
    const r = spawnSync(python3(), ['-c', `${FAKE_API}\nexec(compile(${JSON.stringify(script)}, "bootstrap", "exec"))`], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        FAKE_API_STATE: apiState,
        SECRET_NAME: 'airflow-secrets',
        POD_NAMESPACE: 'airflow',
        KUBERNETES_SERVICE_HOST: '10.0.0.1',
        KUBERNETES_SERVICE_PORT: '443',
        ...(copy ? { SECRETS_COPY_PATH: copyDir } : {}),
        ...(calls !== undefined ? { FAKE_API_CALLS: String(calls) } : {}),
      },
    });
    if (calls !== undefined) return `${r.status}`;
    expect([r.status, r.stderr]).toEqual([0, '']);
    return r.stdout.trim();
  }
  const secret = (): Record<string, string> => JSON.parse(fs.readFileSync(apiState, 'utf8')).secret?.data;
  const copyFile = path.join(copyDir, 'airflow-secrets.json');
  const copied = (): Record<string, string> => JSON.parse(fs.readFileSync(copyFile, 'utf8')).data;
  const deleteSecret = () => fs.writeFileSync(apiState, '{}');

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('without a copy folder: as before, the Secret is created and a deleted one comes back with new values', () => {
    expect(run(false)).toBe('created Secret airflow/airflow-secrets with keys admin-password, api-secret-key, db-password, fernet-key, jwt-secret');
    const first = secret();
    deleteSecret();
    run(false);
    expect(secret()['fernet-key']).not.toBe(first['fernet-key']);
    deleteSecret();
  });

  test('with it: the copy is written (mode 0600) before the Secret is created, with the same values', () => {
    fs.mkdirSync(copyDir, { mode: 0o700 });
    expect(run(true)).toBe(
      `created Secret airflow/airflow-secrets with keys admin-password, api-secret-key, db-password, fernet-key, jwt-secret; its copy ${copyFile} written`,
    );
    expect(copied()).toEqual(secret());
    expect(fs.statSync(copyFile).mode & 0o777).toBe(0o600);
  });

  test('the namespace deleted, and the Secret with it: the next run restores every value from the copy', () => {
    const before = secret();
    deleteSecret();
    expect(run(true)).toBe(`restored Secret airflow/airflow-secrets from its copy ${copyFile}: kept admin-password, api-secret-key, db-password, fernet-key, jwt-secret`);
    expect(secret()).toEqual(before);
  });

  test('a key the chart reads since (redis-password) is generated beside the restored ones, and copied', () => {
    const before = secret();
    deleteSecret();
    expect(run(true, ['redis-password'])).toMatch(/: kept admin-password, api-secret-key, db-password, fernet-key, jwt-secret; generated redis-password$/);
    const { 'redis-password': redis, ...rest } = secret();
    expect(rest).toEqual(before);
    expect(redis).toBeDefined();
    expect(copied()).toEqual(secret());
  });

  test('an installation from before the copy: the copy is made from its Secret, never from values generated here', () => {
    fs.rmSync(copyFile);
    const before = secret();
    // the API server gone after the first answer: no copy is written (a copy of generated values would be wrong)
    expect(run(true, ['redis-password'], 1)).toBe('1');
    expect(fs.existsSync(copyFile)).toBe(false);
    expect(run(true, ['redis-password'])).toBe(
      `Secret airflow/airflow-secrets already exists with every key: kept as it is, never overwritten; its copy ${copyFile} written`,
    );
    expect(secret()).toEqual(before);
    expect(copied()).toEqual(before);
  });

  test('the Secret is what runs: a value rotated by hand replaces the copy\'s at the next run, never the reverse', () => {
    const state = JSON.parse(fs.readFileSync(apiState, 'utf8'));
    state.secret.data['db-password'] = Buffer.from('rotated').toString('base64');
    fs.writeFileSync(apiState, JSON.stringify(state));
    expect(run(true, ['redis-password'])).toBe(
      `Secret airflow/airflow-secrets already exists with every key: kept as it is, never overwritten; its copy ${copyFile} written`,
    );
    expect(Buffer.from(copied()['db-password'], 'base64').toString()).toBe('rotated');
    expect(run(true, ['redis-password'])).toBe('Secret airflow/airflow-secrets already exists with every key: kept as it is, never overwritten');
  });
});
