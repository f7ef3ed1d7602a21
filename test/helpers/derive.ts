import fs from "node:fs/promises";
import path from "node:path";
import { PedigreeError } from "../../src/errors.js";
import { f32ToF16 } from "../../src/formats/gguf/half.js";
import type { GgufValue } from "../../src/formats/gguf/types.js";
import { type GgufWriteTensor, writeGgufFile } from "../../src/formats/gguf/write.js";
import { openCheckpoint } from "../../src/formats/open.js";
import { writePytorchCheckpoint } from "../../src/formats/pytorch/write.js";
import { type TensorSpec, writeSafetensors } from "../../src/formats/safetensors/write.js";
import { rowsOf, type SynthArch, scaleArch, synthModel } from "../../src/synth/index.js";
import { float32ToBf16, Xoshiro128 } from "../../src/synth/random.js";
import { configJson } from "../../src/synth/shapes.js";
import { applyUpdate, distilMlps, replaceMlps } from "./derive-reuse.js";

/**
 * Builders of derived checkpoints from REAL ones (held-out evaluation of `pedigree compare`, issue 4).
 * A model is held whole in memory as float32 (the kinship-dev models are 1.5 M parameters), under its
 * Hugging Face LLaMA tensor names; every derivation returns a new model and never mutates its input.
 * Writers at the end put a model on disk as BF16 safetensors, GGUF (F16 / Q8_0 / Q4_K …) or a PyTorch
 * zip, each folder with config.json and the parent's tokenizer files.
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

const LAYER = /^model\.layers\.(\d+)\.(.+)$/;

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

function withTensors(m: DenseModel, tensors: Map<string, DenseTensor>, cfg: Record<string, unknown> = {}) {
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

/**
 * Layer surgery: child layer j is a copy of parent layer `sources[j]` (repeats = depth up-scaling
 * without training, omissions = depth pruning, reordering = transplant). Copies share the parent's
 * arrays, so they are bit-identical.
 */
export function pickLayers(m: DenseModel, sources: readonly number[]): DenseModel {
  const n = cfgInt(m, "num_hidden_layers");
  if (sources.some((s) => !Number.isInteger(s) || s < 0 || s >= n))
    throw new PedigreeError(
      "USAGE_INVALID_OPTION",
      `layer sources ${sources.join(",")} outside 0..${n - 1}`,
      {
        details: { sources, layers: n },
      },
    );
  const out = new Map<string, DenseTensor>();
  const perLayer = new Map<number, [string, DenseTensor][]>();
  for (const [name, t] of m.tensors) {
    const g = LAYER.exec(name);
    if (!g) out.set(name, t);
    else perLayer.set(Number(g[1]), [...(perLayer.get(Number(g[1])) ?? []), [g[2] as string, t]]);
  }
  sources.forEach((src, j) => {
    for (const [rest, t] of perLayer.get(src) ?? []) out.set(`model.layers.${j}.${rest}`, t);
  });
  return withTensors(m, out, { num_hidden_layers: sources.length });
}

/** Depth pruning: removes the listed layers; survivors keep their order (child j ← parent kept[j]). */
export function dropLayers(m: DenseModel, drop: readonly number[]): { model: DenseModel; kept: number[] } {
  const kept = [...Array(cfgInt(m, "num_hidden_layers")).keys()].filter((i) => !drop.includes(i));
  return { model: pickLayers(m, kept), kept };
}

/** Rows `idx` of a [rows, cols] matrix. */
function takeRows(t: DenseTensor, idx: Int32Array): DenseTensor {
  const cols = t.shape[1] as number;
  const data = new Float32Array(idx.length * cols);
  idx.forEach((r, i) => {
    data.set(t.data.subarray(r * cols, (r + 1) * cols), i * cols);
  });
  return { shape: [idx.length, cols], data };
}

/** Columns `idx` of a [rows, cols] matrix. */
function takeCols(t: DenseTensor, idx: Int32Array): DenseTensor {
  const [rows, cols] = t.shape as [number, number];
  const data = new Float32Array(rows * idx.length);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < idx.length; c++)
      data[r * idx.length + c] = t.data[r * cols + (idx[c] as number)] as number;
  return { shape: [rows, idx.length], data };
}

/** Selects (and orders) FFN neurons per layer: gate/up rows and down columns follow `pick(layer)`. */
function selectNeurons(m: DenseModel, pick: (layer: number) => Int32Array): DenseModel {
  const out = new Map(m.tensors);
  let width = cfgInt(m, "intermediate_size");
  for (let l = 0; l < cfgInt(m, "num_hidden_layers"); l++) {
    const p = `model.layers.${l}.mlp`;
    const idx = pick(l);
    width = idx.length;
    out.set(`${p}.gate_proj.weight`, takeRows(tensorOf(m, `${p}.gate_proj.weight`), idx));
    out.set(`${p}.up_proj.weight`, takeRows(tensorOf(m, `${p}.up_proj.weight`), idx));
    out.set(`${p}.down_proj.weight`, takeCols(tensorOf(m, `${p}.down_proj.weight`), idx));
  }
  return withTensors(m, out, { intermediate_size: width });
}

/**
 * Width pruning: keeps a random `keep` fraction of each layer's FFN neurons, in their original order
 * (as structured-pruning tools do). Returns the kept parent indices per layer (child i ← parent kept[i]).
 */
export function pruneFfn(
  m: DenseModel,
  keep: number,
  seed: number,
): { model: DenseModel; kept: Int32Array[] } {
  const n = cfgInt(m, "intermediate_size");
  const k = Math.round(n * keep);
  const rng = new Xoshiro128(seed);
  const kept: Int32Array[] = [];
  const model = selectNeurons(m, () => {
    const idx = rng.permutation(n).slice(0, k).sort();
    kept.push(idx);
    return idx;
  });
  return { model, kept };
}

