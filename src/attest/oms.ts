import type { KeyObject } from "node:crypto";
import path from "node:path";
import { PedigreeError } from "../errors.js";
import {
  type DsseEnvelope,
  INTOTO_PAYLOAD_TYPE,
  keyFingerprint,
  signEnvelope,
  spkiDer,
  verifyEnvelope,
} from "./dsse.js";
import { buildManifest, type Manifest, type Resource } from "./manifest.js";
import { describeErrors, OMS_BUNDLE_SCHEMA, OMS_STATEMENT_SCHEMA, validator } from "./schemas.js";
import { checkModelFiles, type FileCheck } from "./verify-files.js";

/**
 * OpenSSF Model Signing v1.0 bundles with the `key` method: a Sigstore bundle (v0.3 media type)
 * holding a DSSE envelope of an in-toto Statement v1 whose predicate lists every file's digest.
 * Parsing validates against the four OMS schemas before anything else is read; verification checks
 * the signature with the caller's key, then every file of the model against the manifest.
 */

export const OMS_PREDICATE_TYPE = "https://model_signing/signature/v1.0";
export const INTOTO_STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
export const SIGSTORE_BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json";
/** A bundle is a manifest of at most MAX_MODEL_FILES entries: 64 MiB is far above any real one. */
export const MAX_BUNDLE_BYTES = 64 << 20;

export type SigningMethod = "key" | "certificate" | "sigstore";

export interface OmsStatement {
  _type: string;
  subject: { name: string; digest: Record<string, string> }[];
  predicateType: string;
  predicate: {
    resources: Resource[];
    serialization: {
      method: "files" | "shards";
      hash_type: string;
      shard_size?: number;
      allow_symlinks: boolean;
      ignore_paths?: string[];
    };
  };
}

export interface OmsBundle {
  mediaType: string;
  verificationMaterial: { publicKey?: { hint?: string; rawBytes?: string }; [k: string]: unknown };
  dsseEnvelope: DsseEnvelope;
}

export interface ParsedBundle {
  bundle: OmsBundle;
  statement: OmsStatement;
  method: SigningMethod;
}

export function omsStatement(m: Manifest): OmsStatement {
  return {
    _type: INTOTO_STATEMENT_TYPE,
    subject: [{ name: m.name, digest: { sha256: m.root } }],
    predicateType: OMS_PREDICATE_TYPE,
    predicate: {
      resources: m.resources,
      serialization: {
        method: "files",
        hash_type: "sha256",
        allow_symlinks: false,
        ignore_paths: m.ignorePaths,
      },
    },
  };
}

export async function signModel(
  root: string,
  privateKey: KeyObject,
  opts: { ignorePaths?: string[]; bundlePath?: string; onProgress?: (done: number) => void } = {},
): Promise<{ bundle: OmsBundle; manifest: Manifest }> {
  const manifest = await buildManifest(root, {
    ...(opts.ignorePaths ? { ignorePaths: opts.ignorePaths } : {}),
    ...(opts.bundlePath ? { exclude: [opts.bundlePath] } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  if (opts.bundlePath && isInside(root, opts.bundlePath))
    manifest.ignorePaths.push(relativeName(root, opts.bundlePath));
  const statement = omsStatement(manifest);
  const envelope = signEnvelope(
    Buffer.from(JSON.stringify(statement), "utf8"),
    INTOTO_PAYLOAD_TYPE,
    privateKey,
  );
  const bundle: OmsBundle = {
    mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: keyFingerprint(privateKey) } },
    dsseEnvelope: envelope,
  };
  parseBundle(Buffer.from(JSON.stringify(bundle)), "the bundle just written"); // spec §3.1: producers validate
  return { bundle, manifest };
}

export function parseBundle(bytes: Buffer, where: string): ParsedBundle {
  if (bytes.length > MAX_BUNDLE_BYTES)
    throw new PedigreeError(
      "FORMAT_OMS_JSON",
      `${where} is over ${MAX_BUNDLE_BYTES} bytes: not an OMS bundle`,
      {},
    );
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString("utf8"));
  } catch (cause) {
    throw new PedigreeError(
      "FORMAT_OMS_JSON",
      `${where} is not JSON${bytes.length === 0 ? " (empty)" : ""}`,
      {
        details: { bytes: bytes.length },
        cause,
        hint: "Pass an OMS bundle (.sig) written by `pedigree sign` or model_signing",
      },
    );
  }
  const vb = validator(OMS_BUNDLE_SCHEMA);
  if (!vb(doc))
    throw schemaError("FORMAT_OMS_SCHEMA", `${where} is not a valid OMS bundle`, describeErrors(vb.errors));
  const bundle = doc as OmsBundle;
  let statement: unknown;
  try {
    statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, "base64").toString("utf8"));
  } catch (cause) {
    throw new PedigreeError(
      "FORMAT_OMS_PAYLOAD",
      `${where}: the DSSE payload is not base64 of a JSON statement`,
      { cause },
    );
  }
  const vs = validator(OMS_STATEMENT_SCHEMA);
  if (!vs(statement))
    throw schemaError(
      "FORMAT_OMS_PAYLOAD",
      `${where}: the payload is not an OMS in-toto statement`,
      describeErrors(vs.errors),
    );
  return { bundle, statement: statement as OmsStatement, method: methodOf(bundle) };
}

