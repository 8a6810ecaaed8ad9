// The live-cluster tests (test/live/*.live.test.ts): run by `npm run test:live` (scripts/test-live.sh), which
// starts a Kubernetes 1.20 control plane first. See docs/live-tests.md.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/live'],
  testMatch: ['**/*.live.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  // Each test talks to a real API server and waits for controllers and the scheduler.
  testTimeout: 180_000,
  // One cluster, shared state: never run two test files at once.
  maxWorkers: 1,
  verbose: true,
};
