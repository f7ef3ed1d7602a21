/**
 * Tensor data for the GGUF writer: floats encoded or quantised to the stored type, raw blocks passed
 * through, byte order applied, llama.cpp's q/k permutation applied — one chunk at a time when the
 * caller streams a tensor, so even a single huge tensor never has to be in memory whole.
 */

import { at } from "../../checked.js";
import { PedigreeError } from "../../errors.js";
import type { GgmlTypeInfo } from "./constants.js";
import { swapTensorBytes } from "./endian.js";
import { f32ToBf16, f32ToF16 } from "./half.js";
import { QUANTISABLE_TYPES, type QuantisableType, quantize } from "./quantize.js";
import { gatherRowBytes, ropePermutationRows } from "./rope.js";

/** Float values (encoded here) or raw encoded bytes in ggml's little-endian block layout. */
export type TensorChunk = Float32Array | Uint8Array;

/** One tensor as planned by the writer. */
export interface PlannedTensor {
  name: string;
  shape: number[];
  type: GgmlTypeInfo;
  byteLength: number;
  /** Heads for the RoPE permutation of q/k rows, or null. */
  ropeHeads: number | null;
  data: () => TensorChunk | Promise<TensorChunk> | AsyncIterable<TensorChunk>;
}

export function writeInvalid(message: string, details: Record<string, unknown>): PedigreeError {
  return new PedigreeError("GGUF_WRITE_INVALID", message, {
    details,
    hint: "Fix the tensors or metadata passed to the GGUF writer",
  });
}

function isAsyncIterable(x: unknown): x is AsyncIterable<TensorChunk> {
  return typeof x === "object" && x !== null && Symbol.asyncIterator in x;
}

async function* single(chunk: TensorChunk): AsyncIterable<TensorChunk> {
  yield chunk;
}

/** Streams one tensor's bytes (file byte order) to `sink`; returns the bytes written (without padding). */
export async function writeTensorData(
  sink: (chunk: Uint8Array) => void | Promise<void>,
  p: PlannedTensor,
  littleEndian: boolean,
): Promise<number> {
  const data = await p.data();
  const chunks = isAsyncIterable(data) ? data : single(data);
  let written = 0;
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) {
    const bytes = encodeChunk(p, chunk, littleEndian);
    written += bytes.length;
    if (written > p.byteLength) break;
    if (p.ropeHeads !== null)
      parts.push(bytes); // rows move across chunks: permute the whole tensor
    else await sink(littleEndian ? bytes : swapTensorBytes(p.type, bytes));
  }
  if (written !== p.byteLength) {
    throw writeInvalid(
      `tensor "${p.name}": ${written} bytes of ${p.type.name} data, expected ${p.byteLength}`,
      {
        tensor: p.name,
        bytes: written,
        expected: p.byteLength,
      },
    );
  }
  if (p.ropeHeads !== null) {
    const whole = new Uint8Array(Buffer.concat(parts));
    const rows = at(p.shape, 0, `tensor ${p.name} shape`);
    const permuted = gatherRowBytes(whole, whole.length / rows, ropePermutationRows(rows, p.ropeHeads));
    await sink(littleEndian ? permuted : swapTensorBytes(p.type, permuted));
  }
  return written;
}

/** Little-endian encoded bytes of one chunk; raw input is copied when it will be swapped in place. */
function encodeChunk(p: PlannedTensor, chunk: TensorChunk, littleEndian: boolean): Uint8Array {
  if (chunk instanceof Float32Array) {
    if (chunk.length % p.type.blockSize !== 0) {
      throw writeInvalid(
        `tensor "${p.name}": a chunk of ${chunk.length} values is not a whole number of ${p.type.name} blocks`,
        {
          tensor: p.name,
          values: chunk.length,
          blockSize: p.type.blockSize,
        },
      );
    }
    return encodeFloats(p.type, chunk);
  }
  if (chunk.length % p.type.typeSize !== 0) {
    throw writeInvalid(
      `tensor "${p.name}": a chunk of ${chunk.length} bytes is not a whole number of ${p.type.name} blocks`,
      {
        tensor: p.name,
        bytes: chunk.length,
        blockBytes: p.type.typeSize,
      },
    );
  }
  return littleEndian ? chunk : chunk.slice();
}

/** float32 → stored type (host little-endian, as every platform Node runs on in practice). */
function encodeFloats(type: GgmlTypeInfo, x: Float32Array): Uint8Array {
  if ((QUANTISABLE_TYPES as readonly string[]).includes(type.name))
    return quantize(type.name as QuantisableType, x);
  if (type.name === "F32") return new Uint8Array(x.slice().buffer);
  if (type.name === "F16" || type.name === "BF16") {
    const conv = type.name === "F16" ? f32ToF16 : f32ToBf16;
    const out = new Uint16Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = conv(x[i] ?? Number.NaN);
    return new Uint8Array(out.buffer);
  }
  throw writeInvalid(`cannot encode floats as ${type.name}; pass raw blocks`, { type: type.name });
}
