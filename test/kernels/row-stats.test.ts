import { describe, expect, it } from "vitest";
import {
  addColumnSquaresWasm,
  decodeBf16,
  quantizeRowsWasm,
  rowNormsWasm,
} from "../../src/kernels/row-stats.js";
import { Xoshiro128 } from "../../src/synth/random.js";

/** Random float32 values over many magnitudes (and some zeros), as weights are. */
function randomValues(n: number, seed: number): Float32Array {
  const rng = new Xoshiro128(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++)
    out[i] = rng.uniform() < 0.05 ? 0 : (rng.uniform() - 0.5) * 2 ** (rng.below(40) - 20);
  return out;
}

// The JavaScript loops the kernels replace: the kernels must give the same bits.
function plainRowNorms(w: Float32Array, n: number, d: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < d; c++) s += (w[i * d + c] ?? Number.NaN) ** 2;
    out[i] = Math.sqrt(s);
  }
  return out;
}

function plainColumnSquares(w: Float32Array, n: number, d: number, acc: Float64Array): void {
  for (let i = 0; i < n; i++)
    for (let c = 0; c < d; c++) acc[c] = (acc[c] ?? Number.NaN) + (w[i * d + c] ?? Number.NaN) ** 2;
}

function plainQuantize(x: Float32Array, n: number, k: number, from: number, width: number): Uint8Array {
  const out = new Uint8Array(n * width);
  for (let i = 0; i < n; i++) {
    const row = i * k + from;
    let m = 0;
    for (let c = 0; c < width; c++) m = Math.max(m, Math.abs(x[row + c] ?? Number.NaN));
    const s = m > 0 ? 127 / m : 0;
    for (let c = 0; c < width; c++) out[i * width + c] = Math.round((x[row + c] ?? Number.NaN) * s) + 128;
  }
  return out;
}

const bits32 = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));
const bits64 = (x: Float64Array) => Array.from(new BigUint64Array(x.buffer, x.byteOffset, x.length));

describe("row-stats kernel", () => {
  it("decodes BF16 exactly, for every bit pattern, any length and an odd byte offset", () => {
    const all = new Uint16Array(65536 + 13);
    for (let i = 0; i < all.length; i++) all[i] = (i * 40503) & 0xffff;
    const raw = new Uint8Array(all.buffer);
    const odd = new Uint8Array(raw.length + 1);
    odd.set(raw, 1);
    for (const n of [0, 1, 7, 8, 9, 1000, all.length]) {
      const out = new Float32Array(n);
      decodeBf16(odd.subarray(1, 1 + 2 * n), out, n);
      const expected = new Uint32Array(n);
      for (let i = 0; i < n; i++) expected[i] = ((all[i] ?? 0) << 16) >>> 0;
      expect(bits32(out)).toEqual(Array.from(expected));
    }
  });

  it("decodes more values than one kernel call holds", () => {
    const n = (1 << 18) * 2 + 5;
    const u16 = new Uint16Array(n);
    for (let i = 0; i < n; i++) u16[i] = (i * 7919) & 0xffff;
    const out = new Float32Array(n);
    decodeBf16(new Uint8Array(u16.buffer), out, n);
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i += 997) expect(u32[i]).toBe(((u16[i] ?? 0) << 16) >>> 0);
    expect(u32[n - 1]).toBe(((u16[n - 1] ?? 0) << 16) >>> 0);
  });

  it("row norms are bit-identical to the float64 loop, for any shape", () => {
    for (const [n, d] of [
      [0, 5],
      [1, 1],
      [3, 7],
      [4, 8],
      [9, 33],
      [70, 4099],
      [1, 300_000],
    ] as const) {
      const w = randomValues(n * d, n * 31 + d);
      expect(bits32(rowNormsWasm(w, n, d))).toEqual(bits32(plainRowNorms(w, n, d)));
    }
  });

  it("column squares are bit-identical to the float64 loop, accumulated over blocks", () => {
    for (const [n, d] of [
      [1, 1],
      [3, 7],
      [5, 8],
      [9, 33],
      [130, 2049],
    ] as const) {
      const a = new Float64Array(d);
      const b = new Float64Array(d);
      for (let block = 0; block < 3; block++) {
        const w = randomValues(n * d, block * 1000 + n + d);
        addColumnSquaresWasm(w, n, d, a);
        plainColumnSquares(w, n, d, b);
      }
      expect(bits64(a)).toEqual(bits64(b));
    }
  });

  it("quantises rows to the plain loop's bytes: halves, tiny values, zero rows, NaN and infinities", () => {
    const k = 40;
    const n = 300;
    const x = randomValues(n * k, 77);
    // Rows whose max is 127 hit every half-integer code, both signs, and values just beside them.
    for (let i = 0; i < 20; i++) {
      x[i * k] = 127;
      for (let c = 1; c < k; c++) {
        const h = ((i * k + c) % 255) - 127 + 0.5;
        x[i * k + c] = c % 3 === 0 ? h : c % 3 === 1 ? Math.fround(h * (1 + 2 ** -20)) : -h;
      }
    }
    for (let c = 0; c < k; c++) x[20 * k + c] = 0; // a zero row
    for (let c = 0; c < k; c++) x[21 * k + c] = c === 3 ? 1e-30 : -1e-32; // tiny values
    x[22 * k + 5] = Number.NaN;
    x[23 * k + 7] = Number.POSITIVE_INFINITY;
    x[24 * k + 9] = Number.NEGATIVE_INFINITY;
    x[24 * k + 10] = Number.POSITIVE_INFINITY;
    x[26 * k + 16] = Number.NaN; // in the scalar tail of width 17
    x[27 * k + 39] = Number.NEGATIVE_INFINITY; // in the scalar tail of columns 17…39
    x[28 * k + 38] = 127;
    x[28 * k + 39] = -0.5;
    x[25 * k + 1] = -0.49999997;
    x[25 * k] = 127;
    for (const [from, width] of [
      [0, k],
      [0, 17],
      [17, 23],
      [39, 1],
      [5, 0],
    ] as const)
      expect(Array.from(quantizeRowsWasm(x, n, k, from, width))).toEqual(
        Array.from(plainQuantize(x, n, k, from, width)),
      );
    // More rows than one kernel call holds.
    const big = randomValues(9000 * 64, 5);
    expect(Array.from(quantizeRowsWasm(big, 9000, 64, 8, 50))).toEqual(
      Array.from(plainQuantize(big, 9000, 64, 8, 50)),
    );
  });
});
