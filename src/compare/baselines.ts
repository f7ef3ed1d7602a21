import type { LayerSketch } from "../fingerprint/sketch/types.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { pearson } from "../stats/correlation.js";
import { compareTokenizers } from "../tokenizer/index.js";

/**
 * Context evidence that never decides a verdict (DESIGN §4 E1, E6):
 * - E1 tokenizer kinship: Jaccard overlap of the canonical vocabularies. A prior only: unrelated
 *   model families share tokenizers (Llama 3 and Qwen both start from cl100k_base).
 * - E6 std-profile correlation (HonestAGI 2025): Pearson correlation of per-layer weight std curves.
 *   Smooth curves correlate for independent same-shape models (0.84 on kinship-dev's independent pair).
 * - E6 HuRef-style invariant: correlation of Σ_h E·Wq_hᵀ·Wk_h·Eᵀ on shared anchor tokens, per layer.
 *   Invariant to hidden permutations and q/k rescaling, but fades under heavy continued training.
 */

/** Longest shared id blocks shown in the E1 detail (the totals cover all). */
const E1_BLOCKS_SHOWN = 5;

/**
 * E1 from the tokenizer module's comparison (src/tokenizer/compare.ts: overlap, shared id blocks,
 * relation), on the canonical vocabularies the fingerprints carry; null when a side has none.
 * `jaccard` of the distinct non-special strings drives the vocab_swap relation.
 */
export function tokenizerKinship(a: Fingerprint, b: Fingerprint) {
  if (!a.tokenizer || !b.tokenizer) return null;
  const c = compareTokenizers(
    { kind: a.tokenizer.kind, tokens: a.tokenizer.tokens },
    { kind: b.tokenizer.kind, tokens: b.tokenizer.tokens },
  );
  const { shared, aDistinct, bDistinct } = c.overlap;
  return {
    identical: a.tokenizer.sha256 === b.tokenizer.sha256,
    relation: c.relation,
    jaccard: shared / (aDistinct + bDistinct - shared || 1),
    overlap: c.overlap,
    blockTotals: c.blockTotals,
    sharedIdBlocks: c.sharedIdBlocks.slice(0, E1_BLOCKS_SHOWN),
    evidence: c.evidence,
  };
}

/** Pearson correlation of each common per-layer profile, when both have the same number of layers. */
export function stdProfileCorrelation(a: Fingerprint, b: Fingerprint) {
  const roles: Record<string, number> = {};
  for (const [role, pa] of Object.entries(a.layerProfiles ?? {})) {
    const pb = b.layerProfiles?.[role];
    if (!pb || pb.length !== pa.length || pa.length < 3) continue;
    const r = pearson(pa, pb);
    if (Number.isFinite(r)) roles[role] = r;
  }
  const values = Object.values(roles);
  return { roles, mean: values.length ? values.reduce((s, x) => s + x, 0) / values.length : Number.NaN };
}

/** HuRef-style invariant correlation per aligned layer pair, on the invariant tokens both sides share. */
export function qkInvariantCorrelation(
  featureTokensA: string[],
  featureTokensB: string[],
  la: LayerSketch,
  lb: LayerSketch,
): number {
  if (!la.qk || !lb.qk) return Number.NaN;
  const ta = featureTokensA.slice(0, la.invariantTokens);
  const idxB = new Map(featureTokensB.slice(0, lb.invariantTokens).map((t, i) => [t, i] as const));
  const pairs: [number, number][] = [];
  ta.forEach((t, i) => {
    const j = idxB.get(t);
    if (j !== undefined) pairs.push([i, j]);
  });
  if (pairs.length < 4) return Number.NaN;
  const x: number[] = [];
  const y: number[] = [];
  for (const [i1, j1] of pairs)
    for (const [i2, j2] of pairs) {
      // Token positions below invariantTokens² of each side's stored matrix: `?? NaN` never fires.
      x.push(la.qk[i1 * la.invariantTokens + i2] ?? Number.NaN);
      y.push(lb.qk[j1 * lb.invariantTokens + j2] ?? Number.NaN);
    }
  return pearson(x, y);
}
