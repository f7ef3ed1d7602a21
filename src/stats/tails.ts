import { PedigreeError } from "../errors.js";
import { lnChoose, lnFactorial, lnToLog10, logSumExp } from "./logspace.js";

/**
 * Upper and lower tails of discrete and chi-square distributions, computed directly in log space so
 * that p-values like 1e-700 stay representable (as log10 p = -700).
 */

/** Above this many terms a tail sum is truncated: terms then fall below e^-745 relative to the head. */
const MAX_TAIL_TERMS = 100_000;

/** ln P(X = k) for X ~ Poisson(λ). */
export function poissonLnPmf(k: number, lambda: number): number {
  if (lambda === 0) return k === 0 ? 0 : Number.NEGATIVE_INFINITY;
  return -lambda + k * Math.log(lambda) - lnFactorial(k);
}

/** ln P(X ≥ k) for X ~ Poisson(λ). */
export function poissonLnUpperTail(k: number, lambda: number): number {
  if (k <= 0) return 0;
  if (k <= lambda) return Math.log1p(-Math.exp(poissonLnLowerTail(k - 1, lambda)));
  // Terms decrease from k on (k > λ); sum until they no longer change the total.
  const terms: number[] = [];
  const head = poissonLnPmf(k, lambda);
  for (let i = k; i < k + MAX_TAIL_TERMS; i++) {
    const t = poissonLnPmf(i, lambda);
    terms.push(t);
    if (t < head - 40) break;
  }
  return Math.min(0, logSumExp(terms));
}

/** ln P(X ≤ k) for X ~ Poisson(λ). */
export function poissonLnLowerTail(k: number, lambda: number): number {
  if (k < 0) return Number.NEGATIVE_INFINITY;
  const terms: number[] = [];
  for (let i = 0; i <= k; i++) terms.push(poissonLnPmf(i, lambda));
  return Math.min(0, logSumExp(terms));
}

/** ln P(X ≥ k) for X ~ Binomial(n, p). */
export function binomialLnUpperTail(k: number, n: number, p: number): number {
  if (k <= 0) return 0;
  if (k > n) return Number.NEGATIVE_INFINITY;
  if (p <= 0) return Number.NEGATIVE_INFINITY;
  if (p >= 1) return 0;
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  const terms: number[] = [];
  for (let i = k; i <= n && i < k + MAX_TAIL_TERMS; i++) terms.push(lnChoose(n, i) + i * lp + (n - i) * lq);
  return Math.min(0, logSumExp(terms));
}

/**
 * ln P(χ²_df ≥ x) for even df = 2m: the survival function equals P(Poisson(x/2) ≤ m − 1), a finite sum.
 * Fisher's method always produces even degrees of freedom, so this is exact for its use.
 */
export function chiSquareEvenLnUpperTail(x: number, df: number): number {
  if (df <= 0 || df % 2 !== 0)
    throw new PedigreeError(
      "INTERNAL_BAD_ARGUMENT",
      `chiSquareEvenLnUpperTail needs an even df > 0, got ${df}`,
    );
  if (x <= 0) return 0;
  return poissonLnLowerTail(df / 2 - 1, x / 2);
}

/**
 * Exact tail bound for the number F of fixed points of a uniformly random permutation (or of the
 * agreements between two matchings when one is uniformly random relative to the other):
 * P(F ≥ k) ≤ 1/k!, by a union bound over the C(n,k) candidate sets of k fixed points, each fixed with
 * probability (n−k)!/n!. Returned as log10.
 */
export function fixedPointsLog10UpperBound(k: number): number {
  if (k <= 1) return 0;
  return lnToLog10(-lnFactorial(k));
}
