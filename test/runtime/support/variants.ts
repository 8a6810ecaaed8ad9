// The charts the runtime stage runs, synthesized fresh from lib/ (through the package's entry point only).
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import {
  AirflowChart,
  AirflowChartProps,
  AirflowNamespace,
  AirflowSecrets,
  AirflowVolumes,
  DEFAULT_AIRFLOW_IMAGE,
  EnvValue,
  KubernetesExecutorAirflow,
  MetadataDb,
  OAuthProvider,
  PodVolume,
} from '../../../lib';
import * as k8s from '../../../imports/k8s';
import { Variant } from './chain';

/**
 * The default chart, as main.ts synthesizes it (id `airflow`, namespace `airflow`), with optional props: with
 * `namespace`, its PersistentVolumes are `<namespace>-*-volume` under /data/<namespace> (AirflowChart's namePrefix
 * and hostRoot defaults), so that its suite shares nothing with another one's (two files at once on the real node).
 */
export function defaultChart(props: AirflowChartProps = {}): Variant {
  const chart = new AirflowChart(Testing.app(), 'airflow', props);
  return {
    id: 'default',
    title: `the default chart (AirflowChart, namespace ${chart.namespace})`,
    objects: Testing.synth(chart),
  };
}

/**
 * The host folder of a chart's static volumes (`/data`, `/data/<namespace>` in a namespace other than airflow), read
 * from its dags volume: a suite's own host folders (Authlib, the Git repository) go under it, beside the chart's.
 */
function hostRootOf(chart: AirflowChart): string {
  return path.posix.dirname(chart.volumes.get('dags').storage!.hostPath!);
}

/**
 * The constructs composed by hand in namespace team-a, with the Secret named data-team-airflow (the README's
 * "use the constructs in your own chart" way), exactly as issue #11 reported it: MetadataDb and the control
 * plane are given no secret references and find the chart's AirflowSecrets themselves.
 */
export function teamAChart(): Variant {
  const chart = new Chart(Testing.app(), 'team-a', { namespace: 'team-a', disableResourceNameHashes: true });
  new AirflowNamespace(chart, 'namespace');
  const volumes = new AirflowVolumes(chart, 'volumes');
  new AirflowSecrets(chart, 'secrets', { secretName: 'data-team-airflow' });
  const database = new MetadataDb(chart, 'db');
  new KubernetesExecutorAirflow(chart, 'airflow', { volumes, database });
  return {
    id: 'team-a',
    title: 'constructs composed by hand in namespace team-a, Secret data-team-airflow, no secret references passed',
    objects: Testing.synth(chart),
  };
}

/** The default chart with Celery workers and their Redis broker (hybrid executors, docs/celery.md). */
export function celeryChart(props: AirflowChartProps = {}): Variant {
  return {
    id: 'celery',
    title: 'the default chart with celery: {} (Redis, one Celery worker; KubernetesExecutor,CeleryExecutor)',
    objects: Testing.synth(new AirflowChart(Testing.app(), 'airflow', { celery: {}, ...props })),
  };
}

/** The label and annotation the runtime's `pod_mutation_hook` puts on every task pod (ingressAuthChart). */
export const MUTATION_LABEL = 'airflow-cdk8s/mutated-by';
export const MUTATION_ANNOTATION = 'airflow-cdk8s/pod-mutation-hook';

/**
 * Where the api-server of ingressAuthChart finds Authlib, which FAB's OAuth login imports and the trixie
 * root lacks: Debian's python3-authlib, unpacked under the kubelet's node folder (the claim's hostPath,
 * `<hostRoot>/authlib`: `authlibHostPath` of the variant), as an image that ships it would have it (the
 * official image's OAuth extras do).
 */
export const AUTHLIB_PYTHONPATH = '/opt/authlib/usr/lib/python3/dist-packages';

/**
 * The default chart behind an Ingress on a sub-path that terminates TLS (`ingress: { host: 'airflow.local', path:
 * '/airflow', tlsSecretName: 'airflow-local-tls' }`: `[api] base_url` https://airflow.local/airflow, the api-server's
 * probes and the execution API URL under /airflow, FAB's proxy fix for X-Forwarded-Proto) with `airflowLocalSettings`
 * (a pod_mutation_hook that labels and annotates every task pod) and `auth` (OAuth: GitHub and a generic OpenID
 * Connect provider), the client secret in a Secret of the test's own (a dummy value: the stage has no identity
 * provider), and Authlib given to the api-server through a claim. The runtime stage has no Ingress controller: the
 * tests reach the Service directly, under the path the Ingress would forward. In `namespace` (its Authlib folder
 * under the chart's host folder, /data/<namespace>/authlib outside namespace airflow).
 */
