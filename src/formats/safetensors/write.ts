import path from "node:path";
import { PedigreeError } from "../../errors.js";
import { writeFileAtomic } from "../../io/atomic-write.js";
import { elementCount } from "../checkpoint.js";
import { DTYPE_BYTES, type ElementDType, parseElementDType } from "../dtypes.js";

/** One tensor to write; its bytes come from the producer, in this order. */
export interface TensorSpec {
  name: string;
  dtype: ElementDType;
  shape: number[];
}

/** Little-endian bytes of one tensor: whole, or as chunks (so a huge tensor never sits in memory). */
export type TensorProducer = (
  spec: TensorSpec,
) => Uint8Array | Promise<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** The reference writer pads the header with spaces so the data section starts 8-byte aligned. */
export const SAFETENSORS_HEADER_ALIGN = 8;

export function tensorByteLength(spec: TensorSpec): number {
  return elementCount(spec.shape) * DTYPE_BYTES[spec.dtype];
}

/** Names unique (and not "__metadata__"), dtypes known, shapes of non-negative integers. */
export function validateTensorSpecs(file: string, entries: readonly TensorSpec[]): void {
  const seen = new Set<string>();
  for (const e of entries) {
    parseElementDType(e.dtype, `${file}: tensor "${e.name}"`);
    if (seen.has(e.name) || e.name === "__metadata__") {
      throw writeError(file, `tensor name "${e.name}" is used twice or reserved`, { tensor: e.name });
    }
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw writeError(file, `tensor "${e.name}" has an invalid shape`, { tensor: e.name, shape: e.shape });
    }
    seen.add(e.name);
  }
}

export function writeError(file: string, msg: string, details: Record<string, unknown>): PedigreeError {
  return new PedigreeError("USAGE_INVALID_TENSOR_SPEC", `${file}: ${msg}`, { details: { file, ...details } });
}

/** Header bytes (length prefix included) for `entries` laid out back to back in the given order. */
export function encodeSafetensorsHeader(
  file: string,
  entries: readonly TensorSpec[],
  metadata?: Record<string, string>,
): Uint8Array {
  // Null prototype: a tensor named "__proto__" must become a key, not replace the prototype.
  const header: Record<string, unknown> = Object.create(null);
  validateTensorSpecs(file, entries);
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let pos = 0;
  for (const e of entries) {
    const n = tensorByteLength(e);
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [pos, pos + n] };
    pos += n;
  }
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (typeof v !== "string") throw writeError(file, `metadata "${k}" is not a string`, { key: k });
  }
  let json = JSON.stringify(header);
  const len = Buffer.byteLength(json);
  json += " ".repeat(
    (SAFETENSORS_HEADER_ALIGN - ((8 + len) % SAFETENSORS_HEADER_ALIGN)) % SAFETENSORS_HEADER_ALIGN,
  );
  const body = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(body.length), true);
  out.set(body, 8);
  return out;
}

/** A producer's result as a stream of chunks (shared by the safetensors and PyTorch writers). */
export async function* chunksOf(value: Awaited<ReturnType<TensorProducer>>): AsyncIterable<Uint8Array> {
  if (value instanceof Uint8Array) yield value;
  else yield* value as AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

/**
 * Writes a safetensors file tensor by tensor: memory is bounded by what the producer hands over at
 * once. Written atomically and durably (io/atomic-write.ts), so a crash never leaves a file that looks
 * valid. A producer that yields the wrong number of bytes is an error.
 */
export async function writeSafetensors(
  file: string,
  entries: readonly TensorSpec[],
  produce: TensorProducer,
  metadata?: Record<string, string>,
): Promise<{ bytes: number }> {
  const header = encodeSafetensorsHeader(file, entries, metadata);
  let bytes = 0;
  await writeFileAtomic(file, async (fh) => {
    await fh.write(header);
    bytes += header.length;
    for (const e of entries) {
      const want = tensorByteLength(e);
      let got = 0;
      for await (const chunk of chunksOf(await produce(e))) {
        got += chunk.length;
        if (got > want) break;
        await fh.write(chunk);
      }
      if (got !== want)
        throw writeError(file, `producer gave ${got} bytes for tensor "${e.name}", ${want} expected`, {
          tensor: e.name,
          expected: want,
          actual: got,
        });
      bytes += want;
    }
  });
  return { bytes };
}

export interface ShardedWriteOptions {
  /** Largest shard data size; a tensor larger than this gets a shard of its own. Default 5 GB (HF's). */
  maxShardBytes?: number;
  /** Shard and index base name: `<prefix>-00001-of-00002.safetensors`, `<prefix>.safetensors.index.json`. */
  prefix?: string;
  metadata?: Record<string, string>;
}

/** Greedy split in the given order, as transformers' `save_pretrained` does. */
export function planShards(entries: readonly TensorSpec[], maxShardBytes: number): TensorSpec[][] {
  const shards: TensorSpec[][] = [];
  let current: TensorSpec[] = [];
  let size = 0;
  for (const e of entries) {
    const n = tensorByteLength(e);
    if (current.length > 0 && size + n > maxShardBytes) {
      shards.push(current);
      current = [];
      size = 0;
    }
    current.push(e);
    size += n;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);
  return shards;
}

/**
 * Writes `dir/<prefix>.safetensors` when everything fits in one shard, else numbered shards and
 * `<prefix>.safetensors.index.json` (`metadata.total_size` = sum of tensor bytes, as transformers writes).
 */
export async function writeShardedSafetensors(
  dir: string,
  entries: readonly TensorSpec[],
  produce: TensorProducer,
  opts: ShardedWriteOptions = {},
): Promise<{ files: string[]; indexFile: string | null }> {
  const prefix = opts.prefix ?? "model";
  const shards = planShards(entries, opts.maxShardBytes ?? 5_000_000_000);
  if (shards.length === 1) {
    const file = `${prefix}.safetensors`;
    await writeSafetensors(path.join(dir, file), shards[0] as TensorSpec[], produce, opts.metadata);
    return { files: [file], indexFile: null };
  }
  const files: string[] = [];
  // No prototype: a tensor named "__proto__" must become a key, not a prototype assignment.
  const weightMap: Record<string, string> = Object.create(null);
  const pad = (i: number) => String(i).padStart(5, "0");
  for (const [i, shard] of shards.entries()) {
    const file = `${prefix}-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`;
    await writeSafetensors(path.join(dir, file), shard, produce, opts.metadata);
    files.push(file);
    for (const e of shard) weightMap[e.name] = file;
  }
  const totalSize = entries.reduce((a, e) => a + tensorByteLength(e), 0);
  const indexFile = `${prefix}.safetensors.index.json`;
  const text = `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2)}\n`;
  await writeFileAtomic(path.join(dir, indexFile), (fh) => fh.writeFile(text));
  return { files, indexFile };
}
