/**
 * GGUF (llama.cpp) support: a strict header reader, dequantisation of the common ggml types, a
 * streaming writer with quantisers, and llama.cpp's q/k RoPE row permutation.
 */
import type { ModelLocation } from "../../io/types.js";
import type { Checkpoint } from "../types.js";
import { GgufCheckpoint } from "./checkpoint.js";
import { readGgufMetadata } from "./read.js";
import { type GgufShard, openShards } from "./split.js";

export { GgufCheckpoint } from "./checkpoint.js";
export { ggufConfig, modelTypeOf } from "./config.js";
export * from "./constants.js";
export { dequantize } from "./dequant.js";
export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "./half.js";
export { QUANTISABLE_TYPES, type QuantisableType, quantize } from "./quantize.js";
export { readGgufMetadata } from "./read.js";
export { gatherRowBytes, ropePermutationRows, ropeUnpermutationRows } from "./rope.js";
export { type GgufShard, MAX_SPLIT_COUNT, shardPath } from "./split.js";
export { summariseMetadata, summariseValue } from "./summary.js";
export type * from "./types.js";
export {
  type ByteSink,
  encodeGguf,
  type GgufWriteOptions,
  type GgufWriteTensor,
  writeGguf,
  writeGgufFile,
} from "./write.js";

/**
 * Opens a GGUF file of a location as a Checkpoint (reads and validates headers only). A shard of a
 * split model (`…-00002-of-00005.gguf`) opens the whole model: all its shards, found by name.
 */
export async function openGgufCheckpoint(location: ModelLocation, file: string): Promise<Checkpoint> {
  const source = await location.open(file);
  let shards: GgufShard[] = [];
  try {
    shards = await openShards(location, { file, source, header: await readGgufMetadata(source) });
    return new GgufCheckpoint(location, shards);
  } catch (e) {
    for (const s of shards) if (s.source !== source) await s.source.close();
    await source.close();
    throw e;
  }
}