export function ingressAuthChart(namespace = 'airflow'): Variant & { readonly authlibHostPath: string } {
  const chart = new AirflowChart(Testing.app(), 'airflow', {
    namespace,
    // TLS at the Ingress: the UI's URL is https, and FAB trusts the Ingress's X-Forwarded-Proto (the stage has no
    // Ingress controller, so the Secret is never read: the tests send the header an Ingress would).
    ingress: { host: 'airflow.local', path: '/airflow', tlsSecretName: 'airflow-local-tls' },
    airflowLocalSettings: [
      'def pod_mutation_hook(pod):',
      `    pod.metadata.labels = {**(pod.metadata.labels or {}), "${MUTATION_LABEL}": "airflow-local-settings"}`,
      `    pod.metadata.annotations = {**(pod.metadata.annotations or {}), "${MUTATION_ANNOTATION}": "ran in " + __name__}`,
      '',
    ].join('\n'),
    auth: {
      oauth: [
        OAuthProvider.github({ clientId: 'Iv1.runtime0client', clientSecret: { name: 'oauth-client', key: 'github' } }),
        OAuthProvider.generic({ name: 'corp-sso', clientId: 'airflow', clientSecret: { name: 'oauth-client', key: 'corp-sso' }, issuerUrl: 'https://sso.example.com/realms/corp' }),
      ],
    },
    apiServer: {
      extraVolumes: [PodVolume.existingClaim('authlib', { claimName: 'authlib-claim', mountPath: '/opt/authlib', readOnly: true })],
      env: { PYTHONPATH: EnvValue.fromValue(AUTHLIB_PYTHONPATH) },
    },
  });
  // The chart's rule for what is cluster-scoped: its PersistentVolume is `<namePrefix>-authlib-volume`, its folder under
  // the chart's host folder.
  const authlibHostPath = `${hostRootOf(chart)}/authlib`;
  const authlibVolume = `${chart.volumes.namePrefix}-authlib-volume`;
  new k8s.KubeSecret(chart, 'oauth-client', {
    metadata: { name: 'oauth-client' },
    stringData: { 'github': 'runtime-dummy-github-secret', 'corp-sso': 'runtime-dummy-sso-secret' },
  });
  new k8s.KubePersistentVolume(chart, 'authlib-volume', {
    metadata: { name: authlibVolume },
    spec: {
      capacity: { storage: k8s.Quantity.fromString('1Mi') },
      accessModes: ['ReadOnlyMany'],
      storageClassName: 'authlib-static',
      persistentVolumeReclaimPolicy: 'Retain',
      hostPath: { path: authlibHostPath, type: 'Directory' },
      claimRef: { name: 'authlib-claim', namespace: chart.namespace },
    },
  });
  new k8s.KubePersistentVolumeClaim(chart, 'authlib-claim', {
    metadata: { name: 'authlib-claim' },
    spec: {
      accessModes: ['ReadOnlyMany'],
      storageClassName: 'authlib-static',
      volumeName: authlibVolume,
      resources: { requests: { storage: k8s.Quantity.fromString('1Mi') } },
    },
  });
  return {
    id: 'ingress-sub-path',
    title: "the default chart with ingress: { host: 'airflow.local', path: '/airflow' } (reached through the Service, no Ingress controller), airflowLocalSettings (a pod_mutation_hook) and auth (OAuth: GitHub, a generic OpenID Connect provider)",
    objects: Testing.synth(chart),
    authlibHostPath,
  };
}

/**
 * The Git server of dagBundlesChart: `git daemon` in a pod of the chart's image, the bare repository on a hostPath
 * (`<hostRoot>/git`: `gitHostPath` of the variant).
 */
export const GIT_REPO = 'dags.git';
export const GIT_SERVICE = 'airflow-git-server';
export const DAG_BUNDLE_NAME = 'runtime-dags';

