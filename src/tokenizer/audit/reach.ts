import { binaryToText, displayToken, isByteFallbackPiece } from "../bytes.js";
import { createEncoder } from "../encode.js";
import type { LoadedTokenizer } from "../types.js";
import { MAX_EXAMPLES } from "./structure.js";

export interface ReachFindings {
  /** Regular tokens whose bytes are complete UTF-8 text, each encoded on its own. */
  checked: number;
  /** Regular tokens in the tokenizer; `checked` < this when a limit spread the check over every k-th token. */
  eligible: number;
  /** SentencePiece byte-fallback pieces: emitted only for characters the vocabulary lacks, not checked. */
  byteFallback: number;
  /** Tokens whose bytes are not complete UTF-8 (byte-level fragments): reachable only inside longer text, not checked. */
  partialUtf8: number;
  /** Encoding the token's own text (in the contexts below) never yields its id. */
  unreachable: {
    count: number;
    ids: number[];
    examples: { id: number; token: string; encodedAs: number[] }[];
  };
}

/**
 * Encodes every regular token's own text and checks that its id comes out, the "unreachable token"
 * test of Land & Bartolo (2024). Metaspace tokenizers add "▁" before the text, so a word-initial
 * token " x" is also tried as "x", and a continuation "x" after a short prefix.
 */
export function checkReachability(
  tok: LoadedTokenizer,
  opts: { limit?: number; onProgress?: (done: number, total: number) => void } = {},
): ReachFindings {
  const { onProgress } = opts;
  const enc = createEncoder(tok);
  const skip = new Set([...tok.specialIds, ...tok.added.map((a) => a.id), ...tok.undecodableIds]);
  const out: ReachFindings = {
    eligible: 0,
    checked: 0,
    byteFallback: 0,
    partialUtf8: 0,
    unreachable: { count: 0, ids: [], examples: [] },
  };
  const regular = tok.tokens.length - skip.size;
  const stride = opts.limit && opts.limit < regular ? regular / opts.limit : 1;
  let next = 0;
  tok.tokens.forEach((t, id) => {
    if (id % 4096 === 0) onProgress?.(id, tok.tokens.length);
    if (t === null || skip.has(id)) return;
    if (isByteFallbackPiece(tok.pieces[id] ?? "")) {
      out.byteFallback++;
      return;
    }
    const text = binaryToText(t);
    if (text === null) {
      out.partialUtf8++;
      return;
    }
    if (out.eligible++ < next) return;
    next += stride; // a limit samples every stride-th text token, evenly over the id range
    out.checked++;
    const first = enc.encode(text);
    if (first.includes(id)) return;
    for (const variant of contexts(tok, text)) if (enc.encode(variant).includes(id)) return;
    out.unreachable.count++;
    out.unreachable.ids.push(id);
    if (out.unreachable.examples.length < MAX_EXAMPLES)
      out.unreachable.examples.push({ id, token: displayToken(t), encodedAs: first });
  });
  onProgress?.(tok.tokens.length, tok.tokens.length);
  return out;
}

/**
 * Prefixes that put a metaspace continuation piece after a word start; several, because any one of
 * them may merge with the piece ("a" + "in" is the single token "▁ain").
 */
const CONTINUATION_PREFIXES = ["a", "(", "7", "\u4e2d"];

function contexts(tok: LoadedTokenizer, text: string): string[] {
  if (tok.spelling !== "metaspace") return [];
  return text.startsWith(" ") ? [text.slice(1)] : CONTINUATION_PREFIXES.map((p) => p + text);
}
