// A chart with every pod option of issue #13 set: used by the unit tests (test/pod-options.test.ts) and by the
// live tests' server-side dry run.
import { AirflowChartProps, EnvFrom, EnvValue, PodVolume } from '../../lib';

/** Every pod option, chart-wide and per component, the UI's Service and an Ingress. */
export const EVERYTHING: AirflowChartProps = {
  imagePullSecrets: ['regcred'],
  nodeSelector: { 'node-pool': 'airflow' },
  tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'airflow', effect: 'NoSchedule' }],
  affinity: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/arch', operator: 'In', values: ['amd64'] }] }],
      },
    },
  },
  topologySpreadConstraints: [
    { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { team: 'data' } } },
  ],
  priorityClassName: 'airflow-critical',
  podLabels: { team: 'data' },
  podAnnotations: { 'example.com/owner': 'data-team' },
  env: { TZ: EnvValue.fromValue('Europe/Paris'), TEAM_API_TOKEN: EnvValue.fromSecret({ name: 'team-api', key: 'token' }) },
  envFrom: [EnvFrom.configMap('team-env')],
  extraVolumes: [PodVolume.secret('team-certs', { secretName: 'team-certs', mountPath: '/opt/certs' })],
  serviceAccountAnnotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/airflow' },
  clusterDomain: 'corp.local',
  scheduler: { replicas: 2, resources: { memoryLimit: '2Gi' }, podLabels: { role: 'scheduler' } },
  apiServer: {
    replicas: 2,
    nodeSelector: { 'node-pool': 'web' },
    serviceType: 'LoadBalancer',
    serviceAnnotations: { 'service.beta.kubernetes.io/aws-load-balancer-internal': 'true' },
  },
  dagProcessor: { resources: { cpuRequest: '200m' } },
  triggerer: { replicas: 2 },
  worker: { resources: { memoryRequest: '512Mi' }, tolerations: [{ key: 'spot', operator: 'Exists', effect: 'NoSchedule' }] },
  migrations: { resources: { memoryLimit: '2Gi' } },
  ingress: { host: 'airflow.example.com', path: '/airflow', className: 'nginx', tlsSecretName: 'airflow-tls' },
};
