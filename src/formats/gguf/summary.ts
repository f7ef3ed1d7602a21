import type { GgufArrayValue, GgufValue } from "./types.js";

/** Items of an array shown in summaries: enough to recognise it, small enough for `inspect --json`. */
export const SUMMARY_ARRAY_ITEMS = 8;

/**
 * Characters of a string kept in summaries: whole chat templates (typically < 10k) but not an
 * embedded 30 MB tokenizer.huggingface.json.
 */
export const SUMMARY_STRING_CHARS = 16384;

/** JSON-safe scalar: 64-bit integers become numbers when exact, decimal strings otherwise; long strings cut. */
function scalarOf(v: bigint | number | boolean | string): number | boolean | string {
  if (typeof v === "string" && v.length > SUMMARY_STRING_CHARS) {
    return `${v.slice(0, SUMMARY_STRING_CHARS)}… [${v.length} characters in all]`;
  }
  if (typeof v !== "bigint") return v;
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(v)
    : v.toString();
}

/** A value for Checkpoint.metadata: scalars as is, arrays as {type, length, first items}. */
export function summariseValue(v: GgufValue): unknown {
  if (v.type !== "array") return scalarOf(v.value);
  const items: ArrayLike<GgufArrayValue | bigint | number | boolean | string> = v.value;
  const first: unknown[] = [];
  for (let i = 0; i < Math.min(items.length, SUMMARY_ARRAY_ITEMS); i++) {
    const x = items[i];
    if (x !== undefined) first.push(typeof x === "object" ? summariseValue(x) : scalarOf(x));
  }
  return { type: `array<${v.itemType}>`, length: v.value.length, first };
}

export function summariseMetadata(metadata: Map<string, GgufValue>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // Keys come from the file: "__proto__" must become a plain key, not replace the prototype (CWE-1321).
  for (const [k, v] of metadata)
    Object.defineProperty(out, k, {
      value: summariseValue(v),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return out;
}
