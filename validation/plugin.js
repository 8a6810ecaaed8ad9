// The entry point the cdk8s CLI loads (`package: ./validation/plugin.js` in cdk8s.yaml): it runs the
// plugin from its TypeScript sources (validation/*.ts and the lib/ modules they import), so a plain
// `cdk8s synth` never validates with a stale build/. Like scripts/app.js, each .ts file is transpiled with
// TypeScript's transpileModule (no type checking: `npm run build` / `npm test` do that) and cached under
// build/.plugin-cache/ keyed by a hash of its text, so an unchanged tree costs one read and hash per file.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const Module = require('module');
const path = require('path');

const root = path.resolve(__dirname, '..');
const cacheDir = path.join(root, 'build', '.plugin-cache');
const compilerOptions = { target: 'ES2022', module: 'commonjs', esModuleInterop: true, isolatedModules: true };
const tsVersion = require(path.join(root, 'node_modules', 'typescript', 'package.json')).version;
const optionsKey = `${tsVersion}\0${JSON.stringify(compilerOptions)}`;
let ts;

function hash(...parts) {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

function compiled(filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const prefix = `${path.basename(filename, '.ts')}-${hash(filename).slice(0, 12)}-`;
  const cached = path.join(cacheDir, `${prefix}${hash(optionsKey, source).slice(0, 32)}.js`);
  try {
    return fs.readFileSync(cached, 'utf8');
  } catch {
    // not cached yet
  }
  ts = ts || require('typescript');
  const js = ts.transpileModule(source, {
    fileName: filename,
    compilerOptions: { ...compilerOptions, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS },
  }).outputText;
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = `${cached}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, js);
  fs.renameSync(tmp, cached);
  // Drop the outdated versions of this file.
  for (const f of fs.readdirSync(cacheDir)) {
    if (f.startsWith(prefix) && path.join(cacheDir, f) !== cached && !f.endsWith('.tmp')) {
      fs.rmSync(path.join(cacheDir, f), { force: true });
    }
  }
  return js;
}

// Only files of this project go through the hook; an existing .ts hook (ts-node, jest) is left alone.
const previous = Module._extensions['.ts'];
Module._extensions['.ts'] = function loadTypeScript(module, filename) {
  if (previous && !filename.startsWith(root + path.sep)) return previous(module, filename);
  module._compile(compiled(filename), filename);
};

module.exports = require('./manifest-validation.ts');
