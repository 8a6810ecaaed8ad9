import { Chart, Testing } from 'cdk8s';
import {
  AirflowSecrets,
  AirflowVolumes,
  KubernetesExecutorAirflow,
  KubernetesExecutorAirflowProps,
  MetadataDb,
} from '../../lib';

/** A chart in namespace "airflow" with the real volumes, secrets and database, and Airflow on them. */
export function airflowChart(props: Partial<KubernetesExecutorAirflowProps> = {}): {
  chart: Chart;
  airflow: KubernetesExecutorAirflow;
  manifests: any[];
} {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'airflow', disableResourceNameHashes: true });
  const volumes = new AirflowVolumes(chart, 'volumes');
  const secrets = new AirflowSecrets(chart, 'secrets');
  const database = new MetadataDb(chart, 'db', { passwordSecret: secrets.databasePassword });
  const airflow = new KubernetesExecutorAirflow(chart, 'airflow', { volumes, database, secrets, ...props });
  return { chart, airflow, manifests: Testing.synth(chart) };
}

/** Builds a KubernetesExecutorAirflow and returns the error it throws (or fails the test). */
export function airflowError(props: Partial<KubernetesExecutorAirflowProps>): Error {
  try {
    airflowChart(props);
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

export function find(manifests: any[], kind: string, name: string): any {
  const found = manifests.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name} among ${manifests.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

/** The pod specs of the Airflow workloads (Deployments and Jobs with the airflow name label), by object name. */
export function airflowPodSpecs(manifests: any[]): Map<string, any> {
  const out = new Map<string, any>();
  for (const o of manifests) {
    if (!['Deployment', 'Job'].includes(o.kind)) continue;
    const labels = o.spec.template.metadata?.labels ?? {};
    const component = labels['app.kubernetes.io/component'];
    if (labels['app.kubernetes.io/part-of'] !== 'airflow' || ['metadata-db', 'secrets-bootstrap', 'volume-permissions'].includes(component)) continue;
    out.set(`${o.kind}/${o.metadata.name}`, o.spec.template.spec);
  }
  return out;
}

/** The parsed airflow.cfg of the ConfigMap: section -> key -> raw value. */
export function parseCfg(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1];
      out[section] = {};
      continue;
    }
    const eq = line.indexOf(' = ');
    out[section][line.slice(0, eq)] = line.slice(eq + 3);
  }
  return out;
}
