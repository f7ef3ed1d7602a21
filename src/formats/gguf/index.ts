import { PedigreeError } from "../../errors.js";
import type { ModelLocation } from "../../io/types.js";
import type { Checkpoint } from "../types.js";

/** Opens one GGUF file of a location as a Checkpoint. (Placeholder; implemented by the GGUF work.) */
export async function openGgufCheckpoint(_location: ModelLocation, _file: string): Promise<Checkpoint> {
  throw new PedigreeError("UNSUPPORTED_NOT_YET", "GGUF reader is not implemented yet");
}
