import type { GridStats } from "../fingerprint/grid.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { isQuantisedDType } from "../formats/dtypes.js";

/**
 * Quantisation named from a fingerprint: quantised storage (GGUF Q-types, int8, fp8 dtypes) or a
 * de-quantised value grid (fingerprint `grid`, src/fingerprint/grid.ts). The scheme is read from the
 * grid statistics: the finest block size on a grid gives the bits (levels ≤ 2^bits); the grid is
 * followed to coarser blocks while it still holds with no more bits — the coarsest such block is the
 * quantiser's block (a whole row = per row / per output channel).
 */

/**
 * Share of blocks on a grid above which a block size holds. Unquantised BF16 weights: ≤ 0.0001 at any
 * size; int8 de-quantised to BF16: 0.62–1.0 (BF16 rounds far levels by up to 0.25 of a step); int4:
 * 1.0 (measured on Gaussian rows of 128 and 4,096 values, test/fingerprint/grid.test.ts).
 */
export const GRID_HOLDS = 0.6;

export interface QuantScheme {
  /** "stored" (quantised dtype) or "grid" (values on a quantiser's grid, any dtype). */
  how: "stored" | "grid";
  /** e.g. "int8 symmetric per row", "int4 asymmetric per 32-value block (as GGUF Q4_1/Q4_K)". */
  scheme: string;
}

function bitsOf(levels: number): number {
  return Math.max(2, Math.ceil(Math.log2(Math.max(2, levels))));
}

function ggufLike(bits: number, size: number, symmetric: boolean): string {
  if (size === 32 && bits === 8 && symmetric) return " (as GGUF Q8_0)";
  if (size === 32 && bits === 4) return symmetric ? " (as GGUF Q4_0)" : " (as GGUF Q4_1/Q4_K)";
  if (size === 32 && bits === 5) return symmetric ? " (as GGUF Q5_0)" : " (as GGUF Q5_1/Q5_K)";
  if (size === 16 && bits === 6) return " (as GGUF Q6_K)";
  if (size === 16 && bits <= 3) return " (as GGUF Q2_K/Q3_K)";
  return "";
}

/** The scheme a grid shows, or null when no integer or FP8 grid holds. */
export function gridScheme(g: GridStats): string | null {
  const sizes = [...g.blocks].sort((x, y) => (x.size || 1e9) - (y.size || 1e9));
  const first = sizes.findIndex((b) => b.fit >= GRID_HOLDS);
  const finest = sizes[first];
  if (finest) {
    const bits = bitsOf(finest.levels);
    // Follow the grid to coarser blocks while it holds with no more bits.
    let b = finest;
    for (const next of sizes.slice(first + 1)) {
      if (!(next.fit >= GRID_HOLDS && bitsOf(next.levels) <= bits)) break;
      b = next;
    }
    const sym = b.symmetric >= 0.8 ? "symmetric" : b.symmetric <= 0.4 ? "asymmetric" : "symmetric or not";
    const where = b.size === 0 ? "per row (output channel)" : `per ${b.size}-value block`;
    return `int${bits} ${sym} ${where}${b.size ? ggufLike(bits, b.size, b.symmetric >= 0.8) : ""}`;
  }
  const fp8 = sizes.filter((b) => b.fp8 >= GRID_HOLDS).at(-1);
  if (fp8) return `fp8 e4m3 with a scale ${fp8.size === 0 ? "per row" : `per ${fp8.size}-value block`}`;
  return null;
}

/** Quantisation of one model: its quantised dtypes, else its grid; null when neither shows. */
export function quantisationOf(fp: Fingerprint): QuantScheme | null {
  const stored = [
    ...new Set(
      fp.tensors.filter((t) => t.shape.length === 2 && isQuantisedDType(t.dtype)).map((t) => t.dtype),
    ),
  ];
  if (stored.length) {
    const grid = fp.grid ? gridScheme(fp.grid) : null;
    return { how: "stored", scheme: `${stored.join(", ")}${grid ? ` (${grid})` : ""}` };
  }
  const grid = fp.grid ? gridScheme(fp.grid) : null;
  return grid ? { how: "grid", scheme: grid } : null;
}

/** What was determined about quantisation on one side, for notes. */
export function quantisationNote(side: "A" | "B", fp: Fingerprint, q: QuantScheme | null): string {
  if (q?.how === "stored") return `${side} stores quantised weights: ${q.scheme}`;
  if (q)
    return `${side}'s values sit on a quantiser's grid: ${q.scheme} (stored de-quantised as ${dtypesOf(fp)})`;
  if (fp.grid === undefined)
    return `${side}: quantisation grid not measured (fingerprint written before the quant-grid kernel)`;
  if (fp.grid === null) return `${side}: quantisation grid not measured (no MLP matrix readable row by row)`;
  return `${side}: no quantisation grid on ${fp.grid.rows} sampled rows (int2–int8 per row or per 16–256-value block, fp8 with block scales)`;
}

function dtypesOf(fp: Fingerprint): string {
  return [...new Set(fp.tensors.filter((t) => t.shape.length === 2).map((t) => t.dtype))].join(", ");
}

/**
 * Drift (1 − cosine of matched neuron features) a quantiser's rounding explains: its error variance
 * scales as 4^−bits; QUANT4_DRIFT is what 4 bits cost on kinship-dev's Ap (GGUF Q4_0 0.0062, int4 per
 * 32-value block 0.0025; int8 and fp8 ≤ 0.0003). 0 when unquantised. The bits are the fewest the
 * scheme names (int4, Q4_K, …); a quantised dtype whose bits are not named counts as 8 (the strictest).
 */
export const QUANT4_DRIFT = 0.006;

export function quantisationDrift(q: QuantScheme | null): number {
  if (!q) return 0;
  const bits = [...q.scheme.matchAll(/(?:int|\bI?Q|\bI)(\d)(?!\d)/g)].map((m) => Number(m[1]));
  const fewest = bits.length ? Math.min(...bits) : 8;
  return QUANT4_DRIFT * 4 ** (4 - fewest);
}
