// Snapshots live in the top-level __snapshots__/ folder, in the same sub-folders as their test files
// (test/storage/airflow-volumes.test.ts -> __snapshots__/storage/airflow-volumes.test.ts.snap), so reviewers
// find every snapshot in one place. The default chart has none: its golden copy is dist/.
const path = require('path');
const root = __dirname;
module.exports = {
  resolveSnapshotPath: (testPath, ext) =>
    path.join(root, '__snapshots__', path.relative(path.join(root, 'test'), testPath) + ext),
  resolveTestPath: (snapshotPath, ext) =>
    path.join(root, 'test', path.relative(path.join(root, '__snapshots__'), snapshotPath).slice(0, -ext.length)),
  testPathForConsistencyCheck: path.join(root, 'test', 'storage', 'example.test.ts'),
};
