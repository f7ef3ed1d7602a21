import type { Kysely } from "kysely";
import { PedigreeError } from "../errors.js";
import { verifySignature } from "./keys.js";
import { type SignedTreeHead, treeHeadText } from "./log.js";
import type { LogProblem, Replay } from "./log-replay.js";
import { consistencyPath, hex, verifyConsistency } from "./merkle.js";
import { headAt } from "./proofs.js";
import type { RegistryTables } from "./schema.js";

/**
 * A tree head saved outside the database (`registry log head --out`), to check later that the log
 * still extends it: dropping entries with their heads, or rewriting the log from any point (even
 * re-signed with a fresh key), no longer goes unnoticed. It carries the signer's public key, so it
 * pins the key as well as the root.
 */
export interface SavedHead {
  type: "pedigree.tree-head";
  v: 1;
  registryId: string | null;
  head: SignedTreeHead;
  /** Actor → base64 Ed25519 public key of the head's signer. */
  keys: Record<string, string>;
}

export async function exportHead(
  db: Kysely<RegistryTables>,
  actors: Record<string, string>,
): Promise<SavedHead> {
  const head = await headAt(db);
  const meta = await db
    .selectFrom("meta")
    .select("value")
    .where("key", "=", "registry_id")
    .executeTakeFirst();
  const key = actors[head.actor];
  return {
    type: "pedigree.tree-head",
    v: 1,
    registryId: meta?.value ?? null,
    head,
    keys: key ? { [head.actor]: key } : {},
  };
}

export function parseSavedHead(text: string, file: string): SavedHead {
  let doc: Partial<SavedHead> | null = null;
  try {
    doc = JSON.parse(text) as Partial<SavedHead>;
  } catch {
    // reported below
  }
  const h = doc?.head;
  if (
    doc?.type !== "pedigree.tree-head" ||
    !h ||
    !Number.isSafeInteger(h.size) ||
    typeof h.root !== "string" ||
    !/^[0-9a-f]{64}$/.test(h.root) ||
    typeof h.sig !== "string" ||
    typeof doc.keys !== "object" ||
    doc.keys === null
  )
    throw new PedigreeError("LOG_CHECKPOINT_MALFORMED", `${file} is not a saved tree head`, {
      details: { file },
      hint: 'Save one with "pedigree registry log head --out FILE"',
    });
  return doc as SavedHead;
}

/** The log (its good prefix) must extend the saved head, under the same signer key (RFC 9162 §2.1.4). */
export function checkSavedHead(r: Replay, saved: SavedHead): LogProblem[] {
  const { head } = saved;
  const p = (kind: LogProblem["kind"], message: string): LogProblem[] => [
    { kind, seq: null, size: head.size, message: `saved tree head at size ${head.size}: ${message}` },
  ];
  const pinned = saved.keys[head.actor];
  if (!pinned || !verifySignature(pinned, treeHeadText(head), head.sig))
    return p("checkpoint_bad_signature", `not validly signed by "${head.actor}" with the key it carries`);
  const current = r.actors.get(head.actor);
  if (current !== pinned)
    return p(
      "checkpoint_inconsistent",
      `the log ${current ? "holds another key" : "holds no key"} for "${head.actor}": the log was re-created or rewritten`,
    );
  const n = r.goodUntil;
  if (head.size > n)
    return p("checkpoint_beyond_log", `the log holds only ${n} verifiable entries: it was truncated`);
  const proof = consistencyPath(r.leaves.slice(0, n), head.size);
  if (!verifyConsistency(head.size, head.root, n, hex(r.frontier.root()), proof))
    return p(
      "checkpoint_inconsistent",
      `the log does not extend it (a fork or a rewrite at or before entry ${head.size - 1})`,
    );
  return [];
}
