import { at } from "../../src/checked.js";
import { Xoshiro128 } from "../../src/synth/random.js";
import { cfgInt, type DenseModel, type DenseTensor, tensorOf, withTensors } from "./dense-model.js";

/**
 * Derivations for the attention / heavy-washing / distillation held-out cases. There is no training
 * loop here; "trained" is a stated proxy: the update a real continued pre-training applied to the
 * same parent (kinship-dev's cpt_heavy − Ap, drift 0.23), added tensor by tensor.
 */

/** m + (to − from) on every tensor the three share by name and size: a real training update, replayed. */
export function applyUpdate(m: DenseModel, from: DenseModel, to: DenseModel): DenseModel {
  const out = new Map<string, DenseTensor>();
  for (const [name, t] of m.tensors) {
    const f = from.tensors.get(name);
    const g = to.tensors.get(name);
    if (!f || !g || f.data.length !== t.data.length || g.data.length !== t.data.length) {
      out.set(name, t);
      continue;
    }
    out.set(name, {
      shape: [...t.shape],
      data: t.data.map((v, i) => v + (g.data[i] ?? Number.NaN) - (f.data[i] ?? Number.NaN)),
    });
  }
  return withTensors(m, out);
}

const isMlp = (name: string) => /\.mlp\./.test(name);

/** Every MLP tensor from `mlps` (a re-initialised model), everything else (embeddings, attention, norms) from `keep`. */
export function replaceMlps(keep: DenseModel, mlps: DenseModel): DenseModel {
  const out = new Map<string, DenseTensor>();
  for (const [name, t] of keep.tensors) out.set(name, isMlp(name) ? tensorOf(mlps, name) : t);
  return withTensors(keep, out);
}

const silu = (x: number) => x / (1 + Math.exp(-x));

/** RMS-normalised rows of `tokens` embedding rows, scaled by a norm weight g (the MLP's input). */
function mlpInputs(teacher: DenseModel, layer: number, tokens: Int32Array): Float32Array {
  const e = tensorOf(teacher, "model.embed_tokens.weight");
  const d = at(e.shape, 1, "shape");
  const g = tensorOf(teacher, `model.layers.${layer}.post_attention_layernorm.weight`).data;
  const x = new Float32Array(tokens.length * d);
  tokens.forEach((tok, r) => {
    const row = e.data.subarray(tok * d, (tok + 1) * d);
    const rms = Math.sqrt(row.reduce((s, v) => s + v * v, 0) / d + 1e-5);
    for (let c = 0; c < d; c++) x[r * d + c] = ((row[c] ?? Number.NaN) / rms) * (g[c] ?? Number.NaN);
  });
  return x;
}

/** SwiGLU hidden activations silu(x·Gᵀ) ⊙ (x·Uᵀ): n × width. */
function hiddenActs(x: Float32Array, n: number, d: number, gate: DenseTensor, up: DenseTensor): Float64Array {
  const w = at(gate.shape, 0, "shape");
  const h = new Float64Array(n * w);
  for (let r = 0; r < n; r++)
    for (let j = 0; j < w; j++) {
      let a = 0;
      let b = 0;
      for (let c = 0; c < d; c++) {
        a += (x[r * d + c] ?? Number.NaN) * (gate.data[j * d + c] ?? Number.NaN);
        b += (x[r * d + c] ?? Number.NaN) * (up.data[j * d + c] ?? Number.NaN);
      }
      h[r * w + j] = silu(a) * b;
    }
  return h;
}

