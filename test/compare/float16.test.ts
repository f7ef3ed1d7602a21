import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addColumnSquares,
  float16Array,
  fromFloat16,
  fromFloat16Array,
  rowNorms,
  toFloat16,
} from "../../src/fingerprint/sketch/project.js";

/** The sketch's stored norms (float16 bits) and the norm kernels behind the rescaling test. */
describe("float16 norms", () => {
  it("encodes exactly representable values exactly, and the format's limits", () => {
    expect(toFloat16(1)).toBe(0x3c00);
    expect(toFloat16(-2)).toBe(0xc000);
    expect(toFloat16(65504)).toBe(0x7bff);
    expect(toFloat16(1e6)).toBe(0x7c00); // overflow → +Inf
    expect(toFloat16(2 ** -24)).toBe(1); // smallest subnormal
    expect(fromFloat16(0x3555)).toBe(1365 / 4096); // (1 + 341/1024) · 2^-2, exactly
    expect(Number.isNaN(fromFloat16(toFloat16(Number.NaN)))).toBe(true);
  });

  it("round-trips normal values to within half an ulp (relative 2^-11)", () => {
    fc.assert(
      fc.property(fc.double({ min: 6.2e-5, max: 6e4, noNaN: true }), (x) => {
        const y = fromFloat16(toFloat16(x));
        expect(Math.abs(y - x) / x).toBeLessThanOrEqual(2 ** -11 + 1e-12);
      }),
    );
  });

  it("row and column norms agree with a direct computation", () => {
    const w = Float32Array.from([3, 4, 0, 1, 2, 2]); // 2×3
    expect(Array.from(rowNorms(w, 2, 3))).toEqual([5, 3]);
    const acc = new Float64Array(3);
    addColumnSquares(w, 2, 3, acc);
    expect(Array.from(acc.map(Math.sqrt))).toEqual([Math.sqrt(10), Math.sqrt(20), 2]);
    expect(Array.from(fromFloat16Array(float16Array(Float32Array.from([5, 3]))))).toEqual([5, 3]);
  });
});
