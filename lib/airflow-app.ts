import * as fs from 'fs';
import * as path from 'path';
import { ApiObject, App, AppProps, Chart, DependencyGraph, Names, Yaml, YamlOutputType } from 'cdk8s';
import { IConstruct } from 'constructs';
import { AirflowChart } from './airflow-chart';

/**
 * The files an {@link AirflowApp} writes for each {@link AirflowChart}, in the order `kubectl apply -f dist/`
 * reads them (file names sort in this order): `<chart>-0-storage.k8s.yaml`, `<chart>-1-database.k8s.yaml`,
 * `<chart>-2-airflow.k8s.yaml`.
 */
export enum AirflowChartFile {
  /** The Namespace and the dags, logs and data volumes with their claims (`AirflowNamespace`, `AirflowVolumes`). */
  STORAGE = '0-storage',
  /** The secrets (their bootstrap Job) and the metadata database with its volumes (`AirflowSecrets`, `MetadataDb`). */
  DATABASE = '1-database',
  /** Everything else: the Airflow control plane, its Jobs and RBAC, the features, the NetworkPolicies. */
  AIRFLOW = '2-airflow',
}

/**
 * The box of `chart` an object belongs to: the first of the chart's boxes that holds it, the Airflow file for
 * anything else.
 */
export function airflowChartFileOf(chart: AirflowChart, object: IConstruct): AirflowChartFile {
  const inside = (box: IConstruct | undefined) => box !== undefined && object.node.scopes.includes(box);
  if (inside(chart.airflowNamespace) || inside(chart.volumes)) return AirflowChartFile.STORAGE;
  if (inside(chart.secrets) || inside(chart.metadataDb)) return AirflowChartFile.DATABASE;
  return AirflowChartFile.AIRFLOW;
}

/**
 * A cdk8s `App` that writes each {@link AirflowChart} as three files by box, so that each part can be read and
 * diffed on its own (the storage file against a hand-written one, say): `<chart>-0-storage.k8s.yaml` (the
 * Namespace and the volumes), `<chart>-1-database.k8s.yaml` (the secrets and Postgres) and
 * `<chart>-2-airflow.k8s.yaml` (the rest). The names sort in apply order, so `kubectl apply -f dist/` creates
 * the Namespace first. The objects are exactly those of the chart, in the same order within a file, validated
 * as one app; other charts are written as `App` writes them (one file per chart), and so is everything with a
 * `yamlOutputType` other than `FILE_PER_CHART` (the default). The default app (`main.ts`) uses it.
 */
export class AirflowApp extends App {
  private readonly split: boolean;

  constructor(props: AppProps = {}) {
    super(props);
    // Another output type is the user's explicit choice of files (one per app, per resource...): kept as App writes it.
    this.split = (props.yamlOutputType ?? YamlOutputType.FILE_PER_CHART) === YamlOutputType.FILE_PER_CHART;
  }

  /** Synthesizes as `App` does, then (with one file per chart) splits each AirflowChart's file into its boxes. */
  public override synth(): void {
    super.synth();
    if (!this.split) return;
    const written = fs.readdirSync(this.outdir);
    for (const chart of this.charts) {
      // Not `instanceof`: cdk8s' Chart answers it for any chart (Symbol.hasInstance), AirflowChart included.
      if (!Object.prototype.isPrototypeOf.call(AirflowChart.prototype, chart)) continue;
      const base = Names.toDnsLabel(chart);
      const file = written.find((f) => f === `${base}${this.outputFileExtension}` || f.replace(/^\d{4}-/, '') === `${base}${this.outputFileExtension}`);
      if (file === undefined) continue;
      const stem = file.slice(0, -this.outputFileExtension.length);
      const airflowChart = chart as AirflowChart;
      const objects = apiObjectsOf(chart);
      const json = chart.toJson();
      if (objects.length !== json.length) throw new Error(`AirflowApp: chart "${chart.node.path}" rendered ${json.length} objects for ${objects.length} ApiObjects`);
      const byFile = new Map<AirflowChartFile, unknown[]>(Object.values(AirflowChartFile).map((f) => [f, []]));
      objects.forEach((o, i) => byFile.get(airflowChartFileOf(airflowChart, o))!.push(json[i]));
      fs.rmSync(path.join(this.outdir, file));
      for (const [box, docs] of byFile) {
        if (docs.length > 0) Yaml.save(path.join(this.outdir, `${stem}-${box}${this.outputFileExtension}`), docs);
      }
    }
  }
}

/** The chart's ApiObjects in the order `chart.toJson()` renders them. */
function apiObjectsOf(chart: Chart): ApiObject[] {
  return new DependencyGraph(chart.node)
    .topology()
    .filter((x): x is ApiObject => x instanceof ApiObject)
    .filter((x) => Chart.of(x) === chart);
}
