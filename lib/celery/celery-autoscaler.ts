import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import * as keda from '../../imports/keda.sh';
import { Components, airflowLabels, invalid, refuseUnknownProps, validateDnsLabel, validateInteger } from '../core';
import { ExternalMetadataDb, IMetadataDatabase, MetadataDb, directDatabaseOf } from '../database';
import { CeleryHpaOptions, CeleryKedaOptions } from './celery-options';

/**
 * The `[core] executor` names by which a task picks the CeleryExecutor, as `task_instance.executor` stores
 * them (the task's `executor=` as written): the name in `[core] executor` and the class path.
 */
export const CELERY_EXECUTOR_NAMES: readonly string[] = ['CeleryExecutor', 'airflow.providers.celery.executors.celery_executor.CeleryExecutor'];

/** KEDA's defaults as the official Helm chart sets them (`workers.keda` of its values.yaml). */
export const DEFAULT_KEDA = { minReplicas: 0, maxReplicas: 10, pollingIntervalSeconds: 5, cooldownSeconds: 30, operatorNamespace: 'keda' } as const;

/** The HPA's defaults: the official chart's `workers.hpa` (max 5, 80% CPU), with at least one pod (see {@link CeleryHpaOptions}). */
export const DEFAULT_HPA = { minReplicas: 1, maxReplicas: 5, targetCpuUtilization: 80 } as const;

/** The query that counts the worker pods the Celery tasks need; see {@link celeryKedaQuery}. */
export interface CeleryKedaQueryOptions {
  /** Tasks per worker pod (`[celery] worker_concurrency`). */
  readonly concurrency: number;
  /** The queues the workers take tasks from. */
  readonly queues: readonly string[];
  /** Whether the CeleryExecutor is the default executor: tasks without `executor=` (NULL) are Celery's then. */
  readonly celeryIsDefault: boolean;
}

/**
 * The official Helm chart's KEDA query (`workers.keda.query` of chart 1.19's values.yaml) for these workers:
 * the Celery tasks `queued` or `running` on the workers' queues, divided by the concurrency, rounded up. With
 * the KubernetesExecutor beside Celery a task is Celery's when its `executor` names the CeleryExecutor, or
 * when it names no executor and the CeleryExecutor is the default (the chart writes the latter as
 * `executor IS DISTINCT FROM 'KubernetesExecutor'`).
 */
export function celeryKedaQuery(options: CeleryKedaQueryOptions): string {
  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const names = CELERY_EXECUTOR_NAMES.map(quote).join(', ');
  const executor = options.celeryIsDefault ? `(executor IS NULL OR executor IN (${names}))` : `executor IN (${names})`;
  return [
    `SELECT ceil(COUNT(*)::decimal / ${options.concurrency})`,
    'FROM task_instance',
    "WHERE (state='running' OR state='queued')",
    `AND queue IN (${options.queues.map(quote).join(', ')})`,
    `AND ${executor}`,
  ].join(' ');
}

/** Props of {@link CeleryAutoscaler}. */
export interface CeleryAutoscalerProps {
  /** The Deployment of the workers it scales. */
  readonly deploymentName: string;
  /** The metadata database (KEDA's query runs there). */
  readonly database: IMetadataDatabase;
  /** What {@link celeryKedaQuery} needs. */
  readonly query: CeleryKedaQueryOptions;
  /**
   * KEDA's options (one of `keda`, `hpa`).
   * @default - none
   */
  readonly keda?: CeleryKedaOptions;
  /**
   * The HPA's options (one of `keda`, `hpa`).
   * @default - none
   */
  readonly hpa?: CeleryHpaOptions;
}

/**
 * What scales the Celery workers: a KEDA ScaledObject (and the TriggerAuthentication its PostgreSQL trigger
 * logs in with, from the database's Secret) or an autoscaling/v2 HorizontalPodAutoscaler on CPU. Built by
 * {@link CeleryWorkers} for its `keda` or `hpa` option; messages name the `celery.keda` / `celery.hpa` props.
 */
