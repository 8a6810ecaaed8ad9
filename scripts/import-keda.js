#!/usr/bin/env node
// Regenerates imports/keda.sh.ts (the typed ScaledObject and TriggerAuthentication) from the vendored copy of
// KEDA's own CRDs in imports/vendor/keda/ (KEDA v2.20.2, config/crd/bases/ of github.com/kedacore/keda at tag
// v2.20.2, commit 68a5b5028f35b22d50597c69819ab32c4e92f21a): offline, no registry, no cluster.
// `cdk8s import` takes one file per API group, so the two CRD files are joined into one temporary file first.
//
// Usage: npm run import:keda
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..');
const VENDOR = path.join(ROOT, 'imports', 'vendor', 'keda');
const FILES = ['keda.sh_scaledobjects.yaml', 'keda.sh_triggerauthentications.yaml'];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'keda-import-'));
try {
  const joined = path.join(tmp, 'keda-crds.yaml');
  fs.writeFileSync(joined, FILES.map((f) => fs.readFileSync(path.join(VENDOR, f), 'utf8')).join('\n'));
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'cdk8s'), ['import', joined, '--no-check-upgrade', '-l', 'typescript', '-o', tmp], { stdio: 'inherit' });
  fs.copyFileSync(path.join(tmp, 'keda.sh.ts'), path.join(ROOT, 'imports', 'keda.sh.ts'));
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
