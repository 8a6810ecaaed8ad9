import { IConstruct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { SecretKeyRef, hasUrlCredentials, invalid, secretEnv, validateInteger, validateSecretKeyRef } from '../core';
import { airflowConfigKeyInfo } from '../airflow/airflow-config-keys';
import { AirflowContribution, AirflowPods, IAirflowFeature } from '../airflow/airflow-feature';
import type { KubernetesExecutorAirflow } from '../airflow/kubernetes-executor-airflow';

/** One Git DAG bundle: `airflow.providers.git.bundles.git.GitDagBundle` in `[dag_processor] dag_bundle_config_list`. */
export interface GitDagBundleOptions {
  /** The bundle's name (Airflow shows it beside each DAG): letters, digits, `_` and `-`. */
  readonly name: string;

  /**
   * The repository (`repo_url`): an `https://` URL or an SSH address (`git@github.com:org/dags.git`,
   * `ssh://...`), without credentials.
   * @default - the host of the connection (`connectionSecret` / `connectionId`)
   */
  readonly repoUrl?: string;

  /** The branch or tag the bundle follows (`tracking_ref`), e.g. "main". */
  readonly trackingRef: string;

  /**
   * The folder of the repository holding the DAGs (`subdir`), relative.
   * @default - the top of the repository
   */
  readonly subdir?: string;

  /**
   * The Git connection's id (`git_conn_id`): letters, digits and `_`. Without `connectionSecret` it names a
   * connection Airflow already has.
   * @default - with connectionSecret "git_<name>" ("-" as "_"); without it, none: a public repository
   */
  readonly connectionId?: string;

  /**
   * The Secret key holding the Git connection as JSON or a URI: `{"conn_type": "git", "host":
   * "https://github.com/org/dags.git", "password": "<token>"}` (or `"extra": {"private_key": "..."}` for SSH).
   * Every pod that reads the bundle (the dag-processor, the triggerer, the task pods, the Celery workers) gets it
   * as `AIRFLOW_CONN_<ID>` by `secretKeyRef`.
   * @default - none
   */
  readonly connectionSecret?: SecretKeyRef;

  /**
   * How often, in seconds, the dag-processor fetches the tracking ref (`refresh_interval`).
   * @default - [dag_processor] refresh_interval (300 s)
   */
  readonly refreshInterval?: number;
}

const BUNDLE_NAME = /^[A-Za-z0-9_-]{1,200}$/;
const CONNECTION_ID = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A branch or tag name git accepts (git check-ref-format, simplified): no spaces, "..", "~^:?*[\" or a leading "-". */
const REF = /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)[^\s~^:?*[\\]{1,255}(?<![./])$/;
const SSH_SCP = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/-]+$/;
const HTTPS_URL = /^https:\/\/[A-Za-z0-9.-]+(:\d{1,5})?(\/[A-Za-z0-9._~-]+)+\/?$/;
const SSH_URL = /^ssh:\/\/([A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+(:\d{1,5})?(\/[A-Za-z0-9._~-]+)+\/?$/;
const SUBDIR = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

/**
 * Airflow 3's DAG bundles from Git (the official chart's `dagProcessor.dagBundleConfigList` with
 * `GitDagBundle`): `[dag_processor] dag_bundle_config_list` lists one `GitDagBundle` per repository, in place of
 * the default bundle of the dags folder. The dag-processor clones each repository and parses its DAGs at a
 * commit; each DAG run keeps the commit it started with (the bundle's version), and each of its task pods clones
 * the repository and checks that commit out before the task runs: versioned DAGs without a shared volume. An
 * alternative to git-sync (`gitSync`): the two together are refused. Airflow 3 only. Needs the git provider
 * (`apache-airflow-providers-git`) and the `git` binary in the image; the official image has both.
 */
export class GitDagBundles implements IAirflowFeature {
  /** How messages name this feature: the AirflowChart prop. */
  public readonly featureName = 'dagBundles';

  /** The bundles, as given. */
  public readonly bundles: readonly GitDagBundleOptions[];

  constructor(bundles: GitDagBundleOptions[]) {
    this.bundles = Array.isArray(bundles) ? [...bundles] : (bundles as never);
  }

  /**
   * `[dag_processor] dag_bundle_config_list`, the connections in the pods that read the bundles, checked: refused
   * on Airflow 2, beside git-sync, and for what GitDagBundle could not clone.
   */
  public contribute(airflow: KubernetesExecutorAirflow): AirflowContribution {
    const p = this.featureName;
    if (!Array.isArray(this.bundles) || this.bundles.length === 0) {
      invalid(airflow, p, this.bundles, 'a non-empty list of Git bundles: [{ name, repoUrl, trackingRef }]');
    }
    if (airflowConfigKeyInfo(airflow.generation.major, 'dag_processor.dag_bundle_config_list') === undefined) {
      invalid(airflow, p, this.bundles.map((b) => b?.name), `unset on Airflow ${airflow.airflowVersion}: DAG bundles ([dag_processor] dag_bundle_config_list) exist from Airflow 3.0`, 'Use gitSync on Airflow 2.');
    }
    refuseWithGitSync(airflow, airflow.features.map((f) => f.featureName));
    airflow.node.addValidation({ validate: () => (airflow.features.some((f) => f.featureName === 'gitSync') ? [gitSyncMessage()] : []) });

    const env: k8s.EnvVar[] = [];
    const connections = new Map<string, string>();
    const list = this.bundles.map((b, i) => {
      const q = (name: string) => `${p}[${i}].${name}`;
      if (typeof b !== 'object' || b === null) invalid(airflow, `${p}[${i}]`, b, 'a Git bundle: { name, repoUrl, trackingRef }');
      const known = ['name', 'repoUrl', 'trackingRef', 'subdir', 'connectionId', 'connectionSecret', 'refreshInterval'];
      for (const key of Object.keys(b)) if (!known.includes(key)) invalid(airflow, q(key), (b as unknown as Record<string, unknown>)[key], `an option of a Git bundle: ${known.join(', ')}`);
      if (typeof b.name !== 'string' || !BUNDLE_NAME.test(b.name)) invalid(airflow, q('name'), b.name, 'a bundle name of letters, digits, "_" and "-"');
      if (this.bundles.findIndex((o) => o.name === b.name) !== i) invalid(airflow, q('name'), b.name, 'a name no other bundle has');
      if (typeof b.trackingRef !== 'string' || !REF.test(b.trackingRef)) invalid(airflow, q('trackingRef'), b.trackingRef, 'a branch or tag name such as "main" or "release/2025-01"');
      const kwargs: Record<string, string | number> = { tracking_ref: b.trackingRef };
      if (b.repoUrl !== undefined) kwargs.repo_url = repoUrl(airflow, q('repoUrl'), b.repoUrl);
      if (b.subdir !== undefined) {
        if (typeof b.subdir !== 'string' || !SUBDIR.test(b.subdir) || b.subdir.split('/').some((part: string) => part === '.' || part === '..')) {
          invalid(airflow, q('subdir'), b.subdir, 'a relative folder of the repository such as "dags" (no leading "/", no "..")');
        }
        kwargs.subdir = b.subdir;
      }
      if (b.connectionId !== undefined && (typeof b.connectionId !== 'string' || !CONNECTION_ID.test(b.connectionId))) {
        invalid(airflow, q('connectionId'), b.connectionId, 'a connection id of letters, digits and "_", starting with a letter or "_" (it becomes the variable AIRFLOW_CONN_<ID>)');
      }
      if (b.connectionSecret !== undefined) {
        const ref = validateSecretKeyRef(airflow, q('connectionSecret'), b.connectionSecret);
        const id = b.connectionId ?? `git_${b.name.replace(/-/g, '_')}`;
        const key = `${ref.name}/${ref.key}`;
        const same = connections.get(id.toUpperCase());
        if (same !== undefined && same !== key) invalid(airflow, q('connectionId'), id, `an id no other bundle takes from another Secret key (AIRFLOW_CONN_${id.toUpperCase()} is read from ${same})`);
        if (same === undefined) env.push(secretEnv(`AIRFLOW_CONN_${id.toUpperCase()}`, ref));
        connections.set(id.toUpperCase(), key);
        kwargs.git_conn_id = id;
      } else if (b.connectionId !== undefined) {
        kwargs.git_conn_id = b.connectionId;
      }
      if (kwargs.repo_url === undefined && kwargs.git_conn_id === undefined) {
        invalid(airflow, q('repoUrl'), undefined, 'the repository: repoUrl, or a connection (connectionSecret or connectionId) whose host is the repository');
      }
      if (b.refreshInterval !== undefined) kwargs.refresh_interval = validateInteger(airflow, q('refreshInterval'), b.refreshInterval, 1, 86_400);
      return { name: b.name, classpath: 'airflow.providers.git.bundles.git.GitDagBundle', kwargs };
    });

    const readers = [AirflowPods.DAG_READERS, AirflowPods.TASKS];
    return {
      config: { dag_processor: { dag_bundle_config_list: JSON.stringify(list) } },
      ...(env.length ? { env: Object.fromEntries(readers.map((r) => [r, env])) } : {}),
    };
  }
}

function gitSyncMessage(): string {
  return 'dagBundles and gitSync both deliver the DAGs: keep one (dagBundles: versioned runs, a clone in each task pod; gitSync: one shared checkout)';
}

/** Refuses DAG bundles beside git-sync (either order). */
export function refuseWithGitSync(scope: IConstruct, featureNames: readonly string[]): void {
  if (featureNames.includes('gitSync')) invalid(scope, 'dagBundles', '(Git DAG bundles)', `unset with gitSync: ${gitSyncMessage()}`);
}

function repoUrl(scope: IConstruct, property: string, value: unknown): string {
  if (typeof value === 'string' && (hasUrlCredentials(value) || /^https?:\/\/[^/]*@/.test(value))) {
    invalid(scope, property, '(a URL with credentials)', 'a repository URL without credentials: airflow.cfg is a ConfigMap', 'Put the token in the Git connection\'s Secret: connectionSecret.');
  }
  if (typeof value !== 'string' || !(HTTPS_URL.test(value) || SSH_URL.test(value) || SSH_SCP.test(value))) {
    invalid(scope, property, value, 'an https:// URL or an SSH address (git@github.com:org/dags.git, ssh://...) of the repository: http://, git:// and file:// do not authenticate the server');
  }
  return value;
}
