import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import {
  CREATES_SECRET_ANNOTATION,
  Components,
  DEFAULT_AIRFLOW_IMAGE,
  IMAGE_PULL_POLICIES,
  PodPlacementOptions,
  atSynth,
  chartPodDefaults,
  hardenedContainerSecurityContext,
  ROOT_USER,
  resourceRequirements,
  mergePodOptions,
  podPlacementFieldsAtSynth,
  podTemplateMetadataAtSynth,
  resolveAtSynth,
  shortHash,
  validateChoice,
  validatePodOptions,
  IAirflowSecrets,
  SecretKeyRef,
  airflowLabels,
  registerAirflowSecrets,
  namespaceOf,
  oneShotJobLabels,
  requestedAirflowSecrets,
  secretsCopyStoresOf,
  SecretsCopyStore,
  AIRFLOW_UID,
  AIRFLOW_GID,
  validateDnsSubdomain,
  validateImage,
  validateSecretKeyRef,
  refuseUnknownProps,
} from '../core';
import { airflowContainerSecurityContext, airflowPodSecurityContext } from './pod-security';

/**
 * The image the bootstrap Job runs in a chart without a `KubernetesExecutorAirflow` (with one, it runs that one's
 * image, which the node pulls for Airflow anyway): the default Airflow image. The script only needs Python's
 * standard library.
 */
export const DEFAULT_SECRETS_BOOTSTRAP_IMAGE = DEFAULT_AIRFLOW_IMAGE;

/** The CPU and memory of the bootstrap Job: 50m / 64Mi requested, 500m / 256Mi limit (measured: 20 MiB RSS). */
export const SECRETS_BOOTSTRAP_RESOURCES = { cpuRequest: '50m', memoryRequest: '64Mi', cpuLimit: '500m', memoryLimit: '256Mi' } as const;

/** The keys of the generated Secret (also the default keys for {@link AirflowSecrets.fromExistingSecrets}). */
export const AIRFLOW_SECRET_KEYS = {
  /** `[core] fernet_key`: encrypts connections and variables in the metadata database. */
  fernetKey: 'fernet-key',
  /** `[api] secret_key` (Airflow 3) / `[webserver] secret_key` (Airflow 2): signs sessions and log-fetch requests. */
  apiSecretKey: 'api-secret-key',
  /** `[api_auth] jwt_secret` (Airflow 3): signs the tokens of the API and the execution API. */
  jwtSecret: 'jwt-secret',
  /** The metadata database user's password. */
  databasePassword: 'db-password',
  /** The password of the Airflow admin user. */
  adminPassword: 'admin-password',
  /**
   * The password of the Celery broker inside the cluster (Redis). Generated only when the chart runs Celery
   * workers with that broker (`celery` of KubernetesExecutorAirflow / AirflowChart).
   */
  brokerPassword: 'redis-password',
} as const;

/**
 * Props for {@link AirflowSecrets}: the secrets are generated in the cluster, once. The placement options
 * place the bootstrap Job's pod (pull secrets, nodeSelector, tolerations...); unset, they are the chart-wide
 * ones of the chart's `KubernetesExecutorAirflow` (added before or after), merged like pod options: the
 * Job's own maps win key by key, its own lists replace the chart's.
 */
export interface AirflowSecretsProps extends PodPlacementOptions {
  /**
   * The image of the bootstrap Job: any image with `python3` on its PATH (only the standard library is used).
   * The Job is named after its pod spec, so a new image (an Airflow upgrade) makes a new Job instead of an
   * "immutable field" error; it finds the Secret there with every key and leaves it alone.
   * @default - the image of the chart's KubernetesExecutorAirflow (added before or after), which the node pulls
   *   anyway; DEFAULT_SECRETS_BOOTSTRAP_IMAGE ("apache/airflow:3.2.2") in a chart without one
   */
  readonly image?: string;

  /**
   * The image pull policy of the bootstrap Job.
   * @default - the pull policy of the chart's KubernetesExecutorAirflow when the Job runs its image (no `image`
   *   given), else "IfNotPresent"
   */
  readonly imagePullPolicy?: string;

