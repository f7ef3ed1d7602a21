import { type KeyObject, sign, verify } from "node:crypto";
import { PedigreeError } from "../../errors.js";
import {
  ed25519PublicKey,
  keyIdOf,
  type Note,
  type NoteSignature,
  parseVerifierKey,
  rawEd25519,
  SIG_COSIGNATURE_V1,
  type Verifier,
} from "./note.js";

/**
 * C2SP tlog-cosignature, the Ed25519 `cosignature/v1` type: a witness signs
 * "cosignature/v1\ntime <t>\n" followed by the checkpoint text, and the signature line carries the
 * key id, the big-endian u64 timestamp and the 64-byte signature. A policy names the witnesses a
 * client trusts and how many of them must have cosigned.
 */

/** Cosignatures from further in the future than this are refused (clock skew allowance). */
export const COSIGNATURE_MAX_FUTURE_S = 600;

export function cosignedMessage(checkpointText: string, timestamp: bigint): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${timestamp}\n${checkpointText}`, "utf8");
}

export function cosign(
  checkpointText: string,
  name: string,
  privateKey: KeyObject,
  timestamp: bigint,
): NoteSignature {
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64BE(timestamp);
  const sig = sign(null, cosignedMessage(checkpointText, timestamp), privateKey);
  return {
    name,
    keyId: keyIdOf(name, SIG_COSIGNATURE_V1, rawEd25519(privateKey)),
    sig: Buffer.concat([ts, sig]),
  };
}

/** The timestamp of a cosignature (its first 8 bytes), or null when the signature is not 72 bytes. */
export function cosignatureTime(s: NoteSignature): bigint | null {
  return s.sig.length === 72 ? s.sig.readBigUInt64BE(0) : null;
}

export interface WitnessPolicy {
  witnesses: Verifier[];
  quorum: number;
}

/**
 * The policy file: `witness <vkey>` lines (type 0x04 verifier keys) and one `quorum <n>` line;
 * `#` starts a comment. Quorum defaults to every listed witness.
 */
export function parseWitnessPolicy(text: string): WitnessPolicy {
  const witnesses: Verifier[] = [];
  let quorum: number | null = null;
  const bad = (line: number, why: string) =>
    new PedigreeError("LOG_BAD_WITNESS_POLICY", `Witness policy line ${line}: ${why}`, {
      details: { line },
      hint: "Write one 'witness <name>+<keyid>+<base64 key>' per witness and one 'quorum <n>' line",
    });
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) continue;
    const [word, value, ...rest] = line.split(/\s+/);
    if (rest.length || !value) throw bad(i + 1, `expected "<keyword> <value>", got "${line.slice(0, 60)}"`);
    if (word === "witness") {
      const v = parseVerifierKey(value);
      if (v.type !== SIG_COSIGNATURE_V1)
        throw bad(i + 1, "a witness key must have signature type 0x04 (cosignature/v1)");
      witnesses.push(v);
    } else if (word === "quorum") {
      if (!/^[0-9]+$/.test(value)) throw bad(i + 1, "the quorum is not a whole number");
      quorum = Number(value);
    } else throw bad(i + 1, `unknown keyword "${word}"`);
  }
  const q = quorum ?? witnesses.length;
  if (q > witnesses.length) throw bad(0, `quorum ${q} is more than the ${witnesses.length} listed witnesses`);
  return { witnesses, quorum: q };
}

export interface CosignatureCheck {
  /** Witness names whose cosignature verified. */
  verified: string[];
  /** Witness names with a matching key id whose cosignature did not verify (or is from the future). */
  failed: string[];
  quorum: number;
  ok: boolean;
}

export function verifyCosignatures(
  note: Note,
  policy: WitnessPolicy,
  now = BigInt(Math.floor(Date.now() / 1000)),
): CosignatureCheck {
  const verified = new Set<string>();
  const failed = new Set<string>();
  for (const s of note.sigs) {
    const w = policy.witnesses.find((k) => k.name === s.name && k.keyId === s.keyId);
    if (!w) continue; // unknown signers are ignored (signed-note §Signatures)
    const t = cosignatureTime(s);
    const ok =
      t !== null &&
      t <= now + BigInt(COSIGNATURE_MAX_FUTURE_S) &&
      verify(null, cosignedMessage(note.text, t), ed25519PublicKey(w.publicKey), s.sig.subarray(8));
    (ok ? verified : failed).add(w.name);
  }
  for (const n of verified) failed.delete(n);
  return {
    verified: [...verified],
    failed: [...failed],
    quorum: policy.quorum,
    ok: verified.size >= policy.quorum,
  };
}
