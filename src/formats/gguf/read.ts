import { PedigreeError } from "../../errors.js";
import type { ByteSource } from "../../io/types.js";
import {
  GGUF_MAGIC,
  GGUF_SUPPORTED_VERSIONS,
  MAX_KV_COUNT,
  MAX_NAME_BYTES,
  MAX_TENSOR_COUNT,
} from "./constants.js";
import { HeaderCursor } from "./cursor.js";
import { layoutTensors, type RawTensorInfo, readTensorInfo } from "./tensors.js";
import type { GgufEndianness, GgufHeader, GgufValue } from "./types.js";
import { checkKnownKeys, readAlignment } from "./validate.js";
import { limitError, readString, readValue, readValueType } from "./values.js";

/** Smallest key/value: empty key (8) + type (4) + a 1-byte value. */
const MIN_KV_BYTES = 13;
/** Smallest tensor info: empty name (8) + n_dims (4) + one dim (8) + type (4) + offset (8). */
const MIN_TENSOR_INFO_BYTES = 32;

/**
 * Parses and validates a GGUF header (gguf.md): magic, version and byte order, metadata with values
 * in full, tensor infos, alignment, and the layout of the data section. Reads only the header, through
 * `source.read` in bounded chunks. Every inconsistency is a coded PedigreeError.
 */
export async function readGgufMetadata(source: ByteSource): Promise<GgufHeader> {
  const c = new HeaderCursor(source);
  const { version, endianness } = await readPreamble(c);
  await c.need(16, "tensor and metadata counts");
  const tensorCount = c.u64Number();
  const kvCount = c.u64Number();
  checkCount("tensor count", tensorCount, MAX_TENSOR_COUNT, MIN_TENSOR_INFO_BYTES, c);
  checkCount("metadata key/value count", kvCount, MAX_KV_COUNT, MIN_KV_BYTES, c);

  const metadata = await readMetadata(c, kvCount);
  checkKnownKeys(metadata, source.name);
  const alignment = readAlignment(metadata, source.name);
  const infos = await readTensorInfos(c, tensorCount);
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  const tensors = layoutTensors(infos, dataOffset, alignment, source);
  return { version, endianness, metadata, tensors, alignment, dataOffset, fileSize: source.size };
}

async function readMetadata(c: HeaderCursor, count: number): Promise<Map<string, GgufValue>> {
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < count; i++) {
    const keyAt = c.pos;
    const key = await readString(c, MAX_NAME_BYTES, `metadata key #${i}`);
    if (metadata.has(key)) {
      throw new PedigreeError("GGUF_DUPLICATE_KEY", `${c.source.name}: metadata key "${key}" appears twice`, {
        details: { file: c.source.name, key, offset: keyAt },
        hint: "GGUF keys are unique; the file is corrupt or was written by a faulty tool",
      });
    }
    const type = await readValueType(c, key);
    metadata.set(key, await readValue(c, type, key));
  }
  return metadata;
}

async function readTensorInfos(c: HeaderCursor, count: number): Promise<RawTensorInfo[]> {
  const infos: RawTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < count; i++) {
    const info = await readTensorInfo(c, i);
    if (names.has(info.name)) {
      throw new PedigreeError(
        "GGUF_DUPLICATE_TENSOR",
        `${c.source.name}: tensor "${info.name}" appears twice`,
        {
          details: { file: c.source.name, tensor: info.name },
          hint: "Tensor names in a GGUF file are unique; the file is corrupt",
        },
      );
    }
    names.add(info.name);
    infos.push(info);
  }
  return infos;
}

/** Magic and version; the byte order is the one under which the version is a supported number. */
async function readPreamble(c: HeaderCursor): Promise<{ version: number; endianness: GgufEndianness }> {
  await c.need(4, "GGUF magic");
  const magic = c.u32();
  if (magic !== GGUF_MAGIC) {
    const seen = Buffer.from(new Uint32Array([magic]).buffer).toString("latin1");
    throw new PedigreeError(
      "GGUF_BAD_MAGIC",
      `${c.source.name}: not a GGUF file (magic ${JSON.stringify(seen)})`,
      {
        details: { file: c.source.name, magic },
        hint: 'A GGUF file starts with the bytes "GGUF"; check that this is the file you meant',
      },
    );
  }
  await c.need(4, "GGUF version");
  const at = c.pos;
  const le = c.u32();
  c.pos = at;
  c.littleEndian = false;
  const be = c.u32();
  // A big-endian v3 reads as 0x03000000 little-endian: whichever order gives a small number is the file's.
  if (GGUF_SUPPORTED_VERSIONS.includes(le)) {
    c.littleEndian = true;
    return { version: le, endianness: "little" };
  }
  if (GGUF_SUPPORTED_VERSIONS.includes(be)) return { version: be, endianness: "big" };
  const version = Math.min(le, be);
  throw new PedigreeError(
    "GGUF_UNSUPPORTED_VERSION",
    `${c.source.name}: GGUF version ${version} is not supported`,
    {
      details: { file: c.source.name, version, supported: GGUF_SUPPORTED_VERSIONS },
      hint:
        version === 1
          ? "GGUF v1 files predate 64-bit counts; convert the model again with a current llama.cpp"
          : `Pedigree reads GGUF v${GGUF_SUPPORTED_VERSIONS.join(" and v")}`,
    },
  );
}

function checkCount(what: string, n: number, limit: number, minBytes: number, c: HeaderCursor): void {
  if (n > limit) throw limitError(what, n, limit, c.source.name);
  if (n * minBytes > c.remaining) {
    throw new PedigreeError(
      "FORMAT_TRUNCATED",
      `${c.source.name}: ${what} ${n} needs at least ${n * minBytes} bytes but only ${c.remaining} remain`,
      {
        details: { file: c.source.name, what, count: n, remaining: c.remaining },
        hint: "The GGUF file is incomplete or corrupt; download it again",
      },
    );
  }
}
