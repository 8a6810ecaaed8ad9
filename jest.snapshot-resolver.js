// Snapshots live in the top-level __snapshots__/ folder, one file per test file, so reviewers find
// every synthesized manifest under test in one place.
const path = require('path');
const root = __dirname;
module.exports = {
  resolveSnapshotPath: (testPath, ext) =>
    path.join(root, '__snapshots__', path.relative(path.join(root, 'test'), testPath) + ext),
  resolveTestPath: (snapshotPath, ext) =>
    path.join(root, 'test', path.relative(path.join(root, '__snapshots__'), snapshotPath).slice(0, -ext.length)),
  testPathForConsistencyCheck: path.join(root, 'test', 'example.test.ts'),
};
