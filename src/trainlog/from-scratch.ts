import type { FromScratchAssessment, FromScratchCheck } from "./types.js";

/**
 * Was this run started from a random initialisation? A fresh model predicts nearly uniformly, so
 * its loss starts at ln V (plus a small excess from the init scale: Gaussian logits of variance s²
 * add about s²/2 nats) and then falls through a unigram plateau. A trained model meeting new data
 * either starts low (it already predicts text) or starts high — its confident predictions are wrong
 * on the new data, so the loss sits far above ln V and the gradients are large — and then collapses
 * within a few steps to its own level. The whole early curve is judged, never one number; each
 * check below reports its measured value, and docs/trainlog.md gives the margins measured.
 */

/** Points of the log's start kept for this check. */
export const HEAD_POINTS = 2048;
/** Points averaged (median) for a starting level: one batch is noisy. */
export const START_POINTS = 3;
/** The first logged step must be at most this for the log to hold the start of training. */
export const EARLY_STEP_LIMIT = 50;
/**
 * Starting loss as a fraction of ln V. Plausible: LOW–HIGH (LOW_AT_INIT when the log starts at step
 * 0 or 1, before any update: a random init cannot be below ln V there). Implausible: below BELOW
 * (trained weights) or above ABOVE (a trained model on new data). In between: inconclusive.
 * Measured: kinship-dev bases start at 1.002–1.006; every derived model at 0.49–0.54.
 */
export const START = { low: 0.85, lowAtInit: 0.95, high: 1.25, below: 0.7, above: 1.35 };
/**
 * Grad norm at the start over its median from point GRAD_REF_FROM on. A fresh init starts with
 * moderate gradients (kinship-dev bases: 2.0–2.1×, although Bp's norm spikes 24× at step 24); a
 * trained model meeting new data starts with huge ones that collapse as it adapts.
 */
export const GRAD_RATIO = { inconclusive: 8, implausible: 20 };
const GRAD_REF_FROM = 20;
/**
 * Early drop: the fall by step STEP as a fraction of ln V, and as a share of the whole log's fall.
 * A collapse (≥ MIN_DROP and ≥ SHARE of the whole descent within STEP steps, then flat) is what a
 * trained model meeting new data does; an aggressive from-scratch run without warm-up can fall as
 * fast but keeps falling afterwards. Alone it makes the verdict inconclusive; with a large start
 * gradient, implausible.
 */
export const COLLAPSE = { step: 10, minDrop: 0.15, share: 0.6 };
/** Training loss above the clean loss at the end by this fraction of ln V: the data is polluted. */
export const DIRTY_END_EXCESS = 0.1;

/** The start of a log (first HEAD_POINTS points) and its level at the end. */
export interface EarlyCurve {
  steps: number[];
  loss: number[];
  gradNorm: number[];
  cleanLoss: number[];
  endLoss: number | null;
  endCleanLoss: number | null;
}

export function assessFromScratch(curve: EarlyCurve, vocabSize: number | null): FromScratchAssessment {
  const lnV = vocabSize && vocabSize > 1 ? Math.log(vocabSize) : null;
  const firstStep = curve.steps[0] ?? null;
  const initial = startLevel(curve.steps, curve.loss);
  const hasClean = curve.cleanLoss.some(Number.isFinite);
  const base = {
    initialLoss: r4(initial),
    expectedInitialLoss: r4(lnV),
    firstStep,
    ratio: initial !== null && lnV ? r4(initial / lnV) : null,
    dirtyData: dirtyOf(curve, lnV, hasClean),
  };
  const checks: FromScratchCheck[] = [];
  if (lnV !== null) {
    checks.push(startCheck("start", curve.steps, curve.loss, lnV));
    if (hasClean) checks.push(startCheck("cleanStart", curve.steps, curve.cleanLoss, lnV));
    const useClean = hasClean && base.dirtyData?.flagged === true;
    const values = useClean ? curve.cleanLoss : curve.loss;
    checks.push(dropCheck(curve.steps, values, useClean ? curve.endCleanLoss : curve.endLoss, lnV));
  }
  checks.push(gradCheck(curve.steps, curve.gradNorm));
  return { ...base, checks, ...verdictOf(checks, initial, lnV) };
}

function verdictOf(
  checks: FromScratchCheck[],
  initial: number | null,
  lnV: number | null,
): Pick<FromScratchAssessment, "verdict" | "reason"> {
  const list = (cs: FromScratchCheck[]) => cs.map((c) => c.detail).join("; ");
  const by = (o: FromScratchCheck["outcome"]) => checks.filter((c) => c.outcome === o);
  if (initial === null) return { verdict: "inconclusive", reason: "no finite loss values at the start" };
  const fails = by("fail");
  const open = by("inconclusive");
  const collapse = open.find((c) => c.name === "earlyDrop");
  const bigGrad = open.find((c) => c.name === "gradNorm");
  if (fails.length || (collapse && bigGrad)) {
    return {
      verdict: "implausible",
      reason: `not a random initialisation: ${list(fails.length ? fails : ([collapse, bigGrad] as FromScratchCheck[]))}`,
    };
  }
  if (lnV === null)
    return { verdict: "inconclusive", reason: "vocabulary size unknown: pass --vocab N (or a model)" };
  if (open.length) return { verdict: "inconclusive", reason: `cannot tell: ${list(open)}` };
  return { verdict: "plausible", reason: `consistent with a random initialisation: ${list(by("pass"))}` };
}

/**
 * The starting level: the first value when the log starts at step 0 or 1 (the loss of the initial
 * weights, before any update — for a fresh init ≈ ln V on any batch, as its prediction is uniform;
 * a fast no-warm-up run has already fallen by the second point), else the median of the first
 * START_POINTS finite values among the early steps. Null when there are none.
 */
