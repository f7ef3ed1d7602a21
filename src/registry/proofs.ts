import type { Kysely } from "kysely";
import { PedigreeError } from "../errors.js";
import { parseHead, parseLeaf, type SignedTreeHead } from "./log.js";
import { consistencyPath, type Hash, hex, inclusionPath, unhex } from "./merkle.js";
import type { RegistryTables } from "./schema.js";

/**
 * Proof export. A proof file carries everything needed to check it without the database: the
 * signed tree head(s), the audit or consistency path, and the public keys of the signers (which the
 * checker should compare with keys it trusts: `checkProof(doc, { trustedKeys })`).
 */

export interface InclusionProofDoc {
  type: "pedigree.inclusion-proof";
  v: 1;
  leafIndex: number;
  /** The leaf exactly as hashed (canonical JSON of {entry, sig}). */
  leaf: string;
  path: string[];
  head: SignedTreeHead;
  /** Actor → base64 Ed25519 public key, for the head's signer and the entry's signer. */
  keys: Record<string, string>;
}

export interface ConsistencyProofDoc {
  type: "pedigree.consistency-proof";
  v: 1;
  first: SignedTreeHead;
  second: SignedTreeHead;
  path: string[];
  keys: Record<string, string>;
}

export type ProofDoc = InclusionProofDoc | ConsistencyProofDoc;

async function loadLeaves(db: Kysely<RegistryTables>, size: number): Promise<Hash[]> {
  const rows = await db
    .selectFrom("log_entries")
    .select(["seq", "leaf_hash"])
    .where("seq", "<", size)
    .orderBy("seq")
    .execute();
  if (rows.length !== size || rows.some((r, i) => Number(r.seq) !== i))
    throw new PedigreeError("LOG_INCOMPLETE", `The log does not hold entries 0…${size - 1}`, {
      hint: 'Run "pedigree registry log verify" to find the damage',
    });
  return rows.map((r) => unhex(r.leaf_hash));
}

/** The signed head at `size`, or the latest when `size` is undefined. */
export async function headAt(db: Kysely<RegistryTables>, size?: number): Promise<SignedTreeHead> {
  let q = db.selectFrom("tree_heads").select(["size", "sth"]);
  q = size === undefined ? q.orderBy("size", "desc").limit(1) : q.where("size", "=", size);
  const row = await q.executeTakeFirst();
  if (!row)
    throw new PedigreeError(
      "LOG_NO_TREE_HEAD",
      size === undefined ? "The log has no signed tree head yet" : `No signed tree head at size ${size}`,
      {
        details: { size },
        hint: "Tree heads exist at the size after each write; list them with `pedigree registry log heads`",
      },
    );
  return parseHead(row.sth, `tree head ${row.size}`);
}

async function actorKeys(db: Kysely<RegistryTables>, actors: string[]): Promise<Record<string, string>> {
  const rows = await db
    .selectFrom("actors")
    .select(["name", "public_key"])
    .where("name", "in", actors)
    .execute();
  return Object.fromEntries(rows.map((r) => [r.name, r.public_key]));
}

export async function exportInclusionProof(
  db: Kysely<RegistryTables>,
  leafIndex: number,
  size?: number,
): Promise<InclusionProofDoc> {
  const head = await headAt(db, size);
  if (!Number.isSafeInteger(leafIndex) || leafIndex < 0 || leafIndex >= head.size)
    throw new PedigreeError("USAGE_BAD_ENTRY", `Entry ${leafIndex} is not in the tree of size ${head.size}`, {
      details: { leafIndex, size: head.size },
      hint: `Entries are numbered 0…${head.size - 1}`,
    });
  const leaves = await loadLeaves(db, head.size);
  const row = await db
    .selectFrom("log_entries")
    .select("leaf")
    .where("seq", "=", leafIndex)
    .executeTakeFirstOrThrow();
  const actor = parseLeaf(row.leaf, `entry ${leafIndex}`).entry.actor;
  const path = inclusionPath(leaves, leafIndex).map(hex);
  return {
    type: "pedigree.inclusion-proof",
    v: 1,
    leafIndex,
    leaf: row.leaf,
    path,
    head,
    keys: await actorKeys(db, [actor, head.actor]),
  };
}

export async function exportConsistencyProof(
  db: Kysely<RegistryTables>,
  from: number,
  to?: number,
): Promise<ConsistencyProofDoc> {
  const second = await headAt(db, to);
  const first = await headAt(db, from);
  if (first.size > second.size)
    throw new PedigreeError(
      "USAGE_BAD_RANGE",
      `A consistency proof goes from a smaller tree to a larger one (${first.size} > ${second.size})`,
      {
        details: { from: first.size, to: second.size },
      },
    );
  const leaves = await loadLeaves(db, second.size);
  const path = consistencyPath(leaves, first.size).map(hex);
  return {
    type: "pedigree.consistency-proof",
    v: 1,
    first,
    second,
    path,
    keys: await actorKeys(db, [first.actor, second.actor]),
  };
}
