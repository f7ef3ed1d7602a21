import { describe, expect, it } from "vitest";
import { addColumnSquaresWasm, decodeBf16, rowNormsWasm } from "../../src/kernels/row-stats.js";
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
});
