import { Worker } from "node:worker_threads";
import { type ErrorCode, PedigreeError } from "../errors.js";
import { defaultThreads } from "../fingerprint/pool.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { workerEntry } from "../workers/entry.js";
import { featureSpace } from "./features.js";
import {
  type CompareOptions,
  compareFingerprints,
  independentParts,
  type Precomputed,
  sketchesReadable,
} from "./index.js";
import { type LayerJob, layerJob, runLayerJob } from "./layer-jobs.js";
import type { LayerPairResult } from "./layers.js";
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
  /** Diagonal layer tests of a comparison (compareOnPool). */
  layerPairs(job: LayerJob): Promise<(LayerPairResult | null)[]>;
  close(): Promise<void>;
}

/** threads = 0 compares on the calling thread. */
export function createComparePool(threads: number = defaultThreads()): ComparePool {
  if (threads === 0)
    return {
      threads,
      compare: async (a, b, opts) => compareFingerprints(a, b, opts),
      layerPairs: async (job) => runLayerJob(job),
      close: async () => {},
    };
  return new WorkerComparePool(threads);
}

/**
 * One comparison with its layers spread over the pool's threads. The diagonal layer tests (A layer i
 * ↔ B layer i, which alignLayers runs first and which, for models of the same depth related layer by
 * layer, are all of its work) go out at once, one job per thread with every threads-th layer, and
 * while they run this thread does the parts that do not depend on them (identity, E2). The result
 * equals compareFingerprints(a, b, opts) bit for bit, as each part is a pure function of the two
 * fingerprints; if a part fails, compareFingerprints computes it again itself, so its checks and
 * errors come in their usual order.
 */
export async function compareOnPool(
  pool: ComparePool,
  a: Fingerprint,
  b: Fingerprint,
  opts: CompareOptions = {},
): Promise<CompareResult> {
  if (pool.threads === 0 || !sketchesReadable(a) || !sketchesReadable(b))
    return compareFingerprints(a, b, opts);
  const space = featureSpace(a.sketches, b.sketches);
  const depth = a.sketches.layers.length;
  const jobs =
    depth === b.sketches.layers.length
      ? Array.from({ length: Math.min(pool.threads, depth) }, (_, t) => {
          const indices = a.sketches.layers.map((_, i) => i).filter((i) => i % pool.threads === t);
          return pool.layerPairs(layerJob(a.sketches, b.sketches, indices, space));
        })
      : [];
  let pre: Precomputed = {};
  try {
    pre = independentParts(a, b, space);
  } catch {
    // compareFingerprints meets the same error again, in its own order.
  }
  const parts = await Promise.all(jobs).catch(() => null);
  if (parts && parts.length > 0) {
    const diagonal: (LayerPairResult | null)[] = new Array(depth).fill(null);
    for (const part of parts) for (const r of part) if (r) diagonal[r.a] = r;
    pre.diagonal = diagonal;
  }
  return compareFingerprints(a, b, opts, pre);
}

interface Job {
  req: CompareRequest;
  resolve: (r: never) => void;
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
    return this.submit({ id: this.nextId++, kind: "compare", a, b, opts });
  }

  layerPairs(job: LayerJob): Promise<(LayerPairResult | null)[]> {
    return this.submit({ id: this.nextId++, kind: "layer", job });
  }

  /** The reply's result is of the request's kind (pool-worker.ts answers each kind with its own). */
  private submit<T>(req: CompareRequest): Promise<T> {
    if (this.closed)
      return Promise.reject(new PedigreeError("INTERNAL_WORKER_FAILED", "compare pool is closed"));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ req, resolve: resolve as (r: never) => void, reject });
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
      if (m.ok) job.resolve(m.result as never);
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