/** Function-preserving shuffle of every layer's FFN neurons (child i ← parent perm[i]). */
export function permuteFfn(m: DenseModel, seed: number): DenseModel {
  const rng = new Xoshiro128(seed);
  return selectNeurons(m, () => rng.permutation(cfgInt(m, "intermediate_size")));
}

/**
 * Rescaling obfuscation (function-preserving): up_proj row i × s_i and down_proj column i ÷ s_i (the
 * SwiGLU product is linear in up), and per KV group q rows × t_g, k rows ÷ t_g (scores unchanged),
 * with s, t log-uniform in [1/maxScale, maxScale].
 */
export function rescaleNeurons(m: DenseModel, seed: number, maxScale = 4): DenseModel {
  const rng = new Xoshiro128(seed);
  const draw = () => Math.exp((2 * rng.uniform() - 1) * Math.log(maxScale));
  const out = new Map(m.tensors);
  const heads = cfgInt(m, "num_attention_heads");
  const kvHeads = cfgInt(m, "num_key_value_heads");
  for (let l = 0; l < cfgInt(m, "num_hidden_layers"); l++) {
    const p = `model.layers.${l}`;
    const up = tensorOf(m, `${p}.mlp.up_proj.weight`);
    const down = tensorOf(m, `${p}.mlp.down_proj.weight`);
    const s = Float64Array.from({ length: up.shape[0] as number }, draw);
    const upCols = up.shape[1] as number;
    const downCols = down.shape[1] as number;
    out.set(`${p}.mlp.up_proj.weight`, {
      shape: [...up.shape],
      data: up.data.map((v, i) => v * (s[Math.floor(i / upCols)] as number)),
    });
    out.set(`${p}.mlp.down_proj.weight`, {
      shape: [...down.shape],
      data: down.data.map((v, i) => v / (s[i % downCols] as number)),
    });
    const q = tensorOf(m, `${p}.self_attn.q_proj.weight`);
    const k = tensorOf(m, `${p}.self_attn.k_proj.weight`);
    const t = Float64Array.from({ length: kvHeads }, draw);
    // Rows per KV group: q has heads/kvHeads heads per group, k one head per group.
    const qRows = (q.shape[0] as number) / kvHeads;
    const kRows = (k.shape[0] as number) / kvHeads;
    const qc = q.shape[1] as number;
    out.set(`${p}.self_attn.q_proj.weight`, {
      shape: [...q.shape],
      data: q.data.map((v, i) => v * (t[Math.floor(i / qc / qRows)] as number)),
    });
    out.set(`${p}.self_attn.k_proj.weight`, {
      shape: [...k.shape],
      data: k.data.map((v, i) => v / (t[Math.floor(i / qc / kRows)] as number)),
    });
    if (heads % kvHeads !== 0)
      throw new PedigreeError("MODEL_CONFIG_MISMATCH", "attention heads are not a multiple of KV heads", {
        details: { heads, kvHeads },
      });
  }
  return withTensors(m, out);
}

/** Element-wise merge `wA·A + (1−wA)·B` of two models with the same tensors and shapes (model soup). */
export function mergeModels(a: DenseModel, b: DenseModel, wA: number): DenseModel {
  const out = new Map<string, DenseTensor>();
  for (const [name, ta] of a.tensors) {
    const tb = tensorOf(b, name);
    if (tb.data.length !== ta.data.length)
      throw new PedigreeError("MODEL_SHAPE_MISMATCH", `cannot merge ${name}: shapes differ`, {
        details: { tensor: name, a: ta.shape, b: tb.shape },
      });
    const data = new Float32Array(ta.data.length);
    for (let i = 0; i < data.length; i++)
      data[i] = wA * (ta.data[i] as number) + (1 - wA) * (tb.data[i] as number);
    out.set(name, { shape: [...ta.shape], data });
  }
  return withTensors(a, out);
}

/**
 * Task arithmetic: `base + Σ wᵢ·(childᵢ − base)` over models with the same tensors and shapes (task
 * vectors relative to a common ancestor, scaled; Σwᵢ ≠ 1 is what a plain soup cannot express).
 */
export function addTaskVectors(base: DenseModel, tasks: [DenseModel, number][]): DenseModel {
  const out = new Map<string, DenseTensor>();
  for (const [name, t0] of base.tensors) {
    const data = Float32Array.from(t0.data);
    for (const [child, w] of tasks) {
      const tc = tensorOf(child, name);
      if (tc.data.length !== data.length)
        throw new PedigreeError(
          "MODEL_SHAPE_MISMATCH",
          `cannot add the task vector of ${name}: shapes differ`,
          {
            details: { tensor: name, base: t0.shape, child: tc.shape },
          },
        );
      for (let i = 0; i < data.length; i++)
        data[i] = (data[i] ?? 0) + w * ((tc.data[i] ?? 0) - (t0.data[i] ?? 0));
    }
    out.set(name, { shape: [...t0.shape], data });
  }
  return withTensors(base, out);
}

/**
 * Round-to-nearest quantisation of every 2-D tensor but the embeddings, written back de-quantised:
 * `bits`-bit integers per row (block 0) or per `block` consecutive values of a row, symmetric
 * (q·d, d = max|x|/(2^(bits−1)−1)) or asymmetric (lo + q·d over [lo, hi]).
 */
