import { TrendWindow } from "./trend.js";
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

/** One point as the detector saw it; `index` is its position in the log, `prevStep` the step logged before it. */
interface Seen {
  step: number;
  value: number;
  trend: number;
  index: number;
  prevStep: number;
}

interface Candidate {
  /** Points from the first abnormal one on, and up to two points before it (for the start rule). */
  points: Seen[];
  before: Seen[];
  peak: Seen;
  maxZ: number;
  run: number;
  longestRun: number;
  /** Consecutive points back within the noise. */
  calm: number;
  sumZ: number;
}

/** A spike before its rollback step is chosen; the indices place it among the log's points. */
export type DetectedSpike = Omit<Spike, "rollbackStep"> & {
  startIndex: number;
  peakIndex: number;
  /** The step logged just before the spike's start (NaN when it starts the log). */
  prevStep: number;
};

/**
 * The detector as a stream: points are pushed one by one in step order and only the trailing
 * window, an open candidate (≤ maxOpenPoints) and the spikes found are kept, so memory does not
 * grow with the log. Every point is judged.
 */
export class SpikeDetector {
  readonly spikes: DetectedSpike[] = [];
  private readonly window: TrendWindow;
  /** Clean points seen since the baseline was last (re)started. */
  private cleanCount = 0;
  private open: Candidate | null = null;
  /** The last two points judged (for the start rule of a new candidate). */
  private recent: Seen[] = [];

  constructor(private readonly opts: SpikeDetectorOptions = DEFAULT_DETECTOR) {
    this.window = new TrendWindow(Math.max(1, opts.window));
  }

  push(step: number, value: number, index: number, prevStep: number): void {
    const opts = this.opts;
    const fit = this.cleanCount >= MIN_HISTORY ? this.window.fit(step) : null;
    const seen: Seen = { step, value, trend: fit ? fit.pred : Number.NaN, index, prevStep };
    if (!fit) {
      if (Number.isFinite(value)) this.addClean(seen);
      this.remember(seen);
      return;
    }
    const finite = Number.isFinite(value);
    const z = finite ? (value - fit.pred) / fit.sigma : Number.POSITIVE_INFINITY;
    const rel = finite ? (value - fit.pred) / Math.abs(fit.pred) : Number.POSITIVE_INFINITY;
    const abnormal =
      z >= opts.enterZ && rel >= opts.minRelativeExcess && !(value - fit.pred < opts.minAbsoluteExcess);
    const open = this.open;
    if (open === null) {
      if (abnormal) {
        const before = this.recent.slice(-2);
        this.open = { points: [seen], before, peak: seen, maxZ: z, run: 1, longestRun: 1, calm: 0, sumZ: z };
      } else this.addClean(seen);
      this.remember(seen);
      return;
    }
    open.points.push(seen);
    this.remember(seen);
    if (z > open.maxZ) {
      open.maxZ = z;
      open.peak = seen;
    }
    open.run = abnormal ? open.run + 1 : 0;
    if (abnormal) open.sumZ += z;
    open.longestRun = Math.max(open.longestRun, open.run);
    open.calm = z < opts.recoverZ ? open.calm + 1 : 0;
    const recovered = open.calm >= opts.recoverPoints;
    const tooLong = open.points.length - 1 >= opts.maxOpenPoints;
    if (!recovered && !tooLong) return;
    const endAt = open.points.length - open.calm; // first point of the calm run
    if (this.isConfirmed(open)) this.spikes.push(toSpike(open, recovered ? open.points[endAt] : undefined));
    else for (let k = 0; k < endAt; k++) this.addClean(open.points[k] as Seen); // a lone blip: noise
    if (recovered) for (let k = endAt; k < open.points.length; k++) this.addClean(open.points[k] as Seen);
    else {
      // A lasting level shift: start the baseline afresh from here.
      this.window.reset();
      this.cleanCount = 0;
      if (finite) this.addClean(seen);
    }
    this.open = null;
  }

  /** Ends the stream: a confirmed candidate still open is a spike that has not recovered. */
  finish(): DetectedSpike[] {
    if (this.open && this.isConfirmed(this.open)) this.spikes.push(toSpike(this.open, undefined));
    this.open = null;
    return this.spikes;
  }

  private addClean(p: Seen): void {
    this.window.push(p.step, p.value);
    this.cleanCount++;
  }

  private remember(p: Seen): void {
    this.recent.push(p);
    if (this.recent.length > 2) this.recent.shift();
  }

  private isConfirmed(c: Candidate): boolean {
    const o = this.opts;
    return c.maxZ >= o.peakZ || (c.longestRun >= o.minRun && c.sumZ >= o.minSumZ);
  }
}

/** Runs the detector over whole arrays (in-memory logs). */
export function detectSpikes(
  steps: Float64Array,
  values: Float64Array,
  opts: SpikeDetectorOptions = DEFAULT_DETECTOR,
): DetectedSpike[] {
  const d = new SpikeDetector(opts);
  for (let i = 0; i < values.length; i++)
    d.push(steps[i] ?? Number.NaN, values[i] ?? Number.NaN, i, steps[i - 1] ?? Number.NaN);
  return d.finish();
}

function toSpike(c: Candidate, end: Seen | undefined): DetectedSpike {
  // The rise often begins a point or two before the first abnormal one: take those in when their
  // excess is at least half of the first abnormal point's.
  const firstAbnormal = c.points[0] as Seen;
  const excess = (p: Seen) => p.value - p.trend;
  let start = firstAbnormal;
  for (let k = c.before.length - 1; k >= 0; k--) {
    const p = c.before[k] as Seen;
    if (!(excess(p) > 0.5 * excess(firstAbnormal))) break;
    start = p;
  }
  const { trend: trendAtPeak, value: valueAtPeak } = c.peak;
  return {
    start: start.step,
    peak: c.peak.step,
    end: end === undefined ? null : end.step,
    severity: round(c.maxZ),
    relativeExcess: round((valueAtPeak - trendAtPeak) / Math.abs(trendAtPeak)),
    trendAtPeak: round(trendAtPeak),
    valueAtPeak: round(valueAtPeak),
    startIndex: start.index,
    peakIndex: c.peak.index,
    prevStep: start.prevStep,
  };
}

function round(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : x;
}
