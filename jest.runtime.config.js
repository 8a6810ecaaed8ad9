// The runtime tests (test/runtime/*.runtime.test.ts): the real Airflow on the synthesized YAML, run by
// `npm run test:runtime` (scripts/test-runtime.sh), which builds or reuses the trixie root and starts the
// local Kubernetes control plane first. See docs/runtime-tests.md.
//
// Which suites run where (issue #27): the suites of REAL_NODE_SUITES, and every test/runtime/real-node*.runtime.test.ts,
// run on the real node (AIRFLOW_CDK8S_RUNTIME_NODE=real, `npm run test:runtime:real`) and not in the emulated
// stage; the others run on the emulated kubelet (scripts/runtime/kubelet.py), docs/runtime-tests.md says why.
const REAL_NODE_SUITES = ['default-chart', 'team-a-custom-secret', 'ingress-sub-path', 'dag-bundles', 'pgbouncer', 'default-chart-3-1', 'network-policies'];

const real = process.env.AIRFLOW_CDK8S_RUNTIME_NODE === 'real';
const realNames = `(?:${[...REAL_NODE_SUITES, 'real-node[^/]*'].join('|')})`;
const onRealNode = `/test/runtime/${realNames}\\.runtime\\.test\\.ts$`;
const notOnRealNode = `/test/runtime/(?!${realNames}\\.runtime\\.test\\.ts$)[^/]*\\.runtime\\.test\\.ts$`;

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/runtime'],
  // The real stage runs only the suites of the real node; the emulated stage every other one.
  // (An ignore pattern, not testRegex: scripts/bench.js passes its own --testMatch for the benchmarks.)
  testMatch: ['**/*.runtime.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', real ? notOnRealNode : onRealNode],
  transform: { '^.+\\.ts$': 'ts-jest' },
  // Each step waits for Airflow (migrations, components, a task pod) on a 2-core machine.
  testTimeout: 900_000,
  // How many test files run at once: one by default. The real node can run two (AIRFLOW_CDK8S_RUNTIME_WORKERS=2), each
  // file's chart in a namespace of its own (test/runtime/support/namespace-claim.ts refuses a second file in a namespace
  // in use) with host folders of its own, on a node with a minikube node's 4Gi per file (scripts/test-runtime.sh); CI
  // keeps one: beside CI's other stages two files overloaded the 2 CPUs (docs/runtime-tests.md, "Two files at once").
  maxWorkers: real ? Number(process.env.AIRFLOW_CDK8S_RUNTIME_WORKERS ?? 1) : 1,
  // The longest file first (test/runtime/support/sequencer.js).
  testSequencer: '<rootDir>/test/runtime/support/sequencer.js',
  verbose: true,
};
