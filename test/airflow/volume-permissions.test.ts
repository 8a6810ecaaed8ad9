import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Testing } from 'cdk8s';
import { AirflowChart, AirflowChartProps, RemoteLogging, StorageProvisioning } from '../../lib';
import { VOLUME_PERMISSIONS_MARKER } from '../../lib/airflow/volume-permissions';
import { errorOf } from '../support';
import { volumePermissionsPodViolations } from '../support/pod-checks';

// Issue #21: the permissions Job never takes over a folder that already holds files it did not create. Its
// script runs here for real, on temporary folders, with bash and coreutils, as the container runs it: root
// with only the CHOWN and FOWNER capabilities (setpriv), so every chown and chmod is real.
const objects = Testing.synth(new AirflowChart(Testing.app(), 'airflow'));
const job = objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-volume-permissions-'));
const [shell, flag, script, name] = job.spec.template.spec.containers[0].command;

const AS_THE_CONTAINER = ['--reuid=0', '--regid=0', '--clear-groups', '--inh-caps=-all,+chown,+fowner', '--bounding-set=-all,+chown,+fowner', '--no-new-privs'];
const root = process.getuid?.() === 0;
const testAsRoot = root ? test : test.skip;

let dir = '';
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'volume-permissions-'));
  fs.chmodSync(dir, 0o755);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A folder as the kubelet makes it (root:root 0755), with files in it owned by root. */
function folder(folderName: string, files: Record<string, string> = {}): string {
  const d = path.join(dir, folderName);
  fs.mkdirSync(d, { mode: 0o755 });
  for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(d, file), text);
  return d;
}

