import { assessFromScratch } from "./from-scratch.js";
import { readTrainLog } from "./read.js";
import { DEFAULT_DETECTOR, detectSpikes, type SpikeDetectorOptions } from "./spikes.js";
import type { ColumnOverrides, Spike, TrainLog, TrainLogReport } from "./types.js";

/** A grad-norm anomaly must be at least 1.5× the trend: smaller blips are routine (log10 1.5 ≈ 0.176). */
export const GRAD_NORM_MIN_LOG10_EXCESS = Math.log10(1.5);

export interface AnalyzeOptions {
  /** Steps at which checkpoints were saved; rollback goes to the last one before a spike. */
  checkpoints?: number[];
  /** Vocabulary size, for the from-scratch check (expected initial loss ln V). */
  vocabSize?: number | null;
  detector?: Partial<SpikeDetectorOptions>;
}

/** Spikes, grad-norm anomalies, rollback point and from-scratch plausibility of one log. */
export function analyzeTrainLog(log: TrainLog, opts: AnalyzeOptions = {}): TrainLogReport {
  const detector = { ...DEFAULT_DETECTOR, ...opts.detector };
  const checkpoints = [...(opts.checkpoints ?? [])].sort((a, b) => a - b);
  const withRollback = (s: Omit<Spike, "rollbackStep">): Spike => ({
    ...s,
    rollbackStep: rollbackBefore(s.start, log.steps, checkpoints),
  });
  const spikes = detectSpikes(log.steps, log.loss, detector).map(withRollback);
  const grad = loggedPoints(log.steps, log.gradNorm);
  const gradNormAnomalies = detectSpikes(grad.steps, grad.log10Values, {
    ...detector,
    minRelativeExcess: 0,
    minAbsoluteExcess: GRAD_NORM_MIN_LOG10_EXCESS,
  })
    .map(fromLog10)
    .map(withRollback);
  return {
    source: log.source,
    format: log.format,
    points: log.steps.length,
    steps: { first: log.steps[0] as number, last: log.steps[log.steps.length - 1] as number },
    columns: log.columns,
    spikes,
    gradNormAnomalies,
    rollbackStep: spikes[0]?.rollbackStep ?? null,
    checkpoints,
    fromScratch: assessFromScratch(log.steps, log.loss, opts.vocabSize ?? null),
    detector: {
      window: detector.window,
      enterZ: detector.enterZ,
      peakZ: detector.peakZ,
      minRelativeExcess: detector.minRelativeExcess,
    },
  };
}

/** Reads and analyses a log file (JSONL, CSV, TensorBoard events). */
export async function analyzeTrainLogFile(
  file: string,
  opts: AnalyzeOptions & { columns?: ColumnOverrides } = {},
): Promise<{ log: TrainLog; report: TrainLogReport }> {
  const log = await readTrainLog(file, opts.columns);
  return { log, report: analyzeTrainLog(log, opts) };
}

/**
 * The last checkpoint strictly before the spike starts; without checkpoints, the last logged step
 * before it (the weights there were still healthy). The first step when nothing precedes it.
 */
export function rollbackBefore(start: number, steps: Float64Array, checkpoints: number[]): number {
  const pool = checkpoints.length ? checkpoints : [...steps];
  let best: number | null = null;
  for (const s of pool) if (s < start && (best === null || s > best)) best = s;
  return best ?? (checkpoints.length ? 0 : (steps[0] as number));
}

/** Grad-norm anomalies are found in log10 space; report their values as norms again. */
function fromLog10(s: Omit<Spike, "rollbackStep">): Omit<Spike, "rollbackStep"> {
  const trend = 10 ** s.trendAtPeak;
  const value = 10 ** s.valueAtPeak;
  const r = (x: number) => Math.round(x * 1e4) / 1e4;
  return { ...s, trendAtPeak: r(trend), valueAtPeak: r(value), relativeExcess: r(value / trend - 1) };
}

/**
 * The steps where a grad norm was logged, in log10: norms are multiplicative, so anomalies show as
 * excess in log space. Steps without a value are left out (missing is not anomalous, unlike a NaN loss).
 */
function loggedPoints(
  steps: Float64Array,
  values: Float64Array,
): { steps: Float64Array; log10Values: Float64Array } {
  const keep = [...values.keys()].filter((i) => (values[i] as number) > 0);
  return {
    steps: Float64Array.from(keep, (i) => steps[i] as number),
    log10Values: Float64Array.from(keep, (i) => Math.log10(values[i] as number)),
  };
}
