/**
 * Checked access for what `noUncheckedIndexedAccess` types as possibly missing. Instead of a
 * non-null assertion (`x!`) or an `as number` cast, which hide a wrong index until it turns into a
 * NaN or a crash far away, these throw a coded PedigreeError where the value is read.
 *
 * The code says whose fault a missing value is: the default `INTERNAL_INVARIANT` where the code has
 * established that the value exists (a bug if it fires); a FORMAT_ or USAGE_ code where the index
 * or key comes from input.
 *
 * Hot loops over typed arrays do not call these (one shared call site for many array kinds turns
 * megamorphic). Their index is bounded by the loop, and they read `a[i] ?? Number.NaN` (or `?? 0`
 * under bitwise operators, `?? -1` for an index): the value a missing element gave under the old
 * `as number` cast, at no measured cost in V8. Not `forEach` or `for…of`: over typed arrays Node 20
 * runs them 5–10× slower than an indexed loop.
 */

import { type ErrorCode, PedigreeError } from "./errors.js";

/** `items[index]`, or a PedigreeError with `code` naming `what` when the index is out of range. */
export function at<T>(
  items: ArrayLike<T>,
  index: number,
  what: string,
  code: ErrorCode = "INTERNAL_INVARIANT",
): T {
  const value = items[index];
  if (value === undefined) {
    throw new PedigreeError(code, `${what}: index ${index} is outside 0..${items.length - 1}`, {
      details: { index, length: items.length },
    });
  }
  return value;
}

/** The last element of a non-empty array. */
export function last<T>(items: ArrayLike<T>, what: string, code: ErrorCode = "INTERNAL_INVARIANT"): T {
  return at(items, items.length - 1, what, code);
}

/** `value` when present, else a PedigreeError with `code` saying that `what` is missing. */
export function must<T>(
  value: T | undefined | null,
  what: string,
  code: ErrorCode = "INTERNAL_INVARIANT",
): T {
  if (value === undefined || value === null) throw new PedigreeError(code, `${what} is missing`);
  return value;
}

/** `map.get(key)` for a key the caller has put there; a PedigreeError with `code` otherwise. */
export function got<K, V>(
  map: ReadonlyMap<K, V>,
  key: K,
  what: string,
  code: ErrorCode = "INTERNAL_INVARIANT",
): V {
  const value = map.get(key);
  if (value === undefined) throw new PedigreeError(code, `${what}: no entry for ${String(key)}`);
  return value;
}
