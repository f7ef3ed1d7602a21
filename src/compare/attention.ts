import { at } from "../checked.js";
import { dequantizeRows } from "../fingerprint/sketch/project.js";
import type { AttentionSketch, Sketches, UnitFeatures } from "../fingerprint/sketch/types.js";
import { bonferroniLog10, fisherCombineLog10, fixedPointsLog10UpperBound } from "../stats/index.js";
import type { Family, FeatureSpace } from "./features.js";
import { MIN_SHARED_ANCHORS } from "./features.js";
import type { LayerAlignment } from "./layers.js";
import { matchRows } from "./match/matcher.js";
import { type FeatureMatrix, normalizeRows, selectColumns } from "./match/similarity.js";

/**
 * Attention evidence (E7): attention units matched with the E3 null. Each unit (KV head g, dim j;
 * fingerprint/sketch/attention.ts) has two views per circuit: q/k (its q rows summed over the group
 * and its k row) and v/o (its v row and its o columns summed over the group). B's units are matched
 * to A's by each view of a pair; under H0 (independent initialisation and training) the two matchings
 * are unrelated, so the units on which they agree are at most the fixed points of a random
 * permutation: P(≥ k) ≤ 1/k!, after discounting CONVERGENT_UNIT_FRACTION of the units as in E3. A
 * head's dims have no meaning shared across independent models (any rotation inside a head that
 * commutes with RoPE keeps the scores), so convergent units are rarer than convergent neurons;
 * scripts/null-study.ts measures the raw counts. Both views of a pair are matched on |cosine|: a
 * q dim and its k dim (a v dim and its o column) may flip sign together without changing the function.
 */

/** Units discounted as possibly convergent, as E3's CONVERGENT_FRACTION. */
export const CONVERGENT_UNIT_FRACTION = 0.05;
/** Below this |cosine| a matched pair is a tie between degenerate rows. */
const MIN_SCORE = 1e-6;

export type Circuit = "q/k" | "v/o";

export interface UnitTest {
  circuit: Circuit;
  family: Family;
  compared: number;
  agreements: number;
  discounted: number;
  log10P: number;
  /** For each B unit, the A unit both views agree on, else −1. */
  bToA: Int32Array;
  /** Mean |cosine| of the first view (q or v) over agreeing units (1 = unchanged). */
  meanCosine: number;
}

export interface AttentionLayerResult {
  b: number;
  a: number;
  /** Best test, Bonferroni-corrected for the tests run and the candidate layers. */
  log10P: number;
  best: UnitTest;
  /** Per B KV head: the A KV head most of its agreeing units map to, −1 when none agree. */
  kvHeadMap: number[];
}

export interface AttentionAlignment {
  pairs: AttentionLayerResult[];
  /** A test on basis-free (anchor) features ran on at least one layer pair. */
  invariantRan: boolean;
  /** Layers whose attention both sides store (0 when a side has none). */
  layersWithUnits: { a: number; b: number };
}

/** The unit features of one view in the shared space; null when unavailable. */
function unitFeatures(
  sk: Sketches,
  f: UnitFeatures,
  units: number,
  family: Family,
  space: FeatureSpace,
  side: "a" | "b",
): FeatureMatrix | null {
  if (family === "native")
    return space.nativeComparable
      ? normalizeRows({ data: dequantizeRows(f.native), rows: units, cols: sk.nativeCols })
      : null;
  const cols = side === "a" ? space.colsA : space.colsB;
  const useId = side === "a" ? space.useIdA : space.useIdB;
  const q = useId ? f.id : f.anchor;
  if (!q || cols.length < MIN_SHARED_ANCHORS) return null;
  const width = useId ? sk.idTokens.length : sk.featureTokens.length;
  return normalizeRows(selectColumns({ data: dequantizeRows(q), rows: units, cols: width }, cols));
}

const unitsOf = (x: AttentionSketch) => x.kvHeads * x.dims.length;

