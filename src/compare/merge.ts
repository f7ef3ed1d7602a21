import { fromFloat16Array } from "../fingerprint/sketch/project.js";
import type { MlpSketch, Sketches } from "../fingerprint/sketch/types.js";
import { commonViews, type FeatureSpace, featureSpace, mlpFeatures, type View } from "./features.js";
import { alignLayers, type LayerAlignment } from "./layers.js";
import type { FeatureMatrix } from "./match/similarity.js";
import { neuronOf, storedCount, storedRowOf } from "./rows.js";

/**
 * Three-model merge test (DESIGN §4 E5, `compare A B --merge-with C`). Pairwise evidence cannot name a
 * second parent: a soup of A and a fine-tune of A looks like continued training of A. Given a candidate
 * second parent C, B's neurons are aligned to A's and to C's (the E3 matchings of A→B and C→B), and B's
 * native features of both E3 views (gate/up rows, or down columns/up rows for non-gated MLPs), scaled
 * back by the stored norms, are fitted as b ≈ x·a + y·c by least
 * squares over every neuron matched on both sides (one x, y per fit: an element-wise merge uses one
 * mixing weight). α = x/(x+y). The fit is compared with the best single parent (b ≈ x·a or b ≈ y·c). Native features are used
 * because a merge is element-wise in the stored basis, where they are linear in the weights (up to the
 * folded norm weight, itself mixed); anchor features project on each model's own embeddings.
 */

/** Merge is named when the mix leaves at most this fraction of the better single parent's residual. */
export const MERGE_RESIDUAL_RATIO = 0.5;
/** α outside [MIN_ALPHA, 1 − MIN_ALPHA] is a parent plus noise, not a mix. */
export const MIN_ALPHA = 0.1;
/**
 * Fraction of fitted layers that must each be a mix on their own: an element-wise merge mixes every
 * layer, while a layer-wise splice (bottom layers frozen from A, top from C) fits a global mix
 * (ratio 0.71 on held-out freeze_cpt) with no single layer mixed.
 */
export const MIXED_LAYER_FRACTION = 0.75;
/** The decision rule in words, built from the constants above (reported with the E5 evidence). */
export const MERGE_RULE =
  `merge when ${MIN_ALPHA} ≤ α ≤ ${1 - MIN_ALPHA} and the mix leaves ≤ ${MERGE_RESIDUAL_RATIO} of the better single parent's residual ` +
  `(native features of both E3 views — gate/up, or down/up when non-gated — of neurons matched in both), overall and in ≥ ${MIXED_LAYER_FRACTION * 100}% of the layers`;
/** Fewer neurons matched in both A and C than this and the fit is not attempted. */
const MIN_MERGE_NEURONS = 32;

export interface MergeTest {
  /** Weight of A in B ≈ αA + (1−α)C. */
  alpha: number;
  /** Residual sums of squares, each divided by Σ|b|² (unit rows: the number of rows fitted). */
  residualMix: number;
  residualA: number;
  residualC: number;
  /** residualMix / min(residualA, residualC): 1 = the mix explains nothing more. */
  ratio: number;
  neurons: number;
  layers: number;
  /** Per fitted B layer: its own α and residual ratio. */
  perLayer: { b: number; alpha: number; ratio: number; mixed: boolean }[];
  merge: boolean;
}

const zeroSums = (): Sums => ({ aa: 0, cc: 0, ac: 0, ab: 0, cb: 0, bb: 0, rows: 0 });

function addSums(into: Sums, s: Sums): void {
  into.aa += s.aa;
  into.cc += s.cc;
  into.ac += s.ac;
  into.ab += s.ab;
  into.cb += s.cb;
  into.bb += s.bb;
  into.rows += s.rows;
}

interface Sums {
  aa: number;
  cc: number;
  ac: number;
  ab: number;
  cb: number;
  bb: number;
  rows: number;
}

/** Adds one aligned row triple to the normal-equation sums; `abs`: the view may flip sign (SwiGLU up rows). */
function accumulate(
  s: Sums,
  a: FeatureMatrix,
  ia: number,
  c: FeatureMatrix,
  ic: number,
  b: FeatureMatrix,
  ib: number,
  abs: boolean,
  scale: [number, number, number],
) {
  const k = b.cols;
  let ab = 0;
  let cb = 0;
  for (let t = 0; t < k; t++) {
    const bt = b.data[ib * k + t] ?? 0;
    ab += (a.data[ia * k + t] ?? 0) * bt;
    cb += (c.data[ic * k + t] ?? 0) * bt;
  }
  const sa = (abs && ab < 0 ? -1 : 1) * scale[0];
  const sc = (abs && cb < 0 ? -1 : 1) * scale[1];
  for (let t = 0; t < k; t++) {
    const x = sa * (a.data[ia * k + t] ?? 0);
    const y = sc * (c.data[ic * k + t] ?? 0);
    const z = scale[2] * (b.data[ib * k + t] ?? 0);
    s.aa += x * x;
    s.cc += y * y;
    s.ac += x * y;
    s.ab += x * z;
    s.cb += y * z;
    s.bb += z * z;
  }
  s.rows++;
}

/**
 * Stored norms of gate rows, up rows or down columns (sketch v4), one per stored row: the features are
 * unit directions, and a mix of two rows weights each parent by α times its own row norm, so without
 * them α would be biased towards the parent with the larger rows.
 */
