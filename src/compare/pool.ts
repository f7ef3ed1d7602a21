import { Worker } from "node:worker_threads";
import { type ErrorCode, PedigreeError } from "../errors.js";
import { defaultThreads } from "../fingerprint/pool.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { workerEntry } from "../workers/entry.js";
import { type CompareOptions, compareFingerprints } from "./index.js";
import type { CompareReply, CompareRequest } from "./pool-worker.js";
import type { CompareResult } from "./types.js";

/**
 * Comparisons on worker threads, for callers with several independent pairs (registry identify and
 * verify). A comparison is a pure function of two fingerprints, so a pooled result equals the inline
 * one bit for bit; fingerprints are copied to the worker (structured clone), results copied back.
 * Workers start when the pool is created, so their start-up overlaps the caller's own work.
 */
export interface ComparePool {
  readonly threads: number;
  compare(a: Fingerprint, b: Fingerprint, opts?: CompareOptions): Promise<CompareResult>;
  close(): Promise<void>;
}

/** threads = 0 compares on the calling thread. */
export function createComparePool(threads: number = defaultThreads()): ComparePool {
  if (threads === 0)
    return { threads, compare: async (a, b, opts) => compareFingerprints(a, b, opts), close: async () => {} };
  return new WorkerComparePool(threads);
}

interface Job {
  req: CompareRequest;
  resolve: (r: CompareResult) => void;
  reject: (e: unknown) => void;
}

class WorkerComparePool implements ComparePool {
  private readonly idle: Worker[] = [];
  private readonly running = new Map<Worker, Job>();
  private readonly queue: Job[] = [];
  /** Workers that failed (an "error" is followed by an "exit": handled once). */
  private readonly dead = new Set<Worker>();
  private nextId = 1;
  private closed = false;

  constructor(readonly threads: number) {
    for (let i = 0; i < threads; i++) this.idle.push(this.spawn());
  }

  private spawn(): Worker {
    const { url, options } = workerEntry(import.meta.url, "pool-worker");
    const w = new Worker(url, options);
    w.on("message", (m: CompareReply) => this.onReply(w, m));
    w.on("error", (e) => this.onFailure(w, e));
    w.on("exit", (code) => {
      if (!this.closed)
        this.onFailure(
          w,
          new PedigreeError("INTERNAL_WORKER_FAILED", `compare worker exited with code ${code}`),
        );
    });
    return w;
  }

  compare(a: Fingerprint, b: Fingerprint, opts: CompareOptions = {}): Promise<CompareResult> {
    if (this.closed)
      return Promise.reject(new PedigreeError("INTERNAL_WORKER_FAILED", "compare pool is closed"));
    return new Promise((resolve, reject) => {
      this.queue.push({ req: { id: this.nextId++, a, b, opts }, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop() as Worker;
      const job = this.queue.shift() as Job;
      this.running.set(w, job);
      w.postMessage(job.req);
    }
  }

  private onReply(w: Worker, m: CompareReply): void {
    const job = this.running.get(w);
    this.running.delete(w);
    this.idle.push(w);
    if (job?.req.id === m.id) {
      if (m.ok) job.resolve(m.result);
      else if (m.code)
        job.reject(
          new PedigreeError(m.code as ErrorCode, m.message, {
            details: (m.details ?? {}) as Record<string, unknown>,
            ...(m.hint ? { hint: m.hint } : {}),
          }),
        );
      else job.reject(new PedigreeError("INTERNAL_WORKER_FAILED", `a comparison failed: ${m.message}`));
    }
    this.dispatch();
  }

  /** A worker that died takes its comparison with it; the others go on, and a new worker replaces it. */
  private onFailure(w: Worker, e: unknown): void {
    if (this.dead.has(w)) return;
    this.dead.add(w);
    const idle = this.idle.indexOf(w);
    if (idle >= 0) this.idle.splice(idle, 1);
    const job = this.running.get(w);
    this.running.delete(w);
    job?.reject(
      new PedigreeError("INTERNAL_WORKER_FAILED", `a compare worker failed: ${(e as Error)?.message ?? e}`, {
        cause: e,
      }),
    );
    if (this.closed) return;
    void w.terminate();
    this.idle.push(this.spawn());
    this.dispatch();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0))
      job.reject(new PedigreeError("INTERNAL_WORKER_FAILED", "compare pool closed"));
    await Promise.all([...this.idle, ...this.running.keys()].map((w) => w.terminate()));
  }
}
