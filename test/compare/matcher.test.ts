import { describe, expect, it } from "vitest";
import { assignMaxSimilarity, solveLapMin } from "../../src/compare/match/lap.js";
import { matchRows } from "../../src/compare/match/matcher.js";
import { type FeatureMatrix, normalizeRows } from "../../src/compare/match/similarity.js";

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}
const gauss = (r: () => number) => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());

function bruteMinCost(cost: number[], n: number, m: number): number {
  let best = Number.POSITIVE_INFINITY;
  const used = new Array<boolean>(m).fill(false);
  const go = (i: number, acc: number) => {
    if (i === n) {
      best = Math.min(best, acc);
      return;
    }
    for (let j = 0; j < m; j++) {
      if (used[j]) continue;
      used[j] = true;
      go(i + 1, acc + cost[i * m + j]!);
      used[j] = false;
    }
  };
  go(0, 0);
  return best;
}

function randomFeatures(r: () => number, rows: number, cols: number): FeatureMatrix {
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = gauss(r);
  return normalizeRows({ data, rows, cols });
}

/** B = a permutation of A's rows plus noise; returns B and the true map B row → A row. */
function permutedNoisy(a: FeatureMatrix, r: () => number, noise: number, extra = 0) {
  const n = a.rows + extra;
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  const data = new Float32Array(n * a.cols);
  perm.forEach((src, i) => {
    for (let c = 0; c < a.cols; c++)
      data[i * a.cols + c] = (src < a.rows ? a.data[src * a.cols + c]! : 0) + noise * gauss(r);
  });
  return { b: normalizeRows({ data, rows: n, cols: a.cols }), truth: perm.map((p) => (p < a.rows ? p : -1)) };
}

describe("dense assignment (Hungarian / Jonker–Volgenant)", () => {
  it("finds the brute-force optimum on random square and rectangular matrices", () => {
    const r = rng(7);
    for (let trial = 0; trial < 40; trial++) {
      const n = 1 + Math.floor(r() * 6);
      const m = n + Math.floor(r() * 3);
      const cost = Array.from({ length: n * m }, () => Math.round(r() * 20) - 5);
      const sol = solveLapMin(Float64Array.from(cost), n, m);
      expect(new Set(sol).size).toBe(n);
      const total = Array.from(sol).reduce((s, j, i) => s + cost[i * m + j]!, 0);
      expect(total).toBe(bruteMinCost(cost, n, m));
    }
  });
  it("handles more rows than columns by leaving rows unassigned", () => {
    const sim = Float64Array.from([1, 0, 0, 1, 0.9, 0.1]); // 3×2
    const res = assignMaxSimilarity(sim, 3, 2);
    expect(Array.from(res)).toEqual([0, 1, -1]);
  });
  it("rejects a cost matrix of the wrong size", () => {
    expect(() => solveLapMin(new Float64Array(5), 2, 3)).toThrow(
      expect.objectContaining({ code: "INTERNAL_BAD_ARGUMENT" }),
    );
  });
});

describe("sparse matcher", () => {
  it("equals the optimal assignment on a permuted noisy copy (2,000 rows)", () => {
    const r = rng(11);
    const a = randomFeatures(r, 2000, 48);
    const { b, truth } = permutedNoisy(a, r, 0.05);
    const sparse = matchRows(a, b);
    expect(sparse.method).toBe("sparse");
    const correct = truth.filter((t, i) => sparse.bToA[i] === t).length;
    expect(correct / truth.length).toBeGreaterThanOrEqual(0.999);
    const dense = matchRows(a, b, { exact: true });
    expect(dense.method).toBe("dense");
    const agree = Array.from(dense.bToA).filter((j, i) => sparse.bToA[i] === j).length;
    expect(agree / truth.length).toBeGreaterThanOrEqual(0.999);
  });
  it("recovers a permuted copy of a large layer through the subspace prefilter (5,000 rows)", () => {
    const r = rng(13);
    const a = randomFeatures(r, 5000, 128);
    const { b, truth } = permutedNoisy(a, r, 0.3 / Math.sqrt(128));
    const m = matchRows(a, b, { abs: true });
    const correct = truth.filter((t, i) => m.bToA[i] === t).length;
    expect(correct / truth.length).toBeGreaterThanOrEqual(0.999);
  });
  it("keeps a one-to-one map when B is wider (width expansion)", () => {
    const r = rng(12);
    const a = randomFeatures(r, 300, 32);
    const { b, truth } = permutedNoisy(a, r, 0.05, 150);
    const m = matchRows(a, b);
    const hits = truth.filter((t, i) => t >= 0 && m.bToA[i] === t).length;
    expect(hits).toBeGreaterThanOrEqual(297);
    const used = Array.from(m.bToA).filter((j) => j >= 0);
    expect(new Set(used).size).toBe(used.length);
  });
});
