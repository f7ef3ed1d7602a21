import { canonicalJson } from "./canonical.js";
import { verifySignature } from "./keys.js";
import { type SignedTreeHead, treeHeadText } from "./log.js";
import { leafHash, unhex, verifyConsistency, verifyInclusion } from "./merkle.js";
import type { ConsistencyProofDoc, InclusionProofDoc, ProofDoc } from "./proofs.js";

/**
 * Checks an exported proof with no database: standalone (imports only hashing and signature code).
 * `keyTrusted` is null when no trusted keys were given: the proof is then only self-consistent,
 * since anyone can sign a head with a key of their own.
 */

export interface ProofCheck {
  ok: boolean;
  type: ProofDoc["type"] | "unknown";
  keyTrusted: boolean | null;
  problems: string[];
  /** The proven entry (inclusion proofs). */
  entry?: unknown;
}

const HEX64 = /^[0-9a-f]{64}$/;

export function checkProof(doc: unknown, opts: { trustedKeys?: Record<string, string> } = {}): ProofCheck {
  const d = doc as Partial<ProofDoc> | null;
  if (d?.type === "pedigree.inclusion-proof") return finish(checkInclusion(d as InclusionProofDoc), d, opts);
  if (d?.type === "pedigree.consistency-proof")
    return finish(checkConsistencyDoc(d as ConsistencyProofDoc), d, opts);
  return { ok: false, type: "unknown", keyTrusted: null, problems: ["not a Pedigree proof document (type)"] };
}

function finish(
  r: { problems: string[]; entry?: unknown },
  d: Partial<ProofDoc>,
  opts: { trustedKeys?: Record<string, string> },
): ProofCheck {
  let keyTrusted: boolean | null = null;
  if (opts.trustedKeys) {
    const used = Object.entries(d.keys ?? {});
    keyTrusted = used.length > 0 && used.every(([actor, key]) => opts.trustedKeys?.[actor] === key);
    if (!keyTrusted) r.problems.push("the proof is signed with keys that are not among the trusted keys");
  }
  return {
    ok: r.problems.length === 0,
    type: d.type as ProofDoc["type"],
    keyTrusted,
    problems: r.problems,
    ...(r.entry === undefined ? {} : { entry: r.entry }),
  };
}

function checkHead(
  h: SignedTreeHead | undefined,
  keys: Record<string, string> | undefined,
  label: string,
  problems: string[],
): boolean {
  if (
    !h ||
    !Number.isSafeInteger(h.size) ||
    h.size < 0 ||
    typeof h.root !== "string" ||
    !HEX64.test(h.root)
  ) {
    problems.push(`${label}: malformed tree head`);
    return false;
  }
  const key = keys?.[h.actor];
  if (!key || !verifySignature(key, treeHeadText(h), h.sig)) {
    problems.push(`${label}: signature of "${h.actor}" does not verify`);
    return false;
  }
  return true;
}

function paths(p: unknown, problems: string[]): Buffer[] | null {
  if (!Array.isArray(p) || !p.every((x) => typeof x === "string" && HEX64.test(x))) {
    problems.push("path: not a list of 32-byte hex hashes");
    return null;
  }
  return p.map((x: string) => unhex(x));
}

function checkInclusion(d: InclusionProofDoc): { problems: string[]; entry?: unknown } {
  const problems: string[] = [];
  if (!checkHead(d.head, d.keys, "tree head", problems)) return { problems };
  const path = paths(d.path, problems);
  if (!path || typeof d.leaf !== "string")
    return { problems: [...problems, ...(typeof d.leaf === "string" ? [] : ["leaf missing"])] };
  if (!verifyInclusion(d.leafIndex, d.head.size, leafHash(d.leaf), path, unhex(d.head.root)))
    problems.push(
      `entry ${d.leafIndex} is not included in the tree of size ${d.head.size} with the signed root`,
    );
  let entry: unknown;
  try {
    const leaf = JSON.parse(d.leaf) as { entry: { actor: string; seq: number }; sig: string };
    entry = leaf.entry;
    const key = d.keys[leaf.entry.actor];
    if (!key || !verifySignature(key, canonicalJson(leaf.entry), leaf.sig))
      problems.push(`entry ${d.leafIndex}: its actor's signature does not verify`);
    if (leaf.entry.seq !== d.leafIndex)
      problems.push(`entry ${d.leafIndex}: the entry says it is number ${leaf.entry.seq}`);
  } catch {
    problems.push("leaf: not a signed log entry");
  }
  return { problems, entry };
}

function checkConsistencyDoc(d: ConsistencyProofDoc): { problems: string[] } {
  const problems: string[] = [];
  const ok1 = checkHead(d.first, d.keys, "first tree head", problems);
  const ok2 = checkHead(d.second, d.keys, "second tree head", problems);
  const path = paths(d.path, problems);
  if (!ok1 || !ok2 || !path) return { problems };
  if (!verifyConsistency(d.first.size, unhex(d.first.root), d.second.size, unhex(d.second.root), path))
    problems.push(
      `the tree of size ${d.first.size} is not a prefix of the tree of size ${d.second.size}: the log was forked or rewritten`,
    );
  return { problems };
}
