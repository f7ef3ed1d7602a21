import { createHash } from "node:crypto";
import { constants as fsc } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import { PedigreeError } from "../errors.js";
import { parseJsonText } from "../formats/json-file.js";
import { writeFileAtomic } from "../io/atomic-write.js";
import { readRegularFile } from "../io/regular.js";
import { corrupt, decodeValue, encodeValue } from "./codec.js";
import type { Fingerprint } from "./types.js";
import { validateFingerprint } from "./validate.js";

/**
 * The fingerprint container (docs/fingerprint-format.md):
 *   0   8  magic "PEDIGFP\x1a"        8  4  u32le container version    12  4  u32le flags (bit 0: deflate)
 *   16  8  u64le stored payload bytes  24 8  u64le raw payload bytes     32  P  payload
 *   32+P 32 SHA-256 of bytes [0, 32+P)
 * Raw payload: u32le JSON length J, JSON (UTF-8), zero padding to a multiple of 8, typed-array blob.
 * No timestamps or host data: the same fingerprint always gives the same bytes.
 */
export const MAGIC = Buffer.from("PEDIGFP\x1a", "latin1");
export const CONTAINER_VERSION = 1;
const FLAG_DEFLATE = 1;
const PRELUDE_BYTES = 32;
const TRAILER_BYTES = 32;
/**
 * Stored and raw (inflated) payload cap. Fingerprints are ≤ 64 MB by design (≈ 59 MB raw for a 70B
 * model); 4× headroom, and a decode of the largest accepted file (payload + typed-array copies) stays
 * well under 1 GB. The raw size is declared in the prelude and inflation stops at it (CWE-409).
 */
export const MAX_PAYLOAD_BYTES = 256 << 20;
/** zlib level: fixed, since the bytes must not depend on defaults. */
const DEFLATE_LEVEL = 6;

export function encodeFingerprint(fp: Fingerprint): Buffer {
  return Buffer.concat(encodeParts(fp));
}

/** The file as [prelude, payload, digest]: a writer need not join them (≈ 1× the file less memory). */
function encodeParts(fp: Fingerprint): [Buffer, Buffer, Buffer] {
  const raw = rawPayload(fp);
  const payload = zlib.deflateRawSync(Buffer.concat(raw.pieces, raw.length), { level: DEFLATE_LEVEL });
  const prelude = preludeOf(payload.length, raw.length);
  const digest = createHash("sha256").update(prelude).update(payload).digest();
  return [prelude, payload, digest];
}

/** The raw payload as pieces (the JSON and views of the fingerprint's typed arrays, not copies). */
function rawPayload(fp: Fingerprint): { pieces: Uint8Array[]; length: number } {
  assertLittleEndian();
  const enc = encodeValue(fp);
  const json = Buffer.from(enc.json, "utf8");
  const head = Buffer.alloc(4);
  head.writeUInt32LE(json.length, 0);
  const pad = Buffer.alloc((8 - ((4 + json.length) % 8)) % 8);
  const length = head.length + json.length + pad.length + enc.blobBytes;
  if (length > MAX_PAYLOAD_BYTES) {
    throw new PedigreeError(
      "FINGERPRINT_LIMIT_EXCEEDED",
      `Fingerprint payload of ${length} bytes exceeds ${MAX_PAYLOAD_BYTES}`,
      {
        details: { bytes: length, limit: MAX_PAYLOAD_BYTES },
      },
    );
  }
  return { pieces: [head, json, pad, ...enc.blobs], length };
}

function preludeOf(storedBytes: number, rawBytes: number): Buffer {
  const prelude = Buffer.alloc(PRELUDE_BYTES);
  MAGIC.copy(prelude, 0);
  prelude.writeUInt32LE(CONTAINER_VERSION, 8);
  prelude.writeUInt32LE(FLAG_DEFLATE, 12);
  prelude.writeBigUInt64LE(BigInt(storedBytes), 16);
  prelude.writeBigUInt64LE(BigInt(rawBytes), 24);
  return prelude;
}

