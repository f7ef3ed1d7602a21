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
