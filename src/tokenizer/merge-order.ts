import type { LoadedTokenizer, Vocabulary } from "./types.js";

export type TokenizerLike = Vocabulary & Partial<LoadedTokenizer>;

/**
 * The order in which a BPE tokenizer created its merged tokens: canonical token → merge priority
 * (0 = first). From the merge list when there is one (HF, SentencePiece-derived, GGUF); for tiktoken
 * a token's rank is its merge priority. Null when the model has no merge order (Unigram, WordPiece,
 * or a bare vocabulary from a fingerprint).
 */
export function mergeOrder(tok: TokenizerLike): Map<string, number> | null {
  if (tok.merges && tok.pieces) return fromMerges(tok.merges, tok.pieces, tok.tokens);
  if (tok.kind === "tiktoken") {
    const special = new Set(tok.specialIds);
    const order = new Map<string, number>();
    tok.tokens.forEach((t, id) => {
      if (t !== null && t.length > 1 && !special.has(id) && !order.has(t)) order.set(t, id);
    });
    return order;
  }
  return null;
}

function fromMerges(
  merges: [string, string][],
  pieces: (string | null)[],
  tokens: (string | null)[],
): Map<string, number> {
  const canonicalOf = new Map<string, string>();
  pieces.forEach((p, id) => {
    const t = tokens[id];
    if (p !== null && t !== null && t !== undefined && !canonicalOf.has(p)) canonicalOf.set(p, t);
  });
  const order = new Map<string, number>();
  merges.forEach(([l, r], i) => {
    const cl = canonicalOf.get(l);
    const cr = canonicalOf.get(r);
    if (cl === undefined || cr === undefined) return; // a broken merge: audit reports it
    const result = cl + cr;
    if (!order.has(result)) order.set(result, i);
  });
  return order;
}

/**
 * Spearman rank correlation of the merge priorities of tokens both tokenizers create by merging:
 * 1 when shared merges happen in the same order. Null with fewer than 3 shared merged tokens.
 */
export function mergeOrderAgreement(
  a: Map<string, number> | null,
  b: Map<string, number> | null,
): { sharedMerges: number; spearman: number | null } {
  if (!a || !b) return { sharedMerges: 0, spearman: null };
  const xs: number[] = [];
  const ys: number[] = [];
  for (const [tok, ra] of a) {
    const rb = b.get(tok);
    if (rb !== undefined) {
      xs.push(ra);
      ys.push(rb);
    }
  }
  if (xs.length < 3) return { sharedMerges: xs.length, spearman: null };
  return { sharedMerges: xs.length, spearman: pearson(ranks(xs), ranks(ys)) };
}

/** Ranks 0..n-1 (inputs are distinct merge indices per side, so there are no ties to average). */
function ranks(v: number[]): Float64Array {
  const idx = v.map((_, i) => i).sort((i, j) => v[i]! - v[j]!);
  const r = new Float64Array(v.length);
  idx.forEach((i, k) => {
    r[i] = k;
  });
  return r;
}

function pearson(x: Float64Array, y: Float64Array): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : 0;
}
