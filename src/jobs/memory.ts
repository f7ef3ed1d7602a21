import { randomUUID } from "node:crypto";
import { PedigreeError, toPedigreeError } from "../errors.js";
import {
  type BatchEntry,
  type EnqueueOptions,
  FINISHED,
  type Job,
  type JobError,
  type JobFilter,
  type JobHandler,
  type JobListener,
  type JobQueue,
} from "./types.js";

/** Jobs run at once by default: fingerprinting is CPU- and network-heavy, two keep a small host usable. */
export const DEFAULT_CONCURRENCY = 2;
/** Finished jobs kept in memory; the oldest are forgotten first so a long-running server stays bounded. */
export const MAX_KEPT_JOBS = 1000;
/** Queued jobs beyond this are refused: a client looping on POST must not grow memory without end. */
export const MAX_QUEUED_JOBS = 500;
export const LIST_LIMIT = 200;

export interface MemoryQueueOptions {
  concurrency?: number;
  handlers: Record<string, JobHandler>;
}

/**
 * The in-process runner behind `pedigree serve` on SQLite: jobs live in memory (a restart forgets
 * them), at most `concurrency` run at once, in the order they were queued.
 */
export class MemoryJobQueue implements JobQueue {
  private readonly jobs = new Map<string, Job>();
  private readonly byKey = new Map<string, string>();
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private readonly pending: string[] = [];
  private readonly listeners = new Map<string, Set<JobListener>>();
  private readonly concurrency: number;
  private closed = false;