export function quantizeDense(m: DenseModel, bits: number, block: number, symmetric: boolean): DenseModel {
  const out = new Map<string, DenseTensor>();
  for (const [name, t] of m.tensors) {
    if (t.shape.length !== 2 || name.includes("embed_tokens")) {
      out.set(name, t);
      continue;
    }
    const cols = t.shape[1] as number;
    const size = block || cols;
    const data = new Float32Array(t.data.length);
    for (let s = 0; s < data.length; s += size) {
      const b = t.data.subarray(s, Math.min(s + size, data.length));
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      let amax = 0;
      for (const x of b) {
        lo = Math.min(lo, x);
        hi = Math.max(hi, x);
        amax = Math.max(amax, Math.abs(x));
      }
      const d = symmetric ? amax / (2 ** (bits - 1) - 1) : (hi - lo) / (2 ** bits - 1);
      b.forEach((x, i) => {
        data[s + i] = d === 0 ? x : symmetric ? d * Math.round(x / d) : lo + d * Math.round((x - lo) / d);
      });
    }
    out.set(name, { shape: [...t.shape], data });
  }
  return withTensors(m, out);
}

/** Nearest FP8 E4M3 value of y (|y| ≤ 448; 3 mantissa bits, subnormals below 2⁻⁶ in steps of 2⁻⁹). */
function e4m3(y: number): number {
  const a = Math.min(Math.abs(y), 448);
  const step = a < 2 ** -6 ? 2 ** -9 : 2 ** (Math.floor(Math.log2(a)) - 3);
  return Math.sign(y) * Math.round(a / step) * step;
}

/**
 * FP8 E4M3 quantisation of every 2-D tensor but the embeddings with one scale per `block` values of a
 * row (s = max|x|/448, as DeepSeek-V3's 128-blocks), written back de-quantised.
 */
export function quantizeFp8Dense(m: DenseModel, block: number): DenseModel {
  const out = new Map<string, DenseTensor>();
  for (const [name, t] of m.tensors) {
    if (t.shape.length !== 2 || name.includes("embed_tokens")) {
      out.set(name, t);
      continue;
    }
    const data = new Float32Array(t.data.length);
    for (let s = 0; s < data.length; s += block) {
      const b = t.data.subarray(s, Math.min(s + block, data.length));
      let amax = 0;
      for (const x of b) amax = Math.max(amax, Math.abs(x));
      const scale = amax / 448;
      b.forEach((x, i) => {
        data[s + i] = scale === 0 ? x : scale * e4m3(x / scale);
      });
    }
    out.set(name, { shape: [...t.shape], data });
  }
  return withTensors(m, out);
}

/**
 * Frozen reuse: embeddings and layers < `frozen` are bit-identical copies of `base`, everything else
 * comes from `rest` (another model of the same shape, or a re-initialised one).
 */
export function freezeBottom(base: DenseModel, rest: DenseModel, frozen: number): DenseModel {
  const out = new Map<string, DenseTensor>();
  for (const [name, t] of rest.tensors) {
    const g = LAYER.exec(name);
    const fromBase = name === "model.embed_tokens.weight" || (g !== null && Number(g[1]) < frozen);
    out.set(name, fromBase ? tensorOf(base, name) : t);
  }
  return withTensors(base, out);
}

/** Adds N(0, (rel·std_t)²) to every tensor t, std_t being that tensor's own standard deviation. */
export function addRelativeNoise(m: DenseModel, rel: number, seed: number): DenseModel {
  const rng = new Xoshiro128(seed);
  const out = new Map<string, DenseTensor>();
  for (const [name, t] of m.tensors) {
    const noise = new Float32Array(t.data.length);
    rng.fillGaussian(noise, rel * moments(t.data).std);
    out.set(name, { shape: [...t.shape], data: noise.map((v, i) => v + (t.data[i] as number)) });
  }
  return withTensors(m, out);
}

/**
 * A fresh random model of the same shape: each tensor N(mean_t, std_t²) with the template's own
 * per-tensor mean and std (so std-profile baselines look alike, while no value is inherited).
 */
export function randomLike(m: DenseModel, seed: number): DenseModel {
  const rng = new Xoshiro128(seed);
  const out = new Map<string, DenseTensor>();
  for (const [name, t] of m.tensors) {
    const { mean, std } = moments(t.data);
    const data = new Float32Array(t.data.length);
    rng.fillGaussian(data, std);
    for (let i = 0; i < data.length; i++) data[i] = (data[i] as number) + mean;
    out.set(name, { shape: [...t.shape], data });
  }
  return { config: { ...m.config }, tensors: out, tokenizerFrom: m.tokenizerFrom };
}

/** A synthetic (random-weight, src/synth) model materialised as a DenseModel: other sizes than kinship-dev. */
export function synthDense(arch: SynthArch, seed: number): DenseModel {
  const model = synthModel(arch, seed);
  const tensors = new Map<string, DenseTensor>();
  for (const t of model.tensors) tensors.set(t.name, { shape: [...t.shape], data: t.rows(0, rowsOf(t)) });
  return { config: configJson(arch), tensors, tokenizerFrom: null };
}

// ---------------------------------------------------------------- rotation obfuscation

/** A Haar-ish random orthogonal d×d matrix (row-major, float64): Gram–Schmidt of a Gaussian matrix. */
export function randomOrthogonal(d: number, seed: number): Float64Array {
  const rng = new Xoshiro128(seed);
  const q = Float64Array.from({ length: d * d }, () => rng.gaussian());
  for (let i = 0; i < d; i++) {
    const row = q.subarray(i * d, (i + 1) * d);
    // Twice ("re-orthogonalisation") so float64 round-off leaves rows orthogonal to ~1e-15.
    for (let pass = 0; pass < 2; pass++)
      for (let j = 0; j < i; j++) {
        const prev = q.subarray(j * d, (j + 1) * d);
        let dot = 0;
        for (let k = 0; k < d; k++) dot += (row[k] as number) * (prev[k] as number);
        for (let k = 0; k < d; k++) row[k] = (row[k] as number) - dot * (prev[k] as number);
      }
    const norm = Math.hypot(...row);
    for (let k = 0; k < d; k++) row[k] = (row[k] as number) / norm;
  }
  return q;
}

