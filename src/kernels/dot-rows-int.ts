import { PedigreeError } from "../errors.js";
import { WASM_BASE64 } from "./dot-rows-int.wasm.js";
import { ensureMemory, instantiateKernel, type WasmMemory } from "./wasm.js";

/**
 * The sketches' projection in integers: out (n × m) ≈ x (n × k) · y (m × k)ᵀ, with every row of x
 * and of y first quantised to int16 codes round(v · levels / max|row|) and the products summed
 * exactly (i32x4.dot_i16x8_s, WebAssembly SIMD), then scaled back by the two rows' factors.
 *
 * Why integers: standard WebAssembly SIMD has no fused multiply-add, so the float kernel
 * (dot-rows.wat) does one multiply and one add instruction per four products; dot_i16x8_s does
 * eight products and half their sums in one (pmaddwd), ≈ 3× the float kernel's throughput. And an
 * integer sum is exact, so the result is the same on every machine and for any blocking, split or
 * thread count — which the format needs (relaxed SIMD's fused multiply-add is not, see
 * docs/performance.md).
 *
 * Precision: WEIGHT_LEVELS and DIRECTION_LEVELS are part of the sketch format (SKETCH_VERSION "9"):
 * 12 and 11 signed bits. The rounding error of a feature is ≈ 0.3 × max/rms of the rows ÷ levels
 * of its spread (≈ 0.2 % at max/rms = 10), well below the uint8 step the features are stored with.
 *
 * Exactness: one i32 lane adds 2·levelsX·levelsY per instruction at most (times the number of codes
 * a Strassen operand sums on each side); the kernel widens its lanes to float64 every `chunk` runs
 * of 8 columns, chosen per product so a lane stays below 2³¹. Every partial sum is an integer below
 * 2⁵³ (k·levelsX·levelsY·16 < 2⁵³ for any k under 10⁸), so float64 holds it exactly, and the
 * Strassen combinations of products (sums and differences of four) stay below it too.
 * The scaled value is fround(S · fx · fy) in float64, one fixed formula.
 */

/** Levels of a weight row's int16 codes (±2047: BF16's 8 significant bits kept for values ≥ max/16). */
export const WEIGHT_LEVELS = 2047;
/** Levels of a direction's codes (±1023). */
export const DIRECTION_LEVELS = 1023;

/** Rows quantised once for many products (the directions of a sketch task). */
export interface QuantizedRows {
  rows: number;
  /** Codes per row: k rounded up to a multiple of 8 (zeros after k). */
  width: number;
  levels: number;
  /**
   * The codes in the kernel's layout (panels of the kernel's y block, see dot-rows-int.wat), rows
   * padded with zeros to a whole number of Strassen halves.
   */
  codes: Int16Array;
  /** 1 / scale of each row: value ≈ code · factor. */
  factor: Float64Array;
}

/** Values of x per kernel call (1 MB as float32: the block stays in L2 while it is quantised). */
const BLOCK_VALUES = 1 << 18;

interface Kernel {
  memory: WasmMemory;
  quantize: (
    src: number,
    n: number,
    k: number,
    levels: number,
    g: number,
    dst: number,
    factor: number,
  ) => void;
  dot: (
    x: number,
    xPanel: number,
    n: number,
    y: number,
    yPanel: number,
    m: number,
    blocks: number,
    chunk: number,
    out: number,
  ) => void;
  add: (
    a: number,
    aStride: number,
    b: number,
    bStride: number,
    rows: number,
    k: number,
    sub: number,
    dst: number,
  ) => void;
  combine: (
    p0: number,
    p1: number,
    p2: number,
    p3: number,
    s0: number,
    s1: number,
    s2: number,
    s3: number,
    rows: number,
    cols: number,
    srcStride: number,
    dst: number,
    dstStride: number,
  ) => void;
  scale: (
    sums: number,
    rows: number,
    cols: number,
    sumStride: number,
    fx: number,
    fy: number,
    out: number,
  ) => void;
  rowBlock: number;
  colBlock: number;
}

