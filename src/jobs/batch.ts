import { PedigreeError } from "../errors.js";
import { checkHfId } from "../registry/names.js";
import type { FingerprintPayload } from "./handlers.js";
import { jobKey } from "./keys.js";
import type { PgJobQueue } from "./postgres.js";
import { FINISHED, type JobQueue, type JobState } from "./types.js";

/** Sources in one batch file: enough for a hub's day of uploads, few enough to hold their ids in memory. */
export const MAX_BATCH_SOURCES = 200_000;

export interface BatchItem extends FingerprintPayload {
  /** 1-based line (text files) or list position (JSON), for messages. */
  at: number;
}

/**
 * A batch file: one source per line (path, https:// URL or hf://org/name; blank lines and lines
 * starting with # are skipped), or a JSON list whose items are such strings or objects
 * `{source?, hf?, name?, version?, tags?, claims?}` where `hf` is a Hugging Face id ("org/name") that
 * is both fetched (when there is no `source`) and recorded with the model.
 */
export function parseBatch(text: string, file: string): BatchItem[] {
  const items = text.trimStart().startsWith("[") ? fromJson(text, file) : fromLines(text);
  if (items.length === 0)
    throw new PedigreeError("USAGE_EMPTY_BATCH", `${file} names no sources`, {
      details: { file },
      hint: "Put one source per line, or a JSON list of sources",
    });
  if (items.length > MAX_BATCH_SOURCES)
    throw new PedigreeError(
      "USAGE_LIMIT_EXCEEDED",
      `${file} names ${items.length} sources; a batch takes at most ${MAX_BATCH_SOURCES}`,
      {
        details: { file, sources: items.length, max: MAX_BATCH_SOURCES },
        hint: "Split the file",
      },
    );
  return items;
}

function fromLines(text: string): BatchItem[] {
  const out: BatchItem[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line && !line.startsWith("#")) out.push({ source: line, at: i + 1 });
  }
  return out;
}

function fromJson(text: string, file: string): BatchItem[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new PedigreeError("USAGE_INVALID_OPTION", `${file} starts like a JSON list but is not valid JSON`, {
      details: { file },
      hint: "Fix the JSON, or list one source per line",
      cause,
    });
  }
  if (!Array.isArray(parsed)) throw badItem(file, 0, "the file must hold a JSON list");
  return parsed.map((v, i) => fromJsonItem(v, file, i + 1));
}

function fromJsonItem(v: unknown, file: string, at: number): BatchItem {
  if (typeof v === "string") return { source: v, at };
  if (!v || typeof v !== "object" || Array.isArray(v))
    throw badItem(file, at, "each item is a string or an object");
  const o = v as Record<string, unknown>;
  const str = (k: string) => {
    const x = o[k];
    if (x === undefined) return undefined;
    if (typeof x !== "string" || !x) throw badItem(file, at, `"${k}" must be a non-empty string`);
    return x;
  };
  const strs = (k: string) => {
    const x = o[k];
    if (x === undefined) return undefined;
    if (!Array.isArray(x) || !x.every((t) => typeof t === "string"))
      throw badItem(file, at, `"${k}" must be a list of strings`);
    return x as string[];
  };
  const hf = str("hf") ?? str("hfId");
  const hfId = hf === undefined ? undefined : checkHfId(hf);
  const source = str("source") ?? (hfId ? `hf://${hfId}` : undefined);
  if (!source) throw badItem(file, at, 'an item needs "source" or "hf"');
  const name = str("name");
  const version = str("version");
  const tags = strs("tags");
  const claims = strs("claims");
  return {
    source,
    at,
    ...(name ? { name } : {}),
    ...(version ? { version } : {}),
    ...(hfId ? { hfId } : {}),
    ...(tags ? { tags } : {}),
    ...(claims ? { claims } : {}),
  };
}

function badItem(file: string, at: number, what: string): PedigreeError {
  return new PedigreeError("USAGE_INVALID_OPTION", `${file}${at ? ` item ${at}` : ""}: ${what}`, {
    details: { file, item: at },
    hint: 'Items look like "hf://org/name" or {"hf": "org/name", "name": "my-name"}',
  });
}

/** The job's idempotency key: the source and everything it is registered with, tool and sketch version. */
export function fingerprintKey(item: BatchItem): string {
  const { at: _at, ...payload } = item;
  return jobKey("fingerprint", payload);
}

export interface BatchOutcome {
  sources: number;
  /** Distinct jobs of the batch (a source listed twice with the same names is one job). */
  queued: number;
  /** Of those, jobs an earlier run had already queued for the same key (not queued again). */
  existing: number;
  /** Filled in when the batch was followed to the end. */
  succeeded: number;
  failed: { source: string; at: number; code: string; message: string }[];
  jobs: string[];
}

