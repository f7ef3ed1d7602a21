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
  /**
   * Set when only an even sample of the eligible tokens was encoded: the 95 % upper confidence bound
   * (Wilson score) on the share of unreachable tokens among all eligible ones.
   */
  sample: { confidence: 0.95; unreachableShareUpper: number } | null;
  /** Encoding the token's own text (in the contexts below) never yields its id. */
  unreachable: {
    count: number;
    ids: number[];
    examples: { id: number; token: string; encodedAs: number[] }[];
  };
}

/**
 * Tokens encoded when no limit is given, by encoder (measured per-token cost): the reference
 * tokenizer.json library takes ~80–110 µs per encode, js-tiktoken ~13 µs, so 10^6 tokens would take
 * 100 s / 13 s. 32,768 (262,144) evenly spaced tokens take ~3–4 s and bound the unreachable share to
 * ≤ 0.012 % (≤ 0.0015 %) at 95 % when none is found. Vocabularies up to the limit are checked in full.
 */
export const REACH_DEFAULT_LIMIT = { "hf-json": 32_768, tiktoken: 262_144 } as const;

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
    sample: null,
    unreachable: { count: 0, ids: [], examples: [] },
  };
  const regular = tok.tokens.length - skip.size;
  const limit =
    opts.limit ??
    (tok.encoderSource.kind === "tiktoken" ? REACH_DEFAULT_LIMIT.tiktoken : REACH_DEFAULT_LIMIT["hf-json"]);
  const stride = limit < regular ? regular / limit : 1;
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
  if (out.checked < out.eligible)
    out.sample = { confidence: 0.95, unreachableShareUpper: wilsonUpper(out.unreachable.count, out.checked) };
  return out;
}

/** Wilson score upper bound at 95 % (z = 1.96) on a binomial share of k in n (n > 0). */
function wilsonUpper(k: number, n: number): number {
  if (n === 0) return 1;
  const z = 1.96;
  const p = k / n;
  const denom = 1 + (z * z) / n;
  const centre = p + (z * z) / (2 * n);
  const spread = z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return Math.min(1, (centre + spread) / denom);
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
