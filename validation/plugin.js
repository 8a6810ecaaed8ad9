// The entry point the cdk8s CLI loads (`package: ./validation/plugin.js` in cdk8s.yaml): it runs the
// plugin from its TypeScript sources (validation/*.ts and the lib/ modules they import) through the same
// transpile-only, content-cached loader as the app (scripts/app.js), so a plain `cdk8s synth` never
// validates with a stale build/.
'use strict';
require('../scripts/app.js').register();
module.exports = require('./manifest-validation.ts');
