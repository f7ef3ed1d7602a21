import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { dotRows } from "../../src/kernels/dot-rows.js";

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

function reference(x: Float32Array, n: number, y: Float32Array, m: number, k: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let c = 0; c < k; c++) s += x[i * k + c]! * y[j * k + c]!;
      out[i * m + j] = s;
    }
  return out;
}

describe("dotRows (WebAssembly SIMD kernel)", () => {
  // Sizes that exercise every padding path: k not a multiple of 4, m not of 3, n not of 4, and 1s.
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [5, 7, 3],
    [4, 3, 4],
    [13, 11, 130],
    [64, 225, 2048],
    [3, 2, 5],
  ];
  for (const [n, m, k] of shapes)
    it(`matches a float64 reference for ${n}×${k} · (${m}×${k})ᵀ`, () => {
      const x = random(n * k, n + 1);
      const y = random(m * k, m + 7);
      const out = new Float32Array(n * m).fill(Number.NaN);
      dotRows(x, n, y, m, k, out);
      const want = reference(x, n, y, m, k);
      for (let i = 0; i < n * m; i++)
        expect(Math.abs(out[i]! - want[i]!)).toBeLessThan(1e-5 * Math.sqrt(k) + 1e-6);
    });

  it("gives the same bits whatever the block split (a large x goes through in several blocks)", () => {
    const n = 9000;
    const m = 301;
    const k = 10;
    const x = random(n * k, 3);
    const y = random(m * k, 4);
    const whole = new Float32Array(n * m);
    dotRows(x, n, y, m, k, whole);
    const tail = new Float32Array(7 * m);
    dotRows(x.subarray((n - 7) * k), 7, y, m, k, tail);
    expect(Buffer.from(whole.subarray((n - 7) * m).buffer.slice((n - 7) * m * 4))).toEqual(
      Buffer.from(tail.buffer),
    );
  });

  it("handles empty inputs and refuses short buffers", () => {
    dotRows(new Float32Array(0), 0, new Float32Array(6), 2, 3, new Float32Array(0));
    expect(() => dotRows(new Float32Array(5), 2, new Float32Array(6), 2, 3, new Float32Array(4))).toThrow(
      expect.objectContaining({ code: "INTERNAL_BAD_ARGUMENT" }),
    );
  });

  it("the committed binary is the compiled dot-rows.wat (no drift)", () => {
    const root = path.resolve(import.meta.dirname, "..", "..");
    expect(() =>
      execFileSync(
        process.execPath,
        [path.join(root, "node_modules", "tsx", "dist", "cli.mjs"), "scripts/build-wasm.ts", "--check"],
        {
          cwd: root,
          stdio: "pipe",
        },
      ),
    ).not.toThrow();
  });
});
