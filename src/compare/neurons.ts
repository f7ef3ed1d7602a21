import type { MlpSketch, Sketches } from "../fingerprint/sketch/types.js";
import { bonferroniLog10, fixedPointsLog10UpperBound } from "../stats/index.js";
import {
  commonViews,
  type Family,
  type FeatureSpace,
  MIN_SHARED_ANCHORS,
  mlpFeatureRows,
  mlpFeatures,
  type NeuronViews,
} from "./features.js";
import { matchRows } from "./match/matcher.js";
import { isSubset, neuronOf, storedCount, storedRowOf } from "./rows.js";

/**
 * E3 neuron matching with an exact null (DESIGN §4). B's neurons are matched to A's twice, on two
 * views of each neuron: gate rows and up rows in a gated MLP, down columns and up rows in a non-gated
 * one (features.ts `NeuronViews`; both sides must carry the same pair). Under H0 the two matchings
 * are unrelated, so the number of neurons on which they agree is the number of fixed points of a
 * random permutation, and P(agreements ≥ k) ≤ 1/k! exactly (tails.ts). Independent models can share a
 * few functionally convergent ("universal") neurons whose two views both match — Gurnee et al. (2024) find
 * 1–5% of GPT-2 neurons universal across seeds — so the test first discounts CONVERGENT_FRACTION of
 * the neurons: p ≤ 1/(k − c)!, c = ⌈CONVERGENT_FRACTION·n⌉. scripts/null-study.ts checks this margin.
 *
 * When A's sketch stores a subset of its neurons (fraction f_A = stored/width, chosen by index), a
 * convergent partner of one of B's compared neurons is among A's stored rows with probability f_A
 * under H0 (independent trainings give neuron indices no shared meaning): the stored partners are at
 * most Binomial(CONVERGENT_FRACTION·n, f_A), mean μ = CONVERGENT_FRACTION·n·f_A, and the discount is
 * c = ⌈μ + 3√μ⌉ (three standard deviations above it). Without this a permuted child of a model
 * stored at f_A < CONVERGENT_FRACTION (≈ 0.046 for a 70B dense model) could never clear the discount:
 * it agrees on only ≈ f_A·n neurons.
 */
export const CONVERGENT_FRACTION = 0.05;

/** Below this |cosine| a matched pair is a tie between degenerate rows, not a match. */
const MIN_SCORE = 1e-6;

/** Agreements at or above this fraction of the expected overlap: the pair is a near copy. */
const SAME_NEURONS_FRACTION = 0.5;
/** Agreements that mostly keep their neuron index (at least this fraction): no permutation was found. */
const INDEX_KEPT = 0.5;

export interface NeuronTest {
  family: Family;
  /** The two views matched: "gate/up" (gated MLPs) or "down/up" (non-gated). */
  views: NeuronViews["kind"];
  /**
   * Neurons compared: the smaller of the two stored row counts (B's tested rows when sampled) — the
   * most agreements possible; the smaller width when both sides store every neuron.
   */
  compared: number;
  /**
   * Of the compared B neurons, how many can have their parent among A's stored rows (= compared when
   * no side stores a subset): the denominator of "most neurons were carried over" (see expectedOverlap).
   */
  overlap: number;
  /** True when a side stores a neuron subset: bToA then covers a sample of B's neurons. */
  sampled: boolean;
  agreements: number;
  discounted: number;
  log10P: number;
  /** For each neuron of B (full width), its A neuron when both views agree, else −1; real indices. */
  bToA: Int32Array;
  /** Mean first-view (gate, or down) feature cosine over agreeing neurons (1 = unchanged). */
  meanCosine: number;
  /**
   * Median of the same cosines: what the carried-over neurons kept, untouched by the few chance
   * agreements (≈ Poisson(1)) among neurons one side added, which pull the mean down (direction.ts).
   */
  medianCosine: number;
}

/**
 * One E3 test between two MLPs on one feature family; null when the features are unavailable or the
 * MLPs carry different view pairs (gated against non-gated: no common test).
 */
