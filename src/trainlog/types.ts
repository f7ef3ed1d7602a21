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
  /** Which source column/tag fed each series (null when the log has none). */
  columns: Record<MetricName, string | null>;
}

export type MetricName = "step" | "loss" | "lr" | "gradNorm" | "tokens";

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
}

export type FromScratchVerdict = "plausible" | "implausible" | "unknown";

export interface FromScratchAssessment {
  verdict: FromScratchVerdict;
  /** Robust estimate of the loss at the first logged steps (nats). */
  initialLoss: number | null;
  /** ln(vocab size): the cross-entropy of a uniform prediction, where a freshly initialised model starts. */
  expectedInitialLoss: number | null;
  firstStep: number | null;
  /** initialLoss / expectedInitialLoss. */
  ratio: number | null;
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
  detector: { window: number; enterZ: number; peakZ: number; minRelativeExcess: number };
}
