import type { MlpSketch, Sketches } from "../fingerprint/sketch/types.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { commonViews, type FeatureSpace, featureSpace, mlpFeatures } from "./features.js";
import { alignLayers, type LayerAlignment } from "./layers.js";
import { MERGE_RESIDUAL_RATIO, MIN_ALPHA, MIXED_LAYER_FRACTION, neuronMaps, rowScale } from "./merge.js";
import { neuronOf, storedCount, storedRowOf } from "./rows.js";

/**
 * Merges found in a set: B ≈ Σ wᵢ·Pᵢ over k candidate parents (k = 2 or 3), the k-parent form of
 * merge.ts's two-parent test, on the same data: native features of both E3 views of every B neuron
 * matched in all k candidates, scaled back by the stored norms, least squares over all of them (one
 * weight per parent: an element-wise merge uses one mixing weight per model). A task-vector merge
 * relative to a common ancestor C (task arithmetic, TIES-style: B = C + Σ wᵢ·(Pᵢ − C), Σwᵢ ≠ 1) is
 * fitted separately (`fitTaskVector`), only with an ancestor C the set's tree already established:
 * C's weight is fixed by the form (1 − Σwᵢ), never free — with it free, any linear relation among four
 * models can be solved for any of them, and a parent comes out as "its children minus their tasks".
 */

/** At most this many nearest relatives are tried as parents (subsets of 2 and 3 of them). */
export const MAX_MERGE_CANDIDATES = 6;
/**
 * Residual ratio (mix / best single parent) at or below which a merge is named in a set. Stricter than
 * the pairwise test's 0.5 because in a set the parent of k independently trained children fits their
 * mean at ratio ≈ 1/k (k ≤ 3 here: ≥ 0.33), while real merges fit at 0.009–0.035 (held-out merge_55,
 * merge_73, merge_ab, a three-parent soup).
 */
export const SET_MERGE_RATIO = 0.2;
/** A third parent is kept only when it leaves at most this fraction of the best two-parent residual. */
export const THIRD_PARENT_RATIO = 0.5;
const MIN_MERGE_NEURONS = 32;

export interface MixCandidate {
  sketches: Sketches;
  /** The candidate's layers aligned to B (candidate as A, B as B). */
  layers: LayerAlignment;
  space: FeatureSpace;
}

export interface MixFit {
  /** Indices into the candidate list. */
  parents: number[];
  /** Least-squares coefficients, one per parent (normalised: `shares`). */
  weights: number[];
  shares: number[];
  /** Residual sum of squares / Σ|b|² of the mix, and of each parent alone. */
  residual: number;
  singles: number[];
  /** residual / min(singles): 1 = the mix explains nothing more than one parent. */
  ratio: number;
  neurons: number;
  layers: number;
  mixedLayers: number;
  merge: boolean;
}

interface Sums {
  g: Float64Array;
  h: Float64Array;
  bb: number;
  rows: number;
}
type NeuronMap = { a: number; bToA: Int32Array };
const zero = (k: number): Sums => ({ g: new Float64Array(k * k), h: new Float64Array(k), bb: 0, rows: 0 });

