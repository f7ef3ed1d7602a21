/**
 * GGUF writer (gguf.md layout): header, metadata of every value type, tensor infos, alignment padding,
 * then tensor data streamed tensor by tensor — each tensor's values are requested only when it is
 * written, and may arrive in chunks, so memory is bounded by the largest chunk, not the file.
 * Little- or big-endian, v2 or v3.
 */
import fs from "node:fs/promises";
import { last } from "../../checked.js";
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_VALUE_TYPES,
  type GgmlTypeInfo,
  ggmlTypeByName,
  MAX_ALIGNMENT,
  MAX_DIMS,
} from "./constants.js";
import { ByteWriter } from "./encode.js";
import type { GgufValue } from "./types.js";
import { type PlannedTensor, type TensorChunk, writeInvalid, writeTensorData } from "./write-tensor.js";

export interface GgufWriteTensor {
  name: string;
  /** PyTorch / Hugging Face order, outermost first (written reversed, as ggml `ne`). */
  shape: number[];
  /** ggml type name to store: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K from floats; any type from raw blocks. */
  type: string;
  /**
   * Called when the tensor is written: float values (encoded/quantised here) or raw encoded bytes in
   * ggml's little-endian block layout (swapped here for big-endian files) — whole, or as an async
   * iterable of chunks in element order (each a whole number of blocks) for tensors too big to hold.
   */
  data: () => TensorChunk | Promise<TensorChunk> | AsyncIterable<TensorChunk>;
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

const invalid = writeInvalid;

interface Planned extends PlannedTensor {
  tensor: GgufWriteTensor;
}

/** Writes a whole GGUF file to `sink`; returns the number of bytes written. */
export async function writeGguf(sink: ByteSink, opts: GgufWriteOptions): Promise<number> {
  const le = (opts.endianness ?? "little") === "little";
  const alignment = opts.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  if (
    !(
      Number.isInteger(alignment) &&
      alignment >= 1 &&
      alignment <= MAX_ALIGNMENT &&
      (alignment & (alignment - 1)) === 0
    )
  ) {
    throw invalid(`alignment ${alignment} is not a power of two in [1, ${MAX_ALIGNMENT}]`, { alignment });
  }
  const metadata = new Map(opts.metadata);
  if (alignment !== GGUF_DEFAULT_ALIGNMENT && !metadata.has("general.alignment")) {
    metadata.set("general.alignment", { type: "uint32", value: alignment });
  }
  const plan = planTensors(opts, metadata);
  const header = encodeHeader(opts.version ?? 3, le, metadata, plan, alignment);
  await sink(header);
  let written = header.length;
  for (const p of plan) {
    written += await writeTensorData(sink, p, le);
    const pad = (alignment - (p.byteLength % alignment)) % alignment;
    if (pad) await sink(new Uint8Array(pad));
    written += pad;
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
    checkShape(tensor.name, shape, type);
    const elements = shape.reduce((a, b) => a * b, 1);
    const byteLength = (elements / type.blockSize) * type.typeSize;
    return {
      tensor,
      name: tensor.name,
      shape,
      data: tensor.data,
      type,
      byteLength,
      ropeHeads: opts.permuteQK ? ropeHeadsFor(tensor.name, metadata) : null,
    };
  });
}

/** 1–4 positive dims whose innermost is a whole number of blocks (what the reader will demand). */
function checkShape(name: string, shape: number[], type: GgmlTypeInfo): void {
  if (shape.length < 1 || shape.length > MAX_DIMS || !shape.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    throw invalid(`tensor "${name}": shape [${shape}] needs 1–${MAX_DIMS} positive dimensions`, {
      tensor: name,
      shape,
    });
  }
  const inner = last(shape, `tensor "${name}" shape`);
  if (inner % type.blockSize !== 0) {
    throw invalid(
      `tensor "${name}": innermost dimension ${inner} is not a multiple of the ${type.name} block size ${type.blockSize}`,
      {
        tensor: name,
        shape,
        blockSize: type.blockSize,
      },
    );
  }
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
