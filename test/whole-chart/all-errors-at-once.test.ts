// Issue #23 item 3: every problem of one synth at once, one line each (construct path, property, value, what
// is allowed, suggestion), the cdk8s way: the constructs record what they refuse, and synth fails once with all.
import { App, Chart, Testing } from 'cdk8s';
import {
  AirflowCdk8sValidationError,
  AirflowCdk8sValidationErrors,
  AirflowChart,
  AirflowChartProps,
  AirflowVolumes,
  KubernetesExecutorAirflow,
  MetadataDb,
  RemoteLogging,
  addAirflowFeatures,
  userErrorMessage,
} from '../../lib';

/** Five mistakes, each refused by another construct of the chart. */
const FIVE_MISTAKES = {
  paralelism: 8, // AirflowChart: a prop it does not declare
  parallelism: 0, // KubernetesExecutorAirflow
  adminUsername: 'admin user', // AdminUser
  gitSync: { repository: 'git://example.com/dags.git' }, // GitSyncDags
  celery: { queues: ['a,b'] }, // CeleryWorkers
} as unknown as AirflowChartProps;

/** What building an app with `build` and synthesizing it throws (fails the test when nothing is thrown). */
function synthError(build: (app: App) => void): unknown {
  const app = Testing.app();
  try {
    build(app);
    app.synth();
  } catch (error) {
    return error;
  }
  throw new Error('expected the synth to fail');
}

