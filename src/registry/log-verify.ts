import type { Kysely } from "kysely";
import { isPedigreeError } from "../errors.js";
import { canonicalJson } from "./canonical.js";
import { verifySignature } from "./keys.js";
import { type LogEntry, parseHead, parseLeaf, type SignedTreeHead, treeHeadText } from "./log.js";
import { Frontier, hex, leafHash } from "./merkle.js";
import type { RegistryTables } from "./schema.js";

export type LogProblemKind =
  | "entry_missing"
  | "entry_malformed"
  | "entry_hash_mismatch"
  | "entry_out_of_order"
  | "entry_chain_broken"
  | "entry_bad_signature"
  | "entry_unknown_actor"
  | "head_bad_signature"
  | "head_root_mismatch"
  | "head_beyond_log"
  | "head_missing"
  | "table_not_in_log";

export interface LogProblem {
  kind: LogProblemKind;
  /** The entry concerned (0-based sequence number), when there is one. */
  seq: number | null;
  /** The tree size of the head concerned, when there is one. */
  size: number | null;
  message: string;
}

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
}

interface Replay {
  frontier: Frontier;
  roots: Map<number, string>;
  actors: Map<string, string>;
  entries: LogEntry[];
  problems: LogProblem[];
  /** Entries verified in order before the first bad one. */
  goodUntil: number;
}

/**
 * Recomputes everything from the stored rows alone: each leaf's hash, its signature under the key the
 * log itself registered for its actor, its position, the chain of `prev` roots, every signed tree head
 * against the recomputed root at its size, and that the materialised tables match a replay of the log.
 */
export async function verifyLog(db: Kysely<RegistryTables>): Promise<LogVerifyResult> {
  const rows = await db.selectFrom("log_entries").selectAll().orderBy("seq").execute();
  const headRows = await db.selectFrom("tree_heads").selectAll().orderBy("size").execute();
  const replay = replayEntries(
    rows.map((r) => ({ seq: Number(r.seq), leaf: r.leaf, leafHash: r.leaf_hash })),
  );
  checkHeads(
    replay,
    headRows.map((h) => ({ size: Number(h.size), root: h.root, sth: h.sth })),
    rows.length,
  );
  if (replay.goodUntil === rows.length) replay.problems.push(...(await checkTables(db, replay.entries)));
  const problems = replay.problems;
  const seqs = problems.map((p) => p.seq).filter((s): s is number => s !== null);
  return {
    ok: problems.length === 0,
    entries: rows.length,
    heads: headRows.length,
    root: hex(replay.frontier.root()),
    firstBadEntry: seqs.length ? Math.min(...seqs) : null,
    problems,
    actors: Object.fromEntries(replay.actors),
  };
}

function replayEntries(rows: { seq: number; leaf: string; leafHash: string }[]): Replay {
  const r: Replay = {
    frontier: new Frontier(),
    roots: new Map([[0, hex(new Frontier().root())]]),
    actors: new Map(),
    entries: [],
    problems: [],
    goodUntil: 0,
  };
  for (const [i, row] of rows.entries()) {
    const problem = checkEntry(r, i, row);
    if (problem) {
      r.problems.push(problem);
      return r; // later entries chain from this one: checking them would only repeat the damage
    }
    r.goodUntil = i + 1;
    r.roots.set(i + 1, hex(r.frontier.root()));
  }
  return r;
}

function checkEntry(
  r: Replay,
  i: number,
  row: { seq: number; leaf: string; leafHash: string },
): LogProblem | null {
  const bad = (kind: LogProblemKind, message: string): LogProblem => ({
    kind,
    seq: i,
    size: null,
    message: `entry ${i}: ${message}`,
  });
  if (row.seq !== i)
    return bad("entry_missing", `missing (the next stored entry is number ${row.seq}): an entry was dropped`);
  let leaf: ReturnType<typeof parseLeaf>;
  try {
    leaf = parseLeaf(row.leaf, `entry ${i}`);
  } catch (e) {
    return bad("entry_malformed", isPedigreeError(e) ? e.message : String(e));
  }
  const h = leafHash(row.leaf);
  if (hex(h) !== row.leafHash)
    return bad(
      "entry_hash_mismatch",
      "its stored leaf hash does not match its content: the entry was changed",
    );
  const e = leaf.entry;
  if (e.seq !== i)
    return bad("entry_out_of_order", `holds entry number ${e.seq}: entries were reordered or dropped`);
  if (e.prev !== hex(r.frontier.root()))
    return bad(
      "entry_chain_broken",
      "names a previous tree root that is not the log's: the log before it was changed",
    );
  const key =
    e.op === "actor.add" || e.op === "init" ? (selfKey(e) ?? r.actors.get(e.actor)) : r.actors.get(e.actor);
  if (!key) return bad("entry_unknown_actor", `signed by "${e.actor}", who was never registered in the log`);
  if (!verifySignature(key, canonicalJson(e), leaf.sig))
    return bad("entry_bad_signature", `the signature of "${e.actor}" does not verify: the entry was changed`);
  if (e.op === "init" || e.op === "actor.add") {
    const name = String(e.data.name ?? e.data.actor);
    if (r.actors.has(name) && r.actors.get(name) !== e.data.publicKey)
      return bad("entry_bad_signature", `re-registers actor "${name}" with a different key`);
    r.actors.set(name, String(e.data.publicKey));
  }
  r.frontier.push(h);
  r.entries.push(e);
  return null;
}