let kernel: Kernel | null = null;
/**
 * The y whose codes (and Strassen sums) sit at the start of the module's memory: a sketch task
 * multiplies block after block by the same directions, so they are copied once, not per block.
 * Anything else that writes there (quantizeRows16) clears it.
 */
let resident: { y: QuantizedRows; levels: number; leaves: { v: View; terms: number }[] } | null = null;

function load(): Kernel {
  if (kernel) return kernel;
  const e = instantiateKernel<{
    memory: WasmMemory;
    quantize_rows: Kernel["quantize"];
    dot_i16: Kernel["dot"];
    add_rows: Kernel["add"];
    combine: Kernel["combine"];
    scale: Kernel["scale"];
    row_block: { value: number };
    col_block: { value: number };
  }>(WASM_BASE64);
  kernel = {
    memory: e.memory,
    quantize: e.quantize_rows,
    dot: e.dot_i16,
    add: e.add_rows,
    combine: e.combine,
    scale: e.scale,
    rowBlock: e.row_block.value,
    colBlock: e.col_block.value,
  };
  return kernel;
}

const roundUp = (v: number, q: number) => Math.ceil(v / q) * q;

/**
 * Codes stay within ±8191, so a Strassen operand two levels deep (a sum of up to four codes, ±32764)
 * is still an int16, and one instruction's pair of products (≤ 2·(4·8191)² < 2³¹) cannot overflow a
 * lane.
 */
const MAX_LEVELS = 8191;

function checkLevels(levels: number): void {
  if (!Number.isInteger(levels) || levels < 1 || levels > MAX_LEVELS)
    throw new PedigreeError(
      "INTERNAL_BAD_ARGUMENT",
      `quantisation levels ${levels} outside 1..${MAX_LEVELS}`,
    );
}

/** Rows [from, from+rows) of x (k wide) into f32 memory at `at` (floats), `width` wide, zeros after k. */
function copyRows(
  x: Float32Array,
  from: number,
  rows: number,
  k: number,
  mem: Float32Array,
  at: number,
  width: number,
) {
  if (k === width) mem.set(x.subarray(from * k, (from + rows) * k), at);
  else
    for (let r = 0; r < rows; r++) {
      mem.set(x.subarray((from + r) * k, (from + r + 1) * k), at + r * width);
      mem.fill(0, at + r * width + k, at + (r + 1) * width);
    }
}

/** Quantises n rows of x (k wide) to `levels` (see the module comment), for the y side of dotRowsQuantized. */
export function quantizeRows16(x: Float32Array, n: number, k: number, levels: number): QuantizedRows {
  checkLevels(levels);
  if (x.length < n * k)
    throw new PedigreeError(
      "INTERNAL_BAD_ARGUMENT",
      `quantizeRows16: ${x.length} values, expected ${n}×${k}`,
    );
  const kn = load();
  resident = null;
  const width = roundUp(Math.max(k, 1), 8);
  const g = kn.colBlock;
  const padded = roundUp(Math.max(n, 1), g << MAX_STRASSEN);
  const codes = new Int16Array(padded * width);
  const factor = new Float64Array(n);
  // Whole panels per call, so each call's codes land as one contiguous range.
  const block = Math.max(g, Math.floor(BLOCK_VALUES / width / g) * g);
  for (let i0 = 0; i0 < padded; i0 += block) {
    const rows = Math.min(block, padded - i0);
    const real = Math.max(0, Math.min(rows, n - i0));
    const dstAt = rows * width * 4;
    const facAt = dstAt + rows * width * 2;
    ensureMemory(kn.memory, facAt + rows * 8);
    const mem = new Float32Array(kn.memory.buffer);
    copyRows(x, i0, real, k, mem, 0, width);
    mem.fill(0, real * width, rows * width);
    kn.quantize(0, rows, width, levels, g, dstAt, facAt);
    codes.set(new Int16Array(kn.memory.buffer, dstAt, rows * width), i0 * width);
    if (real > 0) factor.set(new Float64Array(kn.memory.buffer, facAt, real), i0);
  }
  return { rows: n, width, levels, codes, factor };
}

