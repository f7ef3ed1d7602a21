/**
 * Decoders for ggml's k-quants: 256-element super-blocks (QK_K) of 16 or 8 sub-blocks with their own
 * scales (ggml-common.h `block_q2_K` … `block_q6_K`, ggml-quants.c `dequantize_row_q*_K`). float32
 * arithmetic step by step (Math.fround) in ggml's order, so results match it bit for bit.
 */
import type { BlockDecoder } from "./dequant-legacy.js";
import { f16ToF32 } from "./half.js";

const f = Math.fround;

/** Q2_K (84 B): u8 scales[16] (low nibble scale, high nibble min); u8 qs[64] (2-bit); f16 d; f16 dmin. */
export const decodeQ2_K: BlockDecoder = (dv, o, le, y, yo) => {
  const d = f16ToF32(dv.getUint16(o + 80, le));
  const dmin = f16ToF32(dv.getUint16(o + 82, le));
  let is = 0;
  for (let half = 0; half < 2; half++) {
    const q = o + 16 + half * 32;
    for (let shift = 0; shift < 8; shift += 2) {
      // Two sub-blocks of 16 per shift: qs[0..15] then qs[16..31] of this 128-element half.
      for (let part = 0; part < 2; part++) {
        const sc = dv.getUint8(o + is++);
        const dl = f(d * (sc & 0xf));
        const ml = f(dmin * (sc >> 4));
        for (let l = 0; l < 16; l++) {
          y[yo++] = f(f(dl * ((dv.getUint8(q + part * 16 + l) >> shift) & 3)) - ml);
        }
      }
    }
  }
};

/**
 * Q3_K scales: 16 signed 6-bit values packed in 12 bytes — low 4 bits in bytes 0–7 (nibbles), high
 * 2 bits in bytes 8–11 — stored with a +32 bias.
 */
function q3kScales(dv: DataView, o: number): Int8Array {
  const out = new Int8Array(16);
  for (let i = 0; i < 16; i++) {
    const low = i < 8 ? dv.getUint8(o + i) & 0xf : dv.getUint8(o + i - 8) >> 4;
    const high = (dv.getUint8(o + 8 + (i & 3)) >> (2 * (i >> 2))) & 3;
    out[i] = (low | (high << 4)) - 32;
  }
  return out;
}

/** Q3_K (110 B): u8 hmask[32] (3rd bit); u8 qs[64] (low 2 bits); u8 scales[12]; f16 d. */
export const decodeQ3_K: BlockDecoder = (dv, o, le, y, yo) => {
  const d = f16ToF32(dv.getUint16(o + 108, le));
  const scales = q3kScales(dv, o + 96);
  let is = 0;
  let m = 1;
  for (let half = 0; half < 2; half++) {
    const q = o + 32 + half * 32;
    for (let shift = 0; shift < 8; shift += 2) {
      for (let part = 0; part < 2; part++) {
        const dl = f(d * (scales[is++] as number));
        for (let l = 0; l < 16; l++) {
          const k = part * 16 + l;
          const low = (dv.getUint8(q + k) >> shift) & 3;
          const hi = dv.getUint8(o + k) & m ? 0 : 4;
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
function scaleMinK4(dv: DataView, o: number, j: number): [number, number] {
  const b = (i: number) => dv.getUint8(o + i);
  if (j < 4) return [b(j) & 63, b(j + 4) & 63];
  return [(b(j + 4) & 0xf) | ((b(j - 4) >> 6) << 4), (b(j + 4) >> 4) | ((b(j) >> 6) << 4)];
}

/** Q4_K (144 B): f16 d; f16 dmin; u8 scales[12]; u8 qs[128]; value d·sc·q − dmin·m per 32-element sub-block. */
export const decodeQ4_K: BlockDecoder = (dv, o, le, y, yo) => {
  const d = f16ToF32(dv.getUint16(o, le));
  const dmin = f16ToF32(dv.getUint16(o + 2, le));
  for (let j = 0; j < 4; j++) {
    const q = o + 16 + j * 32;
    for (let nib = 0; nib < 2; nib++) {
      const [sc, mn] = scaleMinK4(dv, o + 4, 2 * j + nib);
      const dl = f(d * sc);
      const ml = f(dmin * mn);
      for (let l = 0; l < 32; l++) {
        const v = nib ? dv.getUint8(q + l) >> 4 : dv.getUint8(q + l) & 0xf;
        y[yo++] = f(f(dl * v) - ml);
      }
    }
  }
};

/** Q5_K (176 B): f16 d; f16 dmin; u8 scales[12]; u8 qh[32] (5th bits); u8 qs[128]. */
export const decodeQ5_K: BlockDecoder = (dv, o, le, y, yo) => {
  const d = f16ToF32(dv.getUint16(o, le));
  const dmin = f16ToF32(dv.getUint16(o + 2, le));
  for (let j = 0; j < 4; j++) {
    const q = o + 48 + j * 32;
    for (let nib = 0; nib < 2; nib++) {
      const [sc, mn] = scaleMinK4(dv, o + 4, 2 * j + nib);
      const dl = f(d * sc);
      const ml = f(dmin * mn);
      const bit = 1 << (2 * j + nib);
      for (let l = 0; l < 32; l++) {
        const low = nib ? dv.getUint8(q + l) >> 4 : dv.getUint8(q + l) & 0xf;
        const v = low + (dv.getUint8(o + 16 + l) & bit ? 16 : 0);
        y[yo++] = f(f(dl * v) - ml);
      }
    }
  }
};

/** Q6_K (210 B): u8 ql[128] (low 4 bits); u8 qh[64] (high 2 bits); i8 scales[16]; f16 d; value d·sc·(q − 32). */
export const decodeQ6_K: BlockDecoder = (dv, o, le, y, yo) => {
  const d = f16ToF32(dv.getUint16(o + 208, le));
  for (let half = 0; half < 2; half++) {
    const ql = o + half * 64;
    const qh = o + 128 + half * 32;
    const sc = o + 192 + half * 8;
    const base = yo + half * 128;
    for (let l = 0; l < 32; l++) {
      const is = l >> 4;
      const h = dv.getUint8(qh + l);
      const a = dv.getUint8(ql + l);
      const b = dv.getUint8(ql + l + 32);
      const q = [
        (a & 0xf) | ((h & 3) << 4),
        (b & 0xf) | (((h >> 2) & 3) << 4),
        (a >> 4) | (((h >> 4) & 3) << 4),
        (b >> 4) | (((h >> 6) & 3) << 4),
      ];
      for (let k = 0; k < 4; k++) {
        const s = dv.getInt8(sc + is + 2 * k);
        y[base + l + 32 * k] = f(f(d * s) * ((q[k] as number) - 32));
      }
    }
  }
};
