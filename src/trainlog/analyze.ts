import { assessFromScratch, type EarlyCurve, HEAD_POINTS } from "./from-scratch.js";
import { SeriesKeeper } from "./keep.js";
import type { OrderStats } from "./pipeline.js";
import { streamTrainLog } from "./read.js";
import type { RowSink } from "./rows.js";
import { DEFAULT_DETECTOR, type DetectedSpike, SpikeDetector, type SpikeDetectorOptions } from "./spikes.js";
import { EndLevel, LrJumps, NonFiniteCounter } from "./stats.js";
import type { ColumnOverrides, LrJump, Spike, TrainLog, TrainLogReport } from "./types.js";

/** A grad-norm anomaly must be at least 1.5× the trend: smaller blips are routine (log10 1.5 ≈ 0.176). */
export const GRAD_NORM_MIN_LOG10_EXCESS = Math.log10(1.5);
/** A learning-rate jump counts as a spike's likely cause when it falls this many points before its start, or inside it. */
export const LR_JUMP_LOOKBACK_POINTS = 50;

export interface AnalyzeOptions {
  /** Steps at which checkpoints were saved; rollback goes to the last one before a spike. */
  checkpoints?: number[];
  /** Vocabulary size, for the from-scratch check (expected initial loss ln V). */
  vocabSize?: number | null;
  detector?: Partial<SpikeDetectorOptions>;
}

type Meta = Pick<TrainLog, "source" | "format" | "columns" | "downsampled"> & { order: OrderStats };

/**
 * The whole analysis as a stream of rows in step order: both detectors judge every point, and only
 * bounded state is kept (detector windows, the first HEAD_POINTS points for the from-scratch
 * check, the last points' level, counters), so memory does not grow with the log.
 */
export class TrainLogAnalyzer implements RowSink {
  private readonly detector: SpikeDetectorOptions;
  private readonly loss: SpikeDetector;
  private readonly grad: SpikeDetector;
  private readonly early: EarlyCurve = {
    steps: [],
    loss: [],
    gradNorm: [],
    cleanLoss: [],
    endLoss: null,
    endCleanLoss: null,
  };
  private readonly endLoss = new EndLevel();
  private readonly endClean = new EndLevel();
  private readonly nanLoss = new NonFiniteCounter();
  private readonly nanGrad = new NonFiniteCounter();
  private readonly lrJumps = new LrJumps();
  private points = 0;
  private first = Number.NaN;
  private prev = Number.NaN;

  constructor(opts: AnalyzeOptions = {}) {
    this.detector = { ...DEFAULT_DETECTOR, ...opts.detector };
    this.loss = new SpikeDetector(this.detector);
    this.grad = new SpikeDetector({
      ...this.detector,
      minRelativeExcess: 0,
      minAbsoluteExcess: GRAD_NORM_MIN_LOG10_EXCESS,
    });
  }

  push(row: { step: number; loss?: number; lr?: number; gradNorm?: number; cleanLoss?: number }): void {
    const i = this.points++;
    const loss = row.loss ?? Number.NaN;
    const g = row.gradNorm ?? Number.NaN;
    if (i === 0) this.first = row.step;
    this.loss.push(row.step, loss, i, this.prev);
    // Grad norms are multiplicative: anomalies show as excess in log10. Missing is not anomalous.
    if (g > 0) this.grad.push(row.step, Math.log10(g), i, this.prev);
    if (!Number.isFinite(loss)) this.nanLoss.add(row.step);
    if (row.gradNorm !== undefined && !Number.isFinite(g)) this.nanGrad.add(row.step);
    if (row.lr !== undefined) this.lrJumps.add(row.step, row.lr, i);
    this.endLoss.add(loss);
    if (row.cleanLoss !== undefined) this.endClean.add(row.cleanLoss);
    if (i < HEAD_POINTS) {
      this.early.steps.push(row.step);
      this.early.loss.push(loss);
      this.early.gradNorm.push(g);
      this.early.cleanLoss.push(row.cleanLoss ?? Number.NaN);
    }
    this.prev = row.step;
  }

