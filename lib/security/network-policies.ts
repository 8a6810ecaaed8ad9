import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import {
  AIRFLOW_UI_PORT,
  FLOWER_PORT,
  APP_NAME,
  AirflowGeneration,
  COMPONENT_LABEL,
  Components,
  NAME_LABEL,
  PART_OF_LABEL,
  PGBOUNCER_PORT,
  POSTGRES_PORT,
  REDIS_PORT,
  STATSD_METRICS_PORT,
  STATSD_PORT,
  invalid,
  validateDnsLabel,
  validatePort,
  refuseUnknownProps,
} from '../core';

/** The DNS port (kube-dns / CoreDNS), UDP and TCP. */
export const DNS_PORT = 53;

/**
 * The ports the Kubernetes API server is reached on by default: 443 (the `kubernetes` Service's port, and the
 * endpoint port of most managed clusters), 6443 (kubeadm's) and 8443 (minikube's). A CNI checks egress against
 * the endpoint after the Service's address translation, so the endpoint's port must be in the list.
 */
export const DEFAULT_KUBERNETES_API_PORTS: readonly number[] = [443, 6443, 8443];

/** The ports git-sync reaches a repository on by default: HTTPS and SSH. */
export const DEFAULT_GIT_PORTS: readonly number[] = [443, 22];

/** The port an object store (S3, GCS, Azure Blob) is reached on by default: HTTPS. */
export const DEFAULT_OBJECT_STORE_PORTS: readonly number[] = [443];

/**
 * The ports a broker outside the deployment (`celery.externalBroker`) listens on, unless `externalBrokerPorts`
 * says: Redis (6379), Redis with TLS as Azure Cache for Redis serves it (6380), RabbitMQ's AMQP (5672) and AMQPS (5671).
 */
export const DEFAULT_EXTERNAL_BROKER_PORTS: readonly number[] = [5671, 5672, 6379, 6380];

/**
 * The peer of the cluster DNS: the `kube-dns` pods (CoreDNS keeps that label) in namespace `kube-system`, selected by
 * the `kubernetes.io/metadata.name` label Kubernetes puts on every namespace (1.21 and later).
 */
export const KUBE_DNS_PEER: k8s.NetworkPolicyPeer = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
  podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
};

/**
 * The choices of the NetworkPolicies that depend on the cluster around Airflow: where the UI's users and
 * Prometheus come from, where DNS and the Kubernetes API are, where git and the object store are, and what task
 * pods may reach. The `networkPolicyOptions` prop of `AirflowChart`.
 */
export interface AirflowNetworkPolicyOptions {
  /**
   * Who, besides the Airflow pods that use the execution API (task pods and Celery workers on Airflow 3), may reach
   * the api-server's port (the webserver's on Airflow 2): the UI and the REST API are for people, who come
   * through an ingress controller or a Service of type LoadBalancer. Give the ingress controller's namespace, e.g.
   * `[{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }]`, or
   * `[{ ipBlock: { cidr: '0.0.0.0/0' } }]` for everyone. `kubectl port-forward` works without any: it enters the
   * pod's network namespace through the node.
   * @default - none: only the Airflow pods that use the execution API (and port-forward)
   */
  readonly apiServerSources?: k8s.NetworkPolicyPeer[];

  /**
   * Who may scrape the statsd-exporter's metrics port (9102), with `metrics`: your Prometheus, e.g.
   * `[{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]`.
   * @default - every pod of every namespace (`[{ namespaceSelector: {} }]`): metrics hold no secret, and where
   *   Prometheus runs is the cluster's choice
   */
  readonly prometheusSources?: k8s.NetworkPolicyPeer[];

  /**
   * Where the cluster DNS is (UDP and TCP 53, from every pod of the deployment). Add an `ipBlock` for a node-local
   * DNS cache (e.g. `169.254.20.10/32`).
   * @default [KUBE_DNS_PEER] - the kube-dns pods in namespace kube-system
   */
  readonly dns?: k8s.NetworkPolicyPeer[];

  /**
   * The ports of the Kubernetes API server, for the pods that call it (the scheduler creates the task pods; the
   * secrets bootstrap Job creates the Secret). NetworkPolicy cannot select the API server by label (it is not a
   * pod), and CNIs check the endpoint after the `kubernetes` Service's address translation: list the port it
   * listens on (`kubectl get endpoints kubernetes -n default`).
   * @default DEFAULT_KUBERNETES_API_PORTS - 443, 6443 and 8443
   */
  readonly kubernetesApiPorts?: number[];

