/**
 * Log-space arithmetic for p-values. Every p-value in Pedigree is carried as a natural log (ln p) or a
 * log10 p, never as a probability that could underflow to 0 (DESIGN §4: "never an underflowed 0").
 */
import { PedigreeError } from "../errors.js";

export const LN10 = Math.LN10;

/** ln(e^a + e^b) without overflow/underflow; -Infinity is the additive identity. */
export function logAddExp(a: number, b: number): number {
  if (a === Number.NEGATIVE_INFINITY) return b;
  if (b === Number.NEGATIVE_INFINITY) return a;
  const m = Math.max(a, b);
  return m + Math.log1p(Math.exp(-Math.abs(a - b)));
}

/** ln Σ e^{x_i}. */
export function logSumExp(xs: readonly number[]): number {
  let m = Number.NEGATIVE_INFINITY;
  for (const x of xs) if (x > m) m = x;
  if (m === Number.NEGATIVE_INFINITY) return m;
  if (m === Number.POSITIVE_INFINITY) return m;
  let s = 0;
  for (const x of xs) s += Math.exp(x - m);
  return m + Math.log(s);
}

// Lanczos approximation (g = 7, n = 9 coefficients: LANCZOS_0, then LANCZOS[k] divides by z + k + 1); relative error < 1e-15 for x > 0.
const LANCZOS_G = 7;
const LANCZOS_0 = 0.99999999999980993;
const LANCZOS = [
  676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0. */
export function lnGamma(x: number): number {
  if (!(x > 0)) throw new PedigreeError("INTERNAL_BAD_ARGUMENT", `lnGamma needs x > 0, got ${x}`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS_0;
  const t = z + LANCZOS_G + 0.5;
  for (const [i, c] of LANCZOS.entries()) a += c / (z + i + 1);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

// Exact table for small n keeps ln n! exact where tests compare against brute force.
const LN_FACT_TABLE: number[] = (() => {
  const t = [0];
  let sum = 0;
  for (let n = 1; n <= 170; n++) {
    sum += Math.log(n);
    t.push(sum);
  }
  return t;
})();

/** ln n! for integer n ≥ 0. */
export function lnFactorial(n: number): number {
  if (!Number.isInteger(n) || n < 0)
    throw new PedigreeError("INTERNAL_BAD_ARGUMENT", `lnFactorial needs an integer ≥ 0, got ${n}`);
  return LN_FACT_TABLE[n] ?? lnGamma(n + 1);
}

/** ln C(n, k). */
export function lnChoose(n: number, k: number): number {
  if (k < 0 || k > n) return Number.NEGATIVE_INFINITY;
  return lnFactorial(n) - lnFactorial(k) - lnFactorial(n - k);
}

/** Natural-log p to log10 p, clamped to ≤ 0 (a p-value never exceeds 1). */
export function lnToLog10(lnP: number): number {
  return Math.min(0, lnP / LN10);
}

/** Bonferroni correction in log10 space: p·m, capped at 1. */
export function bonferroniLog10(log10P: number, tests: number): number {
  return Math.min(0, log10P + Math.log10(Math.max(1, tests)));
}
