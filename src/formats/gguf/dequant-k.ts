/**
 * Decoders for ggml's k-quants: 256-element super-blocks (QK_K) of 16 or 8 sub-blocks with their own
 * scales (ggml-common.h `block_q2_K` … `block_q6_K`, ggml-quants.c `dequantize_row_q*_K`). float32
 * arithmetic step by step (Math.fround) in ggml's order, so results match it bit for bit.
 *
 * Every offset stays inside the block whose size the caller checked, and the scale scratch arrays
 * have 16 entries: the `?? 0` on each byte read never applies (it only satisfies the index type).
 */
import type { BlockDecoder } from "./dequant-legacy.js";
import { f16ToF32 } from "./half.js";

const f = Math.fround;

/** Scratch for unpacked scales, reused across blocks (decoding is synchronous, so never shared). */
const Q3K_SCALES = new Int8Array(16);
/** [sc0..sc7, m0..m7] of the current Q4_K / Q5_K block. */
const K4_SCALES = new Uint8Array(16);

/** Q2_K (84 B): u8 scales[16] (low nibble scale, high nibble min); u8 qs[64] (2-bit); f16 d; f16 dmin. */
export const decodeQ2_K: BlockDecoder = (b, dv, o, le, y, yo) => {
  const d = f16ToF32(dv.getUint16(o + 80, le));
  const dmin = f16ToF32(dv.getUint16(o + 82, le));
  let is = 0;
  for (let half = 0; half < 2; half++) {
    const q = o + 16 + half * 32;
    for (let shift = 0; shift < 8; shift += 2) {
      // Two sub-blocks of 16 per shift: qs[0..15] then qs[16..31] of this 128-element half.
      for (let part = 0; part < 2; part++) {
        const sc = b[o + is++] ?? 0;
        const dl = f(d * (sc & 0xf));
        const ml = f(dmin * (sc >> 4));
        for (let l = 0; l < 16; l++) {
          y[yo++] = f(f(dl * (((b[q + part * 16 + l] ?? 0) >> shift) & 3)) - ml);
        }
      }
    }
  }
};

/**
 * Q3_K scales: 16 signed 6-bit values packed in 12 bytes — low 4 bits in bytes 0–7 (nibbles), high
 * 2 bits in bytes 8–11 — stored with a +32 bias.
 */
function q3kScales(b: Uint8Array, o: number, out: Int8Array): Int8Array {
  for (let i = 0; i < 16; i++) {
    const low = i < 8 ? (b[o + i] ?? 0) & 0xf : (b[o + i - 8] ?? 0) >> 4;
    const high = ((b[o + 8 + (i & 3)] ?? 0) >> (2 * (i >> 2))) & 3;
    out[i] = (low | (high << 4)) - 32;
  }
  return out;
}

/** Q3_K (110 B): u8 hmask[32] (3rd bit); u8 qs[64] (low 2 bits); u8 scales[12]; f16 d. */
export const decodeQ3_K: BlockDecoder = (b, dv, o, le, y, yo) => {
  const d = f16ToF32(dv.getUint16(o + 108, le));
  const scales = q3kScales(b, o + 96, Q3K_SCALES);
  let is = 0;
  let m = 1;
  for (let half = 0; half < 2; half++) {
    const q = o + 32 + half * 32;
    for (let shift = 0; shift < 8; shift += 2) {
      for (let part = 0; part < 2; part++) {
        const dl = f(d * (scales[is++] ?? 0));
        for (let l = 0; l < 16; l++) {
          const k = part * 16 + l;
          const low = ((b[q + k] ?? 0) >> shift) & 3;
          const hi = (b[o + k] ?? 0) & m ? 0 : 4;
          y[yo++] = f(dl * (low - hi));
        }
      }
      m <<= 1;
    }
  }
};

/**
 * Q4_K / Q5_K scales and mins: 8 pairs of 6-bit values in 12 bytes (ggml `get_scale_min_k4`):
 * pairs 0–3 in the low 6 bits of bytes 0–3 / 4–7; pairs 4–7 from the nibbles of bytes 8–11 plus the
 * top 2 bits of bytes 0–3 / 4–7.
 */
function scaleMinK4(bytes: Uint8Array, o: number, out: Uint8Array): Uint8Array {
  const b = (i: number) => bytes[o + i] ?? 0;
  for (let j = 0; j < 4; j++) {
    out[j] = b(j) & 63;
    out[8 + j] = b(j + 4) & 63;
    out[4 + j] = (b(j + 8) & 0xf) | ((b(j) >> 6) << 4);
    out[12 + j] = (b(j + 8) >> 4) | ((b(j + 4) >> 6) << 4);
  }
  return out;
}