/**
 * One level of Strassen's algorithm on the integer codes: with X = [X00 X01; X10 X11] (row halves ×
 * column halves) and Y likewise, out = X·Yᵀ from 7 half-size products instead of 8 — 12.5 % fewer
 * multiply-adds. The codes are integers and every sum exact, so the result is bit for bit the one
 * of the direct product; only the operands grow (a sum of two codes), which the lane budget allows
 * for. Each entry: [X operand terms, Y operand terms] as (block, sign) with block = 2·half + column
 * half, and the output quadrants (rows half · 2 + Y rows half) it adds into, with their signs.
 */
const STRASSEN: readonly {
  x: readonly [number, number][];
  y: readonly [number, number][];
  into: readonly [number, number][];
}[] = [
  {
    x: [
      [0, 1],
      [3, 1],
    ],
    y: [
      [0, 1],
      [3, 1],
    ],
    into: [
      [0, 1],
      [3, 1],
    ],
  },
  {
    x: [
      [2, 1],
      [3, 1],
    ],
    y: [[0, 1]],
    into: [
      [2, 1],
      [3, -1],
    ],
  },
  {
    x: [[0, 1]],
    y: [
      [2, 1],
      [3, -1],
    ],
    into: [
      [1, 1],
      [3, 1],
    ],
  },
  {
    x: [[3, 1]],
    y: [
      [1, 1],
      [0, -1],
    ],
    into: [
      [0, 1],
      [2, 1],
    ],
  },
  {
    x: [
      [0, 1],
      [1, 1],
    ],
    y: [[3, 1]],
    into: [
      [0, -1],
      [1, 1],
    ],
  },
  {
    x: [
      [2, 1],
      [0, -1],
    ],
    y: [
      [0, 1],
      [2, 1],
    ],
    into: [[3, 1]],
  },
  {
    x: [
      [1, 1],
      [3, -1],
    ],
    y: [
      [1, 1],
      [3, 1],
    ],
    into: [[0, 1]],
  },
];
/** For each output quadrant, the products that add into it: [product, sign]. */
const QUADRANT_TERMS: readonly (readonly [number, number])[][] = [0, 1, 2, 3].map((q) =>
  STRASSEN.flatMap((p, t) => p.into.filter(([to]) => to === q).map(([, sign]) => [t, sign] as const)),
);
/**
 * Strassen levels: at most MAX_STRASSEN (the lane and int16 budgets below allow two), by default
 * DEFAULT_STRASSEN, each only while the halves keep at least STRASSEN_MIN rows on both sides (below
 * that the direct product is used; the result is the same either way). One level is the default
 * because a second measured no faster at the sketches' shapes (bench/kernel.ts --strassen 2,
 * docs/performance.md): its 12.5 % fewer multiply-adds are spent again on twice the operand sums,
 * 49 half-width leaf products whose operands no longer stay in L2, and products of 4×4 summed codes
 * that must widen their lanes every 256 columns.
 */
export const MAX_STRASSEN = 2;
const DEFAULT_STRASSEN = 1;
const STRASSEN_MIN = 16;

/**
 * Panel-packed codes of a matrix or of one of its Strassen quadrants: `panels` panels of g rows,
 * `panel` bytes apart, each holding the g rows' `w` codes as runs of 8 (w·g codes, contiguous).
 */
interface View {
  at: number;
  panel: number;
  panels: number;
  w: number;
}

/** Quadrant b of v (row half b >> 1, column half b & 1): in every panel of its row half, one contiguous span. */
const quadrant = (v: View, g: number, b: number): View => ({
  at: v.at + (b >> 1) * (v.panels / 2) * v.panel + (b & 1) * (v.w / 2) * g * 2,
  panel: v.panel,
  panels: v.panels / 2,
  w: v.w / 2,
});

/** Levels of Strassen for an n × width · (m × width)ᵀ product: each level halves rows, columns and width. */
function strassenLevels(most: number, n: number, m: number, width: number, C: number, mPad: number) {
  let levels = 0;
  while (
    levels < most &&
    width % (16 << levels) === 0 &&
    mPad % ((2 * C) << levels) === 0 &&
    n >> levels >= 2 * STRASSEN_MIN &&
    m >> levels >= 2 * STRASSEN_MIN
  )
    levels++;
  return levels;
}