describe('every problem of a synth at once', () => {
  test('five mistakes in five constructs: construction goes on, and synth fails once with all five', () => {
    let chart: AirflowChart | undefined;
    const error = synthError((app) => {
      chart = new AirflowChart(app, 'airflow', FIVE_MISTAKES); // does not throw: each problem is recorded
    });
    expect(chart).toBeDefined();
    expect(error).toBeInstanceOf(AirflowCdk8sValidationErrors);
    const { problems, others, message } = error as AirflowCdk8sValidationErrors;
    // Each problem keeps its fields: the construct, its path, the property, the value.
    expect(problems.map((p) => [p.constructName, p.constructPath, p.property, p.received])).toEqual([
      ['AirflowChart', 'airflow', 'paralelism', 8],
      ['KubernetesExecutorAirflow', 'airflow/airflow', 'parallelism', 0],
      ['AdminUser', 'airflow/airflow/admin-user', 'username', 'admin user'],
      ['GitSyncDags', 'airflow/airflow/git-sync', 'repository', 'git://example.com/dags.git'],
      ['CeleryWorkers', 'airflow/airflow/celery', 'queues[0]', 'a,b'],
    ]);
    for (const p of problems) expect(p).toBeInstanceOf(AirflowCdk8sValidationError);
    expect(others).toEqual([]);
    // One line each, cdk8s's words: "[construct path] message", the messages as they always were.
    expect(message.split('\n')).toEqual([
      'Validation failed with the following errors:',
      ...problems.map((p) => `  [${p.constructPath}] ${p.message}`),
    ]);
    expect(message).toContain(
      '  [airflow/airflow] KubernetesExecutorAirflow at "airflow/airflow": property "parallelism" received 0; allowed: a whole number from 1 to 10000.\n',
    );
    expect(message).toMatch(/property "paralelism" received 8; allowed: a prop of AirflowChartProps \(.*\)\. Did you mean "parallelism"\?\n/);
    // The entry point prints it as it is (no stack trace: main.ts, test/main.test.ts).
    expect(userErrorMessage(error)).toBe(message);
  });

  test('Testing.synth(chart) throws the same, and a fixed chart synthesizes', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow', FIVE_MISTAKES);
    expect(() => Testing.synth(chart)).toThrow(AirflowCdk8sValidationErrors);
    expect(() => Testing.synth(new AirflowChart(Testing.app(), 'airflow', { gitSync: { repository: 'https://example.com/dags.git' }, celery: {} }))).not.toThrow();
  });

  test('the same mistake seen by the chart and by the construct it passes it to is reported once', () => {
    // The chart checks the image and its nested props, then passes them on: the control plane sees the same.
    const error = synthError((app) => new AirflowChart(app, 'airflow', { image: 'apache/airflow', scheduler: { replica: 2 } } as never));
    expect((error as AirflowCdk8sValidationErrors).problems.map((p) => `${p.constructName} ${p.property}`)).toEqual([
      'AirflowChart scheduler.replica',
      'AirflowChart image',
    ]);
  });

  test('with the synth-time checks of the app: problems first, then the other failed validations', () => {
    const error = synthError((app) => {
      new AirflowChart(app, 'team-a', { namespace: 'team', parallelism: 0 });
      new AirflowChart(app, 'team-b', { namespace: 'team', hostRoot: '/data/b' }); // a second control plane in "team"
    });
    const { problems, others } = error as AirflowCdk8sValidationErrors;
    expect(problems.map((p) => `${p.constructPath} ${p.property}`)).toEqual(['team-a/airflow parallelism']);
    expect(others).toContainEqual(expect.stringMatching(/^\[team-b\/airflow\] KubernetesExecutorAirflow at "team-b\/airflow": property "Chart\.namespace" received "team"/));
    expect((error as Error).message.split('\n')).toHaveLength(1 + problems.length + others.length);
  });

  test('composed by hand: the parts the library builds are collected too; a construct you build stops at its own first problem', () => {
    const app = Testing.app();
    const chart = new Chart(app, 'team', { namespace: 'airflow', disableResourceNameHashes: true });
    const volumes = new AirflowVolumes(chart, 'volumes');
    const database = new MetadataDb(chart, 'db');
    const airflow = new KubernetesExecutorAirflow(chart, 'airflow', { volumes, database, parallelism: 0, adminEmail: 'a@example.com; rm -rf /' });
    addAirflowFeatures(airflow, { gitSync: { repository: 'http://example.com/dags.git' }, metrics: true });
    const error = synthError(() => app.synth());
    expect((error as AirflowCdk8sValidationErrors).problems.map((p) => `${p.constructPath} ${p.property}`)).toEqual([
      'team/airflow parallelism',
      'team/airflow/admin-user email',
      'team/airflow/git-sync repository',
    ]);
    // A construct built by your own code that cannot go on throws, with what was recorded before it.
    let thrown: unknown;
    try {
      new AirflowVolumes(chart, 'more', { volumes: [{ name: 'Dags' }] });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(AirflowCdk8sValidationError);
    expect(userErrorMessage(thrown)!.split('\n').map((l) => l.replace(/\] .*/, ']'))).toEqual([
      'Validation failed with the following errors:',
      '  [team/airflow]',
      '  [team/airflow/admin-user]',
      '  [team/airflow/git-sync]',
      '  [team/more]',
    ]);
  });

  test('no second message caused by the first: a refused image is not replaced by the default (whose version would differ)', () => {
    const lines = (props: object) =>
      (synthError((app) => new AirflowChart(app, 'airflow', props as AirflowChartProps)) as AirflowCdk8sValidationErrors).problems.map(
        (p) => `${p.constructPath} ${p.property}`,
      );
    // Before the fix of this test, the first two also said 'airflowVersion "2.11.0" is not the version the image names (3.1.3)'.
    expect(lines({ image: 'Apache/Airflow:2.11.0', airflowVersion: '2.11.0' })).toEqual(['airflow image']);
    expect(lines({ image: 'apache/airflow:slim-2.11.0', airflowVersion: '2.11.0' })).toEqual(['airflow/airflow image']);
    expect(lines({ imagePullPolicy: 'always', prePullImages: true })).toEqual(['airflow imagePullPolicy']);
  });

  test('a refused feature does not make the checks of what it supplies blame the volumes', () => {
    const lines = (props: object) =>
      (synthError((app) => new AirflowChart(app, 'airflow', props as AirflowChartProps)) as AirflowCdk8sValidationErrors).message
        .split('\n')
        .slice(1)
        .map((l) => l.replace(/ received .*/, ''));
    // Before, each also said that the volumes lack what the feature would have supplied ("volumes" received ...).
    expect(lines({ volumes: [{ name: 'dags' }, { name: 'logs', emptyDir: true }], remoteLogging: RemoteLogging.s3({ bucket: 'AKIAEXAMPLE:secret@logs' }) })).toEqual([
      '  [airflow/airflow] KubernetesExecutorAirflow at "airflow/airflow": property "remoteLogging.bucket"',
    ]);
    expect(lines({ gitSync: { repository: 'git://example.com/dags.git' }, volumes: [{ name: 'logs' }] })).toEqual([
      '  [airflow/airflow/git-sync] GitSyncDags at "airflow/airflow/git-sync": property "repository"',
    ]);
  });

  test('a refused volume does not hide the control plane\'s own checks, made before it reads the volumes', () => {
    const error = synthError((app) => new AirflowChart(app, 'airflow', { volumes: [{ name: 'dags', size: '5GB' }], parallelism: 0 }));
    expect((error as AirflowCdk8sValidationErrors).problems.map((p) => `${p.constructPath} ${p.property}`)).toEqual([
      'airflow/volumes volumes[0].size',
      'airflow/airflow parallelism',
    ]);
  });

  test('a construct that could not be built is not read: what reads it stops without a second message', () => {
    // A refused scheduler replica count leaves the scheduler incomplete; what reads it (the pod launcher's Role
    // binding, the features) stops, silently: one problem, reported once.
    const error = synthError((app) => new AirflowChart(app, 'airflow', { scheduler: { replicas: 0 }, metrics: true }));
    expect((error as AirflowCdk8sValidationErrors).problems.map((p) => `${p.constructName} ${p.property} ${JSON.stringify(p.received)}`)).toEqual([
      'AirflowComponent replicas 0',
    ]);
  });
});