/** W·Rᵀ for W [rows, d]: the input side of a matrix that reads the rotated residual stream. */
function rotateIn(t: DenseTensor, r: Float64Array, d: number): DenseTensor {
  const rows = t.shape[0] as number;
  const data = new Float32Array(rows * d);
  for (let o = 0; o < rows; o++)
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += (t.data[o * d + k] as number) * (r[i * d + k] as number);
      data[o * d + i] = s;
    }
  return { shape: [...t.shape], data };
}

/** R·W for W [d, cols]: the output side of a matrix that writes into the residual stream. */
function rotateOut(t: DenseTensor, r: Float64Array, d: number): DenseTensor {
  const cols = t.shape[1] as number;
  const data = new Float32Array(d * cols);
  for (let i = 0; i < d; i++)
    for (let k = 0; k < d; k++) {
      const rik = r[i * d + k] as number;
      for (let c = 0; c < cols; c++)
        data[i * cols + c] = (data[i * cols + c] as number) + rik * (t.data[k * cols + c] as number);
    }
  return { shape: [...t.shape], data };
}

/** W·diag(g): folds an RMSNorm weight into the matrix that reads the normalised stream. */
function scaleCols(t: DenseTensor, g: Float32Array): DenseTensor {
  const cols = t.shape[1] as number;
  return { shape: [...t.shape], data: t.data.map((v, i) => v * (g[i % cols] as number)) };
}

/**
 * Rotation obfuscation (function-preserving): the residual stream x becomes R·x for an orthogonal R.
 * RMSNorm commutes with R only without its per-channel weight g, so each g is first folded into the
 * matrices that read its output (q/k/v ← input norm, gate/up ← post-attention norm, lm_head ← final
 * norm) and set to 1. Then readers of the stream get W·Rᵀ (embeddings too: rows are xᵀ), writers
 * (o_proj, down_proj) get R·W. In exact arithmetic the logits are unchanged.
 */
export function rotateHidden(m: DenseModel, seed: number): { model: DenseModel; rotation: Float64Array } {
  const d = cfgInt(m, "hidden_size");
  if (m.config.tie_word_embeddings === true || !m.tensors.has("lm_head.weight"))
    throw new PedigreeError(
      "USAGE_INVALID_OPTION",
      "rotateHidden needs an untied lm_head to fold the final norm into",
      {
        details: { tied: m.config.tie_word_embeddings },
        hint: "Rotate untied models only: a tied head shares the embedding and cannot absorb the norm",
      },
    );
  const r = randomOrthogonal(d, seed);
  const out = new Map<string, DenseTensor>();
  const ones = (): DenseTensor => ({ shape: [d], data: new Float32Array(d).fill(1) });
  const readsNorm = (name: string): string | null => {
    const g = LAYER.exec(name);
    if (name === "lm_head.weight") return "model.norm.weight";
    if (!g) return null;
    if (/self_attn\.[qkv]_proj\.weight$/.test(name)) return `model.layers.${g[1]}.input_layernorm.weight`;
    if (/mlp\.(gate|up)_proj\.weight$/.test(name))
      return `model.layers.${g[1]}.post_attention_layernorm.weight`;
    return null;
  };
  for (const [name, t] of m.tensors) {
    if (/norm\.weight$/.test(name)) out.set(name, ones());
    else if (/(o_proj|down_proj)\.weight$/.test(name)) out.set(name, rotateOut(t, r, d));
    else {
      const norm = readsNorm(name);
      const folded = norm ? scaleCols(t, tensorOf(m, norm).data) : t;
      if (t.shape.length !== 2 || t.shape[1] !== d)
        throw new PedigreeError("USAGE_INVALID_OPTION", `rotateHidden: no rule for ${name}`, {
          details: { tensor: name, shape: t.shape },
          hint: "Only bias-free LLaMA layouts are handled",
        });
      out.set(name, rotateIn(folded, r, d));
    }
  }
  return { model: withTensors(m, out), rotation: r };
}

// ---------------------------------------------------------------- writers

/** Tokenizer files a Hugging Face folder carries next to its weights. */
const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json"];

