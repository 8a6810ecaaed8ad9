// renderingOnce (lib/core/render-once.ts): during one synth, each object is rendered once, though the Namespace's
// Pod Security walk reads every pod of the app (issue #25 item 3: it used to render each pod-bearing object twice).
import { ApiObject, Testing } from 'cdk8s';
import { AirflowChart } from '../../lib';
import { renderingOnce } from '../../lib/core';
import { synthesizedManifests, validationReport } from '../../validation';
import { testChart } from '../support';

/** How many times each ApiObject is rendered while `fn` runs, by construct path. */
function renders(fn: () => unknown): Map<string, number> {
  const counts = new Map<string, number>();
  const original = ApiObject.prototype.toJson;
  const spy = jest.spyOn(ApiObject.prototype, 'toJson').mockImplementation(function (this: ApiObject) {
    counts.set(this.node.path, (counts.get(this.node.path) ?? 0) + 1);
    return original.call(this);
  });
  try {
    fn();
  } finally {
    spy.mockRestore();
  }
  return counts;
}

describe('one synth of an AirflowChart renders each object once', () => {
  test('Testing.synth: every object once, the pods the Namespace walk reads included', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow');
    const counts = renders(() => Testing.synth(chart));
    expect(counts.get('airflow/airflow/scheduler/deployment')).toBe(1);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(counts.size).toBe(chart.node.findAll().filter((c) => c instanceof ApiObject).length);
  });

  test('validationReport and synthesizedManifests too', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow');
    const counts = renders(() => {
      synthesizedManifests(chart);
    });
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(validationReport(chart)).toEqual([]);
  });

  test('the objects render as before afterwards: no toJson is left on them, and the next synth gives the same YAML', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow');
    const before = Testing.synth(chart);
    const objects = chart.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject);
    // AirflowNamespace wraps its own toJson (to compute its labels once per synth): that one stays
    expect(objects.filter((o) => Object.prototype.hasOwnProperty.call(o, 'toJson')).map((o) => o.node.path)).toEqual(['airflow/namespace/resource']);
    expect(Testing.synth(chart)).toEqual(before);
  });
});

test('renderingOnce: the first JSON is kept while it runs; later renders are fresh', () => {
  const chart = testChart();
  const cm = new ApiObject(chart, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', data: { a: '1' } });
  const inside = renderingOnce([cm], () => {
    const first = cm.toJson();
    cm.addJsonPatch();
    return [first, cm.toJson()];
  });
  expect(inside[0]).toBe(inside[1]);
  expect(cm.toJson()).not.toBe(inside[0]);
  expect(cm.toJson()).toEqual(inside[0]);
  expect(Object.prototype.hasOwnProperty.call(cm, 'toJson')).toBe(false);
});
