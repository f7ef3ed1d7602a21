/**
 * Synthetic checkpoints for tests and benchmarks (docs/synth.md): named real shapes, seeded values
 * with realistic per-layer scales, streamed to disk in any supported format, plus derived copies
 * (permuted, depth up-scaled, widened, up-cycled, noised) with known lineage.
 */
export { synthModel } from "./build.js";
export {
  addNoise,
  duplicateLayers,
  mixModels,
  type Permutations,
  permuteModel,
  upcycleExperts,
  widenFfn,
} from "./derive.js";
export { writeSynthGguf } from "./gguf.js";
export { colsOf, rowsOf, type SynthModel, type SynthTensor } from "./model.js";
export { GaussianStream, inverseNormal, Xoshiro128 } from "./random.js";
export { applyRecipe } from "./recipe.js";
export { configJson, type ScaleOptions, SHAPES, type SynthArch, scaleArch, shapeNames } from "./shapes.js";
export { SYNTH_DTYPES, type SynthDType, writeSynthPytorch, writeSynthSafetensors } from "./write.js";
