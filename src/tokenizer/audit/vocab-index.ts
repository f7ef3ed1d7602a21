import { isByteFallbackPiece } from "../bytes.js";
import type { LoadedTokenizer } from "../types.js";

/**
 * Lookups over the whole vocabulary that several audit checks need, each built once per tokenizer.
 * Why shared: a map over a million pieces costs ≈ 0.3–0.5 s of CPU, and the checks were building four
 * of them; a vocabulary at the cap (MAX_VOCAB_ENTRIES) must audit within the hostile-input CPU limit.
 */
const firstIds = new WeakMap<LoadedTokenizer, ReadonlyMap<string, number>>();
const duplicates = new WeakMap<LoadedTokenizer, readonly (readonly [number, number])[]>();

/** Piece (the tokenizer's own spelling) → the lowest id spelled so. */
export function pieceIds(tok: LoadedTokenizer): ReadonlyMap<string, number> {
  let ids = firstIds.get(tok);
  if (!ids) {
    const map = new Map<string, number>();
    tok.pieces.forEach((p, id) => {
      if (p !== null && !map.has(p)) map.set(p, id);
    });
    ids = map;
    firstIds.set(tok, ids);
  }
  return ids;
}

/**
 * Every regular token whose bytes equal a lower regular token's, as [lowest id, id], in id order.
 * Special tokens and SentencePiece byte-fallback pieces are left out ("<0x41>" and "A" spell the
 * same byte on purpose).
 */
export function laterDuplicates(tok: LoadedTokenizer): readonly (readonly [number, number])[] {
  let pairs = duplicates.get(tok);
  if (!pairs) {
    const special = new Set(tok.specialIds);
    const first = new Map<string, number>();
    const out: [number, number][] = [];
    tok.tokens.forEach((t, id) => {
      if (t === null || special.has(id) || isByteFallbackPiece(tok.pieces[id] ?? "")) return;
      const f = first.get(t);
      if (f === undefined) first.set(t, id);
      else out.push([f, id]);
    });
    pairs = out;
    duplicates.set(tok, pairs);
  }
  return pairs;
}
