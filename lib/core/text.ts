import { createHash } from 'crypto';

// Small text helpers shared by the constructs and the validation plugin; not part of the public API.

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  return editDistanceBelow(a, b, Infinity);
}

/**
 * The Levenshtein distance of `a` and `b` when it is below `bound`; `bound` (or more) when it is not. The smallest
 * value of a row of the table never decreases from one row to the next, and the distance is at least the last
 * row's, so the table stops at the first row whose values are all `bound` or more.
 */
function editDistanceBelow(a: string, b: string, bound: number): number {
  if (a === b) return 0;
  if (Math.abs(a.length - b.length) >= bound) return bound;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let smallest = i;
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (current[j] < smallest) smallest = current[j];
    }
    if (smallest >= bound) return bound;
    previous = current;
  }
  return previous[b.length];
}

/**
 * The closest candidate to `value`, if it is close enough to be a typo: the first of those at the smallest edit
 * distance, when that distance is at most a quarter of `value`'s length (and at least 2). A candidate is only
 * measured as far as it could still be closer than the closest so far and close enough (the Airflow option names
 * are several hundred).
 */
export function closest(value: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  // nothing farther than this is suggested
  let bestDistance = Math.max(2, Math.floor(value.length / 4)) + 1;
  for (const candidate of candidates) {
    const d = editDistanceBelow(value, candidate, bestDistance);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** JSON with object keys sorted, so that equal values give equal strings whatever the insertion order. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The first 8 hex digits of the sha256 of `value`'s stable JSON. */
export function shortHash(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('hex').slice(0, 8);
}

/** The sha256 of `text`, in hex. */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
