/**
 * Quantisers for the GGUF writer: float32 → ggml blocks (little-endian layout, as ggml-common.h).
 * Q8_0 and Q4_0 follow ggml's reference rounding; Q4_K and Q6_K use a simple min/max fit per
 * sub-block (ggml searches harder for the scales, so its error is somewhat lower; the layout is the same).
 * Every index stays inside the block (`x` holds whole blocks, the scratch arrays their fixed sizes):
 * the `??` fallbacks on reads never apply.
 */
import { PedigreeError } from "../../errors.js";
import { f16ToF32, f32ToF16 } from "./half.js";

export const QUANTISABLE_TYPES = ["Q8_0", "Q4_0", "Q4_K", "Q6_K"] as const;
export type QuantisableType = (typeof QUANTISABLE_TYPES)[number];

const BLOCK = { Q8_0: [32, 34], Q4_0: [32, 18], Q4_K: [256, 144], Q6_K: [256, 210] } as const;

/** C roundf: halves away from zero. */
function roundAway(x: number): number {
  return Math.sign(x) * Math.round(Math.abs(x));
}

/** Q8_0: d = max|x| / 127, q = round(x / d) in [-127, 127]. */
function quantQ8_0(x: Float32Array, xo: number, dv: DataView, o: number): void {
  let amax = 0;
  for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[xo + j] ?? Number.NaN));
  const d = Math.fround(amax / 127);
  const id = d ? 1 / d : 0;
  dv.setUint16(o, f32ToF16(d), true);
  for (let j = 0; j < 32; j++) dv.setInt8(o + 2 + j, roundAway((x[xo + j] ?? Number.NaN) * id));
}

/** Q4_0: d = (value of largest magnitude) / −8, q = min(15, trunc(x / d + 8.5)). */
function quantQ4_0(x: Float32Array, xo: number, dv: DataView, o: number): void {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < 32; j++) {
    const v = x[xo + j] ?? Number.NaN;
    if (Math.abs(v) > amax) {
      amax = Math.abs(v);
      max = v;
    }
  }
  const d = Math.fround(max / -8);
  const id = d ? 1 / d : 0;
  dv.setUint16(o, f32ToF16(d), true);
  for (let j = 0; j < 16; j++) {
    const lo = Math.min(15, Math.trunc((x[xo + j] ?? Number.NaN) * id + 8.5));
    const hi = Math.min(15, Math.trunc((x[xo + j + 16] ?? Number.NaN) * id + 8.5));
    dv.setUint8(o + 2 + j, lo | (hi << 4));
  }
}

