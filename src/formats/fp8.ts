/**
 * 8-bit floating point formats (OCP "OFP8" spec, 2023) and the 16-bit half format, decoded through
 * lookup tables: one table load per element is faster than bit arithmetic and exact by construction.
 */

/** Value of a float with the given fields; `mantissa` is the raw integer field of `mantBits` bits. */
function fieldsToNumber(sign: number, exp: number, mantissa: number, mantBits: number, bias: number): number {
  const s = sign ? -1 : 1;
  if (exp === 0) return s * mantissa * 2 ** (1 - bias - mantBits); // subnormal (and ±0)
  return s * (1 + mantissa / 2 ** mantBits) * 2 ** (exp - bias);
}

/**
 * F8_E4M3 as PyTorch's float8_e4m3fn: bias 7, no infinities, S.1111.111 is NaN, so the largest
 * finite magnitude is 448 (S.1111.110).
 */
export function buildE4M3Table(): Float32Array {
  const t = new Float32Array(256);
  for (let b = 0; b < 256; b++) {
    const exp = (b >> 3) & 0xf;
    const mant = b & 0x7;
    t[b] = exp === 0xf && mant === 0x7 ? Number.NaN : fieldsToNumber(b >> 7, exp, mant, 3, 7);
  }
  return t;
}

/** F8_E5M2 as PyTorch's float8_e5m2: IEEE-style, bias 15, exponent 31 holds ±Inf (mantissa 0) and NaN. */
export function buildE5M2Table(): Float32Array {
  const t = new Float32Array(256);
  for (let b = 0; b < 256; b++) {
    const exp = (b >> 2) & 0x1f;
    const mant = b & 0x3;
    if (exp === 0x1f) t[b] = mant === 0 ? (b >> 7 ? -Infinity : Infinity) : Number.NaN;
    else t[b] = fieldsToNumber(b >> 7, exp, mant, 2, 15);
  }
  return t;
}

/** IEEE 754 binary16: bias 15, 10 mantissa bits; all 65,536 patterns (256 KiB table). */
export function buildF16Table(): Float32Array {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) t[h] = mant === 0 ? (h >> 15 ? -Infinity : Infinity) : Number.NaN;
    else t[h] = fieldsToNumber(h >> 15, exp, mant, 10, 15);
  }
  return t;
}

let e4m3: Float32Array | undefined;
let e5m2: Float32Array | undefined;
let f16: Float32Array | undefined;

export function e4m3Table(): Float32Array {
  e4m3 ??= buildE4M3Table();
  return e4m3;
}
export function e5m2Table(): Float32Array {
  e5m2 ??= buildE5M2Table();
  return e5m2;
}
export function f16Table(): Float32Array {
  f16 ??= buildF16Table();
  return f16;
}