  constructor(private readonly opts: MemoryQueueOptions) {
    this.concurrency = Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY);
  }

  async enqueue(kind: string, payload: unknown, opts: EnqueueOptions = {}): Promise<string> {
    if (!this.opts.handlers[kind])
      throw new PedigreeError("JOB_UNKNOWN_KIND", `No handler for job kind "${kind}"`, {
        details: { kind, known: Object.keys(this.opts.handlers) },
        hint: `Use one of: ${Object.keys(this.opts.handlers).join(", ")}`,
      });
    const keyId = opts.key === undefined ? undefined : `${kind}\u0000${opts.key}`;
    const existing = keyId === undefined ? undefined : this.byKey.get(keyId);
    if (existing && this.jobs.has(existing)) return existing;
    if (this.closed || this.pending.length >= MAX_QUEUED_JOBS)
      throw new PedigreeError("JOB_QUEUE_FULL", "The job queue is not taking more work now", {
        details: { queued: this.pending.length, max: MAX_QUEUED_JOBS },
        hint: "Wait for queued jobs to finish, then try again",
      });
    const job: Job = {
      id: randomUUID(),
      kind,
      payload,
      key: opts.key ?? null,
      owner: opts.owner ?? null,
      state: "queued",
      progress: null,
      result: null,
      error: null,
      attempts: 0,
      createdAt: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
    };
    this.jobs.set(job.id, job);
    if (keyId !== undefined) this.byKey.set(keyId, job.id);
    this.pending.push(job.id);
    this.emit(job, "state");
    this.forgetOld();
    this.pump();
    return job.id;
  }

  async enqueueMany(
    kind: string,
    entries: readonly BatchEntry[],
  ): Promise<{ id: string; created: boolean }[]> {
    const out: { id: string; created: boolean }[] = [];
    for (const { payload, ...opts } of entries) {
      const before = this.jobs.size;
      const id = await this.enqueue(kind, payload, opts);
      out.push({ id, created: this.jobs.size > before || !this.jobs.has(id) });
    }
    return out;
  }

  async get(id: string): Promise<Job | null> {
    const job = this.jobs.get(id);
    return job ? snapshot(job) : null;
  }

  async list(filter: JobFilter = {}): Promise<Job[]> {
    const limit = Math.min(Math.max(1, filter.limit ?? LIST_LIMIT), LIST_LIMIT);
    return [...this.jobs.values()]
      .filter(
        (j) =>
          (!filter.kind || j.kind === filter.kind) &&
          (!filter.state || j.state === filter.state) &&
          (!filter.owner || j.owner === filter.owner),
      )
      .reverse()
      .slice(0, limit)
      .map(snapshot);
  }

  async cancel(id: string): Promise<Job> {
    const job = this.must(id);
    if (job.state === "queued") {
      this.pending.splice(this.pending.indexOf(id), 1);
      this.finish(job, "cancelled", null, cancelledError());
    } else if (job.state === "running") this.running.get(id)?.abort.abort();
    return snapshot(job);
  }

  async retry(id: string): Promise<Job> {
    const job = this.must(id);
    if (job.state !== "failed" && job.state !== "cancelled")
      throw new PedigreeError(
        "JOB_NOT_RETRYABLE",
        `Job ${id} is ${job.state}; only failed or cancelled jobs are retried`,
        {
          details: { id, state: job.state },
          hint: "Wait for the job to finish, or cancel it first",
        },
      );
    Object.assign(job, { state: "queued", error: null, result: null, progress: null, finishedAt: null });
    this.pending.push(id);
    this.emit(job, "state");
    this.pump();
    return snapshot(job);
  }

  subscribe(id: string, listener: JobListener): () => void {
    const set = this.listeners.get(id) ?? new Set<JobListener>();
    this.listeners.set(id, set);
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(id);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const id of this.pending.splice(0)) {
      const job = this.jobs.get(id);
      if (job) this.finish(job, "cancelled", null, cancelledError());
    }
    for (const r of this.running.values()) r.abort.abort();
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  private must(id: string): Job {
    const job = this.jobs.get(id);
    if (!job)
      throw new PedigreeError("JOB_NOT_FOUND", `No job with id ${id}`, {
        details: { id },
        hint: "List jobs with GET /api/jobs; finished jobs are forgotten when the server restarts",
      });
    return job;
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.concurrency && this.pending.length > 0) {
      const job = this.jobs.get(this.pending.shift() as string);
      if (job) this.start(job);
    }
  }

  private start(job: Job): void {
    const abort = new AbortController();
    const handler = this.opts.handlers[job.kind] as JobHandler;
    Object.assign(job, { state: "running", startedAt: new Date().toISOString(), attempts: job.attempts + 1 });
    this.emit(job, "state");
    const progress = (done: number, total: number, phase: string) => {
      if (job.state !== "running") return;
      job.progress = { done, total, phase };
      this.emit(job, "progress");
    };
    const done = (async () => {
      try {
        const result = await handler({ id: job.id, payload: job.payload, signal: abort.signal, progress });
        if (abort.signal.aborted) this.finish(job, "cancelled", null, cancelledError());
        else this.finish(job, "succeeded", result, null);
      } catch (e) {
        if (abort.signal.aborted) this.finish(job, "cancelled", null, cancelledError());
        else this.finish(job, "failed", null, jobError(e));
      } finally {
        this.running.delete(job.id);
        this.pump();
      }
    })();
    this.running.set(job.id, { abort, done });
  }

  private finish(job: Job, state: Job["state"], result: unknown, error: JobError | null): void {
    Object.assign(job, { state, result, error, finishedAt: new Date().toISOString() });
    this.emit(job, "state");
  }

  private emit(job: Job, type: "state" | "progress"): void {
    const event = { type, job: snapshot(job) };
    for (const key of [job.id, "*"])
      for (const l of this.listeners.get(key) ?? []) {
        try {
          l(event);
        } catch {
          // A listener that throws (a closed SSE stream) must not stop the job or other listeners.
        }
      }
  }

  private forgetOld(): void {
    if (this.jobs.size <= MAX_KEPT_JOBS) return;
    for (const [id, job] of this.jobs) {
      if (this.jobs.size <= MAX_KEPT_JOBS) break;
      if (!FINISHED.includes(job.state)) continue;
      this.jobs.delete(id);
      if (job.key !== null) this.byKey.delete(`${job.kind}\u0000${job.key}`);
    }
  }
}

function snapshot(job: Job): Job {
  return { ...job, progress: job.progress ? { ...job.progress } : null };
}

function cancelledError(): JobError {
  return { code: "JOB_CANCELLED", message: "The job was cancelled", hint: "Retry it to run it again" };
}

/** Only the coded fields are kept: a stack or an internal cause must not reach API clients. */
export function jobError(e: unknown): JobError {
  const err = toPedigreeError(e);
  return { code: err.code, message: err.message, hint: err.hint ?? null };
}