  finish(meta: Meta, opts: AnalyzeOptions = {}): TrainLogReport {
    const checkpoints = [...(opts.checkpoints ?? [])].sort((a, b) => a - b);
    const jumps = this.lrJumps.all();
    const place = (s: DetectedSpike): Spike => {
      const { startIndex, peakIndex, prevStep, ...rest } = s;
      const lrJump = causeOf(jumps, startIndex, peakIndex);
      return { ...rest, rollbackStep: rollbackBefore(s.start, prevStep, this.first, checkpoints), lrJump };
    };
    const spikes = this.loss.finish().map(place);
    const gradNormAnomalies = this.grad.finish().map(fromLog10).map(place);
    this.early.endLoss = this.endLoss.median();
    this.early.endCleanLoss = this.endClean.median();
    return {
      source: meta.source,
      format: meta.format,
      points: this.points,
      steps: { first: this.first, last: this.prev },
      columns: meta.columns,
      spikes,
      gradNormAnomalies,
      rollbackStep: spikes[0]?.rollbackStep ?? null,
      checkpoints,
      fromScratch: assessFromScratch(this.early, opts.vocabSize ?? null),
      nonFinite: { loss: this.nanLoss.summary(), gradNorm: this.nanGrad.summary() },
      lrJumps: this.lrJumps.summary(),
      order: meta.order,
      series: { points: this.points, downsampled: meta.downsampled },
      detector: {
        window: this.detector.window,
        enterZ: this.detector.enterZ,
        peakZ: this.detector.peakZ,
        minRelativeExcess: this.detector.minRelativeExcess,
      },
    };
  }
}

/** Spikes, grad-norm anomalies, rollback point and from-scratch plausibility of a log in memory. */
export function analyzeTrainLog(log: TrainLog, opts: AnalyzeOptions = {}): TrainLogReport {
  const a = new TrainLogAnalyzer(opts);
  for (let i = 0; i < log.steps.length; i++) {
    const at = (s: Float64Array | undefined) => s?.[i] ?? Number.NaN;
    const opt = (v: number) => (Number.isNaN(v) ? undefined : v);
    a.push({
      step: at(log.steps),
      loss: at(log.loss),
      lr: opt(at(log.lr)),
      gradNorm: opt(at(log.gradNorm)),
      cleanLoss: opt(at(log.cleanLoss)),
    });
  }
  return a.finish(
    { ...log, downsampled: log.downsampled ?? null, order: { rolledBack: 0, dropped: 0 } },
    opts,
  );
}

/**
 * Streams a log file (JSONL, CSV, TensorBoard events) through the analysis and a bounded kept
 * series at once: the file is read once and never held in memory.
 */
export async function analyzeTrainLogFile(
  file: string,
  opts: AnalyzeOptions & { columns?: ColumnOverrides } = {},
): Promise<{ log: TrainLog; report: TrainLogReport }> {
  const keeper = new SeriesKeeper();
  const analyzer = new TrainLogAnalyzer(opts);
  const { info, order } = await streamTrainLog(file, opts.columns ?? {}, [keeper, analyzer]);
  const log = keeper.toTrainLog(file, info.format, info.columns);
  return { log, report: analyzer.finish({ ...log, order }, opts) };
}

/**
 * The last checkpoint strictly before the spike starts (0 when none is); without checkpoints, the
 * step logged just before it (the weights there were still healthy), or the first step when the
 * spike starts the log.
 */
export function rollbackBefore(
  start: number,
  prevStep: number,
  firstStep: number,
  checkpoints: number[],
): number {
  if (checkpoints.length === 0) return Number.isFinite(prevStep) ? prevStep : firstStep;
  let best = 0;
  for (const c of checkpoints) if (c < start && c > best) best = c;
  return best;
}

/** The last learning-rate jump from LR_JUMP_LOOKBACK_POINTS before a spike's start up to its peak. */
function causeOf(
  jumps: (LrJump & { index: number })[],
  startIndex: number,
  peakIndex: number,
): LrJump | null {
  let found: (LrJump & { index: number }) | null = null;
  for (const j of jumps)
    if (j.index >= startIndex - LR_JUMP_LOOKBACK_POINTS && j.index <= peakIndex) found = j;
  if (!found) return null;
  const { index: _, ...jump } = found;
  return jump;
}

/** Grad-norm anomalies are found in log10 space; report their values as norms again. */
function fromLog10(s: DetectedSpike): DetectedSpike {
  const trend = 10 ** s.trendAtPeak;
  const value = 10 ** s.valueAtPeak;
  const r = (x: number) => Math.round(x * 1e4) / 1e4;
  return { ...s, trendAtPeak: r(trend), valueAtPeak: r(value), relativeExcess: r(value / trend - 1) };
}
