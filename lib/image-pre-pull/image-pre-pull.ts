import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import {
  AIRFLOW_GID,
  AIRFLOW_UID,
  Components,
  atSynth,
  chartPodDefaults,
  hardenedContainerSecurityContext,
  IMAGE_PULL_POLICIES,
  PodOptions,
  PodPlacementOptions,
  airflowLabels,
  invalid,
  selectorLabels,
  validateChoice,
  validateImage,
  refuseUnknownProps,
} from '../core';
import type { KubernetesExecutorAirflow } from '../airflow/kubernetes-executor-airflow';
import { airflowServiceAccount, pickPlacement, resolvePodOptions } from '../airflow/pod-parts';

/**
 * The container that keeps a pre-pull pod alive: Kubernetes' own pause image (a static binary of ~300 KB that
 * sleeps until it is signalled), pinned by tag. It is also the sandbox image of many nodes' container runtime
 * (containerd 2.x and kubeadm from 1.31 use this tag), which then already have it.
 */
export const DEFAULT_PAUSE_IMAGE = 'registry.k8s.io/pause:3.10';

/** The user and group the pause image declares (`USER 65535:65535` since pause 3.5). */
export const PAUSE_UID = 65535;

/** What the init containers run: the image's own `/bin/true`, bypassing the image's ENTRYPOINT. */
export const PRE_PULL_COMMAND: readonly string[] = ['/bin/true'];

/** The resources of each init container (one per image) and of the pause container, per node. */
export const PRE_PULL_RESOURCES = {
  /** An init container: `/bin/true` (the memory limit leaves room for the runtime's own start of the process). */
  pull: { requests: { cpu: '5m', memory: '16Mi' }, limits: { cpu: '100m', memory: '32Mi' } },
  /** The pause container. */
  pause: { requests: { cpu: '5m', memory: '8Mi' }, limits: { cpu: '10m', memory: '16Mi' } },
} as const;

/** Props for {@link ImagePrePull}. */
export interface ImagePrePullProps {
  /**
   * The images to keep on the nodes: the Airflow image and the task pods' image (the same image is pulled
   * once). Images a task names in its own `executor_config` are not known here and are not pre-pulled.
   */
  readonly images: string[];

  /**
   * The pull policy of the images, as the task pods have it. `Never` is refused: nothing would be pulled.
   * @default "IfNotPresent"
   */
  readonly imagePullPolicy?: string;

  /**
   * Where the task pods run and how they pull: the DaemonSet takes their `nodeSelector`, `tolerations`, the
   * node affinity of `affinity` and `imagePullSecrets`, and puts their `podLabels` and `podAnnotations` on
   * its pods (a sidecar-injection opt-out, say). Pod (anti-)affinity, topology spread and the priority class
   * are about task pods among other pods and are not taken: a DaemonSet has one pod per node.
   * @default - every node, no pull secrets
   */
  readonly placement?: PodPlacementOptions;

  /**
   * The image of the container that keeps each pod alive (mirror it for a cluster without access to
   * registry.k8s.io).
   * @default DEFAULT_PAUSE_IMAGE - "registry.k8s.io/pause:3.10"
   */
  readonly pauseImage?: string;

  /**
   * How many nodes replace their pod at once when the images change (a number, or a percentage of the
   * nodes). Each new pod pulls the new images; an old pod going away costs nothing (the old image stays
   * until the kubelet's image garbage collection needs the space), so all nodes pull at once by default, and
   * the new image is there before the task pods of the new scheduler ask for it. Lower it to spare a
   * registry that cannot serve every node at once.
   * @default "100%"
   */
  readonly maxUnavailable?: string | number;
}

/** Props for {@link ImagePrePull.forAirflow}. */
export interface ImagePrePullForAirflowProps extends Omit<ImagePrePullProps, 'images' | 'imagePullPolicy' | 'placement'> {
  /** The control plane whose image and task pods' images are pre-pulled. */
  readonly airflow: KubernetesExecutorAirflow;
  /**
   * The task pods' pod options (their nodeSelector, tolerations, node affinity), over the control plane's.
   * @default - the control plane's chart-wide pod options
   */
  readonly placement?: PodOptions;
}

/**
 * A DaemonSet that keeps the Airflow image (and the task pods' image, when different) on every node that can
 * run task pods, so that a task pod never waits for a pull of a ~1 GB image: the KubernetesExecutor's known
 * weakness on a node that has not run the image yet. Each pod pulls every image as an init container that
 * runs `/bin/true` (the image's ENTRYPOINT, which would run `airflow db check`, is bypassed) and then sleeps
 * in a pinned pause container: 5m CPU and 16Mi requested per node. The nodes are the task pods' (their node
 * selector, tolerations and node affinity), the pull secrets theirs. The exited init containers stay with
 * the running pod, so the kubelet's image garbage collection counts the images as in use and keeps them.
 * No token, no privileges, the restricted Pod Security Standard. On an image change every node pulls at
 * once (see `maxUnavailable`); docs/task-start.md says how to let the pulls finish before the control plane
 * moves on.
 */
export class ImagePrePull extends Construct {
  /** The images pulled onto each node, in order, each once. */
  public readonly images: string[];
  /** The ServiceAccount of the pods (no token). */
  public readonly serviceAccount: k8s.KubeServiceAccount;
  /** The DaemonSet. */
  public readonly daemonSet: k8s.KubeDaemonSet;

