import { Testing } from 'cdk8s';
import { Construct } from 'constructs';
import {
  AirflowChart,
  AirflowNetworkPolicies,
  AirflowSecrets,
  AirflowVolumes,
  ExternalMetadataDb,
  MetadataDb,
  PersistentStorage,
  StorageProvisioning,
  AirflowGeneration,
  AirflowVersion,
  DatabaseConnection,
  DeploymentStrategy,
  EnvValue,
  RemoteLogging,
  StatsdExporter,
  OAuthProvider,
} from '../../lib';
import * as k8s from '../../imports/k8s';
import { validateAirflowConfig } from '../../lib/airflow/airflow-config-keys';
import { AirflowConfiguration } from '../../lib/airflow/airflow-configuration';
import { validatePort } from '../../lib/core/validators';
import { testChart, validationError } from '../support';

const chart = () => testChart();

/** A container of the user's own with what the checks require (issue #22). */
const SMALL_CONTAINER = {
  name: 'proxy',
  image: 'envoyproxy/envoy:v1.31.0',
  resources: {
    requests: { cpu: k8s.Quantity.fromString('10m'), memory: k8s.Quantity.fromString('32Mi') },
    limits: { cpu: k8s.Quantity.fromString('100m'), memory: k8s.Quantity.fromString('64Mi') },
  },
};

/**
 * One bad input per row: how to build it, and the message it must produce. Each message names the construct
 * class and path, the property, the value received and what is allowed (and a suggestion where obvious).
 */