  /**
   * The addresses of the Kubernetes API server (the endpoints of `kubernetes` in namespace default, as CIDRs), to
   * narrow its rule from "any address on these ports" to them.
   * @default - any address on `kubernetesApiPorts` (a port-only rule): the API server's address differs from
   *   cluster to cluster and may change (managed control planes)
   */
  readonly kubernetesApiCidrs?: string[];

  /**
   * The addresses git-sync may clone from (with `gitSync`), as CIDRs.
   * @default - any address on `gitPorts`
   */
  readonly gitCidrs?: string[];

  /**
   * The ports git-sync reaches the repository on.
   * @default DEFAULT_GIT_PORTS - 443 (HTTPS) and 22 (SSH)
   */
  readonly gitPorts?: number[];

  /**
   * The addresses of the object store that holds the task logs (with `remoteLogging`), as CIDRs.
   * @default - any address on `objectStorePorts`
   */
  readonly objectStoreCidrs?: string[];

  /**
   * The ports of the object store (an S3-compatible store of your own may listen on another, e.g. MinIO's 9000).
   * @default DEFAULT_OBJECT_STORE_PORTS - 443
   */
  readonly objectStorePorts?: number[];

  /**
   * Where the Celery broker outside the deployment is (`celery.externalBroker`): its clients (the scheduler, the
   * Celery workers and Flower) may reach `externalBrokerPorts` there (policy `airflow-broker-clients`).
   * @default - any address on `externalBrokerPorts`
   */
  readonly externalBrokerCidrs?: string[];

  /**
   * The ports of the Celery broker outside the deployment.
   * @default DEFAULT_EXTERNAL_BROKER_PORTS - 5671, 5672 (RabbitMQ), 6379, 6380 (Redis)
   */
  readonly externalBrokerPorts?: number[];

  /**
   * The addresses of the identity provider the UI's login reaches (with `auth`: the OAuth provider's token,
   * userinfo and discovery endpoints, or the LDAP server), as CIDRs.
   * @default - any address on the login's ports
   */
  readonly identityProviderCidrs?: string[];

  /**
   * What the pods that run tasks (task pods and Celery workers) may reach beyond what Airflow itself needs (DNS,
   * the execution API, the database on Airflow 2, the broker, statsd, git, the object store, which other policies
   * allow). A task calls whatever its DAG's author calls, so this is open unless you restrict it: `[]` allows
   * nothing more, `[{ to: [{ ipBlock: { cidr: '10.20.0.0/16' } }], ports: [{ port: 443 }] }]` one network.
   * @default - anywhere: one egress rule with no `to` and no `ports`
   */
  readonly taskEgress?: k8s.NetworkPolicyEgressRule[];
}

/** Props for {@link AirflowNetworkPolicies}: the facts of the deployment, and the cluster's choices. */
export interface AirflowNetworkPoliciesProps extends AirflowNetworkPolicyOptions {
  /**
   * The Airflow generation (`airflow.generation` of `KubernetesExecutorAirflow`): on Airflow 2 worker pods
   * talk to the database themselves and the UI is the webserver; on Airflow 3 workers talk only to the
   * api-server's execution API.
   * @default AirflowGeneration.AIRFLOW_3
   */
  readonly generation?: AirflowGeneration;

  /**
   * The labels that select the metadata database's pods (the in-cluster database).
   * @default { "app.kubernetes.io/component": "metadata-db" }
   */
  readonly databaseSelector?: Record<string, string>;

  /**
   * The database port.
   * @default 5432
   */
  readonly databasePort?: number;

  /**
   * A database outside the cluster (`MetadataDb.external(...)`): no policy for database pods then, and the
   * database clients may reach `databasePort` at these CIDRs (its host's addresses), or at any address without.
   * NetworkPolicy cannot name a host: give the addresses to narrow the rule.
   * @default - none: the database runs in the namespace (`databaseSelector`)
   */
  readonly externalDatabaseCidrs?: string[];

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
   * Whether the Celery broker runs in the namespace (Redis, `celery` without `externalBroker`): adds the policies
   * `airflow-redis` (only the scheduler and the Celery workers reach its port) and `airflow-redis-clients`.
   * @default false
   */
  readonly redisBroker?: boolean;

