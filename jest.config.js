/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  // Jest's default is cores - 1: one worker on a 2-core machine. The suite is CPU-bound, use both.
  maxWorkers: 2,
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // test/live: npm run test:live; test/packaging: npm run test:packaging; test/runtime: npm run test:runtime (all run by .ci/run).
  testPathIgnorePatterns: ['/node_modules/', '/test/live/', '/test/packaging/', '/test/runtime/'],
  snapshotResolver: '<rootDir>/jest.snapshot-resolver.js',
  transform: { '^.+\\.ts$': 'ts-jest' },
};
