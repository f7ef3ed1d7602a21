import { medianInPlace } from "./trend.js";
import type { LrJump, NonFinite } from "./types.js";

/** Points whose median is the level at the end of the log (exact over that window). */
export const END_POINTS = 1024;
/** First steps listed for non-finite values. */
export const NON_FINITE_LISTED = 10;
/**
 * A learning-rate rise of at least this factor between two consecutive logged values is a jump:
 * linear warm-up rises at most 2× between consecutive logged values, a cosine or step schedule
 * only falls, so a 5× rise is a change of plan (a restart, a resumed run with a wrong schedule).
 */
export const LR_JUMP_RATIO = 5;
/** Jumps kept with their positions (a log that jumps more often than this is counted, not listed). */
export const MAX_LR_JUMPS = 1000;
const LISTED_LR_JUMPS = 20;

/** The median of the last END_POINTS finite values, kept in a ring. */
export class EndLevel {
  private readonly ring = new Float64Array(END_POINTS);
  private n = 0;

  add(v: number): void {
    if (!Number.isFinite(v)) return;
    this.ring[this.n % END_POINTS] = v;
    this.n++;
  }

  median(): number | null {
    const size = Math.min(this.n, END_POINTS);
    return size === 0 ? null : medianInPlace(this.ring.slice(0, size), size);
  }
}

/** Counts non-finite values and keeps the first steps they occur at. */
export class NonFiniteCounter {
  private count = 0;
  private readonly steps: number[] = [];

  add(step: number): void {
    this.count++;
    if (this.steps.length < NON_FINITE_LISTED) this.steps.push(step);
  }

  summary(): NonFinite {
    return { count: this.count, firstSteps: [...this.steps] };
  }
}

/** Learning-rate jumps, found as the log streams by. */
export class LrJumps {
  private prev = Number.NaN;
  private count = 0;
  private readonly jumps: (LrJump & { index: number })[] = [];

  add(step: number, lr: number, index: number): void {
    if (!(Number.isFinite(lr) && lr > 0)) return;
    const prev = this.prev;
    this.prev = lr;
    if (!(prev > 0) || lr / prev < LR_JUMP_RATIO) return;
    this.count++;
    if (this.jumps.length < MAX_LR_JUMPS)
      this.jumps.push({ step, from: prev, to: lr, ratio: Math.round((lr / prev) * 100) / 100, index });
  }

  all(): (LrJump & { index: number })[] {
    return this.jumps;
  }

  summary(): { ratio: number; count: number; listed: LrJump[] } {
    return {
      ratio: LR_JUMP_RATIO,
      count: this.count,
      listed: this.jumps.slice(0, LISTED_LR_JUMPS).map(({ index: _, ...j }) => j),
    };
  }
}