  /**
   * Whether the Celery broker is outside the deployment (`celery.externalBroker`): adds `airflow-broker-clients`,
   * the scheduler's, Celery workers' and Flower's way to `externalBrokerPorts` at `externalBrokerCidrs`.
   * @default false
   */
  readonly externalBroker?: boolean;

  /**
   * Whether Flower runs (`celery.flower`): it reaches the broker like the Celery workers, and `apiServerSources`
   * reach its UI port, 5555 (policy `airflow-flower`).
   * @default false
   */
  readonly flower?: boolean;

  /**
   * The namespace of KEDA's operator when KEDA scales the Celery workers (`celery.keda`): the operator runs
   * their ScaledObject's query on the metadata database, so the in-cluster database also accepts connections
   * from that namespace's pods (selected by its `kubernetes.io/metadata.name` label).
   * @default - none: no KEDA
   */
  readonly kedaOperatorNamespace?: string;

  /**
   * Whether PgBouncer (`pgbouncer` of AirflowChart) stands between the database clients and the database: the
   * clients then reach PgBouncer's pods on its port, and only PgBouncer reaches the database (policy
   * `airflow-pgbouncer`).
   * @default false
   */
  readonly pgbouncer?: boolean;

  /**
   * Whether the statsd-exporter runs (`metrics`): adds `airflow-statsd` (StatsD from the Airflow pods, the
   * metrics port from `prometheusSources`) and `airflow-statsd-clients`.
   * @default false
   */
  readonly statsd?: boolean;

  /**
   * The components that run git-sync (`gitSync`): `git-sync` in shared-volume mode; the DAG readers, the
   * Celery workers and the task pods in sidecar mode. They may reach `gitPorts` at `gitCidrs`.
   * @default - none: no git-sync
   */
  readonly gitSyncClients?: string[];

  /**
   * Whether task logs go to an object store (`remoteLogging`): the Airflow components that write or read them
   * (the UI, scheduler, dag-processor, triggerer, task pods and Celery workers) may reach `objectStorePorts`.
   * @default false
   */
  readonly remoteLogging?: boolean;

  /**
   * The ports the UI reaches the identity provider of its login on (`auth`: 443 for OAuth, the LDAP server's
   * port): the UI may reach them at `identityProviderCidrs`.
   * @default - none: no login provider
   */
  readonly identityProviderPorts?: number[];

  /**
   * The components that call the Kubernetes API.
   * @default - the scheduler (it creates the task pods) and the secrets bootstrap Job (it creates the Secret)
   */
  readonly kubernetesApiClients?: string[];

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
}

const PART_OF = PART_OF_LABEL;
const COMPONENT = COMPONENT_LABEL;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const IPV4_CIDR = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\/(3[0-2]|[12]?\d)$/;
const IPV6_CIDR = /^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*\/(12[0-8]|1[01]\d|[1-9]?\d)$/;

