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
