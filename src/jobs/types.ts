/**
 * One job interface (DESIGN §8): the in-process runner (`MemoryJobQueue`) and a PostgreSQL queue
 * implement it alike, so the server, the CLI and tests never know which one runs their work.
 */

export type JobState = "queued" | "running" | "succeeded" | "failed" | "cancelled";

/** A failure as stored with the job: the PedigreeError's code, message and hint (never a stack). */
export interface JobError {
  code: string;
  message: string;
  hint: string | null;
}

export interface JobProgress {
  done: number;
  total: number;
  /** What is being done, e.g. "fingerprint" or "verify". */
  phase: string;
}

export interface Job<P = unknown, R = unknown> {
  id: string;
  kind: string;
  payload: P;
  /** Idempotency key: enqueueing the same kind and key again returns this job. */
  key: string | null;
  /** Who queued it (a token id or client address), for per-client limits; null when not said. */
  owner: string | null;
  state: JobState;
  progress: JobProgress | null;
  result: R | null;
  error: JobError | null;
  /** How many times it was started (retry starts it again). */
  attempts: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** What subscribers hear: every state change and every progress update, with the job as it is now. */
export interface JobEvent {
  type: "state" | "progress";
  job: Job;
}

export type JobListener = (event: JobEvent) => void;

export interface JobFilter {
  kind?: string;
  state?: JobState;
  owner?: string;
  /** Newest first; default and maximum are the queue's. */
  limit?: number;
}

/** What a handler gets: its payload, a signal that fires on cancel, and a progress reporter. */
export interface JobContext<P = unknown> {
  id: string;
  payload: P;
  signal: AbortSignal;
  progress(done: number, total: number, phase: string): void;
}

export type JobHandler<P = unknown, R = unknown> = (ctx: JobContext<P>) => Promise<R>;

export interface EnqueueOptions {
  key?: string;
  owner?: string;
}

export interface BatchEntry extends EnqueueOptions {
  payload: unknown;
}

export interface JobQueue {
  /** Queues a job (or returns the existing one with the same kind and key) and gives its id. */
  enqueue(kind: string, payload: unknown, opts?: EnqueueOptions): Promise<string>;
  /**
   * Queues many jobs of one kind at once (one transaction on PostgreSQL: thousands a second), each
   * as `enqueue` would; gives their ids in order, with `created` false for keys already queued.
   */
  enqueueMany(kind: string, entries: readonly BatchEntry[]): Promise<{ id: string; created: boolean }[]>;
  get(id: string): Promise<Job | null>;
  list(filter?: JobFilter): Promise<Job[]>;
  /** Queued jobs never start; running ones see their signal abort. Finished jobs are left as they are. */
  cancel(id: string): Promise<Job>;
  /** Starts a failed or cancelled job again, same id, attempts + 1. */
  retry(id: string): Promise<Job>;
  /** `id` "*" hears every job. Returns the unsubscribe function. */
  subscribe(id: string, listener: JobListener): () => void;
  /** Stops taking work, aborts running jobs and waits for them to settle. */
  close(): Promise<void>;
}

export const FINISHED: readonly JobState[] = ["succeeded", "failed", "cancelled"];
