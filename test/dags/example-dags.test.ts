// The example DAGs in dags/ compile, and agree with the worker pod template they run in.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Testing } from 'cdk8s';
import { AirflowChart } from '../../lib';
import { airflowChart, parseCfg } from '../support';
import { python3 } from '../support/python';

describe('the DAGs in dags/', () => {
  const dir = path.join(__dirname, '..', '..', 'dags');

  test('compile with Python', () => {
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.py')).map((f) => path.join(dir, f));
    expect(files.length).toBe(3);
    const code = 'import ast,sys\nfor f in sys.argv[1:]: ast.parse(open(f).read(), f)';
    expect(() => execFileSync(python3(), ['-c', code, ...files], { stdio: 'pipe' })).not.toThrow();
  });

  test('the example writes into the data volume and the resources example overrides the container named base', () => {
    const write = fs.readFileSync(path.join(dir, 'write_to_data_volume.py'), 'utf8');
    const { airflow } = airflowChart();
    const pod: any = airflow.workerPodTemplate;
    const dataMount = pod.spec.containers[0].volumeMounts.find((m: any) => m.name === 'data').mountPath;
    expect(write).toContain(`DATA_DIR = "${dataMount}"`);
    const resourcesDag = fs.readFileSync(path.join(dir, 'per_task_resources.py'), 'utf8');
    expect(resourcesDag).toContain('executor_config={"pod_override": HEAVIER_POD}');
    expect(resourcesDag).toContain(`name="${pod.spec.containers[0].name}"`);
  });

  test('hybrid_executors sends quick_check to the CeleryExecutor where [core] executor lists it, in_its_own_pod to the default', () => {
    const dag = fs.readFileSync(path.join(dir, 'hybrid_executors.py'), 'utf8');
    expect(dag).toContain('QUICK_EXECUTOR = "CeleryExecutor" if "CeleryExecutor" in conf.get("core", "executor") else None');
    expect(dag).toContain('@task(executor=QUICK_EXECUTOR)\n    def quick_check(');
    expect(dag).toContain('@task\n    def in_its_own_pod(');
    // defined in every deployment (the runtime stage expects a DAG per file; elsewhere quick_check gets a pod)
    expect(dag).toContain('dag_id="hybrid_executors"');
    expect(dag).toContain('DATA_DIR = "/opt/airflow/data"');
    // [core] executor as the charts write it: the check finds the CeleryExecutor with celery only
    const executor = (props: object) =>
      parseCfg(Testing.synth(new AirflowChart(Testing.app(), 'airflow', props)).find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'airflow-config').data['airflow.cfg']).core.executor;
    expect(executor({ celery: {} }).includes('CeleryExecutor')).toBe(true);
    expect(executor({}).includes('CeleryExecutor')).toBe(false);
  });
});
