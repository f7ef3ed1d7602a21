import { PedigreeError } from "../errors.js";
import { LN10 } from "./logspace.js";
import { chiSquareEvenLnUpperTail } from "./tails.js";

/**
 * Fisher's method: X = −2 Σ ln p_i ~ χ²_{2k} when the k p-values are independent and uniform under H0.
 * Inputs and output are log10 p. A p of exactly 1 (log10 0) contributes nothing to X but still counts
 * toward k, which makes the combination conservative when tests find nothing.
 */
export function fisherCombineLog10(log10Ps: readonly number[]): number {
  const ps = log10Ps.filter((x) => Number.isFinite(x) || x === Number.NEGATIVE_INFINITY);
  if (ps.length === 0) return 0;
  let x = 0;
  for (const l of ps) {
    if (l > 0) throw new PedigreeError("INTERNAL_BAD_ARGUMENT", `a log10 p-value must be ≤ 0, got ${l}`);
    x += -2 * l * LN10;
  }
  if (!Number.isFinite(x)) return Number.NEGATIVE_INFINITY;
  return Math.min(0, chiSquareEvenLnUpperTail(x, 2 * ps.length) / LN10);
}