/** Normal-equation sums of B's layer j against each candidate's aligned layer; null when one is missing. */
function layerSums(b: Sketches, j: number, cands: MixCandidate[]): Sums | null {
  const lb = b.layers[j]?.mlps[0];
  if (!lb) return null;
  const parts: { map: NeuronMap; mlp: MlpSketch; rowOf: Int32Array }[] = [];
  for (const c of cands) {
    const map = neuronMaps(c.layers).get(j);
    const mlp = map ? c.sketches.layers[map.a]?.mlps[0] : undefined;
    if (!map || !mlp) return null;
    parts.push({ map, mlp, rowOf: storedRowOf(mlp) });
  }
  const first = parts[0];
  const pair = first ? commonViews(first.mlp, lb) : null;
  if (!pair || parts.some((p) => commonViews(p.mlp, lb) !== pair)) return null;
  const k = cands.length;
  const s = zero(k);
  for (const [v, which] of pair.views.entries()) {
    const space = cands[0]?.space;
    const fb = space ? mlpFeatures(b, lb, which, "native", space, "b") : null;
    const fs = parts.map((p, i) => {
      const c = cands[i];
      return c ? mlpFeatures(c.sketches, p.mlp, which, "native", c.space, "a") : null;
    });
    if (!fb || fs.some((f) => !f)) continue;
    const feats = fs.filter((f): f is NonNullable<typeof f> => f !== null);
    const nb = rowScale(lb, which);
    const ns = parts.map((p) => rowScale(p.mlp, which));
    const cols = fb.cols;
    const x = cands.map(() => new Float64Array(cols));
    const z = new Float64Array(cols);
    for (let r = 0; r < storedCount(lb); r++) {
      const n = neuronOf(lb, r);
      const rows = parts.map((p) => {
        const a = p.map.bToA[n] ?? -1;
        return a < 0 ? -1 : (p.rowOf[a] ?? -1);
      });
      if (rows.some((q) => q < 0)) continue;
      for (let i = 0; i < k; i++) {
        const f = feats[i]?.data;
        const xi = x[i];
        const row = rows[i] ?? 0;
        if (!f || !xi) continue;
        let dot = 0;
        for (let t = 0; t < cols; t++) dot += (f[row * cols + t] ?? 0) * (fb.data[r * cols + t] ?? 0);
        // SwiGLU up rows may flip sign with their down column: align each parent's sign to B's.
        const sign = (pair.abs[v] && dot < 0 ? -1 : 1) * (ns[i]?.[row] ?? 0);
        for (let t = 0; t < cols; t++) xi[t] = sign * (f[row * cols + t] ?? 0);
      }
      const scaleB = nb[r] ?? 0;
      for (let t = 0; t < cols; t++) z[t] = scaleB * (fb.data[r * cols + t] ?? 0);
      for (let t = 0; t < cols; t++) {
        const zt = z[t] ?? 0;
        s.bb += zt * zt;
        for (let i = 0; i < k; i++) {
          const xit = x[i]?.[t] ?? 0;
          s.h[i] = (s.h[i] ?? 0) + xit * zt;
          for (let m = 0; m < k; m++) s.g[i * k + m] = (s.g[i * k + m] ?? 0) + xit * (x[m]?.[t] ?? 0);
        }
      }
      s.rows++;
    }
  }
  return s.rows > 0 ? s : null;
}

/** Solves G w = h (k ≤ 4) by Gaussian elimination with partial pivoting; null when singular. */
export function solveSmall(g: Float64Array, h: Float64Array, k: number): Float64Array | null {
  const m = Array.from({ length: k }, (_, i) => [...g.subarray(i * k, i * k + k), h[i] ?? 0]);
  const at = (r: number, c: number) => m[r]?.[c] ?? 0;
  for (let c = 0; c < k; c++) {
    let p = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(at(r, c)) > Math.abs(at(p, c))) p = r;
    if (Math.abs(at(p, c)) < 1e-12 * Math.max(1, Math.abs(at(c, c)))) return null;
    const rowC = m[c];
    const rowP = m[p];
    if (!rowC || !rowP) return null;
    m[c] = rowP;
    m[p] = rowC;
    const pivot = rowP;
    for (let r = 0; r < k; r++) {
      const row = m[r];
      if (r === c || !row) continue;
      const f = (row[c] ?? 0) / (pivot[c] ?? 1);
      for (let q = c; q <= k; q++) row[q] = (row[q] ?? 0) - f * (pivot[q] ?? 0);
    }
  }
  return Float64Array.from({ length: k }, (_, i) => at(i, k) / at(i, i));
}

function judge(s: Sums, k: number, free: number | null) {
  const w = solveSmall(s.g, s.h, k);
  if (!w) return null;
  let explained = 0;
  for (let i = 0; i < k; i++) explained += (w[i] ?? 0) * (s.h[i] ?? 0);
  const residual = Math.max(0, s.bb - explained) / s.bb;
  const singles = Array.from({ length: k }, (_, i) => {
    const gi = s.g[i * k + i] ?? 0;
    const hi = s.h[i] ?? 0;
    return Math.max(0, s.bb - (gi > 0 ? (hi * hi) / gi : 0)) / s.bb;
  });
  const best = Math.min(...singles.filter((_, i) => i !== free));
  const ratio = best > 0 ? residual / best : 1;
  const idx = [...w.keys()].filter((i) => i !== free);
  const sum = idx.reduce((t, i) => t + (w[i] ?? 0), 0);
  const shares = idx.map((i) => (sum !== 0 ? (w[i] ?? 0) / sum : Number.NaN));
  const mixed =
    idx.every((i) => (w[i] ?? 0) > 0) && shares.every((x) => x >= MIN_ALPHA) && ratio <= MERGE_RESIDUAL_RATIO;
  return { weights: Array.from(w), shares, residual, singles, ratio, mixed };
}

