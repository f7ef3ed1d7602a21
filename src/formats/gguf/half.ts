/** IEEE half and bfloat16 conversions used by the GGUF decoders and quantisers. */

let table: Float32Array | null = null;

/** All 65536 half values as float32 (256 KB, built once): decoding is then one lookup. */
export function halfTable(): Float32Array {
  if (table) return table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = halfBitsToNumber(h);
  table = t;
  return t;
}

function halfBitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

export function f16ToF32(bits: number): number {
  // The table has all 65536 entries: the fallback never applies.
  return halfTable()[bits & 0xffff] ?? Number.NaN;
}

/** Four bytes to reinterpret a float32's bits (both sides little-endian, so any platform agrees). */
const bitsOf = new DataView(new ArrayBuffer(4));

/** bfloat16 bits → float: the top half of a float32. */
export function bf16ToF32(bits: number): number {
  bitsOf.setUint32(0, (bits & 0xffff) << 16, true);
  return bitsOf.getFloat32(0, true);
}

/** float → bfloat16 bits, round to nearest even; NaN stays a quiet NaN (as torch and ggml do). */
export function f32ToBf16(x: number): number {
  bitsOf.setFloat32(0, x, true);
  const u = bitsOf.getUint32(0, true);
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * float → IEEE half bits, round to nearest even (what ggml's GGML_FP32_TO_FP16 does on F16C / NEON);
 * overflow goes to ±Inf, tiny values to subnormals or ±0.
 */
export function f32ToF16(x: number): number {
  bitsOf.setFloat32(0, x, true);
  const u = bitsOf.getUint32(0, true);
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal half: shift the mantissa (with its implicit 1) right, rounding to nearest even.
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let r = m >>> shift;
    if (rest > half || (rest === half && r & 1)) r += 1;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && r & 1)) r += 1; // may carry into the exponent: still correct
  return sign | r;
}

/** Rounds through half precision: the value a stored f16 scale really has. */
export function roundF16(x: number): number {
  return f16ToF32(f32ToF16(x));
}
