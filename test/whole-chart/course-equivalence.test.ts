import * as fs from 'fs';
import * as path from 'path';
import { Testing } from 'cdk8s';
import { parseAllDocuments } from 'yaml';
import { AirflowChart } from '../../lib';
import { leaves } from '../support';

/**
 * The course created, by hand, a namespace, three hostPath volumes and their claims. The volumes part of
 * our default chart must carry the same objects, names, paths, sizes and modes; every field we add is an
 * intentional difference, listed here with its reason, and anything else that differs fails the test.
 */
const course: any[] = parseAllDocuments(
  fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'course-volumes.yaml'), 'utf8'),
).map((d) => d.toJSON());

const INTENTIONAL_DIFFERENCES: Record<string, Record<string, string>> = {
  PersistentVolume: {
    'spec.claimRef': 'pins the volume to its own claim: no other claim can bind it',
    'spec.storageClassName': 'a class no provisioner serves: the default StorageClass cannot take the claim',
    'spec.persistentVolumeReclaimPolicy': 'Retain, explicitly: deleting a claim never deletes DAGs, logs or data',
    'spec.volumeMode': 'Filesystem, explicitly, as the API server would default it',
    'spec.hostPath.type': 'DirectoryOrCreate: the pod starts even before `minikube mount` created the folder',
    'metadata.labels': 'labels so the objects can be selected and reviewed',
  },
  PersistentVolumeClaim: {
    'spec.volumeName': 'pins the claim to its own volume: a look-alike Available volume cannot take it',
    'spec.storageClassName': 'the same unserved class as its volume, so no dynamic provisioning happens',
    'spec.volumeMode': 'Filesystem, explicitly, as the API server would default it',
    'metadata.labels': 'labels so the objects can be selected and reviewed',
  },
  Namespace: {
    'metadata.labels': 'part-of label and the Pod Security Standard labels the workloads meet',
  },
};

/** Every leaf path of an object, as "a.b.c" -> value (arrays are leaves). */
const leavesOf = (value: unknown) => leaves(value, { arraysAsLeaves: true });

const ours = Testing.synth(new AirflowChart(Testing.app(), 'airflow')).filter((o) =>
  ['Namespace', 'PersistentVolume', 'PersistentVolumeClaim'].includes(o.kind) && !o.metadata.name.includes('postgres'),
);
const key = (o: any) => `${o.kind}/${o.metadata.name}`;

test('the same objects as the course file', () => {
  expect(ours.map(key).sort()).toEqual(course.map(key).sort());
});

describe.each(course.map((o) => [key(o), o]))('%s', (_name, expected: any) => {
  const actual = ours.find((o) => key(o) === key(expected));
  const allowed = INTENTIONAL_DIFFERENCES[expected.kind] ?? {};
  const isAllowed = (p: string) => Object.keys(allowed).some((a) => p === a || p.startsWith(`${a}.`));

  test('every field of the course file has the same value', () => {
    for (const [p, v] of leavesOf(expected)) {
      expect({ path: p, value: leavesOf(actual).get(p) }).toEqual({ path: p, value: v });
    }
  });

  test('every field we add is a listed, intentional difference', () => {
    const extra = [...leavesOf(actual).keys()].filter((p) => !leavesOf(expected).has(p) && !isAllowed(p));
    expect(extra).toEqual([]);
  });

  test('the intentional differences are present (the list is not stale)', () => {
    for (const p of Object.keys(allowed).filter((a) => a !== 'metadata.labels')) {
      expect({ path: p, present: [...leavesOf(actual).keys()].some((l) => l === p || l.startsWith(`${p}.`)) }).toEqual({
        path: p,
        present: true,
      });
    }
  });
});

describe("dist/'s storage file, read on its own (issue #23 item 6)", () => {
  const file = path.join(__dirname, '..', '..', 'dist', 'airflow-0-storage.k8s.yaml');
  const stored: any[] = parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJSON());

  test('holds exactly the objects of the course file, the Namespace first', () => {
    expect(stored.map(key)).toEqual(['Namespace/airflow', ...stored.slice(1).map(key)]);
    expect(stored.map(key).sort()).toEqual(course.map(key).sort());
  });

  test('each one as the chart synthesizes it (so the field-by-field comparison above is about this file)', () => {
    for (const o of stored) expect(o).toEqual(ours.find((x) => key(x) === key(o)));
  });
});
