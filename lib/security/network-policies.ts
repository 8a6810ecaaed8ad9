import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import {
  AIRFLOW_UI_PORT,
  APP_NAME,
  AirflowGeneration,
  COMPONENT_LABEL,
  Components,
  PART_OF_LABEL,
  POSTGRES_PORT,
  REDIS_PORT,
  invalid,
  validateDnsLabel,
  validatePort,
  refuseUnknownProps,
} from '../core';

/** Props for {@link AirflowNetworkPolicies}. */
export interface AirflowNetworkPoliciesProps {
  /**
   * The Airflow generation (`airflow.generation` of `KubernetesExecutorAirflow`): on Airflow 2 worker pods
   * talk to the database themselves and the UI is the webserver; on Airflow 3 workers talk only to the
   * api-server's execution API.
   * @default AirflowGeneration.AIRFLOW_3
   */
  readonly generation?: AirflowGeneration;

  /**
   * The labels that select the metadata database's pods.
   * @default { "app.kubernetes.io/component": "metadata-db" }
   */
  readonly databaseSelector?: Record<string, string>;

  /**
   * The database port.
   * @default 5432
   */
  readonly databasePort?: number;

  /**
   * The `app.kubernetes.io/component` values of the Airflow pods allowed to reach the database (the pods must
   * also carry `app.kubernetes.io/part-of: airflow`).
   * @default - the generation's database clients: scheduler, the UI (api-server or webserver), dag-processor,
   *   triggerer, db-migrate and create-user; plus worker on Airflow 2, and celery-worker there when
   *   `celeryWorkers` is true
   */
  readonly databaseClients?: string[];

  /**
   * Whether Celery workers run (`celery` of KubernetesExecutorAirflow): on Airflow 2 they are database
   * clients (on Airflow 3 they use the execution API, like task pods, and are not).
   * @default false
   */
  readonly celeryWorkers?: boolean;

  /**
   * Whether the Celery broker runs in the namespace (Redis, `celery` without `externalBroker`): adds the policy
   * `airflow-redis`, which admits only the scheduler and the Celery workers to its port.
   * @default false
   */
  readonly redisBroker?: boolean;

  /**
   * The labels that select the api-server's pods (the webserver's on Airflow 2).
   * @default { "app.kubernetes.io/component": "api-server" } ("webserver" on Airflow 2)
   */
  readonly apiServerSelector?: Record<string, string>;

  /**
   * The api-server's container port.
   * @default 8080
   */
  readonly apiServerPort?: number;

  /**
   * Who else, besides the namespace's Airflow pods (`app.kubernetes.io/part-of: airflow`, workers included),
   * may reach the api-server's port: the UI and the REST API are for people. Give a namespaceSelector of your
   * ingress controller's namespace to close it to everything else.
   * @default - any source
   */
  readonly apiServerSources?: k8s.NetworkPolicyPeer[];
}

const PART_OF = PART_OF_LABEL;
const COMPONENT = COMPONENT_LABEL;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/**
 * NetworkPolicies (networking.k8s.io/v1, ingress only) that fence the metadata database and the api-server:
 *
 * - `airflow-metadata-db`: the database pods accept connections only on the database port and only from the
 *   Airflow components that use the database (not from worker pods on Airflow 3, not from other namespaces);
 * - `airflow-api-server`: the api-server accepts its port from the namespace's Airflow pods (workers reach
 *   the execution API) and from `apiServerSources` (default: anyone, for the UI);
 * - `airflow-redis` (with `redisBroker`): the Celery broker accepts its port only from the scheduler and the
 *   Celery workers.
 *
 * They only take effect with a network plugin that enforces NetworkPolicy (Calico, Cilium, ...; minikube's
 * default does not: `minikube start --cni=calico`). Egress is not restricted.
 */
export class AirflowNetworkPolicies extends Construct {
  /** The Airflow generation the defaults were chosen for. */
  public readonly generation: AirflowGeneration;
  /** The labels that select the database pods. */
  public readonly databaseSelector: Record<string, string>;
  /** The database port. */
  public readonly databasePort: number;
  /** The components allowed to reach the database. */
  public readonly databaseClients: string[];
  /** The labels that select the api-server pods. */
  public readonly apiServerSelector: Record<string, string>;
  /** The api-server port. */
  public readonly apiServerPort: number;
  /** The policy that fences the database. */
  public readonly databasePolicy: k8s.KubeNetworkPolicy;
  /** The policy that fences the api-server. */
  public readonly apiServerPolicy: k8s.KubeNetworkPolicy;
  /** The components allowed to reach the Celery broker (empty without `redisBroker`). */
  public readonly brokerClients: string[];
  /** The policy that fences the Celery broker; undefined without `redisBroker`. */
  public readonly brokerPolicy: k8s.KubeNetworkPolicy | undefined;

