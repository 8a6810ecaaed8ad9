#!/usr/bin/env node
// The cdk8s app command (`app: node scripts/app.js` in cdk8s.yaml): runs main.ts straight from the
// TypeScript sources, so a plain `cdk8s synth` after an edit never synthesizes a stale build/.
//
// Every .ts file that is required is compiled transpile-only with TypeScript's own `transpileModule`
// (no type checking: `npm run build` and `npm test` do that) and the JavaScript is cached under
// build/.app-cache/ keyed by a hash of the source text, the TypeScript version and the compiler options.
// In the common case nothing changed, so a synth costs one file read and one hash per source file; the
// typescript package (~0.3 s to load) is only loaded when a file actually changed. The key is the content,
// not a timestamp, so copies that keep old mtimes, branch switches and clock skew cannot serve stale code.
//
// Usage: node scripts/app.js [entry.ts]   (default: main.ts in the project root)
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const Module = require('module');
const path = require('path');

const root = path.resolve(__dirname, '..');
const cacheDir = path.join(root, 'build', '.app-cache');

// The subset of tsconfig.json that changes the emitted JavaScript, plus inline source maps: run
// `node --enable-source-maps scripts/app.js` for stack traces with .ts lines (not the default: Node then
// parses the source maps of every package, ~50 ms per synth).
const compilerOptions = {
  target: 'ES2022',
  module: 'commonjs',
  esModuleInterop: true,
  resolveJsonModule: true,
  isolatedModules: true,
  inlineSourceMap: true,
  inlineSources: false,
};
const tsVersion = require(path.join(root, 'node_modules', 'typescript', 'package.json')).version;
const optionsKey = `${tsVersion}\0${JSON.stringify(compilerOptions)}`;

let ts; // loaded lazily: only when a file is not in the cache
let cacheDirReady = false;

function transpile(source, filename) {
  ts = ts || require('typescript');
  const out = ts.transpileModule(source, {
    fileName: filename,
    reportDiagnostics: true,
    compilerOptions: {
      ...compilerOptions,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.CommonJS,
    },
  });
  const syntaxErrors = (out.diagnostics || []).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (syntaxErrors.length > 0) {
    const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
    throw new Error(`TypeScript syntax error:\n${ts.formatDiagnostics(syntaxErrors, host)}`);
  }
  return out.outputText;
}

function hash(...parts) {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

function compiled(filename) {
  const source = fs.readFileSync(filename, 'utf8');
  // <name>-<hash of the path>-<hash of options and source>.js
  const prefix = `${path.basename(filename, '.ts')}-${hash(filename).slice(0, 12)}-`;
  const cached = path.join(cacheDir, `${prefix}${hash(optionsKey, source).slice(0, 32)}.js`);
  try {
    return fs.readFileSync(cached, 'utf8');
  } catch {
    // not cached yet
  }
  const js = transpile(source, filename);
  if (!cacheDirReady) {
    fs.mkdirSync(cacheDir, { recursive: true });
    cacheDirReady = true;
  }
  // Write then rename, so a concurrent synth never reads a half-written file.
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

/**
 * Lets `require` load this project's .ts files; `require('./lib')` then resolves to lib/index.ts (as with
 * ts-node). Files outside the project go to a .ts hook that was already there (ts-node, jest), if any.
 * Also used by validation/plugin.js, so the synth-time validation never runs a stale build either.
 */
function register() {
  const previous = Module._extensions['.ts'];
  Module._extensions['.ts'] = function loadTypeScript(module, filename) {
    if (previous && !filename.startsWith(root + path.sep)) return previous(module, filename);
    module._compile(compiled(filename), filename);
  };
}

module.exports = { register };

if (require.main === module) {
  register();
  require(path.resolve(root, process.argv[2] || 'main.ts'));
}
