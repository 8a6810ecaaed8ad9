// scripts/runtime/kubelet.py's Network.down, run by the real interpreter with its `run` replaced by a recorder:
// at the start and end of an emulated stage it removes the network namespaces of its own pods only. The real node
// (scripts/runtime/real-node.sh, namespace acdk8s-realnode) may run beside that stage, as .ci/run runs them: the
// emulated stage used to delete every namespace whose name began with acdk8s-, the real node's included, and its
// kube-proxy then never became healthy (CI rehearsal of d008c28, 2026-12-05).
import { execFileSync } from 'child_process';
import * as path from 'path';
import { python3 } from '../support/python';

const KUBELET = path.join(__dirname, '..', '..', 'scripts', 'runtime', 'kubelet.py');

/** The commands Network.down runs when `ip netns list` prints `namespaces`. */
function downCommands(namespaces: string[]): string[][] {
  const code = `
import importlib.util, json, sys, types
spec = importlib.util.spec_from_file_location("kubelet", sys.argv[1])
k = importlib.util.module_from_spec(spec)
spec.loader.exec_module(k)
ran = []
def run(cmd, check=True, quiet=False):
    ran.append(cmd)
    return types.SimpleNamespace(stdout=sys.argv[2] if cmd[:3] == ["ip", "netns", "list"] else "", returncode=0)
k.run = run
k.Network.down()
print(json.dumps(ran))
`;
  return JSON.parse(execFileSync(python3(), ['-c', code, KUBELET, namespaces.join('\n')], { encoding: 'utf8' }));
}

test("Network.down deletes its pods' namespaces and leaves the real node's", () => {
  const ran = downCommands(['acdk8s-realnode (id: 3)', 'acdk8s-0a1b2c3d (id: 4)', 'acdk8s-ffff0000', 'cni-1234', 'acdk8s-0a1b2c3d9']);
  const deleted = ran.filter((c) => c.slice(0, 3).join(' ') === 'ip netns delete').map((c) => c[3]);
  expect(deleted).toEqual(['acdk8s-0a1b2c3d', 'acdk8s-ffff0000']);
  // and the bridge of the emulated stage's pod network
  expect(ran).toContainEqual(['ip', 'link', 'delete', 'acdk8s0']);
});
