// test/runtime/support/namespace-claim.ts: on the real node two runtime test files run at once; a file must not
// start in a namespace another running file holds (it would delete that file's deployment and folders first).
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { claimNamespace } from '../runtime/support/namespace-claim';

test('a namespace held by a live process is refused, naming it; one left by a process that is gone is taken over', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-claim-'));
  // a live holder: another process, as the jest worker beside this one
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  fs.writeFileSync(path.join(dir, 'namespace-airflow.claim'), `${holder.pid} default-chart.runtime.test.ts`);
  expect(() => claimNamespace(dir, 'airflow', 'celery.runtime.test.ts')).toThrow(
    /^namespace airflow is in use by another runtime test file running beside this one \(pid \d+: default-chart\.runtime\.test\.ts\): on the real node two files run at once/,
  );
  // another namespace is free
  const release = claimNamespace(dir, 'pgbouncer', 'pgbouncer.runtime.test.ts');
  expect(fs.readFileSync(path.join(dir, 'namespace-pgbouncer.claim'), 'utf8')).toBe(`${process.pid} pgbouncer.runtime.test.ts`);
  release();
  expect(fs.existsSync(path.join(dir, 'namespace-pgbouncer.claim'))).toBe(false);
  // the holder is gone (a crashed run): its claim is taken over
  holder.kill('SIGKILL');
  await new Promise((resolve) => holder.on('exit', resolve));
  const gone = spawnSync(process.execPath, ['-e', '0']).pid;
  fs.writeFileSync(path.join(dir, 'namespace-team-a.claim'), `${gone} team-a-custom-secret.runtime.test.ts`);
  claimNamespace(dir, 'airflow', 'celery.runtime.test.ts')();
  claimNamespace(dir, 'team-a', 'team-a-custom-secret.runtime.test.ts')();
  expect(fs.readdirSync(dir)).toEqual([]);
  fs.rmSync(dir, { recursive: true, force: true });
});
