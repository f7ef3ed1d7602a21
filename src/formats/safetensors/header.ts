import { fileError, PedigreeError } from "../../errors.js";
import type { ByteSource } from "../../io/types.js";
import { DTYPE_BYTES, type ElementDType, parseElementDType } from "../dtypes.js";
import { parseJsonText } from "../json-file.js";
import { duplicateKeyPath } from "../json-keys.js";

/**
 * safetensors layout (huggingface/safetensors, `safetensors/src/tensor.rs`): an 8-byte little-endian
 * header length N, N bytes of UTF-8 JSON `{name: {dtype, shape, data_offsets: [begin, end]}, ...,
 * "__metadata__": {str: str}}`, then the data section. Offsets are relative to the data section.
 */

/** The reference implementation's MAX_HEADER_SIZE: refuse before allocating a hostile length (CWE-789). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;
/**
 * Tensors in one safetensors file, counted before the header is parsed. The largest real checkpoints
 * (DeepSeek-V3, 671B: ~91k tensors in all, across 163 shards) stay far below; 2^18 keeps parsing a
 * hostile header under ~1 s and ~0.45 GB (10^6 entries took 4 s and 1.2 GB).
 */
export const SAFETENSORS_MAX_TENSORS = 1 << 18;
/** The length prefix. */
export const SAFETENSORS_PREFIX_BYTES = 8;

export interface SafetensorsEntry {
  name: string;
  dtype: ElementDType;
  shape: number[];
  /** [begin, end) relative to the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Absolute offset of the data section (8 + N). */
  dataStart: number;
  metadata: Record<string, string>;
  /** Sorted by offset (file order). */
  entries: SafetensorsEntry[];
}

const NOT_SAFETENSORS = "The file is not a valid safetensors file; it may be truncated or corrupt";

/** Reads and validates the header of one safetensors file: two positional reads, never the data. */
export async function readSafetensorsHeader(source: ByteSource): Promise<SafetensorsHeader> {
  const fail = (
    code: "FORMAT_TRUNCATED" | "FORMAT_LIMIT_EXCEEDED",
    msg: string,
    details: Record<string, unknown>,
  ) => fileError(code, source.name, msg, details, NOT_SAFETENSORS);
  if (source.size < SAFETENSORS_PREFIX_BYTES) {
    throw fail("FORMAT_TRUNCATED", `${source.size} bytes is too small for a safetensors header`, {
      size: source.size,
    });
  }
  const prefix = await source.read(0, SAFETENSORS_PREFIX_BYTES);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    throw fail("FORMAT_LIMIT_EXCEEDED", `header length ${n} exceeds ${SAFETENSORS_MAX_HEADER_BYTES} bytes`, {
      headerLength: n.toString(),
      limit: SAFETENSORS_MAX_HEADER_BYTES,
    });
  }
  const headerLength = Number(n);
  if (SAFETENSORS_PREFIX_BYTES + headerLength > source.size) {
    throw fail(
      "FORMAT_TRUNCATED",
      `header length ${headerLength} runs past the end of the file (${source.size} bytes)`,
      {
        headerLength,
        size: source.size,
      },
    );
  }
  const raw = await source.read(SAFETENSORS_PREFIX_BYTES, headerLength);
  return parseSafetensorsHeader(raw, source.size, source.name);
}

/** Validates header bytes (without the length prefix) against a file of `fileSize` bytes. */
export function parseSafetensorsHeader(raw: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const json = decodeHeaderJson(raw, file);
  const dataStart = SAFETENSORS_PREFIX_BYTES + raw.length;
  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === "__metadata__") metadata = parseMetadata(value, file);
    else entries.push(parseEntry(name, value, file));
  }
  // Exact count (the pre-parse scan allows one more key, for `__metadata__`).
  if (entries.length > SAFETENSORS_MAX_TENSORS) {
    throw fileError(
      "FORMAT_LIMIT_EXCEEDED",
      file,
      `${entries.length} tensors exceed ${SAFETENSORS_MAX_TENSORS}`,
      {
        tensors: entries.length,
        limit: SAFETENSORS_MAX_TENSORS,
      },
    );
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  checkLayout(entries, fileSize - dataStart, file);
  return { dataStart, metadata, entries };
}

