import type { Checkpoint } from "../../formats/types.js";
import type { ModelView } from "../../model/types.js";
import type { TokenizerSignature } from "../types.js";
import type { Sketches } from "./types.js";

export interface SketchInput {
  ckpt: Checkpoint;
  view: ModelView;
  tokenizer: TokenizerSignature | null;
}

/** Computes the evidence sketches of one model. (Placeholder; implemented by the compare work.) */
export async function computeSketches(_input: SketchInput): Promise<Sketches> {
  return { version: "0" };
}