/**
 * NetworkPolicies (networking.k8s.io/v1) that deny every connection to and from the deployment's pods but those
 * a running deployment makes:
 *
 * - `airflow-default-deny`: every pod labelled `app.kubernetes.io/name: airflow` (the deployment's pods, not the
 *   namespace's: a namespace you manage may hold other applications) is isolated for ingress and egress;
 * - `airflow-dns`: those pods may query the cluster DNS (UDP and TCP 53);
 * - `airflow-kubernetes-api`: the scheduler and the secrets bootstrap Job may reach the Kubernetes API;
 * - `airflow-metadata-db` / `airflow-metadata-db-clients`: the database accepts, and its clients may open,
 *   connections on the database port, from and to each other only (not the task pods on Airflow 3);
 * - `airflow-api-server` (`airflow-webserver`) / `airflow-execution-api-clients`: the task pods and Celery
 *   workers reach the execution API (Airflow 3); people reach the UI from `apiServerSources`;
 * - with the Celery broker, statsd, git-sync and remote logging: `airflow-redis`, `airflow-redis-clients`,
 *   `airflow-statsd`, `airflow-statsd-clients`, `airflow-git-sync`, `airflow-remote-logging`; with a broker of
 *   your own `airflow-broker-clients`; with Flower `airflow-flower` (its UI from `apiServerSources`);
 * - `airflow-task-egress`: what task pods and Celery workers may reach besides (anywhere by default).
 *
 * Connections from the node (the kubelet's probes, `kubectl port-forward` and `exec`) are not subject to
 * NetworkPolicy. They only take effect with a network plugin that enforces NetworkPolicy (Calico, Cilium, ...;
 * minikube's default does not: `minikube start --cni=calico`). docs/secrets-and-security.md lists what is
 * allowed from where, and why.
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
  /** The components that reach the execution API (task pods and Celery workers on Airflow 3; none on Airflow 2). */
  public readonly executionApiClients: string[];
  /** The components that reach the Kubernetes API. */
  public readonly kubernetesApiClients: string[];
  /** The ports of the Kubernetes API server. */
  public readonly kubernetesApiPorts: number[];
  /** The policy that isolates every pod of the deployment (ingress and egress). */
  public readonly defaultDenyPolicy: k8s.KubeNetworkPolicy;
  /** The policy that fences the database; undefined with an external database. */
  public readonly databasePolicy: k8s.KubeNetworkPolicy | undefined;
  /** The policy that fences the api-server; undefined when nothing may reach it (Airflow 2 without sources). */
  public readonly apiServerPolicy: k8s.KubeNetworkPolicy | undefined;
  /** The components allowed to reach the Celery broker (empty without `redisBroker`). */
  public readonly brokerClients: string[];
  /** The policy that fences the Celery broker; undefined without `redisBroker`. */
  public readonly brokerPolicy: k8s.KubeNetworkPolicy | undefined;
  /** Every policy, by name. */
  public readonly policies: Record<string, k8s.KubeNetworkPolicy> = {};

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
    this.databaseClients = this.validateComponents('databaseClients', props.databaseClients, generation.databaseClientsWith({ celeryWorkers: props.celeryWorkers === true }));
    this.apiServerSelector = this.validateSelector(
      'apiServerSelector',
      props.apiServerSelector ?? { [COMPONENT]: generation.uiComponent },
    );
    this.apiServerPort = validatePort(this, 'apiServerPort', props.apiServerPort ?? AIRFLOW_UI_PORT);
    const external = props.externalDatabaseCidrs === undefined ? undefined : this.validateCidrs('externalDatabaseCidrs', props.externalDatabaseCidrs, true);
    if (external && props.databaseSelector !== undefined) {
      invalid(this, 'databaseSelector', props.databaseSelector, 'unset with externalDatabaseCidrs: an external database has no pods to select');
    }
    this.kubernetesApiPorts = this.validatePorts('kubernetesApiPorts', props.kubernetesApiPorts, DEFAULT_KUBERNETES_API_PORTS);
    this.kubernetesApiClients = this.validateComponents('kubernetesApiClients', props.kubernetesApiClients, [Components.SCHEDULER, Components.SECRETS_BOOTSTRAP]);
    // Airflow 3: task pods (and Celery workers, which run tasks the same way) report to the execution API; the
    // scheduler, dag-processor and triggerer use it in process (the runtime stage records no other client).
    this.executionApiClients = generation.workersUseDatabase
      ? []
      : [Components.WORKER, ...(props.celeryWorkers ? [Components.CELERY_WORKER] : [])];
    const apiServerSources = this.validatePeers('apiServerSources', props.apiServerSources, []);
    const dns = this.validatePeers('dns', props.dns, [KUBE_DNS_PEER]);
    if (dns.length === 0) invalid(this, 'dns', props.dns, 'at least one peer: every pod resolves the Services\' names through the cluster DNS');
    const taskComponents = [Components.WORKER, ...(props.celeryWorkers ? [Components.CELERY_WORKER] : [])];

    const add = (name: string, spec: k8s.NetworkPolicySpec) => {
      const policy = new k8s.KubeNetworkPolicy(this, name, { metadata: { name: `airflow-${name}`, labels: { [PART_OF]: APP_NAME } }, spec });
      this.policies[`airflow-${name}`] = policy;
      return policy;
    };
    const everyPod: k8s.LabelSelector = { matchLabels: { [NAME_LABEL]: APP_NAME } };
    const airflowPods: k8s.LabelSelector = { matchLabels: { [PART_OF]: APP_NAME } };
    const tcp = (ports: readonly number[]) => ports.map((port) => ({ protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) }));
    // No CIDRs (or an empty list): any address, a rule without `to`.
    const cidrPeers = (cidrs: string[] | undefined) => (cidrs === undefined || cidrs.length === 0 ? undefined : cidrs.map((cidr) => ({ ipBlock: { cidr } })));

    // Every pod of the deployment, isolated both ways; the policies below open what it needs.
    this.defaultDenyPolicy = add('default-deny', { podSelector: everyPod, policyTypes: ['Ingress', 'Egress'] });

    add('dns', {
      podSelector: everyPod,
      policyTypes: ['Egress'],
      egress: [{ to: dns, ports: [{ protocol: 'UDP', port: k8s.IntOrString.fromNumber(DNS_PORT) }, ...tcp([DNS_PORT])] }],
    });

    add('kubernetes-api', {
      podSelector: components(this.kubernetesApiClients),
      policyTypes: ['Egress'],
      egress: [{ to: cidrPeers(this.validateCidrs('kubernetesApiCidrs', props.kubernetesApiCidrs)), ports: tcp(this.kubernetesApiPorts) }],
    });

    // With PgBouncer the clients reach it, and it the database.
    const pgbouncer: k8s.LabelSelector = { matchLabels: { [COMPONENT]: Components.PGBOUNCER } };
    const databaseTo = external ? cidrPeers(external) : [{ podSelector: { matchLabels: this.databaseSelector } }];
    this.databasePolicy = external
      ? undefined
      : add(Components.METADATA_DB, {
        podSelector: { matchLabels: this.databaseSelector },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [
              { podSelector: props.pgbouncer ? pgbouncer : components(this.databaseClients) },
              ...(props.kedaOperatorNamespace === undefined
                ? []
                : [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': validateDnsLabel(this, 'kedaOperatorNamespace', props.kedaOperatorNamespace) } } }]),
            ],
            ports: tcp([this.databasePort]),
          },
        ],
      });
    add(`${Components.METADATA_DB}-clients`, {
      podSelector: components(this.databaseClients),
      policyTypes: ['Egress'],
      egress: props.pgbouncer
        ? [{ to: [{ podSelector: pgbouncer }], ports: tcp([PGBOUNCER_PORT]) }]
        : [{ to: databaseTo, ports: tcp([this.databasePort]) }],
    });
    if (props.pgbouncer) {
      add(Components.PGBOUNCER, {
        podSelector: pgbouncer,
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ podSelector: components(this.databaseClients) }], ports: tcp([PGBOUNCER_PORT]) }],
        egress: [{ to: databaseTo, ports: tcp([this.databasePort]) }],
      });
    }

    const apiServerPeers = [...(this.executionApiClients.length > 0 ? [{ podSelector: components(this.executionApiClients) }] : []), ...apiServerSources];
    this.apiServerPolicy = apiServerPeers.length === 0
      ? undefined
      : add(generation.uiComponent, {
        podSelector: { matchLabels: this.apiServerSelector },
        policyTypes: ['Ingress'],
        ingress: [{ from: apiServerPeers, ports: tcp([this.apiServerPort]) }],
      });
    if (this.executionApiClients.length > 0) {
      add('execution-api-clients', {
        podSelector: components(this.executionApiClients),
        policyTypes: ['Egress'],
        egress: [{ to: [{ podSelector: { matchLabels: this.apiServerSelector } }], ports: tcp([this.apiServerPort]) }],
      });
    }

    // The broker: the scheduler sends tasks and reads their results, the Celery workers take them (their
    // liveness probe pings them through it). Nothing else talks to Redis: not the UI, not the task pods.
    // Flower is a Celery client too: it reads the workers' events and sends them its commands through the broker.
    const celeryClients = [Components.SCHEDULER, Components.CELERY_WORKER, ...(props.flower ? [Components.FLOWER] : [])];
    this.brokerClients = props.redisBroker ? celeryClients : [];
    this.brokerPolicy = props.redisBroker
      ? add(Components.REDIS, {
        podSelector: { matchLabels: { [COMPONENT]: Components.REDIS } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: components(this.brokerClients) }], ports: tcp([REDIS_PORT]) }],
      })
      : undefined;
    if (props.redisBroker) {
      add(`${Components.REDIS}-clients`, {
        podSelector: components(this.brokerClients),
        policyTypes: ['Egress'],
        egress: [{ to: [{ podSelector: { matchLabels: { [COMPONENT]: Components.REDIS } } }], ports: tcp([REDIS_PORT]) }],
      });
    }

    this.onlyWith('externalBrokerCidrs', props.externalBrokerCidrs, props.externalBroker === true, 'celery.externalBroker');
    this.onlyWith('externalBrokerPorts', props.externalBrokerPorts, props.externalBroker === true, 'celery.externalBroker');
    if (props.externalBroker) {
      add('broker-clients', {
        podSelector: components(celeryClients),
        policyTypes: ['Egress'],
        egress: [{
          to: cidrPeers(this.validateCidrs('externalBrokerCidrs', props.externalBrokerCidrs)),
          ports: tcp(this.validatePorts('externalBrokerPorts', props.externalBrokerPorts, DEFAULT_EXTERNAL_BROKER_PORTS)),
        }],
      });
    }
    // Flower's UI: for people, like the api-server's, from apiServerSources (and kubectl port-forward).
    if (props.flower && apiServerSources.length > 0) {
      add(Components.FLOWER, {
        podSelector: { matchLabels: { [COMPONENT]: Components.FLOWER } },
        policyTypes: ['Ingress'],
        ingress: [{ from: apiServerSources, ports: tcp([FLOWER_PORT]) }],
      });
    }

    // StatsD: every Airflow process sends its metrics (UDP); Prometheus scrapes the exporter.
    const prometheusSources = this.validatePeers('prometheusSources', props.prometheusSources, [{ namespaceSelector: {} }]);
    if (props.prometheusSources !== undefined && !props.statsd) {
      invalid(this, 'prometheusSources', props.prometheusSources, 'unset without statsd (metrics): there is no statsd-exporter to scrape');
    }
    if (props.statsd) {
      const statsd: k8s.LabelSelector = { matchLabels: { [COMPONENT]: Components.STATSD } };
      const udp = [{ protocol: 'UDP', port: k8s.IntOrString.fromNumber(STATSD_PORT) }];
      add(Components.STATSD, {
        podSelector: statsd,
        policyTypes: ['Ingress'],
        ingress: [
          { from: [{ podSelector: airflowPods }], ports: udp },
          ...(prometheusSources.length > 0 ? [{ from: prometheusSources, ports: tcp([STATSD_METRICS_PORT]) }] : []),
        ],
      });
      add(`${Components.STATSD}-clients`, { podSelector: airflowPods, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: statsd }], ports: udp }] });
    }

    const gitClients = props.gitSyncClients === undefined ? [] : this.validateComponents('gitSyncClients', props.gitSyncClients, []);
    this.onlyWith('gitCidrs', props.gitCidrs, gitClients.length > 0, 'gitSync');
    this.onlyWith('gitPorts', props.gitPorts, gitClients.length > 0, 'gitSync');
    if (gitClients.length > 0) {
      add(Components.GIT_SYNC, {
        podSelector: components(gitClients),
        policyTypes: ['Egress'],
        egress: [{ to: cidrPeers(this.validateCidrs('gitCidrs', props.gitCidrs)), ports: tcp(this.validatePorts('gitPorts', props.gitPorts, DEFAULT_GIT_PORTS)) }],
      });
    }

    this.onlyWith('objectStoreCidrs', props.objectStoreCidrs, props.remoteLogging === true, 'remoteLogging');
    this.onlyWith('objectStorePorts', props.objectStorePorts, props.remoteLogging === true, 'remoteLogging');
    if (props.remoteLogging) {
      add('remote-logging', {
        podSelector: components([generation.uiComponent, Components.SCHEDULER, Components.DAG_PROCESSOR, Components.TRIGGERER, ...taskComponents]),
        policyTypes: ['Egress'],
        egress: [{
          to: cidrPeers(this.validateCidrs('objectStoreCidrs', props.objectStoreCidrs)),
          ports: tcp(this.validatePorts('objectStorePorts', props.objectStorePorts, DEFAULT_OBJECT_STORE_PORTS)),
        }],
      });
    }

    const idpPorts = props.identityProviderPorts ?? [];
    this.onlyWith('identityProviderCidrs', props.identityProviderCidrs, idpPorts.length > 0, 'auth');
    if (idpPorts.length > 0) {
      add('identity-provider', {
        podSelector: components([generation.uiComponent]),
        policyTypes: ['Egress'],
        egress: [{
          to: cidrPeers(this.validateCidrs('identityProviderCidrs', props.identityProviderCidrs)),
          ports: tcp(this.validatePorts('identityProviderPorts', idpPorts, [])),
        }],
      });
    }

    if (props.taskEgress !== undefined && !Array.isArray(props.taskEgress)) {
      invalid(this, 'taskEgress', props.taskEgress, 'a list of NetworkPolicy egress rules ([] for nothing beyond what Airflow needs)');
    }
    const taskEgress = props.taskEgress ?? [{}];
    if (taskEgress.length > 0) {
      add('task-egress', { podSelector: components(taskComponents), policyTypes: ['Egress'], egress: taskEgress });
    }
  }

  private onlyWith(property: string, value: unknown, enabled: boolean, feature: string): void {
    if (value !== undefined && !enabled) {
      invalid(this, property, value, `unset without ${feature}: nothing would use the rule`, `Turn ${feature} on, or leave ${property} out.`);
    }
  }

  private validateComponents(property: string, given: string[] | undefined, fallback: string[]): string[] {
    const list = given ?? fallback;
    if (!Array.isArray(list) || list.length === 0) {
      invalid(this, property, given, 'a non-empty list of app.kubernetes.io/component values');
    }
    list.forEach((c, i) => validateDnsLabel(this, `${property}[${i}]`, c));
    return [...list];
  }

  private validatePorts(property: string, given: number[] | undefined, fallback: readonly number[]): number[] {
    const list = given ?? fallback;
    if (!Array.isArray(list) || list.length === 0) invalid(this, property, given, 'a non-empty list of ports (1 to 65535)');
    return list.map((p, i) => validatePort(this, `${property}[${i}]`, p));
  }

  private validateCidrs(property: string, given: string[] | undefined, emptyAllowed = false): string[] | undefined {
    if (given === undefined) return undefined;
    if (!Array.isArray(given) || (given.length === 0 && !emptyAllowed)) {
      invalid(this, property, given, 'a non-empty list of CIDRs such as "10.0.0.0/16" (leave it out for any address)');
    }
    given.forEach((cidr, i) => {
      if (typeof cidr !== 'string' || !(IPV4_CIDR.test(cidr) || IPV6_CIDR.test(cidr))) {
        invalid(this, `${property}[${i}]`, cidr, 'an IPv4 or IPv6 CIDR such as "10.0.0.0/16" or "192.0.2.10/32"');
      }
    });
    return [...given];
  }

  private validatePeers(property: string, given: k8s.NetworkPolicyPeer[] | undefined, fallback: k8s.NetworkPolicyPeer[]): k8s.NetworkPolicyPeer[] {
    const list = given ?? fallback;
    if (!Array.isArray(list)) invalid(this, property, given, 'a list of NetworkPolicy peers (podSelector, namespaceSelector, ipBlock)');
    list.forEach((peer, i) => {
      if (!peer || typeof peer !== 'object' || (!peer.podSelector && !peer.namespaceSelector && !peer.ipBlock)) {
        invalid(this, `${property}[${i}]`, peer, 'a NetworkPolicy peer with a podSelector, a namespaceSelector or an ipBlock ({ namespaceSelector: {} } for every namespace)');
      }
      if (peer.ipBlock && (peer.podSelector || peer.namespaceSelector)) {
        invalid(this, `${property}[${i}]`, peer, 'either an ipBlock or selectors, not both (the API server refuses the peer)');
      }
      const cidr = peer.ipBlock?.cidr;
      if (peer.ipBlock && (typeof cidr !== 'string' || !(IPV4_CIDR.test(cidr) || IPV6_CIDR.test(cidr)))) {
        invalid(this, `${property}[${i}].ipBlock.cidr`, cidr, 'an IPv4 or IPv6 CIDR such as "10.0.0.0/16" or "0.0.0.0/0"');
      }
    });
    return [...list];
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

/** The deployment's pods of these components (`app.kubernetes.io/part-of: airflow` and the component). */
function components(names: string[]): k8s.LabelSelector {
  return { matchLabels: { [PART_OF]: APP_NAME }, matchExpressions: [{ key: COMPONENT, operator: 'In', values: [...names] }] };
}
