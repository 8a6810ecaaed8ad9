// Airflow 2 (2.7 to 2.11) still synthesizes and deploys as before, but synth warns that it is past its end of
// life upstream (apache/airflow README, "Version Life Cycle": Airflow 2 EOL/terminated Apr 22, 2026).
import { Testing } from 'cdk8s';
import { AirflowChart, AirflowGeneration, AirflowVersion } from '../../lib';
import { AIRFLOW_2_END_OF_LIFE } from '../../lib/core/airflow-generation';
import { AIRFLOW_2_END_OF_LIFE_WARNING, expectSynthWarns, expectWarns, find } from '../support';

const chart = (props: ConstructorParameters<typeof AirflowChart>[2]) => new AirflowChart(Testing.app(), 'airflow', props);

describe('Airflow 2 at synth', () => {
  test('an Airflow 2 image warns that Airflow 2 is past its end of life upstream, naming the date and the source', () => {
    expectSynthWarns(
      chart({ image: 'apache/airflow:2.11.0' }),
      'KubernetesExecutorAirflow at "airflow/airflow": Airflow 2.11.0 is Airflow 2, past its end of life upstream ' +
        '(2026-04-22, apache/airflow README "Version Life Cycle"): Apache Airflow publishes no more releases of it, security ' +
        'fixes included. It still deploys, but without what only Airflow 3 has here: task pods without database credentials ' +
        '(the execution API), the per-release configuration check. Plan the move to Airflow 3: see docs/airflow.md, "Airflow 2".',
    );
  });

  test('every supported Airflow 2 release warns, by tag or by airflowVersion, and still synthesizes its webserver', () => {
    for (const props of [{ image: 'apache/airflow:2.7.0' }, { image: 'apache/airflow:2.10.5-python3.11' }, { image: 'my-airflow:build-7', airflowVersion: '2.11.0' }]) {
      const objects = expectWarns(() => Testing.synth(chart(props)), AIRFLOW_2_END_OF_LIFE_WARNING);
      find(objects, 'Deployment', 'airflow-webserver');
    }
  });

  test('Airflow 3 warns nothing', () => {
    expectWarns(() => Testing.synth(chart({})));
    expectWarns(() => Testing.synth(chart({ image: 'apache/airflow:3.2.1' })));
  });

  test('the end of life is the generation\'s: Airflow 2 has one, Airflow 3 none', () => {
    expect(AirflowGeneration.AIRFLOW_2.endOfLife).toBe(AIRFLOW_2_END_OF_LIFE);
    expect(AIRFLOW_2_END_OF_LIFE).toBe('2026-04-22');
    expect(AirflowGeneration.AIRFLOW_3.endOfLife).toBeUndefined();
    expect(AirflowGeneration.AIRFLOW_2.defaultVersion).toEqual(AirflowVersion.of('2.11.0'));
  });
});
