import { type OpenContext, openTensorFiles } from "../open-files.js";
import type { Checkpoint } from "../types.js";
import { indexPytorchFile } from "./read.js";

export { indexPytorchFile } from "./read.js";
export { unpickle } from "./unpickle.js";

/** Opens PyTorch zip checkpoints: one file, or the shards named by `pytorch_model.bin.index.json`. */
export function openPytorchCheckpoint(
  ctx: OpenContext,
  files: string[],
  indexFile: string | null,
): Promise<Checkpoint> {
  return openTensorFiles(ctx, "pytorch", files, indexFile, indexPytorchFile);
}
