/**
 * Canonical token form: a token's raw bytes as a "binary string" (one UTF-16 code unit per byte,
 * code 0–255). Every tokenizer family spells bytes differently; these helpers undo the spellings so
 * that tokens of different families compare equal exactly when their bytes do.
 *
 * - GPT-2 byte-level BPE: each byte is shown as a printable code point (the `bytes_to_unicode`
 *   table of GPT-2's encoder.py: printable Latin-1 bytes map to themselves, the other 68 bytes to
 *   U+0100 upwards in byte order — so 0x20 is "Ġ", 0x0A is "Ċ").
 * - Metaspace (SentencePiece, Llama 2, Gemma): U+2581 "▁" stands for a space; other text is UTF-8.
 * - SentencePiece byte fallback: pieces "<0xNN>" are the single byte NN.
 * - tiktoken: tokens are stored as base64 of their bytes.
 */

const METASPACE = "\u2581";
const BYTE_FALLBACK = /^<0x([0-9A-Fa-f]{2})>$/;

/** byte → the code point GPT-2's byte-level alphabet shows for it. */
export const BYTE_TO_UNICODE: readonly string[] = buildByteTable();
/** UTF-16 code unit → byte for GPT-2's alphabet (all of it lies below U+0144); -1 elsewhere. */
const UNIT_TO_BYTE: Int16Array = (() => {
  const t = new Int16Array(0x144).fill(-1);
  BYTE_TO_UNICODE.forEach((ch, b) => {
    t[ch.charCodeAt(0)] = b;
  });
  return t;
})();

function buildByteTable(): string[] {
  const printable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let next = 0;
  for (let b = 0; b < 256; b++) {
    table.push(String.fromCharCode(printable(b) ? b : 256 + next));
    if (!printable(b)) next++;
  }
  return table;
}

/** Byte-level spelling → binary string, or null when a char is outside the 256-symbol alphabet. */
export function byteLevelToBinary(token: string): string | null {
  const codes = new Array<number>(token.length);
  for (let i = 0; i < token.length; i++) {
    const u = token.charCodeAt(i);
    const b = UNIT_TO_BYTE[u] ?? -1; // beyond the table: not a byte-level unit
    if (b < 0) return null;
    codes[i] = b;
  }
  // Tokens are short (tens of units), well within fromCharCode's argument limit.
  return String.fromCharCode(...codes);
}

/** Binary string → GPT-2 byte-level spelling (inverse of byteLevelToBinary). */
export function binaryToByteLevel(bin: string): string {
  let out = "";
  for (let i = 0; i < bin.length; i++) out += BYTE_TO_UNICODE[bin.charCodeAt(i)];
  return out;
}

/**
 * UTF-8 text → binary string of its bytes. Called once per vocabulary entry by every loader, so its
 * cost counts at the 2²⁰-entry cap (test/hostile/rss.test.ts): ASCII is returned as it is (its own
 * UTF-8), anything else goes through Node's Buffer, ≈ 7× TextEncoder plus String.fromCharCode on
 * short strings (lone surrogates become U+FFFD in both).
 */
export function textToBinary(text: string): string {
  return ASCII.test(text) ? text : Buffer.from(text, "utf8").toString("latin1");
}

/** Only code units below 0x80. */
const ASCII = /^[\x00-\x7f]*$/;

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/** The text a binary string spells, or null when its bytes are not complete UTF-8. */
export function binaryToText(bin: string): string | null {
  if (ASCII.test(bin)) return bin;
  try {
    return STRICT_UTF8.decode(Buffer.from(bin, "latin1"));
  } catch {
    return null; // partial multi-byte sequences are normal for byte-level tokens, not an error
  }
}

/** Metaspace spelling (▁ for space) → binary string; "<0xNN>" byte-fallback pieces → one byte. */
export function metaspaceToBinary(piece: string): string {
  const m = BYTE_FALLBACK.exec(piece);
  if (m) return String.fromCharCode(Number.parseInt(m[1] ?? "", 16));
  return textToBinary(piece.split(METASPACE).join(" "));
}

export function isByteFallbackPiece(piece: string): boolean {
  return BYTE_FALLBACK.test(piece);
}

/** Base64 → binary string (tiktoken rank files). Returns null on characters outside base64. */
export function base64ToBinary(b64: string): string | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return null;
  return Buffer.from(b64, "base64").toString("latin1");
}

/** A printable rendering of a canonical token for reports: UTF-8 where valid, \xNN escapes elsewhere. */
export function displayToken(bin: string): string {
  const text = binaryToText(bin);
  // Invisible characters (format, private use, unassigned, odd spaces) are shown as \u{…}.
  if (text !== null)
    return JSON.stringify(text)
      .slice(1, -1)
      .replace(
        /[\p{Cf}\p{Co}\p{Cn}\u00a0\u2000-\u200a\u3000]/gu,
        (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`,
      );
  let out = "";
  for (let i = 0; i < bin.length; i++) {
    const c = bin.charCodeAt(i);
    out += c >= 0x20 && c < 0x7f ? bin[i] : `\\x${c.toString(16).padStart(2, "0")}`;
  }
  return out;
}
