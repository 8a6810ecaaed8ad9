// scripts/runtime/images/oci_layer.py, the layer writer of build-images.sh's two layouts (issue #27's images):
// the same files give the same layer, whenever they were written, and the root's mount points stay out of it.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { python3 } from '../support/python';

const MODULE_DIR = path.join(__dirname, '..', '..', 'scripts', 'runtime', 'images');

/** oci_layer.layer(blobs, dir, *extra) run by python3: [the layer's digest, its diff_id]. */
function layer(dir: string, ...extra: string[]): [string, string] {
  const blobs = fs.mkdtempSync(path.join(os.tmpdir(), 'oci-blobs-'));
  const script = `import json, sys; sys.path.insert(0, sys.argv[1]); import oci_layer
d, diff_id = oci_layer.layer(sys.argv[2], sys.argv[3], *sys.argv[4:])
print(json.dumps([d["digest"], diff_id]))`;
  const r = spawnSync(python3(), ['-c', script, MODULE_DIR, blobs, dir, ...extra], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  fs.rmSync(blobs, { recursive: true, force: true });
  return JSON.parse(r.stdout);
}

/** A folder with an entrypoint-like file and a subfolder, written now. */
function writeTree(root: string): string {
  fs.mkdirSync(path.join(root, 'usr', 'bin'), { recursive: true });
  fs.writeFileSync(path.join(root, 'entrypoint'), '#!/bin/sh\nexec "$@"\n', { mode: 0o755 });
  fs.writeFileSync(path.join(root, 'usr', 'bin', 'tool'), 'x'.repeat(4096), { mode: 0o755 });
  return root;
}

describe('oci_layer.layer', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oci-layer-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('the same files written at two times give the same layer (no atime or ctime in the pax headers)', () => {
    const first = layer(writeTree(path.join(tmp, 'a')), '--owner=0', '--group=0');
    const second = writeTree(path.join(tmp, 'b'));
    // another ctime and atime for every file of the second copy
    const later = new Date(Date.now() + 3_600_000);
    for (const f of ['entrypoint', 'usr/bin/tool', 'usr/bin', 'usr']) {
      fs.utimesSync(path.join(second, f), later, later);
      fs.chmodSync(path.join(second, f), fs.statSync(path.join(second, f)).mode & 0o7777);
    }
    expect(layer(second, '--owner=0', '--group=0')).toEqual(first);
    expect(first[0]).toMatch(/^sha256:[0-9a-f]{64}$/);
    // the content counts
    fs.writeFileSync(path.join(second, 'entrypoint'), '#!/bin/sh\nexec "$@" # changed\n');
    expect(layer(second, '--owner=0', '--group=0')[0]).not.toBe(first[0]);
  });

  test('ROOT_EXCLUDES keep the mount points\' contents and the root\'s marker out', () => {
    const root = writeTree(path.join(tmp, 'root'));
    const bare = layer(root);
    for (const d of ['proc', 'sys', 'dev', 'tmp']) fs.mkdirSync(path.join(root, d));
    const excludes = spawnSync(python3(), ['-c', 'import sys; sys.path.insert(0, sys.argv[1]); import oci_layer; print("\\n".join(oci_layer.ROOT_EXCLUDES))', MODULE_DIR], {
      encoding: 'utf8',
    }).stdout.trim().split('\n');
    const withDirs = layer(root, ...excludes);
    for (const d of ['proc', 'sys', 'dev', 'tmp']) fs.writeFileSync(path.join(root, d, 'junk'), 'x');
    fs.writeFileSync(path.join(root, '.airflow-cdk8s-root'), 'marker');
    // the junk and the marker are not in the layer: the same as the empty folders alone; without the excludes they are
    expect(layer(root, ...excludes)).toEqual(withDirs);
    expect(layer(root)).not.toEqual(withDirs);
    expect(withDirs).not.toEqual(bare);
  });
});