export function testNeurons(
  a: Sketches,
  ma: MlpSketch,
  b: Sketches,
  mb: MlpSketch,
  space: FeatureSpace,
  family: Family,
  opts: SampleOptions = {},
): NeuronTest | null {
  if (family === "native" && !space.nativeComparable) return null;
  const pair = commonViews(ma, mb);
  if (!pair) return null;
  const [first, second] = pair.views;
  const sample = sampleRows(ma, mb, opts);
  // B's features of the sampled rows only (the same values as sampling the whole matrix's rows).
  const ofB = (view: typeof first) =>
    sample
      ? mlpFeatureRows(b, mb, view, family, space, "b", sample)
      : mlpFeatures(b, mb, view, family, space, "b");
  const fa = mlpFeatures(a, ma, first, family, space, "a");
  const fb = ofB(first);
  const sa = mlpFeatures(a, ma, second, family, space, "a");
  const sb = ofB(second);
  if (!fa || !fb || !sa || !sb) return null;
  // Signed or |cosine| per view: see NeuronViews.abs (only SwiGLU's up rows may flip sign).
  const byFirst = matchRows(fa, fb, { abs: pair.abs[0] });
  const bySecond = matchRows(sa, sb, { abs: pair.abs[1] });
  const bToA = new Int32Array(mb.neurons).fill(-1);
  const tested: number[] = []; // neuron indices of the B rows tested
  let agreements = 0;
  let kept = 0;
  let cosSum = 0;
  // Per neuron, indices bounded by the matchings' length: `?? -1` / `?? NaN` never fire (src/checked.ts).
  const cosines: number[] = [];
  for (let r = 0; r < byFirst.bToA.length; r++) {
    const i = neuronOf(mb, sample ? (sample[r] ?? -1) : r);
    const j = byFirst.bToA[r] ?? -1;
    const score = byFirst.score[r] ?? Number.NaN;
    tested.push(i);
    // Degenerate rows (all-zero features: dead or zeroed neurons) match by tie-breaking order alone,
    // identically in both matchings; they never count as agreements.
    if (
      j >= 0 &&
      j === bySecond.bToA[r] &&
      Math.abs(score) > MIN_SCORE &&
      Math.abs(bySecond.score[r] ?? Number.NaN) > MIN_SCORE
    ) {
      const parent = neuronOf(ma, j);
      bToA[i] = parent;
      if (parent === i) kept++;
      agreements++;
      cosSum += score;
      cosines.push(score);
    }
  }
  const compared = Math.min(storedCount(ma), tested.length);
  const discounted = convergentDiscount(ma, compared);
  const permuted = agreements > 0 && kept < INDEX_KEPT * agreements;
  return {
    family,
    views: pair.kind,
    compared,
    overlap: isSubset(ma, mb) ? expectedOverlap(ma, tested, compared, permuted) : compared,
    sampled: isSubset(ma, mb),
    agreements,
    discounted,
    log10P: fixedPointsLog10UpperBound(agreements - discounted),
    bToA,
    meanCosine: agreements ? cosSum / agreements : 0,
    medianCosine: medianOf(cosines),
  };
}

function medianOf(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  const hi = s[m] ?? 0;
  return s.length % 2 ? hi : ((s[m - 1] ?? 0) + hi) / 2;
}

/** Agreements discounted as convergent neurons (see the top of this file); ⌈0.05·n⌉ without a subset. */
function convergentDiscount(ma: MlpSketch, compared: number): number {
  if (!ma.rows) return Math.ceil(CONVERGENT_FRACTION * compared);
  const mu = (CONVERGENT_FRACTION * compared * storedCount(ma)) / Math.max(1, ma.neurons);
  return Math.ceil(mu + 3 * Math.sqrt(mu));
}

/**
 * How many of the tested B neurons (indices `tested`) can find their parent among A's stored rows,
 * when a side stores a subset. Neurons are kept by index, so:
 * - no permutation found (most agreements map i → i, or none agree): B's neuron i descends from A's
 *   neuron i, and the overlap is the count of tested indices A also stores. Two subsets of the same
 *   width and fraction (continued training, quantisation) overlap fully; a larger child (widened,
 *   deeper, up-cycled: a smaller fraction, nested sets) overlaps on the indices < A's width;
 * - permuted (or re-indexed, as a width prune is): a B neuron's parent is any of A's neurons, stored
 *   with probability storedA / widthA, so the expected overlap is tested × storedA / widthA (a permuted
 *   child of the same fraction f shows ≈ f of its stored rows, f² of its neurons, as agreements).
 * Capped by `compared`, the most agreements a one-to-one matching can have.
 */
