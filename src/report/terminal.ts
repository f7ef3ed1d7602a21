/**
 * Strings from input files (tensor names, tokens, column names, claims, tags) reach a terminal
 * in the human renderings; a control sequence in one can retitle the window (ESC ] 0;…BEL), clear
 * the screen or print a fake "verified" line, and bidi overrides can reorder what is shown
 * (CVE-2021-42574, "Trojan Source"). Such characters are shown visibly escaped instead: C0
 * controls, DEL and C1 controls as \xHH (\n, \r, \t as themselves escaped), bidi controls and
 * line/paragraph separators as \uHHHH. The JSON output needs none of this: JSON.stringify escapes
 * C0 controls and a JSON reader is not a terminal.
 */

/** C0, DEL, C1; ALM, LRM/RLM, LRE…RLO, LS/PS, LRI…PDI; the BOM-like ZWNBSP is left alone. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
const UNSAFE_KEEP_LINES =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escapeChar(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.charCodeAt(0);
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** One input-derived value for a terminal line: every control and bidi character escaped. */
export function escapeForTerminal(s: string): string {
  return s.replace(UNSAFE, escapeChar);
}

/**
 * A whole rendering for a terminal: the same, except that line feeds and tabs the renderer put
 * there stay. The CLI passes every human rendering and error message through this as a last
 * line of defence; renderers still escape each input-derived value, so a "\n" inside a name
 * cannot forge a line.
 */
export function escapeTerminalText(s: string): string {
  return s.replace(UNSAFE_KEEP_LINES, escapeChar);
}

/** Characters JSON.stringify leaves raw that a terminal acts on or reorders (it escapes C0 itself). */
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * A JSON document safe to print on a terminal and still the same JSON: DEL, C1 and bidi controls
 * become \uXXXX escapes, which every JSON reader decodes back to the same characters.
 */
export function jsonForTerminal(json: string): string {
  return json.replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** JSON for results: bigint as number when safe, typed arrays as plain arrays, -Infinity kept visible. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint")
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (ArrayBuffer.isView(value) && !(value instanceof DataView))
    return Array.from(value as unknown as ArrayLike<number>);
  if (value instanceof Map) return Object.fromEntries(value);
  return value;
}
