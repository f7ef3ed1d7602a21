import { constants as fsc } from "node:fs";
import fs from "node:fs/promises";
import type { ErrorCode } from "../errors.js";
import { PedigreeError } from "../errors.js";
import type { ModelLocation } from "../io/types.js";

/**
 * Size caps for the JSON files that come with a checkpoint, checked with fstat (or the listing) before
 * a byte is read. JSON.parse builds up to ~14× the text in objects, so each cap is chosen from real
 * files with headroom, not from what memory would allow (CWE-789, CWE-400).
 */
/** config.json / tokenizer_config.json / generation_config.json are KBs; Gemma 3's tokenizer_config.json (chat template, added tokens) is 1.1 MB. */
export const MAX_CONFIG_JSON_BYTES = 16 << 20;
/** The largest real tokenizer.json files (Gemma 2/3, 256k pieces with merges) are 33–35 MB. */
export const MAX_TOKENIZER_JSON_BYTES = 64 << 20;
/** DeepSeek-V3's model.safetensors.index.json (91k tensors, 163 shards) is 8.9 MB. */
export const MAX_SHARD_INDEX_BYTES = 32 << 20;
/** Mapping files are a few hundred rules of a few hundred bytes (`MAX_MAPPING_RULES` × `MAX_PATTERN_LENGTH` ≈ 1 MB). */
export const MAX_MAPPING_FILE_BYTES = 1 << 20;

/**
 * Nesting depth accepted in any input JSON. Real files nest ≤ 8 deep (tokenizer.json: pipeline →
 * Sequence → step → pattern); V8's JSON.parse and every recursive walk overflow the stack near 10⁴–10⁵,
 * so the depth is checked by a flat scan before parsing (CWE-674).
 */
export const MAX_JSON_DEPTH = 64;
/**
 * Arrays, objects, elements and members in one JSON text (counted by the same scan). Parsed, each
 * costs 8–170 bytes against 2–9 bytes of text: a 48 MB object of 5 M short keys takes 0.9 GB, a
 * 48 MB array of 24 M small integers 0.67 GB. The largest real file, Gemma 3's tokenizer.json (262k
 * vocab + 514k merge pairs), has 2.17 M; 6 M leaves room and keeps a parse under ~0.5 GB.
 */
export const MAX_JSON_ITEMS = 6_000_000;

export interface JsonShape {
  maxDepth: number;
  /** Arrays, objects, array elements and object members: the count of heap objects JSON.parse may build. */
  items: number;
  /** Object members at depth 1, 2 and 3 (index 0, 1, 2): the entries a format's top-level maps hold. */
  keysAtDepth: [number, number, number];
}

/** Depth and container count of a JSON text by one flat pass (strings skipped); stops early past `depthCap`. */
export function scanJsonShape(text: string, depthCap = MAX_JSON_DEPTH): JsonShape {
  let depth = 0;
  let maxDepth = 0;
  let items = 0;
  const keysAtDepth: [number, number, number] = [0, 0, 0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < text.length; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x5c /* \ */) i++;
        else if (s === 0x22) break;
      }
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      items++;
      if (++depth > maxDepth) {
        maxDepth = depth;
        if (maxDepth > depthCap) break;
      }
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    } else if (c === 0x2c /* , */) {
      items++;
    } else if (c === 0x3a /* : */) {
      items++;
      if (depth >= 1 && depth <= 3) keysAtDepth[depth - 1] = (keysAtDepth[depth - 1] ?? 0) + 1;
    }
  }
  return { maxDepth, items, keysAtDepth };
}

export interface JsonLimits {
  /** Error code for a limit exceeded (`FORMAT_LIMIT_EXCEEDED`, `TOKENIZER_LIMIT_EXCEEDED`, …). */
  code: ErrorCode;
  /** Error code for text that is not JSON. */
  syntaxCode: ErrorCode;
  hint: string;
  maxItems?: number;
  /** Most members allowed in objects at depth 1..3 (a safetensors header's tensors are at depth 1). */
  maxKeysAtDepth?: { depth: 1 | 2 | 3; limit: number; constant: string; what: string };
}

/**
 * JSON.parse behind the shape caps: nesting deeper than MAX_JSON_DEPTH and more values than
 * MAX_JSON_ITEMS are refused before parsing, and anything JSON.parse still throws (RangeError, SyntaxError)
 * becomes a coded error.
 */
