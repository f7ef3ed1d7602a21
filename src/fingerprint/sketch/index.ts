import type { Checkpoint } from "../../formats/types.js";
import { readMatrix } from "../../model/read.js";
import type { ModelView } from "../../model/types.js";
import type { TokenizerSignature } from "../types.js";
import { buildSketches } from "./build.js";
import type { Sketches } from "./types.js";

export { SKETCH_VERSION } from "./build.js";
export type { LayerSketch, MlpSketch, Sketches } from "./types.js";

export interface SketchInput {
  ckpt: Checkpoint;
  view: ModelView;
  tokenizer: TokenizerSignature | null;
}

/** Computes the evidence sketches of one model (anchor embeddings, neuron features, q·k invariants). */
export async function computeSketches(input: SketchInput): Promise<Sketches> {
  const { ckpt, view, tokenizer } = input;
  return buildSketches(view, tokenizer?.tokens ?? null, (ref, rowStart, rowCount) =>
    readMatrix(ckpt, ref, rowStart, rowCount),
  );
}
