import { randomUUID } from "node:crypto";
import pg from "pg";
import { PgBoss } from "pg-boss";
import { PedigreeError } from "../errors.js";
import { JOB_KINDS } from "./handlers.js";
import { jobError } from "./memory.js";
import {
  cancelledError,
  connectError,
  createTables,
  DERIVED_STATE,
  ignoreExists,
  QUEUE_SCHEMA,
  type Row,
  SERVER_SCHEMA,
  toJob,
  UUID,
} from "./pg-rows.js";
import { ProgressWriter, Semaphore } from "./pg-throttle.js";
import { isTransientError, MAX_ATTEMPTS, RETRY_DELAY_MAX_SECONDS, RETRY_DELAY_SECONDS } from "./retry.js";
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
  type JobState,
} from "./types.js";

/**
 * The job queue of team mode, on the registry's own PostgreSQL database, built on pg-boss.
 *
 * Why pg-boss (over graphile-worker): it gives each running job a heartbeat-kept lease (a worker that
 * dies loses it and the job runs again elsewhere), a per-job AbortSignal that fires when the job is
 * cancelled or its lease is lost, capped exponential back-off, and per-job terminal failure
 * (`deadletter`) so input errors are never retried; graphile-worker only frees a crashed worker's
 * jobs after a fixed 4-hour lock timeout. Both need Node 22 by their `engines`; pg-boss 12 runs on
 * Node 20 as tested here (the project's floor), so the pin is exact and its tests guard upgrades.
 *
 * pg-boss keeps delivery state (queued, active, retry, completed, failed, cancelled) in its schema
 * `pedigree_queue`; what the job interface adds (owner, idempotency key, attempts, progress, the
 * result or coded error) lives in `pedigree_server.jobs`, keyed by the same id. Progress and state
 * changes are announced with NOTIFY on `pedigree_jobs`, which `subscribe` LISTENs to.
 */

const CHANNEL = "pedigree_jobs";
/** Seconds a running job may go without a heartbeat before its lease is lost (pg-boss minimum 10). */
export const DEFAULT_LEASE_SECONDS = 30;
export const MIN_LEASE_SECONDS = 10;
/** A job's whole run may take this long (a 400B model over a slow link); the lease catches dead workers. */
const MAX_RUN_SECONDS = 24 * 3600;
/** While someone watches a job, its state is also polled this often: the supervisor fails lost jobs silently. */
const WATCH_POLL_MS = 2000;
export const LIST_LIMIT = 200;
/** Idle workers look for due retries this often (s); new jobs wake them at once through NOTIFY. */
const DEFAULT_POLL_SECONDS = 1;
/** Our own statements need few connections; pg-boss keeps its own pool. */
const POOL_SIZE = 4;

export interface PgQueueOptions {
  url: string;
  /** Heartbeat lease of the jobs this process enqueues (s, ≥ 10). */
  leaseSeconds?: number;
  /** How often this process looks for jobs whose lease ran out (s); default a quarter of the lease. */
  superviseSeconds?: number;
  /** How often idle workers poll when no NOTIFY woke them (s). */
  pollSeconds?: number;
  /** Attempts per job in all (transient failures only). */
  maxAttempts?: number;
  /** Retry delay base and cap (s); tests shorten them. */
  retryDelaySeconds?: number;
  retryDelayMaxSeconds?: number;
  /**
   * Background failures of the queue (a heartbeat or poll that could not reach the database; pg-boss
   * retries them itself). Default: dropped, so a library user's process is not ended by one.
   */
  onError?: (e: Error) => void;
}

export interface WorkOptions {
  handlers: Partial<Record<string, JobHandler>>;
  /** Jobs run at once by this process, over all its queues. */
  concurrency: number;
  /** Job kinds this process takes; default every kind it has a handler for. */
  kinds?: readonly string[];
}

export class PgJobQueue implements JobQueue {
  private readonly listeners = new Map<string, Set<JobListener>>();
  private listener: pg.Client | null = null;
  private listening: Promise<void> | null = null;
  private watchTimer: NodeJS.Timeout | null = null;
  private readonly lastState = new Map<string, JobState>();
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;
  private readonly lease: number;
  private readonly maxAttempts: number;

