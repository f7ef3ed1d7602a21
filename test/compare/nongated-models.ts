import { Xoshiro128 } from "../../src/synth/random.js";
import { type BuildTensor, buildSafetensors, writeTempModel } from "../helpers/build-safetensors.js";

/**
 * Non-gated decoders (GPT-2 and GPT-NeoX/Pythia layouts) built in code for the E3 down/up tests:
 * src/synth only makes gated shapes. A model is held as canonical float32 matrices ([out, in], the
 * model view's orientation) and written as F32 safetensors with the family's tensor names and
 * layouts (GPT-2 Conv1D stores [in, out]). Derivations return new models and never mutate their input.
 *
 * Values are Gaussian with per-layer scales shaped like trained decoders (up rows flat, down columns
 * and attention outputs growing with depth, LayerNorm weights positive and growing), each with a
 * seed-dependent wiggle, so independent seeds differ in profile as real ones do. They are still
 * random weights: a weak null (no trained structure shared across seeds).
 */

export type NgFamily = "gpt2" | "gpt_neox";

export interface Mat {
  rows: number;
  cols: number;
  data: Float32Array;
}

export interface NgLayer {
  ln1: { w: Float32Array; b: Float32Array };
  ln2: { w: Float32Array; b: Float32Array };
  /** [q; k; v] rows (3H × H) in the stored row order of the family. */
  qkv: Mat;
  qkvBias: Float32Array;
  o: Mat;
  oBias: Float32Array;
  /** N × H. */
  up: Mat;
  upBias: Float32Array;
  /** H × N: column j is neuron j's output. */
  down: Mat;
  downBias: Float32Array;
}

export interface NgModel {
  family: NgFamily;
  hidden: number;
  neurons: number;
  vocab: number;
  heads: number;
  embed: Mat;
  /** GPT-2 learned positions (P × H); null for NeoX. */
  pos: Mat | null;
  /** NeoX untied output head (V × H); null for GPT-2 (tied to embed). */
  head: Mat | null;
  lnf: { w: Float32Array; b: Float32Array };
  layers: NgLayer[];
}

export interface NgShape {
  family: NgFamily;
  hidden: number;
  neurons: number;
  layers: number;
  vocab: number;
  heads: number;
}

const POSITIONS = 64;

function gaussian(rng: Xoshiro128, n: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  rng.fillGaussian(out, scale);
  return out;
}

function mat(rng: Xoshiro128, rows: number, cols: number, scale: number): Mat {
  return { rows, cols, data: gaussian(rng, rows * cols, scale) };
}

function positive(rng: Xoshiro128, n: number, mean: number): Float32Array {
  return Float32Array.from(gaussian(rng, n, 0.05 * mean), (x) => Math.max(0.05, mean + x));
}

export function buildModel(shape: NgShape, seed: number): NgModel {
  const rng = new Xoshiro128(seed);
  const { hidden: H, neurons: N, vocab: V } = shape;
  // One wiggle per role and model: independent seeds get different depth profiles.
  const wiggle = () => 1 + 0.15 * rng.gaussian();
  const w = { qkv: wiggle(), o: wiggle(), up: wiggle(), down: wiggle(), ln: wiggle() };
  const layers: NgLayer[] = [];
  for (let l = 0; l < shape.layers; l++) {
    const x = shape.layers > 1 ? l / (shape.layers - 1) : 0;
    layers.push({
      ln1: { w: positive(rng, H, (0.8 + 0.4 * x) * w.ln), b: gaussian(rng, H, 0.02) },
      ln2: { w: positive(rng, H, (0.9 + 0.5 * x) * w.ln), b: gaussian(rng, H, 0.02) },
      qkv: mat(rng, 3 * H, H, 0.02 * (1.4 - 0.5 * x) * w.qkv),
      qkvBias: gaussian(rng, 3 * H, 0.01),
      o: mat(rng, H, H, 0.02 * (0.6 + 0.8 * x) * w.o),
      oBias: gaussian(rng, H, 0.01),
      up: mat(rng, N, H, 0.02 * (0.9 + 0.3 * x) * w.up),
      upBias: gaussian(rng, N, 0.01),
      down: mat(rng, H, N, 0.02 * (0.6 + 0.9 * x) * w.down),
      downBias: gaussian(rng, H, 0.01),
    });
  }
  return {
    family: shape.family,
    hidden: H,
    neurons: N,
    vocab: V,
    heads: shape.heads,
    embed: mat(rng, V, H, 0.02),
    pos: shape.family === "gpt2" ? mat(rng, POSITIONS, H, 0.01) : null,
    head: shape.family === "gpt_neox" ? mat(rng, V, H, 0.02) : null,
    lnf: { w: positive(rng, H, 1), b: gaussian(rng, H, 0.02) },
    layers,
  };
}

