// One runtime test file per namespace at a time. On the real node two test files run side by side (jest's two
// workers, docs/runtime-tests.md "Two files at once"): each must deploy into a namespace of its own, since a file
// deletes its namespace before its chart runs (what a crashed run left) and after. A second file that wants a
// namespace in use fails at once, naming the file that holds it, instead of deleting that file's deployment.
import * as fs from 'fs';
import * as path from 'path';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Claims `namespace` for this process (a lock file in `dir`, the run's state folder) and returns its release.
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