/** The normal-equation sums restricted to the candidates in `pick`. */
function subSums(s: Sums, k: number, pick: number[]): Sums {
  const m = pick.length;
  const out = zero(m);
  pick.forEach((i, r) => {
    out.h[r] = s.h[i] ?? 0;
    pick.forEach((j, c) => {
      out.g[r * m + c] = s.g[i * k + j] ?? 0;
    });
  });
  out.bb = s.bb;
  out.rows = s.rows;
  return out;
}

/** Per-layer sums of B against every candidate (neurons matched in all of them), and their total. */
export interface MixSums {
  k: number;
  layers: Sums[];
  total: Sums;
}

export function mixSums(b: Sketches, cands: MixCandidate[]): MixSums | null {
  if (cands.some((c) => !c.space.nativeComparable)) return null;
  const k = cands.length;
  const total = zero(k);
  const layers: Sums[] = [];
  for (let j = 0; j < b.layers.length; j++) {
    const s = layerSums(b, j, cands);
    if (!s) continue;
    layers.push(s);
    for (let i = 0; i < k * k; i++) total.g[i] = (total.g[i] ?? 0) + (s.g[i] ?? 0);
    for (let i = 0; i < k; i++) total.h[i] = (total.h[i] ?? 0) + (s.h[i] ?? 0);
    total.bb += s.bb;
    total.rows += s.rows;
  }
  return total.rows / 2 < MIN_MERGE_NEURONS ? null : { k, layers, total };
}

/**
 * Fits B ≈ Σ wᵢ·Pᵢ over the candidates in `parents`. Merge when every weight is positive with a share
 * ≥ 0.1, the mix leaves ≤ 0.5 of the best single parent's residual, overall and in ≥ 75 % of the layers.
 */
export function fitMix(sums: MixSums, parents: number[]): MixFit | null {
  return fitSums(sums, (s) => subSums(s, sums.k, parents), parents);
}

function fitSums(sums: MixSums, view: (s: Sums) => Sums, parents: number[]): MixFit | null {
  const fit = judge(view(sums.total), parents.length, null);
  if (!fit) return null;
  const mixedLayers = sums.layers.filter((l) => judge(view(l), parents.length, null)?.mixed).length;
  return {
    parents,
    ...fit,
    neurons: sums.total.rows / 2,
    layers: sums.layers.length,
    mixedLayers,
    merge: fit.mixed && mixedLayers >= MIXED_LAYER_FRACTION * sums.layers.length,
  };
}

/**
 * The task-vector form's mix must leave at most this fraction of the plain form's residual (absolute,
 * on the same neurons) over the same parents: it adds an ancestor, so it must explain clearly more.
 */
export const TASK_VECTOR_GAIN = 0.5;

export interface TaskVectorFit extends MixFit {
  /** Candidate index of the common ancestor C; its weight is 1 − Σ weights. */
  ancestor: number;
  /** Σ wᵢ: the task vectors' total scale (1 = a plain convex merge). */
  lambda: number;
  /** Absolute residual of this fit over that of the plain form B ≈ Σ xᵢ·Pᵢ on the same parents. */
  gain: number;
}

/**
 * Sums of B − C against each Pᵢ − C, from the sums of B against the Pᵢ and C (the normal equations of
 * the task-vector form are a linear transform of the plain ones: no new pass over the neurons).
 */
function taskVectorSums(s: Sums, k: number, pick: number[], c: number): Sums {
  const m = pick.length;
  const out = zero(m);
  const g = (i: number, j: number) => s.g[i * k + j] ?? 0;
  const h = (i: number) => s.h[i] ?? 0;
  pick.forEach((i, r) => {
    out.h[r] = h(i) - h(c) - g(i, c) + g(c, c);
    pick.forEach((j, q) => {
      out.g[r * m + q] = g(i, j) - g(i, c) - g(c, j) + g(c, c);
    });
  });
  out.bb = s.bb - 2 * h(c) + g(c, c);
  out.rows = s.rows;
  return out;
}

/**
 * B − C ≈ Σ wᵢ·(Pᵢ − C) for a common ancestor C (candidate index `ancestor`, not among `parents`).
 * Residuals and the single-parent baselines are relative to |B − C|²; `merge` as in fitMix (positive
 * weights, shares ≥ 0.1, ≤ 0.5 of the best single task vector's residual, in ≥ 75 % of the layers)
 * and, in addition, `gain` ≤ TASK_VECTOR_GAIN.
 */