export function parseJsonText(text: string, file: string, limits: JsonLimits): unknown {
  const shape = scanJsonShape(text);
  const maxItems = limits.maxItems ?? MAX_JSON_ITEMS;
  if (shape.maxDepth > MAX_JSON_DEPTH) {
    throw limitError(limits, file, "nesting depth", shape.maxDepth, MAX_JSON_DEPTH, "MAX_JSON_DEPTH");
  }
  if (shape.items > maxItems) {
    throw limitError(limits, file, "values", shape.items, maxItems, "MAX_JSON_ITEMS");
  }
  const k = limits.maxKeysAtDepth;
  const keys = k ? (shape.keysAtDepth[k.depth - 1] ?? 0) : 0;
  if (k && keys > k.limit) {
    throw limitError(limits, file, k.what, keys, k.limit, k.constant);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new PedigreeError(limits.syntaxCode, `${file}: not valid JSON (${(e as Error).message})`, {
      details: { file },
      hint: limits.hint,
      cause: e,
    });
  }
}

function limitError(
  limits: JsonLimits,
  file: string,
  what: string,
  actual: number,
  limit: number,
  name: string,
): PedigreeError {
  return new PedigreeError(
    limits.code,
    `${file}: ${what} ${actual} exceeds the limit of ${limit} (${name})`,
    {
      details: { file, what, actual, limit, constant: name },
      hint: limits.hint,
    },
  );
}

/**
 * A location's small file as text, its size checked against `maxBytes` before reading. Local files are
 * opened and fstat-ed (no race between the check and the read); Hub files are checked against the
 * listed size; every remote body is capped by the HTTP client while streaming.
 */
export async function readCappedText(
  location: ModelLocation,
  rel: string,
  maxBytes: number,
  code: ErrorCode,
): Promise<string> {
  if (location.kind !== "local") {
    // A Hub listing is fetched once and carries sizes; a plain https folder would re-probe every
    // candidate, so there the HTTP client's own streaming cap bounds the read and the size is checked after.
    if (location.kind === "hf") {
      const listed = (await location.list()).find((f) => f.path === rel);
      if (listed?.size != null) checkSize(`${location.spec}:${rel}`, listed.size, maxBytes, code);
    }
    const text = await location.readText(rel);
    checkSize(`${location.spec}:${rel}`, text.length, maxBytes, code);
    return text;
  }
  const src = await location.open(rel);
  try {
    checkSize(src.name, src.size, maxBytes, code);
    return Buffer.from(await src.read(0, src.size)).toString("utf8");
  } finally {
    await src.close();
  }
}

/**
 * A local file given by path (a mapping file, a sample file) read whole after fstat: non-regular
 * files (/dev/zero, a FIFO, a folder) are refused, and the size cap is checked before reading.
 */
export async function readRegularFile(file: string, maxBytes: number, code: ErrorCode): Promise<Buffer> {
  let handle: fs.FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO for reading must not wait for a writer; it is refused just below.
    handle = await fs.open(file, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    throw new PedigreeError(
      errno === "ENOENT" ? "IO_NOT_FOUND" : "IO_READ_FAILED",
      `${file}: cannot open (${errno})`,
      {
        details: { file, errno },
        cause: e,
      },
    );
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      throw new PedigreeError("IO_NOT_REGULAR_FILE", `${file} is not a regular file`, {
        details: { file },
        hint: "Give a path to a regular file (not a device, FIFO or folder)",
      });
    }
    checkSize(file, st.size, maxBytes, code);
    const buf = Buffer.alloc(st.size);
    let done = 0;
    while (done < st.size) {
      const { bytesRead } = await handle.read(buf, done, st.size - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return buf.subarray(0, done);
  } finally {
    await handle.close();
  }
}

function checkSize(file: string, size: number, maxBytes: number, code: ErrorCode): void {
  if (size > maxBytes) {
    throw new PedigreeError(
      code,
      `${file} is ${size} bytes; the limit for this kind of file is ${maxBytes}`,
      {
        details: { file, size, limit: maxBytes },
        hint: "Real files of this kind are far smaller; this one is probably not what its name says",
      },
    );
  }
}
