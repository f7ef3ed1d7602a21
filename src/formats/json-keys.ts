import { PedigreeError } from "../errors.js";

/**
 * Finds the first duplicated key in any object of a JSON text that JSON.parse has already accepted.
 * JSON.parse silently keeps the last of two equal keys; safetensors' reference reader (serde) rejects
 * them, and a second "lm_head.weight" entry is how a header would hide a tensor. Returns the key path
 * (outer keys first) or null. Linear in the text; keys are decoded (escapes included) before comparing.
 */
export function findDuplicateJsonKey(text: string): string[] | null {
  // One frame per open container: the keys seen so far (objects) or null (arrays).
  const stack: { keys: Set<string> | null; expectKey: boolean; lastKey: string }[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      const end = stringEnd(text, i);
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        // Decode escapes only when there are any: most keys are plain, and JSON.parse per key is slow.
        const raw = text.slice(i + 1, end);
        const key = raw.includes("\\") ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (top.keys.has(key))
          return [...stack.slice(0, -1).map((f) => f.lastKey), key].filter((k) => k !== "");
        top.keys.add(key);
        top.lastKey = key;
        top.expectKey = false;
      }
      i = end;
    } else if (ch === 0x7b /* { */) {
      stack.push({ keys: new Set(), expectKey: true, lastKey: "" });
    } else if (ch === 0x5b /* [ */) {
      stack.push({ keys: null, expectKey: false, lastKey: "" });
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) {
      stack.pop();
    } else if (ch === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
    }
  }
  return null;
}

/** Index of the closing quote of the string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  for (let j = start + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x5c /* \ */) j++;
    else if (c === 0x22) return j;
  }
  throw new PedigreeError("INTERNAL_JSON_SCAN", "unterminated string in JSON that already parsed");
}

/**
 * Keys written in a valid JSON text, duplicates included, without allocating per key: in valid JSON a
 * string is a key exactly when the next non-blank character is ":".
 */
export function countJsonKeys(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) !== 0x22) continue;
    let j = stringEnd(text, i) + 1;
    while (j < text.length && isBlank(text.charCodeAt(j))) j++;
    if (text.charCodeAt(j) === 0x3a /* : */) n++;
    i = j - 1;
  }
  return n;
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Own keys over every object of a parsed JSON value; iterative, so hostile nesting cannot overflow the stack. */
export function countParsedKeys(value: unknown): number {
  let n = 0;
  const todo: unknown[] = [value];
  while (todo.length > 0) {
    const v = todo.pop();
    if (v === null || typeof v !== "object") continue;
    const children = Array.isArray(v) ? v : Object.values(v);
    if (!Array.isArray(v)) n += children.length;
    for (const c of children) if (c !== null && typeof c === "object") todo.push(c);
  }
  return n;
}

/**
 * The path of a repeated key in `text` (which parsed to `parsed`), or null. Fast path: if as many
 * keys are written as survived parsing, none repeats; only otherwise is the path searched for.
 */
export function duplicateKeyPath(text: string, parsed: unknown): string[] | null {
  return countJsonKeys(text) === countParsedKeys(parsed) ? null : findDuplicateJsonKey(text);
}
