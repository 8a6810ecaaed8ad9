// Pod Security Standards helpers (lib/security/pod-security.ts): the namespace labels and the level a pod meets.
import { MetadataDb, PodSecurityLevel, podSecurityLabels, airflowContainerSecurityContext, airflowPodSecurityContext } from '../../lib';
import { podSecurityLevelOf, podSecurityViolations } from '../../lib/security/pod-security';
import { podsOf, synthIn } from '../support';
import { isPostgresPod } from '../support/pod-checks';

const airflowContainer = () => ({ name: 'scheduler', image: 'apache/airflow:3.1.3', securityContext: airflowContainerSecurityContext() });

describe('Pod Security Standards helpers', () => {
  test('podSecurityLabels: enforce the given level, warn at it and audit restricted by default', () => {
    expect(podSecurityLabels({ enforce: PodSecurityLevel.BASELINE })).toEqual({
      'pod-security.kubernetes.io/enforce': 'baseline',
      'pod-security.kubernetes.io/warn': 'baseline',
      'pod-security.kubernetes.io/audit': 'restricted',
    });
    expect(podSecurityLabels({ enforce: PodSecurityLevel.RESTRICTED, warn: PodSecurityLevel.BASELINE, version: 'v1.28' })).toEqual({
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/enforce-version': 'v1.28',
      'pod-security.kubernetes.io/warn': 'baseline',
      'pod-security.kubernetes.io/warn-version': 'v1.28',
      'pod-security.kubernetes.io/audit': 'restricted',
      'pod-security.kubernetes.io/audit-version': 'v1.28',
    });
  });

  test('podSecurityLevelOf: the Airflow pod is restricted, the Postgres pod baseline, a privileged pod privileged', () => {
    const airflowPod = { securityContext: airflowPodSecurityContext(), containers: [airflowContainer()] };
    expect(podSecurityLevelOf(airflowPod)).toBe(PodSecurityLevel.RESTRICTED);
    const postgres = podsOf(synthIn((c) => new MetadataDb(c, 'db', { passwordSecret: { name: 'pg', key: 'password' } })).objects).find(isPostgresPod)!;
    expect(podSecurityLevelOf(postgres.spec)).toBe(PodSecurityLevel.BASELINE);
    expect(podSecurityLevelOf({ containers: [{ name: 'x', securityContext: { privileged: true } }] })).toBe(PodSecurityLevel.PRIVILEGED);
    expect(podSecurityLevelOf({ hostNetwork: true, containers: [] })).toBe(PodSecurityLevel.PRIVILEGED);
    expect(podSecurityLevelOf({ volumes: [{ name: 'h', hostPath: { path: '/data' } }], containers: [] })).toBe(PodSecurityLevel.PRIVILEGED);
    expect(podSecurityViolations({ ...airflowPod, volumes: [{ name: 'd', gitRepo: {} }] }, PodSecurityLevel.RESTRICTED)).toEqual([
      'volume "d" has type gitRepo (restricted allows configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected, secret)',
    ]);
  });
});
