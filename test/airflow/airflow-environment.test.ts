import { Testing } from 'cdk8s';
import { AirflowGeneration, AirflowSecrets, AirflowVersion, MetadataDb, RemoteLogging } from '../../lib';
import { airflowEnvironment } from '../../lib/airflow/airflow-environment';
import { testChart } from '../support';

function environment(version: string, remote = false) {
  const chart = testChart();
  const secrets = new AirflowSecrets(chart, 'secrets');
  const database = new MetadataDb(chart, 'db', { passwordSecret: secrets.databasePassword });
  const settings = remote ? RemoteLogging.s3({ bucket: 'logs', connectionSecret: { name: 'aws', key: 'uri' } }).settings(chart, 'remoteLogging') : undefined;
  const base = airflowEnvironment(AirflowGeneration.of(AirflowVersion.of(version))!, database, secrets);
  // Remote logging is a feature: its env follows the control plane's in every control-plane and task pod.
  const env = { controlPlane: [...base.controlPlane, ...(settings?.env ?? [])], worker: [...base.worker, ...(settings?.env ?? [])] };
  Testing.synth(chart); // references to the chart's Secret resolve at synth
  const names = (list: { name: string }[]) => list.map((e) => e.name);
  return { env, names };
}

describe('airflowEnvironment', () => {
  test('Airflow 3: the control plane gets the database and the keys; task pods only airflow.cfg and no db check', () => {
    const { env, names } = environment('3.1.3');
    expect(names(env.controlPlane)).toEqual(expect.arrayContaining(['AIRFLOW_CONFIG', 'AIRFLOW__CORE__FERNET_KEY', 'CONNECTION_CHECK_MAX_COUNT']));
    expect(names(env.controlPlane).some((n) => n.startsWith('AIRFLOW__DATABASE__'))).toBe(true);
    // The Execution API stands between a task and the database: no credentials, no fernet key.
    expect(names(env.worker)).toEqual(['AIRFLOW_CONFIG', 'CONNECTION_CHECK_MAX_COUNT']);
    expect(env.worker.find((e) => e.name === 'CONNECTION_CHECK_MAX_COUNT')?.value).toBe('0');
  });

  test('Airflow 2: task pods talk to the database, so they get its connection and the fernet key', () => {
    const { env, names } = environment('2.11.0');
    expect(names(env.worker)).toEqual(expect.arrayContaining(['AIRFLOW_CONFIG', 'AIRFLOW__CORE__FERNET_KEY', 'CONNECTION_CHECK_MAX_COUNT']));
    expect(names(env.worker).some((n) => n.startsWith('AIRFLOW__DATABASE__'))).toBe(true);
  });

  test("remote logging's connection goes to both, by reference", () => {
    const { env } = environment('3.1.3', true);
    for (const list of [env.controlPlane, env.worker]) {
      const conn = list.filter((e) => e.name.startsWith('AIRFLOW_CONN_'));
      expect(conn).toHaveLength(1);
      expect(conn[0].value).toBeUndefined();
      expect(conn[0].valueFrom?.secretKeyRef).toEqual({ name: 'aws', key: 'uri' });
    }
  });
});