async function writeSidecars(
  m: DenseModel,
  dir: string,
  torchDtype: string,
  tokenizer: boolean,
): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const config = { ...m.config, torch_dtype: torchDtype };
  await fs.writeFile(path.join(dir, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  if (!tokenizer || !m.tokenizerFrom) return;
  for (const f of TOKENIZER_FILES)
    await fs.copyFile(path.join(m.tokenizerFrom, f), path.join(dir, f)).catch(() => undefined);
}

export type FloatDType = "BF16" | "F16" | "F32";

/** Little-endian bytes of float32 values cast to `dtype` (round to nearest even, as torch does). */
export function encodeFloats(values: Float32Array, dtype: FloatDType): Uint8Array {
  if (dtype === "F32")
    return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  const out = new Uint16Array(values.length);
  if (dtype === "BF16") float32ToBf16(values, out);
  else for (let i = 0; i < values.length; i++) out[i] = f32ToF16(values[i] as number);
  return new Uint8Array(out.buffer);
}

function specsOf(m: DenseModel, dtype: FloatDType): TensorSpec[] {
  return [...m.tensors].map(([name, t]) => ({ name, dtype, shape: [...t.shape] }));
}

/** `<dir>/model.safetensors` + config.json + tokenizer files. */
export async function writeDenseSafetensors(
  m: DenseModel,
  dir: string,
  dtype: FloatDType = "BF16",
): Promise<string> {
  await writeSidecars(m, dir, { BF16: "bfloat16", F16: "float16", F32: "float32" }[dtype], true);
  await writeSafetensors(path.join(dir, "model.safetensors"), specsOf(m, dtype), (s) =>
    encodeFloats(tensorOf(m, s.name).data, dtype),
  );
  return dir;
}

/** `<dir>/pytorch_model.bin` (torch.save zip of the state dict) + config.json + tokenizer files. */
export async function writeDensePytorch(
  m: DenseModel,
  dir: string,
  dtype: FloatDType = "BF16",
): Promise<string> {
  await writeSidecars(m, dir, { BF16: "bfloat16", F16: "float16", F32: "float32" }[dtype], true);
  await writePytorchCheckpoint(path.join(dir, "pytorch_model.bin"), specsOf(m, dtype), (s) =>
    encodeFloats(tensorOf(m, s.name).data, dtype),
  );
  return dir;
}

const GGUF_LAYER_NAMES: Record<string, string> = {
  "input_layernorm.weight": "attn_norm.weight",
  "post_attention_layernorm.weight": "ffn_norm.weight",
  "self_attn.q_proj.weight": "attn_q.weight",
  "self_attn.k_proj.weight": "attn_k.weight",
  "self_attn.v_proj.weight": "attn_v.weight",
  "self_attn.o_proj.weight": "attn_output.weight",
  "mlp.gate_proj.weight": "ffn_gate.weight",
  "mlp.up_proj.weight": "ffn_up.weight",
  "mlp.down_proj.weight": "ffn_down.weight",
};

function ggufName(hf: string): string {
  const top: Record<string, string> = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
  };
  const g = LAYER.exec(hf);
  const name = top[hf] ?? (g ? `blk.${g[1]}.${GGUF_LAYER_NAMES[g[2] as string] ?? ""}` : "");
  if (!name || name.endsWith("."))
    throw new PedigreeError("UNSUPPORTED_SYNTH_GGUF", `no GGUF name for ${hf}`, { details: { tensor: hf } });
  return name;
}

/** Block widths (elements per row) the GGUF types need. */
const K_QUANT_BLOCK = 256;
const LEGACY_BLOCK = 32;

/**
 * The ggml type a tensor is stored as. 1-D tensors stay F32 (llama.cpp's rule). A K-quant needs rows
 * that are whole 256-element super-blocks; llama.cpp falls back to a legacy 32-block type for rows that
 * are not (it uses Q5_0 for Q4_K; our writer has no Q5_0, so Q4_0 stands in — a harsher quantiser).
 */
export function ggufTypeFor(shape: readonly number[], wanted: string): string {
  if (shape.length === 1) return "F32";
  const inner = shape[shape.length - 1] as number;
  if ((wanted === "Q4_K" || wanted === "Q6_K") && inner % K_QUANT_BLOCK !== 0)
    return wanted === "Q4_K" ? "Q4_0" : "Q8_0";
  if ((wanted === "Q8_0" || wanted === "Q4_0") && inner % LEGACY_BLOCK !== 0) return "F16";
  return wanted;
}

/** GGUF token types (llama.cpp `llama_token_type`): 1 normal, 3 control. */
const TOKEN_NORMAL = 1;
const TOKEN_CONTROL = 3;

/**
 * `tokenizer.ggml.*` keys for a byte-level BPE tokenizer.json, as convert_hf_to_gguf.py writes them
 * ("gpt2" model: tokens by id, token types, merges as "a b" strings). Null when there is none.
 */
export async function ggufTokenizerMetadata(fromDir: string | null): Promise<[string, GgufValue][] | null> {
  if (!fromDir) return null;
  const text = await fs.readFile(path.join(fromDir, "tokenizer.json"), "utf8").catch(() => null);
  if (text === null) return null;
  const tj = JSON.parse(text) as {
    model: { type: string; vocab: Record<string, number>; merges?: (string | [string, string])[] };
    added_tokens?: { id: number; content: string; special?: boolean }[];
  };
  if (tj.model.type !== "BPE")
    throw new PedigreeError(
      "UNSUPPORTED_SYNTH_GGUF",
      `cannot embed a ${tj.model.type} tokenizer in GGUF here`,
      {
        details: { type: tj.model.type },
      },
    );
  const tokens: string[] = [];
  for (const [tok, id] of Object.entries(tj.model.vocab)) tokens[id] = tok;
  const types = new Int32Array(tokens.length).fill(TOKEN_NORMAL);
  for (const a of tj.added_tokens ?? []) {
    tokens[a.id] = a.content;
    if (a.special) types[a.id] = TOKEN_CONTROL;
  }
  const merges = (tj.model.merges ?? []).map((x) => (typeof x === "string" ? x : x.join(" ")));
  const strings = (value: string[]): GgufValue => ({ type: "array", itemType: "string", value });
  return [
    ["tokenizer.ggml.model", { type: "string", value: "gpt2" }],
    ["tokenizer.ggml.tokens", strings(Array.from(tokens, (t, i) => t ?? `<unused${i}>`))],
    ["tokenizer.ggml.token_type", { type: "array", itemType: "int32", value: types }],
    ["tokenizer.ggml.merges", strings(merges)],
  ];
}

/**
 * `<dir>/model.gguf` (GGUF v3, llama.cpp names and `llama.*` metadata, q/k rows permuted for RoPE as
 * convert_hf_to_gguf.py does), with the parent's tokenizer embedded unless `embedTokenizer` is false.
 * Returns the ggml type used per tensor.
 */