  /**
   * The name of the Secret the Job creates.
   * @default "airflow-secrets"
   */
  readonly secretName?: string;
}

/**
 * Props for {@link AirflowSecrets.fromExistingSecrets}: every value comes from a Secret you manage
 * (sealed-secrets, external-secrets, a vault); nothing is generated. The same fields as
 * {@link IAirflowSecrets}, which the result provides.
 */
export type ExistingAirflowSecretsProps = IAirflowSecrets;

const EXISTING = Symbol('existing');
interface InternalProps extends AirflowSecretsProps {
  readonly [EXISTING]?: ExistingAirflowSecretsProps;
}

const NAME = 'airflow-secrets-bootstrap';

/** The bootstrap Job's volume holding the copy of the generated values (the copy store's claim). */
export const SECRETS_COPY_VOLUME = 'secrets-copy';
/** Where the bootstrap Job mounts it; the copy is the file `<secret name>.json` there. */
export const SECRETS_COPY_MOUNT_PATH = '/secrets-copy';
/** The init container of the bootstrap Job that gives the copy's folder to Airflow's user. */
export const SECRETS_COPY_FOLDER_CONTAINER = 'secrets-copy-folder';

/** The capabilities of the bootstrap Job's `secrets-copy-folder` init container: CHOWN only, to give the folder to uid 50000. */
export const SECRETS_COPY_FOLDER_CAPABILITIES: readonly string[] = ['CHOWN'];

/**
 * The init container that gives the copy's folder to Airflow's user (mode 0700) before the script writes into
 * it: the kubelet creates a missing hostPath folder as root:root 0755, and `fsGroup` does not apply to hostPath.
 * Root with only CHOWN (it changes the mode while it still owns the folder), no privilege escalation, a
 * read-only root: Pod Security "baseline", the level the namespace enforces for Postgres anyway. Like the
 * volume-permissions Job it takes over only an empty folder; a folder that is Airflow's already is left alone,
 * and any other is refused (the Job fails, naming the folder).
 */
function copyFolderContainer(image: string, imagePullPolicy: string): k8s.Container {
  const script = [
    'import os, sys',
    'path, uid, gid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])',
    'st = os.stat(path)',
    'if (st.st_uid, st.st_gid) == (uid, gid):',
    '    print("%s: belongs to %d:%d already, left as it is" % (path, uid, gid))',
    '    sys.exit(0)',
    'try:',
    '    entries = sorted(os.listdir(path))',
    'except OSError as e:',
    '    entries = ["(unreadable: %s)" % e.strerror]',
    'if entries:',
    '    print("%s: NOT taken over: it belongs to %d:%d and holds %s. It is the folder of the copy of the generated secrets: give it to %d:%d if it is that (chown %d:%d on the node), or empty it (docs/secrets-and-security.md)." % (path, st.st_uid, st.st_gid, ", ".join(entries[:3]), uid, gid, uid, gid), file=sys.stderr)',
    '    sys.exit(1)',
    '# the mode first, while root still owns it (no FOWNER needed), then the owner',
    'os.chmod(path, 0o700)',
    'os.chown(path, uid, gid)',
    'print("%s: was empty, given to %d:%d, mode 0700" % (path, uid, gid))',
    '',
  ].join('\n');
  return {
    name: SECRETS_COPY_FOLDER_CONTAINER,
    image,
    imagePullPolicy,
    command: ['python3', '-c', script, SECRETS_COPY_MOUNT_PATH, String(AIRFLOW_UID), String(AIRFLOW_GID)],
    volumeMounts: [{ name: SECRETS_COPY_VOLUME, mountPath: SECRETS_COPY_MOUNT_PATH }],
    securityContext: hardenedContainerSecurityContext({ user: ROOT_USER, runAsNonRoot: false, keepCapabilities: SECRETS_COPY_FOLDER_CAPABILITIES }),
    resources: resourceRequirements({ cpuRequest: '10m', memoryRequest: '32Mi', cpuLimit: '100m', memoryLimit: '64Mi' }),
  };
}

