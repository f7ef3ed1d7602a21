import { PedigreeError } from "../../errors.js";
import { dotRows } from "../../kernels/dot-rows.js";
import { addColumnSquaresWasm, quantizeRowsWasm, rowNormsWasm } from "../../kernels/row-stats.js";
/**
 * Pure kernels that turn weight rows into per-neuron features (no I/O; see STYLE "kernels are pure").
 */

/** Features F = W · Pᵀ: W is n×d (rows = neurons), P is k×d (one direction per row). Returns n×k float32. */
export function projectRows(w: Float32Array, n: number, d: number, p: Float32Array, k: number): Float32Array {
  if (w.length !== n * d)
    throw new PedigreeError("INTERNAL_BAD_ARGUMENT", `weights have ${w.length} values, expected ${n}×${d}`);
  if (p.length !== k * d)
    throw new PedigreeError("INTERNAL_BAD_ARGUMENT", `projection has ${p.length} values, expected ${k}×${d}`);
  const out = new Float32Array(n * k);
  dotRows(w, n, p, k, d, out);
  return out;
}

/**
 * P with column c scaled by g[c] (k×d): folding a norm weight g into the directions once gives
 * (W ⊙ g)·Pᵀ = W·(P ⊙ g)ᵀ at k·d cost instead of n·d for every matrix that g feeds.
 */
export function scaleColumns(p: Float32Array, k: number, d: number, g: Float32Array | null): Float32Array {
  if (!g) return p;
  const out = new Float32Array(k * d);
  for (let r = 0; r < k; r++)
    for (let c = 0; c < d; c++) out[r * d + c] = (p[r * d + c] ?? Number.NaN) * (g[c] ?? Number.NaN);
  return out;
}

/**
 * Per-row uint8 quantisation x ↦ round(127·x/max|x|) + 128 of columns [from, from+width) of an n×k
 * matrix (all of them by default); only each row's direction is kept. Returns n×width. In
 * WebAssembly (kernels/row-stats.ts), the same bytes as the plain loop.
 */
export function quantizeRows(x: Float32Array, n: number, k: number, from = 0, width = k - from): Uint8Array {
  return quantizeRowsWasm(x, n, k, from, width);
}

/** Inverse of quantizeRows up to each row's scale. */
export function dequantizeRows(q: Uint8Array): Float32Array {
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = (q[i] ?? Number.NaN) - 128;
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
  // The state stays an array: four captured `let`s measured 2× slower (V8 boxes each uint32 write).
  const s = [splitmix(), splitmix(), splitmix(), splitmix()];
  const rotl = (v: number, r: number) => ((v << r) | (v >>> (32 - r))) >>> 0;
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1] ?? 0, 5) >>> 0, 7), 9) >>> 0;
    const t = ((s[1] ?? 0) << 9) >>> 0;
    s[2] = ((s[2] ?? 0) ^ (s[0] ?? 0)) >>> 0;
    s[3] = ((s[3] ?? 0) ^ (s[1] ?? 0)) >>> 0;
    s[1] = ((s[1] ?? 0) ^ (s[2] ?? 0)) >>> 0;
    s[0] = ((s[0] ?? 0) ^ (s[3] ?? 0)) >>> 0;
    s[2] = ((s[2] ?? 0) ^ t) >>> 0;
    s[3] = rotl(s[3] ?? 0, 11);
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

/**
 * HuRef-style invariant Σ_h (E Wq_hᵀ)(E Wk_{g(h)}ᵀ)ᵀ for m anchor rows E, from the projections
 * q = E·Wqᵀ (m × heads·headDim) and k = E·Wkᵀ (m × kvHeads·headDim); heads share kv groups.
 */
export function qkInvariant(
  q: Float32Array,
  k: Float32Array,
  m: number,
  heads: number,
  kvHeads: number,
  headDim: number,
): Float32Array {
  const out = new Float32Array(m * m);
  const group = Math.max(1, Math.floor(heads / Math.max(1, kvHeads)));
  for (let h = 0; h < heads; h++) {
    const g = Math.min(kvHeads - 1, Math.floor(h / group));
    for (let i = 0; i < m; i++)
      for (let j = 0; j < m; j++) {
        let s = 0;
        for (let c = 0; c < headDim; c++)
          s +=
            (q[i * heads * headDim + h * headDim + c] ?? Number.NaN) *
            (k[j * kvHeads * headDim + g * headDim + c] ?? Number.NaN);
        out[i * m + j] = (out[i * m + j] ?? Number.NaN) + s;
      }
  }
  return out;
}

/**
 * Euclidean norm of each of the n rows of an n×d row-major matrix: float64 sums in column order,
 * rounded to float32 (WebAssembly, kernels/row-stats.ts; same bits as the plain loop).
 */
export function rowNorms(w: Float32Array, n: number, d: number): Float32Array {
  return rowNormsWasm(w, n, d);
}

/** Adds the squares of each column of an n×d block into acc (length d): column norms by row blocks. */
export function addColumnSquares(w: Float32Array, n: number, d: number, acc: Float64Array): void {
  addColumnSquaresWasm(w, n, d, acc);
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/**
 * IEEE 754 binary16 bits of x, round to nearest even; overflow → ±Inf, tiny → subnormal/0. Norms are
 * stored this way (2 bytes, 3 significant digits: ratios to 0.1%, far below the ×¼–×4 being looked for).
 */
export function toFloat16(x: number): number {
  F32[0] = x;
  const b = U32[0] ?? 0;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rounded = (mant + half - 1 + ((mant >>> shift) & 1)) >>> shift;
    return sign | rounded;
  }
  const rounded = mant + 0xfff + ((mant >>> 13) & 1);
  // A carry out of the mantissa bumps the exponent, which is the correct rounding.
  return (sign | (e << 10)) + (rounded >>> 13);
}

export function fromFloat16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function float16Array(x: Float32Array | Float64Array): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = toFloat16(x[i] ?? Number.NaN);
  return out;
}

export function fromFloat16Array(u: Uint16Array): Float32Array {
  const out = new Float32Array(u.length);
  for (let i = 0; i < u.length; i++) out[i] = fromFloat16(u[i] ?? 0);
  return out;
}
