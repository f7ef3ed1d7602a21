import { at } from "../../src/checked.js";
import { PedigreeError } from "../../src/errors.js";
import { Xoshiro128 } from "../../src/synth/random.js";
import { cfgInt, type DenseModel, type DenseTensor, LAYER, tensorOf, withTensors } from "./dense-model.js";

/** Rotation obfuscation of a dense LLaMA model (function-preserving basis change of the residual stream). */

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
        for (let k = 0; k < d; k++) dot += (row[k] ?? Number.NaN) * (prev[k] ?? Number.NaN);
        for (let k = 0; k < d; k++) row[k] = (row[k] ?? Number.NaN) - dot * (prev[k] ?? Number.NaN);
      }
    const norm = Math.hypot(...row);
    for (let k = 0; k < d; k++) row[k] = (row[k] ?? Number.NaN) / norm;
  }
  return q;
}

/** W·Rᵀ for W [rows, d]: the input side of a matrix that reads the rotated residual stream. */
function rotateIn(t: DenseTensor, r: Float64Array, d: number): DenseTensor {
  const rows = at(t.shape, 0, "shape");
  const data = new Float32Array(rows * d);
  for (let o = 0; o < rows; o++)
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += (t.data[o * d + k] ?? Number.NaN) * (r[i * d + k] ?? Number.NaN);
      data[o * d + i] = s;
    }
  return { shape: [...t.shape], data };
}

/** R·W for W [d, cols]: the output side of a matrix that writes into the residual stream. */
function rotateOut(t: DenseTensor, r: Float64Array, d: number): DenseTensor {
  const cols = at(t.shape, 1, "shape");
  const data = new Float32Array(d * cols);
  for (let i = 0; i < d; i++)
    for (let k = 0; k < d; k++) {
      const rik = r[i * d + k] ?? Number.NaN;
      for (let c = 0; c < cols; c++)
        data[i * cols + c] = (data[i * cols + c] ?? Number.NaN) + rik * (t.data[k * cols + c] ?? Number.NaN);
    }
  return { shape: [...t.shape], data };
}

/** W·diag(g): folds an RMSNorm weight into the matrix that reads the normalised stream. */
function scaleCols(t: DenseTensor, g: Float32Array): DenseTensor {
  const cols = at(t.shape, 1, "shape");
  return { shape: [...t.shape], data: t.data.map((v, i) => v * (g[i % cols] ?? Number.NaN)) };
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
