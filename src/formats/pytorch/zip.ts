import { fileError } from "../../errors.js";
import type { ByteSource } from "../../io/types.js";

/**
 * Read-only ZIP central directory (APPNOTE.TXT 6.3.10 §4.3): end-of-central-directory record,
 * ZIP64 locator and record (§4.3.14–15), central headers (§4.3.12) with the ZIP64 extra (§4.5.3),
 * and local headers (§4.3.7) to find each entry's data. Only what PyTorch archives need.
 */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const EOCD_BYTES = 22;
const ZIP64_LOCATOR_BYTES = 20;
const ZIP64_EOCD_BYTES = 56;
const MAX_COMMENT_BYTES = 0xffff;
/** A checkpoint has one entry per storage plus a few; 1M is far above any real model (DeepSeek-V3: ~92k tensors). CWE-789. */
export const ZIP_MAX_ENTRIES = 1_000_000;
/** Central directory read in one go; 256 MB holds ~2.5M entries with PyTorch's long names. */
export const ZIP_MAX_CENTRAL_DIRECTORY_BYTES = 256 << 20;

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** u64 as a number, refused above 2^53 (no file is that large; larger means corrupt). */
function u64(view: DataView, at: number, file: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER))
    throw fileError("FORMAT_ZIP_BAD_RECORD", file, `64-bit field ${v} is out of range`);
  return Number(v);
}

interface DirectoryLocation {
  entries: number;
  cdOffset: number;
  cdSize: number;
  /** Where the directory records end (ZIP64 record or EOCD): no entry data may reach past it. */
  end: number;
}

/**
 * The end record sits in the last 22 bytes unless the archive has a comment (PyTorch's never do), so
 * read just those (plus room for the ZIP64 locator) first, and scan up to 64 KiB back only if needed:
 * remote sources then fetch 42 bytes, not 64 KiB.
 */
async function findEocd(src: ByteSource): Promise<DirectoryLocation> {
  if (src.size < EOCD_BYTES) {
    throw fileError("FORMAT_ZIP_NO_DIRECTORY", src.name, `${src.size} bytes is too small for a zip archive`);
  }
  const quick = await scanTail(src, Math.min(src.size, EOCD_BYTES + ZIP64_LOCATOR_BYTES));
  const found =
    quick ?? (await scanTail(src, Math.min(src.size, EOCD_BYTES + MAX_COMMENT_BYTES + ZIP64_LOCATOR_BYTES)));
  if (!found)
    throw fileError(
      "FORMAT_ZIP_NO_DIRECTORY",
      src.name,
      "no end-of-central-directory record (not a zip archive, or truncated)",
    );
  return found;
}

async function scanTail(src: ByteSource, tailLen: number): Promise<DirectoryLocation | null> {
  const tailStart = src.size - tailLen;
  const t = dv(await src.read(tailStart, tailLen));
  for (let i = tailLen - EOCD_BYTES; i >= 0; i--) {
    if (t.getUint32(i, true) !== EOCD_SIG) continue;
    // The comment must run exactly to the end of the file; otherwise this is a stray signature.
    if (i + EOCD_BYTES + t.getUint16(i + 20, true) !== tailLen) continue;
    if (t.getUint16(i + 4, true) !== 0 || t.getUint16(i + 6, true) !== 0) {
      throw fileError("FORMAT_ZIP_UNSUPPORTED", src.name, "multi-volume archives are not supported");
    }
    const loc = {
      entries: t.getUint16(i + 10, true),
      cdSize: t.getUint32(i + 12, true),
      cdOffset: t.getUint32(i + 16, true),
      end: tailStart + i,
    };
    const needs64 = loc.entries === 0xffff || loc.cdSize === 0xffffffff || loc.cdOffset === 0xffffffff;
    return needs64 || hasZip64Locator(t, i) ? readZip64(src, tailStart + i) : loc;
  }
  return null;
}

