// The order in which the runtime stage starts its test files. On the real node two files run at once (jest's two
// workers, jest.runtime.config.js): the file that runs longest starts first, so that the other worker runs every
// other file beside it, instead of that file starting late and ending alone on the machine (in the first two-worker
// run jest's own order, by the durations of its cache, started it third, after 197 s). jest's own order (a failed
// file first, then by the durations of its cache, else by file size) decides among the others.
const Sequencer = require('@jest/test-sequencer').default;

/** The files to start first, in this order: the default chart's, with its reapply and Celery phases (about 600 s). */
const FIRST = ['default-chart.runtime.test.ts'];

class RuntimeSequencer extends Sequencer {
  async sort(tests) {
    const sorted = await super.sort(tests);
    const rank = (t) => {
      const i = FIRST.findIndex((f) => t.path.endsWith(`/${f}`));
      return i < 0 ? FIRST.length : i;
    };
    return sorted.map((t, i) => ({ t, i })).sort((a, b) => rank(a.t) - rank(b.t) || a.i - b.i).map(({ t }) => t);
  }
}

module.exports = RuntimeSequencer;
