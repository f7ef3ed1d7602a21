import { createHash, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { at } from "../../checked.js";
import { PedigreeError } from "../../errors.js";

/**
 * C2SP signed notes (c2sp.org/signed-note): a text ending in a newline, a blank line, then one line
 * per signature, `— <key name> base64(key id ‖ signature)`. Written by hand rather than taken from a
 * library: it is a strict parser of untrusted input, and no maintained JavaScript package implements
 * the format; every rule below is the spec's.
 */

/** Signature type bytes (signed-note §Signature types). */
export const SIG_ED25519 = 0x01;
export const SIG_COSIGNATURE_V1 = 0x04;

/** The spec asks verifiers to bound signatures per note and accept at least 16; notes above 1 MiB are not checkpoints. */
export const MAX_NOTE_SIGNATURES = 64;
export const MAX_NOTE_BYTES = 1 << 20;

const EM_DASH = "\u2014";
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export interface NoteSignature {
  name: string;
  keyId: number;
  /** The signature bytes after the 4-byte key id. */
  sig: Buffer;
}

export interface Note {
  /** The signed text, including its final newline. */
  text: string;
  sigs: NoteSignature[];
}

/** A verifier key: name, key id, signature type and the raw public key. */
export interface Verifier {
  name: string;
  keyId: number;
  type: number;
  publicKey: Buffer;
}

function malformed(message: string, details: Record<string, unknown> = {}): PedigreeError {
  return new PedigreeError("LOG_NOTE_MALFORMED", message, {
    details,
    hint: "A signed note is text, a blank line, then lines '— <name> <base64 signature>' (c2sp.org/signed-note)",
  });
}

/** SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4] as a big-endian uint32 (signed-note §Signatures). */
export function keyIdOf(name: string, type: number, publicKey: Uint8Array): number {
  const h = createHash("sha256")
    .update(Buffer.from(`${name}\n`, "utf8"))
    .update(Buffer.from([type]))
    .update(publicKey)
    .digest();
  return h.readUInt32BE(0);
}

export function checkKeyName(name: string): string {
  if (name.length === 0 || /[\s+]/u.test(name))
    throw malformed(`Key name "${name}" is empty or holds a space or '+'`, { name });
  return name;
}

export function parseNote(input: string | Buffer): Note {
  const bytes = typeof input === "string" ? Buffer.from(input, "utf8") : input;
  if (bytes.length > MAX_NOTE_BYTES) throw malformed(`The note is over ${MAX_NOTE_BYTES} bytes`);
  const s = bytes.toString("utf8");
  if (!Buffer.from(s, "utf8").equals(bytes)) throw malformed("The note is not valid UTF-8");
  if (/[\u0000-\u0009\u000b-\u001f]/.test(s)) throw malformed("The note holds a control character");
  if (!s.endsWith("\n")) throw malformed("The note does not end with a newline");
  const split = s.lastIndexOf("\n\n");
  if (split < 0) throw malformed("The note has no blank line before its signatures");
  const text = s.slice(0, split + 1);
  const lines = s.slice(split + 2, -1).split("\n");
  if (lines.length > MAX_NOTE_SIGNATURES)
    throw malformed(`The note carries ${lines.length} signatures; at most ${MAX_NOTE_SIGNATURES} are read`);
  const sigs = lines.map((line) => parseSignatureLine(line));
  if (sigs.length === 0) throw malformed("The note carries no signature");
  return { text, sigs };
}

function parseSignatureLine(line: string): NoteSignature {
  const m = /^\u2014 (\S+) ([A-Za-z0-9+/]+={0,2})$/u.exec(line);
  if (!m) throw malformed(`Not a signature line: "${line.slice(0, 80)}"`, { line });
  const name = checkKeyName(m[1] as string);
  const raw = Buffer.from(m[2] as string, "base64");
  if (raw.length < 5 || raw.toString("base64") !== m[2])
    throw malformed(`The signature of "${name}" is not canonical base64 of a key id and a signature`, {
      name,
    });
  return { name, keyId: raw.readUInt32BE(0), sig: raw.subarray(4) };
}

export function formatSignatureLine(name: string, keyId: number, sig: Uint8Array): string {
  const id = Buffer.alloc(4);
  id.writeUInt32BE(keyId >>> 0);
  return `${EM_DASH} ${name} ${Buffer.concat([id, sig]).toString("base64")}\n`;
}

export function formatNote(note: Note): string {
  return `${note.text}\n${note.sigs.map((s) => formatSignatureLine(s.name, s.keyId, s.sig)).join("")}`;
}

/** `name+hex(keyid)+base64(type ‖ key)` (signed-note §Verifier keys). */
export function parseVerifierKey(vkey: string): Verifier {
  // The name holds no '+', the key id is hex: split at the first two '+' (base64 may hold more).
  const t = vkey.trim();
  const i = t.indexOf("+");
  const j = t.indexOf("+", i + 1);
  const parts = i < 0 || j < 0 ? [t] : [t.slice(0, i), t.slice(i + 1, j), t.slice(j + 1)];
  const bad = (why: string) =>
    new PedigreeError("LOG_BAD_VERIFIER_KEY", `Verifier key "${vkey.slice(0, 80)}": ${why}`, {
      details: { vkey },
      hint: "A verifier key reads <name>+<8 hex digits>+<base64 of type byte and public key>",
    });
  if (parts.length !== 3) throw bad("expected three parts separated by '+'");
  const [name, idHex, b64] = parts as [string, string, string];
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw bad("the key id is not 8 lower-case hex digits");
  const raw = Buffer.from(b64, "base64");
  if (raw.length < 2) throw bad("no key material");
  const type = at(raw, 0, "verifier key type byte");
  const publicKey = raw.subarray(1);
  if ((type === SIG_ED25519 || type === SIG_COSIGNATURE_V1) && publicKey.length !== 32)
    throw bad(`an Ed25519 key is 32 bytes, got ${publicKey.length}`);
  const keyId = Number.parseInt(idHex, 16);
  if (keyIdOf(name, type, publicKey) !== keyId) throw bad("the key id does not match the name and key");
  return { name: checkKeyName(name), keyId, type, publicKey };
}

export function formatVerifierKey(name: string, type: number, publicKey: Uint8Array): string {
  const id = keyIdOf(name, type, publicKey).toString(16).padStart(8, "0");
  return `${name}+${id}+${Buffer.concat([Buffer.from([type]), publicKey]).toString("base64")}`;
}

export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

export function rawEd25519(key: KeyObject): Buffer {
  const der = createPublicKey(key).export({ format: "der", type: "spki" });
  return Buffer.from(der.subarray(ED25519_SPKI_PREFIX.length));
}

/** An Ed25519 note signature (type 0x01) by `privateKey` under `name`. */
export function signNoteText(text: string, name: string, privateKey: KeyObject): NoteSignature {
  const keyId = keyIdOf(checkKeyName(name), SIG_ED25519, rawEd25519(privateKey));
  return { name, keyId, sig: sign(null, Buffer.from(text, "utf8"), privateKey) };
}

export type SignatureStatus = "verified" | "failed" | "unknown";

/**
 * Checks a note against Ed25519 (type 0x01) verifiers. Per the spec, signatures whose (name, key id)
 * match no verifier are ignored; a matching one must verify.
 */
export function verifyNote(
  note: Note,
  verifiers: readonly Verifier[],
): { verified: Verifier[]; failed: Verifier[] } {
  const verified: Verifier[] = [];
  const failed: Verifier[] = [];
  for (const s of note.sigs) {
    const v = verifiers.find((k) => k.type === SIG_ED25519 && k.name === s.name && k.keyId === s.keyId);
    if (!v) continue;
    const ok =
      s.sig.length === 64 &&
      verify(null, Buffer.from(note.text, "utf8"), ed25519PublicKey(v.publicKey), s.sig);
    (ok ? verified : failed).push(v);
  }
  return { verified, failed };
}
