import { createPublicKey, type KeyObject } from "node:crypto";
import { keyFingerprint, keyKind, verifyEnvelope } from "../attest/dsse.js";
import { LINEAGE_PREDICATE_TYPE, parseLineageEnvelope, verifyLineage } from "../attest/lineage.js";
import { at } from "../checked.js";
import { PedigreeError } from "../errors.js";
import { canonicalJson } from "./canonical.js";
import { record } from "./record.js";
import type { Registry } from "./registry.js";
import type { RegistryTables } from "./schema.js";
import { sha256Hex } from "./view.js";

/** One attestation attached to a registered model, as stored (and as `registry show` lists it). */
export interface AttachedAttestation {
  /** SHA-256 (hex) of the envelope as stored (canonical JSON). */
  sha256: string;
  payloadType: string;
  predicateType: string;
  /** The statement's subject digest: the OMS v1.0 root of the model's files. */
  subjectDigest: string;
  /** SHA-256 of the signer's public key (DER SPKI), as `pedigree attest` writes it in `keyid`. */
  keyId: string;
  /** Signature valid under the stored key and subject naming this model, checked when attached. */
  verified: boolean;
  attachedBy: string;
  attachedAt: string;
  seq: number;
}

/** A row of the `attestations` table, as schema.ts declares it. */
export type AttestationRow = RegistryTables["attestations"];

export function attestationFromRow(r: AttestationRow): AttachedAttestation {
  return {
    sha256: r.sha256,
    payloadType: r.payload_type,
    predicateType: r.predicate_type,
    subjectDigest: r.subject_digest,
    keyId: r.key_id,
    verified: Number(r.verified) === 1,
    attachedBy: r.attached_by,
    attachedAt: r.attached_at,
    seq: Number(r.seq),
  };
}

export function parsePublicKeyPem(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (cause) {
    throw new PedigreeError("ATTEST_BAD_KEY", "The key given is not a PEM public key", { cause });
  }
  keyKind(key);
  return key;
}

/**
 * Attaches a lineage attestation (a DSSE envelope written by `pedigree attest`) to a registered model
 * as a signed `model.attest` log entry holding the envelope itself (a few kilobytes: a replay needs no
 * file store to rebuild it). Refused unless the envelope parses, its signature verifies under
 * `publicKey`, and its statement is about this model: the registry has the model's content id, not its
 * files, so "this model" means the predicate's child content id, which `pedigree attest` takes from the
 * fingerprint of the attested weights, equals the model's (the subject digest is checked against the
 * file list it is computed from). Attaching the same envelope again writes nothing.
 */
export async function attachAttestation(
  reg: Registry,
  modelRef: string,
  envelopeBytes: Buffer,
  publicKey: KeyObject,
): Promise<{ model: string; attestation: AttachedAttestation; created: boolean }> {
  const model = await reg.resolve(modelRef);
  const parsed = parseLineageEnvelope(envelopeBytes, "the attestation");
  const checked = await verifyLineage(parsed, publicKey);
  const statedFor = parsed.statement.predicate.child.contentId;
  if (statedFor !== model.contentId)
    throw new PedigreeError(
      "ATTEST_SUBJECT_MISMATCH",
      `The attestation is about weights with content id ${statedFor}, not ${model.name} (${model.contentId})`,
      { details: { model: model.name, contentId: model.contentId, attested: statedFor } },
    );
  const envelope = canonicalJson(parsed.envelope);
  const sha256 = sha256Hex(envelope);
  const pem = publicKey.export({ format: "pem", type: "spki" }).toString();
  return reg.write(async (trx, key) => {
    const same = await trx
      .selectFrom("attestations")
      .selectAll()
      .where("model", "=", model.contentId)
      .where("sha256", "=", sha256)
      .executeTakeFirst();
    if (same) return { model: model.name, attestation: attestationFromRow(same), created: false };
    const data = {
      model: model.contentId,
      sha256,
      payloadType: parsed.envelope.payloadType,
      predicateType: parsed.statement.predicateType,
      subjectDigest: checked.subject.digest,
      keyId: checked.keyFingerprint,
      publicKey: pem,
      envelope,
      verified: true,
    };
    const { seqs } = await record(trx, key, [{ op: "model.attest", data }]);
    const row = await trx
      .selectFrom("attestations")
      .selectAll()
      .where("model", "=", model.contentId)
      .where("seq", "=", at(seqs, 0, "log sequence numbers"))
      .executeTakeFirstOrThrow();
    return { model: model.name, attestation: attestationFromRow(row), created: true };
  });
}

/** A model's attestations in the order attached, each re-checked against its stored key now. */
export async function listAttestations(reg: Registry, contentId: string): Promise<AttachedAttestation[]> {
  const rows = await reg.db
    .selectFrom("attestations")
    .selectAll()
    .where("model", "=", contentId)
    .orderBy("seq")
    .execute();
  return rows.map((r) => {
    const a = attestationFromRow(r);
    return { ...a, verified: a.verified && stillVerifies(r) };
  });
}

/** The stored envelope still verifies under the stored key (a row edited outside the log does not). */
function stillVerifies(r: AttestationRow): boolean {
  try {
    const key = parsePublicKeyPem(r.public_key);
    return (
      keyFingerprint(key) === r.key_id &&
      r.predicate_type === LINEAGE_PREDICATE_TYPE &&
      verifyEnvelope(JSON.parse(r.envelope), key)
    );
  } catch {
    return false; // an unreadable stored key or envelope is not a verified attestation
  }
}
