const fs = require('fs');
const os = require('os');
const path = require('path');

// cdk8s's Testing.app() makes a new `cdk8s.outdir.*` folder in os.tmpdir() for every app and never removes it:
// one npm test left ~1,000 of them in /tmp (114,445 had piled up on this machine). The test processes get a
// scratch TMPDIR of their own, which test/support/remove-scratch-tmpdir.js removes when jest ends; jest's
// transform cache stays where it was (its default, <tmpdir>/jest_<uid>), so runs stay warm.
const machineTmp = os.tmpdir();
if (!process.env.AIRFLOW_CDK8S_SCRATCH_TMPDIR) {
  process.env.AIRFLOW_CDK8S_SCRATCH_TMPDIR = fs.mkdtempSync(path.join(machineTmp, 'airflow-cdk8s-jest-'));
  // like /tmp itself: tests run scripts as Airflow's uid 50000 in folders they make here
  fs.chmodSync(process.env.AIRFLOW_CDK8S_SCRATCH_TMPDIR, 0o1777);
  process.env.TMPDIR = process.env.AIRFLOW_CDK8S_SCRATCH_TMPDIR;
}

// The tests parse YAML with the `yaml` package (a pinned devDependency); cdk8s bundles its own copy of it
// (bundledDependencies), which every test file loads with cdk8s. Where the two are the same release, the tests'
// `yaml` is cdk8s's copy: the same code, loaded once per test file instead of twice (about 80 modules; 3 ms of CPU
// a file: 40 files that load test/support under jest -i, 3 interleaved pairs: 2.18/2.28/2.34 -> 1.99/2.18/2.16 s).
// Another release in either place: each its own, as npm installed them.
const yamlOfCdk8s = path.join(__dirname, 'node_modules', 'cdk8s', 'node_modules', 'yaml');
const sameYaml = (() => {
  try {
    return require(path.join(yamlOfCdk8s, 'package.json')).version === require('yaml/package.json').version;
  } catch {
    return false;
  }
})();

/** @type {import('jest').Config} */
module.exports = {
  cacheDirectory: path.join(machineTmp, `jest_${(process.getuid ? process.getuid() : 0).toString(36)}`),
  globalTeardown: '<rootDir>/test/support/remove-scratch-tmpdir.js',
  testEnvironment: 'node',
  // Jest's default is cores - 1: one worker on a 2-core machine. The suite is CPU-bound, use both.
  maxWorkers: 2,
  moduleNameMapper: sameYaml ? { '^yaml$': '<rootDir>/node_modules/cdk8s/node_modules/yaml' } : {},
  roots: ['<rootDir>/test'],
  // jest's runtime that compiles each module once per worker, not once per test file (test/support/code-cache-runtime.js)
  runtime: '<rootDir>/test/support/code-cache-runtime.js',
  testMatch: ['**/*.test.ts'],
  // test/live: npm run test:live; test/packaging: npm run test:packaging; test/runtime: npm run test:runtime (all run by .ci/run).
  testPathIgnorePatterns: ['/node_modules/', '/test/live/', '/test/packaging/', '/test/runtime/'],
  snapshotResolver: '<rootDir>/jest.snapshot-resolver.js',
  // ts-jest, loaded only for a file not in jest's transform cache (test/support/ts-transform.js keys it by content)
  transform: { '^.+\\.ts$': '<rootDir>/test/support/ts-transform.js' },
};
