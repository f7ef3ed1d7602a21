import { PedigreeError } from "../errors.js";
import { METRICS } from "./columns.js";
import type { Row, RowSink } from "./rows.js";
import type { MetricName, TrainLog } from "./types.js";

/**
 * Buckets kept for the returned series: up to this many points a log is kept exactly; beyond it,
 * min/max decimated to at most three rows per bucket (≈ 10 MB at most, whatever the log's length).
 */
export const KEEP_BUCKETS = 1 << 14;

type StepRow = Row & { step: number };

interface Bucket {
  points: number;
  minLoss: StepRow;
  maxLoss: StepRow;
  maxGrad: StepRow | null;
}

/** A loss counts as "high" when it is NaN or infinite (a divergence must stay visible). */
const high = (r: StepRow) => finiteOr(r.loss, Number.POSITIVE_INFINITY);
const low = (r: StepRow) => finiteOr(r.loss, Number.POSITIVE_INFINITY);
const grad = (r: StepRow | null) => finiteOr(r?.gradNorm, -1);

function finiteOr(x: number | undefined, fallback: number): number {
  return x !== undefined && Number.isFinite(x) ? x : fallback;
}

/**
 * Keeps a bounded picture of the series for plotting and for library callers: consecutive points
 * are grouped in buckets of `bucketPoints` (1 at first: exact); when the buckets fill up,
 * neighbours merge and the bucket size doubles. Each bucket keeps the rows with its lowest and
 * highest loss and its highest grad norm, so spikes and dips survive the reduction.
 */
export class SeriesKeeper implements RowSink {
  private buckets: Bucket[] = [];
  private current: Bucket | null = null;
  private bucketPoints = 1;
  points = 0;

  constructor(private readonly capacity = KEEP_BUCKETS) {}

  push(row: StepRow): void {
    this.points++;
    const c = this.current;
    if (c === null) {
      this.current = { points: 1, minLoss: row, maxLoss: row, maxGrad: grad(row) >= 0 ? row : null };
    } else {
      c.points++;
      if (low(row) < low(c.minLoss)) c.minLoss = row;
      if (high(row) > high(c.maxLoss)) c.maxLoss = row;
      if (grad(row) > grad(c.maxGrad)) c.maxGrad = row;
    }
    if ((this.current as Bucket).points >= this.bucketPoints) {
      this.buckets.push(this.current as Bucket);
      this.current = null;
      if (this.buckets.length >= 2 * this.capacity) this.halve();
    }
  }

  private halve(): void {
    const merged: Bucket[] = [];
    for (let i = 0; i + 1 < this.buckets.length; i += 2) {
      const a = this.buckets[i] as Bucket;
      const b = this.buckets[i + 1] as Bucket;
      merged.push({
        points: a.points + b.points,
        minLoss: low(b.minLoss) < low(a.minLoss) ? b.minLoss : a.minLoss,
        maxLoss: high(b.maxLoss) > high(a.maxLoss) ? b.maxLoss : a.maxLoss,
        maxGrad: grad(b.maxGrad) > grad(a.maxGrad) ? b.maxGrad : a.maxGrad,
      });
    }
    if (this.buckets.length % 2) merged.push(this.buckets[this.buckets.length - 1] as Bucket);
    this.buckets = merged;
    this.bucketPoints *= 2;
  }

  /** The kept rows as aligned series, sorted by step. */
  toTrainLog(source: string, format: TrainLog["format"], columns: TrainLog["columns"]): TrainLog {
    if (columns.loss === null) {
      throw new PedigreeError("TRAINLOG_NO_LOSS", `${source}: no loss column found`, {
        details: { source, columns },
        hint: 'Name the loss column with --column loss=<name> (e.g. --column loss="train/loss")',
      });
    }
    if (this.points === 0) {
      throw new PedigreeError("TRAINLOG_EMPTY", `${source}: no rows with a step and a loss`, {
        details: { source },
      });
    }
    const all = this.current ? [...this.buckets, this.current] : this.buckets;
    const rows: StepRow[] = [];
    for (const b of all) {
      const picked = new Set<StepRow>([b.minLoss, b.maxLoss]);
      if (b.maxGrad) picked.add(b.maxGrad);
      rows.push(...[...picked].sort((x, y) => x.step - y.step));
    }
    const series = Object.fromEntries(
      METRICS.map((m) => [m, Float64Array.from(rows, (r) => r[m] ?? Number.NaN)]),
    ) as Record<MetricName, Float64Array>;
    return {
      source,
      format,
      steps: series.step,
      loss: series.loss,
      lr: series.lr,
      gradNorm: series.gradNorm,
      tokens: series.tokens,
      cleanLoss: series.cleanLoss,
      columns,
      downsampled:
        rows.length === this.points
          ? null
          : {
              method: "min-max buckets",
              points: this.points,
              kept: rows.length,
              bucketPoints: this.bucketPoints,
            },
    };
  }
}
