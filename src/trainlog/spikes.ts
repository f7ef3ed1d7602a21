import type { Spike } from "./types.js";

/**
 * Spike detection against the local trend and noise, not a fixed threshold.
 *
 * For each point the trend comes from the previous `window` clean points (points inside an open
 * spike are excluded, so a spike never drags its own baseline up), and the noise σ is 1.4826·MAD of
 * that window's residuals. A point's robust z is its excess over the trend in σ units. A spike is
 * either one point with z ≥ peakZ, or a run of ≥ minRun consecutive points with z ≥ enterZ whose z
 * add up to ≥ minSumZ; the excess must also be ≥ minRelativeExcess of the trend, so a very quiet
 * log does not report tiny bumps. It ends when recoverPoints consecutive points fall below recoverZ.
 *
 * Why these defaults: on the real kinship-dev logs (per-step σ ≈ 0.10–0.13 nats) lone points reach
 * z ≈ 4.5 over 1,300 steps, so a lone point needs z ≥ 7; three points in a row at z ≥ 3 have
 * probability ≈ 2.5e-9 under Gaussian noise. The tests check zero detections on every clean dev log
 * (also with extra noise) and the recovery of injected spikes of several heights, widths and noise levels.
 */
export interface SpikeDetectorOptions {
  window: number;
  enterZ: number;
  peakZ: number;
  minRun: number;
  /** …and the z of the candidate's abnormal points must add up to at least this (a CUSUM-like mass). */
  minSumZ: number;
  minRelativeExcess: number;
  /** Minimum excess over the trend in the series' own units (used on log10 grad norms). */
  minAbsoluteExcess: number;
  /** A spike has recovered once `recoverPoints` consecutive points are below `recoverZ`. */
  recoverZ: number;
  recoverPoints: number;
  /** A spike not recovered after this many points is closed with end = null and the baseline re-seeded. */
  maxOpenPoints: number;
}

export const DEFAULT_DETECTOR: SpikeDetectorOptions = {
  window: 50,
  enterZ: 3,
  peakZ: 7,
  minRun: 3,
  minSumZ: 10,
  minRelativeExcess: 0.02,
  minAbsoluteExcess: 0,
  recoverZ: 2,
  recoverPoints: 3,
  maxOpenPoints: 200,
};

/** Points of history needed before a trend is trusted. */
const MIN_HISTORY = 12;

interface Candidate {
  first: number;
  peak: number;
  maxZ: number;
  run: number;
  longestRun: number;
  /** Consecutive points back within the noise. */
  calm: number;
  sumZ: number;
}

