import { isPedigreeError } from "../errors.js";
import type { Registry } from "../registry/index.js";
import { type LogEntry, parseLeaf, type SignedTreeHead } from "../registry/log.js";
import { headAt } from "../registry/proofs.js";

/** Entries a log page shows at once (newest first); older ones page with `before`. */
export const LOG_PAGE = 100;

export interface LogView {
  head: SignedTreeHead | null;
  entries: (LogEntry & { sig: string })[];
}

/** The current signed tree head and the newest entries before `before` (a sequence number). */
export async function logView(reg: Registry, before?: number, limit = LOG_PAGE): Promise<LogView> {
  let q = reg.db
    .selectFrom("log_entries")
    .select(["seq", "leaf"])
    .orderBy("seq", "desc")
    .limit(Math.min(limit, LOG_PAGE));
  if (before !== undefined) q = q.where("seq", "<", before);
  const rows = await q.execute();
  const head = await headAt(reg.db).catch((e) => {
    if (isPedigreeError(e, "LOG_NO_TREE_HEAD")) return null;
    throw e;
  });
  return {
    head,
    entries: rows.map((r) => {
      const leaf = parseLeaf(r.leaf, `log entry ${r.seq}`);
      return { ...leaf.entry, sig: leaf.sig };
    }),
  };
}

/** A log entry's signature as a model page shows it: who signed which operation, when, with what key. */
export interface EntrySignature {
  seq: number;
  op: string;
  actor: string;
  time: string;
  /** Ed25519 signature (base64) over the entry's canonical JSON. */
  sig: string;
  /** The actor's public key as the registry holds it. */
  publicKey: string | null;
}

export async function entrySignatures(reg: Registry, seqs: readonly number[]): Promise<EntrySignature[]> {
  if (seqs.length === 0) return [];
  const rows = await reg.db
    .selectFrom("log_entries")
    .select(["seq", "leaf"])
    .where("seq", "in", [...seqs])
    .execute();
  const out: EntrySignature[] = [];
  for (const r of rows.sort((a, b) => a.seq - b.seq)) {
    const { entry, sig } = parseLeaf(r.leaf, `log entry ${r.seq}`);
    const actor = await reg.db
      .selectFrom("actors")
      .select("public_key")
      .where("name", "=", entry.actor)
      .executeTakeFirst();
    out.push({
      seq: entry.seq,
      op: entry.op,
      actor: entry.actor,
      time: entry.time,
      sig,
      publicKey: actor?.public_key ?? null,
    });
  }
  return out;
}
