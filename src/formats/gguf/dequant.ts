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
import { bf16ToF32, f16ToF32 } from "./half.js";

/** Plain element types as one-element "blocks". 64-bit integers round through a double. */
const ELEMENT_DECODERS: Record<string, BlockDecoder> = {
  F32: (dv, o, le, y, yo) => {
    y[yo] = dv.getFloat32(o, le);
  },
  F16: (dv, o, le, y, yo) => {
    y[yo] = f16ToF32(dv.getUint16(o, le));
  },
  BF16: (dv, o, le, y, yo) => {
    y[yo] = bf16ToF32(dv.getUint16(o, le));
  },
  F64: (dv, o, le, y, yo) => {
    y[yo] = dv.getFloat64(o, le);
  },
  I8: (dv, o, _le, y, yo) => {
    y[yo] = dv.getInt8(o);
  },
  I16: (dv, o, le, y, yo) => {
    y[yo] = dv.getInt16(o, le);
  },
  I32: (dv, o, le, y, yo) => {
    y[yo] = dv.getInt32(o, le);
  },
  I64: (dv, o, le, y, yo) => {
    y[yo] = Number(dv.getBigInt64(o, le));
  },
};

const DECODERS: Record<string, BlockDecoder> = {
  ...ELEMENT_DECODERS,
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
  const decode = isDecodable(type.name) ? DECODERS[type.name] : undefined;
  if (!decode) throw unsupportedType(type);
  if (bytes.length % type.typeSize !== 0) {
    throw new PedigreeError(
      "INTERNAL_PARTIAL_BLOCK",
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
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) decode(dv, b * type.typeSize, littleEndian, y, b * type.blockSize);
  return y;
}
