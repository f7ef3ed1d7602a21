/**
 * Split GGUF models (llama.cpp `gguf-split`): shards named `<prefix>-00001-of-0000N.gguf`, each a full
 * GGUF file holding some tensors, with `split.no` (0-based), `split.count` and `split.tensors.count`
 * (all tensors over all shards) in every shard; the model's metadata lives in the first one.
 */
import { type ErrorCode, PedigreeError } from "../../errors.js";
import type { ByteSource, ModelLocation } from "../../io/types.js";
import { numberOf } from "./config.js";
import { MAX_TENSOR_COUNT } from "./constants.js";
import { readGgufMetadata } from "./read.js";
import type { GgufHeader } from "./types.js";
import { limitError } from "./values.js";

/** A shard (or the only file) of a GGUF model. */
export interface GgufShard {
  file: string;
  source: ByteSource;
  header: GgufHeader;
}

/** llama.cpp's `llama_split_path`: "%s-%05d-of-%05d.gguf", shards numbered from 1. */
const SPLIT_NAME = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/;
/** gguf-split refuses more; a larger count in a file is corrupt. */
export const MAX_SPLIT_COUNT = 9999;

function splitError(
  code: Extract<ErrorCode, `GGUF_${string}`>,
  message: string,
  details: Record<string, unknown>,
): PedigreeError {
  return new PedigreeError(code, message, {
    details,
    hint: "A split GGUF model needs all its shards, unrenamed, side by side; download the missing or broken ones again",
  });
}

export function splitCountOf(header: GgufHeader): number {
  return numberOf(header.metadata.get("split.count")) ?? 1;
}

/** Path of shard `index` (0-based) of the split that `file` belongs to. */
export function shardPath(file: string, index: number, count: number): string {
  const m = SPLIT_NAME.exec(file);
  if (!m) {
    throw splitError(
      "GGUF_SPLIT_NAME",
      `${file} has split.count ${count} but not the name <prefix>-NNNNN-of-NNNNN.gguf`,
      {
        file,
        count,
      },
    );
  }
  const pad = (n: number) => String(n).padStart(5, "0");
  return `${m[1]}-${pad(index + 1)}-of-${pad(count)}.gguf`;
}

/**
 * All shards of the model `given` belongs to (any of its shards), in order, each checked: same split.count, its own
 * split.no, and tensor totals matching split.tensors.count. Opens the other shards' headers only.
 */
export async function openShards(location: ModelLocation, given: GgufShard): Promise<GgufShard[]> {
  const count = splitCountOf(given.header);
  if (count === 1) return [given];
  if (!Number.isInteger(count) || count < 1 || count > MAX_SPLIT_COUNT) {
    throw splitError(
      "GGUF_SPLIT_MISMATCH",
      `${given.file}: split.count ${count} is not in [1, ${MAX_SPLIT_COUNT}]`,
      {
        file: given.file,
        count,
      },
    );
  }
  const shards: GgufShard[] = [];
  let tensors = 0;
  try {
    for (let i = 0; i < count; i++) {
      const file = shardPath(given.file, i, count);
      if (file === given.file) shards.push(given);
      else shards.push(await openShard(location, file));
      checkShard(shards[i] as GgufShard, i, count);
      // The per-file cap holds for the whole model too: memory grows with all parts' tensor infos.
      tensors += (shards[i] as GgufShard).header.tensors.length;
      if (tensors > MAX_TENSOR_COUNT)
        throw limitError("tensor count of all parts", tensors, MAX_TENSOR_COUNT, file);
    }
    checkTensorTotal(shards);
    return shards;
  } catch (e) {
    for (const s of shards) if (s !== given) await s.source.close();
    throw e;
  }
}

async function openShard(location: ModelLocation, file: string): Promise<GgufShard> {
  const source = await location.open(file);
  try {
    return { file, source, header: await readGgufMetadata(source) };
  } catch (e) {
    await source.close();
    throw e;
  }
}

function checkShard(shard: GgufShard, index: number, count: number): void {
  const no = numberOf(shard.header.metadata.get("split.no"));
  const c = splitCountOf(shard.header);
  if (no !== index || c !== count) {
    throw splitError(
      "GGUF_SPLIT_MISMATCH",
      `${shard.file}: split.no ${no} of ${c}, expected ${index} of ${count}`,
      {
        file: shard.file,
        splitNo: no,
        splitCount: c,
        expectedNo: index,
        expectedCount: count,
      },
    );
  }
}

function checkTensorTotal(shards: GgufShard[]): void {
  const declared = numberOf(shards[0]?.header.metadata.get("split.tensors.count"));
  const total = shards.reduce((n, s) => n + s.header.tensors.length, 0);
  if (declared !== undefined && declared !== total) {
    throw splitError(
      "GGUF_SPLIT_MISMATCH",
      `the shards hold ${total} tensors but split.tensors.count is ${declared}`,
      {
        declared,
        total,
        files: shards.map((s) => s.file),
      },
    );
  }
}