/** Q4_K (144 B): f16 d; f16 dmin; u8 scales[12]; u8 qs[128]; value d·sc·q − dmin·m per 32-element sub-block. */
export const decodeQ4_K: BlockDecoder = (b, dv, o, le, y, yo) => {
  const sm = scaleMinK4(b, o + 4, K4_SCALES);
  const d = f16ToF32(dv.getUint16(o, le));
  const dmin = f16ToF32(dv.getUint16(o + 2, le));
  for (let j = 0; j < 4; j++) {
    const q = o + 16 + j * 32;
    const out = yo + 64 * j;
    // Low nibbles are sub-block 2j, high nibbles sub-block 2j+1 (two loops: no branch per element).
    const d1 = f(d * (sm[2 * j] ?? 0));
    const m1 = f(dmin * (sm[8 + 2 * j] ?? 0));
    const d2 = f(d * (sm[2 * j + 1] ?? 0));
    const m2 = f(dmin * (sm[9 + 2 * j] ?? 0));
    for (let l = 0; l < 32; l++) y[out + l] = f(f(d1 * ((b[q + l] ?? 0) & 0xf)) - m1);
    for (let l = 0; l < 32; l++) y[out + 32 + l] = f(f(d2 * ((b[q + l] ?? 0) >> 4)) - m2);
  }
};

/** Q5_K (176 B): f16 d; f16 dmin; u8 scales[12]; u8 qh[32] (5th bits); u8 qs[128]. */
export const decodeQ5_K: BlockDecoder = (b, dv, o, le, y, yo) => {
  const sm = scaleMinK4(b, o + 4, K4_SCALES);
  const d = f16ToF32(dv.getUint16(o, le));
  const dmin = f16ToF32(dv.getUint16(o + 2, le));
  for (let j = 0; j < 4; j++) {
    const q = o + 48 + j * 32;
    const out = yo + 64 * j;
    // Sub-block s = 2j (low nibbles) and 2j+1 (high nibbles); its 5th bits are bit s of qh[l].
    const d1 = f(d * (sm[2 * j] ?? 0));
    const m1 = f(dmin * (sm[8 + 2 * j] ?? 0));
    const d2 = f(d * (sm[2 * j + 1] ?? 0));
    const m2 = f(dmin * (sm[9 + 2 * j] ?? 0));
    for (let l = 0; l < 32; l++) {
      const h = (b[o + 16 + l] ?? 0) >> (2 * j);
      const lo = b[q + l] ?? 0;
      y[out + l] = f(f(d1 * ((lo & 0xf) | ((h & 1) << 4))) - m1);
      y[out + 32 + l] = f(f(d2 * ((lo >> 4) | ((h & 2) << 3))) - m2);
    }
  }
};

/** Q6_K (210 B): u8 ql[128] (low 4 bits); u8 qh[64] (high 2 bits); i8 scales[16]; f16 d; value d·sc·(q − 32). */
export const decodeQ6_K: BlockDecoder = (b, dv, o, le, y, yo) => {
  const d = f16ToF32(dv.getUint16(o + 208, le));
  const int8 = (i: number) => ((b[i] ?? 0) << 24) >> 24;
  for (let half = 0; half < 2; half++) {
    const ql = o + half * 64;
    const qh = o + 128 + half * 32;
    const sc = o + 192 + half * 8;
    const base = yo + half * 128;
    // Elements l and l+32k (k = 0..3) use scale sc[l/16 + 2k]: 16-element groups.
    for (let g = 0; g < 2; g++) {
      const d0 = f(d * int8(sc + g));
      const d1 = f(d * int8(sc + g + 2));
      const d2 = f(d * int8(sc + g + 4));
      const d3 = f(d * int8(sc + g + 6));
      for (let l = 16 * g; l < 16 * g + 16; l++) {
        const h = b[qh + l] ?? 0;
        const lo = b[ql + l] ?? 0;
        const hi = b[ql + l + 32] ?? 0;
        y[base + l] = f(d0 * (((lo & 0xf) | ((h & 3) << 4)) - 32));
        y[base + l + 32] = f(d1 * (((hi & 0xf) | (((h >> 2) & 3) << 4)) - 32));
        y[base + l + 64] = f(d2 * (((lo >> 4) | (((h >> 4) & 3) << 4)) - 32));
        y[base + l + 96] = f(d3 * (((hi >> 4) | (((h >> 6) & 3) << 4)) - 32));
      }
    }
  }
};