function hasZip64Locator(t: DataView, eocdAt: number): boolean {
  return (
    eocdAt >= ZIP64_LOCATOR_BYTES && t.getUint32(eocdAt - ZIP64_LOCATOR_BYTES, true) === ZIP64_LOCATOR_SIG
  );
}

async function readZip64(src: ByteSource, eocdOffset: number): Promise<DirectoryLocation> {
  const file = src.name;
  if (eocdOffset < ZIP64_LOCATOR_BYTES)
    throw fileError("FORMAT_ZIP_BAD_RECORD", file, "ZIP64 locator missing");
  const loc = dv(await src.read(eocdOffset - ZIP64_LOCATOR_BYTES, ZIP64_LOCATOR_BYTES));
  if (loc.getUint32(0, true) !== ZIP64_LOCATOR_SIG)
    throw fileError("FORMAT_ZIP_BAD_RECORD", file, "ZIP64 locator missing");
  const at = u64(loc, 8, file);
  if (at + ZIP64_EOCD_BYTES > eocdOffset - ZIP64_LOCATOR_BYTES) {
    throw fileError("FORMAT_ZIP_BAD_RECORD", file, `ZIP64 record offset ${at} is out of range`, {
      offset: at,
    });
  }
  const r = dv(await src.read(at, ZIP64_EOCD_BYTES));
  if (r.getUint32(0, true) !== ZIP64_EOCD_SIG)
    throw fileError("FORMAT_ZIP_BAD_RECORD", file, "ZIP64 end-of-directory record missing");
  if (r.getUint32(16, true) !== 0 || r.getUint32(20, true) !== 0)
    throw fileError("FORMAT_ZIP_UNSUPPORTED", file, "multi-volume archives are not supported");
  return { entries: u64(r, 32, file), cdSize: u64(r, 40, file), cdOffset: u64(r, 48, file), end: at };
}