function expectedOverlap(ma: MlpSketch, tested: number[], compared: number, permuted: boolean): number {
  if (permuted) return Math.min(compared, (tested.length * storedCount(ma)) / Math.max(1, ma.neurons));
  const rowOfA = storedRowOf(ma);
  let n = 0;
  for (const i of tested) if (i < ma.neurons && (rowOfA[i] ?? -1) >= 0) n++;
  return Math.min(compared, n);
}

/**
 * Equal-width layers wider than SAMPLE_ABOVE neurons are tested on SAMPLE_SIZE evenly spaced B neurons
 * (all of A's as candidates). The bound stays valid: two unrelated injections of m of B's neurons
 * into A's n agree on k with probability ≤ C(m,k)·(n−k)!/n! ≤ 1/k!. A derived layer still agrees on
 * ~SAMPLE_SIZE neurons (log10 p ≈ −2,500 per layer), and the cost drops from n²·k to SAMPLE_SIZE·n·k.
 * Width changes are always matched in full, so the neuron map covers every (stored) neuron. Widths
 * are the full `neurons`; the sample is taken among B's stored rows when its sketch keeps a subset.
 */
export const SAMPLE_ABOVE = 4096;
export const SAMPLE_SIZE = 1024;
/**
 * B's experts (a layer with several MLPs) are many tests of one layer, so each is sampled harder: an
 * up-cycled expert still agrees on ~EXPERT_SAMPLE_SIZE neurons (log10 p ≈ −215 per expert), and an
 * identify query with a 4-expert kinship model compares ≈ 40 % faster.
 */
export const EXPERT_SAMPLE_ABOVE = 256;
export const EXPERT_SAMPLE_SIZE = 128;

export interface SampleOptions {
  /** B's MLP is one of several experts of its layer (sampled at EXPERT_SAMPLE_SIZE). */
  expert?: boolean;
}

/** Stored B rows to test (evenly spaced), or null for all of them. */
function sampleRows(ma: MlpSketch, mb: MlpSketch, opts: SampleOptions = {}): number[] | null {
  const nb = storedCount(mb);
  const [above, size] = opts.expert ? [EXPERT_SAMPLE_ABOVE, EXPERT_SAMPLE_SIZE] : [SAMPLE_ABOVE, SAMPLE_SIZE];
  if (ma.neurons !== mb.neurons || nb <= above) return null;
  return Array.from({ length: size }, (_, s) => Math.floor((s * nb) / size));
}

/** A test this strong on the first family needs no second look (saves the native pass on derived pairs). */
const DECISIVE_LOG10P = -50;

/** Both families (the second skipped when the first is decisive), the better kept, Bonferroni ×2. */
export function bestNeuronTest(
  a: Sketches,
  ma: MlpSketch,
  b: Sketches,
  mb: MlpSketch,
  space: FeatureSpace,
  opts: SampleOptions = {},
): NeuronTest | null {
  const tests: NeuronTest[] = [];
  for (const f of ["anchor", "native"] as const) {
    const t = testNeurons(a, ma, b, mb, space, f, opts);
    if (t) tests.push(t);
    if (t && t.log10P <= DECISIVE_LOG10P) break;
  }
  if (tests.length === 0) return null;
  const best = tests.reduce((x, y) => (y.log10P < x.log10P ? y : x));
  // Both families count as looks whenever both were available, even if the second was skipped.
  const looks = space.nativeComparable && space.colsA.length >= MIN_SHARED_ANCHORS ? 2 : 1;
  return { ...best, log10P: bonferroniLog10(best.log10P, Math.max(looks, tests.length)) };
}

/**
 * True when most neurons that could be carried over were (used for structure relations, not for the
 * verdict): agreements against the expected overlap, so a permuted child of a neuron subset, which
 * can only agree on the ≈ fraction of its stored rows whose parent A also stored, still counts.
 */
export function isNearCopy(t: NeuronTest): boolean {
  return t.agreements > 0 && t.agreements >= SAME_NEURONS_FRACTION * t.overlap;
}