/**
 * Airflow's own secrets (fernet key, API secret key, JWT secret, database and admin passwords), with no
 * value ever in the synthesized YAML.
 *
 * By default a Job (`airflow-secrets-bootstrap-<hash>`) generates them inside the cluster and creates the
 * Secret `airflow-secrets` with them when it does not exist; when it does, the Job adds the keys it lacks (e.g.
 * `redis-password` when Celery is turned on later) and never changes a key that exists. Its Role grants `create`
 * on Secrets, and `get` and `patch` on that one Secret only: it cannot read or change another Secret, nor
 * delete any. Re-applying the YAML, re-running the Job or upgrading Airflow keeps the values. With {@link AirflowSecrets.fromExistingSecrets} the values come from
 * Secrets you manage and nothing is generated.
 *
 * Consumers read each value by reference (`valueFrom.secretKeyRef`), e.g. with {@link AirflowSecrets.secretEnv}.
 */
export class AirflowSecrets extends Construct implements IAirflowSecrets {
  /** The values come from Secrets the user manages; no Job, no Role, nothing generated. */
  public static fromExistingSecrets(scope: Construct, id: string, props: ExistingAirflowSecretsProps): AirflowSecrets {
    return new AirflowSecrets(scope, id, { [EXISTING]: props } as InternalProps);
  }

  /** Where `[core] fernet_key` is. */
  public readonly fernetKey: SecretKeyRef;
  /** Where `[api] secret_key` (Airflow 2: `[webserver] secret_key`) is. */
  public readonly apiSecretKey: SecretKeyRef;
  /** Where `[api_auth] jwt_secret` is (undefined when existing Secrets for Airflow 2 do not have it). */
  public readonly jwtSecret: SecretKeyRef | undefined;
  /** Where the Airflow admin user's password is. */
  public readonly adminPassword: SecretKeyRef;
  /** Where the metadata database password is (undefined when brought elsewhere). */
  public readonly databasePassword: SecretKeyRef | undefined;
  /**
   * Where the Celery broker's password is (undefined when brought Secrets do not have it). In the generated
   * Secret it exists only when a construct of the chart reads it (Celery workers with the in-cluster broker).
   */
  public readonly brokerPassword: SecretKeyRef | undefined;

  /** Whether the values are generated in the cluster (false with {@link AirflowSecrets.fromExistingSecrets}). */
  public readonly generated: boolean;
  /** The name of the generated Secret (undefined when the user brings the Secrets). */
  public readonly secretName: string | undefined;
  /**
   * The image of the bootstrap Job (undefined when nothing is generated): `image`, or the chart's Airflow
   * image, read when asked (so a control plane added later counts).
   */
  public get image(): string | undefined {
    return this.generated ? (this.givenImage ?? chartPodDefaults(this)?.image ?? DEFAULT_SECRETS_BOOTSTRAP_IMAGE) : undefined;
  }
  /** The Job that creates the Secret, for ordering (undefined when nothing is generated). */
  public readonly bootstrapJob: k8s.KubeJob | undefined;
  /** The Job's ServiceAccount. */
  public readonly serviceAccount: k8s.KubeServiceAccount | undefined;
  /** The Job's Role: `create` on `secrets`; `get` and `patch` on the generated Secret only. */
  public readonly role: k8s.KubeRole | undefined;
  /** Binds {@link role} to {@link serviceAccount}. */
  public readonly roleBinding: k8s.KubeRoleBinding | undefined;

  private readonly jobPodSpec: (() => k8s.PodSpec) | undefined;
  private readonly givenImage: string | undefined;

