// test/runtime/support/memory.ts settleLeft: an idle measurement waits only what is left of its settle time since
// the pods became available (the steps run in between count), never more than the whole, never less than nothing.
import { settleLeft } from '../runtime/support/memory';

test('the settle time left: the whole without a start, the rest after a start, nothing once it has passed', () => {
  const now = 1_000_000;
  expect(settleLeft(undefined, 30_000, now)).toBe(30_000);
  expect(settleLeft(now - 12_000, 30_000, now)).toBe(18_000);
  expect(settleLeft(now - 45_000, 30_000, now)).toBe(0);
  // a start in the future (clock steps) waits the whole, not more
  expect(settleLeft(now + 5_000, 30_000, now)).toBe(30_000);
});
