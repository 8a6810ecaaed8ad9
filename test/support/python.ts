// The Python interpreter the tests that run Python use (the secrets bootstrap script, webserver_config.py, the
// example DAGs): the one `python3` on PATH runs, called by its own path.
//
// Where `python3` is a pyenv shim (as on the development machine), each call of it starts a dozen processes
// (bash scripts that find the version, readlink, the hooks) before Python: about 50 ms of CPU against 10 ms for
// Python itself, over the 15 runs of npm test about 0.75 s. So the interpreter is asked once per jest run which
// executable it is (`sys.executable`: what the shim, or PATH, would have started) and the answer is kept in the
// run's scratch TMPDIR (jest.config.js) for the other files and workers. Where `python3` is Python itself, that
// is its own path; where it cannot be started, `python3` is returned and the test fails as it did.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

let resolved: string | undefined;

/** The path of the interpreter `python3` on PATH starts (or `python3` when it does not start). */
export function python3(): string {
  if (resolved !== undefined) return resolved;
  const scratch = process.env.AIRFLOW_CDK8S_SCRATCH_TMPDIR;
  const kept = scratch ? path.join(scratch, 'python3-executable') : undefined;
  try {
    if (kept) resolved = fs.readFileSync(kept, 'utf8');
  } catch {
    // not asked yet in this run
  }
  if (!resolved) {
    try {
      resolved = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      resolved = '';
    }
    if (!resolved || !path.isAbsolute(resolved)) resolved = 'python3';
    else if (kept) {
      // written whole then renamed: another worker reading it meanwhile finds it whole or not at all
      fs.writeFileSync(`${kept}.${process.pid}.tmp`, resolved);
      fs.renameSync(`${kept}.${process.pid}.tmp`, kept);
    }
  }
  return resolved;
}
