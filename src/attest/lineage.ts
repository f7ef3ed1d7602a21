import type { KeyObject } from "node:crypto";
import type { CompareResult } from "../compare/types.js";
import { PedigreeError } from "../errors.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { VERSION } from "../version.js";
import {
  type DsseEnvelope,
  INTOTO_PAYLOAD_TYPE,
  keyFingerprint,
  signEnvelope,
  verifyEnvelope,
} from "./dsse.js";
import { buildManifest, type Manifest, type Resource, rootDigest } from "./manifest.js";
import { INTOTO_STATEMENT_TYPE } from "./oms.js";
import { describeErrors, LINEAGE_SCHEMA, validator } from "./schemas.js";
import { checkModelFiles, type FileCheck } from "./verify-files.js";

/**
 * Lineage attestations: an in-toto Statement v1 in a DSSE envelope whose subject is the child model
 * (its OMS v1.0 root digest) and whose predicate, of Pedigree's own type (schemas/pedigree-lineage-v1
 * .schema.json, docs/attestations.md), records the parent's digest and what `compare` found.
 */

export const LINEAGE_PREDICATE_TYPE = "https://pedigree.dev/lineage/v1";
/** The full layer map is carried up to this many layers; deeper models keep only the summary counts. */
export const MAX_LAYER_MAP = 512;

export interface LineagePredicate {
  parent: { name: string; digest: { sha256: string }; contentId: string };
  child: { contentId: string; resources: Resource[] };
  verdict: CompareResult["verdict"];
  log10P: number;
  relations: string[];
  direction: "parent" | "child" | "unknown";
  layerMap: {
    childLayers: number;
    mapped: number;
    new: number;
    multiSource: number;
    sameIndex: number;
    map: { b: number; a: number[] }[] | null;
  } | null;
  tool: { name: "pedigree"; version: string };
  sketches: { parent: Record<string, string>; child: Record<string, string> };
  evaluatedAt: string;
}

export interface LineageStatement {
  _type: string;
  subject: { name: string; digest: { sha256: string } }[];
  predicateType: string;
  predicate: LineagePredicate;
}

export interface LineageInput {
  child: Manifest;
  parent: Manifest;
  childFp: Fingerprint;
  parentFp: Fingerprint;
  /** compare(parent as A, child as B). */
  result: CompareResult;
}

export function lineageStatement(x: LineageInput, now = new Date()): LineageStatement {
  const map = x.result.layerMap;
  return {
    _type: INTOTO_STATEMENT_TYPE,
    subject: [{ name: x.child.name, digest: { sha256: x.child.root } }],
    predicateType: LINEAGE_PREDICATE_TYPE,
    predicate: {
      parent: { name: x.parent.name, digest: { sha256: x.parent.root }, contentId: x.parentFp.contentId },
      child: { contentId: x.childFp.contentId, resources: x.child.resources },
      verdict: x.result.verdict,
      log10P: x.result.log10P,
      relations: [...x.result.relations],
      direction:
        x.result.direction.parent === "A"
          ? "parent"
          : x.result.direction.parent === "B"
            ? "child"
            : "unknown",
      layerMap: map
        ? {
            childLayers: map.length,
            mapped: map.filter((m) => m.a.length > 0).length,
            new: map.filter((m) => m.a.length === 0).length,
            multiSource: map.filter((m) => m.a.length > 1).length,
            sameIndex: map.filter((m) => m.a.length === 1 && m.a[0] === m.b).length,
            map: map.length <= MAX_LAYER_MAP ? map.map((m) => ({ b: m.b, a: [...m.a] })) : null,
          }
        : null,
      tool: { name: "pedigree", version: VERSION },
      sketches: { parent: { ...x.parentFp.kernels }, child: { ...x.childFp.kernels } },
      evaluatedAt: now.toISOString(),
    },
  };
}

export function signLineage(statement: LineageStatement, privateKey: KeyObject): DsseEnvelope {
  const v = validator(LINEAGE_SCHEMA);
  if (!v(statement))
    throw new PedigreeError(
      "INTERNAL_BAD_ATTESTATION",
      `The statement built does not match its schema: ${describeErrors(v.errors).join("; ")}`,
      {},
    );
  return signEnvelope(
    Buffer.from(JSON.stringify(statement), "utf8"),
    INTOTO_PAYLOAD_TYPE,
    privateKey,
    keyFingerprint(privateKey),
  );
}

