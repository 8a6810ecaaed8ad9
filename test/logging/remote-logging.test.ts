// Remote logging (issue #14): typed factories per object store, valid Airflow keys for the chosen version,
// the connection by Secret reference or the pods' cloud identity, and a folder of another provider refused.
import { RemoteLogging, RemoteLoggingProvider, airflowConfigKeyInfo } from '../../lib';
import { validationReport } from '../../validation';
import { airflowPodSpecs, errorOf, find, synthAirflowChart as synth } from '../support';
import { findSecretMaterial } from '../support/secret-scan';

/** Every Airflow container (components, Jobs, the worker template), by `object/container`. */
function airflowContainers(manifests: any[], worker: any): Array<[string, any]> {
  const out: Array<[string, any]> = [];
  for (const [name, spec] of airflowPodSpecs(manifests)) {
    for (const c of spec.containers) if (c.name !== 'log-groomer') out.push([`${name}/${c.name}`, c]);
  }
  out.push(['worker/base', worker.spec.containers[0]]);
  return out;
}

const S3 = RemoteLogging.s3({
  bucket: 'team-airflow-logs',
  prefix: 'prod/tasks',
  region: 'eu-west-1',
  connectionId: 'aws_logs',
  connectionSecret: { name: 'airflow-logs-connection', key: 'uri' },
});

describe('S3 with the connection from a Secret', () => {
  for (const [label, image] of [['Airflow 3', undefined], ['Airflow 2', 'apache/airflow:2.11.0']] as const) {
    const { manifests, cfg, worker, chart } = synth({ remoteLogging: S3, ...(image ? { image } : {}) });

    test(`${label}: [logging] remote_logging, remote_base_log_folder, remote_log_conn_id, each a key Airflow defines`, () => {
      expect(cfg.logging).toMatchObject({
        base_log_folder: '/opt/airflow/logs',
        remote_logging: 'True',
        remote_base_log_folder: 's3://team-airflow-logs/prod/tasks',
        remote_log_conn_id: 'aws_logs',
      });
      const major = image ? 2 : 3;
      for (const [section, keys] of Object.entries(cfg)) {
        for (const key of Object.keys(keys)) expect([`${section}.${key}`, airflowConfigKeyInfo(major, `${section}.${key}`)?.name]).toEqual([`${section}.${key}`, `${section}.${key}`]);
      }
    });

    test(`${label}: every Airflow container and the task pods read AIRFLOW_CONN_AWS_LOGS by reference, and get the region`, () => {
      const containers = airflowContainers(manifests, worker);
      expect(containers.length).toBeGreaterThanOrEqual(image ? 6 : 7); // components (no dag-processor on Airflow 2), Jobs, worker
      for (const [name, c] of containers) {
        expect([name, c.env.find((e: any) => e.name === 'AIRFLOW_CONN_AWS_LOGS')]).toEqual([
          name,
          { name: 'AIRFLOW_CONN_AWS_LOGS', valueFrom: { secretKeyRef: { name: 'airflow-logs-connection', key: 'uri' } } },
        ]);
        expect([name, c.env.find((e: any) => e.name === 'AWS_DEFAULT_REGION')]).toEqual([name, { name: 'AWS_DEFAULT_REGION', value: 'eu-west-1' }]);
      }
      expect(findSecretMaterial(manifests)).toEqual([]);
      expect(validationReport(chart, { existingSecrets: ['airflow-logs-connection'] })).toEqual([]);
    });
  }

  test('the provider package the image needs is named', () => {
    expect(S3.provider).toBe(RemoteLoggingProvider.S3);
    expect(S3.providerPackage).toBe('apache-airflow-providers-amazon');
    expect(RemoteLogging.gcs({ bucket: 'b-1' }).providerPackage).toBe('apache-airflow-providers-google');
    expect(RemoteLogging.azureBlob({ container: 'logs', connectionId: 'x' }).providerPackage).toBe('apache-airflow-providers-microsoft-azure');
  });

  test('the default connection id is the provider\'s; encryption and deleting local copies are options', () => {
    const { cfg, manifests } = synth({
      remoteLogging: RemoteLogging.s3({ bucket: 'logs-1', connectionSecret: { name: 'c', key: 'uri' }, encrypt: true, deleteLocalLogs: true }),
    });
    expect(cfg.logging).toMatchObject({ remote_log_conn_id: 'aws_default', encrypt_s3_logs: 'True', delete_local_logs: 'True', remote_base_log_folder: 's3://logs-1' });
    const env = find(manifests, 'Deployment', 'airflow-scheduler').spec.template.spec.containers[0].env;
    expect(env.find((e: any) => e.name === 'AIRFLOW_CONN_AWS_DEFAULT').valueFrom.secretKeyRef).toEqual({ name: 'c', key: 'uri' });
  });
});

