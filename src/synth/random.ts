/**
 * Seeded generators for synthetic checkpoints: xoshiro128** (Blackman & Vigna) seeded through
 * splitmix32, Gaussian values by the Box–Muller transform. Same seed → same stream on every platform
 * (32-bit integer arithmetic via Math.imul, float64 transforms, no Math.random).
 */
export class Xoshiro128 {
  /** State in an Int32Array: plain fields would leave V8's 31-bit small integers and allocate. */
  // Reads of s[0..3] fall back to `?? 0`, what a bitwise operator makes of a missing element; the
  // array always has four.
  private readonly s = new Int32Array(4);
  private spare = Number.NaN;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    for (let i = 0; i < 4; i++) this.s[i] = next();
    if (this.s.every((v) => v === 0)) this.s[0] = 1; // all-zero is a fixed point
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const s1 = s[1] ?? 0;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    const s2 = (s[2] ?? 0) ^ (s[0] ?? 0);
    const s3 = (s[3] ?? 0) ^ s1;
    s[1] = s1 ^ s2;
    s[0] = (s[0] ?? 0) ^ s3;
    s[2] = s2 ^ t;
    s[3] = rotl(s3, 11);
    return result;
  }

  /** Fills `out` with the next values of the stream (state in locals: the fast path). */
  fillU32(out: Uint32Array): void {
    const s = this.s;
    let s0 = s[0] ?? 0;
    let s1 = s[1] ?? 0;
    let s2 = s[2] ?? 0;
    let s3 = s[3] ?? 0;
    for (let i = 0; i < out.length; i++) {
      out[i] = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
    }
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
  }

  /** Uniform in (0, 1): never 0, so log() in Box–Muller stays finite. */
  uniform(): number {
    return (this.nextU32() + 0.5) / 4294967296;
  }

  /** Integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal by Box–Muller; the second value of each pair is kept for the next call. */
  gaussian(): number {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare;
      this.spare = Number.NaN;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const theta = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** Fills `out` with N(0, scale²) values (pairs from one Box–Muller draw; the hot path of synth). */
  fillGaussian(out: Float32Array, scale: number): void {
    const n = out.length;
    let i = 0;
    for (; i + 1 < n; i += 2) {
      const r = scale * Math.sqrt(-2 * Math.log(this.uniform()));
      const theta = 2 * Math.PI * this.uniform();
      out[i] = r * Math.cos(theta);
      out[i + 1] = r * Math.sin(theta);
    }
    if (i < n) out[i] = scale * this.gaussian();
  }

  /** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const p = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.below(i + 1);
      // Both indices lie in 0..n-1 (j ≤ i < n).
      const t = p[i] ?? 0;
      p[i] = p[j] ?? 0;
      p[j] = t;
    }
    return p;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Float32 → BF16 with round-to-nearest-even (NaN kept quiet), as PyTorch's `.to(torch.bfloat16)`. */
export function float32ToBf16(src: Float32Array, dst: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i] ?? 0;
    if ((b & 0x7fffffff) > 0x7f800000) dst[i] = (b >>> 16) | 0x40;
    else dst[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
}

/**
 * Bulk Gaussian source for large tensors. Box–Muller costs a log, a sqrt and a sin/cos per pair
 * (measured ≈ 20 M values/s here), too slow for multi-GB checkpoints. Instead each value takes 32
 * random bits: the top 16 pick one of 2^16 equal-probability bins of N(0,1) and the low 16 place
 * it linearly inside the bin (a piecewise-linear inverse CDF: continuous, tails cut at ±4.33σ).
 */
export class GaussianStream {
  private static edges: Float64Array | null = null;
  private readonly rng: Xoshiro128;

  constructor(seed: number) {
    this.rng = new Xoshiro128(seed);
  }

  /** Bin edges Φ⁻¹(i / 2^16) for i = 1 … 2^16 − 1, outer edges at the ±(first inner) mirrored step. */
  static binEdges(): Float64Array {
    if (!GaussianStream.edges) {
      const e = new Float64Array(65537);
      for (let i = 1; i < 65536; i++) e[i] = inverseNormal(i / 65536);
      const first = inverseNormal(1 / 65536);
      const second = inverseNormal(2 / 65536);
      e[0] = 2 * first - second;
      e[65536] = -(2 * first - second);
      GaussianStream.edges = e;
    }
    return GaussianStream.edges;
  }

  fill(out: Float32Array, scale: number): void {
    const e = GaussianStream.binEdges();
    const bits = new Uint32Array(Math.min(out.length, 1 << 16));
    for (let done = 0; done < out.length; done += bits.length) {
      const n = Math.min(bits.length, out.length - done);
      this.rng.fillU32(bits.subarray(0, n));
      for (let i = 0; i < n; i++) {
        // i < n ≤ bits.length and k + 1 ≤ 65536 < e.length: the fallbacks never apply.
        const b = bits[i] ?? 0;
        const k = b >>> 16;
        const lo = e[k] ?? Number.NaN;
        out[done + i] = scale * (lo + ((e[k + 1] ?? Number.NaN) - lo) * ((b & 0xffff) + 0.5) * (1 / 65536));
      }
    }
  }
}

/** Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9). */
export function inverseNormal(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const poly = (k: number[], x: number) => k.reduce((acc, v) => acc * x + v, 0);
  const pLow = 0.02425;
  if (p < pLow) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (p > 1 - pLow) return -inverseNormal(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}
