import type { Kysely } from "kysely";
import { checkHeads } from "./log-heads.js";
import { type LogProblem, type LogProblemKind, type Replay, replayEntries } from "./log-replay.js";
import { hex } from "./merkle.js";
import type { DialectName } from "./migrations.js";
import { checkSavedHead, type SavedHead } from "./saved-head.js";
import type { RegistryTables } from "./schema.js";
import { diffTables, integrityProblems } from "./table-diff.js";

export type { LogProblem, LogProblemKind };

export interface LogVerifyResult {
  ok: boolean;
  entries: number;
  heads: number;
  root: string;
  /** The first bad entry (lowest seq) or null: the answer to "where was the log changed?". */
  firstBadEntry: number | null;
  problems: LogProblem[];
  /** Actor name → base64 public key, as established by the log itself. */
  actors: Record<string, string>;
  /** The saved head checked against (`--checkpoint`), when one was given. */
  checkpoint: { size: number; root: string } | null;
}

export interface LogVerifyOptions {
  /** The database's dialect: on SQLite, PRAGMA integrity_check runs too. */
  dialect?: DialectName;
  /** Run PRAGMA integrity_check on SQLite (default true). */
  integrity?: boolean;
  /** Hash every stored fingerprint file against the log (default true). */
  blobs?: boolean;
  /** A tree head saved earlier: the log must extend it. */
  checkpoint?: SavedHead;
}

/**
 * Recomputes everything from the stored rows alone: each leaf's hash, its signature under the key the
 * log itself registered for its actor, its position, the chain of `prev` roots, every signed tree head
 * (root, frontier, and that one exists where each write ended), and that every row of every table is
 * what a replay of the log produces. With a saved head, also that the log still extends it.
 */
export async function verifyLog(
  db: Kysely<RegistryTables>,
  opts: LogVerifyOptions = {},
): Promise<LogVerifyResult> {
  return (await verifyLogReplay(db, opts)).result;
}

/** verifyLog, also handing back the replay (the tables as the log says they must be). */
export async function verifyLogReplay(
  db: Kysely<RegistryTables>,
  opts: LogVerifyOptions = {},
): Promise<{ result: LogVerifyResult; replay: Replay }> {
  const { replay, entries, heads } = await replayStored(db);
  if (opts.checkpoint) replay.problems.push(...checkSavedHead(replay, opts.checkpoint));
  if (replay.goodUntil === entries)
    replay.problems.push(...(await diffTables(db, replay.state, { blobs: opts.blobs !== false })));
  if (opts.dialect === "sqlite" && opts.integrity !== false)
    replay.problems.push(...(await integrityProblems(db)));
  const problems = replay.problems;
  const seqs = problems.map((p) => p.seq).filter((s): s is number => s !== null);
  const result = {
    ok: problems.length === 0,
    entries,
    heads,
    root: hex(replay.frontier.root()),
    firstBadEntry: seqs.length ? Math.min(...seqs) : null,
    problems,
    actors: Object.fromEntries(replay.actors),
    checkpoint: opts.checkpoint ? { size: opts.checkpoint.head.size, root: opts.checkpoint.head.root } : null,
  };
  return { result, replay };
}

/** Reads and replays the stored entries and checks the stored heads (no table comparison). */
export async function replayStored(
  db: Kysely<RegistryTables>,
): Promise<{ replay: Replay; entries: number; heads: number }> {
  const rows = await db.selectFrom("log_entries").selectAll().orderBy("seq").execute();
  const headRows = await db.selectFrom("tree_heads").selectAll().orderBy("size").execute();
  const replay = replayEntries(
    rows.map((r) => ({ seq: Number(r.seq), leaf: r.leaf, leafHash: r.leaf_hash })),
  );
  checkHeads(
    replay,
    headRows.map((h) => ({ size: Number(h.size), root: h.root, sth: h.sth, frontier: h.frontier })),
    rows.length,
  );
  return { replay, entries: rows.length, heads: headRows.length };
}
