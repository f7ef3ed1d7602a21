import type { LayerSketch, MlpSketch, Sketches } from "../fingerprint/sketch/types.js";
import { bonferroniLog10 } from "../stats/index.js";
import { type Family, type FeatureSpace, mlpFeatures } from "./features.js";
import { rowDot } from "./match/similarity.js";
import { bestNeuronTest, type NeuronTest } from "./neurons.js";

/**
 * E4 layer alignment (DESIGN §4). For every layer j of B, find the layer of A its FFN came from: a cheap
 * screen (sampled neurons, nearest-neighbour gate/up agreement) ranks A's layers, then the full E3
 * test on the best candidate decides, Bonferroni-corrected for the number of candidates screened.
 * One A layer may feed several B layers (depth up-scaling), a B layer may have no source (new layer:
 * []), and A layers may go unused (pruning). No monotonicity is imposed: duplicated layers are often
 * inserted out of order (kinship-dev's deep child copies layer 4 after layer 5).
 */

/** A B layer counts as derived from an A layer at this corrected log10 p or below. */
export const LAYER_MATCH_LOG10P = -4;
/** B neurons sampled per layer pair by the screen: cost is SCREEN_SAMPLE × nA × k per pair. */
const SCREEN_SAMPLE = 96;

export interface LayerPairResult {
  a: number;
  b: number;
  /** Corrected log10 p of the pair (min over experts × their count, × candidates screened). */
  log10P: number;
  /** Per B MLP (expert), the A MLP index it was tested against and its E3 result. */
  tests: { bMlp: number; aMlp: number; test: NeuronTest }[];
}

export interface LayerAlignment {
  /** screen[j][i]: fraction of sampled B neurons of layer j whose gate and up nearest neighbours in A layer i agree. */
  screen: number[][];
  pairs: LayerPairResult[];
  layerMap: { b: number; a: number[] }[];
}

/**
 * For each B mlp (dense FFN or expert), the A mlps it may come from: dense ↔ dense, every expert ↔ the
 * dense FFN (up-cycling), expert e ↔ expert e first and, when that fails and A has at most
 * MAX_EXPERT_SEARCH experts, every A expert (experts may have been permuted).
 */
const MAX_EXPERT_SEARCH = 16;

function candidatesFor(la: LayerSketch, lb: LayerSketch, e: number): number[][] {
  if (la.mlps.length === 1) return [[0]];
  if (lb.mlps.length === 1) return [la.mlps.map((_, k) => k)];
  const all = la.mlps.map((_, k) => k);
  const first = e < la.mlps.length ? [[e]] : [];
  return la.mlps.length <= MAX_EXPERT_SEARCH ? [...first, all.filter((k) => k !== e)] : first;
}

export function testLayerPair(
  a: Sketches,
  b: Sketches,
  i: number,
  j: number,
  space: FeatureSpace,
  candidates: number,
): LayerPairResult | null {
  const la = a.layers[i]!;
  const lb = b.layers[j]!;
  if (la.mlps.length === 0 || lb.mlps.length === 0) return null;
  const tests: LayerPairResult["tests"] = [];
  const bList = lb.mlps.length === 1 && la.mlps.length > 1 ? [0] : lb.mlps.map((_, e) => e);
  for (const bm of bList) {
    let best: LayerPairResult["tests"][number] | null = null;
    let looked = 0;
    for (const group of candidatesFor(la, lb, bm)) {
      for (const am of group) {
        const t = bestNeuronTest(a, la.mlps[am]!, b, lb.mlps[bm]!, space);
        looked++;
        if (t && (!best || t.log10P < best.test.log10P)) best = { bMlp: bm, aMlp: am, test: t };
      }
      if (best && bonferroniLog10(best.test.log10P, looked) <= LAYER_MATCH_LOG10P) break;
    }
    if (best)
      tests.push({ ...best, test: { ...best.test, log10P: bonferroniLog10(best.test.log10P, looked) } });
  }
  if (tests.length === 0) return null;
  const min = Math.min(...tests.map((t) => t.test.log10P));
  return { a: i, b: j, log10P: bonferroniLog10(min, tests.length * candidates), tests };
}

/** Screen score of (A layer i, B layer j) on the first MLP of each, with the first usable feature family. */
function screenScore(a: Sketches, b: Sketches, i: number, j: number, space: FeatureSpace): number {
  const ma = a.layers[i]!.mlps[0];
  const mb = b.layers[j]!.mlps[0];
  if (!ma || !mb) return 0;
  let best = 0;
  for (const family of ["anchor", "native"] as Family[]) {
    if (family === "native" && !space.nativeComparable) continue;
    best = Math.max(best, screenFamily(a, ma, b, mb, space, family));
  }
  return best;
}

function screenFamily(
  a: Sketches,
  ma: MlpSketch,
  b: Sketches,
  mb: MlpSketch,
  space: FeatureSpace,
  f: Family,
) {
  const ga = mlpFeatures(a, ma, "gate", f, space, "a");
  const gb = mlpFeatures(b, mb, "gate", f, space, "b");
  const ua = mlpFeatures(a, ma, "up", f, space, "a");
  const ub = mlpFeatures(b, mb, "up", f, space, "b");
  if (!ga || !gb || !ua || !ub) return 0;
  const m = Math.min(SCREEN_SAMPLE, gb.rows);
  let agree = 0;
  for (let s = 0; s < m; s++) {
    const r = Math.floor((s * gb.rows) / m);
    if (argmaxRow(gb, r, ga) === argmaxRow(ub, r, ua)) agree++;
  }
  return agree / m;
}

function argmaxRow(x: ReturnType<typeof mlpFeatures> & object, r: number, y: typeof x): number {
  let best = -1;
  let val = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < y.rows; j++) {
    const s = rowDot(x, r, y, j);
    if (s > val) {
      val = s;
      best = j;
    }
  }
  return best;
}

/** Aligns B's layers to A's. */
export function alignLayers(a: Sketches, b: Sketches, space: FeatureSpace): LayerAlignment {
  const la = a.layers.length;
  const lb = b.layers.length;
  if (la === lb) {
    const diag = a.layers.map((_, i) => testLayerPair(a, b, i, i, space, 1));
    if (diag.every((p) => p !== null && p.log10P <= LAYER_MATCH_LOG10P)) {
      const pairs = diag as LayerPairResult[];
      return { screen: [], pairs, layerMap: pairs.map((p) => ({ b: p.b, a: [p.a] })) };
    }
  }
  const screen = b.layers.map((_, j) => a.layers.map((_, i) => screenScore(a, b, i, j, space)));
  const pairs: LayerPairResult[] = [];
  const layerMap = b.layers.map((_, j) => {
    const row = screen[j]!;
    const i = row.indexOf(Math.max(...row));
    // The diagonal, when it was tried first, is one more look: count it among the candidates.
    const pair = i >= 0 ? testLayerPair(a, b, i, j, space, la + (la === lb ? 1 : 0)) : null;
    if (pair) pairs.push(pair);
    return { b: j, a: pair && pair.log10P <= LAYER_MATCH_LOG10P ? [i] : [] };
  });
  return { screen, pairs, layerMap };
}
