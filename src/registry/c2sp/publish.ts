import fs from "node:fs";
import path from "node:path";
import type { Kysely } from "kysely";
import { PedigreeError } from "../../errors.js";
import type { ActorKey } from "../keys.js";
import { verifyLog } from "../log-verify.js";
import { type Hash, leafHash, rootOf } from "../merkle.js";
import type { RegistryTables } from "../schema.js";
import { type Checkpoint, signCheckpoint } from "./checkpoint.js";
import { checkKeyName, formatVerifierKey, rawEd25519, SIG_ED25519 } from "./note.js";
import { tileFiles } from "./tiles.js";

/**
 * Publishing the registry's log in C2SP form. The registry's Merkle tree already is the RFC 6962 tree
 * (leaf = SHA-256(0x00 ‖ leaf text), node = SHA-256(0x01 ‖ l ‖ r)) over the stored leaf texts, so a
 * checkpoint's root is the log's own root and the entry bundles hold the leaf texts verbatim.
 */

/** The origin line (and log key name) unless one is given: schema-less, unique per registry. */
export const ORIGIN_PREFIX = "pedigree.local/registry/";

export async function registryOrigin(db: Kysely<RegistryTables>, override?: string): Promise<string> {
  if (override) return checkKeyName(override);
  const row = await db.selectFrom("meta").select("value").where("key", "=", "registry_id").executeTakeFirst();
  if (!row)
    throw new PedigreeError("REGISTRY_NOT_INITIALISED", "The registry has no id", {
      hint: 'Run "pedigree registry init" first',
    });
  return `${ORIGIN_PREFIX}${row.value}`;
}

/** The stored leaf texts, in order; the hashes are recomputed from them, never read from the table. */
export async function logEntries(db: Kysely<RegistryTables>): Promise<{ entries: Buffer[]; leaves: Hash[] }> {
  const rows = await db.selectFrom("log_entries").select(["seq", "leaf"]).orderBy("seq").execute();
  if (rows.some((r, i) => Number(r.seq) !== i))
    throw new PedigreeError("LOG_INCOMPLETE", "The log's entries are not numbered 0, 1, 2, …", {
      hint: 'Run "pedigree registry log verify" to find the damage',
    });
  const entries = rows.map((r) => Buffer.from(r.leaf, "utf8"));
  return { entries, leaves: entries.map((e) => leafHash(e)) };
}

export interface PublishedCheckpoint {
  origin: string;
  size: number;
  /** base64 root, as in the checkpoint. */
  root: string;
  /** The checkpoint note. */
  text: string;
  /** The log's verifier key for this origin (`name+keyid+base64`). */
  vkey: string;
  signer: string;
}

/** Signs a checkpoint of the whole log, after the log verifies (a damaged log is never vouched for). */
export async function currentCheckpoint(
  db: Kysely<RegistryTables>,
  key: ActorKey,
  origin?: string,
): Promise<PublishedCheckpoint & { entries: Buffer[] }> {
  const check = await verifyLog(db);
  if (!check.ok)
    throw new PedigreeError("LOG_NOT_VERIFIED", "The log does not verify; no checkpoint is signed for it", {
      details: { problems: check.problems.slice(0, 5) },
      hint: 'Run "pedigree registry log verify" to see what changed',
    });
  const name = await registryOrigin(db, origin);
  const { entries, leaves } = await logEntries(db);
  const cp: Checkpoint = { origin: name, size: entries.length, root: rootOf(leaves), extensions: [] };
  return {
    origin: name,
    size: cp.size,
    root: cp.root.toString("base64"),
    text: signCheckpoint(cp, key.privateKey),
    vkey: formatVerifierKey(name, SIG_ED25519, rawEd25519(key.privateKey)),
    signer: key.actor,
    entries,
  };
}

/** Writes `<dir>/checkpoint` and every tile and entry bundle it needs; files already there are replaced. */
export function writeTiles(
  dir: string,
  published: PublishedCheckpoint & { entries: Buffer[] },
): { files: number; bytes: number } {
  const files = [
    { path: "checkpoint", bytes: Buffer.from(published.text, "utf8") },
    ...tileFiles(published.entries),
  ];
  let bytes = 0;
  for (const f of files) {
    const target = path.join(dir, ...f.path.split("/"));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    // Write then rename: a reader of a served folder never sees half a tile.
    fs.writeFileSync(`${target}.tmp`, f.bytes);
    fs.renameSync(`${target}.tmp`, target);
    bytes += f.bytes.length;
  }
  return { files: files.length, bytes };
}
