import { at } from "../../checked.js";
import type { LoadedTokenizer } from "../types.js";
import { MAX_EXAMPLES } from "./structure.js";
import { laterDuplicates } from "./vocab-index.js";

/** Consecutive ids spelled in another family's style needed to call a range foreign (not a stray token). */
export const MIN_FOREIGN_RUN = 8;

export interface ForeignRange {
  start: number;
  /** Exclusive. */
  end: number;
  /** The spelling the pieces of the range use. */
  style: "metaspace" | "byte-level" | "raw";
}

/**
 * Id ranges whose pieces are spelled in a different family's style than the tokenizer's own —
 * "▁" pieces inside a byte-level BPE, "Ġ"/"Ċ" pieces inside a metaspace one, raw spaces or
 * control characters in either — the mark of a vocabulary assembled from two sources.
 */
export function foreignRanges(tok: LoadedTokenizer): ForeignRange[] {
  if (tok.spelling !== "byte-level" && tok.spelling !== "metaspace") return [];
  const added = new Set(tok.added.map((a) => a.id));
  const out: ForeignRange[] = [];
  let cur: ForeignRange | null = null;
  tok.pieces.forEach((p, id) => {
    const style = p === null || added.has(id) ? null : foreignStyle(p, tok.spelling);
    if (cur && style === cur.style && id === cur.end) {
      cur.end = id + 1;
      return;
    }
    if (cur && cur.end - cur.start >= MIN_FOREIGN_RUN) out.push(cur);
    cur = style ? { start: id, end: id + 1, style } : null;
  });
  const last = cur as ForeignRange | null;
  if (last && last.end - last.start >= MIN_FOREIGN_RUN) out.push(last);
  return out.slice(0, MAX_EXAMPLES);
}

function foreignStyle(piece: string, spelling: string): ForeignRange["style"] | null {
  if (/[\u0000-\u0020]/.test(piece)) return "raw";
  if (spelling === "byte-level" && piece.includes("\u2581")) return "metaspace";
  // Ġ (space) and Ċ (newline) never occur in metaspace pieces of real text vocabularies.
  if (spelling === "metaspace" && /[\u0120\u010a]/.test(piece) && !piece.includes("\u2581"))
    return "byte-level";
  return null;
}

/**
 * Where duplicated strings sit: when the first copy of most duplicates is below some id and the
 * second above it, the vocabulary is two halves that overlap — the splice point is reported.
 */
export function duplicateSplit(tok: LoadedTokenizer): { splitId: number; pairs: number } | null {
  const seconds = laterDuplicates(tok);
  if (seconds.length === 0) return null;
  // Loops, not Math.max(...xs): 200k duplicates as call arguments overflow the stack (RangeError).
  let maxFirst = -1;
  let minSecond = Number.POSITIVE_INFINITY;
  for (const [f, s] of seconds) {
    if (f > maxFirst) maxFirst = f;
    if (s < minSecond) minSecond = s;
  }
  return maxFirst < minSecond ? { splitId: minSecond, pairs: seconds.length } : null;
}

/**
 * SentencePiece orders pieces by score, highest first, so among normal pieces the score never rises
 * with the id. A rise marks where a second vocabulary, scored on its own, was appended. Only
 * checked where scores exist (SentencePiece .model, GGUF "llama", Unigram tokenizer.json) and at
 * least SCORE_ORDER_MIN_SHARE of consecutive pairs are in order (otherwise ids do not follow scores).
 */
export const SCORE_ORDER_MIN_SHARE = 0.99;

export function scoreResets(tok: LoadedTokenizer): { id: number; from: number; to: number }[] {
  if (!tok.scores) return [];
  const skip = new Set([...tok.specialIds, ...tok.added.map((a) => a.id)]);
  const ids: number[] = [];
  tok.pieces.forEach((p, id) => {
    if (p !== null && !skip.has(id) && !/^<0x[0-9A-Fa-f]{2}>$/.test(p)) ids.push(id);
  });
  const rises: { id: number; from: number; to: number }[] = [];
  const scores = tok.scores;
  const scoreOf = (id: number) => at(scores, id, "SentencePiece scores", "TOKENIZER_MALFORMED");
  ids.forEach((id, k) => {
    if (k === 0) return;
    const from = scoreOf(at(ids, k - 1, "piece ids"));
    const to = scoreOf(id);
    if (to > from) rises.push({ id, from, to });
  });
  const inOrder = ids.length > 1 ? 1 - rises.length / (ids.length - 1) : 1;
  return inOrder >= SCORE_ORDER_MIN_SHARE ? rises.slice(0, MAX_EXAMPLES) : [];
}
