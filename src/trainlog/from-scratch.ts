import type { FromScratchAssessment } from "./types.js";

/**
 * A freshly initialised language model predicts nearly uniformly over its vocabulary, so its first
 * losses sit near ln(V) nats (weights drawn with small std give near-zero logits). A run that claims
 * a fresh start but whose first logged losses are far below ln(V) started from trained weights.
 *
 * Thresholds, as fractions of ln(V): ≥ PLAUSIBLE_RATIO is consistent with a fresh start; below
 * IMPLAUSIBLE_RATIO (when the log starts within the first steps) it is not. Real from-scratch runs
 * drop quickly in their first hundreds of steps, so a log whose first step is late can't be judged.
 * Reference points: the kinship-dev bases start at 1.00·ln V; their derived models at 0.49–0.55·ln V;
 * continued pre-training of public 7B models typically starts near 0.2·ln V.
 */
export const PLAUSIBLE_RATIO = 0.85;
export const IMPLAUSIBLE_RATIO = 0.7;
/** The first logged step must be at most this for the start of the log to count as the start of training. */
export const EARLY_STEP_LIMIT = 50;
/** Points averaged (median) for the initial loss: one batch is noisy. */
const INITIAL_POINTS = 5;

export function assessFromScratch(
  steps: Float64Array,
  loss: Float64Array,
  vocabSize: number | null,
): FromScratchAssessment {
  const firstStep = steps.length ? (steps[0] as number) : null;
  const early = [...loss.subarray(0, INITIAL_POINTS)].filter(Number.isFinite);
  const initialLoss = early.length ? median(early) : null;
  const expected = vocabSize && vocabSize > 1 ? Math.log(vocabSize) : null;
  const base = { initialLoss: r4(initialLoss), expectedInitialLoss: r4(expected), firstStep };
  if (initialLoss === null)
    return { ...base, verdict: "unknown", ratio: null, reason: "no finite loss values" };
  if (expected === null) {
    return {
      ...base,
      verdict: "unknown",
      ratio: null,
      reason: "vocabulary size unknown: pass --vocab N (or a model)",
    };
  }
  const ratio = initialLoss / expected;
  const pct = `${(100 * ratio).toFixed(0)}% of ln(V) = ${expected.toFixed(2)}`;
  if (ratio >= PLAUSIBLE_RATIO) {
    return {
      ...base,
      verdict: "plausible",
      ratio: r4(ratio),
      reason: `initial loss ${initialLoss.toFixed(2)} is ${pct}: consistent with random initialisation`,
    };
  }
  if (firstStep !== null && firstStep > EARLY_STEP_LIMIT) {
    return {
      ...base,
      verdict: "unknown",
      ratio: r4(ratio),
      reason: `the log starts at step ${firstStep}, after the initial descent; the start of training is not in it`,
    };
  }
  if (ratio < IMPLAUSIBLE_RATIO) {
    return {
      ...base,
      verdict: "implausible",
      ratio: r4(ratio),
      reason: `initial loss ${initialLoss.toFixed(2)} is only ${pct}: the run started from trained weights`,
    };
  }
  return {
    ...base,
    verdict: "unknown",
    ratio: r4(ratio),
    reason: `initial loss ${initialLoss.toFixed(2)} is ${pct}: between the plausible and implausible bands`,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function r4(x: number | null): number | null {
  return x === null ? null : Math.round(x * 1e4) / 1e4;
}
