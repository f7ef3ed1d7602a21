/** A training run's metric series, aligned by step. Missing values are NaN. */
export interface TrainLog {
  /** Where it came from (file path) and in which format. */
  source: string;
  format: "jsonl" | "csv" | "tfevents";
  /** Strictly increasing steps (duplicates resolved to the last value logged, as resumed runs re-log). */
  steps: Float64Array;
  loss: Float64Array;
  lr: Float64Array;
  gradNorm: Float64Array;
  tokens: Float64Array;
  /** Loss on clean (unpolluted) data when the log has such a column, else all NaN. */
  cleanLoss: Float64Array;
  /** Which source column/tag fed each series (null when the log has none). */
  columns: Record<MetricName, string | null>;
  /** How the series were reduced to bound memory (null: every logged point is kept). */
  downsampled: Downsampling | null;
}

export type MetricName = "step" | "loss" | "lr" | "gradNorm" | "tokens" | "cleanLoss";

/**
 * Min/max decimation of a long series: consecutive points are grouped in buckets of `bucketPoints`
 * points, and each bucket keeps the rows holding its lowest and highest loss and its highest grad
 * norm (so spikes and dips stay visible). The analysis itself sees every point.
 */
export interface Downsampling {
  method: "min-max buckets";
  /** Points the log has, points kept, and points per bucket. */
  points: number;
  kept: number;
  bucketPoints: number;
}

/** Non-finite values (NaN, ±Infinity) met in one series: how many, and the first steps. */
export interface NonFinite {
  count: number;
  firstSteps: number[];
}

/** A learning-rate rise of at least LR_JUMP_RATIO between two consecutive logged values. */
export interface LrJump {
  step: number;
  from: number;
  to: number;
  ratio: number;
}

/** User overrides: metric → column name (JSONL key, CSV header or TensorBoard tag). */
export type ColumnOverrides = Partial<Record<MetricName, string>>;

export interface Spike {
  /** Steps: first abnormal point, highest point, first point back within the noise (null: not recovered). */
  start: number;
  peak: number;
  end: number | null;
  /** Peak excess over the local trend in units of the local noise (robust z). */
  severity: number;
  /** Peak excess over the local trend relative to the trend (0.25 = 25 % above). */
  relativeExcess: number;
  /** Value of the trend and of the metric at the peak. */
  trendAtPeak: number;
  valueAtPeak: number;
  /** Where to roll back to: the last checkpoint before `start` (or the last good step without checkpoints). */
  rollbackStep: number;
  /** A learning-rate jump shortly before the spike (a likely cause), else null. */
  lrJump?: LrJump | null;
}

export type FromScratchVerdict = "plausible" | "implausible" | "inconclusive";

/** One check of the from-scratch rule, with what was measured and the bounds it was held to. */
export interface FromScratchCheck {
  name: "start" | "cleanStart" | "gradNorm" | "earlyDrop";
  outcome: "pass" | "fail" | "inconclusive" | "not_applicable";
  /** The measured value (a fraction of ln V, or a ratio of grad norms), null when not measured. */
  value: number | null;
  /** The bounds in words, e.g. "plausible 0.95–1.25 · ln V". */
  bounds: string;
  detail: string;
}

export interface FromScratchAssessment {
  verdict: FromScratchVerdict;
  /** Robust estimate of the loss at the first logged steps (nats). */
  initialLoss: number | null;
  /** ln(vocab size): the cross-entropy of a uniform prediction, where a freshly initialised model starts. */
  expectedInitialLoss: number | null;
  firstStep: number | null;
  /** initialLoss / expectedInitialLoss. */
  ratio: number | null;
  /** Every check, in order, with its measured value (the verdict follows from these). */
  checks: FromScratchCheck[];
  /**
   * Set when the log has a clean-loss column: the training loss minus the clean loss at the end of
   * the log, as a fraction of ln V; `flagged` when it is large (polluted data lifts the loss floor).
   */
  dirtyData: { flagged: boolean; endExcess: number | null } | null;
  reason: string;
}

export interface TrainLogReport {
  source: string;
  format: TrainLog["format"];
  points: number;
  steps: { first: number; last: number };
  columns: TrainLog["columns"];
  spikes: Spike[];
  gradNormAnomalies: Spike[];
  /** Roll back to here for the earliest loss spike; null when there is none. */
  rollbackStep: number | null;
  checkpoints: number[];
  fromScratch: FromScratchAssessment;
  /** NaN / ±Infinity values met (read as divergent points, never as a malformed log). */
  nonFinite: { loss: NonFinite; gradNorm: NonFinite };
  /** Learning-rate rises of at least `ratio`× between consecutive logged values (the first `listed`). */
  lrJumps: { ratio: number; count: number; listed: LrJump[] };
  /** Rows replaced by a resumed run (later values win) and rows too late to be placed, dropped. */
  order: { rolledBack: number; dropped: number };
  /** How the kept series (plots, `log`) were reduced; the analysis above saw every point. */
  series: { points: number; downsampled: Downsampling | null };
  detector: { window: number; enterZ: number; peakZ: number; minRelativeExcess: number };
}