describe('the cloud identity of the service accounts', () => {
  const annotations = { 'iam.gke.io/gcp-service-account': 'airflow-logs@my-project.iam.gserviceaccount.com' };
  const { manifests, cfg, worker } = synth({ remoteLogging: RemoteLogging.gcs({ bucket: 'team-logs', prefix: 'airflow', serviceAccountAnnotations: annotations }) });

  test('GCS: no connection, the pods\' identity: the ServiceAccounts of the components and the task pods are annotated', () => {
    expect(cfg.logging).toMatchObject({ base_log_folder: '/opt/airflow/logs', remote_logging: 'True', remote_base_log_folder: 'gs://team-logs/airflow' });
    expect(cfg.logging.remote_log_conn_id).toBeUndefined();
    const accounts = manifests.filter((o) => o.kind === 'ServiceAccount');
    const annotated = accounts.filter((a) => a.metadata.annotations?.['iam.gke.io/gcp-service-account']).map((a) => a.metadata.name).sort();
    expect(annotated).toEqual(['airflow-api-server', 'airflow-dag-processor', 'airflow-scheduler', 'airflow-triggerer', 'airflow-worker']);
    expect(worker.spec.serviceAccountName).toBe('airflow-worker');
    for (const [, c] of airflowContainers(manifests, worker)) expect(c.env.filter((e: any) => /AIRFLOW_CONN_/.test(e.name))).toEqual([]);
  });

  test('EKS: the role ARN on the same ServiceAccounts, a connection defined in Airflow by id', () => {
    const { manifests: m, cfg: c } = synth({
      remoteLogging: RemoteLogging.s3({
        bucket: 'logs-1',
        connectionId: 'aws_logs',
        serviceAccountAnnotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/airflow-logs' },
      }),
    });
    expect(c.logging.remote_log_conn_id).toBe('aws_logs');
    expect(find(m, 'ServiceAccount', 'airflow-worker').metadata.annotations).toEqual({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/airflow-logs' });
    expect(find(m, 'ServiceAccount', 'airflow-db-migrate').metadata.annotations).toBeUndefined();
  });
});

describe('Azure Blob Storage', () => {
  test('the container is the microsoft.azure provider\'s key, valid for both majors; the folder starts with wasb', () => {
    for (const image of ['apache/airflow:3.1.3', 'apache/airflow:2.11.0']) {
      const { cfg } = synth({ image, remoteLogging: RemoteLogging.azureBlob({ container: 'airflow-logs', connectionSecret: { name: 'wasb', key: 'uri' } }) });
      expect(cfg.azure_remote_logging).toEqual({ remote_wasb_log_container: 'airflow-logs' });
      expect(cfg.logging).toMatchObject({ remote_logging: 'True', remote_base_log_folder: 'wasb-airflow-logs', remote_log_conn_id: 'wasb_default' });
    }
  });

  test('needs a connection: it names the storage account', () => {
    expect(errorOf(() => synth({ remoteLogging: RemoteLogging.azureBlob({ container: 'logs' }) }))).toMatch(
      /KubernetesExecutorAirflow at "airflow\/airflow": property "remoteLogging.connectionSecret" received undefined; allowed: a connection, from a Secret \(connectionSecret\) or defined in Airflow \(connectionId\)/,
    );
  });
});

describe('refused', () => {
  test('a folder whose scheme belongs to another provider, or a URL where a name belongs', () => {
    expect(errorOf(() => synth({ remoteLogging: RemoteLogging.s3({ bucket: 'gs://team-logs' }) }))).toMatch(
      /property "remoteLogging.bucket" received "gs:\/\/team-logs"; allowed: a location for RemoteLogging.s3: "gs:\/\/team-logs" belongs to another provider \(RemoteLogging.gcs\)/,
    );
    expect(errorOf(() => synth({ remoteLogging: RemoteLogging.gcs({ bucket: 'logs', prefix: 's3://x/y' }) }))).toMatch(/belongs to another provider \(RemoteLogging.s3\)/);
    expect(errorOf(() => synth({ remoteLogging: RemoteLogging.azureBlob({ container: 'logs', prefix: 'gs://x', connectionId: 'w' }) }))).toMatch(
      /belongs to another provider \(RemoteLogging.gcs\)/,
    );
    expect(errorOf(() => synth({ remoteLogging: RemoteLogging.azureBlob({ container: 'logs', prefix: 'logs/airflow', connectionId: 'w' }) }))).toMatch(
      /property "remoteLogging.prefix" received "logs\/airflow"; allowed: a blob prefix starting with "wasb"/,
    );
    expect(errorOf(() => synth({ remoteLogging: RemoteLogging.s3({ bucket: 's3://team-logs' }) }))).toMatch(/allowed: the name alone, not a URL: RemoteLogging.s3 builds the location itself/);
    expect(errorOf(() => synth({ remoteLogging: RemoteLogging.s3({ bucket: 'cloudwatch://x' }) }))).toMatch(/belongs to another provider \(no factory of RemoteLogging\)/);
  });

  test('a connection id that cannot be an environment variable, a bad region, a non-RemoteLogging value', () => {
    expect(errorOf(() => synth({ remoteLogging: RemoteLogging.s3({ bucket: 'logs-1', connectionId: 'aws-logs', connectionSecret: { name: 'c', key: 'k' } }) }))).toMatch(
      /property "remoteLogging.connectionId" received "aws-logs"; allowed: a connection id of letters, digits and "_"/,
    );
    expect(errorOf(() => synth({ remoteLogging: RemoteLogging.s3({ bucket: 'logs-1', region: 'Ireland' }) }))).toMatch(/property "remoteLogging.region" received "Ireland"/);
    expect(errorOf(() => synth({ remoteLogging: { provider: 's3' } as any }))).toMatch(/property "remoteLogging" received \{"provider":"s3"\}; allowed: RemoteLogging.s3/);
  });

  test('the remote logging keys are the prop\'s, not config\'s', () => {
    expect(errorOf(() => synth({ remoteLogging: S3, config: { logging: { remote_base_log_folder: 's3://other' } } }))).toMatch(
      /property "config.logging.remote_base_log_folder" received "s3:\/\/other"; allowed: an option the library does not set itself.*Use the "remoteLogging" prop instead/,
    );
  });
});
