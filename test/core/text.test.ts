// String distance for the "Did you mean" suggestions (lib/core/text.ts).
import { closest, editDistance } from '../../lib/core/text';

describe('edit distance', () => {
  test('is Levenshtein', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
  });
  test('closest only suggests near misses', () => {
    expect(closest('volumName', ['volumeName', 'volumeMode'])).toBe('volumeName');
    expect(closest('zzzzzz', ['volumeName'])).toBeUndefined();
  });
});

describe('closest measures a candidate only as far as it could still win, with the same answer', () => {
  /** Levenshtein distance, the whole table (row by row). */
  function fullDistance(a: string, b: string): number {
    let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const current = [i];
      for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
    return previous[b.length];
  }
  // a fixed pseudo-random sequence (mulberry32), so that every run checks the same cases
  let seed = 25;
  const random = (n: number): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n);
  };
  const letters = 'abcdeilmnorst_.';
  const word = (length: number): string => Array.from({ length }, () => letters[random(letters.length)]).join('');
  /** `w` with 0 to 5 letters changed, added or removed. */
  const typo = (w: string): string => {
    let t = w;
    for (let edits = random(6); edits > 0; edits--) {
      const at = random(t.length + 1);
      const kind = random(3);
      t = kind === 0 ? t.slice(0, at) + word(1) + t.slice(at + 1) : kind === 1 ? t.slice(0, at) + word(1) + t.slice(at) : t.slice(0, at) + t.slice(at + 1);
    }
    return t;
  };
  // names of 1 to 16 letters, some of them near each other (ties at the smallest distance included)
  const candidates = Array.from({ length: 30 }, () => word(1 + random(16)));
  candidates.push(...candidates.slice(0, 15).map(typo));

  test('editDistance is the whole table', () => {
    for (let n = 0; n < 100; n++) {
      const a = candidates[random(candidates.length)];
      const b = random(2) === 0 ? typo(a) : candidates[random(candidates.length)];
      expect([a, b, editDistance(a, b)]).toEqual([a, b, fullDistance(a, b)]);
    }
  });

  test('closest is the first nearest candidate, near enough', () => {
    const seen = new Set<string>();
    for (let n = 0; n < 60; n++) {
      const value = random(4) === 0 ? word(1 + random(16)) : typo(candidates[random(candidates.length)]);
      // the first candidate at the smallest distance, if that is at most max(2, a quarter of the value's length)
      const distances = candidates.map((c) => fullDistance(value, c));
      const smallest = Math.min(...distances);
      const limit = Math.max(2, Math.floor(value.length / 4));
      const expected = smallest <= limit ? candidates[distances.indexOf(smallest)] : undefined;
      expect([value, closest(value, candidates)]).toEqual([value, expected]);
      seen.add(smallest > limit ? 'too far' : smallest === limit ? 'at the limit' : 'nearer');
      if (smallest <= limit && distances.filter((d) => d === smallest).length > 1) seen.add('a tie');
      if (smallest === limit + 1) seen.add('just too far');
    }
    // the cases at the edges were among them
    expect([...seen].sort()).toEqual(['a tie', 'at the limit', 'just too far', 'nearer', 'too far']);
  });
});