function schemaError(
  code: "FORMAT_OMS_SCHEMA" | "FORMAT_OMS_PAYLOAD",
  message: string,
  errors: string[],
): PedigreeError {
  return new PedigreeError(code, `${message}: ${errors.slice(0, 3).join("; ")}`, {
    details: { errors },
    hint: "The bundle must follow the OpenSSF Model Signing v1.0 schemas",
  });
}

function methodOf(b: OmsBundle): SigningMethod {
  const vm = b.verificationMaterial;
  if (vm.publicKey) return "key";
  if (vm.x509CertificateChain) return "certificate";
  return "sigstore";
}

export interface BundleVerification {
  ok: true;
  method: SigningMethod;
  keyFingerprint: string;
  subject: { name: string; digest: string };
  files: FileCheck;
}

export async function verifyModelBundle(
  root: string,
  parsed: ParsedBundle,
  publicKey: KeyObject,
  opts: { bundlePath?: string; ignoreUnsigned?: boolean } = {},
): Promise<BundleVerification> {
  if (parsed.method !== "key")
    throw new PedigreeError(
      "UNSUPPORTED_OMS_METHOD",
      `The bundle uses the ${parsed.method} method; Pedigree verifies the key method`,
      {
        details: { method: parsed.method },
        hint: "Verify certificate and sigstore bundles with model_signing",
      },
    );
  const fp = keyFingerprint(publicKey);
  checkKeyMatches(parsed.bundle, publicKey, fp);
  if (!verifyEnvelope(parsed.bundle.dsseEnvelope, publicKey))
    throw new PedigreeError(
      "ATTEST_BAD_SIGNATURE",
      "The bundle's DSSE signature does not verify with the given key",
      {
        details: { keyFingerprint: fp },
        hint: "The bundle was changed after signing, or it was signed by another key",
      },
    );
  const files = await checkModelFiles(root, parsed.statement.predicate, {
    ...(opts.bundlePath ? { exclude: [opts.bundlePath] } : {}),
    ignoreUnsigned: opts.ignoreUnsigned === true,
  });
  const s = parsed.statement.subject[0] as OmsStatement["subject"][number];
  return {
    ok: true,
    method: "key",
    keyFingerprint: fp,
    subject: { name: s.name, digest: s.digest.sha256 ?? "" },
    files,
  };
}

function checkKeyMatches(b: OmsBundle, publicKey: KeyObject, fp: string): void {
  const pk = b.verificationMaterial.publicKey ?? {};
  const raw = pk.rawBytes ? Buffer.from(pk.rawBytes, "base64") : null;
  const spki = spkiDer(publicKey);
  const mismatch = pk.hint ? pk.hint.toLowerCase() !== fp : raw ? !raw.equals(spki) : false;
  if (mismatch)
    throw new PedigreeError("ATTEST_KEY_MISMATCH", "The bundle names another public key than the one given", {
      details: { bundleKey: pk.hint ?? pk.rawBytes, givenKey: fp },
      hint: "Pass the public key the model was signed with (--key)",
    });
}

function isInside(root: string, file: string): boolean {
  const rel = path.relative(path.resolve(root), path.resolve(file));
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel);
}

function relativeName(root: string, file: string): string {
  return path.relative(path.resolve(root), path.resolve(file)).split(path.sep).join("/");
}