/**
 * out (n × y.rows, row-major float32) = x · yᵀ, with x's rows (k wide, k ≤ y.width) quantised to
 * `levels` here and y quantised already (quantizeRows16). See the module comment for what it computes.
 * `strassen`: the most Strassen levels to use (0 to MAX_STRASSEN); the bytes are the same for any.
 */
export function dotRowsQuantized(
  x: Float32Array,
  n: number,
  k: number,
  levels: number,
  y: QuantizedRows,
  out: Float32Array,
  strassen = DEFAULT_STRASSEN,
): void {
  checkLevels(levels);
  if (!Number.isInteger(strassen) || strassen < 0 || strassen > MAX_STRASSEN)
    throw new PedigreeError(
      "INTERNAL_BAD_ARGUMENT",
      `Strassen levels ${strassen} outside 0..${MAX_STRASSEN}`,
    );
  const m = y.rows;
  const width = y.width;
  if (x.length < n * k || out.length < n * m || roundUp(Math.max(k, 1), 8) !== width)
    throw new PedigreeError(
      "INTERNAL_BAD_ARGUMENT",
      `dotRowsQuantized: buffers smaller than ${n}×${k}, ${n}×${m}, or rows of ${k} against codes ${width} wide`,
    );
  if (n === 0 || m === 0) return;
  const kn = load();
  const { memory, rowBlock: R, colBlock: C } = kn;
  const mPad = y.codes.length / width;
  const L = strassenLevels(strassen, n, m, width, C, mPad);
  // Rows in whole panels, in each quadrant of the last level (y's codes are padded so already).
  const rq = R << L;
  const block = Math.max(rq, Math.min(roundUp(n, rq), Math.floor(BLOCK_VALUES / width / rq) * rq));
  const xPanel = width * R * 2;
  const yPanel = width * C * 2;
  // Scratch per level l = 1..L: an operand sum of each side (block >> l rows, width >> l codes), and
  // the 7 products of the level ((block >> l) × (mPad >> l) float64 each); y's sums, kept while y
  // stays resident, for every product of every level (7^l operands of level l).
  let ySums = 0;
  let xSums = 0;
  let prods = 0;
  for (let l = 1; l <= L; l++) {
    ySums += 7 ** l * (mPad >> l) * (width >> l) * 2;
    xSums += (block >> l) * (width >> l) * 2;
    prods += 7 * (block >> l) * (mPad >> l) * 8;
  }
  const yAt = 0;
  const ySumAt = yAt + mPad * width * 2;
  const xfAt = ySumAt + ySums;
  const xqAt = xfAt + block * width * 4;
  const xSumAt = xqAt + block * width * 2;
  const fxAt = xSumAt + xSums;
  const fyAt = fxAt + block * 8;
  const prodAt = fyAt + mPad * 8;
  const sumAt = prodAt + prods;
  const outAt = sumAt + block * mPad * 8;
  ensureMemory(memory, outAt + block * m * 4);
  const buf = memory.buffer;
  const mem = new Float32Array(buf);
  new Float64Array(buf, fyAt, m).set(y.factor);

  /**
   * One side of a Strassen product of v: a quadrant in place, or the sum (difference) of two written
   * contiguously at `at`.
   */
  const operand = (v: View, g: number, terms: readonly [number, number][], at: number) => {
    const [first, second] = terms;
    if (!first || first[1] < 0) throw new PedigreeError("INTERNAL_BAD_ARGUMENT", "bad Strassen operand");
    const a = quadrant(v, g, first[0]);
    if (!second) return a;
    const b = quadrant(v, g, second[0]);
    kn.add(a.at, v.panel, b.at, v.panel, a.panels, g * a.w, second[1] < 0 ? 1 : 0, at);
    return { at, panel: g * a.w * 2, panels: a.panels, w: a.w };
  };

  // y's leaf operands (one per path of products through the levels, in path order t1·7 + t2 …) and
  // how many direction codes each of their codes sums; computed once while y stays resident.
  let leaves = resident?.y === y && resident.levels === L ? resident.leaves : null;
  if (!leaves) {
    new Int16Array(buf, yAt, mPad * width).set(y.codes);
    let level: { v: View; terms: number }[] = [
      { v: { at: yAt, panel: yPanel, panels: mPad / C, w: width }, terms: 1 },
    ];
    let at = ySumAt;
    for (let l = 1; l <= L; l++) {
      const next: { v: View; terms: number }[] = [];
      for (const { v, terms } of level)
        for (const p of STRASSEN) {
          next.push({ v: operand(v, C, p.y, at), terms: terms * p.y.length });
          if (p.y.length > 1) at += (v.panels / 2) * C * (v.w / 2) * 2;
        }
      level = next;
    }
    leaves = level;
  }
  resident = { y, levels: L, leaves };
  const yLeaves = leaves;

  /**
   * (rows × cols, float64, row-major, exact integers) = xv · (y's operand at `path`)ᵀ through the
   * levels below `depth`: 7 products of quadrant operands, combined into the four output quadrants.
   */
  const product = (
    xv: View,
    xTerms: number,
    path: number,
    depth: number,
    rows: number,
    cols: number,
    dst: number,
  ): void => {
    if (depth === L) {
      const yo = yLeaves[path];
      if (!yo) throw new PedigreeError("INTERNAL_BAD_ARGUMENT", "missing Strassen operand");
      // Products per i32 lane before it is widened: two per instruction (one instruction per run of
      // 8 columns), each at most the product of the two operands' largest codes.
      const perLane = Math.floor((2 ** 31 - 1) / (2 * xTerms * levels * yo.terms * y.levels));
      const chunk = Math.max(1, Math.min(perLane, xv.w / 8));
      kn.dot(xv.at, xv.panel, rows, yo.v.at, yo.v.panel, cols, xv.w / 8, chunk, dst);
      return;
    }
    const hr = rows / 2;
    const hc = cols / 2;
    let xScratch = xSumAt;
    let prodBase = prodAt;
    for (let l = 1; l <= depth; l++) {
      xScratch += (block >> l) * (width >> l) * 2;
      prodBase += 7 * (block >> l) * (mPad >> l) * 8;
    }
    const prod = (t: number) => prodBase + t * hr * hc * 8;
    STRASSEN.forEach((p, t) => {
      const xo = operand(xv, R, p.x, xScratch);
      product(xo, xTerms * p.x.length, path * 7 + t, depth + 1, hr, hc, prod(t));
    });
    for (const [q, terms] of QUADRANT_TERMS.entries()) {
      // Missing terms are product 0 with sign 0: the products are finite integers, 0·p is 0.
      const [t0 = 0, s0 = 0] = terms[0] ?? [];
      const [t1 = 0, s1 = 0] = terms[1] ?? [];
      const [t2 = 0, s2 = 0] = terms[2] ?? [];
      const [t3 = 0, s3 = 0] = terms[3] ?? [];
      const to = dst + ((q >> 1) * hr * cols + (q & 1) * hc) * 8;
      kn.combine(prod(t0), prod(t1), prod(t2), prod(t3), s0, s1, s2, s3, hr, hc, hc * 8, to, cols * 8);
    }
  };

  for (let i0 = 0; i0 < n; i0 += block) {
    const rows = Math.min(block, n - i0);
    // A last, short block still runs at full height (zero rows) when split: the halves must be equal.
    const rowsPad = L > 0 ? block : roundUp(rows, rq);
    copyRows(x, i0, rows, k, mem, xfAt / 4, width);
    mem.fill(0, xfAt / 4 + rows * width, xfAt / 4 + rowsPad * width);
    kn.quantize(xfAt, rowsPad, width, levels, R, xqAt, fxAt);
    product({ at: xqAt, panel: xPanel, panels: rowsPad / R, w: width }, 1, 0, 0, rowsPad, mPad, sumAt);
    kn.scale(sumAt, rows, m, mPad * 8, fxAt, fyAt, outAt);
    out.set(new Float32Array(buf, outAt, rows * m), i0 * m);
  }
}
