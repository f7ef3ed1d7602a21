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
 * A seeded Gaussian k×d matrix (xorshift128+ → Box–Muller). Same seed, same matrix on every platform:
 * the native features of two models are only comparable when they share it.
 */
export function gaussianMatrix(k: number, d: number, seed: number): Float32Array {
  let s0 = (seed ^ 0x9e3779b9) >>> 0 || 1;
  let s1 = (Math.imul(seed, 0x85ebca6b) ^ 0x27d4eb2f) >>> 0 || 2;
  const next = (): number => {
    // xorshift64 on two 32-bit halves; 53 bits of output via two draws is unnecessary at float32.
    let x = s0;
    const y = s1;
    s0 = y;
    x ^= x << 23;
    x ^= x >>> 17;
    x ^= y ^ (y >>> 26);
    s1 = x >>> 0;
    return ((s0 + s1) >>> 0) / 2 ** 32;
  };
  const out = new Float32Array(k * d);
  for (let i = 0; i < out.length; i += 2) {
    const u1 = Math.max(next(), 1e-12);
    const u2 = next();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
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
