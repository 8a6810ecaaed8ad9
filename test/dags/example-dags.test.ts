// The example DAGs in dags/ compile, and agree with the worker pod template they run in.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { airflowChart } from '../support';

describe('the DAGs in dags/', () => {
  const dir = path.join(__dirname, '..', '..', 'dags');

  test('compile with Python', () => {
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.py')).map((f) => path.join(dir, f));
    expect(files.length).toBe(2);
    const code = 'import ast,sys\nfor f in sys.argv[1:]: ast.parse(open(f).read(), f)';
    expect(() => execFileSync('python3', ['-c', code, ...files], { stdio: 'pipe' })).not.toThrow();
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
});
