import { describe, expect, it } from "vitest";
import { gridScheme } from "../../src/compare/quantisation.js";
import { GridAccumulator, latticeOf, onFp8Grid } from "../../src/fingerprint/grid.js";
import { GaussianStream } from "../../src/synth/index.js";

/** Quantisation grids: de-quantised values stored as BF16 are recognised with their scheme; trained-like Gaussian rows are not. */
function bf16(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  u[0] = ((u[0]! + 0x7fff + ((u[0]! >>> 16) & 1)) >>> 16) << 16;
  return f[0]!;
}

function gaussianRow(n: number, seed: number): Float32Array {
  const v = new Float32Array(n);
  new GaussianStream(seed).fill(v, 0.02);
  return v;
}

function quantise(v: Float32Array, bits: number, block: number, symmetric: boolean): Float32Array {
  const out = new Float32Array(v.length);
  const size = block || v.length;
  for (let s = 0; s < v.length; s += size) {
    const b = v.subarray(s, s + size);
    const lo = Math.min(...b);
    const hi = Math.max(...b);
    const amax = Math.max(...b.map(Math.abs));
    const d = symmetric ? amax / (2 ** (bits - 1) - 1) : (hi - lo) / (2 ** bits - 1);
    b.forEach((x, i) => {
      out[s + i] = bf16(symmetric ? d * Math.round(x / d) : lo + d * Math.round((x - lo) / d));
    });
  }
  return out;
}

function schemeOf(make: (v: Float32Array) => Float32Array, n = 512): string | null {
  const acc = new GridAccumulator();
  for (let r = 0; r < 24; r++) acc.add(make(gaussianRow(n, 11 + r)), "BF16");
  return gridScheme(acc.stats());
}

describe("quantisation grids", () => {
  it("finds no grid on Gaussian rows stored as BF16", () => {
    expect(schemeOf((v) => v.map(bf16))).toBeNull();
  });
  it.each([
    [8, 0, true, "int8 symmetric per row (output channel)"],
    [4, 0, true, "int4 symmetric per row (output channel)"],
    [8, 32, true, "int8 symmetric per 32-value block (as GGUF Q8_0)"],
    [4, 32, false, "int4 asymmetric per 32-value block (as GGUF Q4_1/Q4_K)"],
    [4, 128, true, "int4 symmetric per 128-value block"],
  ] as const)("names int%i per block %i (symmetric %s)", (bits, block, sym, want) => {
    expect(schemeOf((v) => quantise(v, bits, block, sym))).toBe(want);
  });
  it("finds an FP8 E4M3 grid with a per-row scale", () => {
    const row = new Float32Array([1, 1.125, 1.25, 0.5, 0.5625, -3, -2.75, 448, 0.015625, 0.25, -0.875, 0]);
    expect(
      onFp8Grid(
        row.map((x) => bf16(x * 0.0123)),
        2 ** -9,
      ),
    ).toBe(true);
    expect(onFp8Grid(gaussianRow(64, 3), 2 ** -9)).toBe(false);
  });
  it("reads the grid's levels and symmetry", () => {
    const l = latticeOf(new Float32Array([-3, -1, 0, 2, 7].map((q) => q * 0.01)), 2 ** -24);
    expect(l).toEqual({ levels: 11, symmetric: true });
    expect(latticeOf(new Float32Array([0.013, 0.023, 0.043]), 2 ** -24)?.symmetric).toBe(false);
  });
});
