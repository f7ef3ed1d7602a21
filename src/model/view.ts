import { PedigreeError } from "../errors.js";
import type { Checkpoint } from "../formats/types.js";
import type { ModelView } from "./types.js";

/** User-supplied mapping for architectures Pedigree does not know (see docs/). */
export interface ArchitectureMapping {
  [key: string]: unknown;
}

/** Builds the canonical view from config + tensor names. (Placeholder; implemented by the model work.) */
export function buildModelView(_ckpt: Checkpoint, _opts: { mapping?: ArchitectureMapping } = {}): ModelView {
  throw new PedigreeError("MODEL_NOT_YET", "model view is not implemented yet");
}
