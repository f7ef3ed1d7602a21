import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import fs from "node:fs";
import { PedigreeError } from "../errors.js";

/**
 * DSSE (Dead Simple Signing Envelope) v1: the signature covers the Pre-Authentication Encoding
 * PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, with LEN the decimal byte
 * length. ECDSA P-256 signatures are DER-encoded over SHA-256 (as Sigstore and model_signing write
 * them); Ed25519 signs PAE directly.
 */

export const INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";

export interface DsseSignature {
  sig: string;
  keyid?: string | null;
}

export interface DsseEnvelope {
  payload: string;
  payloadType: string;
  signatures: DsseSignature[];
}

export function pae(payloadType: string, body: Buffer): Buffer {
  const type = Buffer.from(payloadType, "utf8");
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${body.length} `), body]);
}

export type SigningKind = "ecdsa-p256" | "ed25519";

export function keyKind(key: KeyObject): SigningKind {
  if (key.asymmetricKeyType === "ed25519") return "ed25519";
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1")
    return "ecdsa-p256";
  throw new PedigreeError(
    "ATTEST_BAD_KEY",
    `Unsupported key type ${key.asymmetricKeyType ?? "?"} ${key.asymmetricKeyDetails?.namedCurve ?? ""}`.trim(),
    {
      hint: "Use an ECDSA P-256 key (openssl ecparam -name prime256v1 -genkey) or an Ed25519 key",
    },
  );
}

/** Hex SHA-256 of the DER SubjectPublicKeyInfo: the key's fingerprint (OMS `publicKey.hint`, DSSE `keyid`). */
export function keyFingerprint(key: KeyObject): string {
  return createHash("sha256").update(spkiDer(key)).digest("hex");
}

/** The DER SubjectPublicKeyInfo of a public key, or of a private key's public half. */
export function spkiDer(key: KeyObject): Buffer {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return pub.export({ format: "der", type: "spki" });
}

export function signEnvelope(
  payload: Buffer,
  payloadType: string,
  privateKey: KeyObject,
  keyid?: string,
): DsseEnvelope {
  const kind = keyKind(privateKey);
  const sig = sign(kind === "ed25519" ? null : "sha256", pae(payloadType, payload), privateKey);
  return {
    payload: payload.toString("base64"),
    payloadType,
    signatures: [{ sig: sig.toString("base64"), ...(keyid === undefined ? {} : { keyid }) }],
  };
}

/** True when some signature of the envelope verifies under `publicKey`. */
export function verifyEnvelope(env: DsseEnvelope, publicKey: KeyObject): boolean {
  const kind = keyKind(publicKey);
  const message = pae(env.payloadType, Buffer.from(env.payload, "base64"));
  return env.signatures.some((s) => {
    try {
      return verify(kind === "ed25519" ? null : "sha256", message, publicKey, Buffer.from(s.sig, "base64"));
    } catch {
      return false; // a malformed signature is not a valid one
    }
  });
}

function readKeyFile(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (cause) {
    throw new PedigreeError("IO_READ_FAILED", `Cannot read key ${file}`, {
      details: { file },
      cause,
      hint: "Check the path",
    });
  }
}

export function loadPrivateKey(file: string): KeyObject {
  const pem = readKeyFile(file);
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (cause) {
    throw new PedigreeError("ATTEST_BAD_KEY", `${file} is not a PEM private key`, {
      details: { file },
      cause,
    });
  }
  keyKind(key);
  return key;
}

/** A PEM public key, or the public half of a PEM private key. */
export function loadPublicKey(file: string): KeyObject {
  const pem = readKeyFile(file);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (cause) {
    throw new PedigreeError("ATTEST_BAD_KEY", `${file} is not a PEM public key`, {
      details: { file },
      cause,
    });
  }
  keyKind(key);
  return key;
}
