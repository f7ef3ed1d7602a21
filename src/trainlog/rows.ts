import type { MetricName } from "./types.js";

/** One logged row: metric → value (absent when the row does not log it). */
export type Row = Partial<Record<MetricName, number>>;

/** Receives rows in step order, one by one (the analysis and the kept series are both sinks). */
export interface RowSink {
  push(row: Row & { step: number }): void;
}

/**
 * Rows held back before they are committed: a resumed run re-logs steps after a rollback, and the
 * later values must win. Real resumes go back to the last checkpoint, well within this many
 * logged points; 64k rows are a few MB.
 */
export const TAIL_ROWS = 1 << 16;

/**
 * Puts rows in step order with bounded memory. A row for the step being filled is merged into it
 * (event files log one tag per event); a row whose loss goes back to an earlier step is a resume:
 * the held-back rows after that step are discarded and the resumed run's values win. A row that
 * goes back further than the held-back tail cannot be merged any more and is dropped and counted.
 * Rows are committed (passed on) once they leave the tail; rows without a loss are never committed.
 */
export class StepResolver {
  private readonly tail: (Row & { step: number })[] = [];
  private lastCommitted = Number.NEGATIVE_INFINITY;
  /** Held-back points replaced by a resumed run, and rows that came too late to be placed. */
  rolledBack = 0;
  dropped = 0;

  constructor(private readonly sink: RowSink) {}

  push(row: Row & { step: number }): void {
    const tail = this.tail;
    const last = tail[tail.length - 1];
    if (row.step <= this.lastCommitted) {
      this.dropped++;
      return;
    }
    if (last === undefined || row.step > last.step) {
      tail.push(row);
      // Commit in batches so the tail is never shifted row by row (O(n) per shift).
      if (tail.length >= 2 * TAIL_ROWS) {
        for (let i = 0; i < TAIL_ROWS; i++) this.commit(tail[i] as Row & { step: number });
        tail.splice(0, TAIL_ROWS);
      }
      return;
    }
    const at = lowerBound(tail, row.step);
    const same = tail[at]?.step === row.step ? tail[at] : undefined;
    if (row.loss !== undefined) {
      // A resume: everything logged after this step by the run that was abandoned goes.
      const cut = same ? at + 1 : at;
      for (let k = cut; k < tail.length; k++) if ((tail[k] as Row).loss !== undefined) this.rolledBack++;
      tail.length = cut;
      if (same) Object.assign(same, row);
      else tail.push(row);
    } else if (same) {
      Object.assign(same, row);
    } else {
      this.dropped++;
    }
  }

  /** Commits what is still held back (end of input). */
  flush(): void {
    for (const row of this.tail) this.commit(row);
    this.tail.length = 0;
  }

  private commit(row: Row & { step: number }): void {
    if (row.loss === undefined) return;
    this.lastCommitted = row.step;
    this.sink.push(row);
  }
}

function lowerBound(rows: { step: number }[], step: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((rows[mid] as { step: number }).step < step) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Numbers as trainers log them: numbers, numeric strings, "nan"/"inf". Anything else is absent. */
export function toNumber(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v.trim() !== "") {
    const t = v.trim();
    const n = Number(t.toLowerCase().replace(/^([-+]?)inf(inity)?$/, "$1Infinity"));
    if (!Number.isNaN(n) || /^[-+]?nan$/i.test(t)) return n;
  }
  return undefined;
}

/**
 * One record's metrics by the resolved columns (`get` reads a column of the record), its step from the
 * step column or else the record's ordinal; null for a record without a finite step.
 */
export function rowOf(
  cols: Record<string, string | null>,
  get: (col: string) => unknown,
  ordinal: number,
): (Row & { step: number }) | null {
  const row: Row = {};
  for (const [m, col] of Object.entries(cols)) {
    if (col === null) continue;
    const v = toNumber(get(col));
    if (v !== undefined) row[m as keyof Row] = v;
  }
  const step = cols.step === null ? ordinal : row.step;
  if (step === undefined || !Number.isFinite(step)) return null;
  return { ...row, step };
}