  constructor(scope: Construct, id: string, props: AirflowSecretsProps = {}) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'AirflowSecretsProps');
    const existing = (props as InternalProps)[EXISTING];
    registerAirflowSecrets(this);

    if (existing !== undefined) {
      this.generated = false;
      this.jobPodSpec = undefined;
      this.givenImage = undefined;
      this.fernetKey = validateSecretKeyRef(this, 'fernetKey', existing.fernetKey);
      this.apiSecretKey = validateSecretKeyRef(this, 'apiSecretKey', existing.apiSecretKey);
      this.jwtSecret = existing.jwtSecret === undefined ? undefined : validateSecretKeyRef(this, 'jwtSecret', existing.jwtSecret);
      this.adminPassword = validateSecretKeyRef(this, 'adminPassword', existing.adminPassword);
      this.databasePassword =
        existing.databasePassword === undefined ? undefined : validateSecretKeyRef(this, 'databasePassword', existing.databasePassword);
      this.brokerPassword =
        existing.brokerPassword === undefined ? undefined : validateSecretKeyRef(this, 'brokerPassword', existing.brokerPassword);
      return;
    }

    this.generated = true;
    const namespace = namespaceOf(this);
    const secretName = validateDnsSubdomain(this, 'secretName', props.secretName ?? 'airflow-secrets');
    this.givenImage = props.image === undefined ? undefined : validateImage(this, 'image', props.image);
    const givenPullPolicy =
      props.imagePullPolicy === undefined ? undefined : validateChoice(this, 'imagePullPolicy', props.imagePullPolicy, IMAGE_PULL_POLICIES);
    validatePodOptions(this, '', props);
    // The chart's image, pull policy and placement are read at synth: the control plane may come later. The
    // pull policy follows the image: a Job given its own image does not take the policy of Airflow's.
    const imagePullPolicy = (): string =>
      givenPullPolicy ?? (this.givenImage === undefined ? chartPodDefaults(this)?.imagePullPolicy : undefined) ?? 'IfNotPresent';
    const placement = (): PodPlacementOptions => mergePodOptions(chartPodDefaults(this)?.placement ?? {}, props);
    this.secretName = secretName;
    this.fernetKey = { name: secretName, key: AIRFLOW_SECRET_KEYS.fernetKey };
    this.apiSecretKey = { name: secretName, key: AIRFLOW_SECRET_KEYS.apiSecretKey };
    this.jwtSecret = { name: secretName, key: AIRFLOW_SECRET_KEYS.jwtSecret };
    this.adminPassword = { name: secretName, key: AIRFLOW_SECRET_KEYS.adminPassword };
    this.databasePassword = { name: secretName, key: AIRFLOW_SECRET_KEYS.databasePassword };
    this.brokerPassword = { name: secretName, key: AIRFLOW_SECRET_KEYS.brokerPassword };

    const labels = airflowLabels(Components.SECRETS_BOOTSTRAP);

    this.serviceAccount = new k8s.KubeServiceAccount(this, 'service-account', {
      metadata: { name: NAME, labels },
      // The Job talks to the API; its token is mounted on its pod (automountServiceAccountToken there).
      automountServiceAccountToken: false,
    });

    this.role = new k8s.KubeRole(this, 'role', {
      metadata: { name: NAME, labels },
      // `create` cannot be limited by resourceNames (the name is not known to authorization before the
      // object exists), but create alone cannot read, change or delete an existing Secret. `get` and `patch`
      // (to add the keys an existing Secret lacks) are limited to this one Secret; no list, watch, update or delete.
      rules: [
        { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
        { apiGroups: [''], resources: ['secrets'], resourceNames: [secretName], verbs: ['get', 'patch'] },
      ],
    });

    this.roleBinding = new k8s.KubeRoleBinding(this, 'role-binding', {
      metadata: { name: NAME, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: NAME },
      subjects: [{ kind: 'ServiceAccount', name: NAME, namespace }],
    });

    // Built at synth: the copy store (the in-cluster metadata database's keys volume) may be added after this.
    const podSpec = (): k8s.PodSpec => {
      const store = this.copyStore;
      return {
        ...podPlacementFieldsAtSynth(placement),
        serviceAccountName: NAME,
        automountServiceAccountToken: true,
        restartPolicy: 'Never',
        securityContext: airflowPodSecurityContext(chartPodDefaults(this)?.openShift ?? false),
        ...(store ? { initContainers: [copyFolderContainer(this.image!, imagePullPolicy())] } : {}),
        containers: [
          {
            name: 'bootstrap',
            image: this.image!,
            imagePullPolicy: imagePullPolicy(),
            // Rendered at synth: the keys generated on demand (the Celery broker's password) are those the chart's
            // constructs read, whatever the order they were added in. The Job is named after its pod spec, so a
            // new set of keys is a new Job, which runs and adds the new keys to an existing Secret.
            command: ['python3', '-c', bootstrapScript(this.onDemandKeys)],
            env: [
              { name: 'SECRET_NAME', value: secretName },
              { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              ...(store ? [{ name: 'SECRETS_COPY_PATH', value: SECRETS_COPY_MOUNT_PATH }] : []),
            ],
            ...(store ? { volumeMounts: [{ name: SECRETS_COPY_VOLUME, mountPath: SECRETS_COPY_MOUNT_PATH }] } : {}),
            securityContext: airflowContainerSecurityContext(true, chartPodDefaults(this)?.openShift ?? false),
            resources: resourceRequirements(SECRETS_BOOTSTRAP_RESOURCES),
          },
        ],
        ...(store ? { volumes: [{ name: SECRETS_COPY_VOLUME, persistentVolumeClaim: { claimName: store.claimName } }] } : {}),
      };
    };
    this.jobPodSpec = podSpec;
    this.bootstrapJob = new k8s.KubeJob(this, 'job', {
      metadata: {
        name: atSynth(() => this.jobName!),
        labels: { ...labels, ...oneShotJobLabels() },
        annotations: {
          [CREATES_SECRET_ANNOTATION]: secretName,
          'airflow-cdk8s/purpose':
            `Creates Secret ${secretName} with generated values if it does not exist, else adds the keys it lacks; ` +
            'never changes an existing key. ' +
            'Safe to delete once it has succeeded.',
        },
      },
      spec: {
        // No ttlSecondsAfterFinished: a Job that deletes itself shows as drift in GitOps tools and is
        // re-created (and re-run, harmlessly) by the next apply.
        backoffLimit: 4,
        template: {
          metadata: podTemplateMetadataAtSynth(placement, labels),
          spec: atSynth(podSpec),
        },
      },
    });
  }

  /**
   * The bootstrap Job's name, `airflow-secrets-bootstrap-<hash of its pod spec>` (undefined when nothing is
   * generated): a Job's pod template cannot change, so a changed one (a new image) is a new Job.
   */
  public get jobName(): string | undefined {
    return this.jobPodSpec ? `${NAME}-${shortHash(resolveAtSynth(this.jobPodSpec()))}` : undefined;
  }

  /**
   * Where the Job keeps a copy of the generated values (undefined when nothing is generated, or the chart has
   * no such volume): the in-cluster metadata database's keys volume on hostPath provisioning
   * ({@link SecretsCopyStore}). Read at synth.
   */
  public get copyStore(): SecretsCopyStore | undefined {
    return this.generated ? secretsCopyStoresOf(this)[0] : undefined;
  }

  /** The names of the Secrets the keys are in. */
  public get secretNames(): string[] {
    const refs = [this.fernetKey, this.apiSecretKey, this.jwtSecret, this.adminPassword, this.databasePassword, this.brokerPassword];
    return [...new Set(refs.filter((r): r is SecretKeyRef => r !== undefined).map((r) => r.name))].sort();
  }

  /**
   * The keys the bootstrap Job generates besides the five it always does: those of the on-demand secrets some
   * construct of the chart reads (`redis-password` when Celery workers run with the in-cluster broker).
   * Empty when nothing is generated.
   */
  public get onDemandKeys(): string[] {
    if (!this.generated) return [];
    return requestedAirflowSecrets(this).map((field) => (AIRFLOW_SECRET_KEYS as Record<string, string>)[field]);
  }
}

