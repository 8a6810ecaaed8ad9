#!/usr/bin/env node
// npm test: the type check, ESLint, and the unit, snapshot and validation tests (jest), side by side on the
// machine's cores; fails when any of them fails. Arguments go to jest (`npm test -- -t pattern`, `--ci --json`).
//
// - type check: `tsc -p tsconfig.json --noEmit` (incremental: build/.tsbuildinfo). jest does not type-check
//   (ts-jest transpiles only: tsconfig.json has isolatedModules), so a test with a type error fails here.
//   When tsc passes, a hash of what it read is kept in build/.typecheck-ok: the text of every .ts and .json
//   file of the repository (package-lock.json, so the installed typings, and tsconfig.json included) and the
//   names of all its files, outside node_modules/, build/, dist/ and .git. While that hash is unchanged the
//   result cannot differ, and tsc is not started (it costs 2 s of CPU even when nothing changed); like ESLint's
//   cache and scripts/app.js's, the key is the content, never a timestamp.
// - ESLint: scripts/lint.js (the repository with a content-keyed cache, and the lib/ JSDoc rule probes). Like the
//   type check, it is not started while the text of every .ts, .js, .mjs, .cjs and .json file and the names of all
//   files hash to those of its last clean run (build/.lint-ok): loading ESLint, typescript-eslint and TypeScript
//   and linting the probe cost 0.9 s of CPU even when its cache holds every file.
// - jest: jest.config.js, in a node started with V8's --no-opt (its workers inherit it). Jest gives every test
//   file a fresh module registry, so cdk8s, cdk8s-plus and lib/ are new functions in each of the ~75 files and
//   V8's optimizing compiler (TurboFan) optimizes the same synth code again and again, on its background
//   threads, for code that then runs for a second or less: without it the suite takes about a quarter less
//   CPU (A/B, interleaved: 15.9 -> 12.0 s at load 4, 18.5 -> 14.6 s at load 15-22). Semantics are unchanged
//   (interpreter and baseline compiler only); `npx jest` alone still works, just slower. Their parse and first
//   compile are done once per worker, not once per file: jest.config.js's runtime runs each module's one
//   compiled script in every file's context (test/support/code-cache-runtime.js; with --no-opt, measured again
//   with ~75 files: still the faster).
//   And with V8's --single-threaded-gc: the two workers already fill the two cores, and the garbage collector's
//   helper threads only contend with them (jest alone, 3 interleaved pairs at load 2-4: 23.9/22.9/24.1 ->
//   22.3/22.6/23.5 s of CPU, 24.3/14.0/17.4 -> 14.1/13.6/16.9 s of wall; issue #25, third round).
//
// tsc and ESLint print when they are done, after jest's report; their output is held until then so that
// jest's report is not interleaved with it.
'use strict';
const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const bin = (p) => path.join(ROOT, 'node_modules', p);

/** Runs `node args` in the repository; with `capture`, holds its output and resolves with it. */
function run(name, args, capture) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    let output = '';
    if (capture) {
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
    }
    child.on('error', (e) => resolve({ name, code: 2, output: String(e) }));
    child.on('close', (code, signal) => resolve({ name, code: code ?? (signal ? 1 : 0), output }));
  });
}

const STAMP = path.join(ROOT, 'build', '.typecheck-ok');
const SKIP = new Set(['node_modules', 'build', 'dist', '.git']);

/** sha256 of every file name of the repository (outside SKIP) and of the text of its files whose name matches `texts`. */
function sourcesHash(texts = /\.(ts|json)$/) {
  const hash = crypto.createHash('sha256');
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (SKIP.has(e.name)) continue;
      const file = path.join(dir, e.name);
      if (e.isDirectory()) walk(file);
      else {
        hash.update(`${path.relative(ROOT, file)}\0`);
        if (texts.test(e.name)) hash.update(fs.readFileSync(file)).update('\0');
      }
    }
  };
  walk(ROOT);
  return hash.digest('hex');
}

/** tsc --noEmit, unless the sources are exactly those of the last clean type check. */
async function typeCheck() {
  const name = 'type check (tsc --noEmit)';
  const hash = sourcesHash();
  if (fs.existsSync(STAMP) && fs.readFileSync(STAMP, 'utf8') === hash) return { name, code: 0, output: 'unchanged since the last clean tsc --noEmit' };
  const r = await run(name, [bin('typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit'], true);
  // the hash of the sources as they were when tsc started: an edit made while it ran is checked next time
  if (r.code === 0) {
    fs.mkdirSync(path.dirname(STAMP), { recursive: true });
    fs.writeFileSync(STAMP, hash);
  }
  return r;
}

const LINT_STAMP = path.join(ROOT, 'build', '.lint-ok');

/** scripts/lint.js, unless the sources are exactly those of its last clean run. */
async function lint() {
  const name = 'ESLint (scripts/lint.js)';
  // every file ESLint lints (.ts, .js, .mjs, .cjs), its configuration (eslint.config.mjs), scripts/lint.js and its
  // probe, and package-lock.json (the installed ESLint, plugins and TypeScript)
  const hash = sourcesHash(/\.(ts|js|mjs|cjs|json)$/);
  if (fs.existsSync(LINT_STAMP) && fs.readFileSync(LINT_STAMP, 'utf8') === hash) return { name, code: 0, output: 'unchanged since the last clean ESLint run' };
  const r = await run(name, [path.join(__dirname, 'lint.js')], true);
  if (r.code === 0) {
    fs.mkdirSync(path.dirname(LINT_STAMP), { recursive: true });
    fs.writeFileSync(LINT_STAMP, hash);
  }
  return r;
}

async function main() {
  const checks = [typeCheck(), lint()];
  const jest = run('jest', ['--no-opt', '--single-threaded-gc', bin('jest/bin/jest.js'), ...process.argv.slice(2)], false);
  const results = [await jest, ...(await Promise.all(checks))];
  for (const r of results.slice(1)) {
    if (r.output.trim()) process.stdout.write(`\n${r.name}:\n${r.output.trimEnd()}\n`);
  }
  const failed = results.filter((r) => r.code !== 0);
  if (failed.length) console.error(`\nnpm test failed: ${failed.map((r) => r.name).join(', ')}`);
  process.exitCode = failed.length ? 1 : 0;
}

main();
