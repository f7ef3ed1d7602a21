import { describe, expect, it } from "vitest";
import { compareTensors } from "../../src/compare/identity.js";
import type { Fingerprint, TensorFingerprint } from "../../src/fingerprint/types.js";

function tensor(name: string, sha: string, count = 4096, std = 0.02): TensorFingerprint {
  return {
    name,
    dtype: "BF16",
    shape: [count / 64, 64],
    sha256: sha,
    stats: { count, mean: 0, std, rms: std, min: -1, max: 1, nanCount: 0, infCount: 0, quantiles: [] },
  };
}

const fp = (tensors: TensorFingerprint[]) => ({ tensors }) as unknown as Fingerprint;

describe("E0 bit-identical tensors", () => {
  it("counts trained tensors, never constants, tiny tensors or deterministic buffers", () => {
    const a = fp([
      tensor("w1", "aa"),
      tensor("norm", "n1", 4096, 0),
      tensor("layers.0.self_attn.rotary_emb.inv_freq", "rf", 4096),
      tensor("small", "s1", 64),
      tensor("w2", "bb"),
    ]);
    const b = fp([
      tensor("w1", "aa"),
      tensor("norm", "n1", 4096, 0),
      tensor("layers.0.self_attn.rotary_emb.inv_freq", "rf", 4096),
      tensor("small", "s1", 64),
      tensor("w2", "cc"),
    ]);
    const r = compareTensors(a, b);
    expect(r.identical.map((x) => x.a)).toEqual(["w1"]);
    expect(r.allIdentical).toBe(false);
    expect(r.log10P).toBeCloseTo((-4096 / 16) * Math.log10(2), 6);
    expect(r.coverage.compared).toBe(5);
  });
  it("finds renamed copies and calls the same digest multiset identical", () => {
    const r = compareTensors(
      fp([tensor("x", "aa"), tensor("y", "bb")]),
      fp([tensor("p", "bb"), tensor("q", "aa")]),
    );
    expect(r.allIdentical).toBe(true);
    expect(r.identical).toHaveLength(2);
    expect(r.coverage.missingInBCount).toBe(2);
  });
  it("is not identical when a tensor is duplicated (same digests, different multiset)", () => {
    const r = compareTensors(fp([tensor("x", "aa")]), fp([tensor("x", "aa"), tensor("x2", "aa")]));
    expect(r.allIdentical).toBe(false);
  });
  it("reports shape mismatches", () => {
    const r = compareTensors(fp([tensor("x", "aa", 4096)]), fp([tensor("x", "bb", 8192)]));
    expect(r.coverage.shapeMismatch).toEqual([{ name: "x", a: [64, 64], b: [128, 64] }]);
    expect(r.log10P).toBe(0);
  });
});
