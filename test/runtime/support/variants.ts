// The charts the runtime stage runs, synthesized fresh from lib/ (through the package's entry point only).
import { Chart, Testing } from 'cdk8s';
import {
  AirflowChart,
  AirflowChartProps,
  AirflowNamespace,
  AirflowSecrets,
  AirflowVolumes,
  KubernetesExecutorAirflow,
  MetadataDb,
} from '../../../lib';
import { Variant } from './chain';

/** The default chart, as main.ts synthesizes it (id `airflow`, namespace `airflow`), with optional props. */
export function defaultChart(props: AirflowChartProps = {}): Variant {
  return {
    id: 'default',
    title: 'the default chart (AirflowChart, namespace airflow)',
    objects: Testing.synth(new AirflowChart(Testing.app(), 'airflow', props)),
  };
}

/**
 * The constructs composed by hand in namespace team-a, with the Secret named data-team-airflow (the README's
 * "use the constructs in your own chart" way). With `databasePasswordFromSecrets` false, MetadataDb gets no
 * passwordSecret, as in issue #11's report.
 */
export function teamAChart(databasePasswordFromSecrets = true): Variant {
  const chart = new Chart(Testing.app(), 'team-a', { namespace: 'team-a', disableResourceNameHashes: true });
  new AirflowNamespace(chart, 'namespace');
  const volumes = new AirflowVolumes(chart, 'volumes');
  const secrets = new AirflowSecrets(chart, 'secrets', { secretName: 'data-team-airflow' });
  const database = databasePasswordFromSecrets
    ? new MetadataDb(chart, 'db', { passwordSecret: secrets.databasePassword })
    : new MetadataDb(chart, 'db');
  new KubernetesExecutorAirflow(chart, 'airflow', { volumes, database, secrets });
  return {
    id: databasePasswordFromSecrets ? 'team-a' : 'team-a-issue-11',
    title: `constructs composed by hand in namespace team-a, Secret data-team-airflow${databasePasswordFromSecrets ? '' : ', MetadataDb without passwordSecret'}`,
    objects: Testing.synth(chart),
  };
}