/** Q4_K: per 32-element sub-block, value ≈ d·sc·q − dmin·m with 6-bit sc, m and 4-bit q. */
function quantQ4_K(x: Float32Array, xo: number, dv: DataView, o: number): void {
  const scale = new Float64Array(8);
  const min = new Float64Array(8);
  for (let s = 0; s < 8; s++) {
    let lo = 0; // the min is subtracted, so it must be ≤ 0 (m ≥ 0 is stored)
    let hi = 0;
    for (let l = 0; l < 32; l++) {
      const v = x[xo + 32 * s + l] ?? Number.NaN;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    scale[s] = (hi - lo) / 15;
    min[s] = -lo;
  }
  const d = f16ToF32(f32ToF16(Math.max(...scale) / 63));
  const dmin = f16ToF32(f32ToF16(Math.max(...min) / 63));
  dv.setUint16(o, f32ToF16(d), true);
  dv.setUint16(o + 2, f32ToF16(dmin), true);
  const sc = scale.map((v) => (d ? Math.min(63, Math.round(v / d)) : 0));
  const mn = min.map((v) => (dmin ? Math.min(63, Math.round(v / dmin)) : 0));
  packScaleMinK4(sc, mn, dv, o + 4);
  const q = new Uint8Array(256);
  for (let s = 0; s < 8; s++) {
    const step = d * (sc[s] ?? 0);
    const offset = dmin * (mn[s] ?? 0);
    for (let l = 0; l < 32; l++) {
      const v = ((x[xo + 32 * s + l] ?? Number.NaN) + offset) / (step || 1);
      q[32 * s + l] = Math.max(0, Math.min(15, Math.round(step ? v : 0)));
    }
  }
  for (let j = 0; j < 4; j++) {
    for (let l = 0; l < 32; l++)
      dv.setUint8(o + 16 + 32 * j + l, (q[64 * j + l] ?? 0) | ((q[64 * j + 32 + l] ?? 0) << 4));
  }
}

/** Inverse of ggml's get_scale_min_k4: 8 (scale, min) 6-bit pairs into 12 bytes. */
function packScaleMinK4(sc: Float64Array, mn: Float64Array, dv: DataView, o: number): void {
  for (let j = 0; j < 4; j++) {
    const s4 = sc[j + 4] ?? 0;
    const m4 = mn[j + 4] ?? 0;
    dv.setUint8(o + j, (sc[j] ?? 0) | ((s4 >> 4) << 6));
    dv.setUint8(o + j + 4, (mn[j] ?? 0) | ((m4 >> 4) << 6));
    dv.setUint8(o + j + 8, (s4 & 0xf) | ((m4 & 0xf) << 4));
  }
}

/**
 * Q6_K: 16 sub-blocks of 16 with int8 scales under one f16 d; value d·sc·(q − 32), q 6-bit. Low 4 bits
 * in ql, high 2 bits in qh, interleaved as the decoder reads them (dequant-k.ts).
 */
function quantQ6_K(x: Float32Array, xo: number, dv: DataView, o: number): void {
  const sub = new Float64Array(16); // per-sub-block step: max|x| / 31 (q − 32 spans −32…31)
  for (let s = 0; s < 16; s++) {
    let amax = 0;
    for (let l = 0; l < 16; l++) amax = Math.max(amax, Math.abs(x[xo + 16 * s + l] ?? Number.NaN));
    sub[s] = amax / 31;
  }
  const d = f16ToF32(f32ToF16(Math.max(...sub) / 127));
  dv.setUint16(o + 208, f32ToF16(d), true);
  const q = new Uint8Array(256);
  for (let s = 0; s < 16; s++) {
    const sc = d ? Math.min(127, Math.round((sub[s] ?? Number.NaN) / d)) : 0;
    dv.setInt8(o + 192 + s, sc);
    const step = Math.fround(d * sc);
    for (let l = 0; l < 16; l++) {
      const v = step ? Math.round((x[xo + 16 * s + l] ?? Number.NaN) / step) : 0;
      q[16 * s + l] = Math.max(-32, Math.min(31, v)) + 32;
    }
  }
  for (let h = 0; h < 2; h++) {
    for (let l = 0; l < 32; l++) {
      const q1 = q[128 * h + l] ?? 0;
      const q2 = q[128 * h + 32 + l] ?? 0;
      const q3 = q[128 * h + 64 + l] ?? 0;
      const q4 = q[128 * h + 96 + l] ?? 0;
      dv.setUint8(o + 64 * h + l, (q1 & 0xf) | ((q3 & 0xf) << 4));
      dv.setUint8(o + 64 * h + l + 32, (q2 & 0xf) | ((q4 & 0xf) << 4));
      dv.setUint8(o + 128 + 32 * h + l, (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
  }
}

const QUANTISERS = { Q8_0: quantQ8_0, Q4_0: quantQ4_0, Q4_K: quantQ4_K, Q6_K: quantQ6_K };

/** Quantises `x` (length a multiple of the block size) to little-endian ggml blocks of `type`. */
export function quantize(type: QuantisableType, x: Float32Array): Uint8Array {
  const [elements, bytes] = BLOCK[type];
  if (x.length % elements !== 0) {
    throw new PedigreeError(
      "GGUF_WRITE_INVALID",
      `${x.length} values is not a whole number of ${type} blocks of ${elements}`,
      {
        details: { type, values: x.length, blockSize: elements },
        hint: "The innermost dimension of a quantised tensor must be a multiple of its block size",
      },
    );
  }
  for (const v of x) {
    if (!Number.isFinite(v)) {
      throw new PedigreeError("GGUF_WRITE_INVALID", `cannot quantise a non-finite value (${v}) to ${type}`, {
        details: { type, value: String(v) },
        hint: "Store tensors holding NaN or Inf as F32 or F16",
      });
    }
  }
  const out = new Uint8Array((x.length / elements) * bytes);
  const dv = new DataView(out.buffer);
  const fn = QUANTISERS[type];
  for (let b = 0; b < x.length / elements; b++) fn(x, b * elements, dv, b * bytes);
  return out;
}
