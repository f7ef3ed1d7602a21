import type { Kysely } from "kysely";
import { PedigreeError } from "../errors.js";
import { canonicalJson } from "./canonical.js";
import { type ActorKey, signBytes } from "./keys.js";
import { Frontier, hex, leafHash, unhex } from "./merkle.js";
import type { RegistryTables } from "./schema.js";

/**
 * The append-only log. Each registry change is one entry, signed by its actor; the leaf of the
 * RFC 9162 tree is the canonical JSON of `{entry, sig}`, so the tree commits to the signatures too.
 * Every entry also names the root of the tree before it (`prev`): dropping or reordering entries
 * breaks that chain even where the rows' own numbers were rewritten. After each write transaction
 * a signed tree head (STH) for the new size is stored.
 */

/**
 * 2: every entry commits to the full content of the rows it produces (and to the SHA-256 of the
 * fingerprint files it references), and says whether it ends its write (a signed head follows).
 * A log written in format 1 cannot be replayed into today's tables: see docs/registry.md "Versioning".
 */
export const LOG_VERSION = 2;

export interface LogEntry {
  v: number;
  seq: number;
  time: string;
  actor: string;
  op: LogOp;
  data: Record<string, unknown>;
  /** Root (hex) of the tree of the `seq` entries before this one. */
  prev: string;
  /** True on the last entry of a write: a signed tree head for size `seq + 1` must exist. */
  txEnd: boolean;
}

export type LogOp =
  | "init"
  | "actor.add"
  | "model.add"
  | "model.refresh"
  | "model.alias"
  | "model.annotate"
  | "model.attest"
  | "model.remove"
  | "edge.declare"
  | "evidence.record"
  | "trainlog.attach";

export interface SignedLeaf {
  entry: LogEntry;
  /** Ed25519 signature (base64) over canonicalJson(entry). */
  sig: string;
}

export interface TreeHead {
  v: number;
  size: number;
  root: string;
  time: string;
  actor: string;
}

export interface SignedTreeHead extends TreeHead {
  /** Ed25519 signature (base64) over canonicalJson of the head without `sig`. */
  sig: string;
}

export interface PendingOp {
  op: LogOp;
  data: Record<string, unknown>;
}

export function leafText(leaf: SignedLeaf): string {
  return canonicalJson(leaf);
}

export function treeHeadText(head: TreeHead): string {
  const { v, size, root, time, actor } = head;
  return canonicalJson({ v, size, root, time, actor });
}

/** The latest tree head and its frontier, or the empty tree. */
export async function latestHead(trx: Kysely<RegistryTables>): Promise<{ size: number; frontier: Frontier }> {
  const row = await trx
    .selectFrom("tree_heads")
    .selectAll()
    .orderBy("size", "desc")
    .limit(1)
    .executeTakeFirst();
  if (!row) return { size: 0, frontier: new Frontier() };
  const nodes = (JSON.parse(row.frontier) as string[]).map(unhex);
  return { size: Number(row.size), frontier: new Frontier(Number(row.size), nodes) };
}

/**
 * Appends `ops` as consecutive entries signed by `key`, then stores one STH for the new size.
 * Must run inside a write transaction (db.ts writeTx) so the sequence has one writer at a time.
 */
export async function appendEntries(
  trx: Kysely<RegistryTables>,
  key: ActorKey,
  ops: readonly PendingOp[],
): Promise<{ seqs: number[]; head: SignedTreeHead; time: string; entries: LogEntry[] }> {
  const { size, frontier } = await latestHead(trx);
  const time = new Date().toISOString();
  const seqs: number[] = [];
  const entries: LogEntry[] = [];
  for (const [i, { op, data }] of ops.entries()) {
    const entry: LogEntry = {
      v: LOG_VERSION,
      seq: size + i,
      time,
      actor: key.actor,
      op,
      data,
      prev: hex(frontier.root()),
      txEnd: i === ops.length - 1,
    };
    const text = leafText({ entry, sig: signBytes(key, canonicalJson(entry)) });
    const h = leafHash(text);
    await trx
      .insertInto("log_entries")
      .values({ seq: entry.seq, leaf: text, leaf_hash: hex(h) })
      .execute();
    frontier.push(h);
    seqs.push(entry.seq);
    entries.push(entry);
  }
  const head = signHead(key, frontier.size, hex(frontier.root()), time);
  await trx
    .insertInto("tree_heads")
    .values({
      size: head.size,
      root: head.root,
      sth: canonicalJson(head),
      frontier: JSON.stringify(frontier.nodes.map(hex)),
    })
    .execute();
  return { seqs, head, time, entries };
}

export function signHead(key: ActorKey, size: number, root: string, time: string): SignedTreeHead {
  const head: TreeHead = { v: LOG_VERSION, size, root, time, actor: key.actor };
  return { ...head, sig: signBytes(key, treeHeadText(head)) };
}

export function parseLeaf(text: string, where: string): SignedLeaf {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new PedigreeError("LOG_ENTRY_MALFORMED", `${where}: the stored entry is not valid JSON`, { cause });
  }
  const leaf = parsed as Partial<SignedLeaf>;
  const e = leaf?.entry as Partial<LogEntry> | undefined;
  if (
    !e ||
    typeof leaf.sig !== "string" ||
    typeof e.seq !== "number" ||
    typeof e.actor !== "string" ||
    typeof e.op !== "string"
  )
    throw new PedigreeError("LOG_ENTRY_MALFORMED", `${where}: the stored entry lacks entry/sig/seq/actor/op`);
  return leaf as SignedLeaf;
}

export function parseHead(text: string, where: string): SignedTreeHead {
  try {
    const h = JSON.parse(text) as SignedTreeHead;
    if (typeof h.size === "number" && typeof h.root === "string" && typeof h.sig === "string") return h;
  } catch {
    // reported below with the location
  }
  throw new PedigreeError("LOG_HEAD_MALFORMED", `${where}: the stored tree head is not a signed tree head`);
}
