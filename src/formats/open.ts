import { PedigreeError } from "../errors.js";
import type { ModelLocation } from "../io/types.js";
import type { Checkpoint } from "./types.js";

/**
 * Opens a checkpoint from a source spec (path, https URL, hf://…) or an already opened location:
 * detects the format from the files present (safetensors single/sharded, GGUF, PyTorch zip) and reads
 * only headers. (Placeholder; implemented by the formats work.)
 */
export async function openCheckpoint(_source: string | ModelLocation): Promise<Checkpoint> {
  throw new PedigreeError("UNSUPPORTED_NOT_YET", "checkpoint readers are not implemented yet");
}
