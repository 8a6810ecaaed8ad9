import { Lazy } from 'cdk8s';

/** A value computed when the YAML is synthesized, so that what is added to the app until then is in it. */
export function atSynth<T>(produce: () => T): T {
  return Lazy.any({ produce }) as T;
}

/** Whether `value` is computed at synth ({@link atSynth}), so it cannot be checked yet. */
export function isAtSynth(value: unknown): boolean {
  return value instanceof Lazy;
}

/**
 * `value` with every value computed at synth ({@link atSynth}) produced now, for hashing or inspecting what
 * will be synthesized. Plain objects and arrays are copied; other objects (quantities) are kept as they are.
 */
export function resolveAtSynth(value: unknown): unknown {
  if (value instanceof Lazy) return resolveAtSynth(value.produce());
  if (Array.isArray(value)) return value.map(resolveAtSynth);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveAtSynth(v)]));
  }
  return value;
}