export async function writeDenseGguf(
  m: DenseModel,
  dir: string,
  type: string,
  embedTokenizer = true,
): Promise<Map<string, string>> {
  await fs.mkdir(dir, { recursive: true });
  const u32 = (value: number): GgufValue => ({ type: "uint32", value });
  const heads = cfgInt(m, "num_attention_heads");
  const hidden = cfgInt(m, "hidden_size");
  const headDim = typeof m.config.head_dim === "number" ? m.config.head_dim : hidden / heads;
  const metadata: [string, GgufValue][] = [
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.name", { type: "string", value: "pedigree-heldout" }],
    ["llama.context_length", u32(Number(m.config.max_position_embeddings ?? 2048))],
    ["llama.embedding_length", u32(hidden)],
    ["llama.block_count", u32(cfgInt(m, "num_hidden_layers"))],
    ["llama.feed_forward_length", u32(cfgInt(m, "intermediate_size"))],
    ["llama.attention.head_count", u32(heads)],
    ["llama.attention.head_count_kv", u32(cfgInt(m, "num_key_value_heads"))],
    ["llama.attention.key_length", u32(headDim)],
    ["llama.attention.value_length", u32(headDim)],
    ["llama.rope.dimension_count", u32(headDim)],
    [
      "llama.attention.layer_norm_rms_epsilon",
      { type: "float32", value: Number(m.config.rms_norm_eps ?? 1e-5) },
    ],
    ["llama.rope.freq_base", { type: "float32", value: Number(m.config.rope_theta ?? 10000) }],
    ["llama.vocab_size", u32(cfgInt(m, "vocab_size"))],
  ];
  const tok = embedTokenizer ? await ggufTokenizerMetadata(m.tokenizerFrom) : null;
  if (tok) metadata.push(...tok);
  const used = new Map<string, string>();
  const tensors: GgufWriteTensor[] = [...m.tensors].map(([name, t]) => {
    const ty = ggufTypeFor(t.shape, type);
    used.set(name, ty);
    return { name: ggufName(name), shape: [...t.shape], type: ty, data: () => t.data };
  });
  await writeGgufFile(path.join(dir, "model.gguf"), { version: 3, metadata, tensors, permuteQK: true });
  return used;
}

// ---------------------------------------------------------------- held-out family

/** How a held-out model is made: a real kinship-dev model, or a recipe over other members. */
export interface Recipe {
  /** kinship-dev manifest id: use that folder as is. */
  real?: string;
  /** Members this one is derived from (for the docs table). */
  from?: string[];
  what: string;
  make?: (get: (id: string) => Promise<DenseModel>) => Promise<DenseModel>;
  /** On-disk form (default BF16 safetensors). */
  write?: { format: "safetensors" | "pytorch" | "gguf"; type?: string; noTokenizer?: boolean };
}

/** A size kinship-dev does not have, with widths that are whole Q4_K super-blocks. */
const SYNTH_ARCH = scaleArch("llama-3.2-1b", { scale: 1 / 8, layers: 4, vocab: 512 });