  constructor(scope: Construct, id: string, props: AirflowNetworkPoliciesProps = {}) {
    super(scope, id);
    refuseUnknownProps(this, '', props, 'AirflowNetworkPoliciesProps');
    const generation = props.generation ?? AirflowGeneration.AIRFLOW_3;
    if (!(generation instanceof AirflowGeneration)) {
      invalid(this, 'generation', generation, 'AirflowGeneration.AIRFLOW_3 or AirflowGeneration.AIRFLOW_2 (KubernetesExecutorAirflow.generation)');
    }
    this.generation = generation;
    this.databaseSelector = this.validateSelector('databaseSelector', props.databaseSelector ?? { [COMPONENT]: Components.METADATA_DB });
    this.databasePort = validatePort(this, 'databasePort', props.databasePort ?? POSTGRES_PORT);
    this.databaseClients = props.databaseClients ?? generation.databaseClientsWith({ celeryWorkers: props.celeryWorkers === true });
    if (!Array.isArray(this.databaseClients) || this.databaseClients.length === 0) {
      invalid(this, 'databaseClients', props.databaseClients, 'a non-empty list of app.kubernetes.io/component values');
    }
    this.databaseClients.forEach((c, i) => validateDnsLabel(this, `databaseClients[${i}]`, c));
    this.apiServerSelector = this.validateSelector(
      'apiServerSelector',
      props.apiServerSelector ?? { [COMPONENT]: generation.uiComponent },
    );
    this.apiServerPort = validatePort(this, 'apiServerPort', props.apiServerPort ?? AIRFLOW_UI_PORT);

    const labels = { [PART_OF]: APP_NAME };
    this.databasePolicy = new k8s.KubeNetworkPolicy(this, 'metadata-db', {
      metadata: { name: `airflow-${Components.METADATA_DB}`, labels },
      spec: {
        podSelector: { matchLabels: this.databaseSelector },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [
              {
                podSelector: {
                  matchLabels: { [PART_OF]: APP_NAME },
                  matchExpressions: [{ key: COMPONENT, operator: 'In', values: [...this.databaseClients] }],
                },
              },
            ],
            ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(this.databasePort) }],
          },
        ],
      },
    });

    const sources: k8s.NetworkPolicyPeer[] = [{ podSelector: { matchLabels: { [PART_OF]: APP_NAME } } }];
    const ports = [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(this.apiServerPort) }];
    this.apiServerPolicy = new k8s.KubeNetworkPolicy(this, 'ui', {
      metadata: { name: `airflow-${generation.uiComponent}`, labels },
      spec: {
        podSelector: { matchLabels: this.apiServerSelector },
        policyTypes: ['Ingress'],
        ingress:
          props.apiServerSources === undefined
            ? [{ ports }] // the UI: from anywhere
            : [{ from: [...sources, ...props.apiServerSources], ports }],
      },
    });

    // The broker: the scheduler sends tasks and reads their results, the Celery workers take them (their
    // liveness probe pings them through it). Nothing else talks to Redis: not the UI, not the task pods.
    this.brokerClients = props.redisBroker ? [Components.SCHEDULER, Components.CELERY_WORKER] : [];
    this.brokerPolicy = props.redisBroker
      ? new k8s.KubeNetworkPolicy(this, 'redis', {
        metadata: { name: `airflow-${Components.REDIS}`, labels },
        spec: {
          podSelector: { matchLabels: { [COMPONENT]: Components.REDIS } },
          policyTypes: ['Ingress'],
          ingress: [
            {
              from: [
                {
                  podSelector: {
                    matchLabels: { [PART_OF]: APP_NAME },
                    matchExpressions: [{ key: COMPONENT, operator: 'In', values: [...this.brokerClients] }],
                  },
                },
              ],
              ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(REDIS_PORT) }],
            },
          ],
        },
      })
      : undefined;
  }

  private validateSelector(property: string, selector: Record<string, string>): Record<string, string> {
    const entries = selector && typeof selector === 'object' ? Object.entries(selector) : [];
    if (entries.length === 0) {
      invalid(this, property, selector, 'a non-empty map of label names to values, such as { "app.kubernetes.io/component": "metadata-db" }');
    }
    for (const [key, value] of entries) {
      if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) {
        invalid(this, `${property}["${key}"]`, value, "a label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit");
      }
    }
    return { ...selector };
  }
}
