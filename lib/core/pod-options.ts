import { IConstruct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { invalid } from './errors';
import { atSynth, isAtSynth } from './lazy';
import { SecretKeyRef, secretEnv, validateSecretKeyRef } from './secret-key-ref';
import { checkLiteralEnvValue } from './sensitive-config';
import { validateAbsolutePath, validateDnsLabel, validateDnsSubdomain } from './validators';

/** A key of a ConfigMap. */
export interface ConfigMapKeyRef {
  /** The ConfigMap's name (in the chart's namespace). */
  readonly name: string;
  /** The key within the ConfigMap. */
  readonly key: string;
}

/**
 * The value of an environment variable: a literal that is not a secret, or a reference to a key of a Secret
 * or a ConfigMap, or a field of the pod. Secret values never appear in the YAML: a literal is refused when its
 * variable name looks like a secret (PASSWORD, SECRET, TOKEN, KEY, CONN, CREDENTIAL), when it sets an option
 * Airflow marks sensitive (`AIRFLOW__SECRETS__BACKEND_KWARGS`, `AIRFLOW__CELERY__BROKER_URL`...), and when it
 * holds a URL with a password (`scheme://user:password@host`).
 */
export class EnvValue {
  /** A literal value (not a secret). */
  public static fromValue(value: string): EnvValue {
    return new EnvValue({ value });
  }

  /** The value of a key of a Secret, read by the kubelet when the pod starts. */
  public static fromSecret(ref: SecretKeyRef, options: { readonly optional?: boolean } = {}): EnvValue {
    return new EnvValue({ secret: ref, optional: options.optional });
  }

  /** The value of a key of a ConfigMap. */
  public static fromConfigMap(ref: ConfigMapKeyRef, options: { readonly optional?: boolean } = {}): EnvValue {
    return new EnvValue({ configMap: ref, optional: options.optional });
  }

  /** A field of the pod (the downward API), e.g. `metadata.namespace`, `spec.nodeName`, `status.podIP`. */
  public static fromFieldPath(fieldPath: string): EnvValue {
    return new EnvValue({ fieldPath });
  }

  private constructor(
    private readonly source: {
      readonly value?: string;
      readonly secret?: SecretKeyRef;
      readonly configMap?: ConfigMapKeyRef;
      readonly fieldPath?: string;
      readonly optional?: boolean;
    },
  ) {}

  /** Whether the value is a literal in the YAML. */
  public get isLiteral(): boolean {
    return this.source.value !== undefined;
  }

  /** The env entry `name` with this value, checked in the name of `scope`. */
  public toEnvVar(scope: IConstruct, property: string, name: string): k8s.EnvVar {
    const s = this.source;
    if (s.value !== undefined) {
      if (typeof s.value !== 'string') invalid(scope, property, s.value, 'a string (EnvValue.fromValue takes text)');
      checkLiteralEnvValue(scope, property, name, s.value);
      if (SECRET_ENV_NAME.test(name) && !HARMLESS_ENV_NAME.test(name)) {
        invalid(
          scope,
          property,
          '(value not shown)',
          `a reference for "${name}", whose name says it holds a secret: secrets never go into the YAML as literals`,
          'Use EnvValue.fromSecret({ name, key }) with a Secret you manage.',
        );
      }
      return { name, value: s.value };
    }
    const optional = s.optional === undefined ? {} : { optional: s.optional };
    if (s.secret !== undefined) {
      return secretEnv(name, validateSecretKeyRef(scope, property, s.secret), s.optional);
    }
    if (s.configMap !== undefined) {
      validateDnsSubdomain(scope, `${property}.name`, s.configMap.name);
      return { name, valueFrom: { configMapKeyRef: { name: s.configMap.name, key: s.configMap.key, ...optional } } };
    }
    return { name, valueFrom: { fieldRef: { fieldPath: s.fieldPath! } } };
  }
}

/** Environment variable names that carry secrets (as the secret scan of the tests sees them). */
const SECRET_ENV_NAME = /PASSWORD|PASSWD|SECRET|TOKEN|KEY|FERNET|(^|_)CONN(_|$)|CREDENTIAL/i;
/** Names that match the above but hold no secret: connection ids, file paths, key ids, object names. */
const HARMLESS_ENV_NAME = /(_CONN_ID|_CONN_IDS|_FILE|_PATH|_KEY_ID|_NAME|_CMD)$/i;

/** All keys of a Secret or a ConfigMap as environment variables (`envFrom`). */
export class EnvFrom {
  /** Every key of a Secret. */
  public static secret(name: string, options: { readonly prefix?: string; readonly optional?: boolean } = {}): EnvFrom {
    return new EnvFrom('secret', name, options.prefix, options.optional);
  }

  /** Every key of a ConfigMap. */
  public static configMap(name: string, options: { readonly prefix?: string; readonly optional?: boolean } = {}): EnvFrom {
    return new EnvFrom('configMap', name, options.prefix, options.optional);
  }

  private constructor(
    private readonly kind: 'secret' | 'configMap',
    private readonly name: string,
    private readonly prefix: string | undefined,
    private readonly optional: boolean | undefined,
  ) {}

  /** The `envFrom` entry, checked in the name of `scope`. */
  public toEnvFromSource(scope: IConstruct, property: string): k8s.EnvFromSource {
    validateDnsSubdomain(scope, `${property}.name`, this.name);
    const ref = { name: this.name, ...(this.optional === undefined ? {} : { optional: this.optional }) };
    return {
      ...(this.prefix === undefined ? {} : { prefix: this.prefix }),
      ...(this.kind === 'secret' ? { secretRef: ref } : { configMapRef: ref }),
    };
  }
}

/** Options common to every {@link PodVolume}. */
export interface PodVolumeMountOptions {
  /** Where the containers mount it. */
  readonly mountPath: string;
  /**
   * Whether the mount is read-only.
   * @default true for Secrets and ConfigMaps, false for claims
   */
  readonly readOnly?: boolean;
  /**
   * Mount one file or folder of the volume (`subPath`).
   * @default - the whole volume
   */
  readonly subPath?: string;
}

/** An extra volume of the pods, mounted into their Airflow containers: a Secret, a ConfigMap or an existing claim. */
export class PodVolume {
  /** A Secret's keys as files. */
  public static secret(name: string, options: PodVolumeMountOptions & { readonly secretName: string; readonly defaultMode?: number }): PodVolume {
    return new PodVolume(name, options, true, () => ({
      secret: { secretName: options.secretName, ...(options.defaultMode === undefined ? {} : { defaultMode: options.defaultMode }) },
    }), ['secretName', options.secretName]);
  }

  /** A ConfigMap's keys as files. */
  public static configMap(name: string, options: PodVolumeMountOptions & { readonly configMapName: string }): PodVolume {
    return new PodVolume(name, options, true, () => ({ configMap: { name: options.configMapName } }), ['configMapName', options.configMapName]);
  }

  /**
   * A PersistentVolumeClaim that exists already (created outside the app). A claim of the app's own storage (an
   * Airflow volume's, the metadata database's data or keys) is refused at synth: the library mounts those where they
   * belong.
   */
  public static existingClaim(name: string, options: PodVolumeMountOptions & { readonly claimName: string }): PodVolume {
    return new PodVolume(name, options, false, () => ({ persistentVolumeClaim: { claimName: options.claimName, ...(options.readOnly ? { readOnly: true } : {}) } }), [
      'claimName',
      options.claimName,
    ]);
  }

  private constructor(
    /** The volume's name in the pod spec. */
    public readonly name: string,
    private readonly options: PodVolumeMountOptions,
    private readonly readOnlyByDefault: boolean,
    private readonly source: () => Omit<k8s.Volume, 'name'>,
    private readonly target: [string, string],
  ) {}

  /** Where the containers mount it. */
  public get mountPath(): string {
    return this.options.mountPath;
  }

  /** The claim it mounts (`existingClaim`); undefined for a Secret or a ConfigMap. */
  public get claimName(): string | undefined {
    return this.target[0] === 'claimName' ? this.target[1] : undefined;
  }

  /** The pod-spec volume, checked in the name of `scope`. */
  public toVolume(scope: IConstruct, property: string): k8s.Volume {
    validateDnsLabel(scope, `${property}.name`, this.name);
    validateDnsSubdomain(scope, `${property}.${this.target[0]}`, this.target[1]);
    validateAbsolutePath(scope, `${property}.mountPath`, this.options.mountPath);
    if (this.options.mountPath === '/') {
      invalid(scope, `${property}.mountPath`, '/', 'a folder of the container other than "/": a volume over its root would hide the image, Airflow included');
    }
    const subPath = this.options.subPath;
    // The API server refuses an absolute subPath or one with ".." (apimachinery validateSubPath).
    if (subPath !== undefined && (typeof subPath !== 'string' || subPath === '' || subPath.startsWith('/') || subPath.split('/').includes('..'))) {
      invalid(scope, `${property}.subPath`, subPath, 'a relative path inside the volume, without ".." and not starting with "/", such as "certs/ca.pem"');
    }
    const mode = (this.source() as { secret?: { defaultMode?: unknown } }).secret?.defaultMode;
    // The API server takes 0 to 0777 (octal); 0o644 is the usual one, 0o400 keeps keys to their owner.
    if (mode !== undefined && (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 0o777)) {
      invalid(scope, `${property}.defaultMode`, mode, 'file permissions from 0 to 0o777 (511), such as 0o440');
    }
    return { name: this.name, ...this.source() } as k8s.Volume;
  }

  /** The container mount. */
  public toVolumeMount(): k8s.VolumeMount {
    return {
      name: this.name,
      mountPath: this.options.mountPath,
      ...(this.options.subPath === undefined ? {} : { subPath: this.options.subPath }),
      ...((this.options.readOnly ?? this.readOnlyByDefault) ? { readOnly: true } : {}),
    };
  }
}

/**
 * Where a pod runs and how it is pulled and labelled: what applies to every pod the library makes, Postgres
 * and the secrets bootstrap Job included.
 */
export interface PodPlacementOptions {
  /**
   * Names of Secrets of type `kubernetes.io/dockerconfigjson` to pull private images with (a private registry).
   * @default - none
   */
  readonly imagePullSecrets?: string[];

  /**
   * Node labels a pod's node must have.
   * @default - any node
   */
  readonly nodeSelector?: Record<string, string>;

  /**
   * Taints the pods tolerate.
   * @default - none
   */
  readonly tolerations?: k8s.Toleration[];

  /**
   * Node and pod (anti-)affinity.
   * @default - none
   */
  readonly affinity?: k8s.Affinity;

  /**
   * How the pods spread over zones or nodes.
   * @default - none
   */
  readonly topologySpreadConstraints?: k8s.TopologySpreadConstraint[];

  /**
   * The PriorityClass of the pods.
   * @default - the cluster's default priority
   */
  readonly priorityClassName?: string;

  /**
   * Labels added to the pods (not to the selectors, which stay fixed).
   * @default - none
   */
  readonly podLabels?: Record<string, string>;

  /**
   * Annotations added to the pods.
   * @default - none
   */
  readonly podAnnotations?: Record<string, string>;
}

/** {@link PodPlacementOptions} and what Airflow's own pods get besides: environment, volumes, service account annotations. */
export interface PodOptions extends PodPlacementOptions {
  /**
   * Environment variables of the Airflow containers: literals that are not secrets, or references to Secrets
   * and ConfigMaps (`{ MY_VAR: EnvValue.fromValue('x'), API_TOKEN: EnvValue.fromSecret({ name, key }) }`).
   * Airflow settings go in `config`, not here; the variables the library sets cannot be replaced.
   * @default - none
   */
  readonly env?: Record<string, EnvValue>;

  /**
   * Every key of Secrets or ConfigMaps as environment variables (`[EnvFrom.secret('team-env')]`).
   * @default - none
   */
  readonly envFrom?: EnvFrom[];

  /**
   * Extra volumes mounted into the Airflow containers (`PodVolume.secret(...)`, `.configMap(...)`,
   * `.existingClaim(...)`).
   * @default - none
   */
  readonly extraVolumes?: PodVolume[];

  /**
   * Annotations of the pods' ServiceAccounts: a cloud identity such as IRSA
   * (`eks.amazonaws.com/role-arn`) or GKE workload identity (`iam.gke.io/gcp-service-account`).
   * @default - none
   */
  readonly serviceAccountAnnotations?: Record<string, string>;
}

const MAP_OPTIONS = ['nodeSelector', 'podLabels', 'podAnnotations', 'env', 'serviceAccountAnnotations'] as const;

/**
 * `override` on top of `base`: maps (nodeSelector, podLabels, podAnnotations, env, serviceAccountAnnotations)
 * are merged key by key, the override winning; lists and objects (imagePullSecrets, tolerations, affinity,
 * topologySpreadConstraints, priorityClassName, envFrom, extraVolumes) are replaced as a whole when the override
 * sets them.
 */
export function mergePodOptions(base: PodOptions, override: PodOptions | undefined): PodOptions {
  if (override === undefined) return base;
  const merged: Record<string, unknown> = { ...base, ...withoutUndefined(override) };
  for (const key of MAP_OPTIONS) {
    if (base[key] !== undefined || override[key] !== undefined) merged[key] = { ...base[key], ...override[key] };
  }
  return merged as PodOptions;
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

function checkMap(scope: IConstruct, property: string, map: Record<string, string> | undefined, values: 'label' | 'any'): void {
  if (map === undefined) return;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) invalid(scope, property, map, 'a map of names to values');
  for (const [key, value] of Object.entries(map)) {
    if (!LABEL_KEY.test(key) || key.length > 316) {
      invalid(scope, `${property}["${key}"]`, key, 'a label or annotation key: [prefix/]name, name of letters, digits, "-", "_" and "." (at most 63)');
    }
    if (typeof value !== 'string' || (values === 'label' && !isAtSynth(value) && !LABEL_VALUE.test(value))) {
      invalid(
        scope,
        `${property}["${key}"]`,
        value,
        values === 'label' ? "a label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit" : 'a string',
      );
    }
  }
}

/**
 * The annotations that set a pod's AppArmor or seccomp profile: the Pod Security baseline standard allows only
 * the runtime's default profile or a profile of the node (`localhost/...`), never `unconfined`; the namespace
 * refuses such a pod, and it would run without the confinement the library gives every container.
 */
const CONFINEMENT_ANNOTATION = /^(container\.apparmor\.security\.beta\.kubernetes\.io\/.+|seccomp\.security\.alpha\.kubernetes\.io\/pod|container\.seccomp\.security\.alpha\.kubernetes\.io\/.+)$/;
const CONFINED_PROFILE = /^(runtime\/default|docker\/default|localhost\/.+)$/;

function checkConfinementAnnotations(scope: IConstruct, property: string, annotations: Record<string, string> | undefined): void {
  for (const [key, value] of Object.entries(annotations ?? {})) {
    if (CONFINEMENT_ANNOTATION.test(key) && !(typeof value === 'string' && CONFINED_PROFILE.test(value))) {
      invalid(
        scope,
        `${property}["${key}"]`,
        value,
        'an AppArmor or seccomp profile that confines the containers: "runtime/default" or "localhost/<profile>", never "unconfined" ' +
          '(the Pod Security baseline standard refuses the pod, and the library already gives every container seccomp RuntimeDefault)',
      );
    }
  }
}

/** Checks the shape of pod options in the name of `scope` (`property` is the options' prop, e.g. "scheduler"). */
export function validatePodOptions(scope: IConstruct, property: string, options: PodOptions): void {
  const p = (name: string) => (property ? `${property}.${name}` : name);
  (options.imagePullSecrets ?? []).forEach((s, i) => validateDnsSubdomain(scope, p(`imagePullSecrets[${i}]`), s));
  if (options.imagePullSecrets !== undefined && !Array.isArray(options.imagePullSecrets)) {
    invalid(scope, p('imagePullSecrets'), options.imagePullSecrets, 'a list of Secret names, e.g. ["regcred"]');
  }
  checkMap(scope, p('nodeSelector'), options.nodeSelector, 'label');
  checkMap(scope, p('podLabels'), options.podLabels, 'label');
  checkMap(scope, p('podAnnotations'), options.podAnnotations, 'any');
  checkConfinementAnnotations(scope, p('podAnnotations'), options.podAnnotations);
  checkMap(scope, p('serviceAccountAnnotations'), options.serviceAccountAnnotations, 'any');
  if (options.priorityClassName !== undefined) validateDnsSubdomain(scope, p('priorityClassName'), options.priorityClassName);
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (!/^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(name)) invalid(scope, p(`env["${name}"]`), name, 'an environment variable name');
    if (!(value instanceof EnvValue)) {
      invalid(scope, p(`env["${name}"]`), value, 'an EnvValue: EnvValue.fromValue("..."), EnvValue.fromSecret({ name, key }), EnvValue.fromConfigMap(...)');
    }
    // Secret literals first, so that a sensitive Airflow option hears how to pass it, not a generic refusal.
    if (value.isLiteral) value.toEnvVar(scope, p(`env["${name}"]`), name);
  }
  (options.envFrom ?? []).forEach((e, i) => {
    if (!(e instanceof EnvFrom)) invalid(scope, p(`envFrom[${i}]`), e, 'EnvFrom.secret("name") or EnvFrom.configMap("name")');
  });
  (options.extraVolumes ?? []).forEach((v, i) => {
    if (!(v instanceof PodVolume)) invalid(scope, p(`extraVolumes[${i}]`), v, 'PodVolume.secret(...), PodVolume.configMap(...) or PodVolume.existingClaim(...)');
  });
}