/** Seeds are fixed so every run builds the same bytes. */
export const HELDOUT_RECIPES: Readonly<Record<string, Recipe>> = {
  Ap: { real: "Ap", what: "kinship-dev independent base A" },
  Bp: { real: "Bp", what: "kinship-dev independent base B (same data, tokenizer, shape; other seed)" },
  cpt_light: { real: "cpt_light", what: "kinship-dev: Ap + light continued pre-training" },
  cpt_heavy: { real: "cpt_heavy", what: "kinship-dev: Ap + heavy continued pre-training" },
  wide: { real: "wide", what: "kinship-dev: Ap with FFN widened 352→528, trained" },
  deep: { real: "deep", what: "kinship-dev: Ap up-scaled to 8 layers [0,1,2,3,2,4,5,4], trained" },
  moe_upcycle: { real: "moe_upcycle", what: "kinship-dev: Ap up-cycled to 4 experts per layer, trained" },
  vocab_swap: { real: "vocab_swap", what: "kinship-dev: Ap with a new tokenizer and embeddings, trained" },
  obfuscated: { real: "obfuscated", what: "kinship-dev: Ap permuted (hidden basis, neurons), F16, trained" },
  ap_q8: {
    from: ["Ap"],
    what: "GGUF Q8_0 of Ap",
    make: (g) => g("Ap"),
    write: { format: "gguf", type: "Q8_0" },
  },
  ap_q4k: {
    from: ["Ap"],
    what: "GGUF Q4_K of Ap (rows of 128/352 are not 256-blocks: llama.cpp-style fallback → Q4_0)",
    make: (g) => g("Ap"),
    write: { format: "gguf", type: "Q4_K" },
  },
  ap_gguf_f16: {
    from: ["Ap"],
    what: "GGUF F16 of Ap",
    make: (g) => g("Ap"),
    write: { format: "gguf", type: "F16" },
  },
  ap_bin: {
    from: ["Ap"],
    what: "PyTorch .bin (BF16) of Ap",
    make: (g) => g("Ap"),
    write: { format: "pytorch" },
  },
  cptl_bin: {
    from: ["cpt_light"],
    what: "PyTorch .bin (BF16) of cpt_light",
    make: (g) => g("cpt_light"),
    write: { format: "pytorch" },
  },
  ap_depth_pruned: {
    from: ["Ap"],
    what: "Ap without layers 2 and 4",
    make: async (g) => dropLayers(await g("Ap"), [2, 4]).model,
  },
  ap_width_pruned: {
    from: ["Ap"],
    what: "Ap keeping a random 75% of FFN neurons per layer (352→264)",
    make: async (g) => pruneFfn(await g("Ap"), 0.75, 41).model,
  },
  merge_55: {
    from: ["Ap", "cpt_heavy"],
    what: "0.5·Ap + 0.5·cpt_heavy",
    make: async (g) => mergeModels(await g("Ap"), await g("cpt_heavy"), 0.5),
  },
  merge_73: {
    from: ["Ap", "cpt_heavy"],
    what: "0.7·Ap + 0.3·cpt_heavy",
    make: async (g) => mergeModels(await g("Ap"), await g("cpt_heavy"), 0.7),
  },
  freeze_bp: {
    from: ["Ap", "Bp"],
    what: "embeddings + layers 0–2 bit-identical from Ap, layers 3–5 + head from Bp",
    make: async (g) => freezeBottom(await g("Ap"), await g("Bp"), 3),
  },
  freeze_rand: {
    from: ["Ap"],
    what: "embeddings + layers 0–2 bit-identical from Ap, the rest re-initialised (Ap's per-tensor std)",
    make: async (g) => freezeBottom(await g("Ap"), randomLike(await g("Ap"), 51), 3),
  },
  ap_rotated: {
    from: ["Ap"],
    what: "Ap with norms folded and the hidden basis rotated by a random orthogonal matrix",
    make: async (g) => rotateHidden(await g("Ap"), 61).model,
  },
  wide_obf: {
    from: ["wide"],
    what: "grandchild: wide rotated (norms folded) + FFN neurons shuffled",
    make: async (g) => permuteFfn(rotateHidden(await g("wide"), 62).model, 63),
  },
  deep_pruned: {
    from: ["deep"],
    what: "grandchild: deep without its layers 1 and 6 (Ap sources [0,2,3,2,4,4])",
    make: async (g) => dropLayers(await g("deep"), [1, 6]).model,
  },
  ap_noise50: {
    from: ["Ap"],
    what: "Ap + N(0, (0.5·std_t)²) on every tensor",
    make: async (g) => addRelativeNoise(await g("Ap"), 0.5, 71),
  },
  ap_noise100: {
    from: ["Ap"],
    what: "Ap + N(0, std_t²) on every tensor",
    make: async (g) => addRelativeNoise(await g("Ap"), 1.0, 72),
  },
  ap_int8_row: {
    from: ["Ap"],
    what: "Ap quantised to int8 per row (symmetric), written back de-quantised as BF16",
    make: async (g) => quantizeDense(await g("Ap"), 8, 0, true),
  },
  ap_int4_b32a: {
    from: ["Ap"],
    what: "Ap quantised to int4 per 32-value block (asymmetric, as Q4_1), written back as BF16",
    make: async (g) => quantizeDense(await g("Ap"), 4, 32, false),
  },
  ap_fp8_b128: {
    from: ["Ap"],
    what: "Ap quantised to FP8 E4M3 with a scale per 128 values, written back as BF16",
    make: async (g) => quantizeFp8Dense(await g("Ap"), 128),
  },
  merge_3p: {
    from: ["Ap", "cpt_heavy", "ap_noise100"],
    what: "0.4·Ap + 0.3·cpt_heavy + 0.3·ap_noise100 (a soup of three parents)",
    make: async (g) =>
      mergeModels(mergeModels(await g("Ap"), await g("cpt_heavy"), 0.4 / 0.7), await g("ap_noise100"), 0.7),
  },
  task_merge: {
    from: ["Ap", "cpt_heavy", "ap_noise50"],
    what: "task arithmetic: Ap + 0.8·(cpt_heavy − Ap) + 0.6·(ap_noise50 − Ap) (scale λ = 1.4)",
    make: async (g) =>
      addTaskVectors(await g("Ap"), [
        [await g("cpt_heavy"), 0.8],
        [await g("ap_noise50"), 0.6],
      ]),
  },
  ap_rescaled: {
    from: ["Ap"],
    what: "Ap with up rows ×s / down columns ÷s per neuron and q ×t / k ÷t per KV group (s, t in [¼, 4])",
    make: async (g) => rescaleNeurons(await g("Ap"), 64),
  },
  ap_layer_swap: {
    from: ["Ap"],
    what: "Ap with layers 2 and 3 swapped (transplant, no training)",
    make: async (g) => pickLayers(await g("Ap"), [0, 1, 3, 2, 4, 5]),
  },
  ap_upscaled: {
    from: ["Ap"],
    what: "Ap up-scaled to 8 layers [0,1,2,2,3,4,5,5] (bit-identical copies, no training)",
    make: async (g) => pickLayers(await g("Ap"), [0, 1, 2, 2, 3, 4, 5, 5]),
  },
  freeze_cpt: {
    from: ["Ap", "cpt_heavy"],
    what: "embeddings + layers 0–2 bit-identical from Ap, the rest from cpt_heavy (frozen bottom, trained top)",
    make: async (g) => freezeBottom(await g("Ap"), await g("cpt_heavy"), 3),
  },
  merge_ab: {
    from: ["Ap", "Bp"],
    what: "0.5·Ap + 0.5·Bp (independent bases, unaligned)",
    make: async (g) => mergeModels(await g("Ap"), await g("Bp"), 0.5),
  },
  rot_q4k: {
    from: ["ap_rotated"],
    what: "grandchild: ap_rotated as GGUF Q4_K (→ Q4_0 fallback at these widths)",
    make: (g) => g("ap_rotated"),
    write: { format: "gguf", type: "Q4_K" },
  },
  rot_gguf_notok: {
    from: ["ap_rotated"],
    what: "grandchild: ap_rotated as GGUF F16 with NO embedded tokenizer",
    make: (g) => g("ap_rotated"),
    write: { format: "gguf", type: "F16", noTokenizer: true },
  },
  ap_q8_notok: {
    from: ["Ap"],
    what: "GGUF Q8_0 of Ap with NO embedded tokenizer",
    make: (g) => g("Ap"),
    write: { format: "gguf", type: "Q8_0", noTokenizer: true },
  },
  ap_noise200: {
    from: ["Ap"],
    what: "Ap + N(0, (2·std_t)²) on every tensor",
    make: async (g) => addRelativeNoise(await g("Ap"), 2.0, 73),
  },
  ap_noise400: {
    from: ["Ap"],
    what: "Ap + N(0, (4·std_t)²) on every tensor",
    make: async (g) => addRelativeNoise(await g("Ap"), 4.0, 74),
  },
  attn_reuse: {
    from: ["Ap", "cpt_heavy"],
    what: "Ap's embeddings, attention and norms kept, every MLP re-initialised (Ap's per-tensor std), then trained (proxy: cpt_heavy − Ap added to every tensor)",
    make: async (g) =>
      applyUpdate(
        replaceMlps(await g("Ap"), randomLike(await g("Ap"), 52)),
        await g("Ap"),
        await g("cpt_heavy"),
      ),
  },
  ap_wash200: {
    from: ["Ap", "cpt_heavy"],
    what: "Ap + N(0, (2·std_t)²) on every tensor, then trained (proxy: cpt_heavy − Ap added)",
    make: async (g) =>
      applyUpdate(addRelativeNoise(await g("Ap"), 2.0, 75), await g("Ap"), await g("cpt_heavy")),
  },
  pruned_distilled: {
    from: ["Ap", "cpt_heavy"],
    what: "Ap pruned (layers 2 and 4 dropped, 50% of FFN neurons kept) and distilled (proxy: the pruning applied to cpt_heavy, + N(0, (0.3·std_t)²))",
    make: async (g) =>
      addRelativeNoise(pruneFfn(dropLayers(await g("cpt_heavy"), [2, 4]).model, 0.5, 43).model, 0.3, 76),
  },
  distilled_student: {
    from: ["Ap", "Bp"],
    what: "student from scratch (Bp's independent weights) whose MLP down_proj is refitted per layer by ridge regression to reproduce Ap's MLP outputs (layer-wise distillation, 1024 tokens)",
    make: async (g) => distilMlps(await g("Bp"), await g("Ap"), 1024, 77),
  },
  synth_base: {
    from: [],
    what: "synthetic llama-3.2-1b shape at 1/8 (hidden 256, FFN 1024, 4 layers, tied, vocab 512), seed 91",
    make: async () => synthDense(SYNTH_ARCH, 91),
  },
  synth_other: {
    from: [],
    what: "same synthetic shape, seed 92 (independent)",
    make: async () => synthDense(SYNTH_ARCH, 92),
  },
  synth_q4k: {
    from: ["synth_base"],
    what: "GGUF Q4_K of synth_base (true Q4_K: rows are whole 256-blocks)",
    make: (g) => g("synth_base"),
    write: { format: "gguf", type: "Q4_K" },
  },
  synth_pruned_q4k: {
    from: ["synth_base"],
    what: "grandchild: synth_base with 75% of FFN neurons kept (1024→768), then GGUF Q4_K",
    make: async (g) => pruneFfn(await g("synth_base"), 0.75, 93).model,
    write: { format: "gguf", type: "Q4_K" },
  },
  rand1: {
    from: [],
    what: "random N(mean_t, std_t²) per tensor of Ap's shape, seed 81",
    make: async (g) => randomLike(await g("Ap"), 81),
  },
  rand2: {
    from: [],
    what: "random N(mean_t, std_t²) per tensor of Ap's shape, seed 82",
    make: async (g) => randomLike(await g("Ap"), 82),
  },
};

