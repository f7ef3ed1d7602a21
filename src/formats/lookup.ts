/**
 * A table entry by a key that came from input (a GGUF architecture, a pickle global, a dtype name):
 * own properties only, so "__proto__", "constructor" or "toString" find nothing instead of
 * Object.prototype's members (CWE-1321).
 */
export function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}
