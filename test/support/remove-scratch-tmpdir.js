// jest globalTeardown (jest.config.js): removes the scratch TMPDIR the test processes wrote cdk8s's
// Testing.app() output folders into.
'use strict';
const fs = require('fs');

module.exports = async () => {
  const dir = process.env.AIRFLOW_CDK8S_SCRATCH_TMPDIR;
  if (dir && /airflow-cdk8s-jest-/.test(dir)) fs.rmSync(dir, { recursive: true, force: true });
};
