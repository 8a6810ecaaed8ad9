// jest's transform of .ts files (jest.config.js `transform`): ts-jest, loaded only when a file is not in jest's
// transform cache already (`npx jest` uses it too).
//
// Jest asks a transformer for a file's cache key before it looks in its cache, and ts-jest's key needs its
// configuration: every jest worker (and jest's parent) loaded ts-jest and TypeScript and parsed tsconfig.json
// for that, about 0.4 s of CPU each in a warm run where every file came from the cache. The key is computed here
// instead, from what ts-jest's output depends on, by content (never a timestamp): the file's text and path,
// jest's configuration (`configString`, in which this transform and its options are), the instrument and ESM
// flags, tsconfig.json, this file, and the installed packages (node_modules/.package-lock.json: ts-jest's and
// TypeScript's versions). ts-jest transpiles each file alone (tsconfig.json has isolatedModules), so its output
// depends on nothing else. On a miss, ts-jest transforms the file as before.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');

let shared;
/** The part of every key that is the same for all files: read once per process. */
function sharedKey() {
  if (shared === undefined) {
    const hash = crypto.createHash('sha256');
    for (const file of [__filename, path.join(ROOT, 'tsconfig.json'), path.join(ROOT, 'node_modules', '.package-lock.json')]) {
      hash.update(`${path.relative(ROOT, file)}\0`).update(fs.readFileSync(file)).update('\0');
    }
    shared = hash.digest('hex');
  }
  return shared;
}

module.exports = {
  createTransformer(transformerConfig) {
    let tsJest;
    const real = () => (tsJest ??= require('ts-jest').default.createTransformer(transformerConfig));
    return {
      getCacheKey(source, filename, options) {
        return crypto
          .createHash('sha256')
          .update(`${sharedKey()}\0${options.configString}\0${filename}\0`)
          .update(`instrument:${options.instrument ? 'on' : 'off'}\0supportsStaticESM:${options.supportsStaticESM ? 'on' : 'off'}\0`)
          .update(source)
          .digest('hex');
      },
      process(source, filename, options) {
        return real().process(source, filename, options);
      },
    };
  },
};
