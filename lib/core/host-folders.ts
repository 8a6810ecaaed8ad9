import { IConstruct } from 'constructs';
import { AirflowCdk8sValidationError } from './errors';

/**
 * The node's own folders: no hostPath volume of the library may be one of them or lie inside one. A static
 * volume's folder is given to Airflow's user (uid 50000) by the volume-permissions Job and mounted read-write
 * by every task pod, so a volume on `/etc` would let any DAG author write the node's `/etc`. The whole of
 * `/var` is refused, `/var/lib/*` included: it holds the kubelet's, the container runtime's and minikube's
 * own state (`/var/lib/kubelet`, `/var/lib/containerd`, `/var/lib/docker`, `/var/lib/minikube`), and no
 * sub-folder of it is what a user's data needs. minikube keeps `/data` across restarts: use that.
 */
export const SYSTEM_HOST_FOLDERS: readonly string[] = [
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/home',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/opt',
  '/proc',
  '/root',
  '/run',
  '/sbin',
  '/srv',
  '/sys',
  '/usr',
  '/var',
];

/** What a host folder may be, in the words of the error messages. */
export const HOST_FOLDER_ALLOWED =
  `a folder of the node that is neither "/" nor one of its system folders (${SYSTEM_HOST_FOLDERS.join(', ')}) ` +
  'nor inside one, such as "/data" or "/data/airflow"';

/**
 * `path` as the node would resolve it, without following links: `//` and `/./` collapsed, `..` resolved (never
 * above `/`), no trailing `/`. `/data/../etc/` -> `/etc`.
 */
export function normaliseHostPath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

/**
 * The system folder `path` is or lies in once normalised (`"/"` for the root folder itself), or undefined
 * when it is none of them. Only absolute paths are judged; a relative one is the path validator's to refuse.
 */
export function systemFolderOf(path: string): string | undefined {
  if (!path.startsWith('/')) return undefined;
  const resolved = normaliseHostPath(path);
  if (resolved === '/') return '/';
  return SYSTEM_HOST_FOLDERS.find((folder) => resolved === folder || resolved.startsWith(`${folder}/`));
}

/**
 * The error for a host folder that is `/` or a system folder (see {@link SYSTEM_HOST_FOLDERS}), or undefined
 * when `value` is not one. For the places that have no construct to report on (a factory).
 */
export function hostFolderError(
  constructName: string,
  constructPath: string,
  property: string,
  value: unknown,
): AirflowCdk8sValidationError | undefined {
  if (typeof value !== 'string') return undefined;
  const system = systemFolderOf(value);
  if (system === undefined) return undefined;
  const resolved = normaliseHostPath(value);
  const where = system === '/' ? "the node's root folder" : `the node's system folder "${system}"`;
  const is = resolved === value ? 'is' : `resolves to ${JSON.stringify(resolved)},`;
  return new AirflowCdk8sValidationError(
    constructName,
    constructPath,
    property,
    value,
    HOST_FOLDER_ALLOWED,
    `${JSON.stringify(value)} ${is} ${resolved === system ? '' : 'inside '}${where}: a hostPath volume there is given to ` +
      'Airflow\'s user (uid 50000) and mounted read-write by every task pod. Use a folder under /data, which minikube keeps across restarts.',
  );
}

/** Refuses a host folder that is `/` or a system folder or inside one, after normalising it. */
export function validateHostFolder(scope: IConstruct, property: string, value: string): string {
  const error = hostFolderError(scope.constructor.name, scope.node.path, property, value);
  if (error) throw error;
  return value;
}