function mapLayers(m: NgModel, f: (l: NgLayer) => NgLayer): NgModel {
  return { ...m, layers: m.layers.map(f) };
}

function std(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / Math.max(1, x.length));
}

/** Every matrix plus Gaussian noise of `rel` times its own RMS (continued training, roughly). */
export function addNoise(m: NgModel, rel: number, seed: number): NgModel {
  const rng = new Xoshiro128(seed);
  const noisy = (a: Mat): Mat => {
    const n = gaussian(rng, a.data.length, rel * std(a.data));
    return { ...a, data: Float32Array.from(a.data, (v, i) => v + n[i]!) };
  };
  return {
    ...mapLayers(m, (l) => ({
      ...l,
      qkv: noisy(l.qkv),
      o: noisy(l.o),
      up: noisy(l.up),
      down: noisy(l.down),
    })),
    embed: noisy(m.embed),
    pos: m.pos ? noisy(m.pos) : null,
    head: m.head ? noisy(m.head) : null,
  };
}

/** Function-preserving neuron permutation: up rows, up biases and down columns move together. */
export function permuteNeurons(m: NgModel, seed: number): NgModel {
  const rng = new Xoshiro128(seed);
  return mapLayers(m, (l) => {
    const p = rng.permutation(m.neurons); // new neuron j is old neuron p[j]
    const H = m.hidden;
    const up = { ...l.up, data: new Float32Array(l.up.data.length) };
    const down = { ...l.down, data: new Float32Array(l.down.data.length) };
    const upBias = new Float32Array(m.neurons);
    for (let j = 0; j < m.neurons; j++) {
      const i = p[j]!;
      up.data.set(l.up.data.subarray(i * H, (i + 1) * H), j * H);
      upBias[j] = l.upBias[i]!;
      for (let h = 0; h < H; h++) down.data[h * m.neurons + j] = l.down.data[h * m.neurons + i]!;
    }
    return { ...l, up, upBias, down };
  });
}

/** A seeded random orthogonal H × H matrix (Gram–Schmidt of a Gaussian matrix), row-major. */
export function randomRotation(h: number, seed: number): Float32Array {
  const rng = new Xoshiro128(seed);
  const q = new Float64Array(h * h);
  for (let i = 0; i < h; i++) {
    const v = Float64Array.from({ length: h }, () => rng.gaussian());
    for (let k = 0; k < i; k++) {
      let dot = 0;
      for (let c = 0; c < h; c++) dot += v[c]! * q[k * h + c]!;
      for (let c = 0; c < h; c++) v[c] = v[c]! - dot * q[k * h + c]!;
    }
    const norm = Math.hypot(...v);
    for (let c = 0; c < h; c++) q[i * h + c] = v[c]! / norm;
  }
  return Float32Array.from(q);
}

/** A seeded signed permutation matrix (a hidden-unit permutation with sign flips), row-major. */
export function signedPermutation(h: number, seed: number): Float32Array {
  const rng = new Xoshiro128(seed);
  const p = rng.permutation(h);
  const r = new Float32Array(h * h);
  for (let i = 0; i < h; i++) r[i * h + p[i]!] = rng.uniform() < 0.5 ? -1 : 1;
  return r;
}

