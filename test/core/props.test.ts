import { Testing } from 'cdk8s';
import { load } from 'js-yaml';
import { AirflowChart, AirflowVolumes, KubernetesExecutorAirflow, MetadataDb } from '../../lib';
import { Construct } from 'constructs';
import { synthesizing, testChart } from '../support';

/** The message of the first refusal of what `build` makes, reported when its app is synthesized. */
const error = (build: () => Construct): string => {
  try {
    synthesizing(build)();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('no error');
};

describe('refuseUnknownProps: props that TypeScript did not check (a variable, a cast, JSON or YAML)', () => {
  test('a misspelt chart prop is refused with the allowed props and the closest one', () => {
    const message = error(() => new AirflowChart(Testing.app(), 'airflow', { paralelism: 8 } as any));
    expect(message).toMatch(/^AirflowChart at "airflow": property "paralelism" received 8; allowed: a prop of AirflowChartProps \(adminEmail, .*parallelism.*\)\. Did you mean "parallelism"\?$/);
  });

  test('nested option objects are checked too: ingress, scheduler, volumes[i], existingSecrets, gitSync', () => {
    const app = () => Testing.app();
    expect(error(() => new AirflowChart(app(), 'airflow', { ingress: { hots: 'airflow.example.com' } } as any))).toMatch(
      /^AirflowChart at "airflow": property "ingress\.hots" received "\(value not shown: an unknown prop may hold a secret\)"; allowed: a prop of IngressOptions \(.*\)\. Did you mean "host"\?$/,
    );
    expect(error(() => new AirflowChart(app(), 'airflow', { scheduler: { replica: 2 } } as any))).toMatch(
      /property "scheduler\.replica" received 2; allowed: a prop of ComponentOptions \(.*\)\. Did you mean "replicas"\?$/,
    );
    expect(error(() => new AirflowChart(app(), 'airflow', { volumes: [{ name: 'dags' }, { name: 'logs', sise: '9Gi' }] } as any))).toMatch(
      /property "volumes\[1\]\.sise" received "\(value not shown: an unknown prop may hold a secret\)"; allowed: a prop of AirflowVolumeOptions \(.*\)\. Did you mean "size"\?$/,
    );
    expect(error(() => new AirflowChart(app(), 'airflow', { gitSync: { repository: 'https://git.example.com/dags.git', brnach: 'main' } } as any))).toMatch(
      /property "gitSync\.brnach" received "\(value not shown: an unknown prop may hold a secret\)"; allowed: a prop of GitSyncDagsOptions \(.*\)\. Did you mean "branch"\?$/,
    );
    expect(
      error(() => new AirflowChart(app(), 'airflow', { existingSecrets: { fernetKey: { name: 's', key: 'k', optinal: true } } } as any)),
    ).toMatch(/property "existingSecrets\.fernetKey\.optinal" received true; allowed: a prop of SecretKeyRef \(key, name\)\.$/);
  });

  test('props read from YAML are checked as written', () => {
    const props = load('parallelism: 8\ncelery:\n  replicas: 2\n  concurency: 4\n') as object;
    expect(error(() => new AirflowChart(Testing.app(), 'airflow', props))).toMatch(
      /^AirflowChart at "airflow": property "celery\.concurency" received 4; allowed: a prop of CeleryOptions \(.*\)\. Did you mean "concurrency"\?$/,
    );
  });

  test('each construct checks its own props: KubernetesExecutorAirflow refuses a feature option, which is addAirflowFeatures\'', () => {
    const chart = testChart();
    const volumes = new AirflowVolumes(chart, 'volumes');
    const database = new MetadataDb(chart, 'db');
    expect(error(() => new KubernetesExecutorAirflow(chart, 'airflow', { volumes, database, gitSync: { repository: 'x' } } as any))).toMatch(
      /^KubernetesExecutorAirflow at "test\/airflow": property "gitSync" received "\(value not shown: an unknown prop may hold a secret\)"; allowed: a prop of KubernetesExecutorAirflowProps \(/,
    );
    expect(error(() => new AirflowVolumes(testChart(), 'volumes', { volumes: [{ name: 'dags', mountpath: '/x' }] } as any))).toMatch(
      /^AirflowVolumes at "test\/volumes": property "volumes\[0\]\.mountpath" received "\(value not shown: an unknown prop may hold a secret\)"; allowed: a prop of AirflowVolumeOptions \(.*\)\. Did you mean "mountPath"\?$/,
    );
  });

  test('class instances are not looked into, and a key set to undefined passes', () => {
    expect(() => Testing.synth(new AirflowChart(Testing.app(), 'airflow', { parallelism: 8, ingress: undefined, scheduler: { replicas: 1 } }))).not.toThrow();
    expect(() => Testing.synth(new AirflowChart(Testing.app(), 'airflow', { misspelt: undefined } as any))).not.toThrow();
  });
});