  /**
   * The pre-pull of a control plane's images: its image and its task pods' (`taskPodImages`, git-sync's too in
   * sidecar mode), with its pull policy, on the nodes that can run task pods (`placement`: the task pods'
   * options, e.g. the `worker` prop, over the chart-wide ones). Add it after the features that add images to
   * the task pods (git-sync): the images are read when it is built.
   */
  public static forAirflow(scope: Construct, id: string, props: ImagePrePullForAirflowProps): ImagePrePull {
    const { airflow, placement, ...rest } = props;
    return new ImagePrePull(scope, id, {
      ...rest,
      images: [airflow.image, ...airflow.taskPodImages],
      imagePullPolicy: airflow.imagePullPolicy,
      // The placement fields of the task pods' options (a PodOptions holds env, resources... too).
      placement: pickPlacement(airflow.podOptionsFor(placement)),
    });
  }

  constructor(scope: Construct, id: string, props: ImagePrePullProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'ImagePrePullProps');
    if (!Array.isArray(props.images) || props.images.length === 0) {
      invalid(this, 'images', props.images, 'a non-empty list of images, e.g. ["apache/airflow:3.1.3"]');
    }
    props.images.forEach((image, i) => validateImage(this, `images[${i}]`, image));
    this.images = [...new Set(props.images)];
    const imagePullPolicy = validateChoice(this, 'imagePullPolicy', props.imagePullPolicy ?? 'IfNotPresent', IMAGE_PULL_POLICIES);
    if (imagePullPolicy === 'Never') {
      invalid(
        this,
        'imagePullPolicy',
        imagePullPolicy,
        '"IfNotPresent" or "Always": with "Never" the nodes never pull, so there is nothing to pre-pull',
        'Leave the images on the nodes yourself, and do not add ImagePrePull.',
      );
    }
    const pauseImage = validateImage(this, 'pauseImage', props.pauseImage ?? DEFAULT_PAUSE_IMAGE);
    const maxUnavailable = this.validateMaxUnavailable(props.maxUnavailable ?? '100%');

    const placement = props.placement ?? {};
    const nodeAffinity = placement.affinity?.nodeAffinity;
    const pod = resolvePodOptions(this, 'placement', {
      imagePullSecrets: placement.imagePullSecrets,
      nodeSelector: placement.nodeSelector,
      tolerations: placement.tolerations,
      affinity: nodeAffinity ? { nodeAffinity } : undefined,
      podLabels: placement.podLabels,
      podAnnotations: placement.podAnnotations,
    });

    const component = Components.IMAGE_PRE_PULL;
    const name = `airflow-${component}`;
    const labels = airflowLabels(component);
    this.serviceAccount = airflowServiceAccount(this, 'service-account', name, component, false);
    const quantities = (r: { readonly cpu: string; readonly memory: string }) => ({
      cpu: k8s.Quantity.fromString(r.cpu),
      memory: k8s.Quantity.fromString(r.memory),
    });
    const resources = (r: (typeof PRE_PULL_RESOURCES)[keyof typeof PRE_PULL_RESOURCES]): k8s.ResourceRequirements => ({
      requests: quantities(r.requests),
      limits: quantities(r.limits),
    });
    // On OpenShift (the control plane's openShift) no uid or gid: the restricted SCC assigns them (/bin/true and
    // pause run as any user).
    const fixedIds = (uid: number, gid: number) => ({
      runAsUser: atSynth(() => (chartPodDefaults(this)?.openShift ? undefined : uid)),
      runAsGroup: atSynth(() => (chartPodDefaults(this)?.openShift ? undefined : gid)),
    });
    this.daemonSet = new k8s.KubeDaemonSet(this, 'daemon-set', {
      metadata: { name, labels },
      spec: {
        selector: { matchLabels: selectorLabels(component) },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable } },
        template: {
          metadata: {
            labels: { ...pod.podLabels, ...labels },
            ...(Object.keys(pod.podAnnotations).length ? { annotations: pod.podAnnotations } : {}),
          },
          spec: {
            ...pod.placement,
            serviceAccountName: name,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            initContainers: this.images.map((image, i) => ({
              name: `pull-${i + 1}`,
              image,
              imagePullPolicy,
              // `command` replaces the image's ENTRYPOINT (dumb-init and /entrypoint, which would wait for the
              // database with `airflow db check`): only /bin/true runs, in a few milliseconds.
              command: [...PRE_PULL_COMMAND],
              resources: resources(PRE_PULL_RESOURCES.pull),
              securityContext: hardenedContainerSecurityContext({ user: fixedIds(AIRFLOW_UID, AIRFLOW_GID), runAsNonRoot: true }),
            })),
            containers: [
              {
                name: 'pause',
                image: pauseImage,
                imagePullPolicy: 'IfNotPresent',
                resources: resources(PRE_PULL_RESOURCES.pause),
                securityContext: hardenedContainerSecurityContext({ user: fixedIds(PAUSE_UID, PAUSE_UID), runAsNonRoot: true }),
              },
            ],
          },
        },
      },
    });
  }

  private validateMaxUnavailable(value: unknown): k8s.IntOrString {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 1) return k8s.IntOrString.fromNumber(value);
    if (typeof value === 'string' && /^([1-9]\d?|100)%$/.test(value)) return k8s.IntOrString.fromString(value);
    return invalid(this, 'maxUnavailable', value, 'a number of nodes (1 or more) or a percentage of them, from "1%" to "100%"');
  }
}
