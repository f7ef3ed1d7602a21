import { isPedigreeError } from "../errors.js";
import { canonicalJson } from "./canonical.js";
import { verifySignature } from "./keys.js";
import { LOG_VERSION, type LogEntry, parseLeaf } from "./log.js";
import { Frontier, type Hash, hex, leafHash } from "./merkle.js";
import { applyChange, changesOf, emptyState, type ViewState } from "./view.js";

export type LogProblemKind =
  | "entry_missing"
  | "entry_malformed"
  | "entry_hash_mismatch"
  | "entry_out_of_order"
  | "entry_chain_broken"
  | "entry_bad_signature"
  | "entry_unknown_actor"
  | "entry_bad_op"
  | "log_version_outdated"
  | "head_bad_signature"
  | "head_root_mismatch"
  | "head_frontier_mismatch"
  | "head_beyond_log"
  | "head_missing"
  | "head_unexpected"
  | "row_changed"
  | "row_inserted"
  | "row_deleted"
  | "column_not_in_log"
  | "table_missing"
  | "blob_mismatch"
  | "meta_changed"
  | "db_integrity_failed"
  | "checkpoint_bad_signature"
  | "checkpoint_beyond_log"
  | "checkpoint_inconsistent";

export interface LogProblem {
  kind: LogProblemKind;
  /** The entry concerned (0-based sequence number), when there is one. */
  seq: number | null;
  /** The tree size of the head concerned, when there is one. */
  size: number | null;
  /** For table findings: the table, the row's key and the field that differs. */
  table?: string;
  key?: Record<string, unknown>;
  field?: string;
  message: string;
}

/** What a replay of the stored entries establishes. */
export interface Replay {
  frontier: Frontier;
  /** Root (hex) after each prefix size of good entries. */
  roots: Map<number, string>;
  /** Frontier nodes (hex JSON) at each size where a write ended (a head must exist there). */
  frontiers: Map<number, string>;
  leaves: Hash[];
  actors: Map<string, string>;
  entries: LogEntry[];
  problems: LogProblem[];
  /** Entries verified in order before the first bad one. */
  goodUntil: number;
  /** The tables as the good entries say they must be. */
  state: ViewState;
}

export interface StoredEntry {
  seq: number;
  leaf: string;
  leafHash: string;
}

/**
 * Checks each stored entry in order (hash, position, `prev` chain, signature under the key the log
 * itself registered) and applies its rows to the replayed view. Stops at the first bad entry: later
 * entries chain from it, so checking them would only repeat the damage.
 */
export function replayEntries(rows: readonly StoredEntry[]): Replay {
  const r: Replay = {
    frontier: new Frontier(),
    roots: new Map([[0, hex(new Frontier().root())]]),
    frontiers: new Map(),
    leaves: [],
    actors: new Map(),
    entries: [],
    problems: [],
    goodUntil: 0,
    state: emptyState(),
  };
  for (const [i, row] of rows.entries()) {
    const problem = checkEntry(r, i, row) ?? applyEntry(r, r.entries[i] as LogEntry);
    if (problem) {
      r.problems.push(problem);
      return r;
    }
    r.goodUntil = i + 1;
    r.roots.set(i + 1, hex(r.frontier.root()));
    if ((r.entries[i] as LogEntry).txEnd) r.frontiers.set(i + 1, JSON.stringify(r.frontier.nodes.map(hex)));
  }
  return r;
}

const bad = (i: number, kind: LogProblemKind, message: string): LogProblem => ({
  kind,
  seq: i,
  size: null,
  message: `entry ${i}: ${message}`,
});

function checkEntry(r: Replay, i: number, row: StoredEntry): LogProblem | null {
  if (row.seq !== i)
    return bad(
      i,
      "entry_missing",
      `missing (the next stored entry is number ${row.seq}): an entry was dropped`,
    );
  let leaf: ReturnType<typeof parseLeaf>;
  try {
    leaf = parseLeaf(row.leaf, `entry ${i}`);
  } catch (e) {
    return bad(i, "entry_malformed", isPedigreeError(e) ? e.message : String(e));
  }
  const h = leafHash(row.leaf);
  if (hex(h) !== row.leafHash)
    return bad(
      i,
      "entry_hash_mismatch",
      "its stored leaf hash does not match its content: the entry was changed",
    );
  const e = leaf.entry;
  if (e.seq !== i)
    return bad(i, "entry_out_of_order", `holds entry number ${e.seq}: entries were reordered or dropped`);
  if (e.prev !== r.roots.get(i))
    return bad(
      i,
      "entry_chain_broken",
      "names a previous tree root that is not the log's: the log before it was changed",
    );
  const key =
    e.op === "actor.add" || e.op === "init" ? (selfKey(e) ?? r.actors.get(e.actor)) : r.actors.get(e.actor);
  if (!key)
    return bad(i, "entry_unknown_actor", `signed by "${e.actor}", who was never registered in the log`);
  if (!verifySignature(key, canonicalJson(e), leaf.sig))
    return bad(
      i,
      "entry_bad_signature",
      `the signature of "${e.actor}" does not verify: the entry was changed`,
    );
  if (e.v !== LOG_VERSION)
    return bad(
      i,
      "log_version_outdated",
      `written in log format ${e.v}, this build replays format ${LOG_VERSION}: rebuild the registry (docs/registry.md "Versioning")`,
    );
  if (e.op === "init" || e.op === "actor.add") {
    const name = String(e.data.name ?? e.data.actor);
    if (r.actors.has(name) && r.actors.get(name) !== e.data.publicKey)
      return bad(i, "entry_bad_signature", `re-registers actor "${name}" with a different key`);
    r.actors.set(name, String(e.data.publicKey));
  }
  r.frontier.push(h);
  r.leaves.push(h);
  r.entries.push(e);
  return null;
}

function applyEntry(r: Replay, e: LogEntry): LogProblem | null {
  const changes = changesOf(e);
  if (changes.length === 0) return bad(e.seq, "entry_bad_op", `unknown operation "${e.op}"`);
  for (const c of changes)
    if (!applyChange(r.state, c))
      return bad(e.seq, "entry_bad_op", `${e.op} names a ${c.table} row that no earlier entry created`);
  return null;
}

/** An actor's first registration is self-signed (proof of possession of the new key). */
function selfKey(e: LogEntry): string | undefined {
  const name = e.data.name ?? e.data.actor;
  return name === e.actor && typeof e.data.publicKey === "string" ? e.data.publicKey : undefined;
}
