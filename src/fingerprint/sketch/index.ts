import type { Checkpoint } from "../../formats/types.js";
import { readMatrix } from "../../model/read.js";
import type { ModelView } from "../../model/types.js";
import type { TokenizerSignature } from "../types.js";
import { buildSketches, type SketchOptions } from "./build.js";
import type { Sketches } from "./types.js";

export { FEATURE_BUDGET_BYTES } from "./budget.js";
export { ALIGN_EMBED_MAX_BYTES, SKETCH_VERSION, type SketchOptions } from "./build.js";
export type { LayerSketch, MlpSketch, Sketches } from "./types.js";

export interface SketchInput extends SketchOptions {
  ckpt: Checkpoint;
  view: ModelView;
  tokenizer: TokenizerSignature | null;
}

/** Computes the evidence sketches of one model (anchor embeddings, neuron features, q·k invariants). */
export async function computeSketches(input: SketchInput): Promise<Sketches> {
  const { ckpt, view, tokenizer, budgetBytes, budgetLayers } = input;
  return buildSketches(
    view,
    tokenizer?.tokens ?? null,
    (ref, rowStart, rowCount) => readMatrix(ckpt, ref, rowStart, rowCount),
    { budgetBytes, budgetLayers, tensorCount: ckpt.tensors.size },
  );
}
