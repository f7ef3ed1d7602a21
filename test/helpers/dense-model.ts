import { PedigreeError } from "../../src/errors.js";
import { openCheckpoint } from "../../src/formats/open.js";
import { rowsOf, type SynthArch, synthModel } from "../../src/synth/index.js";
import { configJson } from "../../src/synth/shapes.js";

/**
 * Whole models in memory for the held-out builders: every tensor as float32 (the kinship-dev models
 * are 1.5 M parameters) under its Hugging Face LLaMA name. Derivations (derive-weights.ts,
 * derive-rotation.ts, derive-reuse.ts) return new models and never mutate their input; writers
 * (write-dense.ts) put one on disk.
 */

export interface DenseTensor {
  shape: number[];
  data: Float32Array;
}

export interface DenseModel {
  config: Record<string, unknown>;
  tensors: Map<string, DenseTensor>;
  /** Folder whose tokenizer files a written copy carries (a derived model keeps its parent's tokenizer). */
  tokenizerFrom: string | null;
}

/** Layer tensors: group 1 the layer index, group 2 the rest of the name. */
export const LAYER = /^model\.layers\.(\d+)\.(.+)$/;

/** Loads every tensor of a LLaMA-layout checkpoint as float32 (dequantised / up-cast by the reader). */
export async function loadDense(dir: string): Promise<DenseModel> {
  const ckpt = await openCheckpoint(dir);
  try {
    if (!ckpt.config)
      throw new PedigreeError("MODEL_CONFIG_MISSING", `${dir} has no config.json`, {
        details: { dir },
        hint: "derive.ts builds children of Hugging Face folders only",
      });
    const tensors = new Map<string, DenseTensor>();
    for (const [name, info] of ckpt.tensors)
      tensors.set(name, { shape: [...info.shape], data: await ckpt.readTensorFloat32(name) });
    return { config: { ...ckpt.config }, tensors, tokenizerFrom: dir };
  } finally {
    await ckpt.close();
  }
}

export function cfgInt(m: DenseModel, key: string): number {
  const v = m.config[key];
  if (typeof v !== "number" || !Number.isInteger(v))
    throw new PedigreeError("FORMAT_BAD_CONFIG", `config.${key} is not an integer`, {
      details: { key, value: v },
    });
  return v;
}

export function tensorOf(m: DenseModel, name: string): DenseTensor {
  const t = m.tensors.get(name);
  if (!t)
    throw new PedigreeError("MODEL_TENSOR_NOT_FOUND", `tensor "${name}" is not in the model`, {
      details: { tensor: name },
    });
  return t;
}

/** A copy of `m` with other tensors (and config keys), keeping its tokenizer. */
export function withTensors(
  m: DenseModel,
  tensors: Map<string, DenseTensor>,
  cfg: Record<string, unknown> = {},
) {
  return { config: { ...m.config, ...cfg }, tensors, tokenizerFrom: m.tokenizerFrom };
}

/** Mean and standard deviation of a tensor's values (float64 accumulation). */
export function moments(x: Float32Array): { mean: number; std: number } {
  let s = 0;
  let s2 = 0;
  for (const v of x) {
    s += v;
    s2 += v * v;
  }
  const mean = s / Math.max(1, x.length);
  return { mean, std: Math.sqrt(Math.max(0, s2 / Math.max(1, x.length) - mean * mean)) };
}

/** A synthetic (random-weight, src/synth) model materialised as a DenseModel: other sizes than kinship-dev. */
export function synthDense(arch: SynthArch, seed: number): DenseModel {
  const model = synthModel(arch, seed);
  const tensors = new Map<string, DenseTensor>();
  for (const t of model.tensors) tensors.set(t.name, { shape: [...t.shape], data: t.rows(0, rowsOf(t)) });
  return { config: configJson(arch), tensors, tokenizerFrom: null };
}
