// scripts/runtime/kubelet.py's cleanup (run by `kubelet.py stop` at the end of an emulated stage), run by the real
// interpreter with `os.kill` replaced by a recorder: it kills what is left of its own containers only. A container's
// record names its mount namespace by inode number; the kernel reuses those numbers once a namespace is gone, so the
// record of an init container that ended long ago may name a namespace that is now a real-node container's. The
// emulated stage runs beside the real node (.ci/run runs them so): on 2026-12-05 the network-policies stage's cleanup
// killed the pause and Airflow containers of a real-node run (real-node-git-sync-metrics: the api-server's and the
// scheduler's sandboxes died at the second that stage's kubelet stopped, with no StopPodSandbox from the real kubelet,
// and four containers restarted). So a record's namespace is its container's only while the container's recorded
// process is still in it.
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { python3 } from '../support/python';

const KUBELET = path.join(__dirname, '..', '..', 'scripts', 'runtime', 'kubelet.py');

/** The pids cleanup(state) would kill for the container records `records` (Network.down made a no-op). */
function killedBy(records: object[]): number[] {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'kubelet-cleanup-'));
  try {
    records.forEach((r, i) => {
      const dir = path.join(state, 'pods', `airflow_pod-${i}_0a1b2c3d`, 'containers');
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'c.json'), JSON.stringify(r));
    });
    const code = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("kubelet", sys.argv[1])
k = importlib.util.module_from_spec(spec)
spec.loader.exec_module(k)
killed = []
k.os.kill = lambda pid, sig: killed.append(pid)
k.Network.down = staticmethod(lambda: None)
k.cleanup(sys.argv[2])
print(json.dumps(sorted(set(killed))))
`;
    return JSON.parse(execFileSync(python3(), ['-c', code, KUBELET, state], { encoding: 'utf8' }));
  } finally {
    fs.rmSync(state, { recursive: true, force: true });
  }
}

test("cleanup kills the processes of a container's namespace while its recorded process is in it, and nothing of a reused one", async () => {
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const mntns = fs.statSync(`/proc/${sleeper.pid}/ns/mnt`).ino;
    // the recorded process is alive in the recorded namespace: its container is still there, its processes go
    expect(killedBy([{ pid: sleeper.pid, mntns }])).toContain(sleeper.pid);
    // the recorded process is gone and the namespace number now names another namespace (here the test's own):
    // nothing of it is the container's, nothing is killed
    const ended = execFileSync('sh', ['-c', 'sh -c "echo \\$\\$"'], { encoding: 'utf8' }).trim();
    expect(killedBy([{ pid: Number(ended), mntns }])).toEqual([]);
  } finally {
    sleeper.kill();
  }
});
