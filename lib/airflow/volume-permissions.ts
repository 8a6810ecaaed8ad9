import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import {
  AIRFLOW_GID,
  AIRFLOW_UID,
  Components,
  ROOT_USER,
  airflowLabels,
  atSynth,
  hardenedContainerSecurityContext,
  oneShotJobLabels,
  resolveAtSynth,
  resourceRequirements,
  shortHash,
  refuseUnknownProps,
} from '../core';
import { AirflowVolumes, StorageProvisioningMode } from '../storage';
import { NO_POD_OPTIONS, ResolvedPodOptions, airflowServiceAccount } from './pod-parts';

const VOLUME_PERMISSIONS_COMPONENT = Components.VOLUME_PERMISSIONS;

/** Where the Job mounts each volume: `/volumes/<name>`. */
const MOUNT_ROOT = '/volumes';

/** The file the Job leaves in each folder it takes over: its mark that the folder is Airflow's. */
export const VOLUME_PERMISSIONS_MARKER = '.airflow-cdk8s';

/**
 * Arguments: pairs of the folder as mounted in the Job's container and as it is on the node (for the log).
 * For each folder: leave it alone if it is a network or host mount (`minikube mount` is 9p: its owner is the
 * mount's --uid/--gid, and chown there fails or lies), or if it is already uid:gid. Otherwise take it over only
 * if it is empty or carries the marker (taken over before): make it group-writable, give it to Airflow's user,
 * and leave the marker in it. A folder that holds files the Job did not create is never
 * taken over: the Job says which and why, checks the other folders, and exits 1. Only the folder itself,
 * never its contents. No "$(": the kubelet expands that form in args itself.
 */
const SCRIPT = [
  'set -eu',
  `marker=${VOLUME_PERMISSIONS_MARKER}`,
  'refused=0',
  'while [ $# -ge 2 ]; do',
  '  d=$1; node=$2; shift 2',
  '  fs=`stat -f -c %T "$d"`',
  '  case "$fs" in',
  '    v9fs|9p|fuse*|nfs*|cifs|smb*) echo "$node: a $fs mount, left alone"; continue ;;',
  '  esac',
  '  owner=`stat -c %u:%g "$d"`',
  `  if [ "$owner" = "${AIRFLOW_UID}:${AIRFLOW_GID}" ]; then echo "$node: already ${AIRFLOW_UID}:${AIRFLOW_GID}"; continue; fi`,
  '  if [ -f "$d/$marker" ]; then',
  `    how="it carries $marker: taken over before"`,
  '  else',
  '    first=`ls -A "$d" | head -n 1`',
  '    if [ -n "$first" ]; then',
  `      echo "$node: NOT taken over: it belongs to $owner and holds files this Job did not create (such as $first) and no $marker file. ` +
    `Give it to uid ${AIRFLOW_UID} gid ${AIRFLOW_GID} yourself (chown ${AIRFLOW_UID}:${AIRFLOW_GID} $node on the node), or create $node/$marker ` +
    'if the folder is Airflow\'s, or use another hostRoot (docs/secrets-and-security.md)." >&2',
  '      refused=1; continue',
  '    fi',
  '    how="it was empty: marked with $marker"',
  '  fi',
  '  chmod 0775 "$d"',
  `  chown ${AIRFLOW_UID}:${AIRFLOW_GID} "$d"`,
  // After the chown: root has only CHOWN and FOWNER, no DAC_OVERRIDE, and may write here as gid 0.
  `  [ -f "$d/$marker" ] || echo "Created by the airflow-cdk8s volume-permissions Job, which gave this folder to uid ${AIRFLOW_UID} gid ${AIRFLOW_GID}." > "$d/$marker"`,
  `  echo "$node: was $owner, now ${AIRFLOW_UID}:${AIRFLOW_GID} mode 0775 ($how)"`,
  'done',
  'exit $refused',
].join('\n');

/**
 * The same for the claims a StorageClass provisions (`fixVolumePermissions: true` with
 * `StorageProvisioning.storageClass(...)`; ReadWriteMany, so the Job can mount them beside the pods). Arguments:
 * pairs of the claim as mounted and its name. The claim's mount is the share itself, whatever its file system
 * (NFS, EFS, Filestore, Azure Files), so no file system is skipped. For each: leave it alone if uid 50000 gid 0
 * may already create files in it (the owner's, the group's or the others' write and search bits, as the kernel
 * picks them: an EFS access point or a StorageClass that sets the owner, a share made group-writable); otherwise
 * take it over as above (empty, `lost+found` aside, or carrying the marker), and say so when the share refuses
 * the change (a root-squashing NFS export maps root to nobody), without stopping at the first claim.
 */
