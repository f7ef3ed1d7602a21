import { PedigreeError } from "../errors.js";
import { METRICS } from "./columns.js";
import type { MetricName, TrainLog } from "./types.js";

/** One logged row: metric → value (NaN when absent). */
export type Row = Partial<Record<MetricName, number>>;

/**
 * Turns rows in log order into aligned series sorted by step. A resumed run re-logs steps after a
 * rollback: the later value wins, because it is what the surviving run saw.
 */
export function toSeries(
  rows: Row[],
  source: string,
  format: TrainLog["format"],
  columns: TrainLog["columns"],
): TrainLog {
  if (columns.loss === null) {
    throw new PedigreeError("TRAINLOG_NO_LOSS", `${source}: no loss column found`, {
      details: { source, columns },
      hint: 'Name the loss column with --column loss=<name> (e.g. --column loss="train/loss")',
    });
  }
  const byStep = new Map<number, Row>();
  rows.forEach((row, i) => {
    const step = row.step ?? i + 1;
    if (!Number.isFinite(step) || row.loss === undefined) return;
    byStep.set(step, { ...byStep.get(step), ...row });
  });
  const steps = [...byStep.keys()].sort((a, b) => a - b);
  if (steps.length === 0) {
    throw new PedigreeError("TRAINLOG_EMPTY", `${source}: no rows with a step and a loss`, {
      details: { source },
    });
  }
  const series = Object.fromEntries(
    METRICS.map((m) => [
      m,
      Float64Array.from(steps, (s) => (m === "step" ? s : (byStep.get(s)?.[m] ?? Number.NaN))),
    ]),
  ) as Record<MetricName, Float64Array>;
  return {
    source,
    format,
    steps: series.step,
    loss: series.loss,
    lr: series.lr,
    gradNorm: series.gradNorm,
    tokens: series.tokens,
    columns,
  };
}

/** Picks each metric's column out of parsed records (JSONL objects, CSV rows). */
export function rowsOf(records: Record<string, unknown>[], columns: TrainLog["columns"]): Row[] {
  return records.map((rec) => {
    const row: Row = {};
    for (const m of METRICS) {
      const col = columns[m];
      const v = col === null ? undefined : toNumber(rec[col]);
      if (v !== undefined) row[m] = v;
    }
    return row;
  });
}

/** Numbers as trainers log them: numbers, numeric strings, "nan"/"inf". Anything else is absent. */
export function toNumber(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v.trim() !== "") {
    const n = Number(
      v
        .trim()
        .toLowerCase()
        .replace(/^(-?)inf(inity)?$/, "$1Infinity"),
    );
    if (!Number.isNaN(n) || /^nan$/i.test(v.trim())) return n;
  }
  return undefined;
}