export function rowScale(m: MlpSketch, which: View): Float32Array {
  const q = m.norms[which];
  return q ? fromFloat16Array(q) : new Float32Array(storedCount(m)).fill(1);
}

/** For each B layer, the A layer and the B→A neuron map of the best (dense) test; null when none. */
export function neuronMaps(layers: LayerAlignment): Map<number, { a: number; bToA: Int32Array }> {
  const out = new Map<number, { a: number; bToA: Int32Array }>();
  for (const p of layers.pairs) {
    const t = p.tests[0];
    if (t && p.tests.length === 1) out.set(p.b, { a: p.a, bToA: t.test.bToA });
  }
  return out;
}

export function testMerge(
  a: Sketches,
  b: Sketches,
  c: Sketches,
  ab: { layers: LayerAlignment; space: FeatureSpace },
  cb: { layers: LayerAlignment; space: FeatureSpace },
): MergeTest | null {
  if (!ab.space.nativeComparable || !cb.space.nativeComparable) return null;
  const mapA = neuronMaps(ab.layers);
  const mapC = neuronMaps(cb.layers);
  const total = zeroSums();
  const perLayer: MergeTest["perLayer"] = [];
  for (const [j, ma] of mapA) {
    const mc = mapC.get(j);
    const lb = b.layers[j]?.mlps[0];
    const la = a.layers[ma.a]?.mlps[0];
    const lc = mc ? c.layers[mc.a]?.mlps[0] : undefined;
    if (!mc || !lb || !la || !lc) continue;
    // All three must carry the same views (a gated parent of a non-gated child fits nothing).
    const pair = commonViews(la, lb);
    if (!pair || commonViews(lc, lb) !== pair) continue;
    const s = zeroSums();
    for (const [v, which] of pair.views.entries()) {
      const fa = mlpFeatures(a, la, which, "native", ab.space, "a");
      const fb = mlpFeatures(b, lb, which, "native", ab.space, "b");
      const fc = mlpFeatures(c, lc, which, "native", cb.space, "a");
      if (!fa || !fb || !fc) continue;
      const na = rowScale(la, which);
      const nb = rowScale(lb, which);
      const nc = rowScale(lc, which);
      // Features and norms are indexed by stored row, the neuron maps by neuron index.
      const rowA = storedRowOf(la);
      const rowC = storedRowOf(lc);
      for (let r = 0; r < storedCount(lb); r++) {
        const i = neuronOf(lb, r);
        const pa = ma.bToA[i] ?? -1;
        const pc = mc.bToA[i] ?? -1;
        const ia = pa < 0 ? -1 : (rowA[pa] ?? -1);
        const ic = pc < 0 ? -1 : (rowC[pc] ?? -1);
        if (ia >= 0 && ic >= 0)
          accumulate(s, fa, ia, fc, ic, fb, r, pair.abs[v] ?? false, [na[ia] ?? 0, nc[ic] ?? 0, nb[r] ?? 0]);
      }
    }
    if (s.rows === 0) continue;
    const fit = solve(s);
    perLayer.push({ b: j, alpha: fit.alpha, ratio: fit.ratio, mixed: fit.mixed });
    addSums(total, s);
  }
  if (total.rows / 2 < MIN_MERGE_NEURONS) return null;
  const fit = solve(total);
  const mixedLayers = perLayer.filter((l) => l.mixed).length;
  return {
    ...fit,
    neurons: total.rows / 2,
    layers: perLayer.length,
    perLayer,
    merge: fit.mixed && mixedLayers >= MIXED_LAYER_FRACTION * perLayer.length,
  };
}

/** Least squares b ≈ x·a + y·c and the single-parent fits, from the normal-equation sums. */
function solve(s: Sums) {
  const det = s.aa * s.cc - s.ac * s.ac;
  const x = det > 0 ? (s.ab * s.cc - s.cb * s.ac) / det : 0;
  const y = det > 0 ? (s.cb * s.aa - s.ab * s.ac) / det : 0;
  // Residual of a least-squares fit = |b|² − (explained part).
  const residualMix = Math.max(0, s.bb - (x * s.ab + y * s.cb)) / s.bb;
  const residualA = Math.max(0, s.bb - (s.aa > 0 ? (s.ab * s.ab) / s.aa : 0)) / s.bb;
  const residualC = Math.max(0, s.bb - (s.cc > 0 ? (s.cb * s.cb) / s.cc : 0)) / s.bb;
  const alpha = x + y !== 0 ? x / (x + y) : Number.NaN;
  const best = Math.min(residualA, residualC);
  const ratio = best > 0 ? residualMix / best : 1;
  const mixed =
    det > 0 &&
    x > 0 &&
    y > 0 &&
    alpha >= MIN_ALPHA &&
    alpha <= 1 - MIN_ALPHA &&
    ratio <= MERGE_RESIDUAL_RATIO;
  return { alpha, residualMix, residualA, residualC, ratio, mixed };
}

/** Aligns the candidate C to B (E4/E3, as for A) and runs testMerge with A's alignment to B. */
export function mergeWithCandidate(
  a: Sketches,
  b: Sketches,
  c: Sketches,
  layers: LayerAlignment,
  space: FeatureSpace,
): MergeTest | null {
  const spaceC = featureSpace(c, b);
  const layersC = alignLayers(c, b, spaceC);
  return testMerge(a, b, c, { layers, space }, { layers: layersC, space: spaceC });
}
