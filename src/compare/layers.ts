import { at } from "../checked.js";
import type { LayerSketch, Sketches } from "../fingerprint/sketch/types.js";
import { bonferroniLog10 } from "../stats/index.js";
import { type Family, type FeatureSpace, mlpFeatures, type NeuronViews, viewsOf } from "./features.js";
import { type FeatureMatrix, selectRows, similarityMatrix } from "./match/similarity.js";
import { bestNeuronTest, type NeuronTest } from "./neurons.js";

/**
 * E4 layer alignment (DESIGN §4). For every layer j of B, find the layer of A its FFN came from: a cheap
 * screen (sampled neurons, nearest-neighbour agreement of the E3 views: gate/up, or down/up for
 * non-gated MLPs) ranks A's layers, then the full E3
 * test on the best candidate decides, Bonferroni-corrected for the number of candidates screened.
 * One A layer may feed several B layers (depth up-scaling), a B layer may have no source (new layer:
 * []), and A layers may go unused (pruning). No monotonicity is imposed: duplicated layers are often
 * inserted out of order (kinship-dev's deep child copies layer 4 after layer 5).
 */

/** A B layer counts as derived from an A layer at this corrected log10 p or below. */
export const LAYER_MATCH_LOG10P = -4;
/** B neurons sampled per layer pair by the screen: cost is SCREEN_SAMPLE × nA × k per pair. */
const SCREEN_SAMPLE = 48;
/** A screen score this high names a B layer's source clearly (unrelated layers score ≈ 1/width). */
const SCREEN_CLEAR = 0.5;

export interface LayerPairResult {
  a: number;
  b: number;
  /** Corrected log10 p of the pair (min over experts × their count, × candidates screened). */
  log10P: number;
  /** Per B MLP (expert), the A MLP index it was tested against and its E3 result. */
  tests: { bMlp: number; aMlp: number; test: NeuronTest }[];
}

export interface LayerAlignment {
  /** screen[j][i]: fraction of sampled B neurons of layer j whose nearest neighbours in A layer i agree on both views. */
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
  const la = at(a.layers, i, "layer of A");
  const lb = at(b.layers, j, "layer of B");
  if (la.mlps.length === 0 || lb.mlps.length === 0) return null;
  const tests: LayerPairResult["tests"] = [];
  const bList = lb.mlps.length === 1 && la.mlps.length > 1 ? [0] : lb.mlps.map((_, e) => e);
  for (const bm of bList) {
    let best: LayerPairResult["tests"][number] | null = null;
    let looked = 0;
    for (const group of candidatesFor(la, lb, bm)) {
      for (const am of group) {
        const ma = at(la.mlps, am, "candidate MLP of A");
        const mb = at(lb.mlps, bm, "MLP of B");
        const t = bestNeuronTest(a, ma, b, mb, space, { expert: lb.mlps.length > 1 });
        looked++;
        if (t && (!best || t.log10P < best.test.log10P)) best = { bMlp: bm, aMlp: am, test: t };
      }
      if (best && bonferroniLog10(best.test.log10P, looked) <= LAYER_MATCH_LOG10P) break;
    }
    if (best)
      tests.push({ ...best, test: { ...best.test, log10P: bonferroniLog10(best.test.log10P, looked) } });
  }
  if (tests.length === 0) return null;
  // reduce, not Math.min(...xs): the argument list of a spread is bounded by the stack.
  const min = tests.reduce((m, t) => Math.min(m, t.test.log10P), Number.POSITIVE_INFINITY);
  return { a: i, b: j, log10P: bonferroniLog10(min, tests.length * candidates), tests };
}

/**
 * Screen scores of every (A layer i, B layer j) pair, on the first MLP of each: the fraction of
 * SCREEN_SAMPLE evenly spaced B neurons whose nearest A neuron is the same by both E3 views (gate and
 * up, or down and up; a pair of layers with different views scores 0), best over the usable feature
 * families. B's sampled rows of all layers are stacked into one matrix per family and view pair, so
 * each A layer's features are decoded once and meet every B layer in one call of the dot kernel. The
 * native family is screened only when the anchor family leaves a B layer without a clear source (it
 * can only raise scores, and a clear source is all the screen is for). Both views are ranked by signed
 * cosine (in non-gated MLPs, as in the full test; a gated child with sign-flipped up rows only scores
 * lower here and is still tested on its best candidate).
 */