/** The central directory, validated: bounded, inside the file, unique names, no encryption. */
export async function readZipDirectory(src: ByteSource): Promise<Map<string, ZipEntry>> {
  const file = src.name;
  const loc = await findEocd(src);
  if (loc.entries > ZIP_MAX_ENTRIES)
    throw fileError("FORMAT_LIMIT_EXCEEDED", file, `${loc.entries} entries exceeds ${ZIP_MAX_ENTRIES}`, {
      entries: loc.entries,
      limit: ZIP_MAX_ENTRIES,
    });
  if (loc.cdSize > ZIP_MAX_CENTRAL_DIRECTORY_BYTES)
    throw fileError(
      "FORMAT_LIMIT_EXCEEDED",
      file,
      `central directory of ${loc.cdSize} bytes exceeds ${ZIP_MAX_CENTRAL_DIRECTORY_BYTES}`,
      { cdSize: loc.cdSize },
    );
  if (loc.cdOffset + loc.cdSize > loc.end)
    throw fileError(
      "FORMAT_ZIP_BAD_RECORD",
      file,
      `central directory [${loc.cdOffset}, +${loc.cdSize}) overlaps the end records at ${loc.end}`,
      { cdOffset: loc.cdOffset, cdSize: loc.cdSize },
    );
  const cd = await src.read(loc.cdOffset, loc.cdSize);
  const entries = new Map<string, ZipEntry>();
  let pos = 0;
  for (let i = 0; i < loc.entries; i++) {
    const { entry, next } = parseCentralEntry(cd, pos, file);
    if (entry.localHeaderOffset >= loc.cdOffset)
      throw fileError(
        "FORMAT_ZIP_BAD_RECORD",
        file,
        `entry "${entry.name}" starts inside the central directory`,
        { entry: entry.name },
      );
    if (entries.has(entry.name))
      throw fileError("FORMAT_ZIP_DUPLICATE_ENTRY", file, `entry "${entry.name}" appears twice`, {
        entry: entry.name,
      });
    entries.set(entry.name, entry);
    pos = next;
  }
  if (pos !== cd.length)
    throw fileError(
      "FORMAT_ZIP_BAD_RECORD",
      file,
      `central directory holds ${cd.length - pos} bytes after its ${loc.entries} entries`,
    );
  return entries;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function parseCentralEntry(cd: Uint8Array, pos: number, file: string): { entry: ZipEntry; next: number } {
  const bad = (msg: string) =>
    fileError("FORMAT_ZIP_BAD_RECORD", file, `central directory entry at ${pos}: ${msg}`, { at: pos });
  if (pos + 46 > cd.length) throw bad("truncated");
  const v = dv(cd);
  if (v.getUint32(pos, true) !== CENTRAL_SIG) throw bad("bad signature");
  const flags = v.getUint16(pos + 8, true);
  const nameLen = v.getUint16(pos + 28, true);
  const extraLen = v.getUint16(pos + 30, true);
  const commentLen = v.getUint16(pos + 32, true);
  const next = pos + 46 + nameLen + extraLen + commentLen;
  if (next > cd.length) throw bad("name, extra or comment runs past the directory");
  let name: string;
  try {
    name = utf8.decode(cd.subarray(pos + 46, pos + 46 + nameLen));
  } catch {
    throw bad("name is not UTF-8");
  }
  if (flags & 0x1)
    throw fileError("FORMAT_ZIP_UNSUPPORTED", file, `entry "${name}" is encrypted`, { entry: name });
  const entry: ZipEntry = {
    name,
    method: v.getUint16(pos + 10, true),
    crc32: v.getUint32(pos + 16, true),
    compressedSize: v.getUint32(pos + 20, true),
    size: v.getUint32(pos + 24, true),
    localHeaderOffset: v.getUint32(pos + 42, true),
  };
  applyZip64Extra(entry, cd.subarray(pos + 46 + nameLen, pos + 46 + nameLen + extraLen), file);
  return { entry, next };
}

/** §4.5.3: the ZIP64 extra holds, in order, only the fields whose 32-bit value is 0xFFFFFFFF. */
function applyZip64Extra(e: ZipEntry, extra: Uint8Array, file: string): void {
  const v = dv(extra);
  for (let p = 0; p + 4 <= extra.length; ) {
    const id = v.getUint16(p, true);
    const len = v.getUint16(p + 2, true);
    if (p + 4 + len > extra.length)
      throw fileError("FORMAT_ZIP_BAD_RECORD", file, `entry "${e.name}": extra field runs past its record`);
    if (id === 0x0001) {
      let q = p + 4;
      const take = (): number => {
        if (q + 8 > p + 4 + len)
          throw fileError("FORMAT_ZIP_BAD_RECORD", file, `entry "${e.name}": ZIP64 extra too short`);
        const x = u64(v, q, file);
        q += 8;
        return x;
      };
      if (e.size === 0xffffffff) e.size = take();
      if (e.compressedSize === 0xffffffff) e.compressedSize = take();
      if (e.localHeaderOffset === 0xffffffff) e.localHeaderOffset = take();
    }
    p += 4 + len;
  }
}

/** Absolute offset of an entry's data, from its local header; the data must end before `limit`. */
export async function entryDataOffset(src: ByteSource, e: ZipEntry, limit: number): Promise<number> {
  const file = src.name;
  if (e.localHeaderOffset + 30 > limit)
    throw fileError("FORMAT_ZIP_BAD_RECORD", file, `entry "${e.name}": local header out of range`, {
      entry: e.name,
    });
  const h = dv(await src.read(e.localHeaderOffset, 30));
  if (h.getUint32(0, true) !== LOCAL_SIG)
    throw fileError("FORMAT_ZIP_BAD_RECORD", file, `entry "${e.name}": bad local header signature`, {
      entry: e.name,
    });
  const start = e.localHeaderOffset + 30 + h.getUint16(26, true) + h.getUint16(28, true);
  if (start + e.compressedSize > limit) {
    throw fileError(
      "FORMAT_TRUNCATED",
      file,
      `entry "${e.name}" data [${start}, +${e.compressedSize}) runs past ${limit}`,
      { entry: e.name, start, length: e.compressedSize },
    );
  }
  return start;
}
