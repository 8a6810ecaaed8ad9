// The runtime tests (test/runtime/*.runtime.test.ts): the real Airflow on the synthesized YAML, run by
// `npm run test:runtime` (scripts/test-runtime.sh), which builds or reuses the trixie root and starts the
// local Kubernetes control plane first. See docs/runtime-tests.md.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/runtime'],
  testMatch: ['**/*.runtime.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  // Each step waits for Airflow (migrations, components, a task pod) on a 2-core machine.
  testTimeout: 900_000,
  // One cluster, one pod network, Airflow on the machine's CPUs: never run two test files at once.
  maxWorkers: 1,
  verbose: true,
};
