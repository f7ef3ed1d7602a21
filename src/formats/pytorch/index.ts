import { PedigreeError } from "../../errors.js";
import type { OpenContext } from "../safetensors/read.js";
import type { Checkpoint } from "../types.js";

/** Opens PyTorch zip checkpoints (one file, or the shards of an index). (Being implemented.) */
export async function openPytorchCheckpoint(
  _ctx: OpenContext,
  _files: string[],
  _indexFile: string | null,
): Promise<Checkpoint> {
  throw new PedigreeError("UNSUPPORTED_NOT_YET", "PyTorch checkpoints are not supported yet");
}
