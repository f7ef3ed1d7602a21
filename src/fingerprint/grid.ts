import { at } from "../checked.js";
import type { Checkpoint, DType } from "../formats/types.js";
import { readMatrix } from "../model/read.js";
import type { ModelView } from "../model/types.js";

/**
 * Quantisation grids (kernel "quant-grid"): whether a model's weight values sit on the grid a
 * quantiser leaves, whether they are stored quantised (GGUF Q-types, int8, fp8) or de-quantised
 * (e.g. int8 per row written back as BF16). Computed on sampled rows of the MLP gate/up matrices, for
 * blocks of 16…256 consecutive values and whole rows:
 *  - uniform integer grid (int2–int8, symmetric or with an offset): the block's values are
 *    v₀ + k·δ for integers k, with at most 256 levels (range/δ + 1), up to the storage dtype's
 *    rounding of each value (|v|·2⁻⁹ for BF16, 2⁻¹² for F16);
 *  - FP8 E4M3 with a block scale s = max|v|/448: every |v|/s is an E4M3 value.
 * Written by hand (a statistics kernel): no library tests lattice membership.
 */

export const GRID_VERSION = "1";
/** Block sizes tested (values); 0 stands for the whole row. */
export const GRID_BLOCKS = [16, 32, 64, 128, 256, 0] as const;
/** Layers sampled (evenly spaced) and rows per layer: enough blocks for a stable fraction, cheap to read. */
export const GRID_LAYERS = 16;
export const GRID_ROWS_PER_LAYER = 8;
/** Most levels an integer grid may have (8 bits). */
const MAX_LEVELS = 256;
/** Lattice tolerance in units of δ, before the storage rounding is added. */
const LATTICE_TOL = 0.1;
/** Share of a block's values that must sit on the grid (a few outliers kept in higher precision). */
const ON_GRID = 0.95;
const E4M3_MAX = 448;

export interface GridBlockStats {
  /** Block size in values; 0 = whole rows. */
  size: number;
  blocks: number;
  /** Fraction of blocks on an integer grid of ≤ 256 levels. */
  fit: number;
  /** 90th percentile of the levels (range/δ + 1) of the fitted blocks. */
  levels: number;
  /** Fraction of the fitted blocks whose grid contains 0 (symmetric quantisation). */
  symmetric: number;
  /** Fraction of blocks on an FP8 E4M3 grid with a block scale. */
  fp8: number;
}

export interface GridStats {
  version: string;
  rows: number;
  blocks: GridBlockStats[];
}

/** Relative rounding of a stored value (half an ulp); quantised storage decodes exactly. */
export function storageEpsilon(dtype: DType | string): number {
  if (dtype === "BF16") return 2 ** -9;
  if (dtype === "F16") return 2 ** -12;
  return 2 ** -24;
}

/** Levels of the integer grid the values sit on, its offset-is-zero flag; null when there is none. */
export function latticeOf(v: Float32Array, eps: number): { levels: number; symmetric: boolean } | null {
  const u = [...new Set(v)].sort((x, y) => x - y);
  const [lowest] = u;
  const highest = u.at(-1);
  if (u.length < 2 || lowest === undefined || highest === undefined) return null;
  const range = highest - lowest;
  // Anchor on the value nearest zero, and take the first spacing from values near it: their storage
  // rounding is the smallest (BF16 rounds a level 100 steps out by ≈ 0.2 of a step).
  const anchor = u.reduce((a, x) => (Math.abs(x) < Math.abs(a) ? x : a), lowest);
  const amax = Math.max(Math.abs(lowest), Math.abs(highest));
  const near = u.filter((x) => Math.abs(x) <= 0.25 * amax);
  const base = near.length >= 3 ? near : u;
  let dmin = Number.POSITIVE_INFINITY;
  base.reduce((prev, x) => {
    dmin = Math.min(dmin, x - prev);
    return x;
  });
  // δ may be a divisor of the smallest gap when no two values are adjacent levels.
  for (let k = 1; k <= 4; k++) {
    const delta = refine(u, anchor, dmin / k);
    if (!(delta > 0) || range / delta + 1 > MAX_LEVELS + 0.5) break;
    let on = 0;
    for (const x of v) {
      const p = (x - anchor) / delta;
      const tol = LATTICE_TOL + (eps * (Math.abs(x) + Math.abs(anchor))) / delta;
      if (Math.abs(p - Math.round(p)) <= tol) on++;
    }
    if (on >= ON_GRID * v.length) {
      const a = anchor / delta;
      const symmetric = Math.abs(a - Math.round(a)) <= LATTICE_TOL + eps * Math.abs(a);
      return { levels: Math.round(range / delta) + 1, symmetric };
    }
  }
  return null;
}

/**
 * Least-squares spacing from levels ever farther from the anchor (an error of ε in δ moves level k by
 * k·ε, so the estimate is sharpened on near levels before far ones are rounded).
 */