export class CeleryAutoscaler extends Construct {
  /** The fewest worker pods. */
  public readonly minReplicas: number;
  /** The most worker pods. */
  public readonly maxReplicas: number;
  /** The namespace of KEDA's operator (for the network policies); undefined with the HPA. */
  public readonly kedaOperatorNamespace: string | undefined;
  /** The query KEDA runs; undefined with the HPA. */
  public readonly query: string | undefined;
  /** The ScaledObject; undefined with the HPA. */
  public readonly scaledObject: keda.ScaledObject | undefined;
  /** The TriggerAuthentication of the ScaledObject's trigger; undefined with the HPA. */
  public readonly triggerAuthentication: keda.TriggerAuthentication | undefined;
  /** The HorizontalPodAutoscaler; undefined with KEDA. */
  public readonly hpa: k8s.KubeHorizontalPodAutoscalerV2 | undefined;

  constructor(scope: Construct, id: string, props: CeleryAutoscalerProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'CeleryAutoscalerProps');
    const labels = airflowLabels(Components.CELERY_WORKER);
    const target = { apiVersion: 'apps/v1', kind: 'Deployment', name: props.deploymentName };
    if (props.keda !== undefined && props.hpa !== undefined) {
      invalid(
        scope,
        'hpa',
        props.hpa,
        'nothing when "keda" is set: KEDA scales the workers through an HPA of its own, and two autoscalers on one Deployment undo each other',
        'Keep keda (scales with the queued tasks) or hpa (scales on CPU), not both.',
      );
    }
    if (props.keda !== undefined) {
      const o = checkObject(scope, 'keda', props.keda, ['minReplicas', 'maxReplicas', 'pollingIntervalSeconds', 'cooldownSeconds', 'operatorNamespace']);
      this.minReplicas = validateInteger(scope, 'keda.minReplicas', o.minReplicas ?? DEFAULT_KEDA.minReplicas, 0, 100);
      this.maxReplicas = validateInteger(scope, 'keda.maxReplicas', o.maxReplicas ?? DEFAULT_KEDA.maxReplicas, 1, 100);
      checkMinMax(scope, 'keda', this.minReplicas, this.maxReplicas);
      const pollingInterval = validateInteger(scope, 'keda.pollingIntervalSeconds', o.pollingIntervalSeconds ?? DEFAULT_KEDA.pollingIntervalSeconds, 1, 3600);
      const cooldownPeriod = validateInteger(scope, 'keda.cooldownSeconds', o.cooldownSeconds ?? DEFAULT_KEDA.cooldownSeconds, 0, 86400);
      this.kedaOperatorNamespace = validateDnsLabel(scope, 'keda.operatorNamespace', o.operatorNamespace ?? DEFAULT_KEDA.operatorNamespace);
      this.query = celeryKedaQuery(props.query);
      const connection = kedaConnection(scope, props.database);
      const name = `${props.deploymentName}-keda`;
      this.triggerAuthentication = new keda.TriggerAuthentication(this, 'trigger-authentication', {
        metadata: { name, labels },
        spec: { secretTargetRef: connection.secrets },
      });
      this.scaledObject = new keda.ScaledObject(this, 'scaled-object', {
        metadata: { name: props.deploymentName, labels },
        spec: {
          scaleTargetRef: target,
          minReplicaCount: this.minReplicas,
          maxReplicaCount: this.maxReplicas,
          pollingInterval,
          cooldownPeriod,
          triggers: [
            {
              type: 'postgresql',
              // One worker pod per result of the query: the query already divides by the concurrency.
              metadata: { targetQueryValue: '1', query: this.query, ...connection.metadata },
              authenticationRef: { name },
            },
          ],
        },
      });
      this.hpa = undefined;
    } else if (props.hpa !== undefined) {
      const o = checkObject(scope, 'hpa', props.hpa, ['minReplicas', 'maxReplicas', 'targetCpuUtilization']);
      if (o.minReplicas === 0) {
        invalid(
          scope,
          'hpa.minReplicas',
          0,
          'a whole number from 1 to 100: an HPA scales to 0 only on clusters with the HPAScaleToZero feature gate (alpha), and elsewhere the API server refuses minReplicas 0',
          'Use keda for workers that stop when no Celery task waits (keda.minReplicas 0).',
        );
      }
      this.minReplicas = validateInteger(scope, 'hpa.minReplicas', o.minReplicas ?? DEFAULT_HPA.minReplicas, 1, 100);
      this.maxReplicas = validateInteger(scope, 'hpa.maxReplicas', o.maxReplicas ?? DEFAULT_HPA.maxReplicas, 1, 100);
      checkMinMax(scope, 'hpa', this.minReplicas, this.maxReplicas);
      const utilization = validateInteger(scope, 'hpa.targetCpuUtilization', o.targetCpuUtilization ?? DEFAULT_HPA.targetCpuUtilization, 1, 100);
      this.hpa = new k8s.KubeHorizontalPodAutoscalerV2(this, 'hpa', {
        metadata: { name: props.deploymentName, labels },
        spec: {
          scaleTargetRef: target,
          minReplicas: this.minReplicas,
          maxReplicas: this.maxReplicas,
          metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: utilization } } }],
        },
      });
      this.query = undefined;
      this.kedaOperatorNamespace = undefined;
      this.scaledObject = undefined;
      this.triggerAuthentication = undefined;
    } else {
      throw new Error('CeleryAutoscaler needs keda or hpa');
    }
  }
}