/** Runs the Job's script on folders (each given as itself and as "/data/<name>" on the node). */
function run(...folders: string[]): { code: number; stdout: string; stderr: string } {
  const args = folders.flatMap((d) => [d, `/data/${path.basename(d)}`]);
  const r = spawnSync('setpriv', [...AS_THE_CONTAINER, shell, flag, script, name, ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const ownerOf = (d: string) => {
  const st = fs.statSync(d);
  return `${st.uid}:${st.gid} ${(st.mode & 0o777).toString(8)}`;
};

describe('the volume-permissions Job\'s script, run for real', () => {
  test('the Job runs it with bash -c, each folder given as mounted and as on the node', () => {
    expect([shell, flag, name]).toEqual(['bash', '-c', 'volume-permissions']);
    expect(script).not.toContain('$('); // the kubelet would expand it
  });

  testAsRoot('an empty folder is taken over: marked, then given to 50000:0, mode 0775', () => {
    const logs = folder('logs');
    const r = run(logs);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toBe(`/data/logs: was 0:0, now 50000:0 mode 0775 (it was empty: marked with ${VOLUME_PERMISSIONS_MARKER})\n`);
    expect(ownerOf(logs)).toBe('50000:0 775');
    expect(fs.readFileSync(path.join(logs, VOLUME_PERMISSIONS_MARKER), 'utf8')).toMatch(/^Created by the airflow-cdk8s volume-permissions Job/);
    // Airflow's user, as the pods run it, may then write (and remove) files there.
    execFileSync('setpriv', ['--reuid=50000', '--regid=0', '--clear-groups', '--inh-caps=-all', 'sh', '-c', `echo log > ${logs}/task.log`]);
  });

  testAsRoot('a folder that holds files it did not create is left as it is, and the Job fails saying which and why', () => {
    const etc = folder('etc', { passwd: 'root:x:0:0::/root:/bin/bash\n' });
    const r = run(etc);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `/data/etc: NOT taken over: it belongs to 0:0 and holds files this Job did not create (such as passwd) and no ${VOLUME_PERMISSIONS_MARKER} file. ` +
        `Give it to uid 50000 gid 0 yourself (chown 50000:0 /data/etc on the node), or create /data/etc/${VOLUME_PERMISSIONS_MARKER} ` +
        'if the folder is Airflow\'s, or use another hostRoot (docs/secrets-and-security.md).\n',
    );
    expect(ownerOf(etc)).toBe('0:0 755');
    expect(fs.readdirSync(etc)).toEqual(['passwd']);
  });

  testAsRoot('a hidden file counts as a file', () => {
    const data = folder('data', { '.keep': '' });
    expect(run(data).code).toBe(1);
    expect(ownerOf(data)).toBe('0:0 755');
  });

  testAsRoot('a refused folder does not stop the others: they are taken over, and the Job still fails', () => {
    const busy = folder('busy', { 'notes.txt': 'mine' });
    const dags = folder('dags');
    const r = run(busy, dags);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^\/data\/busy: NOT taken over/);
    expect(r.stdout).toMatch(/^\/data\/dags: was 0:0, now 50000:0 mode 0775/);
    expect([ownerOf(busy), ownerOf(dags)]).toEqual(['0:0 755', '50000:0 775']);
    // The pod restarts (restartPolicy OnFailure): the folder it took over is Airflow's now, the other still refused.
    const again = run(busy, dags);
    expect([again.code, again.stdout]).toEqual([1, '/data/dags: already 50000:0\n']);
  });

  testAsRoot('a folder with its marker (taken over before, its owner since reset) is taken over again, files and all', () => {
    const logs = folder('logs', { [VOLUME_PERMISSIONS_MARKER]: 'x', 'old.log': 'log' });
    const r = run(logs);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toBe(`/data/logs: was 0:0, now 50000:0 mode 0775 (it carries ${VOLUME_PERMISSIONS_MARKER}: taken over before)\n`);
    expect(ownerOf(logs)).toBe('50000:0 775');
    // Only the folder itself: the files keep their owner.
    expect(fs.statSync(path.join(logs, 'old.log')).uid).toBe(0);
  });

  testAsRoot('the way out the message gives: the user creates the marker, and the next run takes the folder over', () => {
    const data = folder('data', { 'input.csv': 'a,b' });
    expect(run(data).code).toBe(1);
    fs.writeFileSync(path.join(data, VOLUME_PERMISSIONS_MARKER), '');
    expect(run(data).code).toBe(0);
    expect(ownerOf(data)).toBe('50000:0 775');
  });

  testAsRoot('a folder already 50000:0 is left alone, files or not, and gets no marker', () => {
    const dags = folder('dags', { 'dag.py': 'print()' });
    fs.chownSync(dags, 50000, 0);
    const r = run(dags);
    expect([r.code, r.stdout]).toEqual([0, '/data/dags: already 50000:0\n']);
    expect([ownerOf(dags), fs.readdirSync(dags)]).toEqual(['50000:0 755', ['dag.py']]);
  });

  testAsRoot('a folder owned by another user, empty: taken over although root may not write into it (no DAC_OVERRIDE)', () => {
    const other = folder('other');
    fs.chownSync(other, 1000, 1000);
    const r = run(other);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(ownerOf(other)).toBe('50000:0 775');
    expect(fs.existsSync(path.join(other, VOLUME_PERMISSIONS_MARKER))).toBe(true);
  });
});

// Issue #20: on a ReadWriteMany share whose root is root:root 0755 (a static NFS export, Filestore) neither
// git-sync nor Airflow (uid 50000, gid 0) can write, and fsGroup does not apply to most ReadWriteMany drivers.
// fixVolumePermissions: true gives the claims' roots the same treatment; with a StorageClass it is off by default.
describe('with a StorageClass: the claims\' roots, when asked for', () => {
  const efs = StorageProvisioning.storageClass('efs-sc');
  const jobOf = (props: AirflowChartProps) =>
    Testing.synth(new AirflowChart(Testing.app(), 'airflow', props)).find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-volume-permissions-'));

  test('off by default: a driver may own the root already (an EFS access point), and the Job needs Pod Security baseline', () => {
    expect(jobOf({ provisioning: efs })).toBeUndefined();
    expect(jobOf({ provisioning: efs, fixVolumePermissions: false })).toBeUndefined();
  });

  test('on: it mounts every claim the library creates (ReadWriteMany), never an existing claim nor an emptyDir', () => {
    const claimJob = jobOf({
      provisioning: efs,
      fixVolumePermissions: true,
      volumes: [{ name: 'dags' }, { name: 'logs', emptyDir: true }, { name: 'data', existingClaim: 'team-data' }, { name: 'plugins' }],
      remoteLogging: RemoteLogging.s3({ bucket: 'logs' }),
    });
    const spec = claimJob.spec.template.spec;
    expect(spec.volumes).toEqual([
      { name: 'dags', persistentVolumeClaim: { claimName: 'airflow-dags-claim' } },
      { name: 'plugins', persistentVolumeClaim: { claimName: 'airflow-plugins-claim' } },
    ]);
    const [bash, c, claimScript, label, ...args] = spec.containers[0].command;
    expect([bash, c, label]).toEqual(['bash', '-c', 'volume-permissions']);
    expect(args).toEqual(['/volumes/dags', 'airflow-dags-claim', '/volumes/plugins', 'airflow-plugins-claim']);
    expect(claimScript).not.toBe(script); // no file system is "a host mount" here: the claim is the share
    expect(claimScript).not.toContain('$(');
    expect(volumePermissionsPodViolations(spec)).toEqual([]);
  });

  test('not a boolean: refused', () => {
    expect(errorOf(() => jobOf({ fixVolumePermissions: 'yes' as any }))).toMatch(/property "fixVolumePermissions" received "yes"; allowed: true or false\.$/);
  });

  test('asked for with no claim created here: refused at synth', () => {
    const chart = new AirflowChart(Testing.app(), 'airflow', {
      provisioning: efs,
      fixVolumePermissions: true,
      volumes: [{ name: 'dags', existingClaim: 'team-dags' }, { name: 'logs', emptyDir: true }],
      remoteLogging: RemoteLogging.s3({ bucket: 'logs' }),
    });
    expect(errorOf(() => Testing.synth(chart))).toContain(
      'KubernetesExecutorAirflow at "airflow/airflow": property "fixVolumePermissions" received true; allowed: false (or unset) when no volume of ' +
        'airflow/volumes is a claim created here (dags: existing claim team-dags, logs: emptyDir): the Job fixes the roots of the claims the library ' +
        'creates, never an existing claim (its access modes are not known) nor an emptyDir.',
    );
  });
});

describe('the claims\' script, run for real', () => {
  const claimJob = Testing.synth(new AirflowChart(Testing.app(), 'airflow', { provisioning: StorageProvisioning.storageClass('nfs'), fixVolumePermissions: true }))
    .find((o) => o.kind === 'Job' && o.metadata.name.startsWith('airflow-volume-permissions-'));
  const claimScript = claimJob.spec.template.spec.containers[0].command[2];

  /** Runs the claim script on folders, each given as itself and as claim "airflow-<name>-claim"; `caps` as the container's unless given. */
  function runClaims(folders: string[], caps = '+chown,+fowner'): { code: number; stdout: string; stderr: string } {
    const args = folders.flatMap((d) => [d, `airflow-${path.basename(d)}-claim`]);
    const asContainer = ['--reuid=0', '--regid=0', '--clear-groups', `--inh-caps=-all,${caps}`, `--bounding-set=-all,${caps}`, '--no-new-privs'];
    const r = spawnSync('setpriv', [...asContainer, 'bash', '-c', claimScript, 'volume-permissions', ...args], { encoding: 'utf8' });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  testAsRoot('a share\'s root:root 0755 root, empty but for lost+found: taken over, marked, 50000:0 0775, and Airflow writes there', () => {
    const logs = folder('logs');
    fs.mkdirSync(path.join(logs, 'lost+found'), { mode: 0o700 });
    const r = runClaims([logs]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toBe(`claim airflow-logs-claim: was 0:0 drwxr-xr-x, now 50000:0 mode 0775 (it was empty: marked with ${VOLUME_PERMISSIONS_MARKER})\n`);
    expect(ownerOf(logs)).toBe('50000:0 775');
    execFileSync('setpriv', ['--reuid=50000', '--regid=0', '--clear-groups', '--inh-caps=-all', 'sh', '-c', `echo log > ${logs}/task.log`]);
    // Run again (the pod restarts, or a new Job): left alone.
    expect(runClaims([logs]).stdout).toBe('claim airflow-logs-claim: already writable by uid 50000 gid 0 (50000:0 drwxrwxr-x), left alone\n');
  });

  testAsRoot.each([
    ['owned by 50000, 0755 (an EFS access point with uid 50000)', 50000, 1000, 0o755, '50000:1000 drwxr-xr-x'],
    ['root:root 0775 (group 0 may write)', 0, 0, 0o775, '0:0 drwxrwxr-x'],
    ['root:root 1777 (anyone may write, sticky)', 0, 0, 0o1777, '0:0 drwxrwxrwt'],
  ])('a root uid 50000 gid 0 may already write is left alone, files and all: %s', (_label, uid, gid, mode, shown) => {
    const dags = folder('dags', { 'dag.py': 'print()' });
    fs.chownSync(dags, uid, gid);
    fs.chmodSync(dags, mode);
    expect(runClaims([dags])).toEqual({ code: 0, stdout: `claim airflow-dags-claim: already writable by uid 50000 gid 0 (${shown}), left alone\n`, stderr: '' });
    expect(fs.readdirSync(dags)).toEqual(['dag.py']);
  });

  testAsRoot('owned by 50000, mode 0575: not writable (the owner\'s bits count, not the group\'s), taken over when empty', () => {
    const data = folder('data');
    fs.chownSync(data, 50000, 0);
    fs.chmodSync(data, 0o575); // the group may write, but uid 50000 is the owner: the kernel checks the owner's bits
    const r = runClaims([data]);
    expect([r.code, r.stdout]).toEqual([0, `claim airflow-data-claim: was 50000:0 dr-xrwxr-x, now 50000:0 mode 0775 (it was empty: marked with ${VOLUME_PERMISSIONS_MARKER})\n`]);
  });

  testAsRoot('a root holding files it did not create is not taken over: the Job says which, why and what to do, and fails', () => {
    const data = folder('data', { 'input.csv': 'a,b' });
    const dags = folder('dags');
    const r = runClaims([data, dags]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'claim airflow-data-claim: NOT taken over: it is 0:0 drwxr-xr-x, not writable by uid 50000 gid 0, and holds files this Job did not create ' +
        `(such as input.csv) and no ${VOLUME_PERMISSIONS_MARKER} file. Make the share's root writable for uid 50000 or gid 0 yourself (on its server, or ` +
        `in its StorageClass), or create ${VOLUME_PERMISSIONS_MARKER} in it if the folder is Airflow's (docs/storage.md).\n`,
    );
    expect([ownerOf(data), ownerOf(dags)]).toEqual(['0:0 755', '50000:0 775']);
  });

  testAsRoot('a share that refuses the change (root squashed: here, no CHOWN capability): the Job says so and fails', () => {
    const logs = folder('logs');
    fs.chownSync(logs, 1000, 1000);
    const r = runClaims([logs], '+fowner');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /claim airflow-logs-claim: NOT taken over: it is 1000:1000 drwxr-xr-x, not writable by uid 50000 gid 0, and the share refused to change its owner or mode \(a root-squashing NFS export maps root to nobody\)\. Make the share's root writable for uid 50000 or gid 0 yourself \(on its server, or in its StorageClass\) \(docs\/storage\.md\)\.\n$/,
    );
  });
});