/** One two-view test of a circuit on one feature family; null when the features are unavailable. */
export function testUnits(
  a: Sketches,
  xa: AttentionSketch,
  b: Sketches,
  xb: AttentionSketch,
  space: FeatureSpace,
  circuit: Circuit,
  family: Family,
): UnitTest | null {
  const [first, second] = circuit === "q/k" ? (["q", "k"] as const) : (["v", "o"] as const);
  const [na, nb] = [unitsOf(xa), unitsOf(xb)];
  const fa = unitFeatures(a, xa[first], na, family, space, "a");
  const fb = unitFeatures(b, xb[first], nb, family, space, "b");
  const sa = unitFeatures(a, xa[second], na, family, space, "a");
  const sb = unitFeatures(b, xb[second], nb, family, space, "b");
  if (!fa || !fb || !sa || !sb) return null;
  const m1 = matchRows(fa, fb, { abs: true });
  const m2 = matchRows(sa, sb, { abs: true });
  const bToA = new Int32Array(nb).fill(-1);
  let agreements = 0;
  let cos = 0;
  // Per unit, indices bounded by nb: `?? -1` / `?? NaN` never fire (src/checked.ts).
  for (let u = 0; u < nb; u++) {
    const j = m1.bToA[u] ?? -1;
    const score = Math.abs(m1.score[u] ?? Number.NaN);
    if (j < 0 || j !== m2.bToA[u] || !(score > MIN_SCORE && Math.abs(m2.score[u] ?? Number.NaN) > MIN_SCORE))
      continue;
    bToA[u] = j;
    agreements++;
    cos += score;
  }
  const compared = Math.min(na, nb);
  const discounted = Math.ceil(CONVERGENT_UNIT_FRACTION * compared);
  return {
    circuit,
    family,
    compared,
    agreements,
    discounted,
    log10P: fixedPointsLog10UpperBound(agreements - discounted),
    bToA,
    meanCosine: agreements ? cos / agreements : 0,
  };
}

/** Best of both circuits and both families (Bonferroni over the tests that could run). */
function testLayer(a: Sketches, xa: AttentionSketch, b: Sketches, xb: AttentionSketch, space: FeatureSpace) {
  const tests: UnitTest[] = [];
  for (const circuit of ["q/k", "v/o"] as const)
    for (const family of ["anchor", "native"] as const) {
      const t = testUnits(a, xa, b, xb, space, circuit, family);
      if (t) tests.push(t);
    }
  if (!tests.length) return null;
  const best = tests.reduce((x, y) => (y.log10P < x.log10P ? y : x));
  return { best, looks: tests.length, invariant: tests.some((t) => t.family === "anchor") };
}

/** Per B KV head, the A KV head most of its agreeing units map to (−1 when none agree). */
function kvHeadMap(xa: AttentionSketch, xb: AttentionSketch, bToA: Int32Array): number[] {
  const [pa, pb] = [xa.dims.length, xb.dims.length];
  return Array.from({ length: xb.kvHeads }, (_, g) => {
    const votes = new Map<number, number>();
    for (let u = g * pb; u < (g + 1) * pb; u++) {
      const unit = bToA[u] ?? -1;
      if (unit < 0) continue;
      const head = Math.floor(unit / pa);
      votes.set(head, (votes.get(head) ?? 0) + 1);
    }
    let best = -1;
    let n = 0;
    for (const [h, c] of votes) if (c > n) [best, n] = [h, c];
    return best;
  });
}

/**
 * A layers each B layer's attention is tested against: the MLP alignment's source when it found one
 * (attention usually travels with its block), else the same index at equal depth, else the
 * depth-scaled position and its two neighbours (attention may have been reused while the MLPs were
 * not; a full search would cost A layers × 4 matchings per B layer on every unrelated pair).
 */
function candidates(j: number, la: number, lb: number, layers: LayerAlignment): number[] {
  const mapped = layers.layerMap.find((e) => e.b === j)?.a ?? [];
  if (mapped.length) return mapped;
  if (la === lb) return [j];
  const mid = Math.min(la - 1, Math.round((j * (la - 1)) / Math.max(1, lb - 1)));
  return [mid - 1, mid, mid + 1].filter((i) => i >= 0 && i < la);
}

export function alignAttention(
  a: Sketches,
  b: Sketches,
  space: FeatureSpace,
  layers: LayerAlignment,
): AttentionAlignment {
  const la = a.layers.length;
  const lb = b.layers.length;
  const pairs: AttentionLayerResult[] = [];
  let invariantRan = false;
  for (let j = 0; j < lb; j++) {
    const xb = at(b.layers, j, "layer of B").attn;
    if (!xb) continue;
    let chosen: AttentionLayerResult | null = null;
    const cands = candidates(j, la, lb, layers);
    for (const i of cands) {
      const xa = a.layers[i]?.attn;
      if (!xa) continue;
      const r = testLayer(a, xa, b, xb, space);
      if (!r) continue;
      invariantRan ||= r.invariant;
      const log10P = bonferroniLog10(bonferroniLog10(r.best.log10P, r.looks), cands.length);
      if (!chosen || log10P < chosen.log10P)
        chosen = { b: j, a: i, log10P, best: r.best, kvHeadMap: kvHeadMap(xa, xb, r.best.bToA) };
    }
    if (chosen) pairs.push(chosen);
  }
  const withUnits = (sk: Sketches) => sk.layers.filter((l) => l.attn).length;
  return { pairs, invariantRan, layersWithUnits: { a: withUnits(a), b: withUnits(b) } };
}

/** Fisher combination of the per-layer attention p-values (0 when none ran). */
export function attentionLog10P(x: AttentionAlignment): number {
  return x.pairs.length ? fisherCombineLog10(x.pairs.map((p) => p.log10P)) : 0;
}
