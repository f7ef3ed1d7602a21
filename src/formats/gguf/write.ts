/**
 * GGUF writer (gguf.md layout): header, metadata of every value type, tensor infos, alignment padding,
 * then tensor data streamed tensor by tensor — each tensor's values are requested only when it is
 * written, so memory is bounded by the largest tensor, not the file. Little- or big-endian, v2 or v3.
 */
import fs from "node:fs/promises";
import { PedigreeError } from "../../errors.js";
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_VALUE_TYPES,
  type GgmlTypeInfo,
  ggmlTypeByName,
  MAX_DIMS,
} from "./constants.js";
import { ByteWriter } from "./encode.js";
import { swapTensorBytes } from "./endian.js";
import { f32ToBf16, f32ToF16 } from "./half.js";
import { QUANTISABLE_TYPES, type QuantisableType, quantize } from "./quantize.js";
import { gatherRowBytes, ropePermutationRows } from "./rope.js";
import type { GgufValue } from "./types.js";

export interface GgufWriteTensor {
  name: string;
  /** PyTorch / Hugging Face order, outermost first (written reversed, as ggml `ne`). */
  shape: number[];
  /** ggml type name to store: F32, F16, BF16, Q8_0, Q4_0, Q4_K from floats; any type from raw blocks. */
  type: string;
  /**
   * Called when the tensor is written: float values (encoded/quantised here) or raw encoded bytes in
   * ggml's little-endian block layout (swapped here for big-endian files).
   */
  data: () => Float32Array | Uint8Array | Promise<Float32Array | Uint8Array>;
}

export interface GgufWriteOptions {
  version?: 2 | 3;
  endianness?: "little" | "big";
  /** Data alignment; recorded as general.alignment when it is not the default 32. */
  alignment?: number;
  metadata: Iterable<[string, GgufValue]>;
  tensors: GgufWriteTensor[];
  /**
   * Apply llama.cpp's RoPE row permutation (see rope.ts) to `blk.N.attn_q.weight` (heads =
   * `{arch}.attention.head_count`) and `blk.N.attn_k.weight` (heads = head_count_kv), as
   * convert_hf_to_gguf.py does for llama-family models, so HF tensors become what llama.cpp writes.
   */
  permuteQK?: boolean;
}

/** Receives the file's bytes in order; may be async (backpressure). */
export type ByteSink = (chunk: Uint8Array) => void | Promise<void>;

function invalid(message: string, details: Record<string, unknown>): PedigreeError {
  return new PedigreeError("GGUF_WRITE_INVALID", message, {
    details,
    hint: "Fix the tensors or metadata passed to the GGUF writer",
  });
}

interface Planned {
  tensor: GgufWriteTensor;
  type: GgmlTypeInfo;
  byteLength: number;
  elements: number;
  ropeHeads: number | null;
}

/** Writes a whole GGUF file to `sink`; returns the number of bytes written. */
export async function writeGguf(sink: ByteSink, opts: GgufWriteOptions): Promise<number> {
  const le = (opts.endianness ?? "little") === "little";
  const alignment = opts.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  const metadata = new Map(opts.metadata);
  if (alignment !== GGUF_DEFAULT_ALIGNMENT && !metadata.has("general.alignment")) {
    metadata.set("general.alignment", { type: "uint32", value: alignment });
  }
  const plan = planTensors(opts, metadata);
  const header = encodeHeader(opts.version ?? 3, le, metadata, plan, alignment);
  await sink(header);
  let written = header.length;
  for (const p of plan) {
    let bytes = await encodeTensor(p, le);
    if (p.ropeHeads !== null) {
      const rows = p.tensor.shape[0] as number;
      bytes = gatherRowBytes(bytes, bytes.length / rows, ropePermutationRows(rows, p.ropeHeads));
    }
    if (!le) bytes = swapTensorBytes(p.type, bytes);
    await sink(bytes);
    const pad = (alignment - (p.byteLength % alignment)) % alignment;
    if (pad) await sink(new Uint8Array(pad));
    written += bytes.length + pad;
  }
  return written;
}

