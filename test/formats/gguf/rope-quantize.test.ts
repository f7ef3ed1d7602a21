import { describe, expect, it } from "vitest";
import { ggmlTypeByName } from "../../../src/formats/gguf/constants.js";
import { dequantize } from "../../../src/formats/gguf/dequant.js";
import { f16ToF32, f32ToBf16, f32ToF16 } from "../../../src/formats/gguf/half.js";
import { quantize } from "../../../src/formats/gguf/quantize.js";
import {
  gatherRowBytes,
  ropePermutationRows,
  ropeUnpermutationRows,
} from "../../../src/formats/gguf/rope.js";
import { gaussian } from "./builder.js";

/** Reference permutation written the way convert_hf_to_gguf.py states it: reshape, swap axes, reshape. */
function numpyStylePermute(rows: number, heads: number): number[] {
  const half = rows / heads / 2;
  const out: number[] = [];
  // w.reshape(heads, 2, half) → swapaxes(1, 2) → (heads, half, 2): iterate the new axes in order.
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < half; i++) for (let p = 0; p < 2; p++) out.push((h * 2 + p) * half + i);
  return out;
}

describe("RoPE row permutation (llama.cpp q/k layout)", () => {
  it("matches the reshape/swapaxes definition and is undone by the unpermutation", () => {
    for (const [rows, heads] of [
      [8, 1],
      [16, 2],
      [256, 4],
      [96, 3],
    ] as const) {
      const fwd = ropePermutationRows(rows, heads);
      expect([...fwd]).toEqual(numpyStylePermute(rows, heads));
      const back = ropeUnpermutationRows(rows, heads);
      for (let r = 0; r < rows; r++) expect(fwd[back[r]!]).toBe(r);
      expect([...fwd].sort((a, b) => a - b)).toEqual([...Array(rows).keys()]);
    }
    expect([...ropePermutationRows(8, 1)]).toEqual([0, 4, 1, 5, 2, 6, 3, 7]);
  });

  it("gathers whole rows of any encoding", () => {
    const rows = Uint8Array.from([0, 0, 1, 1, 2, 2, 3, 3]);
    expect([...gatherRowBytes(rows, 2, Int32Array.of(3, 0, 2, 1))]).toEqual([3, 3, 0, 0, 2, 2, 1, 1]);
  });

  it("refuses head counts that do not split the rows into even heads", () => {
    expect(() => ropePermutationRows(10, 4)).toThrow(
      expect.objectContaining({ code: "MODEL_BAD_ROPE_GEOMETRY" }),
    );
    expect(() => ropePermutationRows(12, 4)).toThrow(
      expect.objectContaining({ code: "MODEL_BAD_ROPE_GEOMETRY" }),
    );
  });
});

describe("half-precision conversions", () => {
  it("round to nearest even and handle subnormals, overflow, NaN", () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(-2)).toBe(0xc000);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00); // rounds up to +Inf
    expect(f32ToF16(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16(2 ** -26)).toBe(0x0000);
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(Number.isNaN(f16ToF32(f32ToF16(Number.NaN)))).toBe(true);
    for (let h = 0; h < 0x7c00; h += 97) expect(f32ToF16(f16ToF32(h))).toBe(h);
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80); // tie → even
  });
});

describe("quantisers", () => {
  const x = gaussian(256 * 64, 11, 0.05);
  const relRms = (a: Float32Array, b: Float32Array) => {
    let e = 0;
    let r = 0;
    for (let i = 0; i < a.length; i++) {
      e += ((a[i] as number) - (b[i] as number)) ** 2;
      r += (b[i] as number) ** 2;
    }
    return Math.sqrt(e / r);
  };

  it.each([
    ["Q8_0", 0.01],
    ["Q4_0", 0.12],
    ["Q4_K", 0.12],
    ["Q6_K", 0.03],
  ] as const)("%s round trip stays within its error bound", (type, bound) => {
    const q = quantize(type, x);
    const info = ggmlTypeByName(type)!;
    expect(q.length).toBe((x.length / info.blockSize) * info.typeSize);
    const err = relRms(dequantize(info, q), x);
    expect(err).toBeLessThan(bound);
    expect(err).toBeGreaterThan(0);
  });

  it("keep exact zeros and exactly representable blocks", () => {
    expect(
      dequantize(ggmlTypeByName("Q8_0")!, quantize("Q8_0", new Float32Array(32))).every((v) => v === 0),
    ).toBe(true);
    const ints = Float32Array.from({ length: 32 }, (_, i) => i - 16); // max |x| 16 → d = 16/127
    const back = dequantize(
      ggmlTypeByName("Q4_K")!,
      quantize(
        "Q4_K",
        Float32Array.from({ length: 256 }, (_, i) => i % 16),
      ),
    );
    expect(Math.max(...back.map((v, i) => Math.abs(v - (i % 16))))).toBeLessThan(0.05);
    expect(relRms(dequantize(ggmlTypeByName("Q8_0")!, quantize("Q8_0", ints)), ints)).toBeLessThan(0.005);
  });

  it("refuse NaN and partial blocks with GGUF_WRITE_INVALID", () => {
    expect(() => quantize("Q8_0", new Float32Array(31))).toThrow(
      expect.objectContaining({ code: "GGUF_WRITE_INVALID" }),
    );
    const bad = new Float32Array(32);
    bad[3] = Number.NaN;
    expect(() => quantize("Q4_0", bad)).toThrow(expect.objectContaining({ code: "GGUF_WRITE_INVALID" }));
  });
});