export function decodeFingerprint(buf: Uint8Array, name = "fingerprint"): Fingerprint {
  assertLittleEndian();
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const where = { file: name, size: b.length };
  if (b.length < MAGIC.length || !b.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new PedigreeError("FINGERPRINT_BAD_MAGIC", `${name} is not a Pedigree fingerprint (bad magic)`, {
      details: where,
      hint: "Pass a file written by `pedigree fingerprint`, or a model folder/file",
    });
  }
  if (b.length < PRELUDE_BYTES) throw truncated(name, b.length, PRELUDE_BYTES);
  const version = b.readUInt32LE(8);
  const flags = b.readUInt32LE(12);
  if (version !== CONTAINER_VERSION) {
    throw new PedigreeError(
      "FINGERPRINT_UNKNOWN_VERSION",
      `${name} has fingerprint format version ${version}; this Pedigree reads version ${CONTAINER_VERSION}`,
      {
        details: { ...where, version, supported: [CONTAINER_VERSION] },
        hint: "Recompute the fingerprint with this Pedigree, or use the Pedigree version that wrote it",
      },
    );
  }
  if ((flags & ~FLAG_DEFLATE) !== 0) throw corrupt("prelude", `unknown flags 0x${flags.toString(16)}`);
  const stored = Number(b.readBigUInt64LE(16));
  const rawLength = Number(b.readBigUInt64LE(24));
  for (const [what, n] of [
    ["stored payload", stored],
    ["raw payload", rawLength],
  ] as const) {
    if (n > MAX_PAYLOAD_BYTES) {
      throw new PedigreeError(
        "FINGERPRINT_LIMIT_EXCEEDED",
        `${name}: ${what} of ${n} bytes exceeds the ${MAX_PAYLOAD_BYTES}-byte limit`,
        {
          details: { ...where, what, bytes: n, limit: MAX_PAYLOAD_BYTES },
          hint: "The file is damaged or hostile; recompute it",
        },
      );
    }
  }
  const end = PRELUDE_BYTES + stored + TRAILER_BYTES;
  if (b.length < end) throw truncated(name, b.length, end);
  if (b.length > end) throw corrupt("trailer", `${b.length - end} unexpected bytes after the checksum`);
  const digest = createHash("sha256")
    .update(b.subarray(0, PRELUDE_BYTES + stored))
    .digest();
  if (!digest.equals(b.subarray(PRELUDE_BYTES + stored))) {
    throw new PedigreeError("FINGERPRINT_CHECKSUM_MISMATCH", `${name}: checksum does not match the content`, {
      details: where,
      hint: "The file was modified or damaged; recompute it",
    });
  }
  const raw = inflate(b.subarray(PRELUDE_BYTES, PRELUDE_BYTES + stored), flags, rawLength);
  return validateFingerprint(parsePayload(raw));
}

function inflate(payload: Buffer, flags: number, rawLength: number): Buffer {
  if (!(flags & FLAG_DEFLATE)) {
    if (payload.length !== rawLength) throw corrupt("payload", "raw length does not match the stored length");
    return payload;
  }
  let raw: Buffer;
  try {
    // zlib stops producing output past maxOutputLength: a bomb costs at most the declared (capped) size.
    raw = zlib.inflateRawSync(payload, { maxOutputLength: Math.max(rawLength, 1) });
  } catch (e) {
    throw corrupt("payload", `deflate stream does not decode (${(e as Error).message})`);
  }
  if (raw.length !== rawLength)
    throw corrupt("payload", `inflated to ${raw.length} bytes, header says ${rawLength}`);
  return raw;
}

function parsePayload(raw: Buffer): unknown {
  if (raw.length < 4) throw corrupt("payload", "shorter than its JSON length field");
  const jsonLength = raw.readUInt32LE(0);
  const blobStart = 4 + jsonLength + ((8 - ((4 + jsonLength) % 8)) % 8);
  if (blobStart > raw.length) throw corrupt("payload", `JSON length ${jsonLength} runs past the payload`);
  const tree = parseJsonText(raw.toString("utf8", 4, 4 + jsonLength), "fingerprint payload", {
    code: "FINGERPRINT_LIMIT_EXCEEDED",
    syntaxCode: "FINGERPRINT_CORRUPT",
    hint: "Recompute the fingerprint with `pedigree fingerprint <model>`",
  });
  return decodeValue(tree, raw.subarray(blobStart));
}