function planTensors(opts: GgufWriteOptions, metadata: Map<string, GgufValue>): Planned[] {
  const names = new Set<string>();
  return opts.tensors.map((tensor) => {
    const type = ggmlTypeByName(tensor.type);
    if (!type)
      throw invalid(`tensor "${tensor.name}": unknown ggml type ${tensor.type}`, {
        tensor: tensor.name,
        type: tensor.type,
      });
    if (names.has(tensor.name))
      throw invalid(`tensor "${tensor.name}" is given twice`, { tensor: tensor.name });
    names.add(tensor.name);
    const { shape } = tensor;
    if (
      shape.length < 1 ||
      shape.length > MAX_DIMS ||
      !shape.every((d) => Number.isSafeInteger(d) && d >= 1)
    ) {
      throw invalid(`tensor "${tensor.name}": shape [${shape}] needs 1–${MAX_DIMS} positive dimensions`, {
        tensor: tensor.name,
        shape,
      });
    }
    const inner = shape[shape.length - 1] as number;
    if (inner % type.blockSize !== 0) {
      throw invalid(
        `tensor "${tensor.name}": innermost dimension ${inner} is not a multiple of the ${type.name} block size ${type.blockSize}`,
        {
          tensor: tensor.name,
          shape,
          blockSize: type.blockSize,
        },
      );
    }
    const elements = shape.reduce((a, b) => a * b, 1);
    const byteLength = (elements / type.blockSize) * type.typeSize;
    return {
      tensor,
      type,
      elements,
      byteLength,
      ropeHeads: opts.permuteQK ? ropeHeadsFor(tensor.name, metadata) : null,
    };
  });
}

/** Heads for llama.cpp's q/k permutation, or null for tensors it leaves alone. */
function ropeHeadsFor(name: string, metadata: Map<string, GgufValue>): number | null {
  const m = /^blk\.\d+\.attn_(q|k)\.weight$/.exec(name);
  if (!m) return null;
  const arch = metadata.get("general.architecture");
  const archName = arch?.type === "string" ? arch.value : "";
  const num = (key: string): number | null => {
    const v = metadata.get(`${archName}.${key}`);
    return v && v.type !== "array" && v.type !== "string" && v.type !== "bool" ? Number(v.value) : null;
  };
  const heads = num("attention.head_count");
  if (heads === null) {
    throw invalid(`permuteQK needs ${archName || "{arch}"}.attention.head_count in the metadata`, {
      tensor: name,
    });
  }
  return m[1] === "q" ? heads : (num("attention.head_count_kv") ?? heads);
}

function encodeHeader(
  version: number,
  le: boolean,
  metadata: Map<string, GgufValue>,
  plan: Planned[],
  alignment: number,
): Uint8Array {
  const w = new ByteWriter(le);
  w.bytes(new TextEncoder().encode("GGUF"));
  w.u32(version);
  w.u64(plan.length);
  w.u64(metadata.size);
  for (const [key, value] of metadata) {
    w.string(key);
    w.u32(GGUF_VALUE_TYPES.indexOf(value.type));
    w.value(value);
  }
  let offset = 0;
  for (const p of plan) {
    w.string(p.tensor.name);
    w.u32(p.tensor.shape.length);
    for (const d of [...p.tensor.shape].reverse()) w.u64(d);
    w.u32(p.type.id);
    w.u64(offset);
    offset += Math.ceil(p.byteLength / alignment) * alignment;
  }
  w.padTo(alignment);
  return w.result().slice();
}

/**
 * Encoded little-endian bytes of one tensor, checked against its planned size. Raw input is copied when
 * it will be byte-swapped in place, so the caller's buffer is never modified.
 */
async function encodeTensor(p: Planned, le: boolean): Promise<Uint8Array> {
  const data = await p.tensor.data();
  const name = p.tensor.name;
  let bytes: Uint8Array;
  if (data instanceof Float32Array) {
    if (data.length !== p.elements)
      throw invalid(`tensor "${name}": ${data.length} values for ${p.elements} elements`, { tensor: name });
    bytes = encodeFloats(p.type, data);
  } else {
    bytes = le ? data : data.slice();
  }
  if (bytes.length !== p.byteLength) {
    throw invalid(
      `tensor "${name}": ${bytes.length} bytes of ${p.type.name} data, expected ${p.byteLength}`,
      { tensor: name },
    );
  }
  return bytes;
}

function encodeFloats(type: GgmlTypeInfo, x: Float32Array): Uint8Array {
  if ((QUANTISABLE_TYPES as readonly string[]).includes(type.name))
    return quantize(type.name as QuantisableType, x);
  if (type.name === "F32") return new Uint8Array(x.slice().buffer);
  if (type.name === "F16" || type.name === "BF16") {
    const conv = type.name === "F16" ? f32ToF16 : f32ToBf16;
    const out = new Uint16Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = conv(x[i] as number);
    return new Uint8Array(out.buffer);
  }
  throw invalid(`cannot encode floats as ${type.name}; pass raw blocks`, { type: type.name });
}

/** Writes a GGUF file to `path` (streamed: one tensor in memory at a time). */
export async function writeGgufFile(path: string, opts: GgufWriteOptions): Promise<number> {
  const handle = await fs.open(path, "w");
  try {
    return await writeGguf(async (chunk) => {
      await handle.write(chunk);
    }, opts);
  } finally {
    await handle.close();
  }
}

/** The whole file in memory (tests and small fixtures). */
export async function encodeGguf(opts: GgufWriteOptions): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  await writeGguf((c) => {
    chunks.push(c.slice());
  }, opts);
  return new Uint8Array(Buffer.concat(chunks));
}
