import type { DType } from "../../formats/types.js";
import type { TensorStats } from "../types.js";
import { codeTable, floatBinMidpoints, valueOrder, valueRank } from "./dtype-tables.js";

/**
 * Per-tensor statistics kernels (pure functions on typed arrays, docs/fingerprint-format.md §stats).
 * mean/std/rms/min/max/quantiles cover the finite values; NaN and ±Inf are counted apart; std is the
 * population standard deviation. All sums are float64.
 */

/** Quantile levels reported in TensorStats.quantiles (lower quantile: the ⌈q·n⌉-th smallest value). */
export const QUANTILE_LEVELS: readonly number[] = [0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999];

/** Chan et al. mergeable moments over finite values, plus extremes and non-finite counts. */
export interface Moments {
  n: number;
  mean: number;
  /** Sum of squared deviations from `mean`. */
  m2: number;
  min: number;
  max: number;
  nan: number;
  inf: number;
}

export function emptyMoments(): Moments {
  return {
    n: 0,
    mean: 0,
    m2: 0,
    min: Number.POSITIVE_INFINITY,
    max: Number.NEGATIVE_INFINITY,
    nan: 0,
    inf: 0,
  };
}

/** Chan's parallel merge; `merge(a, merge(b, c))` equals `merge(merge(a, b), c)` up to float64 rounding. */
export function mergeMoments(a: Moments, b: Moments): Moments {
  const n = a.n + b.n;
  const delta = b.mean - a.mean;
  const mean = n === 0 ? 0 : a.mean + (delta * b.n) / n;
  const m2 = n === 0 ? 0 : a.m2 + b.m2 + (delta * delta * a.n * b.n) / n;
  return {
    n,
    mean,
    m2,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
    nan: a.nan + b.nan,
    inf: a.inf + b.inf,
  };
}

/** Float path partial: moments plus a 2^16-bin histogram keyed by the float32's top 16 bits. */
export interface FloatPartial {
  moments: Moments;
  hist: Float64Array;
}

export function emptyFloatPartial(): FloatPartial {
  return { moments: emptyMoments(), hist: new Float64Array(65536) };
}

/**
 * Accumulates one chunk: a first pass for count/sum/extremes/histogram, a second for the squared
 * deviations about the chunk mean (two-pass per chunk, then Chan merge: accurate for 10^9 values).
 */
export function accumulateFloats(values: Float32Array | Float64Array): FloatPartial {
  const hist = new Float64Array(65536);
  const f32 = new Float32Array(1);
  const bits = new Uint32Array(f32.buffer);
  let n = 0;
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let nan = 0;
  let inf = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? Number.NaN;
    if (Number.isNaN(v)) nan++;
    else if (v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY) inf++;
    else {
      n++;
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
      f32[0] = v;
      const key = (bits[0] ?? 0) >>> 16;
      hist[key] = (hist[key] ?? 0) + 1;
    }
  }
  const mean = n === 0 ? 0 : sum / n;
  let m2 = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? Number.NaN;
    if (v - v === 0) m2 += (v - mean) * (v - mean); // finite values only (Inf - Inf and NaN are NaN)
  }
  return { moments: { n, mean, m2, min, max, nan, inf }, hist };
}

export function mergeFloatPartials(a: FloatPartial, b: FloatPartial): FloatPartial {
  const hist = new Float64Array(65536);
  for (let k = 0; k < 65536; k++) hist[k] = (a.hist[k] ?? 0) + (b.hist[k] ?? 0);
  return { moments: mergeMoments(a.moments, b.moments), hist };
}

/** Finalizes a float partial. `total` is the tensor's element count (NaN/Inf included). */
export function finalizeFloat(p: FloatPartial, total: number): TensorStats {
  const m = p.moments;
  const q = histogramQuantiles(p.hist, valueOrder(codeTable("BF16")), floatBinMidpoints(), m.n);
  // Bin midpoints can overshoot the true extremes by half a bin: clamp so q stays within [min, max].
  return statsFromMoments(
    m,
    total,
    q.map((x) => Math.min(Math.max(x, m.min), m.max)),
  );
}

function statsFromMoments(m: Moments, total: number, quantiles: number[]): TensorStats {
  const finite = m.n > 0;
  const variance = finite ? m.m2 / m.n : 0;
  return {
    count: total,
    mean: finite ? m.mean : Number.NaN,
    std: finite ? Math.sqrt(variance) : Number.NaN,
    rms: finite ? Math.sqrt(variance + m.mean * m.mean) : Number.NaN,
    min: finite ? m.min : Number.NaN,
    max: finite ? m.max : Number.NaN,
    nanCount: m.nan,
    infCount: m.inf,
    quantiles,
  };
}

