import { describe, expect, it } from "vitest";
import {
  DIRECTION_LEVELS,
  dotRowsQuantized,
  quantizeRows16,
  WEIGHT_LEVELS,
} from "../../src/kernels/dot-rows-int.js";

/** Seeded uniform values in [-1, 1). */
function random(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** The same computation in plain JavaScript: round(v·fround(L/max)) codes, exact integer sums. */
function reference(x: Float32Array, n: number, y: Float32Array, m: number, k: number): Float32Array {
  const quant = (v: Float32Array, rows: number, levels: number) => {
    const codes = new Float64Array(rows * k);
    const factor = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let mx = 0;
      for (let c = 0; c < k; c++) mx = Math.max(mx, Math.abs(v[r * k + c]!));
      const s = mx > 0 ? Math.fround(levels / mx) : 0;
      factor[r] = mx > 0 ? 1 / s : 0;
      for (let c = 0; c < k; c++) {
        const p = Math.fround(v[r * k + c]! * s);
        // Round half to even, as f32x4.nearest does.
        const f = Math.floor(p);
        codes[r * k + c] = p - f === 0.5 ? (f % 2 === 0 ? f : f + 1) : Math.round(p);
      }
    }
    return { codes, factor };
  };
  const qx = quant(x, n, WEIGHT_LEVELS);
  const qy = quant(y, m, DIRECTION_LEVELS);
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let c = 0; c < k; c++) s += qx.codes[i * k + c]! * qy.codes[j * k + c]!;
      out[i * m + j] = s * qx.factor[i]! * qy.factor[j]!;
    }
  return out;
}