function startLevel(steps: number[], values: number[]): number | null {
  const [firstStep = Number.NaN] = steps;
  const [firstValue = Number.NaN] = values;
  if (firstStep <= 1 && Number.isFinite(firstValue)) return firstValue;
  const xs: number[] = [];
  for (const [i, value] of values.entries()) {
    if (xs.length >= START_POINTS || (steps[i] ?? Number.NaN) > EARLY_STEP_LIMIT) break;
    if (Number.isFinite(value)) xs.push(value);
  }
  return xs.length ? median(xs) : null;
}

function startCheck(
  name: "start" | "cleanStart",
  steps: number[],
  values: number[],
  lnV: number,
): FromScratchCheck {
  const what = name === "start" ? "loss" : "clean loss";
  const first = steps[0] ?? Number.NaN;
  const level = startLevel(steps, values);
  const low = first <= 1 ? START.lowAtInit : START.low;
  const bounds = `plausible ${low}–${START.high}·ln V, implausible < ${START.below} or > ${START.above}`;
  if (!(first <= EARLY_STEP_LIMIT) || level === null) {
    const detail = `the log starts at step ${first}, after the initial descent: its start is not in it`;
    return { name, outcome: "inconclusive", value: null, bounds, detail };
  }
  const r = level / lnV;
  const at = `starting ${what} ${level.toFixed(2)} = ${r.toFixed(2)}·ln V`;
  if (r < START.below)
    return { name, outcome: "fail", value: r4(r), bounds, detail: `${at}: already trained` };
  if (r > START.above)
    return {
      name,
      outcome: "fail",
      value: r4(r),
      bounds,
      detail: `${at}: far above a uniform guess — a trained model meeting new data`,
    };
  if (r >= low && r <= START.high) return { name, outcome: "pass", value: r4(r), bounds, detail: at };
  return {
    name,
    outcome: "inconclusive",
    value: r4(r),
    bounds,
    detail: `${at}: between the plausible and implausible bands`,
  };
}

function dropCheck(steps: number[], values: number[], end: number | null, lnV: number): FromScratchCheck {
  const bounds = `collapse: ≥ ${COLLAPSE.minDrop}·ln V and ≥ ${100 * COLLAPSE.share}% of the whole descent by step ${COLLAPSE.step}`;
  const early: number[] = [];
  for (const [i, value] of values.entries()) {
    if (!((steps[i] ?? Number.NaN) <= COLLAPSE.step)) break;
    if (Number.isFinite(value)) early.push(value);
  }
  const start = startLevel(steps, values);
  if (start === null || end === null || early.length < 2 * START_POINTS) {
    const detail = `early drop not measured (fewer than ${2 * START_POINTS} points by step ${COLLAPSE.step})`;
    return { name: "earlyDrop", outcome: "not_applicable", value: null, bounds, detail };
  }
  const drop = (start - median(early.slice(-START_POINTS))) / lnV;
  const total = (start - end) / lnV;
  const share = total > 0 ? drop / total : drop > 0 ? 1 : 0;
  const moved =
    drop >= 0
      ? `fell ${drop.toFixed(2)}·ln V by step ${COLLAPSE.step}`
      : `rose ${(-drop).toFixed(2)}·ln V by step ${COLLAPSE.step}`;
  const detail =
    total > 0.01
      ? `${moved}, ${(100 * Math.max(0, share)).toFixed(0)}% of its whole descent (${total.toFixed(2)}·ln V)`
      : `${moved}; no descent over the whole log`;
  const collapsed = drop >= COLLAPSE.minDrop && share >= COLLAPSE.share;
  return {
    name: "earlyDrop",
    outcome: collapsed ? "inconclusive" : "pass",
    value: r4(drop),
    bounds,
    detail: collapsed
      ? `${detail}: collapsed within a few steps, as a trained model meeting new data does`
      : detail,
  };
}

function gradCheck(steps: number[], grad: number[]): FromScratchCheck {
  const bounds = `inconclusive ≥ ${GRAD_RATIO.inconclusive}×, implausible ≥ ${GRAD_RATIO.implausible}× its later median`;
  const g0 = startLevel(steps, grad);
  const later = grad.slice(GRAD_REF_FROM).filter((g) => Number.isFinite(g) && g > 0);
  if (g0 === null || later.length < GRAD_REF_FROM) {
    return {
      name: "gradNorm",
      outcome: "not_applicable",
      value: null,
      bounds,
      detail: "grad norm not logged at the start",
    };
  }
  const ratio = g0 / median(later);
  const detail = `grad norm at the start ${g0.toPrecision(3)} = ${ratio.toFixed(1)}× its later median`;
  const outcome =
    ratio >= GRAD_RATIO.implausible ? "fail" : ratio >= GRAD_RATIO.inconclusive ? "inconclusive" : "pass";
  return {
    name: "gradNorm",
    outcome,
    value: r4(ratio),
    bounds,
    detail: outcome === "pass" ? detail : `${detail}: the gradients of a trained model meeting new data`,
  };
}

function dirtyOf(
  curve: EarlyCurve,
  lnV: number | null,
  hasClean: boolean,
): FromScratchAssessment["dirtyData"] {
  if (!hasClean) return null;
  if (lnV === null || curve.endLoss === null || curve.endCleanLoss === null)
    return { flagged: false, endExcess: null };
  const excess = (curve.endLoss - curve.endCleanLoss) / lnV;
  return { flagged: excess >= DIRTY_END_EXCESS, endExcess: r4(excess) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  const upper = s[m] ?? Number.NaN;
  return s.length % 2 ? upper : ((s[m - 1] ?? Number.NaN) + upper) / 2;
}

function r4(x: number | null): number | null {
  return x === null ? null : Math.round(x * 1e4) / 1e4;
}
