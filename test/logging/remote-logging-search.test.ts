// Task logs in Elasticsearch or OpenSearch (issue #22 item 11): RemoteLogging.elasticsearch / .opensearch write the
// providers' own [elasticsearch] / [opensearch] settings (provider.yaml `config:`), each a key the library knows
// for Airflow 2 and 3, with the credentials by secretKeyRef only, never in airflow.cfg.
import { Testing } from 'cdk8s';
import { AirflowChart, RemoteLogging, RemoteLoggingProvider, airflowConfigKeyInfo } from '../../lib';
import { validationReport } from '../../validation';
import { airflowPodSpecs, envOf, errorOf, find, synthAirflowChart as synth } from '../support';
import { findSecretMaterial } from '../support/secret-scan';

const ES_SECRET = { name: 'airflow-es', key: 'connection' };

describe('Elasticsearch, the URL with its credentials from a Secret (the official chart\'s elasticsearch.secretName)', () => {
  for (const [label, image] of [['Airflow 3', undefined], ['Airflow 2', 'apache/airflow:2.11.0']] as const) {
    const remoteLogging = RemoteLogging.elasticsearch({ hostSecret: ES_SECRET, writeStdout: true, indexPatterns: 'airflow-logs-*', verifyCerts: true });
    const { manifests, cfg, worker } = synth({ remoteLogging, ...(image ? { image } : {}) });

    test(`${label}: [logging] remote_logging with no folder, [elasticsearch] settings, each a key Airflow knows`, () => {
      expect(cfg.logging.remote_logging).toBe('True');
      expect(cfg.logging.remote_base_log_folder).toBeUndefined(); // the handler is chosen by [elasticsearch] host
      expect(cfg.elasticsearch).toMatchObject({ write_stdout: 'True', json_format: 'True', index_patterns: 'airflow-logs-*' });
      expect(cfg.elasticsearch.host).toBeUndefined();
      expect(cfg.elasticsearch_configs).toEqual({ verify_certs: 'True' });
      const major = image ? 2 : 3;
      for (const key of ['elasticsearch.write_stdout', 'elasticsearch.json_format', 'elasticsearch.index_patterns', 'elasticsearch_configs.verify_certs', 'elasticsearch.host']) {
        expect([key, airflowConfigKeyInfo(major, key)?.name]).toEqual([key, key]);
      }
    });

    test(`${label}: AIRFLOW__ELASTICSEARCH__HOST by secretKeyRef in every Airflow container and the task pods`, () => {
      for (const [, spec] of airflowPodSpecs(manifests)) {
        for (const c of spec.containers.filter((x: any) => x.name !== 'log-groomer')) expect(envOf(c, 'AIRFLOW__ELASTICSEARCH__HOST').valueFrom.secretKeyRef).toEqual(ES_SECRET);
      }
      expect(envOf(worker.spec.containers[0], 'AIRFLOW__ELASTICSEARCH__HOST').valueFrom.secretKeyRef).toEqual(ES_SECRET);
      expect(findSecretMaterial(manifests)).toEqual([]);
    });
  }

  test('a host without credentials goes into airflow.cfg; the chart\'s json_format default', () => {
    const { cfg } = synth({ remoteLogging: RemoteLogging.elasticsearch({ host: 'https://es.example.com:9200', frontend: 'kibana.example.com/app/discover?q={log_id}' }) });
    expect(cfg.elasticsearch).toEqual({ host: 'https://es.example.com:9200', json_format: 'True', frontend: 'kibana.example.com/app/discover?q={log_id}' });
    expect(RemoteLogging.elasticsearch({ host: 'http://es:9200' }).providerPackage).toBe('apache-airflow-providers-elasticsearch');
    expect(RemoteLogging.elasticsearch({ host: 'http://es:9200' }).provider).toBe(RemoteLoggingProvider.ELASTICSEARCH);
  });

  test('passes the schema and cross-object checks', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow', { remoteLogging: RemoteLogging.elasticsearch({ hostSecret: ES_SECRET }) });
    expect(validationReport(chart, { existingSecrets: ['airflow-secrets', 'airflow-es'] })).toEqual([]);
  });
});

describe('OpenSearch, the user name and password from a Secret', () => {
  const user = { name: 'airflow-opensearch', key: 'username' };
  const password = { name: 'airflow-opensearch', key: 'password' };
  const { manifests, cfg, worker } = synth({ remoteLogging: RemoteLogging.opensearch({ host: 'opensearch.logging.svc', usernameSecret: user, passwordSecret: password, useSsl: true }) });

  test('[opensearch] host and port, [opensearch_configs] use_ssl; no credential in airflow.cfg', () => {
    expect(cfg.logging.remote_logging).toBe('True');
    expect(cfg.opensearch).toEqual({ host: 'opensearch.logging.svc', port: '9200', json_format: 'True' });
    expect(cfg.opensearch_configs).toEqual({ use_ssl: 'True' });
    for (const key of ['opensearch.host', 'opensearch.port', 'opensearch.json_format', 'opensearch_configs.use_ssl', 'opensearch.username', 'opensearch.password']) {
      for (const major of [2, 3] as const) expect([key, airflowConfigKeyInfo(major, key)?.name]).toEqual([key, key]);
    }
  });

  test('AIRFLOW__OPENSEARCH__USERNAME and __PASSWORD by secretKeyRef, in the task pods too', () => {
    const scheduler = find(manifests, 'Deployment', 'airflow-scheduler').spec.template.spec.containers[0];
    for (const c of [scheduler, worker.spec.containers[0]]) {
      expect(envOf(c, 'AIRFLOW__OPENSEARCH__USERNAME').valueFrom.secretKeyRef).toEqual(user);
      expect(envOf(c, 'AIRFLOW__OPENSEARCH__PASSWORD').valueFrom.secretKeyRef).toEqual(password);
    }
    expect(findSecretMaterial(manifests)).toEqual([]);
  });
});

