/**
 * Byte order inside tensor data. A big-endian GGUF (v3) stores every multi-byte scalar big-endian:
 * plain elements, and the f16 scale fields inside quantised blocks (as llama.cpp's
 * gguf_convert_endian.py swaps them). Byte arrays inside blocks (qs, qh, scales) have no byte order.
 */
import { PedigreeError } from "../../errors.js";
import type { GgmlTypeInfo } from "./constants.js";

/** Byte offsets of the f16 fields in one block, per ggml-common.h. */
const BLOCK_HALF_FIELDS: Record<string, readonly number[]> = {
  Q4_0: [0],
  Q4_1: [0, 2],
  Q5_0: [0],
  Q5_1: [0, 2],
  Q8_0: [0],
  Q2_K: [80, 82],
  Q3_K: [108],
  Q4_K: [0, 2],
  Q5_K: [0, 2],
  Q6_K: [208],
};

function swapRun(b: Uint8Array, at: number, width: number): void {
  for (let i = 0; i < width / 2; i++) {
    // Both offsets lie in the run, which the caller took from inside `b`.
    const t = b[at + i] ?? 0;
    b[at + i] = b[at + width - 1 - i] ?? 0;
    b[at + width - 1 - i] = t;
  }
}

/** Swaps the byte order of encoded data of `type` in place (its own inverse). */
export function swapTensorBytes(type: GgmlTypeInfo, data: Uint8Array): Uint8Array {
  if (type.blockSize === 1) {
    if (type.typeSize > 1)
      for (let o = 0; o < data.length; o += type.typeSize) swapRun(data, o, type.typeSize);
    return data;
  }
  const fields = BLOCK_HALF_FIELDS[type.name];
  if (!fields) {
    throw new PedigreeError("UNSUPPORTED_DTYPE", `cannot change the byte order of ${type.name} blocks`, {
      details: { dtype: type.name },
      hint: "Write this tensor type to a little-endian GGUF file",
    });
  }
  for (let o = 0; o < data.length; o += type.typeSize) for (const f of fields) swapRun(data, o + f, 2);
  return data;
}