/** The pod-spec fields of placement options: pull secrets, node selection, priority. */
export function podPlacementFields(options: PodPlacementOptions): Partial<k8s.PodSpec> {
  return withoutUndefined({
    imagePullSecrets: options.imagePullSecrets?.length ? options.imagePullSecrets.map((name) => ({ name })) : undefined,
    nodeSelector: options.nodeSelector && Object.keys(options.nodeSelector).length ? { ...options.nodeSelector } : undefined,
    tolerations: options.tolerations?.length ? options.tolerations : undefined,
    affinity: options.affinity,
    topologySpreadConstraints: options.topologySpreadConstraints?.length ? options.topologySpreadConstraints : undefined,
    priorityClassName: options.priorityClassName,
  });
}

/**
 * {@link podPlacementFields} of what `placement` returns at synth: for pods placed like a construct that may be
 * added after them (the chart's control plane, {@link chartPodDefaults}).
 */
export function podPlacementFieldsAtSynth(placement: () => PodPlacementOptions): Partial<k8s.PodSpec> {
  const field = <K extends keyof k8s.PodSpec>(key: K): Partial<k8s.PodSpec>[K] => atSynth(() => podPlacementFields(placement())[key]);
  return {
    imagePullSecrets: field('imagePullSecrets'),
    nodeSelector: field('nodeSelector'),
    tolerations: field('tolerations'),
    affinity: field('affinity'),
    topologySpreadConstraints: field('topologySpreadConstraints'),
    priorityClassName: field('priorityClassName'),
  };
}

