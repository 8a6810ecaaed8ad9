// The default YAML and a chart with every feature, against the newest Kubernetes schemas an npm package ships
// (kubernetes-models 5.1.0: Kubernetes 1.36.0), for fields and API versions removed or deprecated since the 1.28
// schemas the library validates with. docs/airflow.md, "Kubernetes versions", gives the resulting table.
import { Testing } from 'cdk8s';
import { parse } from 'yaml';
import { AirflowChart, AirflowChartProps, GitSyncCredentials, GitSyncMode, RemoteLogging } from '../../lib';
import { EVERYTHING } from '../support/everything';
import { NEWEST_SCHEMA_KUBERNETES_VERSION, REMOVED_API_VERSIONS, SERVED_SINCE, newestSchemaProblems } from '../support/k8s-newest-schema';

/** Every feature at once: every pod option (EVERYTHING), git-sync, remote logging, log retention, metrics, Celery, NetworkPolicies, image pre-pull. */
const EVERY_FEATURE: AirflowChartProps = {
  ...EVERYTHING,
  gitSync: {
    repository: 'https://github.com/org/dags.git',
    branch: 'main',
    mode: GitSyncMode.SIDECARS,
    credentials: GitSyncCredentials.https({ passwordSecret: { name: 'dags-repo', key: 'token' } }),
  },
  remoteLogging: RemoteLogging.s3({ bucket: 'team-airflow-logs', region: 'eu-west-1', connectionId: 'aws_logs', connectionSecret: { name: 'airflow-logs-connection', key: 'uri' } }),
  logRetentionDays: 30,
  metrics: true,
  celery: { replicas: 2 },
  networkPolicies: true,
  prePullImages: true,
};

const objectsOf = (props: AirflowChartProps): any[] => {
  const objects = Testing.synth(new AirflowChart(Testing.app(), 'airflow', props));
  const embedded = objects
    .filter((o) => o.kind === 'ConfigMap' && o.data?.['pod_template_file.yaml'])
    .map((o) => parse(o.data['pod_template_file.yaml']));
  return [...objects, ...embedded];
};
const kinds = (objects: any[]) => [...new Set(objects.map((o) => `${o.apiVersion} ${o.kind}`))].sort();
const problemsOf = (objects: any[]) =>
  objects.flatMap((o) => newestSchemaProblems(o).map((p) => `${o.kind} ${o.metadata?.name}: ${p.field}: ${p.message}`));
const oldestServing = (objects: any[]) =>
  kinds(objects)
    .map((k) => SERVED_SINCE[k])
    .reduce((a, b) => (Number(b.split('.')[1]) > Number(a.split('.')[1]) ? b : a), '1.0');

describe(`the newest Kubernetes schemas on npm (kubernetes-models 5.1.0: Kubernetes ${NEWEST_SCHEMA_KUBERNETES_VERSION})`, () => {
  test('the default chart: no field 1.36 lacks or deprecates, no removed API version; its API versions are all served from 1.9 on', () => {
    const objects = objectsOf({});
    expect(problemsOf(objects)).toEqual([]);
    expect(kinds(objects).filter((k) => REMOVED_API_VERSIONS[k])).toEqual([]);
    expect(kinds(objects).filter((k) => !SERVED_SINCE[k])).toEqual([]);
    expect(oldestServing(objects)).toBe('1.9');
  });

  test('a chart with every feature: the same; its PodDisruptionBudgets (policy/v1) need 1.21, which the 1.20 stages lack', () => {
    const objects = objectsOf(EVERY_FEATURE);
    expect(problemsOf(objects)).toEqual([]);
    expect(kinds(objects).filter((k) => REMOVED_API_VERSIONS[k])).toEqual([]);
    expect(kinds(objects).filter((k) => !SERVED_SINCE[k])).toEqual([]);
    expect(kinds(objects)).toEqual(expect.arrayContaining(['policy/v1 PodDisruptionBudget', 'networking.k8s.io/v1 NetworkPolicy', 'networking.k8s.io/v1 Ingress', 'apps/v1 DaemonSet']));
    expect(kinds(objects)).not.toContain('batch/v1 CronJob');
    expect(oldestServing(objects)).toBe('1.21');
  });

  test('the check finds what it looks for: a removed field, a deprecated field, a value outside an enum, an unknown kind', () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { serviceAccount: 'sa', containers: [{ name: 'c', imagePullPolicy: 'Sometimes', volumeMountz: [] }] },
    };
    expect(newestSchemaProblems(pod)).toEqual([
      { field: 'spec.serviceAccount', message: expect.stringMatching(/^deprecated in Kubernetes 1\.36: DeprecatedServiceAccount is a deprecated alias for ServiceAccountName/) },
      { field: 'spec.containers[0].imagePullPolicy', message: 'received "Sometimes"; Kubernetes 1.36 allows "Always", "IfNotPresent", "Never"' },
      { field: 'spec.containers[0].volumeMountz', message: 'not a field of the Kubernetes 1.36 schema' },
    ]);
    // Through the kinds' references: a Deployment's pod template, a NetworkPolicy's peers.
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', spec: { selector: {}, template: { spec: { containers: [{ name: 'c', resourcez: {} }] } } } };
    expect(newestSchemaProblems(deployment)).toEqual([{ field: 'spec.template.spec.containers[0].resourcez', message: 'not a field of the Kubernetes 1.36 schema' }]);
    const policy = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { labelz: {} }, spec: { podSelector: {}, egress: [{ to: [{ ipBlok: {} }] }] } };
    expect(newestSchemaProblems(policy).map((p) => p.field)).toEqual(['metadata.labelz', 'spec.egress[0].to[0].ipBlok']);
    expect(newestSchemaProblems({ apiVersion: 'example.com/v1', kind: 'Widget' })).toEqual([
      { field: 'kind', message: 'example.com/v1 Widget is not a kind of the Kubernetes 1.36 schemas' },
    ]);
    // The package keeps the models of removed API versions: the removal table says what a 1.36 cluster refuses.
    expect(newestSchemaProblems({ apiVersion: 'policy/v1beta1', kind: 'PodDisruptionBudget' })).toEqual([]);
    expect(REMOVED_API_VERSIONS['policy/v1beta1 PodDisruptionBudget']).toEqual({ removedIn: '1.25', use: 'policy/v1 (from 1.21)' });
  });
});
