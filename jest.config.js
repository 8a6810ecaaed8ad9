/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/test/live/'],
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true }] },
};
