import type pg from "pg";
import { PedigreeError } from "../errors.js";
import { FINISHED, type Job, type JobError, type JobState } from "./types.js";

/** pg-boss's schema (delivery state) and ours (what the job interface adds, and API tokens). */
export const QUEUE_SCHEMA = "pedigree_queue";
export const SERVER_SCHEMA = "pedigree_server";
/** Serialises creating our tables when several processes start at once. */
const DDL_LOCK = 0x7065_6471;

export interface Row {
  id: string;
  kind: string;
  key: string | null;
  owner: string | null;
  own_state: JobState;
  boss_state: string | null;
  payload: unknown;
  progress: Job["progress"];
  result: unknown;
  error: JobError | null;
  attempts: number;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

/**
 * The state a client sees: pg-boss's delivery state where it decides (a job waiting for its retry is
 * queued, a job failed by the supervisor after its lease ran out is failed), else the row's own.
 */
export const DERIVED_STATE = `case b.state::text
    when 'created' then 'queued'
    when 'retry' then 'queued'
    when 'active' then 'running'
    when 'completed' then 'succeeded'
    when 'failed' then 'failed'
    when 'cancelled' then 'cancelled'
    else j.state end`;

export function toJob(r: Row & { state: JobState }): Job {
  const lost = r.state === "failed" && r.error === null;
  return {
    id: r.id,
    kind: r.kind,
    payload: r.payload ?? null,
    key: r.key,
    owner: r.owner,
    state: r.state,
    progress: r.progress ?? null,
    result: r.state === "succeeded" ? (r.result ?? null) : null,
    error: lost
      ? {
          code: "JOB_WORKER_LOST",
          message: "The worker running the job stopped answering and no attempts were left",
          hint: "Retry the job",
        }
      : r.state === "succeeded" || r.state === "queued"
        ? null
        : r.error,
    attempts: r.attempts,
    createdAt: r.created_at.toISOString(),
    startedAt: r.started_at?.toISOString() ?? null,
    finishedAt: FINISHED.includes(r.state) ? (r.finished_at?.toISOString() ?? null) : null,
  };
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function cancelledError(): JobError {
  return { code: "JOB_CANCELLED", message: "The job was cancelled", hint: "Retry it to run it again" };
}

export async function createTables(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    await client.query("select pg_advisory_xact_lock($1)", [DDL_LOCK]);
    await client.query(`create schema if not exists ${SERVER_SCHEMA}`);
    await client.query(`create table if not exists ${SERVER_SCHEMA}.jobs (
      id uuid primary key, kind text not null, key text, owner text, state text not null,
      progress jsonb, result jsonb, error jsonb, attempts integer not null default 0,
      created_at timestamptz not null default now(), started_at timestamptz, finished_at timestamptz,
      unique (kind, key))`);
    await client.query(`create index if not exists jobs_created on ${SERVER_SCHEMA}.jobs (created_at desc)`);
    await client.query("commit");
  } catch (e) {
    await client.query("rollback").catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

export function ignoreExists(e: unknown): void {
  if (!/already exists/i.test(e instanceof Error ? e.message : String(e))) throw e;
}

export function connectError(e: unknown, url: string): unknown {
  if (e instanceof PedigreeError) return e;
  const where = url.replace(/:[^:@/]*@/, ":***@");
  return new PedigreeError(
    "REGISTRY_CONNECT_FAILED",
    `Cannot open the job queue on ${where}: ${String((e as Error)?.message ?? e)}`,
    {
      details: { db: where },
      hint: "Check the PostgreSQL URL, that the server runs, and the credentials",
      cause: e,
    },
  );
}