/** Adds the codes of a chunk to an exact pattern histogram (the plain loop; the scan runs src/kernels/code-counts.ts). */
export function accumulateCodes(codes: Uint16Array | Uint8Array, hist: Uint32Array): void {
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i] ?? 0;
    hist[c] = (hist[c] ?? 0) + 1;
  }
}

/** Exact statistics of a 16/8-bit dtype from its pattern counts (a dense histogram). */
export function finalizeCodes(hist: Float64Array, dtype: DType): TensorStats {
  let bins = 0;
  for (let c = 0; c < hist.length; c++) if ((hist[c] as number) !== 0) bins++;
  const codes = new Uint32Array(bins);
  const counts = new Float64Array(bins);
  for (let c = 0, i = 0; c < hist.length; c++) {
    const k = hist[c] as number;
    if (k === 0) continue;
    codes[i] = c;
    counts[i++] = k;
  }
  return finalizeCodeCounts(codes, counts, dtype);
}

/**
 * Exact statistics of a 16/8-bit dtype from the counts of its non-empty bins (`codes` ascending,
 * `counts[i]` of `codes[i]`). Every sum runs in code order, and the empty bins would add exact
 * zeros, so this equals the walk over all 2^16 bins bit for bit; the quantile walk visits the same
 * bins in value order, and an empty bin can never be the one a rank falls in.
 */
export function finalizeCodeCounts(codes: Uint32Array, counts: Float64Array, dtype: DType): TensorStats {
  const table = codeTable(dtype);
  let n = 0;
  let sum = 0;
  let nan = 0;
  let inf = 0;
  for (let i = 0; i < codes.length; i++) {
    const k = counts[i] as number;
    const v = table[codes[i] as number] as number;
    if (Number.isNaN(v)) nan += k;
    else if (!Number.isFinite(v)) inf += k;
    else {
      n += k;
      sum += k * v;
    }
  }
  const mean = n === 0 ? 0 : sum / n;
  let m2 = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < codes.length; i++) {
    const k = counts[i] as number;
    const v = table[codes[i] as number] as number;
    if (k === 0 || !Number.isFinite(v)) continue;
    m2 += k * (v - mean) * (v - mean);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const m: Moments = { n, mean, m2, min, max, nan, inf };
  return statsFromMoments(m, n + nan + inf, codeQuantiles(codes, counts, table, n));
}

/** histogramQuantiles over the non-empty bins only: they are put in value order by rank. */
function codeQuantiles(codes: Uint32Array, counts: Float64Array, table: Float64Array, n: number): number[] {
  if (n === 0) return QUANTILE_LEVELS.map(() => Number.NaN);
  const rank = valueRank(table);
  // rank × 2^16 + index: one numeric sort puts the bins in value order (both parts < 2^16).
  const keys = new Float64Array(codes.length);
  let used = 0;
  for (let i = 0; i < codes.length; i++) {
    const r = rank[codes[i] as number] as number;
    if (r >= 0) keys[used++] = r * 65536 + i;
  }
  const sorted = keys.subarray(0, used).sort();
  return walkQuantiles(sorted.length, n, (j) => {
    const i = (sorted[j] as number) % 65536;
    return [table[codes[i] as number] as number, counts[i] as number];
  });
}

/**
 * Lower quantiles from a histogram: walk bins in value order (`order`), report `values[bin]` of the
 * bin holding rank ⌈q·n⌉ (at least 1). `n` counts the finite values in the histogram.
 */
export function histogramQuantiles(
  hist: Float64Array,
  order: Uint32Array,
  values: Float64Array,
  n: number,
): number[] {
  if (n === 0) return QUANTILE_LEVELS.map(() => Number.NaN);
  return walkQuantiles(order.length, n, (i) => {
    const code = order[i] ?? -1;
    return [values[code] ?? Number.NaN, hist[code] ?? 0];
  });
}

/**
 * The quantile walk both histogram forms share: `bin(j)` gives the value and count of the j-th bin in
 * value order; non-finite values are skipped; level q is the value of the bin holding rank ⌈q·n⌉.
 */
function walkQuantiles(bins: number, n: number, bin: (j: number) => [number, number]): number[] {
  const out: number[] = [];
  let cum = 0;
  let li = 0;
  for (let j = 0; j < bins && li < QUANTILE_LEVELS.length; j++) {
    const [v, count] = bin(j);
    if (!Number.isFinite(v)) continue;
    cum += count;
    while (
      li < QUANTILE_LEVELS.length &&
      cum >= Math.max(1, Math.ceil((QUANTILE_LEVELS[li] ?? Number.NaN) * n))
    ) {
      out.push(v);
      li++;
    }
  }
  return out;
}
