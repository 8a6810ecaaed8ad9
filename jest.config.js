/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/test/live/'],
  snapshotResolver: '<rootDir>/jest.snapshot-resolver.js',
  transform: { '^.+\\.ts$': 'ts-jest' },
};
