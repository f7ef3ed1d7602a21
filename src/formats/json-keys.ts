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
        const key = JSON.parse(text.slice(i, end + 1)) as string;
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
