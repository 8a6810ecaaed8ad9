// Airflow 3's DAG bundles from Git (issue #22 item 12): [dag_processor] dag_bundle_config_list with GitDagBundle
// (the official chart's dagProcessor.dagBundleConfigList), the Git connection from a Secret in the pods that read
// the bundles, refused with gitSync and on Airflow 2. Off by default.
import { Testing } from 'cdk8s';
import { AirflowChart, GitDagBundles, GitSyncDags } from '../../lib';
import { validationReport } from '../../validation';
import { airflowChart, cfgOf, envOf, errorOf, find, synthAirflowChart } from '../support';
import { findSecretMaterial } from '../support/secret-scan';

const CONN = { name: 'airflow-git', key: 'connection' };
const TEAM = { name: 'team-dags', repoUrl: 'https://github.com/example-org/dags.git', trackingRef: 'main', subdir: 'dags', connectionSecret: CONN, refreshInterval: 60 };

describe('off by default', () => {
  test('the default chart keeps Airflow\'s default bundle of the dags folder', () => {
    expect(synthAirflowChart().cfg.dag_processor?.dag_bundle_config_list).toBeUndefined();
  });
});

describe('a Git bundle with its connection from a Secret', () => {
  const { manifests, cfg, worker } = synthAirflowChart({ dagBundles: [TEAM, { name: 'public', repoUrl: 'git@github.com:example-org/public-dags.git', trackingRef: 'v2' }] });

  test('[dag_processor] dag_bundle_config_list: one GitDagBundle per repository, with GitDagBundle\'s own kwargs', () => {
    expect(JSON.parse(cfg.dag_processor.dag_bundle_config_list)).toEqual([
      {
        name: 'team-dags',
        classpath: 'airflow.providers.git.bundles.git.GitDagBundle',
        kwargs: { tracking_ref: 'main', repo_url: 'https://github.com/example-org/dags.git', subdir: 'dags', git_conn_id: 'git_team_dags', refresh_interval: 60 },
      },
      { name: 'public', classpath: 'airflow.providers.git.bundles.git.GitDagBundle', kwargs: { tracking_ref: 'v2', repo_url: 'git@github.com:example-org/public-dags.git' } },
    ]);
  });

  test('AIRFLOW_CONN_GIT_TEAM_DAGS by secretKeyRef where bundles are read: dag-processor, triggerer, task pods; not the scheduler or the UI', () => {
    const container = (name: string) => find(manifests, 'Deployment', `airflow-${name}`).spec.template.spec.containers[0];
    for (const c of [container('dag-processor'), container('triggerer'), worker.spec.containers[0]]) {
      expect(envOf(c, 'AIRFLOW_CONN_GIT_TEAM_DAGS').valueFrom.secretKeyRef).toEqual(CONN);
    }
    for (const c of [container('scheduler'), container('api-server')]) expect(c.env.find((e: any) => e.name === 'AIRFLOW_CONN_GIT_TEAM_DAGS')).toBeUndefined();
    expect(findSecretMaterial(manifests)).toEqual([]);
  });

  test('passes the schema and cross-object checks', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow', { dagBundles: [TEAM] });
    expect(validationReport(chart, { existingSecrets: ['airflow-secrets', 'airflow-git'] })).toEqual([]);
  });

  test('with your own chart: airflow.addFeature(new GitDagBundles([...]))', () => {
    const { chart, airflow } = airflowChart();
    airflow.addFeature(new GitDagBundles([{ name: 'team', repoUrl: 'https://github.com/example-org/dags.git', trackingRef: 'main' }]));
    expect(cfgOf(Testing.synth(chart)).dag_processor.dag_bundle_config_list).toContain('GitDagBundle');
  });
});