/**
 * Builds held-out members on demand under `root` (memoised in memory and on disk). Real members are
 * read from their kinship-dev folders; `realPath(id)` maps a manifest id to its folder.
 */
export class HeldoutFamily {
  private readonly dense = new Map<string, Promise<DenseModel>>();
  private readonly paths = new Map<string, Promise<string>>();
  constructor(
    private readonly root: string,
    private readonly realPath: (id: string) => string,
  ) {}

  recipe(id: string): Recipe {
    const r = HELDOUT_RECIPES[id];
    if (!r)
      throw new PedigreeError("USAGE_UNKNOWN_SHAPE", `no held-out recipe "${id}"`, {
        details: { id, known: Object.keys(HELDOUT_RECIPES) },
      });
    return r;
  }

  model(id: string): Promise<DenseModel> {
    let p = this.dense.get(id);
    if (!p) {
      const r = this.recipe(id);
      p = r.real
        ? loadDense(this.realPath(r.real))
        : (r.make as NonNullable<Recipe["make"]>)((x) => this.model(x));
      this.dense.set(id, p);
    }
    return p;
  }

  /** Folder holding member `id` on disk (written on first request). */
  path(id: string): Promise<string> {
    let p = this.paths.get(id);
    if (!p) {
      p = this.write(id);
      this.paths.set(id, p);
    }
    return p;
  }

  private async write(id: string): Promise<string> {
    const r = this.recipe(id);
    if (r.real) return this.realPath(r.real);
    const m = await this.model(id);
    const dir = path.join(this.root, id);
    const w = r.write ?? { format: "safetensors" };
    if (w.format === "pytorch") await writeDensePytorch(m, dir);
    else if (w.format === "gguf") await writeDenseGguf(m, dir, w.type ?? "F16", !w.noTokenizer);
    else await writeDenseSafetensors(m, dir);
    return dir;
  }
}
