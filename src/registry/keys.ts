import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PedigreeError } from "../errors.js";
import { readRegularFileSync } from "../io/regular.js";

/** PEM keys are a few hundred bytes; anything near this is not a key. */
const MAX_KEY_FILE_BYTES = 64 << 10;

/**
 * Ed25519 actor keys (node:crypto). Private keys live in files, never in the registry database:
 * `<keysDir>/<actor>.key` (PKCS#8 PEM, mode 0600). Public keys travel as base64 of the 32 raw bytes,
 * inside the log's `actor.add` entries, so the log alone is enough to check every signature.
 */

/** Actor names appear in file names and graph labels: a conservative alphabet, bounded length. */
const ACTOR_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4); the raw 32-byte key follows it. */
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export interface ActorKey {
  actor: string;
  privateKey: KeyObject;
  /** base64 of the raw 32-byte Ed25519 public key. */
  publicKey: string;
}

export function defaultKeysDir(): string {
  return process.env.PEDIGREE_KEYS ?? path.join(os.homedir(), ".pedigree", "keys");
}

export function checkActorName(actor: string): string {
  if (!ACTOR_NAME.test(actor))
    throw new PedigreeError("USAGE_BAD_ACTOR", `Invalid actor name "${actor}"`, {
      details: { actor },
      hint: "Use 1–64 characters: letters, digits, '.', '_', '@', '-' (not starting with a symbol)",
    });
  return actor;
}

function keyFile(dir: string, actor: string): string {
  return path.join(dir, `${checkActorName(actor)}.key`);
}

export function publicKeyBase64(key: KeyObject): string {
  const der = createPublicKey(key).export({ format: "der", type: "spki" });
  return Buffer.from(der.subarray(ED25519_SPKI_PREFIX.length)).toString("base64");
}

/**
 * Parsed public keys by base64: parsing one costs ≈ 0.8 ms, ≈ 10× the signature check itself, and a
 * log is signed by a handful of actors (replaying 2,000 entries, 2 loaded cores: 2.7 → 1.7 s).
 * Bounded so a hostile log naming many keys cannot grow it without limit.
 */
const KEY_CACHE_MAX = 256;
const keyCache = new Map<string, KeyObject>();

function publicKeyObject(base64: string): KeyObject {
  const cached = keyCache.get(base64);
  if (cached) return cached;
  const key = parsePublicKey(base64);
  if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
  keyCache.set(base64, key);
  return key;
}

function parsePublicKey(base64: string): KeyObject {
  const raw = Buffer.from(base64, "base64");
  if (raw.length !== 32)
    throw new PedigreeError("LOG_BAD_PUBLIC_KEY", `An Ed25519 public key is 32 bytes, got ${raw.length}`, {
      details: { publicKey: base64 },
    });
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

/** Creates `<dir>/<actor>.key`; refuses to overwrite an existing key (that would orphan its signatures). */
export function generateActorKey(dir: string, actor: string): ActorKey {
  const file = keyFile(dir, actor);
  if (fs.existsSync(file))
    throw new PedigreeError("REGISTRY_KEY_EXISTS", `A key for actor "${actor}" already exists at ${file}`, {
      details: { actor, file },
      hint: "Use another actor name, or keep using the existing key",
    });
  const { privateKey } = generateKeyPairSync("ed25519");
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600, flag: "wx" });
  return { actor, privateKey, publicKey: publicKeyBase64(privateKey) };
}

export function loadActorKey(dir: string, actor: string): ActorKey {
  const file = keyFile(dir, actor);
  let pem: string;
  try {
    // A key is a few hundred bytes; a FIFO or device in the key folder must not block the CLI.
    pem = readRegularFileSync(file, MAX_KEY_FILE_BYTES).toString("utf8");
  } catch (cause) {
    throw new PedigreeError("REGISTRY_NO_KEY", `No private key for actor "${actor}" in ${dir}`, {
      details: { actor, file },
      hint: `Run "pedigree registry keygen --actor ${actor}" or point --keys / PEDIGREE_KEYS at the key folder`,
      cause,
    });
  }
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== "ed25519")
    throw new PedigreeError("REGISTRY_BAD_KEY", `${file} is not an Ed25519 private key`, {
      details: { file },
    });
  return { actor, privateKey, publicKey: publicKeyBase64(privateKey) };
}

export function signBytes(key: ActorKey, data: string): string {
  return sign(null, Buffer.from(data, "utf8"), key.privateKey).toString("base64");
}

export function verifySignature(publicKey: string, data: string, signature: string): boolean {
  try {
    return verify(
      null,
      Buffer.from(data, "utf8"),
      publicKeyObject(publicKey),
      Buffer.from(signature, "base64"),
    );
  } catch {
    // A malformed key or signature is simply not a valid signature; callers report which entry.
    return false;
  }
}