/** `value` as the options object it must be (its keys are checked by refuseUnknownProps with the workers' props). */
function checkObject<T extends object>(scope: Construct, property: string, value: T, keys: readonly string[]): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalid(scope, property, value, `an object of ${keys.join(', ')} (each optional), e.g. {}`);
  }
  return value;
}

function checkMinMax(scope: Construct, property: string, min: number, max: number): void {
  if (min > max) {
    invalid(scope, `${property}.minReplicas`, min, `at most ${property}.maxReplicas (${max})`);
  }
}

/**
 * How KEDA's PostgreSQL scaler reaches the metadata database: host, port, user, database and sslmode as the
 * trigger's metadata, the password from its Secret (or the whole connection URI from its Secret) through the
 * TriggerAuthentication. KEDA's operator runs in its own namespace, so the host is the database's full DNS name.
 */
function kedaConnection(scope: Construct, pooled: IMetadataDatabase): { metadata: Record<string, string>; secrets: keda.TriggerAuthenticationSpecSecretTargetRef[] } {
  // Behind PgBouncer, KEDA connects to the database itself (the official chart's workers.keda.usePgbouncer false):
  // one more connection every polling interval, outside the pool.
  const database = directDatabaseOf(pooled);
  if (database instanceof ExternalMetadataDb && database.connectionUriSecret !== undefined) {
    const uri = database.connectionUriSecret;
    return { metadata: {}, secrets: [{ parameter: 'connection', name: uri.name, key: uri.key }] };
  }
  if (database instanceof MetadataDb || database instanceof ExternalMetadataDb) {
    const password = database.passwordSecret!;
    return {
      metadata: {
        host: database.host!,
        port: String(database.port),
        userName: database.user!,
        dbName: database.databaseName!,
        // The in-cluster Postgres serves no TLS; an external one as its sslMode says (libpq's "prefer" unset).
        sslmode: database instanceof MetadataDb ? 'disable' : (database.sslMode ?? 'prefer'),
      },
      secrets: [{ parameter: 'password', name: password.name, key: password.key }],
    };
  }
  return invalid(
    scope,
    'keda',
    {},
    'a metadata database whose connection KEDA can be given: MetadataDb, MetadataDb.external(...) or MetadataDb.fromConnectionUriSecret(...)',
    'Use hpa instead, or one of those databases.',
  );
}
