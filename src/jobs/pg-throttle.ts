import type { Job } from "./types.js";

/** Progress writes per job per second at most: each is an UPDATE and a NOTIFY. */
const PROGRESS_EVERY_MS = 250;

/** Coalesces progress updates to one write per PROGRESS_EVERY_MS; `flush` writes the last one. */
export class ProgressWriter {
  private pending: NonNullable<Job["progress"]> | null = null;
  private last = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly write: (p: NonNullable<Job["progress"]>) => Promise<void>) {}

  push(p: NonNullable<Job["progress"]>): void {
    this.pending = p;
    const now = Date.now();
    if (now - this.last >= PROGRESS_EVERY_MS) {
      this.last = now;
      this.drain();
    }
  }

  async flush(): Promise<void> {
    this.drain();
    await this.chain;
  }

  private drain(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    // Failures to store progress are not the job's failure: the next update or the result wins.
    this.chain = this.chain.then(() => this.write(p)).catch(() => undefined);
  }
}

/** At most `n` holders at once, first come first served. */
export class Semaphore {
  private readonly waiting: (() => void)[] = [];
  private free: number;

  constructor(n: number) {
    this.free = n;
  }

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}
