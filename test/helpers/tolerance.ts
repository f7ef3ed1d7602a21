import { expect } from "vitest";

/**
 * Test tolerances tied to the precision a value went through (as tfjs ties its test epsilons to the
 * backend's float precision), instead of a decimal count picked per assertion. A tolerance is a
 * number of units in the last place (ulp) of the dtype at the magnitude the value was computed from.
 */

/** Explicit mantissa bits of each float dtype: one ulp at 1 is 2^-bits. */
const MANTISSA_BITS = { F64: 52, F32: 23, F16: 10, BF16: 7 } as const;

/** Levels on each side of zero of a ggml Q8_0 block: one step is the block's max |x| / 127. */
const Q8_0_LEVELS = 127;

export type ToleranceDType = keyof typeof MANTISSA_BITS | "Q8_0";

/** Spacing of representable values of `dtype` near `magnitude` (for Q8_0: magnitude = the block's max |x|). */
export function ulpOf(dtype: ToleranceDType, magnitude: number): number {
  const m = Math.abs(magnitude);
  if (dtype === "Q8_0") return m / Q8_0_LEVELS;
  if (m === 0) return 0;
  return 2 ** (Math.floor(Math.log2(m)) - MANTISSA_BITS[dtype]);
}

export interface CloseOptions {
  /** Allowed error in ulps; 0.5 (the default) is one correctly rounded step, more for accumulated steps. */
  ulps?: number;
  /** Magnitude the ulp is taken at: the size of the operands (default |expected|). */
  of?: number;
}

/** |actual − expected| ≤ ulps · ulp(dtype, of). */
export function expectCloseForDtype(
  actual: number,
  expected: number,
  dtype: ToleranceDType,
  { ulps = 0.5, of = Math.abs(expected) }: CloseOptions = {},
): void {
  const tolerance = ulps * ulpOf(dtype, of);
  expect(
    Math.abs(actual - expected),
    `${actual} vs ${expected}: ${dtype} tolerance ${ulps} ulp at ${of} = ${tolerance}`,
  ).toBeLessThanOrEqual(tolerance);
}