describe("dotRowsQuantized (integer WebAssembly SIMD kernel)", () => {
  // Every padding path (k not a multiple of 8, m and n not of the block), 1s, rows long enough
  // (k = 20,000 and 40,000) for the kernel to widen its i32 lanes several times, and products large
  // enough for the Strassen split (64×2048·45, 40×20000·36).
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [5, 7, 3],
    [4, 3, 8],
    [13, 11, 130],
    [64, 45, 2048],
    [6, 5, 40_000],
    [40, 36, 20_000],
  ];
  for (const [n, m, k] of shapes)
    it(`is bit-identical to a JavaScript reference and close to the float product for ${n}×${k} · (${m}×${k})ᵀ`, () => {
      const x = random(n * k, n + 1);
      const y = random(m * k, m + 7);
      const out = new Float32Array(n * m).fill(Number.NaN);
      dotRowsQuantized(x, n, k, WEIGHT_LEVELS, quantizeRows16(y, m, k, DIRECTION_LEVELS), out);
      expect(Buffer.from(out.buffer)).toEqual(Buffer.from(reference(x, n, y, m, k).buffer));
      for (let i = 0; i < n; i++)
        for (let j = 0; j < m; j++) {
          let s = 0;
          for (let c = 0; c < k; c++) s += x[i * k + c]! * y[j * k + c]!;
          // Rounding error: ≈ √k · (1/2047 + 1/1023) / √12 of unit-scale rows, with room.
          expect(Math.abs(out[i * m + j]! - s)).toBeLessThan(3e-3 * Math.sqrt(k) + 1e-6);
        }
    });

  it("gives the same bits whatever the block split or Strassen step, and zero rows give zeros", () => {
    const n = 2100;
    const m = 33;
    const k = 640; // 1,632 rows per kernel block: n spans two, the Strassen split of a short last block
    const x = random(n * k, 3);
    x.fill(0, 5 * k, 6 * k);
    const q = quantizeRows16(random(m * k, 4), m, k, DIRECTION_LEVELS);
    const whole = new Float32Array(n * m);
    dotRowsQuantized(x, n, k, WEIGHT_LEVELS, q, whole);
    const tail = new Float32Array(9 * m); // 9 rows: the direct product
    dotRowsQuantized(x.subarray((n - 9) * k), 9, k, WEIGHT_LEVELS, q, tail);
    expect(Buffer.from(whole.slice((n - 9) * m).buffer)).toEqual(Buffer.from(tail.buffer));
    const mid = new Float32Array(100 * m); // 100 rows from row 1000: Strassen again
    dotRowsQuantized(x.subarray(1000 * k), 100, k, WEIGHT_LEVELS, q, mid);
    expect(Buffer.from(whole.slice(1000 * m, 1100 * m).buffer)).toEqual(Buffer.from(mid.buffer));
    expect([...whole.subarray(5 * m, 6 * m)].every((v) => v === 0)).toBe(true);
  });

  it("gives the same bits with 0, 1 or 2 Strassen levels, equal to the exact integer product", () => {
    // Shapes where two levels apply (n, m ≥ 64, width a multiple of 32), with padding on every side:
    // n not a multiple of the 16-row quadrant block, m not of 8 padded directions, k not of 32.
    const shapes: [number, number, number][] = [
      [64, 64, 32],
      [100, 67, 220],
      [257, 130, 1020],
      [70, 256, 2048],
    ];
    for (const [n, m, k] of shapes) {
      const x = random(n * k, n + 3);
      const y = random(m * k, m + 5);
      // Rows at the extremes: all at +max and all at −max (every code at ±levels), so the operand
      // sums and lane budgets are at their bounds.
      x.fill(1, 0, k);
      x.fill(-1, k, 2 * k);
      y.fill(-1, 0, k);
      y.fill(1, k, 2 * k);
      const q = quantizeRows16(y, m, k, DIRECTION_LEVELS);
      const run = (strassen: number) => {
        const out = new Float32Array(n * m).fill(Number.NaN);
        dotRowsQuantized(x, n, k, WEIGHT_LEVELS, q, out, strassen);
        return Buffer.from(out.buffer);
      };
      const expected = Buffer.from(reference(x, n, y, m, k).buffer);
      for (const levels of [0, 1, 2, 1, 0, 2]) expect(run(levels)).toEqual(expected);
    }
    const q = quantizeRows16(random(64 * 32, 1), 64, 32, DIRECTION_LEVELS);
    const out = new Float32Array(64 * 64);
    for (const bad of [-1, 3, 1.5])
      expect(() => dotRowsQuantized(random(64 * 32, 2), 64, 32, WEIGHT_LEVELS, q, out, bad)).toThrow(
        expect.objectContaining({ code: "INTERNAL_BAD_ARGUMENT" }),
      );
  });

  it("keeps the same results when calls alternate between directions (codes kept resident)", () => {
    const k = 256;
    const x = random(64 * k, 8);
    const q1 = quantizeRows16(random(40 * k, 9), 40, k, DIRECTION_LEVELS);
    const q2 = quantizeRows16(random(48 * k, 10), 48, k, DIRECTION_LEVELS);
    const run = (q: typeof q1, rows: number) => {
      const out = new Float32Array(rows * q.rows);
      dotRowsQuantized(x, rows, k, WEIGHT_LEVELS, q, out);
      return Buffer.from(out.buffer);
    };
    const first = run(q1, 64);
    const second = run(q2, 64);
    run(q1, 8); // the direct product in between
    expect(run(q1, 64)).toEqual(first);
    expect(run(q2, 64)).toEqual(second);
    expect(run(q2, 64)).toEqual(second);
    quantizeRows16(random(8 * k, 11), 8, k, DIRECTION_LEVELS); // overwrites the module's memory
    expect(run(q2, 64)).toEqual(second);
  });

  it("a row holding NaN gives NaN, and bad arguments are refused", () => {
    const x = random(2 * 8, 5);
    x[3] = Number.NaN;
    const out = new Float32Array(2 * 2);
    dotRowsQuantized(x, 2, 8, WEIGHT_LEVELS, quantizeRows16(random(16, 6), 2, 8, DIRECTION_LEVELS), out);
    expect(Number.isNaN(out[0]!) && Number.isNaN(out[1]!)).toBe(true);
    expect(Number.isFinite(out[2]!)).toBe(true);
    const q = quantizeRows16(random(16, 6), 2, 8, DIRECTION_LEVELS);
    expect(() => dotRowsQuantized(new Float32Array(4), 2, 8, WEIGHT_LEVELS, q, out)).toThrow(
      expect.objectContaining({ code: "INTERNAL_BAD_ARGUMENT" }),
    );
    expect(() => dotRowsQuantized(random(2 * 9, 1), 2, 9, WEIGHT_LEVELS, q, out)).toThrow(
      expect.objectContaining({ code: "INTERNAL_BAD_ARGUMENT" }),
    );
    expect(() => quantizeRows16(random(16, 6), 2, 8, 8192)).toThrow(
      expect.objectContaining({ code: "INTERNAL_BAD_ARGUMENT" }),
    );
  });
});