describe('refused at synth', () => {
  const error = (remoteLogging: RemoteLogging) => errorOf(() => new AirflowChart(Testing.app(), 'airflow', { remoteLogging }));

  test('an Elasticsearch URL with credentials as a literal: the value is not repeated', () => {
    const message = error(RemoteLogging.elasticsearch({ host: 'https://elastic:s3cret@es.example.com:9200' }));
    expect(message).toMatch(/property "remoteLogging.host" received "\(a URL with credentials\)"; allowed: a URL without credentials: the host is written into airflow.cfg, a ConfigMap\. Put the URL with its credentials in a Secret and give hostSecret/);
    expect(message).not.toContain('s3cret');
  });

  test.each([
    [RemoteLogging.elasticsearch({}), /"remoteLogging.host" received undefined; allowed: either host .* or hostSecret/],
    [RemoteLogging.elasticsearch({ host: 'https://es:9200', hostSecret: ES_SECRET }), /either host .* not both/],
    [RemoteLogging.elasticsearch({ host: 'es.example.com' }), /"remoteLogging.host" received "es.example.com"; allowed: an http:\/\/ or https:\/\/ URL/],
    [RemoteLogging.elasticsearch({ host: 'https://es:9200', frontend: 'kibana/app' }), /"remoteLogging.frontend" .* with \{log_id\} in it/],
    [RemoteLogging.elasticsearch({ hostSecret: ES_SECRET, indexPatterns: 'logs; rm' }), /"remoteLogging.indexPatterns"/],
    [RemoteLogging.elasticsearch({ hostSecret: ES_SECRET, port: 9200 } as never), /"remoteLogging.port" received 9200; allowed: an option of RemoteLogging.elasticsearch/],
    [RemoteLogging.opensearch({ host: 'https://admin:pw@os:9200' }), /"remoteLogging.host" .* a host name or IP address alone .*The port is port; TLS is useSsl; the credentials are usernameSecret and passwordSecret/],
    [RemoteLogging.opensearch({ host: 'os', passwordSecret: { name: 's', key: 'p' } }), /"remoteLogging.usernameSecret" received undefined; allowed: both usernameSecret and passwordSecret, or neither/],
    [RemoteLogging.opensearch({ host: 'os', port: 70000 }), /"remoteLogging.port" received 70000/],
  ])('%#', (remoteLogging, message) => {
    expect(error(remoteLogging)).toMatch(message);
  });

  test('the settings are the prop\'s: config.elasticsearch.* beside it is refused', () => {
    expect(errorOf(() => new AirflowChart(Testing.app(), 'airflow', { remoteLogging: RemoteLogging.elasticsearch({ hostSecret: ES_SECRET }), config: { elasticsearch: { json_format: false } } }))).toMatch(/config.elasticsearch.json_format/);
  });

  test('not a RemoteLogging: the message names the five factories', () => {
    expect(errorOf(() => new AirflowChart(Testing.app(), 'airflow', { remoteLogging: { host: 'x' } as never }))).toMatch(/RemoteLogging.elasticsearch\(\{ \.\.\. \}\) or RemoteLogging.opensearch\(\{ \.\.\. \}\)/);
  });
});

describe('the OpenSearch credentials are secrets for the configuration check too', () => {
  test('config.opensearch.password as a literal is refused, as every option Airflow marks sensitive', () => {
    const message = errorOf(() => new AirflowChart(Testing.app(), 'airflow', { config: { opensearch: { password: 'hunter2' } } }));
    expect(message).toMatch(/property "config.opensearch.password"/);
    expect(message).not.toContain('hunter2');
  });
});

describe('with networkPolicies: the pods that write or read task logs reach the search engine\'s port', () => {
  const ports = (props: object) => find(synth({ networkPolicies: true, ...props }).manifests, 'NetworkPolicy', 'airflow-remote-logging').spec.egress[0].ports.map((p: any) => p.port);

  test('OpenSearch: its port; Elasticsearch: the URL\'s port, or its scheme\'s', () => {
    expect(ports({ remoteLogging: RemoteLogging.opensearch({ host: 'opensearch.logging.svc', port: 9201 }) })).toEqual([9201]);
    expect(ports({ remoteLogging: RemoteLogging.elasticsearch({ host: 'http://es.logging.svc:9200' }) })).toEqual([9200]);
    expect(ports({ remoteLogging: RemoteLogging.elasticsearch({ host: 'https://es.example.com' }) })).toEqual([443]);
    expect(ports({ remoteLogging: RemoteLogging.elasticsearch({ hostSecret: ES_SECRET }), networkPolicyOptions: { objectStorePorts: [9243] } })).toEqual([9243]);
  });

  test('Elasticsearch from a Secret without objectStorePorts is refused: the port is not known at synth', () => {
    expect(errorOf(() => new AirflowChart(Testing.app(), 'airflow', { networkPolicies: true, remoteLogging: RemoteLogging.elasticsearch({ hostSecret: ES_SECRET }) }))).toMatch(
      /AirflowChart at "airflow": property "networkPolicyOptions.objectStorePorts" received undefined; allowed: the port of the Elasticsearch host \(e\.g\. \[9200\] or \[443\]\) with networkPolicies/,
    );
  });
});