const CLAIM_SCRIPT = [
  'set -eu',
  `marker=${VOLUME_PERMISSIONS_MARKER}`,
  'refused=0',
  'wx() { case "$1" in w[xst]) return 0 ;; esac; return 1; }',
  'while [ $# -ge 2 ]; do',
  '  d=$1; claim="claim $2"; shift 2',
  '  read -r uid gid perm <<< "`stat -c "%u %g %A" "$d"`"',
  '  owner="$uid:$gid $perm"',
  `  if [ "$uid" = ${AIRFLOW_UID} ]; then bits=\${perm:2:2}; elif [ "$gid" = ${AIRFLOW_GID} ]; then bits=\${perm:5:2}; else bits=\${perm:8:2}; fi`,
  `  if wx "$bits"; then echo "$claim: already writable by uid ${AIRFLOW_UID} gid ${AIRFLOW_GID} ($owner), left alone"; continue; fi`,
  '  if [ -f "$d/$marker" ]; then',
  `    how="it carries $marker: taken over before"`,
  '  else',
  '    first=`ls -A "$d" | grep -vxF lost+found | head -n 1`',
  '    if [ -n "$first" ]; then',
  `      echo "$claim: NOT taken over: it is $owner, not writable by uid ${AIRFLOW_UID} gid ${AIRFLOW_GID}, and holds files this Job did not create ` +
    `(such as $first) and no $marker file. Make the share's root writable for uid ${AIRFLOW_UID} or gid ${AIRFLOW_GID} yourself (on its server, or ` +
    'in its StorageClass), or create $marker in it if the folder is Airflow\'s (docs/storage.md)." >&2',
  '      refused=1; continue',
  '    fi',
  '    how="it was empty: marked with $marker"',
  '  fi',
  `  if ! chmod 0775 "$d" || ! chown ${AIRFLOW_UID}:${AIRFLOW_GID} "$d"; then`,
  `    echo "$claim: NOT taken over: it is $owner, not writable by uid ${AIRFLOW_UID} gid ${AIRFLOW_GID}, and the share refused to change its ` +
    `owner or mode (a root-squashing NFS export maps root to nobody). Make the share's root writable for uid ${AIRFLOW_UID} or gid ${AIRFLOW_GID} ` +
    'yourself (on its server, or in its StorageClass) (docs/storage.md)." >&2',
  '    refused=1; continue',
  '  fi',
  `  [ -f "$d/$marker" ] || echo "Created by the airflow-cdk8s volume-permissions Job, which gave this folder to uid ${AIRFLOW_UID} gid ${AIRFLOW_GID}." > "$d/$marker"`,
  `  echo "$claim: was $owner, now ${AIRFLOW_UID}:${AIRFLOW_GID} mode 0775 ($how)"`,
  'done',
  'exit $refused',
].join('\n');

/** Props for {@link VolumePermissions}. */
export interface VolumePermissionsProps {
  /**
   * The volumes whose folders are fixed (read at synth: volumes added later count): the static hostPath
   * volumes' folders, or with a StorageClass the roots of the claims created here (never an existing claim,
   * whose access modes are not known, nor an emptyDir).
   */
  readonly volumes: AirflowVolumes;
  /** The image (with bash, coreutils' stat, chown and chmod): the Airflow image, already on the node. */
  readonly image: string;
  /** The image pull policy. */
  readonly imagePullPolicy: string;
  /**
   * Pod placement and metadata (pull secrets, node selection, labels, annotations).
   * @default - none
   */
  readonly pod?: ResolvedPodOptions;
}

/** The CPU and memory of the volume-permissions Job: 10m / 32Mi requested, 100m / 64Mi limit. */
export const VOLUME_PERMISSIONS_RESOURCES = { cpuRequest: '10m', memoryRequest: '32Mi', cpuLimit: '100m', memoryLimit: '64Mi' } as const;

/** The capabilities the volume-permissions Job keeps as root (every other one is dropped): CHOWN and FOWNER. */
export const VOLUME_PERMISSIONS_CAPABILITIES: readonly string[] = ['CHOWN', 'FOWNER'];

