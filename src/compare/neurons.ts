import type { MlpSketch, Sketches } from "../fingerprint/sketch/types.js";
import { bonferroniLog10, fixedPointsLog10UpperBound } from "../stats/index.js";
import { type Family, type FeatureSpace, MIN_SHARED_ANCHORS, mlpFeatures } from "./features.js";
import { matchRows } from "./match/matcher.js";
import { selectRows } from "./match/similarity.js";

/**
 * E3 neuron matching with an exact null (DESIGN §4). B's neurons are matched to A's once with gate
 * features and once with up features. Under H0 the two matchings are unrelated, so the number of
 * neurons on which they agree is the number of fixed points of a random permutation, and
 * P(agreements ≥ k) ≤ 1/k! exactly (tails.ts). Independent models can share a few functionally
 * convergent ("universal") neurons whose gate and up rows both match — Gurnee et al. (2024) find
 * 1–5% of GPT-2 neurons universal across seeds — so the test first discounts CONVERGENT_FRACTION of
 * the neurons: p ≤ 1/(k − c)!, c = ⌈CONVERGENT_FRACTION·n⌉. scripts/null-study.ts checks this margin.
 */
export const CONVERGENT_FRACTION = 0.05;

/** Below this |cosine| a matched pair is a tie between degenerate rows, not a match. */
const MIN_SCORE = 1e-6;

/** Agreements at or above this fraction of the compared neurons: the pair is a near copy. */
const SAME_NEURONS_FRACTION = 0.5;

export interface NeuronTest {
  family: Family;
  /** Neurons compared: the smaller of the two widths. */
  compared: number;
  agreements: number;
  discounted: number;
  log10P: number;
  /** For each neuron of B, its A neuron when gate and up agree, else −1. */
  bToA: Int32Array;
  /** Mean gate-feature cosine over agreeing neurons (1 = unchanged). */
  meanCosine: number;
}

/** One E3 test between two MLPs on one feature family; null when the features are unavailable. */
export function testNeurons(
  a: Sketches,
  ma: MlpSketch,
  b: Sketches,
  mb: MlpSketch,
  space: FeatureSpace,
  family: Family,
): NeuronTest | null {
  if (family === "native" && !space.nativeComparable) return null;
  const ga = mlpFeatures(a, ma, "gate", family, space, "a");
  const gb = mlpFeatures(b, mb, "gate", family, space, "b");
  const ua = mlpFeatures(a, ma, "up", family, space, "a");
  const ub = mlpFeatures(b, mb, "up", family, space, "b");
  if (!ga || !gb || !ua || !ub) return null;
  const sample = sampleRows(ma.neurons, mb.neurons);
  const byGate = matchRows(ga, sample ? selectRows(gb, sample) : gb);
  // An up row and its down column can flip sign together without changing the function (SwiGLU is
  // linear in up), so up rows are matched on |cosine|; gate rows cannot (SiLU is not odd).
  const byUp = matchRows(ua, sample ? selectRows(ub, sample) : ub, { abs: true });
  const bToA = new Int32Array(mb.neurons).fill(-1);
  let agreements = 0;
  let cosSum = 0;
  for (let r = 0; r < byGate.bToA.length; r++) {
    const i = sample ? sample[r]! : r;
    const j = byGate.bToA[r]!;
    // Degenerate rows (all-zero features: dead or zeroed neurons) match by tie-breaking order alone,
    // identically in both matchings; they never count as agreements.
    if (
      j >= 0 &&
      j === byUp.bToA[r] &&
      Math.abs(byGate.score[r]!) > MIN_SCORE &&
      Math.abs(byUp.score[r]!) > MIN_SCORE
    ) {
      bToA[i] = j;
      agreements++;
      cosSum += byGate.score[r]!;
    }
  }
  const compared = sample ? sample.length : Math.min(ma.neurons, mb.neurons);
  const discounted = Math.ceil(CONVERGENT_FRACTION * compared);
  return {
    family,
    compared,
    agreements,
    discounted,
    log10P: fixedPointsLog10UpperBound(agreements - discounted),
    bToA,
    meanCosine: agreements ? cosSum / agreements : 0,
  };
}

/**
 * Equal-width layers wider than SAMPLE_ABOVE neurons are tested on SAMPLE_SIZE evenly spaced B neurons
 * (all of A's as candidates). The bound stays valid: two unrelated injections of m of B's neurons
 * into A's n agree on k with probability ≤ C(m,k)·(n−k)!/n! ≤ 1/k!. A derived layer still agrees on
 * ~SAMPLE_SIZE neurons (log10 p ≈ −5,000), and the cost drops from n²·k to SAMPLE_SIZE·n·k.
 * Width changes are always matched in full, so the neuron map covers every neuron.
 */
export const SAMPLE_ABOVE = 4096;
export const SAMPLE_SIZE = 2048;

function sampleRows(na: number, nb: number): number[] | null {
  if (na !== nb || nb <= SAMPLE_ABOVE) return null;
  return Array.from({ length: SAMPLE_SIZE }, (_, s) => Math.floor((s * nb) / SAMPLE_SIZE));
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
): NeuronTest | null {
  const tests: NeuronTest[] = [];
  for (const f of ["anchor", "native"] as const) {
    const t = testNeurons(a, ma, b, mb, space, f);
    if (t) tests.push(t);
    if (t && t.log10P <= DECISIVE_LOG10P) break;
  }
  if (tests.length === 0) return null;
  const best = tests.reduce((x, y) => (y.log10P < x.log10P ? y : x));
  // Both families count as looks whenever both were available, even if the second was skipped.
  const looks = space.nativeComparable && space.colsA.length >= MIN_SHARED_ANCHORS ? 2 : 1;
  return { ...best, log10P: bonferroniLog10(best.log10P, Math.max(looks, tests.length)) };
}

/** True when most neurons were carried over (used for structure relations, not for the verdict). */
export function isNearCopy(t: NeuronTest): boolean {
  return t.agreements >= SAME_NEURONS_FRACTION * t.compared;
}