export function parseLineageEnvelope(
  bytes: Buffer,
  where: string,
): { envelope: DsseEnvelope; statement: LineageStatement } {
  let env: DsseEnvelope;
  try {
    env = JSON.parse(bytes.toString("utf8")) as DsseEnvelope;
  } catch (cause) {
    throw new PedigreeError("FORMAT_ATTESTATION_JSON", `${where} is not JSON`, {
      cause,
      hint: "Pass a file written by `pedigree attest`",
    });
  }
  if (
    !env ||
    typeof env.payload !== "string" ||
    env.payloadType !== INTOTO_PAYLOAD_TYPE ||
    !Array.isArray(env.signatures) ||
    env.signatures.length === 0
  )
    throw new PedigreeError(
      "FORMAT_ATTESTATION_JSON",
      `${where} is not a DSSE envelope of an in-toto statement`,
      {
        hint: "Expected {payloadType: application/vnd.in-toto+json, payload, signatures}",
      },
    );
  let statement: unknown;
  try {
    statement = JSON.parse(Buffer.from(env.payload, "base64").toString("utf8"));
  } catch (cause) {
    throw new PedigreeError("FORMAT_ATTESTATION_PAYLOAD", `${where}: the payload is not base64 JSON`, {
      cause,
    });
  }
  const v = validator(LINEAGE_SCHEMA);
  if (!v(statement)) {
    const errors = describeErrors(v.errors);
    throw new PedigreeError(
      "FORMAT_ATTESTATION_PAYLOAD",
      `${where}: not a Pedigree lineage statement: ${errors.slice(0, 3).join("; ")}`,
      {
        details: { errors },
      },
    );
  }
  return { envelope: env, statement: statement as LineageStatement };
}

export interface LineageVerification {
  ok: true;
  keyFingerprint: string;
  subject: { name: string; digest: string };
  parent: LineagePredicate["parent"];
  verdict: string;
  log10P: number;
  relations: string[];
  files: FileCheck | null;
}

export async function verifyLineage(
  parsed: { envelope: DsseEnvelope; statement: LineageStatement },
  publicKey: KeyObject,
  modelDir?: string,
): Promise<LineageVerification> {
  if (!verifyEnvelope(parsed.envelope, publicKey))
    throw new PedigreeError(
      "ATTEST_BAD_SIGNATURE",
      "The attestation's signature does not verify with the given key",
      {
        details: { keyFingerprint: keyFingerprint(publicKey) },
        hint: "The attestation was changed after signing, or it was signed by another key",
      },
    );
  const s = parsed.statement;
  const subject = s.subject[0] as LineageStatement["subject"][number];
  if (rootDigest(s.predicate.child.resources) !== subject.digest.sha256)
    throw new PedigreeError(
      "ATTEST_SUBJECT_MISMATCH",
      "The subject digest is not the root over the listed files",
      {
        hint: "The statement is inconsistent: it was not written by `pedigree attest`",
      },
    );
  let files: FileCheck | null = null;
  if (modelDir) {
    files = await checkModelFiles(
      modelDir,
      {
        resources: s.predicate.child.resources,
        serialization: { method: "files", hash_type: "sha256", allow_symlinks: false },
      },
      { ignoreUnsigned: false },
    );
    const here = await buildManifest(modelDir);
    if (here.root !== subject.digest.sha256)
      throw new PedigreeError(
        "ATTEST_SUBJECT_MISMATCH",
        `${modelDir} has root digest ${here.root}, the attestation ${subject.digest.sha256}`,
        {
          details: { model: modelDir },
        },
      );
  }
  return {
    ok: true,
    keyFingerprint: keyFingerprint(publicKey),
    subject: { name: subject.name, digest: subject.digest.sha256 },
    parent: s.predicate.parent,
    verdict: s.predicate.verdict,
    log10P: s.predicate.log10P,
    relations: s.predicate.relations,
    files,
  };
}