function screenScores(a: Sketches, b: Sketches, space: FeatureSpace): number[][] {
  const families: Family[] = space.nativeComparable ? ["anchor", "native"] : ["anchor"];
  const screen = b.layers.map(() => a.layers.map(() => 0));
  for (const f of families) {
    if (f === "native" && screen.every((row) => maxOf(row) >= SCREEN_CLEAR)) break;
    const stacks = new Map<NeuronViews["kind"], ReturnType<typeof stackedSamples>>();
    a.layers.forEach((la, i) => {
      const ma = la.mlps[0];
      const pair = ma ? viewsOf(ma) : null;
      if (!ma || !pair) return;
      if (!stacks.has(pair.kind)) stacks.set(pair.kind, stackedSamples(b, f, space, pair));
      const stack = stacks.get(pair.kind);
      const fa = mlpFeatures(a, ma, pair.views[0], f, space, "a");
      const sa = mlpFeatures(a, ma, pair.views[1], f, space, "a");
      if (!stack || !fa || !sa) return;
      const byFirst = rowArgmax(similarityMatrix(stack.first, fa), stack.first.rows, fa.rows);
      const bySecond = rowArgmax(similarityMatrix(stack.second, sa), stack.second.rows, sa.rows);
      for (const { layer, from, count } of stack.spans) {
        let agree = 0;
        for (let r = from; r < from + count; r++) if (byFirst[r] === bySecond[r]) agree++;
        const row = at(screen, layer, "screen row");
        row[i] = Math.max(row[i] ?? 0, agree / count);
      }
    });
  }
  return screen;
}

/**
 * SCREEN_SAMPLE evenly spaced rows of each B layer's first MLP, both views of `pair`, stacked layer
 * after layer; `spans` says which rows belong to which layer. Layers whose MLP carries another view
 * pair are left out. Null when no layer has the family.
 */
function stackedSamples(b: Sketches, f: Family, space: FeatureSpace, pair: NeuronViews) {
  const firsts: FeatureMatrix[] = [];
  const seconds: FeatureMatrix[] = [];
  const spans: { layer: number; from: number; count: number }[] = [];
  let from = 0;
  b.layers.forEach((l, j) => {
    const m = l.mlps[0];
    if (!m || viewsOf(m) !== pair) return;
    const first = mlpFeatures(b, m, pair.views[0], f, space, "b");
    const second = mlpFeatures(b, m, pair.views[1], f, space, "b");
    if (!first || !second || first.rows === 0) return;
    const count = Math.min(SCREEN_SAMPLE, first.rows);
    const rows = Array.from({ length: count }, (_, s) => Math.floor((s * first.rows) / count));
    firsts.push(selectRows(first, rows));
    seconds.push(selectRows(second, rows));
    spans.push({ layer: j, from, count });
    from += count;
  });
  if (spans.length === 0) return null;
  return { first: stackRows(firsts), second: stackRows(seconds), spans };
}

function stackRows(parts: FeatureMatrix[]): FeatureMatrix {
  const cols = at(parts, 0, "stacked feature matrices").cols;
  const rows = parts.reduce((n, p) => n + p.rows, 0);
  const data = new Float32Array(rows * cols);
  let offset = 0;
  for (const p of parts) {
    data.set(p.data, offset);
    offset += p.data.length;
  }
  return { data, rows, cols };
}

/** Column of the largest value in each row of an n×m matrix (first one on ties). */
function rowArgmax(sim: Float32Array, n: number, m: number): Int32Array {
  const out = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    let best = 0;
    // Indices bounded by n × m: `?? NaN` never fires (src/checked.ts).
    let top = sim[r * m] ?? Number.NaN;
    for (let c = 1; c < m; c++) {
      const s = sim[r * m + c] ?? Number.NaN;
      if (s > top) {
        top = s;
        best = c;
      }
    }
    out[r] = best;
  }
  return out;
}

/**
 * Aligns B's layers to A's. `diagonal`, when given, holds testLayerPair(a, b, i, i, space, 1) for
 * every i, computed elsewhere (on worker threads, layer-parallel.ts): the same values as computing
 * them here, since a layer test is a pure function of the two layers and the space.
 */
export function alignLayers(
  a: Sketches,
  b: Sketches,
  space: FeatureSpace,
  diagonal?: readonly (LayerPairResult | null)[],
): LayerAlignment {
  const la = a.layers.length;
  const lb = b.layers.length;
  if (la === lb) {
    const diag =
      diagonal && diagonal.length === la
        ? [...diagonal]
        : a.layers.map((_, i) => testLayerPair(a, b, i, i, space, 1));
    if (diag.every((p) => p !== null && p.log10P <= LAYER_MATCH_LOG10P)) {
      const pairs = diag as LayerPairResult[];
      return { screen: [], pairs, layerMap: pairs.map((p) => ({ b: p.b, a: [p.a] })) };
    }
  }
  const screen = screenScores(a, b, space);
  const pairs: LayerPairResult[] = [];
  const layerMap = b.layers.map((_, j) => {
    const row = at(screen, j, "screen row");
    const i = row.indexOf(maxOf(row));
    // The diagonal, when it was tried first, is one more look: count it among the candidates.
    const pair = i >= 0 ? testLayerPair(a, b, i, j, space, la + (la === lb ? 1 : 0)) : null;
    if (pair) pairs.push(pair);
    return { b: j, a: pair && pair.log10P <= LAYER_MATCH_LOG10P ? [i] : [] };
  });
  return { screen, pairs, layerMap };
}

/** Largest element (-Infinity when empty); a loop, since Math.max(...row) overflows the stack on long rows. */
function maxOf(row: readonly number[]): number {
  let m = Number.NEGATIVE_INFINITY;
  for (const v of row) if (v > m) m = v;
  return m;
}
