// One runtime test file per namespace at a time. On the real node two test files can run side by side (jest's two
// workers, docs/runtime-tests.md "Two files at once") on one cluster and the machine's /data: each must deploy into a
// namespace of its own (AirflowChart's host folders follow the namespace), since a file deletes its namespace and
// removes its folders before its chart runs (what a crashed run left) and after. A second file that wants a namespace
// in use fails at once, naming the file that holds it, instead of deleting that file's deployment or its folders.
import * as fs from 'fs';
import * as path from 'path';
import { STATE_ROOT } from './kubelet';

/**
 * Where the claims are: machine-wide for the real node (its host folders are the machine's /data), the run's state
 * folder for the emulated kubelet (whose host folders are under it). AIRFLOW_CDK8S_NAMESPACE_CLAIMS sets it.
 */
export const NAMESPACE_CLAIMS =
  process.env.AIRFLOW_CDK8S_NAMESPACE_CLAIMS ?? (process.env.AIRFLOW_CDK8S_RUNTIME_NODE === 'real' ? '/tmp/airflow-cdk8s-realnode-namespaces' : STATE_ROOT);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Claims `namespace` for this process (a lock file in `dir`, NAMESPACE_CLAIMS) and returns its release.
 * Throws if a live process holds it; takes over the claim of a process that is gone (a crashed run).
 */
export function claimNamespace(dir: string, namespace: string, who: string): () => void {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `namespace-${namespace}.claim`);
  const mine = `${process.pid} ${who}`;
  for (;;) {
    try {
      fs.writeFileSync(file, mine, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const held = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      const pid = Number(held.split(' ')[0]);
      if (pid === process.pid) break;
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new Error(
          `namespace ${namespace} is in use by another runtime test file running beside this one (pid ${pid}: ${held.slice(held.indexOf(' ') + 1)}): ` +
            `on the real node two files run at once, so each file's chart needs a namespace of its own (docs/runtime-tests.md, "Two files at once")`,
        );
      }
      fs.rmSync(file, { force: true });
    }
  }
  return () => {
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === mine) fs.rmSync(file, { force: true });
  };
}
