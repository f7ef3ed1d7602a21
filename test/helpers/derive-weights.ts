import { at } from "../../src/checked.js";
import { PedigreeError } from "../../src/errors.js";
import { Xoshiro128 } from "../../src/synth/random.js";
import {
  cfgInt,
  type DenseModel,
  type DenseTensor,
  LAYER,
  moments,
  tensorOf,
  withTensors,
} from "./dense-model.js";

/**
 * Weight-level derivations for the held-out set: layer surgery, FFN pruning and permutation,
 * rescaling, merges, round-to-nearest quantisation, frozen reuse, noise and random twins. Unlike
 * src/synth/derive.ts (lazy rows of random models, per-row seeds) these act on loaded real models and
 * keep their exact arithmetic and random streams, so held-out members stay byte-identical.
 */

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
  const cols = at(t.shape, 1, "shape");
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
      data[r * idx.length + c] = t.data[r * cols + (idx[c] ?? -1)] ?? Number.NaN;
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
    const s = Float64Array.from({ length: at(up.shape, 0, "shape") }, draw);
    const upCols = at(up.shape, 1, "shape");
    const downCols = at(down.shape, 1, "shape");
    out.set(`${p}.mlp.up_proj.weight`, {
      shape: [...up.shape],
      data: up.data.map((v, i) => v * (s[Math.floor(i / upCols)] ?? Number.NaN)),
    });
    out.set(`${p}.mlp.down_proj.weight`, {
      shape: [...down.shape],
      data: down.data.map((v, i) => v / (s[i % downCols] ?? Number.NaN)),
    });
    const q = tensorOf(m, `${p}.self_attn.q_proj.weight`);
    const k = tensorOf(m, `${p}.self_attn.k_proj.weight`);
    const t = Float64Array.from({ length: kvHeads }, draw);
    // Rows per KV group: q has heads/kvHeads heads per group, k one head per group.
    const qRows = at(q.shape, 0, "shape") / kvHeads;
    const kRows = at(k.shape, 0, "shape") / kvHeads;
    const qc = at(q.shape, 1, "shape");
    out.set(`${p}.self_attn.q_proj.weight`, {
      shape: [...q.shape],
      data: q.data.map((v, i) => v * (t[Math.floor(i / qc / qRows)] ?? Number.NaN)),
    });
    out.set(`${p}.self_attn.k_proj.weight`, {
      shape: [...k.shape],
      data: k.data.map((v, i) => v / (t[Math.floor(i / qc / kRows)] ?? Number.NaN)),
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
      data[i] = wA * (ta.data[i] ?? Number.NaN) + (1 - wA) * (tb.data[i] ?? Number.NaN);
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
        data[i] = (data[i] ?? Number.NaN) + w * ((tc.data[i] ?? Number.NaN) - (t0.data[i] ?? Number.NaN));
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
    const cols = at(t.shape, 1, "shape");
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
    out.set(name, { shape: [...t.shape], data: noise.map((v, i) => v + (t.data[i] ?? Number.NaN)) });
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
    for (let i = 0; i < data.length; i++) data[i] = (data[i] ?? Number.NaN) + mean;
    out.set(name, { shape: [...t.shape], data });
  }
  return { config: { ...m.config }, tensors: out, tokenizerFrom: m.tokenizerFrom };
}
