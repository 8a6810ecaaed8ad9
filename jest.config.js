/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  // Jest's default is cores - 1: one worker on a 2-core machine. The suite is CPU-bound, use both.
  maxWorkers: 2,
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/test/live/', '/test/runtime/'],
  snapshotResolver: '<rootDir>/jest.snapshot-resolver.js',
  transform: { '^.+\\.ts$': 'ts-jest' },
};
