import { ApiObject, App } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { APP_NAME, COMPONENT_LABEL, Components, NAME_LABEL, PART_OF_LABEL, atSynth, clusterScoped, namespaceOf, podSpecSourcesIn, refuseUnknownProps } from '../core';
import { PodSecurityLevel, podSecurityLabels, podSecurityLevelOf } from './pod-security';

/** Props for {@link AirflowNamespace}. */
export interface AirflowNamespaceProps {
  /**
   * Labels added to the Namespace. Pod Security labels given here replace the computed ones.
   * @default - only the library's own labels and the computed Pod Security labels
   */
  readonly labels?: Record<string, string>;

  /**
   * Whether to label the Namespace for Pod Security admission: enforce and warn at the strictest Pod Security
   * Standard that every pod in the namespace meets (computed at synth from every workload, Job and pod template
   * of the app in this namespace, including the worker pod template and pods added after this construct), so
   * that the first `kubectl apply` prints no warning, and audit at `restricted` (docs/secrets-and-security.md).
   * @default true
   */
  readonly podSecurityLabels?: boolean;
}

/** Kinds whose pods the Pod Security level is computed from, and where their pod spec is. */
const POD_SPEC_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

const ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';
const WARN_LABEL = 'pod-security.kubernetes.io/warn';

const LEVELS = [PodSecurityLevel.PRIVILEGED, PodSecurityLevel.BASELINE, PodSecurityLevel.RESTRICTED];

/**
 * The Namespace the Chart's objects live in (the Chart's `namespace`), created first so that
 * `kubectl apply -f` succeeds in one pass, with Pod Security admission labels computed at synth.
 */
export class AirflowNamespace extends Construct {
  /** The namespace's name. */
  public readonly name: string;

  /** The Namespace object. */
  public readonly namespace: k8s.KubeNamespace;

  constructor(scope: Construct, id: string, props: AirflowNamespaceProps = {}) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'AirflowNamespaceProps');
    this.name = namespaceOf(this);
    // Enforce and warn are one level: a walk that synthesizes every pod of the app, computed once while the
    // Namespace is synthesized (below) and never kept between synths, so pods added later still count.
    let synthesizing = false;
    let level: PodSecurityLevel | undefined;
    const levelAtSynth = (): PodSecurityLevel => (synthesizing ? (level ??= this.enforcedLevel) : this.enforcedLevel);
    const computed =
      props.podSecurityLabels ?? true
        ? {
          ...podSecurityLabels({ enforce: PodSecurityLevel.RESTRICTED }),
          // enforce and warn at the level the pods meet, computed at synth: warning at restricted would make the
          // first apply print a Pod Security warning for Postgres and the volume-permissions Job, which are
          // baseline by design. Audit stays restricted: it records them in the audit log, and prints nothing.
          [ENFORCE_LABEL]: atSynth(levelAtSynth),
          [WARN_LABEL]: atSynth(levelAtSynth),
        }
        : {};
    this.namespace = clusterScoped(
      new k8s.KubeNamespace(this, 'resource', {
        metadata: {
          name: this.name,
          labels: { [NAME_LABEL]: APP_NAME, [PART_OF_LABEL]: APP_NAME, [COMPONENT_LABEL]: Components.NAMESPACE, ...computed, ...props.labels },
        },
      }),
    );
    const toJson = this.namespace.toJson.bind(this.namespace);
    this.namespace.toJson = () => {
      synthesizing = true;
      level = undefined;
      try {
        return toJson();
      } finally {
        synthesizing = false;
        level = undefined;
      }
    };
  }

  /**
   * The strictest Pod Security Standard every pod of the app in this namespace meets, as the app is now
   * (`restricted` when there are no pods).
   */
  public get enforcedLevel(): PodSecurityLevel {
    return podSecurityLevelIn(this, this.name);
  }
}

/**
 * The strictest Pod Security Standard every pod of the app in `namespace` meets, as the app is now
 * (`restricted` when there are no pods): the level a namespace must allow for them to be admitted. Computed
 * from every workload, Job, Pod and pod template (the worker pod template's included) of the app of `scope`.
 */
export function podSecurityLevelIn(scope: IConstruct, namespace: string): PodSecurityLevel {
  return podSpecsIn(scope, namespace)
    .map((spec) => podSecurityLevelOf(spec))
    .reduce((a, b) => (LEVELS.indexOf(a) <= LEVELS.indexOf(b) ? a : b), PodSecurityLevel.RESTRICTED);
}

/** Every pod spec of the app in `namespace`: workloads' and Jobs' templates, Pods, and pod templates. */
function podSpecsIn(scope: IConstruct, namespace: string): unknown[] {
  const specs: unknown[] = [];
  for (const c of App.of(scope).node.findAll()) {
    if (!(c instanceof ApiObject) || c.metadata.namespace !== namespace) continue;
    const path = POD_SPEC_PATHS[c.kind];
    if (!path) continue;
    const spec = path.reduce<any>((v, key) => v?.[key], c.toJson());
    if (spec) specs.push(spec);
  }
  for (const source of podSpecSourcesIn(scope, namespace)) specs.push(...source.podSpecs());
  return specs;
}
