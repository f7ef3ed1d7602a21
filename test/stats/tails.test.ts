import { describe, expect, it } from "vitest";
import {
  binomialLnUpperTail,
  chiSquareEvenLnUpperTail,
  fisherCombineLog10,
  fixedPointsLog10UpperBound,
  lnFactorial,
  lnGamma,
  logSumExp,
  poissonLnLowerTail,
  poissonLnUpperTail,
} from "../../src/stats/index.js";

/** Brute-force reference: plain doubles, fine where nothing underflows. */
function poissonUpperBrute(k: number, lambda: number): number {
  let cdf = 0;
  let term = Math.exp(-lambda);
  for (let i = 0; i < k; i++) {
    cdf += term;
    term *= lambda / (i + 1);
  }
  return 1 - cdf;
}

function binomialUpperBrute(k: number, n: number, p: number): number {
  let s = 0;
  for (let i = k; i <= n; i++) {
    let c = 1;
    for (let j = 0; j < i; j++) c = (c * (n - j)) / (j + 1);
    s += c * p ** i * (1 - p) ** (n - i);
  }
  return s;
}

/** Fixed points of every permutation of n items, counted exhaustively. */
function fixedPointTail(n: number, k: number): number {
  const items = Array.from({ length: n }, (_, i) => i);
  let hits = 0;
  let total = 0;
  const permute = (arr: number[], l: number): void => {
    if (l === arr.length) {
      total++;
      if (arr.filter((x, i) => x === i).length >= k) hits++;
      return;
    }
    for (let i = l; i < arr.length; i++) {
      [arr[l], arr[i]] = [arr[i]!, arr[l]!];
      permute(arr, l + 1);
      [arr[l], arr[i]] = [arr[i]!, arr[l]!];
    }
  };
  permute(items, 0);
  return hits / total;
}

describe("log-space special functions", () => {
  it("lnGamma matches factorials and Γ(1/2) = √π", () => {
    expect(lnGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
    expect(lnGamma(11)).toBeCloseTo(Math.log(3628800), 10);
    expect(lnFactorial(200)).toBeCloseTo(lnGamma(201), 8);
  });
  it("logSumExp does not overflow or underflow", () => {
    expect(logSumExp([-1000, -1000])).toBeCloseTo(-1000 + Math.LN2, 12);
    expect(logSumExp([1000, 1000])).toBeCloseTo(1000 + Math.LN2, 12);
    expect(logSumExp([])).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe("Poisson and binomial tails", () => {
  it("agree with brute force where doubles suffice", () => {
    for (const lambda of [0.3, 1, 4.5, 20])
      for (const k of [0, 1, 2, 5, 10, 30]) {
        const brute = poissonUpperBrute(k, lambda);
        if (brute < 1e-12) continue;
        expect(Math.exp(poissonLnUpperTail(k, lambda))).toBeCloseTo(brute, 10);
        if (k > 0) expect(Math.exp(poissonLnLowerTail(k - 1, lambda))).toBeCloseTo(1 - brute, 10);
      }
    for (const [k, n, p] of [
      [3, 10, 0.2],
      [7, 20, 0.5],
      [1, 5, 0.01],
    ] as const)
      expect(Math.exp(binomialLnUpperTail(k, n, p))).toBeCloseTo(binomialUpperBrute(k, n, p), 12);
  });
  it("stay finite far below the double range", () => {
    const l = poissonLnUpperTail(352, 1) / Math.LN10;
    expect(Number.isFinite(l)).toBe(true);
    // ln P(X ≥ 352) ≈ ln P(X = 352) = −1 − ln 352!
    expect(l).toBeCloseTo((-1 - lnFactorial(352)) / Math.LN10, 2);
    expect(l).toBeLessThan(-700);
  });
});

describe("fixed points of a random permutation", () => {
  it("P(F ≥ k) ≤ 1/k! holds exactly for every n ≤ 7", () => {
    for (let n = 1; n <= 7; n++)
      for (let k = 0; k <= n; k++) {
        const exact = fixedPointTail(n, k);
        const bound = 10 ** fixedPointsLog10UpperBound(k);
        expect(exact).toBeLessThanOrEqual(bound + 1e-12);
      }
  });
  it("is tight to within e for large n (Poisson(1) limit)", () => {
    const k = 6;
    const poisson = Math.exp(poissonLnUpperTail(k, 1));
    expect(10 ** fixedPointsLog10UpperBound(k) / poisson).toBeLessThan(Math.E);
  });
});

describe("Fisher's method", () => {
  it("matches the closed form for two p-values: p1·p2·(1 − ln(p1·p2))", () => {
    const p1 = 0.03;
    const p2 = 0.2;
    const q = p1 * p2;
    expect(10 ** fisherCombineLog10([Math.log10(p1), Math.log10(p2)])).toBeCloseTo(q * (1 - Math.log(q)), 12);
  });
  it("returns 1 for all-ones and never underflows", () => {
    expect(fisherCombineLog10([0, 0, 0])).toBeCloseTo(0, 12);
    const l = fisherCombineLog10([-700, -700, -700]);
    expect(Number.isFinite(l)).toBe(true);
    expect(l).toBeLessThan(-2090);
  });
  it("chi-square upper tail with df 2 is exp(−x/2)", () => {
    expect(chiSquareEvenLnUpperTail(7.3, 2)).toBeCloseTo(-7.3 / 2, 12);
  });
  it("is uniform under H0 (seeded simulation)", () => {
    let seed = 12345;
    const rnd = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed + 0.5) / 2 ** 32;
    };
    let below = 0;
    const trials = 4000;
    for (let t = 0; t < trials; t++) {
      const ps = Array.from({ length: 5 }, () => Math.log10(rnd()));
      if (fisherCombineLog10(ps) <= Math.log10(0.05)) below++;
    }
    expect(below / trials).toBeGreaterThan(0.04);
    expect(below / trials).toBeLessThan(0.06);
  });
});
