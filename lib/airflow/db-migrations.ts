import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { Components, VERSION_LABEL, validateDnsSubdomain, refuseUnknownProps } from '../core';
import { AirflowPodParts, ContainerResources, airflowContainer, oneShotJob, resourceRequirements } from './pod-parts';

/** Props for {@link DbMigrations}. */
export interface DbMigrationsProps {
  /** What the Airflow pods are built from. */
  readonly parts: AirflowPodParts;

  /**
   * CPU and memory of the `airflow db migrate` container.
   * @default DbMigrations.DEFAULT_RESOURCES - 100m / 192Mi requested, 1 CPU / 1Gi limit
   */
  readonly resources?: ContainerResources;

  /**
   * The ServiceAccount the Job runs as (created here, without a token).
   * @default "airflow-db-migrate"
   */
  readonly serviceAccountName?: string;
}

/**
 * `airflow db migrate` as a Job that works with plain `kubectl apply` and with GitOps tools, without Helm
 * hooks. A Job's pod template is immutable, so the Job is named after what it runs:
 * `airflow-db-migrate-<airflow version>-<first 8 hex digits of the sha256 of its pod spec>`. Applying the
 * same YAML again changes nothing; a new Airflow version (or any change to the pod spec: image, database,
 * environment) is a new Job, which runs the migrations again. `airflow db migrate` is idempotent. There is
 * no `ttlSecondsAfterFinished`: a GitOps tool would recreate a Job that Kubernetes deleted, and the
 * migrations would run on every sync.
 */
export class DbMigrations extends Construct {
  /** The default resources of the migration container. */
  public static readonly DEFAULT_RESOURCES: ContainerResources = { cpuRequest: '100m', memoryRequest: '192Mi', cpuLimit: '1', memoryLimit: '1Gi' };

  /** The ServiceAccount. */
  public readonly serviceAccount: k8s.KubeServiceAccount;

  /** The Job. */
  public readonly job: k8s.KubeJob;

  private readonly name: () => string;

  constructor(scope: Construct, id: string, props: DbMigrationsProps) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'DbMigrationsProps');
    const parts = props.parts;
    const serviceAccountName = validateDnsSubdomain(this, 'serviceAccountName', props.serviceAccountName ?? 'airflow-db-migrate');
    const built = oneShotJob(this, {
      parts,
      component: Components.DB_MIGRATE,
      serviceAccountName,
      namePrefix: `airflow-db-migrate-${parts.airflowVersion.slug}`,
      extraLabels: { [VERSION_LABEL]: parts.airflowVersion.toString() },
      initContainers: [parts.waitForDatabase],
      container: airflowContainer(parts, {
        name: 'db-migrate',
        args: ['bash', '-c', 'exec airflow db migrate'],
        resources: resourceRequirements(props.resources ?? DbMigrations.DEFAULT_RESOURCES),
      }),
    });
    this.serviceAccount = built.serviceAccount;
    this.job = built.job;
    this.name = built.jobName;
  }

  /** The Job's name: `airflow-db-migrate-<version>-<hash of the pod spec>`, as it is synthesized. */
  public get jobName(): string {
    return this.name();
  }
}