/** X (n × H) times R (H × H). */
function timesR(x: Mat, r: Float32Array, h: number, g: Float32Array | null = null): Mat {
  const out = new Float32Array(x.rows * h);
  for (let i = 0; i < x.rows; i++)
    for (let k = 0; k < h; k++) {
      const v = x.data[i * h + k]! * (g ? g[k]! : 1);
      if (v === 0) continue;
      for (let c = 0; c < h; c++) out[i * h + c] = out[i * h + c]! + v * r[k * h + c]!;
    }
  return { rows: x.rows, cols: h, data: out };
}

/** Rᵀ (H × H) times X (H × n). */
function rtTimes(r: Float32Array, x: Mat, h: number): Mat {
  const n = x.cols;
  const out = new Float32Array(h * n);
  for (let k = 0; k < h; k++)
    for (let i = 0; i < h; i++) {
      const rk = r[k * h + i]!; // (Rᵀ)[i, k]
      if (rk === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] = out[i * n + j]! + rk * x.data[k * n + j]!;
    }
  return { rows: h, cols: n, data: out };
}

function rtVector(r: Float32Array, v: Float32Array, h: number): Float32Array {
  return rtTimes(r, { rows: h, cols: 1, data: v }, h).data;
}

/** W·b for W (n × H): the part of a matrix's bias that a folded LayerNorm bias contributes. */
function timesVector(w: Mat, b: Float32Array): Float32Array {
  return Float32Array.from({ length: w.rows }, (_, i) => {
    let s = 0;
    for (let c = 0; c < w.cols; c++) s += w.data[i * w.cols + c]! * b[c]!;
    return s;
  });
}

/**
 * Re-bases the hidden stream by an orthogonal R (rows ↦ rows·R): embeddings and positions rotate,
 * matrices that read the stream get their LayerNorm weight folded in (and its bias into theirs)
 * before rotating, matrices that write it rotate their output side (Rᵀ·W). The LayerNorm weights
 * become 1 and their biases 0, as a rotation obfuscator must leave them. E3's anchor features are
 * invariant to all of it; the native ones are not.
 */
export function rotateHidden(m: NgModel, r: Float32Array): NgModel {
  const H = m.hidden;
  const ones = new Float32Array(H).fill(1);
  const zeros = new Float32Array(H);
  const reads = (w: Mat, bias: Float32Array, ln: { w: Float32Array; b: Float32Array }) => {
    const folded = timesVector(w, ln.b);
    return { w: timesR(w, r, H, ln.w), bias: Float32Array.from(bias, (v, i) => v + folded[i]!) };
  };
  return {
    ...m,
    embed: timesR(m.embed, r, H),
    pos: m.pos ? timesR(m.pos, r, H) : null,
    head: m.head ? timesR(m.head, r, H, m.lnf.w) : null,
    lnf: { w: m.head ? ones : m.lnf.w, b: m.head ? zeros : m.lnf.b },
    layers: m.layers.map((l) => {
      const qkv = reads(l.qkv, l.qkvBias, l.ln1);
      const up = reads(l.up, l.upBias, l.ln2);
      return {
        ln1: { w: ones, b: zeros },
        ln2: { w: ones, b: zeros },
        qkv: qkv.w,
        qkvBias: qkv.bias,
        o: rtTimes(r, l.o, H),
        oBias: rtVector(r, l.oBias, H),
        up: up.w,
        upBias: up.bias,
        down: rtTimes(r, l.down, H),
        downBias: rtVector(r, l.downBias, H),
      };
    }),
  };
}

function transpose(m: Mat): Mat {
  const out = new Float32Array(m.data.length);
  for (let i = 0; i < m.rows; i++)
    for (let j = 0; j < m.cols; j++) out[j * m.rows + i] = m.data[i * m.cols + j]!;
  return { rows: m.cols, cols: m.rows, data: out };
}

const bytes = (x: Float32Array) => new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
const t = (name: string, shape: number[], data: Float32Array): BuildTensor => ({
  name,
  dtype: "F32",
  shape,
  data: bytes(data),
});
const m2 = (name: string, m: Mat) => t(name, [m.rows, m.cols], m.data);