describe('refused at synth', () => {
  const error = (dagBundles: unknown, extra: object = {}) => errorOf(() => Testing.synth(new AirflowChart(Testing.app(), 'airflow', { ...extra, dagBundles } as never)));

  test('on Airflow 2', () => {
    expect(error([TEAM], { image: 'apache/airflow:2.11.0' })).toMatch(/property "dagBundles" received \["team-dags"\]; allowed: unset on Airflow 2\.11\.0: DAG bundles \(\[dag_processor\] dag_bundle_config_list\) exist from Airflow 3\.0\. Use gitSync on Airflow 2\./);
  });

  test('with gitSync, either way round', () => {
    expect(error([TEAM], { gitSync: { repository: 'https://github.com/example-org/dags.git' } })).toMatch(/property "dagBundles" received "\(Git DAG bundles\)"; allowed: unset with gitSync: dagBundles and gitSync both deliver the DAGs/);
    const { chart, airflow } = airflowChart();
    airflow.addFeature(new GitDagBundles([TEAM]));
    new GitSyncDags(airflow, 'git-sync', { airflow, repository: 'https://github.com/example-org/dags.git' });
    expect(errorOf(() => Testing.synth(chart))).toMatch(/dagBundles and gitSync both deliver the DAGs/);
  });

  test('a token in the repository URL: the value is not repeated', () => {
    for (const repoUrl of ['https://ghp_abc123@github.com/example-org/dags.git', 'https://user:ghp_abc123@github.com/example-org/dags.git']) {
      const message = error([{ ...TEAM, repoUrl }]);
      expect(message).toMatch(/property "dagBundles\[0\].repoUrl" received "\(a URL with credentials\)"; allowed: a repository URL without credentials: airflow.cfg is a ConfigMap\. Put the token in the Git connection's Secret: connectionSecret\./);
      expect(message).not.toContain('ghp_abc123');
    }
  });

  test.each([
    [[], /"dagBundles" received \[\]; allowed: a non-empty list/],
    [[{ ...TEAM, repoUrl: 'http://github.com/example-org/dags.git' }], /"dagBundles\[0\].repoUrl" .* http:\/\/, git:\/\/ and file:\/\/ do not authenticate the server/],
    [[{ ...TEAM, repoUrl: 'file:///srv/dags' }], /"dagBundles\[0\].repoUrl"/],
    [[{ name: 'x', trackingRef: 'main' }], /"dagBundles\[0\].repoUrl" received undefined; allowed: the repository: repoUrl, or a connection/],
    [[{ ...TEAM, trackingRef: 'main; rm -rf /' }], /"dagBundles\[0\].trackingRef"/],
    [[{ ...TEAM, subdir: '../etc' }], /"dagBundles\[0\].subdir"/],
    [[TEAM, TEAM], /"dagBundles\[1\].name" received "team-dags"; allowed: a name no other bundle has/],
    [[{ ...TEAM, name: 'a b' }], /"dagBundles\[0\].name"/],
    [[{ ...TEAM, connectionId: 'git-team' }], /"dagBundles\[0\].connectionId"/],
    [[{ ...TEAM, refreshInterval: 0 }], /"dagBundles\[0\].refreshInterval"/],
    [[{ ...TEAM, branch: 'main' }], /"dagBundles\[0\].branch" received "\(value not shown: an unknown prop may hold a secret\)"; allowed: a prop of GitDagBundleOptions/],
    [[TEAM, { ...TEAM, name: 'other', connectionId: 'git_team_dags', connectionSecret: { name: 'other', key: 'c' } }], /"dagBundles\[1\].connectionId" received "git_team_dags"; allowed: an id no other bundle takes from another Secret key/],
  ])('%#', (bundles, message) => {
    expect(error(bundles)).toMatch(message);
  });
});

describe('with networkPolicies: the pods that clone reach the Git server', () => {
  test('the DAG readers and the task pods get the git egress (gitPorts, gitCidrs)', () => {
    const { manifests } = synthAirflowChart({ dagBundles: [TEAM], networkPolicies: true, networkPolicyOptions: { gitPorts: [443] } });
    const git = find(manifests, 'NetworkPolicy', 'airflow-git-sync');
    expect(git.spec.podSelector.matchExpressions[0].values).toEqual(['dag-processor', 'triggerer', 'worker']);
    expect(git.spec.egress[0].ports).toEqual([{ protocol: 'TCP', port: 443 }]);
  });
});