/**
 * A one-shot Job that makes the static hostPath volumes' folders writable for Airflow's user (uid 50000,
 * gid 0). The kubelet creates a missing hostPath folder (`DirectoryOrCreate`) as root:root 0755, and
 * `fsGroup` does not apply to hostPath volumes, so without this Airflow could not write its logs or task data
 * unless the user ran `minikube mount --uid 50000 --gid 0`. The Job runs as root with only the CHOWN and
 * FOWNER capabilities (allowed by the Pod Security "baseline" level the namespace already enforces for
 * Postgres), no privilege escalation and no token, and changes only the folders themselves. It takes over only
 * a folder that is empty or carries its marker file `.airflow-cdk8s` (left in each folder it took over): a
 * folder that holds files it did not create keeps its owner and mode, and the Job fails, saying which folder
 * and why (docs/secrets-and-security.md). With `fixVolumePermissions: true` and a StorageClass, it does the same
 * for the roots of the ReadWriteMany claims (static NFS or Filestore shares are root:root 0755, and `fsGroup`
 * does not apply to most ReadWriteMany drivers), leaving alone a root uid 50000 gid 0 may already write
 * (docs/storage.md). Like the
 * migration Job it is named after its pod spec, so re-applying is a no-op and new volumes make a new Job.
 */
export class VolumePermissions extends Construct {
  /** The ServiceAccount (no token). */
  public readonly serviceAccount: k8s.KubeServiceAccount;

  /** The Job. */
  public readonly job: k8s.KubeJob;

  private readonly podSpec: k8s.PodSpec;

  constructor(scope: Construct, id: string, props: VolumePermissionsProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'VolumePermissionsProps');
    const pod = props.pod ?? NO_POD_OPTIONS;
    const name = `airflow-${VOLUME_PERMISSIONS_COMPONENT}`;
    const labels = airflowLabels(VOLUME_PERMISSIONS_COMPONENT);
    // The volumes of one AirflowVolumes share one provisioning: all hostPath folders, or all StorageClass claims.
    const fixed = () => props.volumes.all.filter((v) => v.storage !== undefined);
    const onHost = props.volumes.provisioning.mode === StorageProvisioningMode.HOST_PATH;
    this.serviceAccount = airflowServiceAccount(this, 'service-account', name, VOLUME_PERMISSIONS_COMPONENT, false, pod.serviceAccountAnnotations);
    this.podSpec = {
      ...pod.placement,
      serviceAccountName: name,
      automountServiceAccountToken: false,
      restartPolicy: 'OnFailure',
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: VOLUME_PERMISSIONS_COMPONENT,
          image: props.image,
          imagePullPolicy: props.imagePullPolicy,
          command: atSynth(() => [
            'bash',
            '-c',
            onHost ? SCRIPT : CLAIM_SCRIPT,
            VOLUME_PERMISSIONS_COMPONENT,
            ...fixed().flatMap((v) => [`${MOUNT_ROOT}/${v.name}`, onHost ? v.storage!.hostPath! : v.claimName!]),
          ]),
          volumeMounts: atSynth(() => fixed().map((v) => ({ name: v.name, mountPath: `${MOUNT_ROOT}/${v.name}` }))),
          resources: resourceRequirements(VOLUME_PERMISSIONS_RESOURCES),
          securityContext: VolumePermissions.containerSecurityContext(),
        },
      ],
      volumes: atSynth(() => fixed().map((v) => v.podVolume())),
    };
    this.job = new k8s.KubeJob(this, 'job', {
      metadata: { name: atSynth(() => this.jobName), labels: { ...labels, ...oneShotJobLabels() } },
      spec: {
        backoffLimit: 6,
        template: { metadata: { labels: { ...pod.podLabels, ...labels }, ...(Object.keys(pod.podAnnotations).length ? { annotations: pod.podAnnotations } : {}) }, spec: this.podSpec },
      },
    });
  }

  /** The Job's name: `airflow-volume-permissions-<hash of the pod spec>`, as it is synthesized. */
  public get jobName(): string {
    return `airflow-${VOLUME_PERMISSIONS_COMPONENT}-${shortHash(resolveAtSynth(this.podSpec))}`;
  }

  /**
   * Root without privilege escalation, every capability dropped but CHOWN (to give a folder to uid 50000)
   * and FOWNER (to change the mode of a folder another user owns): Pod Security "baseline".
   */
  public static containerSecurityContext(): k8s.SecurityContext {
    return hardenedContainerSecurityContext({ user: ROOT_USER, runAsNonRoot: false, keepCapabilities: VOLUME_PERMISSIONS_CAPABILITIES });
  }
}