function decodeHeaderJson(raw: Uint8Array, file: string): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch (e) {
    throw fileError("SAFETENSORS_HEADER_NOT_UTF8", file, "header is not valid UTF-8", { cause: String(e) });
  }
  // The reference requires the JSON to start at the first byte; trailing spaces are allowed padding.
  if (!text.startsWith("{"))
    throw fileError("SAFETENSORS_HEADER_NOT_OBJECT", file, "header does not start with '{'");
  const json = parseJsonText(text, file, {
    code: "FORMAT_LIMIT_EXCEEDED",
    syntaxCode: "SAFETENSORS_HEADER_NOT_JSON",
    hint: "The safetensors header is malformed; the file is corrupt or was not written by a safetensors writer",
    // One entry of `__metadata__` besides the tensors.
    maxKeysAtDepth: {
      depth: 1,
      limit: SAFETENSORS_MAX_TENSORS + 1,
      constant: "SAFETENSORS_MAX_TENSORS",
      what: "tensors",
    },
  });
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw fileError("SAFETENSORS_HEADER_NOT_OBJECT", file, "header is not a JSON object");
  }
  const dup = duplicateKeyPath(text, json);
  if (dup) {
    throw fileError("SAFETENSORS_DUPLICATE_KEY", file, `header repeats the key ${dup.join(" → ")}`, {
      key: dup,
    });
  }
  return json as Record<string, unknown>;
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  if (value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw fileError("SAFETENSORS_BAD_METADATA", file, "__metadata__ is not an object of strings");
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string") {
      throw fileError("SAFETENSORS_BAD_METADATA", file, `__metadata__.${k} is ${typeof v}, not a string`, {
        key: k,
      });
    }
  }
  return value as Record<string, string>;
}

function isIndex(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function parseEntry(name: string, value: unknown, file: string): SafetensorsEntry {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw fileError("SAFETENSORS_BAD_ENTRY", file, `tensor "${name}" is not an object`, { tensor: name });
  }
  const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  const dtype = parseElementDType(v.dtype, `${file}: tensor "${name}"`);
  const shape = v.shape;
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    throw fileError(
      "SAFETENSORS_BAD_SHAPE",
      file,
      `tensor "${name}" shape is not a list of non-negative integers`,
      {
        tensor: name,
        shape: v.shape,
      },
    );
  }
  const off = v.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !isIndex(off[0]) || !isIndex(off[1])) {
    throw fileError("SAFETENSORS_BAD_OFFSETS", file, `tensor "${name}" data_offsets is not [begin, end]`, {
      tensor: name,
      dataOffsets: off,
    });
  }
  const [begin, end] = off as [number, number];
  if (end < begin) {
    throw fileError(
      "SAFETENSORS_BAD_OFFSETS",
      file,
      `tensor "${name}" ends (${end}) before it begins (${begin})`,
      {
        tensor: name,
        begin,
        end,
      },
    );
  }
  const nbytes = checkedByteLength(shape, DTYPE_BYTES[dtype], name, file);
  if (nbytes !== end - begin) {
    throw fileError(
      "SAFETENSORS_SIZE_MISMATCH",
      file,
      `tensor "${name}" ${dtype}[${shape.join(",")}] needs ${nbytes} bytes but its offsets span ${end - begin}`,
      { tensor: name, expected: nbytes, actual: end - begin },
    );
  }
  return { name, dtype, shape, begin, end };
}

/** elements × bytes with every intermediate product kept below 2^53 (exact in a double). */
function checkedByteLength(shape: number[], width: number, name: string, file: string): number {
  let n = width;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n)) {
      throw fileError("SAFETENSORS_OVERFLOW", file, `tensor "${name}" size [${shape.join(",")}] overflows`, {
        tensor: name,
        shape,
      });
    }
  }
  return n;
}

/** Sorted entries must tile [0, dataLength) exactly: no overlap, no gap, nothing after the last tensor. */
function checkLayout(entries: SafetensorsEntry[], dataLength: number, file: string): void {
  let pos = 0;
  for (const e of entries) {
    if (e.begin !== pos) {
      const kind = e.begin < pos ? "overlaps the previous tensor" : `leaves a gap of ${e.begin - pos} bytes`;
      throw fileError("SAFETENSORS_NOT_CONTIGUOUS", file, `tensor "${e.name}" at offset ${e.begin} ${kind}`, {
        tensor: e.name,
        begin: e.begin,
        expected: pos,
      });
    }
    pos = e.end;
  }
  if (pos > dataLength) {
    throw new PedigreeError(
      "FORMAT_TRUNCATED",
      `${file}: tensors end at data byte ${pos} but the data section has ${dataLength} bytes`,
      {
        details: { file, end: pos, dataLength },
        hint: "The download may be incomplete; download it again",
      },
    );
  }
  if (pos < dataLength) {
    throw fileError("SAFETENSORS_TRAILING_BYTES", file, `${dataLength - pos} bytes follow the last tensor`, {
      trailing: dataLength - pos,
    });
  }
}