/** Solves (HᵀH + λI)·D = HᵀY for D (w × d) by Cholesky: ridge regression written by hand (tiny sizes). */
function ridge(
  h: Float64Array,
  y: Float64Array,
  n: number,
  w: number,
  d: number,
  lambda: number,
): Float64Array {
  const a = new Float64Array(w * w);
  const b = new Float64Array(w * d);
  for (let r = 0; r < n; r++)
    for (let i = 0; i < w; i++) {
      const hi = h[r * w + i] ?? Number.NaN;
      for (let j = 0; j <= i; j++)
        a[i * w + j] = (a[i * w + j] ?? Number.NaN) + hi * (h[r * w + j] ?? Number.NaN);
      for (let c = 0; c < d; c++)
        b[i * d + c] = (b[i * d + c] ?? Number.NaN) + hi * (y[r * d + c] ?? Number.NaN);
    }
  let trace = 0;
  for (let i = 0; i < w; i++) trace += a[i * w + i] ?? Number.NaN;
  for (let i = 0; i < w; i++) a[i * w + i] = (a[i * w + i] ?? Number.NaN) + (lambda * trace) / w;
  for (let j = 0; j < w; j++) {
    let s = a[j * w + j] ?? Number.NaN;
    for (let k = 0; k < j; k++) s -= (a[j * w + k] ?? Number.NaN) ** 2;
    const l = Math.sqrt(Math.max(s, 1e-12));
    a[j * w + j] = l;
    for (let i = j + 1; i < w; i++) {
      let t = a[i * w + j] ?? Number.NaN;
      for (let k = 0; k < j; k++) t -= (a[i * w + k] ?? Number.NaN) * (a[j * w + k] ?? Number.NaN);
      a[i * w + j] = t / l;
    }
  }
  for (let c = 0; c < d; c++) {
    for (let i = 0; i < w; i++) {
      let t = b[i * d + c] ?? Number.NaN;
      for (let k = 0; k < i; k++) t -= (a[i * w + k] ?? Number.NaN) * (b[k * d + c] ?? Number.NaN);
      b[i * d + c] = t / (a[i * w + i] ?? Number.NaN);
    }
    for (let i = w - 1; i >= 0; i--) {
      let t = b[i * d + c] ?? Number.NaN;
      for (let k = i + 1; k < w; k++) t -= (a[k * w + i] ?? Number.NaN) * (b[k * d + c] ?? Number.NaN);
      b[i * d + c] = t / (a[i * w + i] ?? Number.NaN);
    }
  }
  return b;
}

/**
 * A student distilled layer by layer from a teacher: its own (independently trained) weights, except
 * that each MLP's down_proj is refitted by ridge regression so that the student's MLP, with its own
 * gate/up rows, reproduces the teacher's MLP outputs on the teacher's normalised embedding rows of
 * `samples` random tokens. Function copied, weights not: under DESIGN's H0 reading it must not be
 * "related" (no unit of the student descends from one of the teacher's).
 */
export function distilMlps(
  student: DenseModel,
  teacher: DenseModel,
  samples: number,
  seed: number,
): DenseModel {
  const out = new Map(student.tensors);
  const layers = cfgInt(student, "num_hidden_layers");
  const vocab = at(tensorOf(teacher, "model.embed_tokens.weight").shape, 0, "shape");
  const d = at(tensorOf(teacher, "model.embed_tokens.weight").shape, 1, "shape");
  const rng = new Xoshiro128(seed);
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.mlp`;
    const tokens = Int32Array.from({ length: samples }, () => Math.floor(rng.uniform() * vocab));
    const x = mlpInputs(teacher, l, tokens);
    const ht = hiddenActs(
      x,
      samples,
      d,
      tensorOf(teacher, `${p}.gate_proj.weight`),
      tensorOf(teacher, `${p}.up_proj.weight`),
    );
    const down = tensorOf(teacher, `${p}.down_proj.weight`);
    const wt = at(down.shape, 1, "shape");
    const y = new Float64Array(samples * d);
    for (let r = 0; r < samples; r++)
      for (let c = 0; c < d; c++) {
        let s = 0;
        for (let j = 0; j < wt; j++)
          s += (ht[r * wt + j] ?? Number.NaN) * (down.data[c * wt + j] ?? Number.NaN);
        y[r * d + c] = s;
      }
    const gs = tensorOf(student, `${p}.gate_proj.weight`);
    const ws = at(gs.shape, 0, "shape");
    const hs = hiddenActs(x, samples, d, gs, tensorOf(student, `${p}.up_proj.weight`));
    const fit = ridge(hs, y, samples, ws, d, 1e-3); // ws × d: row j = down column j
    const data = new Float32Array(d * ws);
    for (let c = 0; c < d; c++) for (let j = 0; j < ws; j++) data[c * ws + j] = fit[j * d + c] ?? Number.NaN;
    out.set(`${p}.down_proj.weight`, { shape: [d, ws], data });
  }
  return withTensors(student, out);
}