  private constructor(
    private readonly boss: PgBoss,
    private readonly pool: pg.Pool,
    private readonly opts: PgQueueOptions,
  ) {
    this.lease = Math.max(MIN_LEASE_SECONDS, Math.round(opts.leaseSeconds ?? DEFAULT_LEASE_SECONDS));
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? MAX_ATTEMPTS);
  }

  /** Connects, installs or migrates pg-boss's schema and ours (both idempotent), creates the queues. */
  static async open(opts: PgQueueOptions): Promise<PgJobQueue> {
    const lease = Math.max(MIN_LEASE_SECONDS, opts.leaseSeconds ?? DEFAULT_LEASE_SECONDS);
    const supervise = Math.max(1, Math.round(opts.superviseSeconds ?? lease / 4));
    const pool = new pg.Pool({ connectionString: opts.url, max: POOL_SIZE });
    // An idle connection the server ends must not end the process (see registry/db.ts).
    pool.on("error", () => {});
    const boss = new PgBoss({
      connectionString: opts.url,
      schema: QUEUE_SCHEMA,
      max: POOL_SIZE,
      useListenNotify: true,
      // Lost leases are failed (and retried) by the supervisor's monitor pass, which runs per queue
      // at most every monitorIntervalSeconds (default 60): both follow the lease.
      superviseIntervalSeconds: supervise,
      monitorIntervalSeconds: supervise,
    });
    // pg-boss reports background failures (a dropped connection it will retry) as events; without a
    // listener Node would end the process on the first one.
    boss.on("error", (e: Error) => opts.onError?.(e));
    try {
      await boss.start();
      await createTables(pool);
      const existing = new Set((await boss.getQueues()).map((q) => q.name));
      for (const kind of JOB_KINDS)
        if (!existing.has(kind)) await boss.createQueue(kind, { notify: true }).catch(ignoreExists);
    } catch (e) {
      await boss.stop({ graceful: false }).catch(() => undefined);
      await pool.end().catch(() => undefined);
      throw connectError(e, opts.url);
    }
    return new PgJobQueue(boss, pool, opts);
  }

  async enqueue(kind: string, payload: unknown, opts: EnqueueOptions = {}): Promise<string> {
    const [r] = await this.enqueueMany(kind, [{ payload, ...opts }]);
    if (!r) throw new PedigreeError("INTERNAL_UNEXPECTED", "enqueueMany returned no id");
    return r.id;
  }

  async enqueueMany(
    kind: string,
    entries: readonly BatchEntry[],
  ): Promise<{ id: string; created: boolean }[]> {
    if (!(JOB_KINDS as readonly string[]).includes(kind))
      throw new PedigreeError("JOB_UNKNOWN_KIND", `No handler for job kind "${kind}"`, {
        details: { kind, known: [...JOB_KINDS] },
        hint: `Use one of: ${JOB_KINDS.join(", ")}`,
      });
    if (entries.length === 0) return [];
    const fresh = entries.map((e) => ({ ...e, id: randomUUID(), key: e.key ?? null }));
    const client = await this.pool.connect();
    try {
      await client.query("begin");
      // Rows whose key is already queued (by anyone, now or earlier) are skipped: theirs stand.
      const inserted = await client.query(
        `insert into ${SERVER_SCHEMA}.jobs (id, kind, key, owner, state)
         select id, $1, key, owner, 'queued'
         from unnest($2::uuid[], $3::text[], $4::text[]) as t(id, key, owner)
         on conflict (kind, key) do nothing returning id`,
        [kind, fresh.map((e) => e.id), fresh.map((e) => e.key), fresh.map((e) => e.owner ?? null)],
      );
      const created = new Set((inserted.rows as { id: string }[]).map((r) => r.id));
      const jobs = fresh.filter((e) => created.has(e.id));
      // Delivered in the same transaction: a job row never exists without its delivery, nor the reverse.
      if (jobs.length)
        await this.boss.insert(
          kind,
          jobs.map((e) => ({
            id: e.id,
            data: { payload: e.payload } as object,
            retryLimit: this.maxAttempts - 1,
            retryDelay: this.opts.retryDelaySeconds ?? RETRY_DELAY_SECONDS,
            retryBackoff: true,
            retryDelayMax: this.opts.retryDelayMaxSeconds ?? RETRY_DELAY_MAX_SECONDS,
            heartbeatSeconds: this.lease,
            expireInSeconds: MAX_RUN_SECONDS,
          })),
          { db: { executeSql: (text: string, values?: unknown[]) => client.query(text, values) } },
        );
      const keys = fresh.filter((e) => !created.has(e.id) && e.key !== null).map((e) => e.key as string);
      const existing = new Map<string, string>();
      if (keys.length) {
        const r = await client.query(
          `select key, id from ${SERVER_SCHEMA}.jobs where kind = $1 and key = any($2)`,
          [kind, keys],
        );
        for (const row of r.rows as { key: string; id: string }[]) existing.set(row.key, row.id);
      }
      // One announcement per new job (delivered at commit), so a live jobs page shows each.
      if (jobs.length)
        await client.query("select pg_notify($1, id::text || ':state') from unnest($2::uuid[]) as t(id)", [
          CHANNEL,
          jobs.map((e) => e.id),
        ]);
      await client.query("commit");
      // Within one call a key given twice maps to the first entry's job.
      const firstOfKey = new Map<string, string>();
      return fresh.map((e) => {
        if (created.has(e.id)) {
          if (e.key !== null) firstOfKey.set(e.key, e.id);
          return { id: e.id, created: true };
        }
        const id = (e.key !== null && (existing.get(e.key) ?? firstOfKey.get(e.key))) || null;
        if (!id)
          throw new PedigreeError("INTERNAL_UNEXPECTED", `Job key ${e.key} vanished while being queued`);
        return { id, created: false };
      });
    } catch (e) {
      await client.query("rollback").catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  async get(id: string): Promise<Job | null> {
    if (!UUID.test(id)) return null;
    const rows = await this.select("where j.id = $1", [id]);
    return rows[0] ?? null;
  }

  async list(filter: JobFilter = {}): Promise<Job[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (filter.kind) where.push(`j.kind = $${values.push(filter.kind)}`);
    if (filter.owner) where.push(`j.owner = $${values.push(filter.owner)}`);
    const limit = Math.min(Math.max(1, filter.limit ?? LIST_LIMIT), LIST_LIMIT);
    // State is derived (pg-boss's delivery state first), so it is filtered after the join.
    const state = filter.state ? `where s.state = $${values.push(filter.state)}` : "";
    const sql = `${where.length ? `where ${where.join(" and ")}` : ""} order by j.created_at desc`;
    const inner = this.selectSql(sql);
    const r = await this.pool.query(
      `select * from (${inner}) s ${state} order by s.created_at desc limit ${limit}`,
      values,
    );
    return r.rows.map((row) => toJob(row as Row & { state: JobState }));
  }

  /** The state of each of `ids` (one query, for following a large batch). */
  async states(ids: readonly string[]): Promise<Map<string, JobState>> {
    const r = await this.pool.query(
      `select s.id, s.state from (${this.selectSql("where j.id = any($1::uuid[])")}) s`,
      [ids],
    );
    return new Map((r.rows as { id: string; state: JobState }[]).map((x) => [x.id, x.state]));
  }

  async cancel(id: string): Promise<Job> {
    const job = await this.must(id);
    if (job.state === "queued" || job.state === "running") {
      await this.boss.cancel(job.kind, id);
      // The worker running it sees its lease gone at the next heartbeat and aborts the handler.
      await this.setOwnState(id, "cancelled", { error: cancelledError() });
    }
    return (await this.get(id)) ?? job;
  }

  async retry(id: string): Promise<Job> {
    const job = await this.must(id);
    if (job.state !== "failed" && job.state !== "cancelled")
      throw new PedigreeError(
        "JOB_NOT_RETRYABLE",
        `Job ${id} is ${job.state}; only failed or cancelled jobs are retried`,
        { details: { id, state: job.state }, hint: "Wait for the job to finish, or cancel it first" },
      );
    if (job.state === "failed") await this.boss.retry(job.kind, id);
    else await this.boss.resume(job.kind, id);
    await this.pool.query(
      `update ${SERVER_SCHEMA}.jobs set state = 'queued', error = null, result = null, progress = null,
         finished_at = null where id = $1`,
      [id],
    );
    await this.notify(id, "state");
    return (await this.get(id)) ?? job;
  }

  subscribe(id: string, listener: JobListener): () => void {
    const set = this.listeners.get(id) ?? new Set<JobListener>();
    this.listeners.set(id, set);
    set.add(listener);
    this.listening ??= this.listen().catch(() => {
      this.listening = null;
    });
    this.watchTimer ??= setInterval(() => void this.pollWatched(), WATCH_POLL_MS);
    this.watchTimer.unref();
    return () => {
      set.delete(listener);
      if (set.size === 0) {
        this.listeners.delete(id);
        this.lastState.delete(id);
      }
    };
  }

  /**
   * Takes jobs of `kinds` and runs them with `handlers`, at most `concurrency` at once in this
   * process. Returns once the workers are registered; `close` stops them.
   */
  async work(o: WorkOptions): Promise<void> {
    const kinds = o.kinds ?? Object.keys(o.handlers);
    const concurrency = Math.max(1, o.concurrency);
    const slots = new Semaphore(concurrency);
    for (const kind of kinds) {
      const handler = o.handlers[kind];
      if (!handler)
        throw new PedigreeError("JOB_UNKNOWN_KIND", `No handler for job kind "${kind}"`, {
          details: { kind, known: Object.keys(o.handlers) },
        });
      await this.boss.work(
        kind,
        {
          // One fetch loop per queue claims up to `concurrency` jobs and runs them side by side
          // (the semaphore caps the whole process). pg-boss fetches again at once after a full batch
          // and waits its poll interval after a short one, so a busy queue is drained without gaps.
          localConcurrency: 1,
          batchSize: Math.max(2, concurrency),
          burstWhenBatchFull: true,
          // Retries and lost leases are not announced by NOTIFY (only new jobs are), so the
          // notify-mode poll must be as frequent as the plain one.
          pollingIntervalSeconds: this.opts.pollSeconds ?? DEFAULT_POLL_SECONDS,
          notifyPollingIntervalSeconds: this.opts.pollSeconds ?? DEFAULT_POLL_SECONDS,
          // A cancel reaches a running handler within about a second (the heartbeat is fenced to
          // this attempt, so a cancelled or re-leased job fails it and pg-boss aborts job.signal).
          heartbeatRefreshSeconds: 1,
          perJobResults: true,
        },
        async (jobs) =>
          Promise.all(
            jobs.map(async (job) => {
              await slots.acquire();
              try {
                return await this.runOne(handler, job);
              } finally {
                slots.release();
              }
            }),
          ),
      );
    }
  }

  private async runOne(
    handler: JobHandler,
    job: { id: string; name: string; data: unknown; retryCount: number; signal: AbortSignal },
  ): Promise<{ id: string; status: "completed" | "failed" | "deadletter"; output?: object }> {
    const run = (async () => {
      await this.change(
        job.id,
        "state",
        "state = 'running', attempts = attempts + 1, started_at = now(), finished_at = null, error = null",
        [],
      );
      const progress = new ProgressWriter((p) => this.writeProgress(job.id, p));
      try {
        const payload = (job.data as { payload?: unknown } | null)?.payload;
        const result = await handler({
          id: job.id,
          payload,
          signal: job.signal,
          progress: (done, total, phase) => progress.push({ done, total, phase }),
        });
        await progress.flush();
        if (job.signal.aborted) return { id: job.id, status: "failed" as const };
        await this.setOwnState(job.id, "succeeded", { result: result ?? null });
        return { id: job.id, status: "completed" as const };
      } catch (e) {
        await progress.flush().catch(() => undefined);
        // Cancelled, or the lease was lost (another worker runs it now): this attempt no longer owns
        // the job, and pg-boss ignores its outcome; the row was already set by whoever took it.
        if (job.signal.aborted) return { id: job.id, status: "failed" as const };
        const error = jobError(e);
        const transient = isTransientError(e);
        const again = transient && job.retryCount + 1 < this.maxAttempts;
        await this.setOwnState(job.id, again ? "queued" : "failed", { error });
        // `deadletter` fails the job for good (the queue has no dead-letter queue): no retry.
        return {
          id: job.id,
          status: transient ? ("failed" as const) : ("deadletter" as const),
          output: error,
        };
      }
    })();
    this.running.add(run);
    try {
      return await run;
    } finally {
      this.running.delete(run);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.watchTimer) clearInterval(this.watchTimer);
    // Running handlers get their signal aborted; their jobs go back to the queue (retry) for others.
    await this.boss.stop({ graceful: true, timeout: 5000 }).catch(() => undefined);
    await Promise.allSettled([...this.running]);
    await this.listener?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }

  private async must(id: string): Promise<Job> {
    const job = await this.get(id);
    if (!job)
      throw new PedigreeError("JOB_NOT_FOUND", `No job with id ${id}`, {
        details: { id },
        hint: "List jobs with GET /api/jobs",
      });
    return job;
  }

  private selectSql(where: string): string {
    // pg-boss's job table (partitioned by queue name) holds the delivery state; its columns are part
    // of the pinned pg-boss version's schema.
    return `select j.id, j.kind, j.key, j.owner, j.state as own_state, b.state::text as boss_state,
        b.data -> 'payload' as payload, j.progress, j.result, j.error, j.attempts, j.created_at,
        j.started_at, j.finished_at,
        ${DERIVED_STATE} as state
      from ${SERVER_SCHEMA}.jobs j
      left join ${QUEUE_SCHEMA}.job b on b.name = j.kind and b.id = j.id
      ${where}`;
  }

  private async select(where: string, values: unknown[]): Promise<Job[]> {
    const r = await this.pool.query(this.selectSql(where), values);
    return r.rows.map((row) => toJob(row as Row & { state: JobState }));
  }

  private async setOwnState(
    id: string,
    state: JobState,
    o: { result?: unknown; error?: JobError },
  ): Promise<void> {
    const finished = FINISHED.includes(state);
    await this.change(
      id,
      "state",
      "state = $2, result = $3, error = $4, finished_at = case when $5 then now() else null end",
      [
        state,
        o.result === undefined ? null : JSON.stringify(o.result),
        o.error ? JSON.stringify(o.error) : null,
        finished,
      ],
    );
  }

  private async writeProgress(id: string, p: NonNullable<Job["progress"]>): Promise<void> {
    await this.change(id, "progress", "progress = $2", [JSON.stringify(p)]);
  }

  /** Updates a job row and announces it, in one statement (one round trip per state change). */
  private async change(
    id: string,
    type: "state" | "progress",
    set: string,
    values: unknown[],
  ): Promise<void> {
    await this.pool.query(
      `with changed as (update ${SERVER_SCHEMA}.jobs set ${set} where id = $1 returning id)
       select pg_notify('${CHANNEL}', id::text || ':${type}') from changed`,
      [id, ...values],
    );
  }

  private async notify(id: string, type: "state" | "progress"): Promise<void> {
    await this.pool.query("select pg_notify($1, $2)", [CHANNEL, `${id}:${type}`]);
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.url });
    client.on("error", () => {
      // A dropped listener is reopened by the next subscribe; the watch poll covers the gap.
      this.listener = null;
      this.listening = null;
    });
    client.on("notification", (n) => {
      const [id, type] = (n.payload ?? "").split(":");
      if (id && (type === "state" || type === "progress")) void this.deliver(id, type);
    });
    await client.connect();
    await client.query(`listen ${CHANNEL}`);
    this.listener = client;
  }

  private async deliver(id: string, type: "state" | "progress"): Promise<void> {
    if (!this.listeners.has(id) && !this.listeners.has("*")) return;
    const job = await this.get(id).catch(() => null);
    if (!job) return;
    this.lastState.set(id, job.state);
    const event = { type, job };
    for (const key of [id, "*"])
      for (const l of this.listeners.get(key) ?? []) {
        try {
          l(event);
        } catch {
          // A listener that throws (a closed SSE stream) must not stop the others.
        }
      }
  }

  /** Jobs someone watches, checked for state changes no NOTIFY announced (a lease that ran out). */
  private async pollWatched(): Promise<void> {
    for (const id of this.listeners.keys()) {
      if (id === "*") continue;
      const job = await this.get(id).catch(() => null);
      if (job && this.lastState.get(id) !== job.state) await this.deliver(id, "state");
    }
  }
}
