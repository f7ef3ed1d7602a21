import { dotRows } from "../../stats/linalg.js";
/**
 * Pure kernels that turn weight rows into per-neuron features (no I/O; see STYLE "kernels are pure").
 */

/**
 * Features F = (W ⊙ g) · Pᵀ: W is n×d (rows = neurons), g the length-d norm weight folded into the
 * input (or null), P is k×d (one projection direction per row). Returns n×k float32.
 */
export function projectRows(
  w: Float32Array,
  n: number,
  d: number,
  g: Float32Array | null,
  p: Float32Array,
  k: number,
): Float32Array {
  if (w.length !== n * d) throw new RangeError(`weights have ${w.length} values, expected ${n}×${d}`);
  if (p.length !== k * d) throw new RangeError(`projection has ${p.length} values, expected ${k}×${d}`);
  // Fold g into P once (k·d work) instead of into every row (n·d).
  const pg = g ? new Float32Array(k * d) : p;
  if (g) for (let r = 0; r < k; r++) for (let c = 0; c < d; c++) pg[r * d + c] = p[r * d + c]! * g[c]!;
  const out = new Float32Array(n * k);
  dotRows(w, n, pg, k, d, out);
  return out;
}

/** Per-row uint8 quantisation x ↦ round(127·x/max|x|) + 128; only each row's direction is kept. */
export function quantizeRows(x: Float32Array, n: number, k: number): Uint8Array {
  const out = new Uint8Array(n * k);
  for (let i = 0; i < n; i++) {
    let m = 0;
    for (let c = 0; c < k; c++) m = Math.max(m, Math.abs(x[i * k + c]!));
    const s = m > 0 ? 127 / m : 0;
    for (let c = 0; c < k; c++) out[i * k + c] = Math.round(x[i * k + c]! * s) + 128;
  }
  return out;
}

/** Inverse of quantizeRows up to each row's scale. */
export function dequantizeRows(q: Uint8Array): Float32Array {
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = q[i]! - 128;
  return out;
}

/**
 * A seeded Gaussian k×d matrix: xoshiro128** (seeded by splitmix32) → Box–Muller. Same seed, same
 * matrix on every platform: the native features of two models are only comparable when they share it.
 */
export function gaussianMatrix(k: number, d: number, seed: number): Float32Array {
  let x = seed >>> 0;
  const splitmix = (): number => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  const s = [splitmix(), splitmix(), splitmix(), splitmix()];
  const rotl = (v: number, r: number) => ((v << r) | (v >>> (32 - r))) >>> 0;
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2] = (s[2]! ^ s[0]!) >>> 0;
    s[3] = (s[3]! ^ s[1]!) >>> 0;
    s[1] = (s[1]! ^ s[2]!) >>> 0;
    s[0] = (s[0]! ^ s[3]!) >>> 0;
    s[2] = (s[2]! ^ t) >>> 0;
    s[3] = rotl(s[3]!, 11);
    return (result + 0.5) / 2 ** 32;
  };
  const out = new Float32Array(k * d);
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next()));
    const a = 2 * Math.PI * next();
    out[i] = r * Math.cos(a);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

/** HuRef-style invariant Σ_h (E Wq_hᵀ)(E Wk_{g(h)}ᵀ)ᵀ for m anchor rows E (m×d); heads share kv groups. */
export function qkInvariant(
  e: Float32Array,
  m: number,
  d: number,
  wq: Float32Array,
  wk: Float32Array,
  heads: number,
  kvHeads: number,
  headDim: number,
): Float32Array {
  const q = projectRows(e, m, d, null, wq, heads * headDim); // m × (heads·hd)
  const k = projectRows(e, m, d, null, wk, kvHeads * headDim); // m × (kv·hd)
  const out = new Float32Array(m * m);
  const group = Math.max(1, Math.floor(heads / Math.max(1, kvHeads)));
  for (let h = 0; h < heads; h++) {
    const g = Math.min(kvHeads - 1, Math.floor(h / group));
    for (let i = 0; i < m; i++)
      for (let j = 0; j < m; j++) {
        let s = 0;
        for (let c = 0; c < headDim; c++)
          s += q[i * heads * headDim + h * headDim + c]! * k[j * kvHeads * headDim + g * headDim + c]!;
        out[i * m + j] = out[i * m + j]! + s;
      }
  }
  return out;
}