/** Returns spikes as index ranges resolved to steps; `rollbackStep` is filled by the caller. */
export function detectSpikes(
  steps: Float64Array,
  values: Float64Array,
  opts: SpikeDetectorOptions = DEFAULT_DETECTOR,
): Omit<Spike, "rollbackStep">[] {
  const clean: number[] = []; // indices usable as baseline
  const spikes: Omit<Spike, "rollbackStep">[] = [];
  let open: Candidate | null = null;
  const trendAt = new Float64Array(values.length).fill(Number.NaN);

  for (let i = 0; i < values.length; i++) {
    const y = values[i] as number;
    const fit =
      clean.length >= MIN_HISTORY
        ? fitTrend(steps, values, clean.slice(-opts.window), steps[i] as number)
        : null;
    if (!fit) {
      if (Number.isFinite(y)) clean.push(i);
      continue;
    }
    trendAt[i] = fit.pred;
    const z = Number.isFinite(y) ? (y - fit.pred) / fit.sigma : Number.POSITIVE_INFINITY;
    const rel = Number.isFinite(y) ? (y - fit.pred) / Math.abs(fit.pred) : Number.POSITIVE_INFINITY;
    const abnormal =
      z >= opts.enterZ && rel >= opts.minRelativeExcess && !(y - fit.pred < opts.minAbsoluteExcess);

    if (open === null) {
      if (abnormal) open = { first: i, peak: i, maxZ: z, run: 1, longestRun: 1, calm: 0, sumZ: z };
      else clean.push(i);
      continue;
    }
    if (z > open.maxZ) {
      open.maxZ = z;
      open.peak = i;
    }
    open.run = abnormal ? open.run + 1 : 0;
    if (abnormal) open.sumZ += z;
    open.longestRun = Math.max(open.longestRun, open.run);
    open.calm = z < opts.recoverZ ? open.calm + 1 : 0;
    const recovered = open.calm >= opts.recoverPoints;
    const tooLong = i - open.first >= opts.maxOpenPoints;
    if (!recovered && !tooLong) continue;
    const endIdx = i - open.calm + 1; // first point of the calm run
    const confirmed = isConfirmed(open, opts);
    if (confirmed) spikes.push(toSpike(open, recovered ? endIdx : null, steps, values, trendAt));
    else for (let k = open.first; k < endIdx; k++) clean.push(k); // a lone blip: ordinary noise
    if (recovered) for (let k = endIdx; k <= i; k++) clean.push(k);
    else clean.splice(0, clean.length, i); // a lasting level shift: start the baseline afresh from here
    open = null;
  }
  if (open && isConfirmed(open, opts)) {
    spikes.push(toSpike(open, null, steps, values, trendAt));
  }
  return spikes;
}

function isConfirmed(c: Candidate, opts: SpikeDetectorOptions): boolean {
  return c.maxZ >= opts.peakZ || (c.longestRun >= opts.minRun && c.sumZ >= opts.minSumZ);
}

function toSpike(
  c: Candidate,
  endIdx: number | null,
  steps: Float64Array,
  values: Float64Array,
  trend: Float64Array,
): Omit<Spike, "rollbackStep"> {
  // The rise often begins a point or two before the first abnormal one: take those in when their
  // excess is at least half of the first abnormal point's.
  const excess = (k: number) => (values[k] as number) - (trend[k] as number);
  let first = c.first;
  while (first > c.first - 2 && first > 0 && excess(first - 1) > 0.5 * excess(c.first)) first--;
  const trendAtPeak = trend[c.peak] as number;
  const valueAtPeak = values[c.peak] as number;
  return {
    start: steps[first] as number,
    peak: steps[c.peak] as number,
    end: endIdx === null ? null : (steps[endIdx] as number),
    severity: round(c.maxZ),
    relativeExcess: round((valueAtPeak - trendAtPeak) / Math.abs(trendAtPeak)),
    trendAtPeak: round(trendAtPeak),
    valueAtPeak: round(valueAtPeak),
  };
}

/**
 * The trend at `at`: the larger of a least-squares line through the window (tracks a rise, e.g. a
 * learning-rate re-warm) and the window's median (does not over-extrapolate a descent that is
 * flattening, which a line would turn into a false spike). Taking the larger is conservative both
 * ways. σ is the robust spread of the window's residuals around the line.
 */
function fitTrend(
  steps: Float64Array,
  values: Float64Array,
  idx: number[],
  at: number,
): { pred: number; sigma: number } {
  const n = idx.length;
  let sx = 0;
  let sy = 0;
  for (const k of idx) {
    sx += steps[k] as number;
    sy += values[k] as number;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  for (const k of idx) {
    const dx = (steps[k] as number) - mx;
    sxx += dx * dx;
    sxy += dx * ((values[k] as number) - my);
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  const residuals = idx.map((k) =>
    Math.abs((values[k] as number) - (my + slope * ((steps[k] as number) - mx))),
  );
  const sigma = Math.max(1.4826 * median(residuals), 1e-6 * Math.abs(my), 1e-12);
  const centre = median(idx.map((k) => values[k] as number));
  return { pred: Math.max(my + slope * (at - mx), centre), sigma };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function round(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : x;
}
