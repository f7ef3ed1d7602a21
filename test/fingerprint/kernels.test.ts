import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CodeCounts, TensorAccumulator } from "../../src/fingerprint/kernels/accumulator.js";
import { codeTable, valueOrder } from "../../src/fingerprint/kernels/dtype-tables.js";
import {
  accumulateCodes,
  accumulateFloats,
  finalizeCodes,
  finalizeFloat,
  histogramQuantiles,
  type Moments,
  mergeFloatPartials,
  mergeMoments,
  QUANTILE_LEVELS,
} from "../../src/fingerprint/kernels/stats.js";
import { Xoshiro128 } from "../../src/synth/random.js";
import { expectCloseForDtype } from "../helpers/tolerance.js";

/** Naive float64 reference over finite values (population std, lower quantiles). */
function reference(values: ArrayLike<number>) {
  const all = Array.from(values);
  const finite = all.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = finite.length;
  const mean = finite.reduce((a, b) => a + b, 0) / n;
  const variance = finite.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
  return {
    count: all.length,
    mean,
    std: Math.sqrt(variance),
    rms: Math.sqrt(finite.reduce((a, b) => a + b * b, 0) / n),
    min: finite[0],
    max: finite[n - 1],
    nanCount: all.filter((v) => Number.isNaN(v)).length,
    infCount: all.filter((v) => v === Infinity || v === -Infinity).length,
    quantiles: QUANTILE_LEVELS.map((q) => finite[Math.max(1, Math.ceil(q * n)) - 1]),
  };
}

