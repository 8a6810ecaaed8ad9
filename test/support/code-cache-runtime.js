// jest's runtime with V8's code cache (jest.config.js `runtime`; `npx jest` uses it too).
//
// Jest gives every test file a fresh module registry and compiles every module again: cdk8s-plus-28's 2.7 MB
// of generated classes, cdk8s, constructs, yaml and lib/ are parsed anew for each of the ~75 files, about 4 s
// of the suite's CPU (vm.compileFunction in a CPU profile of npm test). V8 can skip that work when given the
// code cache of the same source compiled with the same flags. A module's first compile in a worker keeps its
// vm.Script; its second takes the Script's code cache then (which holds the functions the first file ran, not
// only the top level), and the later ones use it. The cache is in memory, per worker process, keyed by file
// name and the exact source text (another text is compiled afresh); V8 checks the source, its own version and
// flags, and rejects a cache that does not fit, compiling as usual. What runs is the same code: only its parse
// and compile are skipped.
//
// The module is compiled as jest does it, as a function of jest's injected parameters, in a vm.Script of the
// function expression (the code cache of a script can be taken after it ran; vm.compileFunction's only
// before): the wrapper is on the first line, so line numbers, and columns after line 1, are unchanged.
//
// And each test file's AsyncLocalStorage instances are disabled when the file is done. jest-circus makes a new
// AsyncLocalStorage for every test file (its test execution context), in the worker's one async_hooks, and never
// disables it: on Node 20 every promise any later file makes then runs an init hook once per instance alive, so the
// 40th file of a worker paid 40 times for each promise (the hooks were 0.6 s of a CPU profile of the suite). A
// file's instances serve only that file; they are disabled at its runtime's teardown, after its last test.
'use strict';
const vm = require('vm');
const Runtime = require('jest-runtime').default;

/** file name -> { source, script, data } */
const cache = new Map();

class CodeCacheRuntime extends Runtime {
  constructor(...args) {
    super(...args);
    this.keepAsyncLocalStorages();
    const executor = this.executor;
    // jest-runtime's internals as of jest 30.5: on another shape, jest's own compile, unchanged
    if (!executor || typeof executor.compile !== 'function' || !Array.isArray(executor.injectedModuleParameters)) return;
    const jestCompile = executor.compile.bind(executor);
    executor.compile = (source, filename) => {
      const context = executor.environment.getVmContext();
      if (context == null || executor.resolution.isCoreModule(filename)) return jestCompile(source, filename);
      let kept = cache.get(filename);
      if (kept && kept.source !== source) kept = undefined;
      if (kept && !kept.data) kept.data = kept.script.createCachedData();
      try {
        const script = new vm.Script(`(function (${executor.injectedModuleParameters.join(', ')}) {${source}\n})`, {
          filename,
          cachedData: kept ? kept.data : undefined,
          importModuleDynamically: async (specifier, _script, attributes, ...rest) =>
            executor.dynamicImport(specifier, filename, context, attributes, rest[0]),
        });
        if (!kept || script.cachedDataRejected) cache.set(filename, { source, script, data: undefined });
        return script.runInContext(context);
      } catch {
        // a syntax error, or ESM: jest's own compile reports it as jest does
        return jestCompile(source, filename);
      }
    };
  }

  /** Hands the test file an async_hooks whose AsyncLocalStorage instances are kept, to disable at teardown. */
  keepAsyncLocalStorages() {
    const core = this.coreModule;
    // jest-runtime's internals as of jest 30.5: on another shape, nothing changes
    if (!core || typeof core.require !== 'function' || typeof core.resolution?.normalizeCoreModuleSpecifier !== 'function') return;
    const storages = [];
    this.asyncLocalStorages = storages;
    const coreRequire = core.require.bind(core);
    let asyncHooks;
    core.require = (moduleName) => {
      const real = coreRequire(moduleName);
      if (core.resolution.normalizeCoreModuleSpecifier(moduleName) !== 'async_hooks') return real;
      if (!asyncHooks) {
        class AsyncLocalStorage extends real.AsyncLocalStorage {
          constructor(...a) {
            super(...a);
            storages.push(this);
          }
        }
        asyncHooks = Object.freeze({ __proto__: real, AsyncLocalStorage });
      }
      return asyncHooks;
    };
  }

  teardown() {
    super.teardown();
    for (const storage of this.asyncLocalStorages ?? []) storage.disable();
    if (this.asyncLocalStorages) this.asyncLocalStorages.length = 0;
  }
}

module.exports = CodeCacheRuntime;
