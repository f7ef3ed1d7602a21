import type { ErrorCode } from "../errors.js";
import { PedigreeError } from "../errors.js";

/**
 * JSON.parse behind shape caps, for every JSON text that comes from input (config, tokenizer, shard
 * index, mapping, fingerprint payload). It sits in io/ so that the shard-index parser that io/ itself
 * needs (listing a plain-HTTP folder) is capped the same way as formats/.
 */

/**
 * Nesting depth accepted in any input JSON. Real files nest ≤ 8 deep (tokenizer.json: pipeline →
 * Sequence → step → pattern); V8's JSON.parse and every recursive walk overflow the stack near 10⁴–10⁵,
 * so the depth is checked by a flat scan before parsing (CWE-674).
 */
export const MAX_JSON_DEPTH = 64;
/**
 * Arrays, objects, elements and members in one JSON text (counted by the same scan). Parsed, each
 * costs 8–170 bytes against 2–9 bytes of text: a 48 MB object of 5 M short keys takes 0.9 GB, a
 * 48 MB array of 24 M small integers 0.67 GB. The largest real file, Gemma 3's tokenizer.json (262k
 * vocab + 514k merge pairs), has 2.17 M; 6 M leaves room and keeps a parse under ~0.5 GB.
 */
export const MAX_JSON_ITEMS = 6_000_000;

export interface JsonShape {
  maxDepth: number;
  /** Arrays, objects, array elements and object members: the count of heap objects JSON.parse may build. */
  items: number;
  /** Object members at depth 1, 2 and 3 (index 0, 1, 2): the entries a format's top-level maps hold. */
  keysAtDepth: [number, number, number];
}

/** Depth and container count of a JSON text by one flat pass (strings skipped); stops early past `depthCap`. */
export function scanJsonShape(text: string, depthCap = MAX_JSON_DEPTH): JsonShape {
  let depth = 0;
  let maxDepth = 0;
  let items = 0;
  const keysAtDepth: [number, number, number] = [0, 0, 0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < text.length; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x5c /* \ */) i++;
        else if (s === 0x22) break;
      }
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      items++;
      if (++depth > maxDepth) {
        maxDepth = depth;
        if (maxDepth > depthCap) break;
      }
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    } else if (c === 0x2c /* , */) {
      items++;
    } else if (c === 0x3a /* : */) {
      items++;
      if (depth >= 1 && depth <= 3) keysAtDepth[depth - 1] = (keysAtDepth[depth - 1] ?? 0) + 1;
    }
  }
  return { maxDepth, items, keysAtDepth };
}

export interface JsonLimits {
  /** Error code for a limit exceeded (`FORMAT_LIMIT_EXCEEDED`, `TOKENIZER_LIMIT_EXCEEDED`, …). */
  code: ErrorCode;
  /** Error code for text that is not JSON. */
  syntaxCode: ErrorCode;
  hint: string;
  maxItems?: number;
  /** Most members allowed in objects at depth 1..3 (a safetensors header's tensors are at depth 1). */
  maxKeysAtDepth?: { depth: 1 | 2 | 3; limit: number; constant: string; what: string };
}

/**
 * JSON.parse behind the shape caps: nesting deeper than MAX_JSON_DEPTH and more values than
 * MAX_JSON_ITEMS are refused before parsing, and anything JSON.parse still throws (RangeError, SyntaxError)
 * becomes a coded error.
 */
export function parseJsonText(text: string, file: string, limits: JsonLimits): unknown {
  const shape = scanJsonShape(text);
  const maxItems = limits.maxItems ?? MAX_JSON_ITEMS;
  if (shape.maxDepth > MAX_JSON_DEPTH) {
    throw limitError(limits, file, "nesting depth", shape.maxDepth, MAX_JSON_DEPTH, "MAX_JSON_DEPTH");
  }
  if (shape.items > maxItems) {
    throw limitError(limits, file, "values", shape.items, maxItems, "MAX_JSON_ITEMS");
  }
  const k = limits.maxKeysAtDepth;
  const keys = k ? (shape.keysAtDepth[k.depth - 1] ?? 0) : 0;
  if (k && keys > k.limit) {
    throw limitError(limits, file, k.what, keys, k.limit, k.constant);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new PedigreeError(limits.syntaxCode, `${file}: not valid JSON (${(e as Error).message})`, {
      details: { file },
      hint: limits.hint,
      cause: e,
    });
  }
}

function limitError(
  limits: JsonLimits,
  file: string,
  what: string,
  actual: number,
  limit: number,
  name: string,
): PedigreeError {
  return new PedigreeError(
    limits.code,
    `${file}: ${what} ${actual} exceeds the limit of ${limit} (${name})`,
    {
      details: { file, what, actual, limit, constant: name },
      hint: limits.hint,
    },
  );
}
