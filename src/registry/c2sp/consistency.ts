import type { Kysely } from "kysely";
import { consistencyPath, type Hash, hex, rootOf, verifyConsistency } from "../merkle.js";
import type { RegistryTables } from "../schema.js";
import { type Checkpoint, parseCheckpoint } from "./checkpoint.js";
import { type CosignatureCheck, verifyCosignatures, type WitnessPolicy } from "./cosignature.js";
import { keyIdOf, SIG_ED25519, type Verifier, verifyNote } from "./note.js";
import { logEntries } from "./publish.js";

/**
 * `registry log verify --checkpoint`: is the current log an append-only extension of the tree a
 * previously saved checkpoint committed to? The saved checkpoint must be signed by one of the log's
 * actor keys (as the log itself registers them) under its origin; then its size must not exceed the
 * log's (else entries were dropped) and the RFC 6962 consistency proof from its size to the current
 * size must verify against its root (else the log was rewritten: a fork).
 */

export type CheckpointFindingKind =
  | "checkpoint_unsigned"
  | "checkpoint_bad_signature"
  | "log_truncated"
  | "log_forked"
  | "witness_quorum_not_met";

export interface CheckpointFinding {
  kind: CheckpointFindingKind;
  message: string;
}

export interface CheckpointCheck {
  ok: boolean;
  origin: string;
  checkpointSize: number;
  logSize: number;
  /** The consistency proof (hex hashes) from the checkpoint's size to the log's, when one exists. */
  proof: string[] | null;
  /** Actor whose key signed the checkpoint, if any did. */
  signer: string | null;
  witnesses: CosignatureCheck | null;
  findings: CheckpointFinding[];
}

export async function checkAgainstCheckpoint(
  db: Kysely<RegistryTables>,
  text: string | Buffer,
  actors: Record<string, string>,
  policy?: WitnessPolicy,
): Promise<CheckpointCheck> {
  const { checkpoint: cp, note } = parseCheckpoint(text);
  const findings: CheckpointFinding[] = [];
  const signer = checkLogSignature(note, cp.origin, actors, findings);
  const witnesses = policy ? verifyCosignatures(note, policy) : null;
  if (witnesses && !witnesses.ok)
    findings.push({
      kind: "witness_quorum_not_met",
      message: `${witnesses.verified.length} of the required ${witnesses.quorum} witness cosignatures verify${witnesses.failed.length ? ` (failed: ${witnesses.failed.join(", ")})` : ""}`,
    });
  const { leaves } = await logEntries(db);
  const n = leaves.length;
  const tree = treeFindings(cp, leaves);
  findings.push(...tree.findings);
  const proof = tree.proof;
  return {
    ok: findings.length === 0,
    origin: cp.origin,
    checkpointSize: cp.size,
    logSize: n,
    proof,
    signer,
    witnesses,
    findings,
  };
}

/** Truncation and fork findings for a checkpoint against the leaf hashes of a log, with the consistency proof. */
export function treeFindings(
  cp: Checkpoint,
  leaves: readonly Hash[],
): { findings: CheckpointFinding[]; proof: string[] | null } {
  const n = leaves.length;
  if (cp.size > n)
    return {
      proof: null,
      findings: [
        {
          kind: "log_truncated",
          message: `the checkpoint commits to ${cp.size} entries but the log holds ${n}: entries ${n}…${cp.size - 1} were dropped`,
        },
      ],
    };
  const path = consistencyPath(leaves, cp.size);
  const findings: CheckpointFinding[] = [];
  if (!verifyConsistency(cp.size, cp.root, n, rootOf(leaves), path))
    findings.push({
      kind: "log_forked",
      message: `the log's first ${cp.size} entries hash to ${hex(rootOf(leaves.slice(0, cp.size))).slice(0, 16)}…, not the checkpoint's root ${cp.root.toString("hex").slice(0, 16)}…: the log was rewritten`,
    });
  return { findings, proof: path.map(hex) };
}

function checkLogSignature(
  note: ReturnType<typeof parseCheckpoint>["note"],
  origin: string,
  actors: Record<string, string>,
  findings: CheckpointFinding[],
): string | null {
  const byVerifier = new Map<Verifier, string>();
  for (const [actor, b64] of Object.entries(actors)) {
    const publicKey = Buffer.from(b64, "base64");
    byVerifier.set(
      { name: origin, keyId: keyIdOf(origin, SIG_ED25519, publicKey), type: SIG_ED25519, publicKey },
      actor,
    );
  }
  const { verified, failed } = verifyNote(note, [...byVerifier.keys()]);
  if (failed.length)
    findings.push({
      kind: "checkpoint_bad_signature",
      message: `the signature of ${failed.map((v) => byVerifier.get(v)).join(", ")} on the checkpoint does not verify: the checkpoint was altered`,
    });
  else if (verified.length === 0)
    findings.push({
      kind: "checkpoint_unsigned",
      message: `no signature on the checkpoint is by a key this log registers (origin ${origin}): another log's checkpoint, or the log's keys were replaced`,
    });
  return verified.length ? (byVerifier.get(verified[0] as Verifier) ?? null) : null;
}