function refine(u: number[], anchor: number, delta: number): number {
  let d = delta;
  for (const reach of [4, 16, 64, 256]) {
    let num = 0;
    let den = 0;
    for (const x of u) {
      const k = Math.round((x - anchor) / d);
      if (k === 0 || Math.abs(k) > reach) continue;
      num += (x - anchor) * k;
      den += k * k;
    }
    if (den > 0) d = num / den;
  }
  return d;
}

/** Whether |v|/s is an E4M3 value for s = max|v|/448 (to the storage rounding). */
export function onFp8Grid(v: Float32Array, eps: number): boolean {
  let amax = 0;
  for (const x of v) amax = Math.max(amax, Math.abs(x));
  if (!(amax > 0)) return false;
  const s = amax / E4M3_MAX;
  let on = 0;
  for (const x of v) {
    const y = Math.abs(x) / s;
    if (y === 0) {
      on++;
      continue;
    }
    // Subnormals are multiples of 2⁻⁹; normals have 3 mantissa bits.
    const step = y < 2 ** -6 ? 2 ** -9 : 2 ** (Math.floor(Math.log2(y)) - 3);
    const q = y / step;
    if (Math.abs(q - Math.round(q)) <= 0.1 + (2 * eps * y) / step) on++;
  }
  return on >= ON_GRID * v.length;
}

/** Tallies of one block size over the sampled rows. */
interface BlockTally {
  size: number;
  blocks: number;
  fit: number;
  sym: number;
  fp8: number;
  levels: number[];
}

/** Accumulates blocks of sampled rows. */
export class GridAccumulator {
  private rows = 0;
  private readonly acc = GRID_BLOCKS.map(
    (size): BlockTally => ({
      size,
      blocks: 0,
      fit: 0,
      sym: 0,
      fp8: 0,
      levels: [],
    }),
  );

  add(row: Float32Array, dtype: DType | string): void {
    const eps = storageEpsilon(dtype);
    this.rows++;
    for (const a of this.acc) {
      const size = a.size === 0 ? row.length : a.size;
      if (size > row.length) continue;
      for (let s = 0; s + size <= row.length; s += size) {
        const block = row.subarray(s, s + size);
        a.blocks++;
        const l = latticeOf(block, eps);
        if (l) {
          a.fit++;
          if (l.symmetric) a.sym++;
          a.levels.push(l.levels);
        }
        if (onFp8Grid(block, eps)) a.fp8++;
      }
    }
  }

  stats(): GridStats {
    const r = (x: number) => Math.round(x * 1e4) / 1e4;
    return {
      version: GRID_VERSION,
      rows: this.rows,
      blocks: this.acc
        .filter((a) => a.blocks > 0)
        .map((a) => {
          const lv = [...a.levels].sort((x, y) => x - y);
          return {
            size: a.size,
            blocks: a.blocks,
            fit: r(a.fit / a.blocks),
            levels: lv[Math.min(lv.length - 1, Math.floor(0.9 * lv.length))] ?? 0,
            symmetric: a.fit ? r(a.sym / a.fit) : 0,
            fp8: r(a.fp8 / a.blocks),
          };
        }),
    };
  }
}

/**
 * Grid statistics of a checkpoint: GRID_ROWS_PER_LAYER evenly spaced rows of the gate (else up)
 * matrix of GRID_LAYERS evenly spaced layers (first expert of a MoE layer). Matrices read through a
 * transform (rows that are not stored rows, where blocks would not line up) are skipped; null when
 * none is left.
 */
export async function measureGrid(ckpt: Checkpoint, view: ModelView): Promise<GridStats | null> {
  const acc = new GridAccumulator();
  const n = view.layers.length;
  const picks = [
    ...new Set(
      Array.from({ length: Math.min(GRID_LAYERS, n) }, (_, i) =>
        Math.floor((i * n) / Math.min(GRID_LAYERS, n)),
      ),
    ),
  ];
  for (const li of picks) {
    const layer = at(view.layers, li, "layers");
    const mlp = layer.mlp ?? layer.moe?.experts[0] ?? null;
    const ref = mlp ? (mlp.gate ?? mlp.up) : null;
    const info = ref ? ckpt.tensors.get(ref.tensor) : undefined;
    if (!ref || !info || ref.transforms.length > 0 || ref.shape.length !== 2) continue;
    const [rows = 0] = ref.shape;
    for (let k = 0; k < Math.min(GRID_ROWS_PER_LAYER, rows); k++) {
      const r = Math.floor((k * rows) / Math.min(GRID_ROWS_PER_LAYER, rows));
      acc.add(await readMatrix(ckpt, ref, r, 1), info.dtype);
    }
  }
  const s = acc.stats();
  return s.rows > 0 ? s : null;
}