const rows: Array<[string, () => unknown, RegExp]> = [
  // Unknown props (props TypeScript did not check: a variable, a cast, JSON or YAML)
  ['a misspelt chart prop', () => new AirflowChart(Testing.app(), 'airflow', { paralelism: 8 } as any),
    /^AirflowChart at "airflow": property "paralelism" received 8; allowed: a prop of AirflowChartProps \(adminEmail, .*\)\. Did you mean "parallelism"\?$/],
  ['a misspelt key of a nested option object', () => new AirflowChart(Testing.app(), 'airflow', { ingress: { hots: 'airflow.example.com' } } as any),
    /^AirflowChart at "airflow": property "ingress\.hots" received "\(value not shown: an unknown prop may hold a secret\)"; allowed: a prop of IngressOptions \(.*\)\. Did you mean "host"\?$/],
  // AirflowVolumes
  ['volume name not a DNS label', () => new AirflowVolumes(chart(), 'volumes', { volumes: [{ name: 'Dags' }] }),
    /^AirflowVolumes at "test\/volumes": property "volumes\[0\]\.name" received "Dags"; allowed: a DNS-1123 label: 1 to 40 characters.*Did you mean "dags"\?$/],
  ['two volumes with one name', () => new AirflowVolumes(chart(), 'volumes', { volumes: [{ name: 'dags' }, { name: 'dags' }] }),
    /^AirflowVolumes at "test\/volumes": property "volumes\[1\]\.name" received "dags"; allowed: a name not used by another entry of "volumes"\.$/],
  ['size in GB', () => new AirflowVolumes(chart(), 'volumes', { volumes: [{ name: 'dags', size: '5GB' }] }),
    /^AirflowVolumes at "test\/volumes": property "volumes\[0\]\.size" received "5GB"; allowed: a Kubernetes quantity of bytes greater than zero.* Did you mean "5Gi"\?$/],
  ['claim larger than its volume', () => new AirflowVolumes(chart(), 'volumes', { volumes: [{ name: 'logs', size: '1Gi', requestSize: '2Gi' }] }),
    /^AirflowVolumes at "test\/volumes": property "volumes\[0\]\.requestSize" received "2Gi"; allowed: at most the volume's size "1Gi": a claim larger than its volume never binds\.$/],
  ['relative mount path', () => new AirflowVolumes(chart(), 'volumes', { volumes: [{ name: 'dags', mountPath: 'opt/airflow/dags' }] }),
    /^AirflowVolumes at "test\/volumes": property "volumes\[0\]\.mountPath" received "opt\/airflow\/dags"; allowed: an absolute path.* Did you mean "\/opt\/airflow\/dags"\?$/],
  ['two volumes on one mount path', () => new AirflowVolumes(chart(), 'volumes', { volumes: [{ name: 'dags' }, { name: 'more', mountPath: '/opt/airflow/dags' }] }),
    /^AirflowVolumes at "test\/volumes": property "volumes\[1\]\.mountPath" received "\/opt\/airflow\/dags"; allowed: a path not already used by volume "dags"\.$/],
  ['no volumes', () => new AirflowVolumes(chart(), 'volumes', { volumes: [] }),
    /^AirflowVolumes at "test\/volumes": property "volumes" received \[\]; allowed: at least one volume/],
  ['name prefix with an underscore', () => new AirflowVolumes(chart(), 'volumes', { namePrefix: 'my_airflow' }),
    /^AirflowVolumes at "test\/volumes": property "namePrefix" received "my_airflow"; allowed: a DNS-1123 label.* Did you mean "my-airflow"\?$/],
  ['relative host root', () => new AirflowVolumes(chart(), 'volumes', { provisioning: StorageProvisioning.hostPath({ hostRoot: 'data' }) }),
    /^AirflowVolumes at "test\/volumes": property "provisioning\.hostRoot" received "data"; allowed: an absolute path.* Did you mean "\/data"\?$/],
  ['host root "/" (a volume "etc" would be the node\'s /etc)', () => new AirflowChart(Testing.app(), 'airflow', { hostRoot: '/' }),
    /^AirflowChart at "airflow": property "hostRoot" received "\/"; allowed: a folder of the node that is neither "\/" nor one of its system folders \(\/bin, \/boot, \/dev, \/etc, \/home, \/lib, \/lib32, \/lib64, \/libx32, \/opt, \/proc, \/root, \/run, \/sbin, \/srv, \/sys, \/usr, \/var\) nor inside one, such as "\/data" or "\/data\/airflow"\. "\/" is the node's root folder: a hostPath volume there is given to Airflow's user \(uid 50000\) and mounted read-write by every task pod\. Use a folder under \/data, which minikube keeps across restarts\.$/],
  ['host root inside a system folder', () => new AirflowChart(Testing.app(), 'airflow', { hostRoot: '/var/lib/airflow' }),
    /^AirflowChart at "airflow": property "hostRoot" received "\/var\/lib\/airflow"; allowed: a folder of the node that is neither "\/".*"\/var\/lib\/airflow" is inside the node's system folder "\/var": /],
  ['provisioning on a system folder', () => new AirflowVolumes(chart(), 'volumes', { provisioning: StorageProvisioning.hostPath({ hostRoot: '/data/../etc' }) }),
    /^StorageProvisioning at "StorageProvisioning\.hostPath": property "hostRoot" received "\/data\/\.\.\/etc"; allowed: a folder of the node .* "\/data\/\.\.\/etc" resolves to "\/etc", the node's system folder "\/etc": /],
  ['storage class name with a space', () => new AirflowVolumes(chart(), 'volumes', { provisioning: StorageProvisioning.storageClass('Fast SSD') }),
    /^PersistentStorage at "test\/volumes\/dags": property "provisioning\.storageClassName" received "Fast SSD"; allowed: a DNS-1123 subdomain.* Did you mean "fast-ssd"\?$/],
  ['access mode that does not exist', () => new AirflowVolumes(chart(), 'volumes', { volumes: [{ name: 'dags', accessModes: ['ReadWriteAll'] }] }),
    /^PersistentStorage at "test\/volumes\/dags": property "accessModes\[0\]" received "ReadWriteAll"; allowed: one of ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod\.$/],
  ['a volume name that does not exist', () => new AirflowVolumes(chart(), 'volumes').get('plugins'),
    /^AirflowVolumes at "test\/volumes": property "volume name" received "plugins"; allowed: one of the declared volumes: "dags", "logs", "data"\.$/],
  ['addVolume with a name already used', () => new AirflowVolumes(chart(), 'volumes').addVolume({ name: 'logs' }),
    /^AirflowVolumes at "test\/volumes": property "addVolume\.name" received "logs"; allowed: a name not already used \(dags, logs, data\)\.$/],
  // Issue #20: storage every pod mounts, on any node.
  ['a StorageClass claim with only ReadWriteOnce', () => new AirflowVolumes(chart(), 'volumes', { provisioning: StorageProvisioning.storageClass('gp3'), volumes: [{ name: 'dags' }, { name: 'data', accessModes: ['ReadWriteOnce'] }] }),
    /^AirflowVolumes at "test\/volumes": property "volumes\[1\]\.accessModes" received \["ReadWriteOnce"\]; allowed: access modes that include ReadWriteMany for the StorageClass claim "data": every Airflow pod .* attaches to one node only: pods on the others stay ContainerCreating \(Multi-Attach error\)\. Use a StorageClass with ReadWriteMany .*, or leave "data" out of volumes \(docs\/storage\.md\)\.$/],
  ['an emptyDir that is not logs', () => new AirflowVolumes(chart(), 'volumes', { volumes: [{ name: 'dags' }, { name: 'data', emptyDir: true }] }),
    /^AirflowVolumes at "test\/volumes": property "volumes\[1\]\.emptyDir" received true; allowed: emptyDir only for the "logs" volume \(with remote logging\), not for "data": an emptyDir is each pod's own and is deleted with it, so nothing written there would reach another pod or outlive the task\. Leave "data" out of volumes, or give it a claim\.$/],
  ['a claim\'s option on an emptyDir', () => new AirflowVolumes(chart(), 'volumes', { volumes: [{ name: 'logs', emptyDir: true, accessModes: ['ReadWriteMany'] }] }),
    /^AirflowVolumes at "test\/volumes": property "volumes\[0\]\.accessModes" received \["ReadWriteMany"\]; allowed: nothing with emptyDir: there is no claim \(size is the emptyDir's sizeLimit\)\.$/],
  ['storage outside a namespaced chart', () =>
    new PersistentStorage(testChart({ id: 'nons', namespace: null }), 'storage', {
      name: 'dags', claimName: 'c', volumeName: 'v', provisioning: StorageProvisioning.hostPath(), size: '1Gi', accessModes: ['ReadWriteMany'],
    }),
    /^PersistentStorage at "nons\/storage": property "Chart\.namespace" received undefined; allowed: a namespace set on the Chart/],

  // Reserved namespaces (issue #21): the chart's own, and any construct of the library placed in one
  ['a volume named like the /tmp emptyDir', () => new AirflowChart(Testing.app(), 'airflow', { volumes: [{ name: 'dags' }, { name: 'airflow-tmp' }] }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "volumes" received \["dags","airflow-tmp"\]; allowed: no volume named "airflow-tmp" \(the emptyDir of every Airflow pod's \/tmp\)\.$/],
  ['a volume mounted at /tmp', () => new AirflowChart(Testing.app(), 'airflow', { volumes: [{ name: 'dags' }, { name: 'scratch', mountPath: '/tmp' }] }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "volumes.scratch.mountPath" received "\/tmp"; allowed: a path other than \/tmp: every Airflow pod mounts an emptyDir there \(its root file system is read-only\)\.$/],
  ['chart in kube-system', () => new AirflowChart(Testing.app(), 'airflow', { namespace: 'kube-system' }),
    /^AirflowChart at "airflow": property "namespace" received "kube-system"; allowed: a namespace of your own: not "default" nor one of Kubernetes' own \("kube-system", "kube-public", "kube-node-lease", any name starting with "kube-"\), where the library would label the Pod Security level and grant a Role that creates pods\. Use a namespace of your own, such as "airflow"; to deploy into one you already manage, name it and set createNamespace: false\.$/],
  ['chart in default, even without creating it', () => new AirflowChart(Testing.app(), 'airflow', { namespace: 'default', createNamespace: false }),
    /^AirflowChart at "airflow": property "namespace" received "default"; allowed: a namespace of your own/],
  ['a construct in a chart in kube-public', () => new AirflowSecrets(testChart({ namespace: 'kube-public' }), 'secrets'),
    /^AirflowSecrets at "test\/secrets": property "Chart\.namespace" received "kube-public"; allowed: a namespace of your own: .* Use a namespace of your own, such as "airflow"\.$/],
  ['createNamespace not a boolean', () => new AirflowChart(Testing.app(), 'airflow', { createNamespace: 'no' as any }),
    /^AirflowChart at "airflow": property "createNamespace" received "no"; allowed: true or false\.$/],

  // Airflow configuration
  ['unknown airflow.cfg key', () => validateAirflowConfig(new Construct(chart(), 'cfg'), 'config', AirflowGeneration.AIRFLOW_3, { core: { paralelism: 8 } }),
    /^Construct at "test\/cfg": property "config\.core" received "paralelism"; allowed: a key of \[core\] that Airflow 3 defines.* Did you mean "core\.parallelism"\?$/],
  ['deprecated airflow.cfg alias', () => validateAirflowConfig(new Construct(chart(), 'cfg'), 'config', AirflowGeneration.AIRFLOW_3, { scheduler: { dag_dir_list_interval: 30 } }),
    /^Construct at "test\/cfg": property "config\.scheduler" received "dag_dir_list_interval"; allowed: .*deprecated alias of "dag_processor\.refresh_interval".* Use "dag_processor\.refresh_interval" instead\.$/],
  ['[webserver] on Airflow 3', () => validateAirflowConfig(new Construct(chart(), 'cfg'), 'config', AirflowGeneration.AIRFLOW_3, { webserver: { web_server_port: 8080 } }),
    /^Construct at "test\/cfg": property "config\.webserver" received "web_server_port"; allowed: .* Use "api\.port" instead\.$/],
  ['broker socket timeout of 0 (a non-blocking socket)', () => new AirflowChart(Testing.app(), 'airflow', { celery: {}, config: { celery_broker_transport_options: { socket_timeout: 0 } } }),
    /^AirflowConfiguration at "airflow\/airflow\/configuration": property "config\.celery_broker_transport_options\.socket_timeout" received 0; allowed: a number of seconds greater than 0: kombu passes it to redis-py as its sockets' timeout, where 0 makes a socket non-blocking and a negative number or text fails at the first connection to the broker\.$/],
  ['airflow.cfg key of a later release (3.2.0 on 3.1.3)', () => new AirflowChart(Testing.app(), 'airflow', { image: 'apache/airflow:3.1.3', config: { core: { multi_team: true } } }),
    /^AirflowConfiguration at "airflow\/airflow\/configuration": property "config\.core" received "multi_team"; allowed: a key Airflow 3\.1\.3 defines: "core\.multi_team" was added in Airflow 3\.2\.0, and the image is Airflow 3\.1\.3\. Use an image of Airflow 3\.2\.0 or newer, or leave the option out\.$/],
  ['airflow.cfg key a later release removed', () => new AirflowChart(Testing.app(), 'airflow', { image: 'apache/airflow:3.2.1', config: { core: { mp_start_method: 'fork' } } }),
    /^AirflowConfiguration at "airflow\/airflow\/configuration": property "config\.core" received "mp_start_method"; allowed: a key Airflow 3\.2\.1 defines: "core\.mp_start_method" was removed in Airflow 3\.2\.0/],
  ['airflow.cfg key the release deprecates', () => new AirflowChart(Testing.app(), 'airflow', { image: 'apache/airflow:3.2.1', config: { metrics: { otel_host: 'collector' } } }),
    /^AirflowConfiguration at "airflow\/airflow\/configuration": property "config\.metrics" received "otel_host"; allowed: a current key of Airflow 3\.2\.1: "metrics\.otel_host" is deprecated since Airflow 3\.2\.0/],
  ['AirflowConfiguration with a release of the other generation', () => new AirflowConfiguration(chart(), 'configuration', { generation: AirflowGeneration.AIRFLOW_3, airflowVersion: AirflowVersion.of('2.11.0'), managed: {} }),
    /^AirflowConfiguration at "test\/configuration": property "airflowVersion" received "2\.11\.0"; allowed: a release of Airflow 3, the generation given\.$/],
  ['airflow.cfg value that is an object', () => validateAirflowConfig(new Construct(chart(), 'cfg'), 'config', AirflowGeneration.AIRFLOW_3, { core: { parallelism: [8] as unknown as number } }),
    /^Construct at "test\/cfg": property "config\.core\.parallelism" received \[8\]; allowed: a string, a finite number or a boolean/],

  // Validators on their own
  ['port out of range', () => validatePort(new Construct(chart(), 'svc'), 'port', 70000),
    /^Construct at "test\/svc": property "port" received 70000; allowed: a whole number from 1 to 65535\.$/],

  // The whole chart
  ['image in upper case', () => new AirflowChart(Testing.app(), 'airflow', { image: 'Apache/Airflow:3.1.3' }),
    /^AirflowChart at "airflow": property "image" received "Apache\/Airflow:3\.1\.3"; allowed: a container image reference.* Did you mean "apache\/airflow:3\.1\.3"\?$/],
  ['Airflow version without patch', () => new AirflowChart(Testing.app(), 'airflow', { image: 'my/airflow:latest', airflowVersion: '3.1' }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "airflowVersion" received "3\.1"; allowed: an Airflow release as major\.minor\.patch/],
  ['Airflow version that contradicts the image tag', () => new AirflowChart(Testing.app(), 'airflow', { image: 'apache/airflow:3.1.3', airflowVersion: '2.11.0' }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "airflowVersion" received "2\.11\.0"; allowed: the version the image's tag names \(3\.1\.3\)/],
  ['image tag without a version, no airflowVersion', () => new AirflowChart(Testing.app(), 'airflow', { image: 'registry.example.com/team/airflow:dev' }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "airflowVersion" received undefined; allowed: the Airflow version inside the image/],
  // Every image the library emits is pinned by a tag or a digest (validateImage).
  ['Airflow image without a tag or digest', () => new AirflowChart(Testing.app(), 'airflow', { image: 'registry.example.com/team/airflow', airflowVersion: '3.1.3' }),
    /^AirflowChart at "airflow": property "image" received "registry\.example\.com\/team\/airflow"; allowed: an image pinned by a tag or a digest, \[registry\[:port\]\/\]name:tag or name@sha256:digest, such as "apache\/airflow:3\.1\.3": without either the container runtime pulls "latest", whatever it names on the day a node pulls it\. Add the tag \(or the digest\) of the build you tested: "registry\.example\.com\/team\/airflow:<tag>"\.$/],
  ['secrets bootstrap image without a tag', () => new AirflowChart(Testing.app(), 'airflow', { secretsBootstrapImage: 'python' }),
    /^AirflowSecrets at "airflow\/secrets": property "image" received "python"; allowed: an image pinned by a tag or a digest/],
  ['Redis image without a tag', () => new AirflowChart(Testing.app(), 'airflow', { celery: { redis: { image: 'redis' } } }),
    /^RedisBroker at "airflow\/airflow\/celery\/redis": property "image" received "redis"; allowed: an image pinned by a tag or a digest.* "redis:<tag>"\.$/],
  ['git-sync image without a tag', () => new AirflowChart(Testing.app(), 'airflow', { gitSync: { repository: 'https://github.com/example/dags.git', image: 'registry.k8s.io/git-sync/git-sync' } }),
    /^GitSyncDags at "[^"]+": property "image" received "registry\.k8s\.io\/git-sync\/git-sync"; allowed: an image pinned by a tag or a digest/],
  ['pause image without a tag', () => new AirflowChart(Testing.app(), 'airflow', { prePullImages: true, prePullPauseImage: 'registry.k8s.io/pause' }),
    /^ImagePrePull at "[^"]+": property "pauseImage" received "registry\.k8s\.io\/pause"; allowed: an image pinned by a tag or a digest/],
  // Celery's broker TLS, where synth can see it (docs/celery.md, "A broker of your own")
  ['[celery] ssl_active with the in-cluster Redis', () => new AirflowChart(Testing.app(), 'airflow', { celery: {}, config: { celery: { ssl_active: true } } }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "config\.celery\.ssl_active" received "True"; allowed: false \(or unset\) with the in-cluster broker/],
  ['[celery] ssl_active without ssl_cacert', () => new AirflowChart(Testing.app(), 'airflow', { celery: { externalBroker: { urlSecret: { name: 'broker', key: 'url' } } }, config: { celery: { ssl_active: true } } }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "config\.celery\.ssl_cacert" received undefined; allowed: the path of a CA file mounted in the scheduler and the Celery workers/],
  // Celery autoscaling (docs/celery.md, "Autoscaling")
  ['[celery] keda and hpa at once', () => new AirflowChart(Testing.app(), 'airflow', { celery: { keda: {}, hpa: {} } }),
    /^CeleryWorkers at "airflow\/airflow\/celery": property "hpa" received \{\}; allowed: nothing when "keda" is set: KEDA scales the workers through an HPA of its own/],
  ['[celery] replicas with keda', () => new AirflowChart(Testing.app(), 'airflow', { celery: { keda: {}, replicas: 3 } }),
    /^CeleryWorkers at "airflow\/airflow\/celery": property "replicas" received 3; allowed: nothing with keda: the autoscaler sets the number of worker pods/],
  ['[celery] keda minReplicas above maxReplicas', () => new AirflowChart(Testing.app(), 'airflow', { celery: { keda: { minReplicas: 8, maxReplicas: 4 } } }),
    /^CeleryWorkers at "airflow\/airflow\/celery": property "keda\.minReplicas" received 8; allowed: at most keda\.maxReplicas \(4\)\.$/],
  // Flower (docs/celery.md, "Flower")
  ['[celery] flower without a login', () => new AirflowChart(Testing.app(), 'airflow', { celery: { flower: {} } }),
    /^Flower at "airflow\/airflow\/celery\/flower": property "basicAuthSecret" received undefined; allowed: a Secret key reference \{ name, key \} holding Flower's login "user:password": without one, whoever reaches Flower's port can revoke and kill running tasks/],
  ['[celery] flower login as a value', () => new AirflowChart(Testing.app(), 'airflow', { celery: { flower: { basicAuthSecret: 'admin:hunter2' as never } } }),
    /^Flower at "airflow\/airflow\/celery\/flower": property "basicAuthSecret" received "\(value not shown\)"; allowed: a reference to the Secret key holding "user:password" \(\{ name, key \}\), never the value: it would be in the YAML\./],
  ['[celery] flower login and unauthenticated', () => new AirflowChart(Testing.app(), 'airflow', { celery: { flower: { basicAuthSecret: { name: 'flower', key: 'auth' }, unauthenticated: true } } }),
    /^Flower at "airflow\/airflow\/celery\/flower": property "unauthenticated" received true; allowed: false \(or unset\) with a basicAuthSecret/],
  // PgBouncer (docs/metadata-db.md, "PgBouncer")
  ['[pgbouncer] a pool larger than maxClientConn', () => new AirflowChart(Testing.app(), 'airflow', { pgbouncer: { metadataPoolSize: 50, maxClientConn: 20 } }),
    /^PgBouncer at "airflow\/pgbouncer": property "metadataPoolSize" received 50; allowed: at most maxClientConn \(20\): PgBouncer opens a server connection only for a client/],
  ['[pgbouncer] image without a tag', () => new AirflowChart(Testing.app(), 'airflow', { pgbouncer: { image: 'apache/airflow' } }),
    /^PgBouncer at "airflow\/pgbouncer": property "image" received "apache\/airflow"; allowed: an image pinned by a tag or a digest/],
  ['statsd-exporter image without a tag', () => new StatsdExporter(chart(), 'statsd', { image: 'prom/statsd-exporter' }),
    /^StatsdExporter at "test\/statsd": property "image" received "prom\/statsd-exporter"; allowed: an image pinned by a tag or a digest/],
  ['Airflow version too old', () => new AirflowChart(Testing.app(), 'airflow', { image: 'apache/airflow:2.5.0' }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "airflowVersion" received "2\.5\.0"; allowed: Airflow 3\.x, or Airflow 2\.x from /],
  ['image pull policy in lower case', () => new AirflowChart(Testing.app(), 'airflow', { imagePullPolicy: 'always' }),
    /^AirflowChart at "airflow": property "imagePullPolicy" received "always"; allowed: one of "Always", "IfNotPresent", "Never"\. Did you mean "Always"\?$/],
  ['parallelism zero', () => new AirflowChart(Testing.app(), 'airflow', { parallelism: 0 }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "parallelism" received 0; allowed: a whole number from 1 to 10000\.$/],
  ['pool slots not whole', () => new AirflowChart(Testing.app(), 'airflow', { defaultPoolSlots: 1.5 }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "defaultPoolSlots" received 1\.5; allowed: a whole number from 1 to 10000\.$/],
  ['chart config with a typo', () => new AirflowChart(Testing.app(), 'airflow', { config: { kubernetes_executor: { delete_worker_pod: false } } }),
    /at "airflow\/airflow[^"]*": property "[^"]*kubernetes_executor" received "delete_worker_pod"; allowed: a key of \[kubernetes_executor\] that Airflow 3 defines.* Did you mean "kubernetes_executor\.delete_worker_pods"\?$/],
  ['chart config with a 2.x section on Airflow 3', () => new AirflowChart(Testing.app(), 'airflow', { config: { webserver: { expose_config: true } } }),
    /at "airflow\/airflow[^"]*": property "[^"]*webserver" received "expose_config"; allowed: .* Use "api\.expose_config" instead\.$/],

  ['chart config with an option Airflow marks sensitive', () => new AirflowChart(Testing.app(), 'airflow', { config: { secrets: { backend_kwargs: '{"token": "t0ken"}' } } }),
    /^AirflowConfiguration at "airflow\/airflow\/configuration": property "config\.secrets\.backend_kwargs" received "\(value not shown\)"; allowed: an option that is not a secret: Airflow marks secrets\.backend_kwargs sensitive, and airflow\.cfg is a ConfigMap .* Pass it as the variable AIRFLOW__SECRETS__BACKEND_KWARGS read from a Secret: .*EnvValue\.fromSecret\(\{ name, key \}\) \} \(valueFrom\.secretKeyRef\); or have Airflow fetch it with config \{ secrets: \{ backend_kwargs_cmd: "<command>" \} \} or \{ secrets: \{ backend_kwargs_secret: "<secrets backend key>" \} \} \(AIRFLOW__SECRETS__BACKEND_KWARGS_CMD \/ AIRFLOW__SECRETS__BACKEND_KWARGS_SECRET\)\.$/],
  ['env literal for an option Airflow marks sensitive', () => new AirflowChart(Testing.app(), 'airflow', { env: { AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: EnvValue.fromValue('postgresql://u:pass@h/db') } }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "env\["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"\]" received "\(value not shown\)"; allowed: a reference for "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": it sets database\.sql_alchemy_conn, which Airflow marks sensitive, and a literal puts the secret in the YAML\. Pass it as the variable AIRFLOW__DATABASE__SQL_ALCHEMY_CONN read from a Secret: .*\(valueFrom\.secretKeyRef\)/],
  ['env literal holding a URL with a password', () => new AirflowChart(Testing.app(), 'airflow', { scheduler: { env: { WAREHOUSE_URL: EnvValue.fromValue('postgresql://etl:pass@warehouse/db') } } }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "scheduler\.env\["WAREHOUSE_URL"\]" received "\(value not shown\)"; allowed: a value without credentials: "WAREHOUSE_URL" holds a URL with a password \(scheme:\/\/user:password@host\), which would be in the YAML\. Read the whole value from a Secret with EnvValue\.fromSecret\(\{ name, key \}\) \(valueFrom\.secretKeyRef\), or read the password alone into another variable that way and write \$\(THAT_VARIABLE\) in its place\.$/],
  // MetadataDb
  ['database storage not a quantity', () => new MetadataDb(chart(), 'db', { storageSize: 'lots' }),
    /^MetadataDb at "test\/db": property "storageSize" received "lots"; allowed: a Kubernetes quantity of bytes/],
  ['database CPU request above its limit', () => new MetadataDb(chart(), 'db', { cpuRequest: '2', cpuLimit: '500m' }),
    /^MetadataDb at "test\/db": property "cpuRequest" received "2"; allowed: at most cpuLimit "500m"\.$/],
  ['database memory in GB', () => new MetadataDb(chart(), 'db', { memoryRequest: '1GB' }),
    /^MetadataDb at "test\/db": property "memoryRequest" received "1GB"; allowed: a Kubernetes quantity of bytes.* Did you mean "1Gi"\?$/],
  ['database name prefix with an underscore', () => new MetadataDb(chart(), 'db', { namePrefix: 'airflow_' }),
    /^MetadataDb at "test\/db": property "namePrefix" received "airflow_"; allowed: a DNS-1123 label.* Did you mean "airflow"\?$/],
  ['database image without a tag', () => new MetadataDb(chart(), 'db', { image: 'postgres' }),
    /^MetadataDb at "test\/db": property "image" received "postgres"; allowed: an image pinned by a tag or a digest.* "postgres:<tag>"\.$/],
  ['database image with a space', () => new MetadataDb(chart(), 'db', { image: 'postgres 16' }),
    /^MetadataDb at "test\/db": property "image" received "postgres 16"; allowed: a container image reference/],

  // ExternalMetadataDb: one connection, made by a factory
  ['connection that is not a DatabaseConnection', () =>
    new ExternalMetadataDb(chart(), 'db', { connection: { host: 'db.example.com' } as any }),
    /^ExternalMetadataDb at "test\/db": property "connection" received \{"host":"db\.example\.com"\}; allowed: DatabaseConnection\.postgres\(\{ host, \.\.\. \}\) or DatabaseConnection\.fromUriSecret\(\{ name, key \}\)\.$/],
  ['external database without a host', () => new ExternalMetadataDb(chart(), 'db', { connection: DatabaseConnection.postgres({} as any) }),
    /^ExternalMetadataDb at "test\/db": property "host" received undefined; allowed: the host of the external database, or a "connectionUriSecret" instead\. For a database inside the cluster, use new MetadataDb\(\.\.\.\)\.$/],

  // A component's rollout (DeploymentStrategy)
  ['rolling update that may stop every scheduler at once', () =>
    new AirflowChart(Testing.app(), 'airflow', { scheduler: { replicas: 2, strategy: DeploymentStrategy.rollingUpdate({ maxUnavailable: '100%' }) } }),
    /^AirflowComponent at "airflow\/airflow\/scheduler": property "scheduler\.strategy\.maxUnavailable" received "100%"; allowed: at most 1 \(of replicas: 2\) or a percentage below 100%: a rolling update that may stop every replica at once leaves none running during a rollout\. Keep one running \(maxUnavailable: 1\), or, to stop every replica at once on purpose, say so with DeploymentStrategy\.recreate\(\)\.$/],
  ['rolling update that may neither add nor stop a pod', () =>
    new AirflowChart(Testing.app(), 'airflow', { triggerer: { strategy: DeploymentStrategy.rollingUpdate({ maxSurge: 0, maxUnavailable: 0 }) } }),
    /^AirflowComponent at "airflow\/airflow\/triggerer": property "triggerer\.strategy\.maxUnavailable" received 0; allowed: more than 0 when maxSurge is 0: a rollout that may neither add nor stop a pod never starts \(Kubernetes refuses it\)\. Set maxSurge: 1 \(a new pod first\) or maxUnavailable: 1 \(one old pod stops first\)\.$/],
  ['maxSurge as a number in a string', () =>
    new AirflowChart(Testing.app(), 'airflow', { apiServer: { strategy: DeploymentStrategy.rollingUpdate({ maxSurge: '1' }) } }),
    /^AirflowComponent at "airflow\/airflow\/ui": property "apiServer\.strategy\.maxSurge" received "1"; allowed: a whole number of pods from 0, or a percentage of replicas from "0%" to "100%", such as 1 or "25%"\. Did you mean 1 \(pods\) or "1%"\?$/],
  ['strategy as a plain object', () =>
    new AirflowChart(Testing.app(), 'airflow', { dagProcessor: { strategy: { type: 'Recreate' } as any } }),
    /^AirflowComponent at "airflow\/airflow\/dag-processor": property "dagProcessor\.strategy" received \{"type":"Recreate"\}; allowed: DeploymentStrategy\.rollingUpdate\(\{ maxSurge, maxUnavailable \}\) or DeploymentStrategy\.recreate\(\)\.$/],

  // Per component: the task image, probe timings, containers of your own, your own ServiceAccount (issue #22)
  ['a task image of another Airflow version', () => new AirflowChart(Testing.app(), 'airflow', { worker: { image: 'apache/airflow:3.0.6' } }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "worker\.image" received "apache\/airflow:3\.0\.6"; allowed: an image of the control plane's Airflow, 3\.2\.2 \(the tag names 3\.0\.6\): .* Build the task image FROM apache\/airflow:3\.2\.2 \(or change image to Airflow 3\.0\.6 too\)\.$/],
  ['a probe the component does not have', () => new AirflowChart(Testing.app(), 'airflow', { scheduler: { readinessProbe: { periodSeconds: 10 } } }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "scheduler\.readinessProbe" received \{"periodSeconds":10\}; allowed: nothing: this component has no readiness probe\.$/],
  ['a liveness probe timeout shorter than airflow jobs check takes', () => new AirflowChart(Testing.app(), 'airflow', { triggerer: { livenessProbe: { timeoutSeconds: 5 } } }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "triggerer\.livenessProbe\.timeoutSeconds" received 5; allowed: at least 20: the probe starts a Python process \("airflow jobs check", Celery's ping\); the official chart gives it 20 s, and a probe cut shorter restarts a healthy container\.$/],
  ['a liveness probe that gives up within 30 s', () => new AirflowChart(Testing.app(), 'airflow', { apiServer: { livenessProbe: { periodSeconds: 5, failureThreshold: 3, timeoutSeconds: 5 } } }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "apiServer\.livenessProbe" received \{"periodSeconds":5,"failureThreshold":3\}; allowed: periodSeconds x failureThreshold of at least 30 s \(here 15 s\): /],
  ['a startup probe that gives the UI less than a minute', () => new AirflowChart(Testing.app(), 'airflow', { apiServer: { startupProbe: { periodSeconds: 5, failureThreshold: 6 } } }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "apiServer\.startupProbe" received \{"initialDelaySeconds":0,"periodSeconds":5,"failureThreshold":6\}; allowed: initialDelaySeconds \+ periodSeconds x failureThreshold of at least 60 s \(here 30 s\)/],
  ['an extra container without resources', () =>
    new AirflowChart(Testing.app(), 'airflow', { scheduler: { extraContainers: [{ name: 'proxy', image: 'envoyproxy/envoy:v1.31.0' }] } }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "scheduler\.extraContainers\[0\]\.resources\.requests\.cpu" received undefined; allowed: requests and limits of cpu and memory \(resources: /],
  ['an extra container that may escalate privileges', () =>
    new AirflowChart(Testing.app(), 'airflow', { dagProcessor: { extraInitContainers: [{ ...SMALL_CONTAINER, securityContext: { allowPrivilegeEscalation: true } }] } }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "dagProcessor\.extraInitContainers\[0\]\.securityContext\.allowPrivilegeEscalation" received true; allowed: false: the component's own container has it, and an extra container may be no weaker\. Leave it out to take the component's value\.$/],
  ['an extra container named like the component', () =>
    new AirflowChart(Testing.app(), 'airflow', { triggerer: { extraContainers: [{ ...SMALL_CONTAINER, name: 'triggerer' }] } }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "triggerer\.extraContainers\[0\]\.name" received "triggerer"; allowed: a container name not used in the pod already \(triggerer, wait-for-db, wait-for-airflow-migrations\): Kubernetes refuses two containers of one name\.$/],
  ['a sidecar in the task pods', () => new AirflowChart(Testing.app(), 'airflow', { worker: { extraContainers: [SMALL_CONTAINER] } }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "worker\.extraContainers" received \["proxy"\]; allowed: none: the KubernetesExecutor learns that a task ended from its pod's phase/],
  ['ServiceAccount annotations with a ServiceAccount of your own', () =>
    new AirflowChart(Testing.app(), 'airflow', { scheduler: { existingServiceAccountName: 'airflow-irsa', serviceAccountAnnotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/a' } } }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "scheduler\.serviceAccountAnnotations" received \{.*\}; allowed: none with existingServiceAccountName "airflow-irsa": .* Put them on ServiceAccount "airflow-irsa" yourself, and leave serviceAccountAnnotations out for this component\.$/],
  ['a feature that would annotate a ServiceAccount of your own', () =>
    new AirflowChart(Testing.app(), 'airflow', {
      worker: { existingServiceAccountName: 'airflow-tasks' },
      remoteLogging: RemoteLogging.s3({ bucket: 'logs', region: 'eu-west-1', serviceAccountAnnotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/logs' } }),
    }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "remoteLogging\.serviceAccountAnnotations" received \{.*\}; allowed: none for the worker pods, which run as ServiceAccount "airflow-tasks" \(existingServiceAccountName\): .* Put eks\.amazonaws\.com\/role-arn: arn:aws:iam::1:role\/logs on ServiceAccount "airflow-tasks" yourself, /],

  ['OpenShift with hostPath volumes', () => new AirflowChart(Testing.app(), 'airflow', { openShift: true }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "openShift" received true; allowed: volumes from a StorageClass \(provisioning: StorageProvisioning\.storageClass\(\.\.\.\)\): OpenShift's restricted SCC allows no hostPath volume, so no pod of the chart would be admitted\. Give the chart a StorageClass/],
  ['OpenShift with the root volume-permissions Job', () =>
    new AirflowChart(Testing.app(), 'airflow', { openShift: true, provisioning: StorageProvisioning.storageClass('gp3-csi'), fixVolumePermissions: true }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "fixVolumePermissions" received true; allowed: false or unset with openShift: the Job runs as root with the CHOWN and FOWNER capabilities, which the restricted SCC refuses\. /],

  // AirflowSecrets, AirflowNetworkPolicies
  ['Secret name in upper case', () => new AirflowSecrets(chart(), 'secrets', { secretName: 'Airflow_Secrets' }),
    /^AirflowSecrets at "test\/secrets": property "secretName" received "Airflow_Secrets"; allowed: a DNS-1123 subdomain.* Did you mean "airflow-secrets"\?$/],
  ['database port out of range', () => new AirflowNetworkPolicies(chart(), 'net', { databasePort: 0 }),
    /^AirflowNetworkPolicies at "test\/net": property "databasePort" received 0; allowed: a whole number from 1 to 65535\.$/],
  ['NetworkPolicy CIDR without a prefix length', () => new AirflowNetworkPolicies(chart(), 'net', { kubernetesApiCidrs: ['10.0.0.1'] }),
    /^AirflowNetworkPolicies at "test\/net": property "kubernetesApiCidrs\[0\]" received "10\.0\.0\.1"; allowed: an IPv4 or IPv6 CIDR such as "10\.0\.0\.0\/16" or "192\.0\.2\.10\/32"\.$/],
  ['NetworkPolicy peer without a selector or ipBlock', () => new AirflowNetworkPolicies(chart(), 'net', { apiServerSources: [{}] }),
    /^AirflowNetworkPolicies at "test\/net": property "apiServerSources\[0\]" received \{\}; allowed: a NetworkPolicy peer with a podSelector, a namespaceSelector or an ipBlock \(\{ namespaceSelector: \{\} \} for every namespace\)\.$/],
  ['git CIDRs without gitSync', () => new AirflowNetworkPolicies(chart(), 'net', { gitCidrs: ['10.0.0.0/8'] }),
    /^AirflowNetworkPolicies at "test\/net": property "gitCidrs" received \["10\.0\.0\.0\/8"\]; allowed: unset without gitSync: nothing would use the rule\. Turn gitSync on, or leave gitCidrs out\.$/],
  ['networkPolicyOptions without networkPolicies', () => new AirflowChart(Testing.app(), 'airflow', { networkPolicyOptions: { taskEgress: [] } }),
    /^AirflowChart at "airflow": property "networkPolicyOptions" received \{"taskEgress":\[\]\}; allowed: unset unless networkPolicies is true: there are no NetworkPolicies to shape\. Set networkPolicies: true, or leave networkPolicyOptions out\.$/],
  ['databaseCleanup schedule of 4 fields', () => new AirflowChart(Testing.app(), 'airflow', { databaseCleanup: { schedule: '0 0 * *' } }),
    /^DatabaseCleanup at "airflow\/airflow\/database-cleanup": property "databaseCleanup\.schedule" received "0 0 \* \*"; allowed: a cron expression of 5 fields .*; this one has 4 field\(s\) instead of 5/],
  ['databaseCleanup table of Airflow 2 on Airflow 3', () => new AirflowChart(Testing.app(), 'airflow', { databaseCleanup: { tables: ['task_fail'] } }),
    /^DatabaseCleanup at "airflow\/airflow\/database-cleanup": property "databaseCleanup\.tables\[0\]" received "task_fail"; allowed: a table "airflow db clean" knows on Airflow 3\.2\.2: job, dag, dag_run, asset_event/],
  ['databaseCleanup retention of 0 days', () => new AirflowChart(Testing.app(), 'airflow', { databaseCleanup: { retentionDays: 0 } }),
    /^DatabaseCleanup at "airflow\/airflow\/database-cleanup": property "databaseCleanup\.retentionDays" received 0; allowed: a whole number from 1 to 36500/],
  ['Elasticsearch URL with credentials as a literal', () => new AirflowChart(Testing.app(), 'airflow', { remoteLogging: RemoteLogging.elasticsearch({ host: 'https://elastic:pw@es.example.com:9200' }) }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "remoteLogging\.host" received "\(a URL with credentials\)"; allowed: a URL without credentials: the host is written into airflow\.cfg, a ConfigMap\. Put the URL with its credentials in a Secret and give hostSecret: \{ name, key \}\.$/],
  ['dagBundles on Airflow 2', () => new AirflowChart(Testing.app(), 'airflow', { image: 'apache/airflow:2.11.0', dagBundles: [{ name: 'team-dags', repoUrl: 'https://github.com/example-org/dags.git', trackingRef: 'main' }] }),
    /^KubernetesExecutorAirflow at "airflow\/airflow": property "dagBundles" received \["team-dags"\]; allowed: unset on Airflow 2\.11\.0: DAG bundles \(\[dag_processor\] dag_bundle_config_list\) exist from Airflow 3\.0\. Use gitSync on Airflow 2\.$/],
  // Login and local settings (issue #22)
  ['an OAuth provider without its client secret', () => new AirflowChart(Testing.app(), 'airflow', { auth: { oauth: [OAuthProvider.google({ clientId: 'airflow' } as any)] } }),
    /^AirflowAuth at "airflow\/airflow\/auth": property "oauth\[0\]\.clientSecret" received undefined; allowed: a reference to the Secret key holding the client secret: \{ name: "my-secret", key: "client-secret" \}\.$/],
  ['an OAuth client secret as a value', () => new AirflowChart(Testing.app(), 'airflow', { auth: { oauth: [OAuthProvider.github({ clientId: 'Iv1.abc', clientSecret: 'ghs_secret' } as any)] } }),
    /^AirflowAuth at "airflow\/airflow\/auth": property "oauth\[0\]\.clientSecret" received "ghs_secret"; allowed: a reference to a Secret key: \{ name: "my-secret", key: "my-key" \}\.$/],
  ['LDAP without TLS', () => new AirflowChart(Testing.app(), 'airflow', { auth: { ldap: { uri: 'ldap://ldap.example.com' } } }),
    /^AirflowAuth at "airflow\/airflow\/auth": property "ldap\.uri" received "ldap:\/\/ldap\.example\.com"; allowed: ldaps:\/\/, or ldap:\/\/ with startTls: true: every login sends the user's password to the server, in clear over plain ldap:\/\/\. Use "ldaps:\/\/ldap\.example\.com" or set startTls: true\.$/],
  ['a role FAB does not know in the role mapping', () => new AirflowChart(Testing.app(), 'airflow', { auth: { oauth: [OAuthProvider.okta({ clientId: 'airflow', clientSecret: { name: 'sso', key: 'okta' }, domain: 'example.okta.com' })], rolesMapping: { admins: ['Administrator'] } } }),
    /^AirflowAuth at "airflow\/airflow\/auth": property "rolesMapping\["admins"\]\[0\]" received "Administrator"; allowed: a role FAB knows: "Admin", "Op", "User", "Viewer", "Public"\. Declare a role created in the UI in customRoles\.$/],
  ['a role mapping Google never applies', () => new AirflowChart(Testing.app(), 'airflow', { auth: { oauth: [OAuthProvider.google({ clientId: 'airflow', clientSecret: { name: 'sso', key: 'google' } })], rolesMapping: { admins: ['Admin'] } } }),
    /^AirflowAuth at "airflow\/airflow\/auth": property "rolesMapping" received \{"admins":\["Admin"\]\}; allowed: unset with only Google and GitHub: FAB reads no groups from them \(no role keys\), so the mapping would never apply\. .*$/],
  ['identity provider CIDRs without auth', () => new AirflowNetworkPolicies(chart(), 'net', { identityProviderCidrs: ['192.0.2.0/24'] }),
    /^AirflowNetworkPolicies at "test\/net": property "identityProviderCidrs" received \["192\.0\.2\.0\/24"\]; allowed: unset without auth: nothing would use the rule\. Turn auth on, or leave identityProviderCidrs out\.$/],
  ['empty local settings', () => new AirflowChart(Testing.app(), 'airflow', { airflowLocalSettings: '' }),
    /^AirflowLocalSettings at "airflow\/airflow\/local-settings": property "airflowLocalSettings" received ""; allowed: the Python source of airflow_local_settings\.py, such as .*$/],
  ['a first user with a role FAB does not create', () => new AirflowChart(Testing.app(), 'airflow', { adminRole: 'Superuser' }),
    /^AdminUser at "airflow\/airflow\/admin-user": property "role" received "Superuser"; allowed: one of "Admin", "Op", "User", "Viewer", "Public"\.$/],
];

describe('bad inputs', () => {
  test('the table has at least 30 rows, each a different message', () => {
    expect(rows.length).toBeGreaterThanOrEqual(30);
    expect(new Set(rows.map(([name]) => name)).size).toBe(rows.length);
  });

  test.each(rows)('%s', (_name, build, message) => {
    const error = validationError(build, undefined, message);
    // Every message has the one shape: construct, path, property, received, allowed.
    expect(error.message).toMatch(/^\w+ at "[^"]+": property "(?:[^"]|\["[^"]+"\])+" received .+; allowed: .+\./);
  });
});