/** How many times the bootstrap script reads the Secret again after a concurrent change (HTTP 409 Conflict). */
export const BOOTSTRAP_ATTEMPTS = 5;

/**
 * The bootstrap script: standard-library Python, so any image with python3 runs it.
 *
 * 1. It POSTs the Secret with every key; 201 Created: done.
 * 2. 409 AlreadyExists: it GETs the Secret and lists the keys it lacks (a key added to the chart later, e.g. the
 *    Celery broker's password when Celery is turned on in an existing installation). None: the Secret is kept
 *    as it is.
 * 3. Otherwise it PATCHes (JSON merge patch) only the missing keys, with the `resourceVersion` it read in the
 *    patch's metadata: the API server applies the patch only if the Secret has not changed since (optimistic
 *    concurrency), else answers 409 Conflict, and the script reads it again (at most {@link BOOTSTRAP_ATTEMPTS}
 *    rounds). So a key that exists, or that someone wrote meanwhile, is never changed; keys are never removed.
 *    A Secret deleted meanwhile (404) is created again.
 *
 * It never prints a value, only key names. Any other answer fails the Job (retried by its backoffLimit).
 * @param onDemandKeys keys generated besides the five of every deployment (random passwords)
 */
export function bootstrapScript(onDemandKeys: readonly string[] = []): string {
  const keys = AIRFLOW_SECRET_KEYS;
  return [
    'import base64, json, os, secrets, ssl, string, sys, urllib.error, urllib.request',
    'SA = "/var/run/secrets/kubernetes.io/serviceaccount"',
    'name = os.environ["SECRET_NAME"]',
    'namespace = os.environ["POD_NAMESPACE"]',
    'ALNUM = string.ascii_letters + string.digits',
    'def password(n=32):',
    '    # letters and digits only: safe inside a connection URI without escaping',
    '    return "".join(secrets.choice(ALNUM) for _ in range(n))',
    'values = {',
    '    # what cryptography.fernet.Fernet.generate_key() returns: 32 random bytes, url-safe base64',
    `    ${JSON.stringify(keys.fernetKey)}: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),`,
    `    ${JSON.stringify(keys.apiSecretKey)}: secrets.token_urlsafe(32),`,
    `    ${JSON.stringify(keys.jwtSecret)}: secrets.token_urlsafe(32),`,
    `    ${JSON.stringify(keys.databasePassword)}: password(),`,
    `    ${JSON.stringify(keys.adminPassword)}: password(),`,
    ...onDemandKeys.map((key) => `    ${JSON.stringify(key)}: password(),`),
    '}',
    'data = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}',
    '# The copy beside the data the keys protect (SECRETS_COPY_PATH, the metadata database\'s keys volume): it',
    '# outlives the namespace as the data does, so a Secret deleted with the namespace comes back with its values.',
    'copy_dir = os.environ.get("SECRETS_COPY_PATH")',
    'copy_file = os.path.join(copy_dir, name + ".json") if copy_dir else None',
    'def read_copy():',
    '    if copy_file is None or not os.path.exists(copy_file):',
    '        return {}',
    '    with open(copy_file) as f:',
    '        return json.load(f).get("data") or {}',
    'def write_copy(d):',
    '    # atomically (a temporary file flushed to disk, renamed over the copy), mode 0600; "" if nothing changed',
    '    if copy_file is None or read_copy() == d:',
    '        return ""',
    '    tmp = copy_file + ".tmp"',
    '    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:',
    '        json.dump({"secret": name, "namespace": namespace, "data": d}, f, sort_keys=True, indent=1)',
    '        f.flush()',
    '        os.fsync(f.fileno())',
    '    os.replace(tmp, copy_file)',
    '    fd = os.open(copy_dir, os.O_RDONLY)',
    '    os.fsync(fd)',
    '    os.close(fd)',
    '    return "; its copy %s written" % copy_file',
    'kept = read_copy()',
    '# values of the copy are restored, whatever the chart generates now (a key of a feature turned off is kept)',
    'data.update(kept)',
    'body = {',
    '    "apiVersion": "v1", "kind": "Secret", "type": "Opaque",',
    '    "metadata": {"name": name, "namespace": namespace,',
    '        "labels": {"app.kubernetes.io/part-of": "airflow", "app.kubernetes.io/component": "secrets"},',
    '        "annotations": {"airflow-cdk8s/generated-by": "job/airflow-secrets-bootstrap",',
    '            "airflow-cdk8s/warning": "Generated once. Do not delete: a new fernet-key makes stored connections unreadable and the database keeps its password. See docs/secrets-and-security.md to rotate a value."}},',
    '    "data": data,',
    '}',
    'host = os.environ["KUBERNETES_SERVICE_HOST"]',
    'if ":" in host:',
    '    host = "[" + host + "]"',
    'collection = "https://%s:%s/api/v1/namespaces/%s/secrets" % (host, os.environ["KUBERNETES_SERVICE_PORT"], namespace)',
    'item = collection + "/" + name',
    'with open(SA + "/token") as f:',
    '    token = f.read().strip()',
    'context = ssl.create_default_context(cafile=SA + "/ca.crt")',
    'def call(method, url, payload=None, content_type="application/json"):',
    '    # (HTTP status, parsed answer); the answer of an error is the API server\'s Status, never a Secret',
    '    request = urllib.request.Request(url, method=method, data=None if payload is None else json.dumps(payload).encode(),',
    '        headers={"Authorization": "Bearer " + token, "Content-Type": content_type, "Accept": "application/json"})',
    '    try:',
    '        with urllib.request.urlopen(request, context=context, timeout=30) as response:',
    '            return response.status, json.loads(response.read().decode() or "{}")',
    '    except urllib.error.HTTPError as e:',
    '        return e.code, e.read().decode(errors="replace")',
    'def fail(what, status, answer):',
    '    print("%s Secret %s/%s failed: HTTP %s %s" % (what, namespace, name, status, answer), file=sys.stderr)',
    '    sys.exit(1)',
    'exists = False',
    'if copy_file is not None and not kept:',
    '    # no copy yet: an installation from before the copy may have its Secret; if so, the copy is made from it',
    '    # (below), never from values generated here',
    '    status, answer = call("GET", item)',
    '    exists = status == 200',
    `for attempt in range(1, ${BOOTSTRAP_ATTEMPTS + 1}):`,
    '    if not exists:',
    '        # the copy first: a Secret whose values are nowhere else never exists',
    '        written = write_copy(data)',
    '        status, answer = call("POST", collection, body)',
    '        if status == 201:',
    '            if kept:',
    '                print("restored Secret %s/%s from its copy %s: kept %s%s" % (namespace, name, copy_file, ", ".join(sorted(kept)),',
    '                    "; generated " + ", ".join(sorted(set(data) - set(kept))) if set(data) - set(kept) else ""))',
    '            else:',
    '                print("created Secret %s/%s with keys %s%s" % (namespace, name, ", ".join(sorted(data)), written))',
    '            sys.exit(0)',
    '        if status != 409:',
    '            fail("creating", status, answer)',
    '    # it exists: add the keys it lacks, never change one it has',
    '    status, current = call("GET", item)',
    '    if status == 404:',
    '        exists = False',
    '        continue',
    '    if status != 200:',
    '        fail("reading", status, current)',
    '    exists = True',
    '    have = current.get("data") or {}',
    '    missing = sorted(k for k in values if k not in have)',
    '    if not missing:',
    '        # the Secret is what runs: its copy follows it (a value rotated by hand included)',
    '        print("Secret %s/%s already exists with every key: kept as it is, never overwritten%s" % (namespace, name, write_copy(have)))',
    '        sys.exit(0)',
    '    # the resourceVersion read: the API server applies the patch only to that version (else 409 Conflict)',
    '    patch = {"metadata": {"resourceVersion": current["metadata"]["resourceVersion"]}, "data": {k: data[k] for k in missing}}',
    '    status, answer = call("PATCH", item, patch, "application/merge-patch+json")',
    '    if status == 200:',
    '        written = write_copy(answer.get("data") or {})',
    '        print("Secret %s/%s already exists: added the missing keys %s, kept every other key as it is%s" % (namespace, name, ", ".join(missing), written))',
    '        sys.exit(0)',
    '    if status not in (404, 409):',
    '        fail("patching", status, answer)',
    '    print("Secret %s/%s changed meanwhile (HTTP %s): reading it again (attempt %d)" % (namespace, name, status, attempt))',
    `print("Secret %s/%s kept changing: gave up after ${BOOTSTRAP_ATTEMPTS} attempts" % (namespace, name), file=sys.stderr)`,
    'sys.exit(1)',
    '',
  ].join('\n');
}
