import { PedigreeError } from "../../errors.js";
import { DECODABLE_GGML_TYPES, type GgmlTypeInfo, isDecodable } from "./constants.js";
import { decodeQ2_K, decodeQ3_K, decodeQ4_K, decodeQ5_K, decodeQ6_K } from "./dequant-k.js";
import {
  type BlockDecoder,
  decodeQ4_0,
  decodeQ4_1,
  decodeQ5_0,
  decodeQ5_1,
  decodeQ8_0,
} from "./dequant-legacy.js";
import { bf16ToF32, f16ToF32, halfTable } from "./half.js";

type ElementGetter = (dv: DataView, o: number, le: boolean) => number;

/** Plain element types (block size 1). 64-bit integers round through a double. */
const ELEMENT_GETTERS: Record<string, ElementGetter> = {
  F32: (dv, o, le) => dv.getFloat32(o, le),
  F16: (dv, o, le) => f16ToF32(dv.getUint16(o, le)),
  BF16: (dv, o, le) => bf16ToF32(dv.getUint16(o, le)),
  F64: (dv, o, le) => dv.getFloat64(o, le),
  I8: (dv, o) => dv.getInt8(o),
  I16: (dv, o, le) => dv.getInt16(o, le),
  I32: (dv, o, le) => dv.getInt32(o, le),
  I64: (dv, o, le) => Number(dv.getBigInt64(o, le)),
};

const HOST_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Typed-array views for the hot element types when file and host byte order agree; false otherwise. */
function decodeElementsFast(name: string, bytes: Uint8Array, y: Float32Array, n: number): boolean {
  const aligned = (w: number) => (bytes.byteOffset % w === 0 ? bytes : bytes.slice());
  if (name === "F32") {
    const src = aligned(4);
    y.set(new Float32Array(src.buffer, src.byteOffset, n));
    return true;
  }
  if (name === "F16" || name === "BF16") {
    const src = aligned(2);
    const u16 = new Uint16Array(src.buffer, src.byteOffset, n);
    if (name === "BF16") {
      // bf16 is the top half of an f32: shift the bits into place through a uint32 view of the output.
      const u32 = new Uint32Array(y.buffer, y.byteOffset, n);
      for (let i = 0; i < n; i++) u32[i] = (u16[i] ?? 0) << 16;
    } else {
      const table = halfTable();
      for (let i = 0; i < n; i++) y[i] = table[u16[i] ?? 0] ?? Number.NaN;
    }
    return true;
  }
  return false;
}

function decodeElements(
  type: GgmlTypeInfo,
  bytes: Uint8Array,
  le: boolean,
  y: Float32Array,
  n: number,
): void {
  if (le === HOST_LITTLE_ENDIAN && decodeElementsFast(type.name, bytes, y, n)) return;
  const get = ELEMENT_GETTERS[type.name] as ElementGetter;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) y[i] = get(dv, i * type.typeSize, le);
}

const DECODERS: Record<string, BlockDecoder> = {
  Q4_0: decodeQ4_0,
  Q4_1: decodeQ4_1,
  Q5_0: decodeQ5_0,
  Q5_1: decodeQ5_1,
  Q8_0: decodeQ8_0,
  Q2_K: decodeQ2_K,
  Q3_K: decodeQ3_K,
  Q4_K: decodeQ4_K,
  Q5_K: decodeQ5_K,
  Q6_K: decodeQ6_K,
};

/** UNSUPPORTED_DTYPE naming the ggml type (IQ*, TQ*, Q8_K, MXFP4…). */
export function unsupportedType(type: GgmlTypeInfo, tensor?: string): PedigreeError {
  const where = tensor ? `tensor "${tensor}"` : "GGUF tensor";
  return new PedigreeError(
    "UNSUPPORTED_DTYPE",
    `${where} has ggml type ${type.name}, which Pedigree cannot decode`,
    {
      details: { tensor, dtype: type.name, ggmlType: type.id },
      hint: `Decodable GGUF types: ${DECODABLE_GGML_TYPES.join(", ")}. Re-quantise or convert the model to one of them`,
    },
  );
}

/**
 * Decodes whole blocks of `type` from `bytes` (a multiple of the block size in bytes) into float32.
 * `littleEndian` is the file's byte order (applies to the multi-byte fields inside blocks).
 */
export function dequantize(
  type: GgmlTypeInfo,
  bytes: Uint8Array,
  littleEndian = true,
  out?: Float32Array,
): Float32Array {
  if (!isDecodable(type.name)) throw unsupportedType(type);
  if (bytes.length % type.typeSize !== 0) {
    throw new PedigreeError(
      "INTERNAL_MISALIGNED_DECODE",
      `${bytes.length} bytes is not a whole number of ${type.name} blocks`,
      {
        details: { type: type.name, bytes: bytes.length, blockBytes: type.typeSize },
      },
    );
  }
  const blocks = bytes.length / type.typeSize;
  const y = out ?? new Float32Array(blocks * type.blockSize);
  if (y.length < blocks * type.blockSize) {
    throw new PedigreeError(
      "INTERNAL_DECODE_BUFFER",
      `output holds ${y.length} of ${blocks * type.blockSize} elements`,
    );
  }
  if (type.blockSize === 1) {
    decodeElements(type, bytes, littleEndian, y, blocks);
    return y;
  }
  const decode = DECODERS[type.name] as BlockDecoder;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) decode(bytes, dv, b * type.typeSize, littleEndian, y, b * type.blockSize);
  return y;
}
