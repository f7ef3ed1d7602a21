import { buildSketches } from "../../src/fingerprint/sketch/build.js";
import type { Sketches } from "../../src/fingerprint/sketch/types.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import type { ModelView } from "../../src/model/types.js";

/** Tensors by name, row-major float32: a model held in memory for sketch-level tests. */
export type Weights = Map<string, Float32Array>;

/** Sketches of an in-memory model: the reader serves row ranges straight from `weights`. */
export function sketchWeights(view: ModelView, weights: Weights): Promise<Sketches> {
  return buildSketches(view, null, async (r, start = 0, count) => {
    const x = weights.get(r.tensor);
    if (!x) throw new Error(`test model has no tensor ${r.tensor}`);
    const cols = r.shape[1] ?? x.length;
    return x.subarray(start * cols, (start + (count ?? (r.shape[0] ?? 1) - start)) * cols);
  });
}

/** The smallest fingerprint compare accepts around a set of sketches. */
export const sketchFingerprint = (s: Sketches) =>
  ({
    sketches: s,
    tensors: [],
    layerProfiles: {},
    tokenizer: null,
    source: { format: "safetensors" },
  }) as unknown as Fingerprint;