function gpt2Tensors(m: NgModel): BuildTensor[] {
  const H = m.hidden;
  const out = [m2("transformer.wte.weight", m.embed), m2("transformer.wpe.weight", m.pos!)];
  m.layers.forEach((l, i) => {
    const p = `transformer.h.${i}`;
    out.push(
      t(`${p}.ln_1.weight`, [H], l.ln1.w),
      t(`${p}.ln_1.bias`, [H], l.ln1.b),
      // Conv1D stores [in, out]: the transpose of the canonical matrix.
      m2(`${p}.attn.c_attn.weight`, transpose(l.qkv)),
      t(`${p}.attn.c_attn.bias`, [3 * H], l.qkvBias),
      m2(`${p}.attn.c_proj.weight`, transpose(l.o)),
      t(`${p}.attn.c_proj.bias`, [H], l.oBias),
      t(`${p}.ln_2.weight`, [H], l.ln2.w),
      t(`${p}.ln_2.bias`, [H], l.ln2.b),
      m2(`${p}.mlp.c_fc.weight`, transpose(l.up)),
      t(`${p}.mlp.c_fc.bias`, [m.neurons], l.upBias),
      m2(`${p}.mlp.c_proj.weight`, transpose(l.down)),
      t(`${p}.mlp.c_proj.bias`, [H], l.downBias),
    );
  });
  out.push(t("transformer.ln_f.weight", [H], m.lnf.w), t("transformer.ln_f.bias", [H], m.lnf.b));
  return out;
}

function neoxTensors(m: NgModel): BuildTensor[] {
  const H = m.hidden;
  const out = [m2("gpt_neox.embed_in.weight", m.embed)];
  m.layers.forEach((l, i) => {
    const p = `gpt_neox.layers.${i}`;
    out.push(
      t(`${p}.input_layernorm.weight`, [H], l.ln1.w),
      t(`${p}.input_layernorm.bias`, [H], l.ln1.b),
      t(`${p}.post_attention_layernorm.weight`, [H], l.ln2.w),
      t(`${p}.post_attention_layernorm.bias`, [H], l.ln2.b),
      m2(`${p}.attention.query_key_value.weight`, l.qkv),
      t(`${p}.attention.query_key_value.bias`, [3 * H], l.qkvBias),
      m2(`${p}.attention.dense.weight`, l.o),
      t(`${p}.attention.dense.bias`, [H], l.oBias),
      m2(`${p}.mlp.dense_h_to_4h.weight`, l.up),
      t(`${p}.mlp.dense_h_to_4h.bias`, [m.neurons], l.upBias),
      m2(`${p}.mlp.dense_4h_to_h.weight`, l.down),
      t(`${p}.mlp.dense_4h_to_h.bias`, [H], l.downBias),
    );
  });
  out.push(
    t("gpt_neox.final_layer_norm.weight", [H], m.lnf.w),
    t("gpt_neox.final_layer_norm.bias", [H], m.lnf.b),
    m2("embed_out.weight", m.head!),
  );
  return out;
}

function config(m: NgModel): Record<string, unknown> {
  if (m.family === "gpt2")
    return {
      model_type: "gpt2",
      n_embd: m.hidden,
      n_layer: m.layers.length,
      n_head: m.heads,
      n_inner: m.neurons,
      n_positions: POSITIONS,
      vocab_size: m.vocab,
    };
  return {
    model_type: "gpt_neox",
    hidden_size: m.hidden,
    num_hidden_layers: m.layers.length,
    num_attention_heads: m.heads,
    intermediate_size: m.neurons,
    vocab_size: m.vocab,
    tie_word_embeddings: false,
  };
}

/** Writes the model as model.safetensors + config.json in a fresh temporary folder; returns its path. */
export function writeModel(m: NgModel): Promise<string> {
  const tensors = m.family === "gpt2" ? gpt2Tensors(m) : neoxTensors(m);
  return writeTempModel({
    "model.safetensors": buildSafetensors(tensors),
    "config.json": JSON.stringify(config(m)),
  });
}
