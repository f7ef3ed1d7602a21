import { PedigreeError } from "../errors.js";
import { decodeFingerprint } from "../fingerprint/file.js";
import { writeTx } from "./db.js";
import { rebuildKinshipIndex } from "./kinship-index.js";
import { verifyLogReplay } from "./log-verify.js";
import { buildPrefilter } from "./prefilter.js";
import type { Registry } from "./registry.js";
import { applyToDb, type Row, sha256Hex, VIEW_TABLES } from "./view.js";

export interface RebuildResult {
  entries: number;
  /** Rows written per table. */
  tables: Record<string, number>;
}

/** Problems that make the log itself unusable as a source (rather than the tables disagreeing with it). */
const LOG_BROKEN = /^(entry_|head_|log_)/;

/**
 * Recreates every view table from the log. The log holds the fingerprint files and identify index
 * rows by SHA-256 only, so their bytes are taken, by digest, from whatever rows the database still
 * holds (a swap between two models is undone this way) or from fingerprint files given by the user;
 * an index row no row holds is rebuilt from its fingerprint and must hash to the logged digest.
 */
export async function rebuildTables(reg: Registry, files: readonly Buffer[] = []): Promise<RebuildResult> {
  const { result, replay } = await verifyLogReplay(reg.db, { blobs: false, integrity: false });
  const broken = result.problems.filter((p) => LOG_BROKEN.test(p.kind));
  if (broken.length)
    throw new PedigreeError("LOG_INVALID", `The log itself does not verify: ${broken[0]?.message}`, {
      details: { problems: broken.slice(0, 20) },
      hint: "A log that does not verify cannot be replayed; restore the database from a backup",
    });
  const pool = await blobPool(reg, files);
  const models = [...(replay.state.get("models")?.values() ?? [])];
  const blobs = new Map<string, { fingerprint: Buffer; prefilter: string }>();
  const missing: string[] = [];
  for (const m of models) {
    const fp = pool.get(String(m.fingerprint));
    let prefilter = pool.get(String(m.prefilter));
    if (fp && prefilter === undefined) {
      const rebuilt = JSON.stringify(buildPrefilter(decodeFingerprint(fp as Buffer)));
      if (sha256Hex(rebuilt) === m.prefilter) prefilter = rebuilt;
    }
    if (!Buffer.isBuffer(fp) || typeof prefilter !== "string") missing.push(String(m.content_id));
    else blobs.set(String(m.content_id), { fingerprint: fp, prefilter });
  }
  if (missing.length)
    throw new PedigreeError(
      "REGISTRY_BLOB_MISSING",
      `No fingerprint file with the logged SHA-256 for ${missing.length} model(s): ${missing.map((id) => id.slice(0, 12)).join(", ")}`,
      {
        details: { contentIds: missing },
        hint: "Pass their fingerprint files with --fingerprint FILE (the files registered; any name)",
      },
    );
  const tables: Record<string, number> = {};
  await writeTx(reg.handle, async (trx) => {
    for (const spec of VIEW_TABLES) {
      // biome-ignore lint/suspicious/noExplicitAny: every view table, chosen at run time
      await (trx as any).deleteFrom(spec.name).execute();
      const rows = [...(replay.state.get(spec.name)?.values() ?? [])] as Row[];
      for (const row of rows)
        await applyToDb(trx, { table: spec.name, mode: "put", row }, blobs.get(String(row.content_id)));
      tables[spec.name] = rows.length;
    }
    // Derived from the fingerprints just written, not from the log: the kinship index.
    await rebuildKinshipIndex(trx, decodeFingerprint);
  });
  return { entries: result.entries, tables };
}

async function blobPool(reg: Registry, files: readonly Buffer[]): Promise<Map<string, Buffer | string>> {
  const pool = new Map<string, Buffer | string>();
  for (const f of files) pool.set(sha256Hex(f), f);
  try {
    const rows = await reg.db.selectFrom("models").select(["fingerprint", "prefilter"]).execute();
    for (const r of rows) {
      const fp = Buffer.from(r.fingerprint);
      pool.set(sha256Hex(fp), fp);
      pool.set(sha256Hex(r.prefilter), r.prefilter);
    }
  } catch {
    // A dropped models table: only the files given can supply fingerprints (reported as missing).
  }
  return pool;
}