/**
 * A pod template's metadata, read at synth: `labels` (the library's over the placement's `podLabels`, which
 * cannot replace them) and the placement's `podAnnotations`.
 */
export function podTemplateMetadataAtSynth(placement: () => PodPlacementOptions, labels: Record<string, string>): k8s.ObjectMeta {
  return {
    labels: atSynth(() => ({ ...placement().podLabels, ...labels })),
    annotations: atSynth(() => {
      const annotations = placement().podAnnotations;
      return annotations && Object.keys(annotations).length ? { ...annotations } : undefined;
    }),
  };
}

/** The env entries of `options.env`, checked (no secret literals) in the name of `scope`. */
export function podEnv(scope: IConstruct, property: string, options: PodOptions): k8s.EnvVar[] {
  return Object.entries(options.env ?? {}).map(([name, value]) => value.toEnvVar(scope, `${property ? `${property}.` : ''}env["${name}"]`, name));
}

/** The envFrom entries of `options.envFrom`. */
export function podEnvFrom(scope: IConstruct, property: string, options: PodOptions): k8s.EnvFromSource[] {
  return (options.envFrom ?? []).map((e, i) => e.toEnvFromSource(scope, `${property ? `${property}.` : ''}envFrom[${i}]`));
}

/** The pod volumes of `options.extraVolumes`. */
export function podExtraVolumes(scope: IConstruct, property: string, options: PodOptions): k8s.Volume[] {
  return (options.extraVolumes ?? []).map((v, i) => v.toVolume(scope, `${property ? `${property}.` : ''}extraVolumes[${i}]`));
}

/** The container mounts of `options.extraVolumes`. */
export function podExtraVolumeMounts(options: PodOptions): k8s.VolumeMount[] {
  return (options.extraVolumes ?? []).map((v) => v.toVolumeMount());
}
