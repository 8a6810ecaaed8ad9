// ExternalMetadataDb: a database outside the cluster, by host (DatabaseConnection.postgres) or by a URI in
// a Secret (DatabaseConnection.fromUriSecret); it creates no objects, only the connection env and the wait.
import { Testing } from 'cdk8s';
import { DatabaseConnection, ExternalMetadataDb, MetadataDb, PostgresSslMode } from '../../lib';
import { resolveAtSynth } from '../../lib/core/lazy';
import { chartSecrets, testChart, validationError } from '../support';

const chart = () => testChart();

describe('External metadata database', () => {
  test('host mode creates no objects and builds the URI with sslmode (and the asyncpg URI with ssl)', () => {
    const c = chart();
    const db = MetadataDb.external(c, 'db', {
      host: 'airflow.abc123.eu-west-1.rds.amazonaws.com',
      user: 'airflow_app',
      databaseName: 'airflow_prod',
      passwordSecret: { name: 'rds-airflow', key: 'password' },
      sslMode: PostgresSslMode.VERIFY_FULL,
    });
    expect(db).toBeInstanceOf(ExternalMetadataDb);
    expect(Testing.synth(c)).toEqual([]);
    expect(db.host).toBe('airflow.abc123.eu-west-1.rds.amazonaws.com');
    expect(db.port).toBe(5432);
    expect(db.sslMode).toBe('verify-full');
    const authority = 'airflow_app:$(AIRFLOW_DB_PASSWORD)@airflow.abc123.eu-west-1.rds.amazonaws.com:5432/airflow_prod';
    expect(db.airflowConnectionEnv()).toEqual([
      { name: 'AIRFLOW_DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'rds-airflow', key: 'password' } } },
      { name: 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN', value: `postgresql://${authority}?sslmode=verify-full` },
      { name: 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC', value: `postgresql+asyncpg://${authority}?ssl=verify-full` },
    ]);
    expect(db.waitForDatabaseContainer('apache/airflow:3.1.3').env).toEqual([
      { name: 'DB_HOST', value: 'airflow.abc123.eu-west-1.rds.amazonaws.com' },
      { name: 'DB_PORT', value: '5432' },
      { name: 'WAIT_TIMEOUT_SECONDS', value: '300' },
    ]);
  });

  test("host mode defaults: port 5432, airflow/airflow, the chart's secrets' databasePassword, no sslmode", () => {
    const c = chart();
    const db = MetadataDb.external(c, 'db', { host: '10.0.3.7', port: 6432 });
    chartSecrets(c);
    expect(resolveAtSynth(db.airflowConnectionEnv())).toEqual([
      { name: 'AIRFLOW_DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'airflow-secrets', key: 'db-password' } } },
      { name: 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN', value: 'postgresql://airflow:$(AIRFLOW_DB_PASSWORD)@10.0.3.7:6432/airflow' },
    ]);
  });

  test('URI mode: the whole URI from its Secret, and wait-for-db reads host and port from it', () => {
    const c = chart();
    const db = MetadataDb.fromConnectionUriSecret(c, 'db', { uriSecret: { name: 'airflow-db', key: 'uri' } });
    expect(Testing.synth(c)).toEqual([]);
    expect([db.host, db.port, db.databaseName, db.user, db.passwordSecret]).toEqual([
      undefined, undefined, undefined, undefined, undefined,
    ]);
    expect(db.connectionUriSecret).toEqual({ name: 'airflow-db', key: 'uri' });
    expect(db.airflowConnectionEnv()).toEqual([
      { name: 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN', valueFrom: { secretKeyRef: { name: 'airflow-db', key: 'uri' } } },
    ]);
    expect(db.waitForDatabaseContainer('apache/airflow:3.1.3').env).toEqual([
      { name: 'DB_URI', valueFrom: { secretKeyRef: { name: 'airflow-db', key: 'uri' } } },
      { name: 'WAIT_TIMEOUT_SECONDS', value: '300' },
    ]);
  });
});

describe('ExternalMetadataDb rejects bad input', () => {
  test.each([0, 70000, 5432.5, '5432'])('bad port %p', (port) => {
    validationError(
      () => MetadataDb.external(chart(), 'db', { host: 'db.example.com', port: port as number }),
      'port',
      /ExternalMetadataDb at "test\/db": property "port" received .*; allowed: a whole number from 1 to 65535/,
    );
  });

  test.each([
    ['host', { host: 'postgres://db.example.com:5432' }, /the port goes in "port"/],
    ['host', { host: 'DB.example.com' }, /Did you mean "db.example.com"/],
    ['user', { host: 'db.example.com', user: 'bad/user' }, /Postgres name/],
    ['sslMode', { host: 'db.example.com', sslMode: 'required' }, /one of "disable"/],
    ['connectionUriSecret.name', { connectionUriSecret: { name: 'bad name', key: 'uri' } }, /DNS-1123 subdomain/],
  ])('external: bad %s', (property, props, pattern) => {
    const p = props as any;
    const connection = p.connectionUriSecret ? DatabaseConnection.fromUriSecret(p.connectionUriSecret) : DatabaseConnection.postgres(p);
    validationError(() => new ExternalMetadataDb(chart(), 'db', { connection }), property as string, pattern);
  });

  test('external: neither a host nor a URI Secret', () => {
    validationError(() => new ExternalMetadataDb(chart(), 'db', { connection: DatabaseConnection.postgres({} as any) }), 'host', /new MetadataDb/);
  });

  test('the connection is made by a factory: a plain object with both a host and a URI Secret is refused', () => {
    validationError(
      () =>
        new ExternalMetadataDb(chart(), 'db', {
          connection: { host: 'db.example.com', connectionUriSecret: { name: 'airflow-db', key: 'uri' } } as any,
        }),
      'connection',
      /DatabaseConnection\.postgres/,
    );
  });

  test('both modes at once: an in-cluster and an external database in one chart, in either order', () => {
    const c1 = chart();
    new MetadataDb(c1, 'in-cluster');
    validationError(
      () => MetadataDb.external(c1, 'external', { host: 'db.example.com' }),
      'metadata database',
      /MetadataDb at \\"test\/in-cluster\\".*one metadata database per chart/,
    );
    const c2 = chart();
    MetadataDb.fromConnectionUriSecret(c2, 'external', { uriSecret: { name: 'airflow-db', key: 'uri' } });
    validationError(() => new MetadataDb(c2, 'in-cluster'), 'metadata database', /ExternalMetadataDb/);
  });

});
