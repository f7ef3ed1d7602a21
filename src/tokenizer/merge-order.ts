import { at } from "../checked.js";
import { pearson } from "../stats/correlation.js";
import type { LoadedTokenizer, Vocabulary } from "./types.js";

/**
 * What compare accepts: a loaded tokenizer, a `Vocabulary`, or a fingerprint's tokenizer signature
 * ({kind, tokens}; special ids then unknown, so every token counts as regular).
 */
export type TokenizerLike = Pick<Vocabulary, "tokens"> & {
  kind: string;
  specialIds?: number[];
} & Partial<Omit<LoadedTokenizer, "kind" | "tokens" | "specialIds">>;

/**
 * The order in which a BPE tokenizer created its merged tokens, by token id: the index of the first
 * merge producing the token, or -1 for tokens no merge produces. From the merge list when there is
 * one (HF, SentencePiece-derived, GGUF); for tiktoken a multi-byte token's rank is its merge
 * priority. Null when the model has no merge order (Unigram, WordPiece, or a bare vocabulary from
 * a fingerprint).
 */
export function mergeOrder(tok: TokenizerLike): Int32Array | null {
  const order = new Int32Array(tok.tokens.length).fill(-1);
  if (tok.merges && tok.pieces) {
    const idOf = new Map<string, number>();
    tok.pieces.forEach((p, id) => {
      if (p !== null && !idOf.has(p)) idOf.set(p, id);
    });
    tok.merges.forEach(([l, r], i) => {
      const id = idOf.get(l + r);
      if (id !== undefined && order[id] === -1) order[id] = i;
    });
    return order;
  }
  if (tok.kind === "tiktoken") {
    const special = new Set(tok.specialIds ?? []);
    tok.tokens.forEach((t, id) => {
      if (t !== null && t.length > 1 && !special.has(id)) order[id] = id;
    });
    return order;
  }
  return null;
}

/**
 * Spearman rank correlation of the merge priorities of tokens both tokenizers create by merging
 * (paired through `idInB`, canonical token → id in B): 1 when shared merges happen in the same
 * order. Null with fewer than 3 shared merged tokens.
 */
export function mergeOrderAgreement(
  aTokens: (string | null)[],
  a: Int32Array | null,
  b: Int32Array | null,
  idInB: Map<string, number>,
): { sharedMerges: number; spearman: number | null } {
  if (!a || !b) return { sharedMerges: 0, spearman: null };
  const xs: number[] = [];
  const ys: number[] = [];
  for (let id = 0; id < a.length; id++) {
    const t = aTokens[id];
    const rankA = a[id] ?? -1; // id < a.length: always present
    if (rankA < 0 || t === null || t === undefined) continue;
    const j = idInB.get(t);
    const rankB = j === undefined ? -1 : (b[j] ?? -1);
    if (rankB >= 0) {
      xs.push(rankA);
      ys.push(rankB);
    }
  }
  if (xs.length < 3) return { sharedMerges: xs.length, spearman: null };
  // Spearman = Pearson on ranks; a side with a single rank has no order to agree with (0).
  const rho = pearson(ranks(xs), ranks(ys));
  return { sharedMerges: xs.length, spearman: Number.isNaN(rho) ? 0 : rho };
}

/** Ranks 0..n-1 (merge indices are distinct per side, so there are no ties to average). */
function ranks(v: number[]): Float64Array {
  const idx = Uint32Array.from(v.keys()).sort((i, j) => at(v, i, "ranks") - at(v, j, "ranks"));
  const r = new Float64Array(v.length);
  idx.forEach((i, k) => {
    r[i] = k;
  });
  return r;
}