export function fitTaskVector(sums: MixSums, parents: number[], ancestor: number): TaskVectorFit | null {
  if (parents.includes(ancestor)) return null;
  const fit = fitSums(sums, (s) => taskVectorSums(s, sums.k, parents, ancestor), parents);
  const plain = judge(subSums(sums.total, sums.k, parents), parents.length, null);
  if (!fit || !plain) return null;
  const tvTotal = taskVectorSums(sums.total, sums.k, parents, ancestor);
  const absTv = fit.residual * tvTotal.bb;
  const absPlain = plain.residual * sums.total.bb;
  const gain = absPlain > 0 ? absTv / absPlain : 1;
  const lambda = fit.weights.reduce((t, w) => t + w, 0);
  return { ...fit, ancestor, lambda, gain, merge: fit.merge && gain <= TASK_VECTOR_GAIN };
}

/** Aligns each candidate's layers to B once (candidate as A). */
export function mixCandidates(b: Sketches, cands: Sketches[]): MixCandidate[] {
  return cands.map((c) => {
    const space = featureSpace(c, b);
    return { sketches: c, space, layers: alignLayers(c, b, space) };
  });
}

export function subsets(n: number, k: number): number[][] {
  if (k === 0) return [[]];
  const out: number[][] = [];
  for (let i = k - 1; i < n; i++) for (const s of subsets(i, k - 1)) out.push([...s, i]);
  return out;
}

/**
 * The best merge of B among its nearest relatives (already aligned): every pair, then every triple
 * that beats the best pair's residual by THIRD_PARENT_RATIO. Null when no subset is a merge. The sums
 * are taken once over the neurons matched in every candidate; each subset's normal equations are a
 * block of them.
 */
export function findMerge(b: Sketches, cands: MixCandidate[]): MixFit | null {
  const n = Math.min(cands.length, MAX_MERGE_CANDIDATES);
  if (n < 2) return null;
  const sums = mixSums(b, cands.slice(0, n));
  if (!sums) return null;
  let best: MixFit | null = null;
  for (const k of [2, 3]) {
    let bestK: MixFit | null = null;
    for (const s of subsets(n, k)) {
      const fit = fitMix(sums, s);
      if (fit?.merge && fit.ratio <= SET_MERGE_RATIO && (!bestK || fit.residual < bestK.residual))
        bestK = fit;
    }
    if (bestK && (!best || bestK.residual <= THIRD_PARENT_RATIO * best.residual)) best = bestK;
  }
  return best;
}

/**
 * B as a merge of some of `candidates` (fingerprints of models related to B, nearest first), for
 * callers outside a tree (registry identify / verify): the parents as indices into `candidates`,
 * their shares of the mix, and the fit. Null when no pair or triple is a merge.
 */
export function mergeAmong(
  b: Fingerprint,
  candidates: Fingerprint[],
): { parents: number[]; weights: number[]; residual: number; ratio: number } | null {
  const usable = candidates
    .map((c, i) => ({ c, i }))
    .filter(({ c }) => sameShape(b, c) && featureSpace(c.sketches, b.sketches).nativeComparable)
    .slice(0, MAX_MERGE_CANDIDATES);
  const fit = findMerge(
    b.sketches,
    mixCandidates(
      b.sketches,
      usable.map((u) => u.c.sketches),
    ),
  );
  if (!fit) return null;
  return {
    parents: fit.parents.flatMap((k) => usable[k]?.i ?? []),
    weights: fit.shares,
    residual: fit.residual,
    ratio: fit.ratio,
  };
}

/**
 * The fit of B on exactly the given parents (a declared merge): the least-squares mix, its residual
 * and ratio, and whether it passes the merge rules (`merge`). Null when the parents cannot be fitted
 * (another hidden basis, too few neurons matched in all of them).
 */
export function fitParents(b: Fingerprint, parents: Fingerprint[]): MixFit | null {
  if (parents.length === 0) return null;
  if (parents.some((p) => !sameShape(b, p) || !featureSpace(p.sketches, b.sketches).nativeComparable))
    return null;
  const sums = mixSums(
    b.sketches,
    mixCandidates(
      b.sketches,
      parents.map((p) => p.sketches),
    ),
  );
  return sums ? fitMix(sums, [...parents.keys()]) : null;
}

/**
 * Same hidden size, depth and FFN width in every layer (dense, one MLP each): an element-wise merge
 * needs parents of B's shape.
 */
export function sameShape(x: Fingerprint, y: Fingerprint): boolean {
  const lx = x.sketches.layers;
  const ly = y.sketches.layers;
  return (
    x.sketches.hidden === y.sketches.hidden &&
    lx.length === ly.length &&
    lx.every((l, i) => {
      const m = ly[i]?.mlps;
      return l.mlps.length === 1 && m?.length === 1 && l.mlps[0]?.neurons === m[0]?.neurons;
    })
  );
}