/**
 * The default chart with `dagBundles`: one GitDagBundle following `main` of a repository served by `git daemon`
 * (git://, port 9418) from a pod of the chart's own image (the root has Debian's git), the bare repository on the
 * node (`gitHostPath`: /data/<namespace>/git outside namespace airflow, filled by the test). The connection comes
 * from a Secret of the test's own, its host the Service's git:// URL in `namespace` (`gitUrl`; `repoUrl` refuses
 * git://, which does not authenticate the server; a connection's host is the user's to choose).
 */
export function dagBundlesChart(namespace = 'airflow'): Variant & { readonly gitHostPath: string; readonly gitUrl: string } {
  const chart = new AirflowChart(Testing.app(), 'airflow', {
    namespace,
    dagBundles: [{ name: DAG_BUNDLE_NAME, trackingRef: 'main', subdir: 'dags', connectionSecret: { name: 'git-dags', key: 'connection' } }],
  });
  const labels = { 'app.kubernetes.io/name': GIT_SERVICE };
  const gitHostPath = `${hostRootOf(chart)}/git`;
  const gitUrl = `git://${GIT_SERVICE}.${chart.namespace}.svc.cluster.local:9418/${GIT_REPO}`;
  new k8s.KubeSecret(chart, 'git-dags', {
    metadata: { name: 'git-dags' },
    stringData: { connection: JSON.stringify({ conn_type: 'git', host: gitUrl }) },
  });
  new k8s.KubeDeployment(chart, 'git-server', {
    metadata: { name: GIT_SERVICE, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          securityContext: { runAsUser: 50000, runAsGroup: 0, runAsNonRoot: true },
          containers: [{
            name: 'git-daemon',
            image: DEFAULT_AIRFLOW_IMAGE,
            command: ['git', 'daemon', '--reuseaddr', '--export-all', '--base-path=/srv/git', '--listen=0.0.0.0', '--port=9418', '--verbose', '/srv/git'],
            ports: [{ name: 'git', containerPort: 9418 }],
            readinessProbe: { tcpSocket: { port: k8s.IntOrString.fromNumber(9418) }, periodSeconds: 2 },
            resources: { requests: { cpu: k8s.Quantity.fromString('50m'), memory: k8s.Quantity.fromString('32Mi') }, limits: { memory: k8s.Quantity.fromString('128Mi') } },
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            volumeMounts: [{ name: 'repos', mountPath: '/srv/git', readOnly: true }],
          }],
          volumes: [{ name: 'repos', hostPath: { path: gitHostPath, type: 'Directory' } }],
        },
      },
    },
  });
  new k8s.KubeService(chart, 'git-service', {
    metadata: { name: GIT_SERVICE, labels },
    spec: { selector: labels, ports: [{ name: 'git', port: 9418, targetPort: k8s.IntOrString.fromNumber(9418) }] },
  });
  return {
    id: 'dag-bundles',
    title: `the default chart with dagBundles: a GitDagBundle (${DAG_BUNDLE_NAME}, main, subdir dags) from git daemon in the namespace`,
    objects: Testing.synth(chart),
    gitHostPath,
    gitUrl,
  };
}

/**
 * What of a chart lies outside its own namespace `namespace` (issue #25 item 3: two suites run side by side on
 * the machine's /data only if their charts share nothing): objects of another namespace, cluster-scoped objects (the
 * PersistentVolumes) not named `<namespace>-...`, host folders not under /data/<namespace>/. Empty for a chart of
 * its own.
 */
export function outsideOwnNamespace(variant: Variant, namespace: string): string[] {
  const out: string[] = [];
  const hostPaths = (o: any, where: string): void => {
    if (Array.isArray(o)) o.forEach((x) => hostPaths(x, where));
    else if (o && typeof o === 'object') {
      const p = o.hostPath?.path;
      if (typeof p === 'string' && !p.startsWith(`/data/${namespace}/`)) out.push(`${where}: hostPath ${p}`);
      Object.values(o).forEach((v) => hostPaths(v, where));
    }
  };
  for (const o of variant.objects) {
    const where = `${o.kind} ${o.metadata.name}`;
    if (o.kind === 'Namespace') {
      if (o.metadata.name !== namespace) out.push(where);
    } else if (o.metadata.namespace === undefined) {
      if (!o.metadata.name.startsWith(`${namespace}-`)) out.push(`${where} (cluster-scoped)`);
    } else if (o.metadata.namespace !== namespace) {
      out.push(`${where} in namespace ${o.metadata.namespace}`);
    }
    hostPaths(o, where);
  }
  return out;
}
