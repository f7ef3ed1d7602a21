import { anchorsUsable, type FeatureSpace, featureSpace } from "../compare/features.js";
import { testNeurons } from "../compare/neurons.js";
import { SKETCH_VERSION } from "../fingerprint/sketch/build.js";
import type { MlpSketch, Sketches } from "../fingerprint/sketch/types.js";
import type { Fingerprint } from "../fingerprint/types.js";

/**
 * identify's middle stage: a cheap fingerprint-level score over the short list, so that the full
 * comparison runs on the best one or two only. The index and the prefilter rank a family above
 * strangers but barely order its members (a parent, its other children and its own parent share
 * nearly all band keys with the query); what orders them is how far the query's neurons moved from
 * each candidate's, the drift compare measures over every layer. The screen measures it on one layer
 * pair — the query's middle layer against the candidate's layer at the same relative depth, first MLP
 * (an expert against a dense FFN for an up-cycled pair) — with compare's own neuron test (E3, anchor
 * features, native ones where the two vocabularies share too few anchors): about one L-th of the
 * comparison's matching work for L layers, and the same statistic, so a parent's screen drift is
 * below its siblings' as its full drift is.
 */

export interface ScreenScore {
  /**
   * The feature family the drift was measured on: native when the two share a hidden basis (the
   * native features then match), anchor otherwise. Anchor features also carry the embeddings' own
   * drift (row · embedding), native ones only the rows': the two drifts are not on one scale.
   */
  family: "native" | "anchor" | null;
  /** 1 − median cosine of the matched neurons of the screened layer pair; null when nothing matched. */
  drift: number | null;
  /** The neuron test's log10 p (0 when it could not run). */
  log10P: number;
}

/** A screened layer pair whose neuron test is at least this significant matched (a relative). */
export const SCREEN_MATCH_LOG10P = -6;

/** The screen score of a registered `candidate` for `query`; null when either sketch is not this build's. */
export function screenPair(candidate: Fingerprint, query: Fingerprint): ScreenScore | null {
  const a = candidate.sketches;
  const b = query.sketches;
  if (a?.version !== SKETCH_VERSION || b?.version !== SKETCH_VERSION) return null;
  if (!a.layers.length || !b.layers.length) return null;
  const space = featureSpace(a, b);
  const j = Math.floor(b.layers.length / 2);
  const i = Math.min(a.layers.length - 1, Math.floor(((j + 0.5) * a.layers.length) / b.layers.length));
  const mb = b.layers[j]?.mlps[0];
  const none: ScreenScore = { family: null, drift: null, log10P: 0 };
  if (!mb) return none;
  const expert = (b.layers[j]?.mlps.length ?? 0) > 1;
  // The layer at the same relative depth first; when it does not match (a depth up-scaling moves
  // the copied block), the others, nearest first, until one does.
  const order = a.layers.map((_, k) => k).sort((x, y) => Math.abs(x - i) - Math.abs(y - i) || x - y);
  let best = none;
  for (const k of order) {
    const ma = a.layers[k]?.mlps[0];
    if (!ma) continue;
    const score = screenLayers(a, ma, b, mb, space, expert);
    if (screenMatched(score)) return score;
    if (score.log10P < best.log10P) best = score;
  }
  return best;
}

function screenLayers(
  a: Sketches,
  ma: MlpSketch,
  b: Sketches,
  mb: MlpSketch,
  space: FeatureSpace,
  expert: boolean,
): ScreenScore {
  const none: ScreenScore = { family: null, drift: null, log10P: 0 };
  // Native first: a shared hidden basis is what a parent and its fine-tuned child have; anchors
  // where it is not shared (a permuted copy, or a stranger).
  const families = [
    ...(space.nativeComparable ? (["native"] as const) : []),
    ...(anchorsUsable(space) ? (["anchor"] as const) : []),
  ];
  let fallback = none;
  for (const f of families) {
    const t = testNeurons(a, ma, b, mb, space, f, { expert });
    if (!t || t.agreements === 0) continue;
    // The median: neurons one side added (a widening's, starting small and so moved most by later
    // training) match their few counterparts at low cosine and would pull a mean toward "farther"
    // for exactly the candidate that shares them; compare's keptDrift reads the median for that reason.
    const score = { family: f, drift: Math.max(0, 1 - t.medianCosine), log10P: t.log10P };
    if (t.log10P <= SCREEN_MATCH_LOG10P) return score;
    if (t.log10P < fallback.log10P) fallback = score;
  }
  return fallback;
}

export const screenMatched = (x: ScreenScore | null | undefined): boolean =>
  x != null && x.drift !== null && x.log10P <= SCREEN_MATCH_LOG10P;

/**
 * Orders screened candidates: matched ones (log10 p ≤ SCREEN_MATCH_LOG10P) first; among them those
 * matched on native features (the query's own hidden basis: no basis change between them) before
 * those matched on anchors only; then the smaller screen drift. Unmatched ones tie (0).
 */
export function screenOrder(x: ScreenScore | null | undefined, y: ScreenScore | null | undefined): number {
  const mx = screenMatched(x);
  const my = screenMatched(y);
  if (mx !== my) return mx ? -1 : 1;
  if (!mx || !x || !y) return 0;
  if (x.family !== y.family) return x.family === "native" ? -1 : 1;
  return (x.drift ?? 0) - (y.drift ?? 0);
}

/**
 * Whether the screen tells x and y apart, not a near-tie: one matched and the other not, matched on
 * different families, or drifts differing by more than `tie` of the larger.
 */
export function screenClear(
  x: ScreenScore | null | undefined,
  y: ScreenScore | null | undefined,
  tie: number,
): boolean {
  if (!screenMatched(x) || !screenMatched(y) || x?.family !== y?.family) return true;
  const dx = x?.drift ?? 0;
  const dy = y?.drift ?? 0;
  return Math.abs(dx - dy) > tie * Math.max(dx, dy);
}

/** The screen score in words (identify's rank reasons). */
export function screenWords(x: ScreenScore | null | undefined): string {
  return screenMatched(x) && x ? `${x.family} drift ${(x.drift ?? 0).toFixed(4)}` : "no screen match";
}