function truncated(name: string, size: number, needed: number): PedigreeError {
  return new PedigreeError(
    "FINGERPRINT_TRUNCATED",
    `${name} is ${size} bytes but its header needs ${needed}`,
    {
      details: { file: name, size, needed },
      hint: "The file is incomplete (interrupted copy or download); copy or recompute it",
    },
  );
}

function assertLittleEndian(): void {
  if (os.endianness() !== "LE") {
    throw new PedigreeError(
      "UNSUPPORTED_BIG_ENDIAN",
      "Fingerprint files are only read and written on little-endian hosts",
    );
  }
}

/**
 * Writes atomically and durably (io/atomic-write.ts) so a crash never leaves a half-written fingerprint.
 * The same bytes as encodeFingerprint, streamed: the payload is deflated piece by piece straight into
 * the file (zlib's output does not depend on how its input is cut), the prelude written over its
 * placeholder once the payload's length is known, and the checksum computed by reading the file
 * back. Joining the raw payload (≈ 60 MB for a 70B model) and holding its deflated copy besides
 * made writing the fingerprint the peak of a whole 70B fingerprint's memory.
 */
export async function writeFingerprintFile(fp: Fingerprint, file: string): Promise<number> {
  const raw = rawPayload(fp);
  try {
    return await writeFileAtomic(file, async (fh) => {
      let stored = 0;
      await pipeline(
        Readable.from(raw.pieces),
        zlib.createDeflateRaw({ level: DEFLATE_LEVEL }),
        async (deflated: AsyncIterable<Buffer>) => {
          for await (const c of deflated) {
            await fh.write(c, 0, c.length, PRELUDE_BYTES + stored);
            stored += c.length;
          }
        },
      );
      const prelude = preludeOf(stored, raw.length);
      await fh.write(prelude, 0, PRELUDE_BYTES, 0);
      const hash = createHash("sha256").update(prelude);
      const buf = Buffer.alloc(Math.min(stored, 1 << 20));
      for (let at = 0; at < stored; ) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, stored - at), PRELUDE_BYTES + at);
        if (bytesRead === 0) throw new Error("the payload just written reads back short");
        hash.update(buf.subarray(0, bytesRead));
        at += bytesRead;
      }
      await fh.write(hash.digest(), 0, TRAILER_BYTES, PRELUDE_BYTES + stored);
      return PRELUDE_BYTES + stored + TRAILER_BYTES;
    });
  } catch (e) {
    throw new PedigreeError("IO_WRITE_FAILED", `Cannot write fingerprint ${file}: ${(e as Error).message}`, {
      details: { file },
      cause: e,
    });
  }
}

export async function readFingerprintFile(file: string): Promise<Fingerprint> {
  // fstat before reading: a device or FIFO is refused, and the size cap holds before a byte is read.
  const limit = PRELUDE_BYTES + MAX_PAYLOAD_BYTES + TRAILER_BYTES;
  return decodeFingerprint(await readRegularFile(file, limit, "FINGERPRINT_LIMIT_EXCEEDED"), file);
}

export async function hasFingerprintMagic(file: string): Promise<boolean> {
  let handle: fs.FileHandle | null = null;
  try {
    // O_NONBLOCK: probing a FIFO must not wait for a writer; only regular files can be fingerprints.
    handle = await fs.open(file, fsc.O_RDONLY | fsc.O_NONBLOCK);
    if (!(await handle.stat()).isFile()) return false;
    const head = Buffer.alloc(MAGIC.length);
    const { bytesRead } = await handle.read(head, 0, MAGIC.length, 0);
    return bytesRead === MAGIC.length && head.equals(MAGIC);
  } catch {
    return false; // a folder or an unreadable path is not a fingerprint file; the caller opens it as a model
  } finally {
    await handle?.close();
  }
}
