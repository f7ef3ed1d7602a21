import type { ByteSource } from "../../io/types.js";
import { type FileIndex, type OpenContext, openTensorFiles } from "../open-files.js";
import type { Checkpoint } from "../types.js";
import { readSafetensorsHeader } from "./header.js";

/** Tensor infos of one safetensors file, from its header alone. */
export async function indexSafetensorsFile(source: ByteSource, file: string): Promise<FileIndex> {
  const h = await readSafetensorsHeader(source);
  const tensors = h.entries.map((e) => ({
    name: e.name,
    dtype: e.dtype,
    shape: e.shape,
    file,
    offset: h.dataStart + e.begin,
    byteLength: e.end - e.begin,
  }));
  return { tensors, metadata: h.metadata };
}

/** Opens safetensors weights: one or more files, or the shards named by `indexFile` (cross-checked). */
export function openSafetensorsCheckpoint(
  ctx: OpenContext,
  files: string[],
  indexFile: string | null,
): Promise<Checkpoint> {
  return openTensorFiles(ctx, "safetensors", files, indexFile, indexSafetensorsFile);
}