/** The statistics of a pattern histogram by the plain walk over every bin (the scan's former code). */
function denseCodeStats(hist: Float64Array, table: Float64Array) {
  let [n, sum, nan, inf] = [0, 0, 0, 0];
  for (let c = 0; c < hist.length; c++) {
    const k = hist[c] ?? 0;
    const v = table[c] ?? Number.NaN;
    if (k === 0) continue;
    if (Number.isNaN(v)) nan += k;
    else if (!Number.isFinite(v)) inf += k;
    else {
      n += k;
      sum += k * v;
    }
  }
  const mean = n === 0 ? 0 : sum / n;
  let [m2, min, max] = [0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (let c = 0; c < hist.length; c++) {
    const k = hist[c] ?? 0;
    const v = table[c] ?? Number.NaN;
    if (k === 0 || !Number.isFinite(v)) continue;
    m2 += k * (v - mean) * (v - mean);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const finite = n > 0;
  const variance = finite ? m2 / n : 0;
  return {
    count: n + nan + inf,
    mean: finite ? mean : Number.NaN,
    std: finite ? Math.sqrt(variance) : Number.NaN,
    rms: finite ? Math.sqrt(variance + mean * mean) : Number.NaN,
    min: finite ? min : Number.NaN,
    max: finite ? max : Number.NaN,
    nanCount: nan,
    infCount: inf,
    quantiles: histogramQuantiles(hist, valueOrder(table), table, n),
  };
}

function gaussianBf16(n: number, seed: number, scale = 0.02): Uint16Array {
  const rng = new Xoshiro128(seed);
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) f[i] = rng.gaussian() * scale;
  const u32 = new Uint32Array(f.buffer);
  return Uint16Array.from(u32, (b) => b >>> 16);
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

describe("dtype tables", () => {
  it("decodes F16, BF16 and FP8 bit patterns exactly", () => {
    const f16 = codeTable("F16");
    expect([f16[0x3c00], f16[0xc000], f16[0x0001], f16[0x7bff], f16[0x7c00], f16[0xfc00]]).toEqual([
      1,
      -2,
      2 ** -24,
      65504,
      Infinity,
      -Infinity,
    ]);
    expect(Number.isNaN(f16[0x7e00])).toBe(true);
    const bf16 = codeTable("BF16");
    expect([bf16[0x3f80], bf16[0xbf80], bf16[0x7f80]]).toEqual([1, -1, Infinity]);
    const e4m3 = codeTable("F8_E4M3");
    expect([e4m3[0x7e], e4m3[0x08], e4m3[0x01], e4m3[0xb8]]).toEqual([448, 2 ** -6, 2 ** -9, -1]);
    expect(Number.isNaN(e4m3[0x7f])).toBe(true);
    const e5m2 = codeTable("F8_E5M2");
    expect([e5m2[0x3c], e5m2[0x7b], e5m2[0x7c]]).toEqual([1, 57344, Infinity]);
  });
});

describe("statistics kernels", () => {
  it("BF16 statistics are exact against a naive float64 reference, NaN and Inf counted apart", () => {
    const codes = gaussianBf16(50_000, 7);
    codes[10] = 0x7fc0; // NaN
    codes[11] = 0x7f80; // +Inf
    codes[12] = 0xff80; // -Inf
    const acc = new TensorAccumulator("BF16");
    acc.addBytes(bytesOf(codes));
    const got = acc.finish().stats;
    const table = codeTable("BF16");
    const want = reference(Array.from(codes, (c) => table[c] as number));
    expect(got.count).toBe(want.count);
    expect(got.nanCount).toBe(1);
    expect(got.infCount).toBe(2);
    expect(got.min).toBe(want.min);
    expect(got.max).toBe(want.max);
    expect(got.quantiles).toEqual(want.quantiles); // exact: the histogram holds every value
    // float64 sums of 50 000 values of scale 0.02: within 1024 float64 ulps at that scale (3.6e-15).
    const f64 = { ulps: 1024, of: 0.02 };
    expectCloseForDtype(got.mean, want.mean, "F64", f64);
    expectCloseForDtype(got.std, want.std, "F64", f64);
    expectCloseForDtype(got.rms, want.rms, "F64", f64);
  });

  it("F32 statistics match the reference; quantiles within one bf16 bin", () => {
    const rng = new Xoshiro128(3);
    const v = new Float32Array(40_000);
    for (let i = 0; i < v.length; i++) v[i] = rng.gaussian() * 0.5 + 0.1;
    v[5] = Number.NaN;
    v[6] = -Infinity;
    const got = finalizeFloat(accumulateFloats(v), v.length);
    const want = reference(v);
    expect(got.nanCount).toBe(1);
    expect(got.infCount).toBe(1);
    expect(got.min).toBe(want.min);
    expect(got.max).toBe(want.max);
    // 40 000 values of scale 0.5: within 4096 float64 ulps at that scale (4.5e-13).
    expectCloseForDtype(got.mean, want.mean, "F64", { ulps: 4096, of: 0.5 });
    expectCloseForDtype(got.std, want.std, "F64", { ulps: 4096, of: 0.5 });
    got.quantiles.forEach((q, i) => {
      expect(Math.abs(q - (want.quantiles[i] as number))).toBeLessThanOrEqual(Math.abs(q) * 2 ** -7);
    });
  });

  it("exact small cases: constant, single value, all NaN, empty", () => {
    const one = finalizeFloat(accumulateFloats(Float32Array.of(3, 3, 3, 3)), 4);
    expect(one).toMatchObject({ count: 4, mean: 3, std: 0, rms: 3, min: 3, max: 3 });
    expect(one.quantiles.every((q) => q === 3)).toBe(true);
    const nan = finalizeFloat(accumulateFloats(Float32Array.of(Number.NaN, Number.NaN)), 2);
    expect(nan.nanCount).toBe(2);
    expect(Number.isNaN(nan.mean) && Number.isNaN(nan.std)).toBe(true);
    const empty = new TensorAccumulator("BF16").finish();
    expect(empty.stats.count).toBe(0);
    expect(empty.sha256).toBe(createHash("sha256").digest("hex"));
    const pair = finalizeFloat(accumulateFloats(Float64Array.of(-1, 1)), 2);
    expect(pair).toMatchObject({ mean: 0, std: 1, rms: 1, min: -1, max: 1 });
  });

  it("Chan merge is associative and matches one pass within float64 rounding", () => {
    const rng = new Xoshiro128(11);
    const parts = [1000, 1, 5000, 37].map((n) =>
      Float64Array.from({ length: n }, () => rng.gaussian() * 3 + 1e3),
    );
    const [a, b, c, d] = parts.map((p) => accumulateFloats(p).moments) as [
      Moments,
      Moments,
      Moments,
      Moments,
    ];
    const left = mergeMoments(mergeMoments(mergeMoments(a, b), c), d);
    const right = mergeMoments(a, mergeMoments(b, mergeMoments(c, d)));
    const whole = accumulateFloats(Float64Array.from(parts.flatMap((p) => Array.from(p)))).moments;
    for (const m of [left, right]) {
      expect(m.n).toBe(whole.n);
      expectCloseForDtype(m.mean, whole.mean, "F64", { ulps: 256, of: 1e3 }); // values ≈ 1000: 2.9e-11
      expectCloseForDtype(m.m2 / whole.m2, 1, "F64", { ulps: 2048 }); // 4.5e-13
      expect([m.min, m.max]).toEqual([whole.min, whole.max]);
    }
    const merged = mergeFloatPartials(
      accumulateFloats(parts[0] as Float64Array),
      accumulateFloats(parts[1] as Float64Array),
    );
    expect(merged.hist.reduce((x, y) => x + y, 0)).toBe(1001);
  });

  it("any chunking of the stored bytes gives identical BF16 results and the plain SHA-256", () => {
    const codes = gaussianBf16(20_001, 5);
    const bytes = bytesOf(codes);
    const whole = new TensorAccumulator("BF16");
    whole.addBytes(bytes);
    const expected = whole.finish();
    expect(expected.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    for (const cuts of [[1], [3, 4097], [7, 8, 9, 10, 40_000]]) {
      const acc = new TensorAccumulator("BF16");
      let pos = 0;
      for (const c of [...cuts, bytes.length]) {
        acc.addBytes(bytes.subarray(pos, Math.min(c, bytes.length)));
        pos = Math.min(c, bytes.length);
      }
      expect(acc.finish()).toEqual(expected);
    }
  });

  it("the accumulator's fused hash and counts match the plain loop for any chunking", () => {
    const codes = gaussianBf16(300_001, 9);
    const bytes = new Uint8Array(codes.buffer);
    const plain = new Uint32Array(65536);
    accumulateCodes(codes, plain);
    const counts = new Float64Array(plain);
    const expected = {
      sha256: createHash("sha256").update(bytes).digest("hex"),
      stats: finalizeCodes(counts, "BF16"),
    };
    for (const cuts of [[], [1], [3, 5, 100_001], [262_144, 524_289, 524_290]]) {
      const acc = new TensorAccumulator("BF16");
      let at = 0;
      for (const c of [...cuts, bytes.length]) {
        acc.addBytes(bytes.subarray(at, c));
        at = c;
      }
      expect(acc.finish()).toEqual(expected);
    }
  });

  it("statistics from sparse count shares equal the dense walk over all bins, bit for bit", () => {
    const rng = new Xoshiro128(11);
    for (const dtype of ["BF16", "F16", "I16", "F8_E4M3", "F8_E5M2", "U8"] as const) {
      const table = codeTable(dtype);
      const hist = new Float64Array(table.length);
      const bump = (c: number, k: number) => {
        hist[c % hist.length] = (hist[c % hist.length] ?? 0) + k;
      };
      for (let i = 0; i < 3000; i++) {
        // Mostly a narrow band of codes, a few anywhere (NaN and Inf patterns included).
        bump((rng.uniform() < 0.9 ? 0x3c00 : rng.below(hist.length)) + rng.below(64), 1 + rng.below(5));
      }
      bump(0x7fc0, 3);
      const pairs = (part: (k: number) => number) =>
        Uint32Array.from(
          [...hist.keys()].flatMap((c) => (part(hist[c] ?? 0) > 0 ? [c, part(hist[c] ?? 0)] : [])),
        );
      const expected = denseCodeStats(hist, table);
      const two = new CodeCounts(dtype); // two workers' shares, each bin split between them
      two.add(pairs((k) => Math.floor(k / 2)));
      two.add(pairs((k) => k - Math.floor(k / 2)));
      expect(two.finish()).toEqual(expected);
      const three = new CodeCounts(dtype); // bins in one, two or all three shares (merged in code order)
      three.add(pairs((k) => (k >= 3 ? 1 : 0)));
      three.add(pairs((k) => k - (k >= 3 ? 1 : 0) - (k % 2)));
      three.add(pairs((k) => k % 2));
      expect(three.finish()).toEqual(expected);
      const one = new CodeCounts(dtype);
      one.add(pairs((k) => k));
      expect(one.finish()).toEqual(expected);
      expect(finalizeCodes(hist, dtype)).toEqual(expected);
    }
  });

  it("orders every code table by (value, code), NaN codes left out", () => {
    for (const dtype of ["BF16", "F16", "I16", "U16", "F8_E4M3", "F8_E5M2", "I8", "U8", "BOOL"] as const) {
      const table = codeTable(dtype);
      const codes = [...table.keys()].filter((c) => !Number.isNaN(table[c]));
      codes.sort((a, b) => (table[a] ?? 0) - (table[b] ?? 0) || a - b);
      expect([...valueOrder(table)]).toEqual(codes);
    }
  });

  it("rejects a tensor whose bytes end inside an element", () => {
    const acc = new TensorAccumulator("F32");
    acc.addBytes(new Uint8Array(6));
    expect(() => acc.finish()).toThrow(expect.objectContaining({ code: "INTERNAL_MISALIGNED_DECODE" }));
  });

  it("decodes integer and F16 tensors", () => {
    const i32 = new TensorAccumulator("I32");
    i32.addBytes(bytesOf(Int32Array.of(-5, 5, 10)));
    expect(i32.finish().stats).toMatchObject({ mean: 10 / 3, min: -5, max: 10 });
    const f16 = new TensorAccumulator("F16");
    f16.addBytes(bytesOf(Uint16Array.of(0x3c00, 0xc000, 0x7e00)));
    expect(f16.finish().stats).toMatchObject({ count: 3, mean: -0.5, min: -2, max: 1, nanCount: 1 });
  });
});
