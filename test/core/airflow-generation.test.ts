// AirflowVersion, image references and the UI's paths per generation (lib/core/airflow-generation.ts).
import { AirflowGeneration, AirflowVersion } from '../../lib';
import { parseImageReference } from '../../lib/core/airflow-generation';

describe('AirflowVersion', () => {
  test.each([
    ['apache/airflow:3.1.3', '3.1.3'],
    ['apache/airflow:3.1.3-python3.12', '3.1.3'],
    ['apache/airflow:slim-2.11.0-python3.11', '2.11.0'],
    ['localhost:5000/team/airflow:2.10.5', '2.10.5'],
    ['my-airflow:latest', undefined],
    ['my-airflow', undefined],
    [`apache/airflow@sha256:${'b'.repeat(64)}`, undefined],
  ])('%s -> %s', (image, version) => {
    expect(AirflowVersion.fromImage(image)?.toString()).toBe(version);
  });

  test('of() rejects what is not major.minor.patch', () => {
    expect(() => AirflowVersion.of('3')).toThrow(/property "version" received "3"/);
    expect(AirflowVersion.of('2.11.0').slug).toBe('2-11-0');
    expect(AirflowVersion.of('3.0.0').isAtLeast(AirflowVersion.of('2.11.9'))).toBe(true);
  });

  test('parseImageReference splits registry ports from tags', () => {
    expect(parseImageReference('localhost:5000/airflow:3.1.3')).toEqual({ repository: 'localhost:5000/airflow', tag: '3.1.3', digest: undefined });
    expect(parseImageReference('localhost:5000/airflow')).toEqual({ repository: 'localhost:5000/airflow', tag: undefined, digest: undefined });
  });
});

describe("the UI's health paths under the path it is served at", () => {
  test.each([
    [AirflowGeneration.AIRFLOW_3, '/api/v2/monitor/health', '/api/v2/version', '/execution/health', true],
    [AirflowGeneration.AIRFLOW_2, '/health', '/health', '/health', false],
  ])('%s', (generation, health, liveness, startup, outside) => {
    expect([generation.uiHealthPathUnder(''), generation.uiLivenessPathUnder(''), generation.uiStartupPathUnder('')]).toEqual([health, liveness, startup]);
    expect([generation.uiHealthPathUnder('/airflow'), generation.uiLivenessPathUnder('/airflow'), generation.uiStartupPathUnder('/airflow')]).toEqual([
      `/airflow${health}`,
      `/airflow${liveness}`,
      `/airflow${startup}`,
    ]);
    // Airflow 2's webserver answers 404 outside [webserver] base_url's path; Airflow 3's api-server answers both
    expect(generation.uiAnswersOutsideBasePath).toBe(outside);
  });
});
