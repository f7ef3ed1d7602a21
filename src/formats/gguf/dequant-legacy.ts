/**
 * Decoders for ggml's 32-element blocks (ggml-common.h `block_q4_0` … `block_q8_0`). Each decodes one
 * block at byte `o` of `dv` into y[yo … yo+31]. Arithmetic is float32 step by step (Math.fround), as
 * ggml's reference `dequantize_row_*` computes it, so results match it bit for bit.
 * Byte order: the f16 scale fields follow the file's byte order; byte arrays (qs, qh) have none.
 * Every offset stays inside the block whose size the caller checked: the `?? 0` on byte reads never
 * applies (it only satisfies the index type).
 */
import { f16ToF32 } from "./half.js";

/** Decodes the block at byte `o` of `b` (`dv` views the same bytes, for the multi-byte fields). */
export type BlockDecoder = (
  b: Uint8Array,
  dv: DataView,
  o: number,
  le: boolean,
  y: Float32Array,
  yo: number,
) => void;

const f = Math.fround;

/** Q4_0: f16 d; u8 qs[16]. Low nibbles are elements 0–15, high nibbles 16–31; value (q − 8)·d. */
export const decodeQ4_0: BlockDecoder = (b, dv, o, le, y, yo) => {
  const d = f16ToF32(dv.getUint16(o, le));
  for (let j = 0; j < 16; j++) {
    const q = b[o + 2 + j] ?? 0;
    y[yo + j] = f(((q & 0xf) - 8) * d);
    y[yo + j + 16] = f(((q >> 4) - 8) * d);
  }
};

/** Q4_1: f16 d, f16 m; u8 qs[16]; value q·d + m. */
export const decodeQ4_1: BlockDecoder = (b, dv, o, le, y, yo) => {
  const d = f16ToF32(dv.getUint16(o, le));
  const m = f16ToF32(dv.getUint16(o + 2, le));
  for (let j = 0; j < 16; j++) {
    const q = b[o + 4 + j] ?? 0;
    y[yo + j] = f(f((q & 0xf) * d) + m);
    y[yo + j + 16] = f(f((q >> 4) * d) + m);
  }
};

/** The 32 fifth bits of Q5 blocks: u8 qh[4] read as one little-endian uint32 (bit j ↔ element j). */
function fifthBits(dv: DataView, o: number): number {
  return dv.getUint32(o, true);
}

/** Q5_0: f16 d; u8 qh[4]; u8 qs[16]; value ((nibble | bit4) − 16)·d. */
export const decodeQ5_0: BlockDecoder = (b, dv, o, le, y, yo) => {
  const d = f16ToF32(dv.getUint16(o, le));
  const qh = fifthBits(dv, o + 2);
  for (let j = 0; j < 16; j++) {
    const q = b[o + 6 + j] ?? 0;
    const h0 = ((qh >>> j) & 1) << 4;
    const h1 = ((qh >>> (j + 16)) & 1) << 4;
    y[yo + j] = f((((q & 0xf) | h0) - 16) * d);
    y[yo + j + 16] = f((((q >> 4) | h1) - 16) * d);
  }
};

/** Q5_1: f16 d, f16 m; u8 qh[4]; u8 qs[16]; value (nibble | bit4)·d + m. */
export const decodeQ5_1: BlockDecoder = (b, dv, o, le, y, yo) => {
  const d = f16ToF32(dv.getUint16(o, le));
  const m = f16ToF32(dv.getUint16(o + 2, le));
  const qh = fifthBits(dv, o + 4);
  for (let j = 0; j < 16; j++) {
    const q = b[o + 8 + j] ?? 0;
    const h0 = ((qh >>> j) & 1) << 4;
    const h1 = ((qh >>> (j + 16)) & 1) << 4;
    y[yo + j] = f(f(((q & 0xf) | h0) * d) + m);
    y[yo + j + 16] = f(f(((q >> 4) | h1) * d) + m);
  }
};

/** Q8_0: f16 d; i8 qs[32]; value q·d. */
export const decodeQ8_0: BlockDecoder = (_b, dv, o, le, y, yo) => {
  const d = f16ToF32(dv.getUint16(o, le));
  for (let j = 0; j < 32; j++) y[yo + j] = f(dv.getInt8(o + 2 + j) * d);
};