export interface BatchOptions {
  owner?: string;
  onProgress?: (phase: "enqueue" | "run", done: number, total: number) => void;
}

/** Sources queued per transaction: one round trip for many, short enough to show progress. */
const ENQUEUE_CHUNK = 500;
/** How often a followed batch's states are read. */
const BATCH_POLL_MS = 1000;

const payloadOf = ({ at: _at, ...p }: BatchItem): FingerprintPayload => p;

function emptyOutcome(sources: number): BatchOutcome {
  return { sources, queued: 0, existing: 0, succeeded: 0, failed: [], jobs: [] };
}

/**
 * Enqueues the batch on the PostgreSQL queue; with `wait`, follows it until every job has finished
 * (polling their states in one query a second).
 */
export async function enqueueBatch(
  queue: PgJobQueue,
  items: readonly BatchItem[],
  wait: boolean,
  opts: BatchOptions = {},
): Promise<BatchOutcome> {
  const out = emptyOutcome(items.length);
  const seen = new Set<string>();
  for (let i = 0; i < items.length; i += ENQUEUE_CHUNK) {
    const chunk = items.slice(i, i + ENQUEUE_CHUNK);
    const ids = await queue.enqueueMany(
      "fingerprint",
      chunk.map((item) => ({
        payload: payloadOf(item),
        key: fingerprintKey(item),
        ...(opts.owner ? { owner: opts.owner } : {}),
      })),
    );
    for (const { id, created } of ids) {
      // A key already queued by an earlier run (not by this file's own repeats) is an existing job.
      if (!created && !seen.has(id)) out.existing++;
      seen.add(id);
      out.jobs.push(id);
    }
    opts.onProgress?.("enqueue", Math.min(items.length, i + ENQUEUE_CHUNK), items.length);
  }
  out.queued = seen.size;
  if (!wait) return out;
  const unique = [...seen];
  for (;;) {
    const states = await queue.states(unique);
    const done = [...states.values()].filter((s) => FINISHED.includes(s)).length;
    opts.onProgress?.("run", done, unique.length);
    if (done >= unique.length) return finish(queue, items, out, states);
    await new Promise((r) => setTimeout(r, BATCH_POLL_MS));
  }
}

async function finish(
  queue: JobQueue,
  items: readonly BatchItem[],
  out: BatchOutcome,
  states: Map<string, JobState>,
): Promise<BatchOutcome> {
  const counted = new Set<string>();
  for (const [i, id] of out.jobs.entries()) {
    if (counted.has(id)) continue;
    counted.add(id);
    const state = states.get(id);
    if (state === "succeeded") out.succeeded++;
    else {
      const job = await queue.get(id);
      const item = items[i];
      out.failed.push({
        source: item?.source ?? "",
        at: item?.at ?? 0,
        code: job?.error?.code ?? "JOB_CANCELLED",
        message: job?.error?.message ?? `the job is ${state}`,
      });
    }
  }
  return out;
}

/**
 * Runs the batch on an in-process queue (SQLite registries), at most `window` jobs queued at once so
 * the runner's queue limit is never reached, and waits for every job.
 */
export async function runBatch(
  queue: JobQueue,
  items: readonly BatchItem[],
  window: number,
  opts: BatchOptions = {},
): Promise<BatchOutcome> {
  const out = emptyOutcome(items.length);
  const open = new Map<string, Promise<void>>();
  const finished = new Map<string, JobState>();
  let done = 0;
  const settle = (id: string) =>
    new Promise<void>((resolve) => {
      const stop = queue.subscribe(id, (e) => {
        if (!FINISHED.includes(e.job.state)) return;
        finished.set(id, e.job.state);
        stop();
        resolve();
      });
      // It may have finished before the subscription: look once.
      void queue.get(id).then((j) => {
        if (j && FINISHED.includes(j.state)) {
          finished.set(id, j.state);
          stop();
          resolve();
        }
      });
    });
  for (const item of items) {
    while (open.size >= window) await Promise.race(open.values());
    const id = await queue.enqueue("fingerprint", payloadOf(item), {
      key: fingerprintKey(item),
      ...(opts.owner ? { owner: opts.owner } : {}),
    });
    out.jobs.push(id);
    if (open.has(id) || finished.has(id)) continue;
    out.queued++;
    const p = settle(id).then(() => {
      open.delete(id);
      opts.onProgress?.("run", ++done, out.queued);
    });
    open.set(id, p);
  }
  await Promise.all(open.values());
  return finish(queue, items, out, finished);
}
