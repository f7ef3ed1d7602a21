/**
 * GGUF (llama.cpp) support: a strict header reader, dequantisation of the common ggml types, a
 * streaming writer with quantisers, and llama.cpp's q/k RoPE row permutation.
 */
import type { ModelLocation } from "../../io/types.js";
import type { Checkpoint } from "../types.js";
import { GgufCheckpoint } from "./checkpoint.js";
import { readGgufMetadata } from "./read.js";

export { GgufCheckpoint } from "./checkpoint.js";
export { ggufConfig, modelTypeOf } from "./config.js";
export * from "./constants.js";
export { dequantize } from "./dequant.js";
export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "./half.js";
export { QUANTISABLE_TYPES, type QuantisableType, quantize } from "./quantize.js";
export { readGgufMetadata } from "./read.js";
export { gatherRowBytes, ropePermutationRows, ropeUnpermutationRows } from "./rope.js";
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

/** Opens one GGUF file of a location as a Checkpoint (reads and validates the header only). */
export async function openGgufCheckpoint(location: ModelLocation, file: string): Promise<Checkpoint> {
  const source = await location.open(file);
  try {
    return new GgufCheckpoint(location, file, source, await readGgufMetadata(source));
  } catch (e) {
    await source.close();
    throw e;
  }
}
