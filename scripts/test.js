#!/usr/bin/env node
// npm test: the type check, ESLint, and the unit, snapshot and validation tests (jest), side by side on the
// machine's cores; fails when any of them fails. Arguments go to jest (`npm test -- -t pattern`, `--ci --json`).
//
// - type check: `tsc -p tsconfig.json --noEmit` (incremental: build/.tsbuildinfo). jest does not type-check
//   (ts-jest transpiles only: tsconfig.json has isolatedModules), so a test with a type error fails here.
// - ESLint: scripts/lint.js (the repository with a content-keyed cache, and the lib/ JSDoc rule probes).
// - jest: jest.config.js.
//
// tsc and ESLint print when they are done, after jest's report; their output is held until then so that
// jest's report is not interleaved with it.
'use strict';
const { spawn } = require('child_process');
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

async function main() {
  const checks = [
    run('type check (tsc --noEmit)', [bin('typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit'], true),
    run('ESLint (scripts/lint.js)', [path.join(__dirname, 'lint.js')], true),
  ];
  const jest = run('jest', [bin('jest/bin/jest.js'), ...process.argv.slice(2)], false);
  const results = [await jest, ...(await Promise.all(checks))];
  for (const r of results.slice(1)) {
    if (r.output.trim()) process.stdout.write(`\n${r.name}:\n${r.output.trimEnd()}\n`);
  }
  const failed = results.filter((r) => r.code !== 0);
  if (failed.length) console.error(`\nnpm test failed: ${failed.map((r) => r.name).join(', ')}`);
  process.exitCode = failed.length ? 1 : 0;
}

main();
