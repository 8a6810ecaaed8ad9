// jest's runtime with each module compiled once per worker (jest.config.js `runtime`; `npx jest` uses it too).
//
// Jest gives every test file a fresh module registry and compiles every module again: cdk8s-plus-28's 2.7 MB
// of generated classes, cdk8s, constructs, yaml and lib/ are parsed anew for each of the ~80 files, about 4 s
// of the suite's CPU (vm.compileFunction in a CPU profile of npm test). A module's first compile in a worker
// keeps its vm.Script, keyed by file name and the exact text compiled (another text is compiled afresh), and
// every later test file runs that same Script in its own context: V8 binds the script's compiled code to each
// context anew (new functions, new globals, the module body run again by jest as before) and compiles nothing
// twice, not even the functions a later file is the first to call. (Until issue #25's fifth round, each file
// compiled a new Script from the first one's code cache: deserializing it cost about 5 ms a file, and functions
// the first file never ran were compiled again in each file.) What runs is the same code: only its parse and
// compile are skipped. A dynamic import() is handed to the test file running at the time, as jest would.
//
// The module is compiled as jest does it, as a function of jest's injected parameters, in a vm.Script of the
// function expression: the wrapper is on the first line, so line numbers, and columns after line 1, are unchanged.
//
// And each test file's AsyncLocalStorage instances are disabled when the file is done. jest-circus makes a new
// AsyncLocalStorage for every test file (its test execution context), in the worker's one async_hooks, and never
// disables it: on Node 20 every promise any later file makes then runs an init hook once per instance alive, so the
// 40th file of a worker paid 40 times for each promise (the hooks were 0.6 s of a CPU profile of the suite). A
// file's instances serve only that file; they are disabled at its runtime's teardown, after its last test.
'use strict';
const vm = require('vm');
const Runtime = require('jest-runtime').default;

/** file name -> { source, parameters, script } */
const cache = new Map();
/** file name -> { bytes, text }: each file's text as last decoded in this worker */
const decoded = new Map();
/** file name and transform options -> { source, file }: jest's transform of the text `source` */
const transformed = new Map();
/** The module executor of the test file running in this worker (jest runs one file at a time in each). */
let activeExecutor;

class CodeCacheRuntime extends Runtime {
  constructor(...args) {
    super(...args);
    this.keepAsyncLocalStorages();
    this.decodeOnce();
    this.transformOnce();
    const executor = this.executor;
    // jest-runtime's internals as of jest 30.5: on another shape, jest's own compile, unchanged
    if (!executor || typeof executor.compile !== 'function' || !Array.isArray(executor.injectedModuleParameters)) return;
    activeExecutor = executor;
    const jestCompile = executor.compile.bind(executor);
    executor.compile = (source, filename) => {
      const context = executor.environment.getVmContext();
      if (context == null || executor.resolution.isCoreModule(filename)) return jestCompile(source, filename);
      const parameters = executor.injectedModuleParameters.join(', ');
      let kept = cache.get(filename);
      try {
        // the same text compiled the same way: compared without building the wrapper (cdk8s-plus-28 is 2.7 MB)
        if (!kept || kept.source !== source || kept.parameters !== parameters) {
          const script = new vm.Script(`(function (${parameters}) {${source}\n})`, {
            filename,
            // the test file running when import() is called: the one whose context runs the code
            importModuleDynamically: async (specifier, _script, attributes, ...rest) =>
              activeExecutor.dynamicImport(specifier, filename, activeExecutor.environment.getVmContext(), attributes, rest[0]),
          });
          kept = { source, parameters, script };
          cache.set(filename, kept);
        }
        return kept.script.runInContext(context);
      } catch {
        // a syntax error, or ESM: jest's own compile reports it as jest does
        return jestCompile(source, filename);
      }
    };
  }

  /**
   * Jest reads every module's file again for each test file and decodes it to a string (cdk8s-plus-28: 2.7 MB),
   * even when its transform is then found in memory. The bytes are still read each time; when they are those read
   * before in this worker, the string decoded then is handed out (keyed by content: an edited file is decoded
   * afresh), and the compile above finds it is the text it compiled without comparing it character by character.
   */
  decodeOnce() {
    const files = this.fileCache;
    // jest-runtime's internals as of jest 30.5: on another shape, nothing changes
    if (!files || typeof files.readFile !== 'function' || typeof files.readFileBuffer !== 'function' || !(files.strings instanceof Map)) return;
    files.readFile = (filename) => {
      let text = files.strings.get(filename);
      if (text === undefined) {
        const bytes = files.readFileBuffer(filename);
        const kept = decoded.get(filename);
        if (kept && kept.bytes.equals(bytes)) {
          text = kept.text;
        } else {
          text = bytes.toString();
          decoded.set(filename, { bytes, text });
        }
        files.strings.set(filename, text);
      }
      return text;
    };
  }

  /**
   * And jest's transform of a module (a cache lookup after a stat of the file: about 4 ms a test file) is asked
   * once per worker for a text: while the file's bytes are those decoded before (the same string, above), the
   * transformed module of then is handed out again, as jest's own cache in the worker would.
   */
  transformOnce() {
    const cache = this.transformCache;
    const files = this.fileCache;
    // jest-runtime's internals as of jest 30.5: on another shape, nothing changes
    if (!cache || typeof cache.transform !== 'function' || !(cache.transforms instanceof Map) || !(cache.sourceMaps instanceof Map) || files?.readFile === undefined) return;
    const jestTransform = cache.transform.bind(cache);
    cache.transform = (filename, options) => {
      if (options?.isInternalModule) return jestTransform(filename, options);
      const source = files.readFile(filename);
      const key = `${filename}\0${JSON.stringify(options ?? {})}`;
      const kept = transformed.get(key);
      if (kept && kept.source === source) {
        cache.transforms.set(filename, kept.file);
        if (kept.file.sourceMapPath) cache.sourceMaps.set(filename, kept.file.sourceMapPath);
        return kept.file.code;
      }
      const code = jestTransform(filename, options);
      const file = cache.transforms.get(filename);
      if (file && file.code === code) transformed.set(key, { source, file });
      return code;
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
