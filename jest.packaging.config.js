// The packaging test (test/packaging/*.test.ts): `npm pack`, then a separate cdk8s app (examples/consumer)
// installs the tarball and a git+file:// URL of this repository, compiles and synthesizes with the
// validation plugin. About a minute of npm installs, so not part of `npm test`: run by
// `npm run test:packaging` and by CI (.ci/run) as a stage of its own.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/packaging'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  // The steps share one consumer copy and run in order.
  maxWorkers: 1,
  verbose: true,
};
