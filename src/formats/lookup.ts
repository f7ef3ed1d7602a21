/**
 * A table entry by a key that came from input (a GGUF architecture, a pickle global, a dtype name):
 * own properties only, so "__proto__", "constructor" or "toString" find nothing instead of
 * Object.prototype's members (CWE-1321).
 */
export function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** Sets `key` as an own data property: a key "__proto__" from input must not replace the prototype (CWE-1321). */
export function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
