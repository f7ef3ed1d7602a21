/**
 * Time limits of one HTTP attempt, enforced through one AbortSignal:
 * - idle: nothing (headers or body bytes) arrived for `idleMs` — a stall, worth one more try;
 * - slow: once the body flows, fewer than `minBytesPerSecond` arrived over a `rateWindowMs`
 *   window — a drip that resets any idle timer (1 byte every 5 s) but can never finish;
 * - deadline: the operation this attempt belongs to ran out of time.
 */

export type StopReason = "idle" | "slow" | "deadline";

export interface WatchdogLimits {
  idleMs: number;
  minBytesPerSecond: number;
  rateWindowMs: number;
  /** Epoch ms at which the whole operation must be over. */
  deadlineAt: number;
}

export class Watchdog {
  private readonly ctrl = new AbortController();
  private readonly idle: NodeJS.Timeout;
  private readonly deadline: NodeJS.Timeout;
  private rate: NodeJS.Timeout | null = null;
  private windowBytes = 0;
  reason: StopReason | null = null;

  constructor(private readonly limits: WatchdogLimits) {
    this.idle = setTimeout(() => this.fire("idle"), limits.idleMs);
    this.deadline = setTimeout(() => this.fire("deadline"), Math.max(0, limits.deadlineAt - Date.now()));
  }

  get signal(): AbortSignal {
    return this.ctrl.signal;
  }

  /** Headers arrived: from now on the body must keep the minimum rate. */
  startBody(): void {
    this.idle.refresh();
    if (this.rate || this.limits.minBytesPerSecond <= 0) return;
    const need = (this.limits.minBytesPerSecond * this.limits.rateWindowMs) / 1000;
    this.rate = setInterval(() => {
      // A window without any byte is a stall, which the idle timer reports (and retries).
      if (this.windowBytes > 0 && this.windowBytes < need) this.fire("slow");
      this.windowBytes = 0;
    }, this.limits.rateWindowMs);
  }

  /** Body bytes arrived. */
  kick(n: number): void {
    this.windowBytes += n;
    this.idle.refresh();
  }

  stop(): void {
    clearTimeout(this.idle);
    clearTimeout(this.deadline);
    if (this.rate) clearInterval(this.rate);
  }

  private fire(reason: StopReason): void {
    if (this.reason) return;
    this.reason = reason;
    this.stop();
    this.ctrl.abort(new Error(`HTTP attempt stopped: ${reason}`));
  }
}
