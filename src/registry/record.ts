import type { Kysely } from "kysely";
import type { ActorKey } from "./keys.js";
import { appendEntries, type LogEntry, type PendingOp, type SignedTreeHead } from "./log.js";
import type { RegistryTables } from "./schema.js";
import { applyToDb, type Blobs, changesOf } from "./view.js";

/** A log operation and the large values behind its digested columns (the fingerprint file, the index). */
export interface RecordedOp extends PendingOp {
  blobs?: Blobs;
}

/**
 * The only way the registry changes its tables: the entries are appended (signed, with a tree head)
 * and then their rows are written exactly as a replay of the log would write them (view.ts), inside
 * the caller's write transaction. So the tables never hold anything the log does not say.
 */
export async function record(
  trx: Kysely<RegistryTables>,
  key: ActorKey,
  ops: readonly RecordedOp[],
): Promise<{ seqs: number[]; head: SignedTreeHead; time: string; entries: LogEntry[] }> {
  const out = await appendEntries(
    trx,
    key,
    ops.map(({ op, data }) => ({ op, data })),
  );
  for (const [i, e] of out.entries.entries())
    for (const c of changesOf(e)) await applyToDb(trx, c, ops[i]?.blobs);
  return out;
}
