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
 * "use the constructs in your own chart" way), exactly as issue #11 reported it: MetadataDb and the control
 * plane are given no secret references and find the chart's AirflowSecrets themselves.
 */
export function teamAChart(): Variant {
  const chart = new Chart(Testing.app(), 'team-a', { namespace: 'team-a', disableResourceNameHashes: true });
  new AirflowNamespace(chart, 'namespace');
  const volumes = new AirflowVolumes(chart, 'volumes');
  new AirflowSecrets(chart, 'secrets', { secretName: 'data-team-airflow' });
  const database = new MetadataDb(chart, 'db');
  new KubernetesExecutorAirflow(chart, 'airflow', { volumes, database });
  return {
    id: 'team-a',
    title: 'constructs composed by hand in namespace team-a, Secret data-team-airflow, no secret references passed',
    objects: Testing.synth(chart),
  };
}

/** The default chart with Celery workers and their Redis broker (hybrid executors, docs/celery.md). */
export function celeryChart(props: AirflowChartProps = {}): Variant {
  return {
    id: 'celery',
    title: 'the default chart with celery: {} (Redis, one Celery worker; KubernetesExecutor,CeleryExecutor)',
    objects: Testing.synth(new AirflowChart(Testing.app(), 'airflow', { celery: {}, ...props })),
  };
}

/**
 * The default chart behind an Ingress on a sub-path (`ingress: { host: 'airflow.local', path: '/airflow' }`):
 * `[api] base_url` under /airflow, the api-server's probes and the execution API URL under it. The runtime stage
 * has no Ingress controller: the tests reach the Service directly, under the path the Ingress would forward.
 */
export function ingressSubPathChart(): Variant {
  return {
    id: 'ingress-sub-path',
    title: "the default chart with ingress: { host: 'airflow.local', path: '/airflow' } (reached through the Service, no Ingress controller)",
    objects: Testing.synth(new AirflowChart(Testing.app(), 'airflow', { ingress: { host: 'airflow.local', path: '/airflow' } })),
  };
}