/** An actor's first registration is self-signed (proof of possession of the new key). */
function selfKey(e: LogEntry): string | undefined {
  const name = e.data.name ?? e.data.actor;
  return name === e.actor && typeof e.data.publicKey === "string" ? e.data.publicKey : undefined;
}

function checkHeads(r: Replay, heads: { size: number; root: string; sth: string }[], stored: number): void {
  for (const row of heads) {
    const at = (kind: LogProblemKind, message: string, seq: number | null = null): void => {
      r.problems.push({ kind, seq, size: row.size, message: `tree head at size ${row.size}: ${message}` });
    };
    let sth: SignedTreeHead;
    try {
      sth = parseHead(row.sth, `tree head ${row.size}`);
    } catch (e) {
      at("head_bad_signature", isPedigreeError(e) ? e.message : String(e));
      continue;
    }
    const key = r.actors.get(sth.actor);
    if (
      !key ||
      !verifySignature(key, treeHeadText(sth), sth.sig) ||
      sth.size !== row.size ||
      sth.root !== row.root
    )
      at(
        "head_bad_signature",
        `not validly signed by "${sth.actor}", or its stored size/root differ from the signed ones`,
      );
    if (row.size > stored)
      at("head_beyond_log", `the log holds only ${stored} entries: entries were dropped`, stored);
    else if (row.size > r.goodUntil)
      continue; // already reported through the first bad entry
    else if (r.roots.get(row.size) !== sth.root)
      at(
        "head_root_mismatch",
        `signs root ${sth.root.slice(0, 16)}… but the entries give ${(r.roots.get(row.size) ?? "").slice(0, 16)}…: a forked head`,
      );
  }
  const last = heads[heads.length - 1];
  if (stored > 0 && (!last || last.size < stored))
    r.problems.push({
      kind: "head_missing",
      seq: last?.size ?? 0,
      size: last?.size ?? 0,
      message: `entries from ${last?.size ?? 0} on are not covered by a signed tree head: entries were added outside the registry`,
    });
}

/** The materialised tables must hold exactly what a replay of the log says (a direct row edit shows here). */
async function checkTables(db: Kysely<RegistryTables>, entries: LogEntry[]): Promise<LogProblem[]> {
  const expectModels = new Map<string, string>();
  const expectEdges = new Set<string>();
  const seqOf = new Map<string, number>();
  for (const e of entries) {
    if (e.op === "model.add") {
      expectModels.set(String(e.data.contentId), String(e.data.name));
      seqOf.set(`m:${e.data.contentId}`, e.seq);
    }
    if (e.op === "edge.declare") expectEdges.add(`${e.data.child}|${e.data.parent}|${e.data.relation}`);
  }
  const problems: LogProblem[] = [];
  const models = await db.selectFrom("models").select(["content_id", "name", "seq"]).execute();
  for (const m of models)
    if (expectModels.get(m.content_id) !== m.name)
      problems.push({
        kind: "table_not_in_log",
        seq: Number(m.seq),
        size: null,
        message: `model row ${m.name} (${m.content_id.slice(0, 12)}…) does not match any model.add entry`,
      });
  if (models.length !== expectModels.size)
    problems.push({
      kind: "table_not_in_log",
      seq: null,
      size: null,
      message: `the models table holds ${models.length} rows, the log ${expectModels.size}`,
    });
  const edges = await db.selectFrom("edges").select(["child", "parent", "relation", "seq"]).execute();
  for (const e of edges)
    if (!expectEdges.has(`${e.child}|${e.parent}|${e.relation}`))
      problems.push({
        kind: "table_not_in_log",
        seq: Number(e.seq),
        size: null,
        message: `edge ${e.child} → ${e.parent} (${e.relation}) is not in the log`,
      });
  if (edges.length !== expectEdges.size)
    problems.push({
      kind: "table_not_in_log",
      seq: null,
      size: null,
      message: `the edges table holds ${edges.length} rows, the log ${expectEdges.size}`,
    });
  return problems;
}
