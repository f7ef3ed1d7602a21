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
 * Exactness: one i32 lane adds 2·levelsX·levelsY per instruction at most; the kernel widens its lanes
 * to i64 every `chunk` bytes of a row, chosen so a lane stays below 2³¹. Totals are below 2⁵³
 * (k·levelsX·levelsY ≤ 2⁵³ for any k under 10⁹), so the float64 they come back as is exact.
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
let resident: { y: QuantizedRows; strassen: boolean } | null = null;

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
 * Codes stay within ±8191, so a Strassen sum of two (±16382) is still an int16, and one
 * instruction's pair of products (≤ 2·(2·8191)² < 2³¹) cannot overflow a lane.
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
  const padded = roundUp(Math.max(n, 1), 2 * g);
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
/** Below these sizes the direct product is used (the result is the same either way). */
const STRASSEN_MIN_ROWS = 32;
const STRASSEN_MIN_COLS = 32;

/**
 * out (n × y.rows, row-major float32) = x · yᵀ, with x's rows (k wide, k ≤ y.width) quantised to
 * `levels` here and y quantised already (quantizeRows16). See the module comment for what it computes.
 */
export function dotRowsQuantized(
  x: Float32Array,
  n: number,
  k: number,
  levels: number,
  y: QuantizedRows,
  out: Float32Array,
): void {
  checkLevels(levels);
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
  const strassen = width % 16 === 0 && n >= STRASSEN_MIN_ROWS && m >= STRASSEN_MIN_COLS;
  // Rows in whole panels, in each half when the product is split (y's codes are padded so already).
  const rq = strassen ? 2 * R : R;
  const mPad = y.codes.length / width;
  const block = Math.max(rq, Math.min(roundUp(n, rq), Math.floor(BLOCK_VALUES / width / rq) * rq));
  // Products per i32 lane before it is widened: two per instruction (one instruction per run of 8
  // columns), each at most the product of the operands' largest codes (doubled by a Strassen sum).
  const grow = strassen ? 4 : 1;
  const perLane = Math.floor((2 ** 31 - 1) / (2 * grow * levels * y.levels));
  const wh = strassen ? width / 2 : width;
  const chunk = Math.max(1, Math.min(perLane, wh / 8));
  const nh = strassen ? block / 2 : block;
  const mh = strassen ? mPad / 2 : mPad;
  const xPanel = width * R * 2;
  const yPanel = width * C * 2;
  const yAt = 0;
  const ySumAt = yAt + mPad * width * 2;
  const xfAt = ySumAt + (strassen ? 7 * mh * wh * 2 : 0);
  const xqAt = xfAt + block * width * 4;
  const xSumAt = xqAt + block * width * 2;
  const fxAt = xSumAt + (strassen ? 7 * nh * wh * 2 : 0);
  const fyAt = fxAt + block * 8;
  const prodAt = fyAt + mPad * 8;
  const sumAt = prodAt + (strassen ? 7 * nh * mh * 8 : 0);
  const outAt = sumAt + block * mPad * 8;
  ensureMemory(memory, outAt + block * m * 4);
  const buf = memory.buffer;
  const fresh = resident?.y !== y || resident.strassen !== strassen;
  if (fresh) new Int16Array(buf, yAt, mPad * width).set(y.codes);
  new Float64Array(buf, fyAt, m).set(y.factor);
  const mem = new Float32Array(buf);
  /**
   * One side of a Strassen product: a quadrant in place, or the sum of two written at `at`. Codes
   * are in panels of g rows (panel bytes apart); quadrant b covers panel half b >> 1 and column
   * half b & 1, i.e. in each of `panels` panels one contiguous span of g·wh codes.
   */
  const operand = (
    base: number,
    panels: number,
    g: number,
    panel: number,
    terms: readonly [number, number][],
    at: number,
  ) => {
    const quad = (b: number) => base + (b >> 1) * panels * panel + (b & 1) * wh * g * 2;
    const [first, second] = terms;
    if (!first || first[1] < 0) throw new PedigreeError("INTERNAL_BAD_ARGUMENT", "bad Strassen operand");
    if (!second) return { at: quad(first[0]), panel };
    kn.add(quad(first[0]), panel, quad(second[0]), panel, panels, g * wh, second[1] < 0 ? 1 : 0, at);
    return { at, panel: g * wh * 2 };
  };
  const yOps = strassen
    ? STRASSEN.map((p, t) =>
        fresh || p.y.length === 1
          ? operand(yAt, mh / C, C, yPanel, p.y, ySumAt + t * mh * wh * 2)
          : { at: ySumAt + t * mh * wh * 2, panel: C * wh * 2 },
      )
    : [];
  resident = { y, strassen };
  for (let i0 = 0; i0 < n; i0 += block) {
    const rows = Math.min(block, n - i0);
    // A last, short block still runs at full height (zero rows) when split: the halves must be equal.
    const rowsPad = strassen ? block : roundUp(rows, rq);
    copyRows(x, i0, rows, k, mem, xfAt / 4, width);
    mem.fill(0, xfAt / 4 + rows * width, xfAt / 4 + rowsPad * width);
    kn.quantize(xfAt, rowsPad, width, levels, R, xqAt, fxAt);
    if (!strassen) kn.dot(xqAt, xPanel, rowsPad, yAt, yPanel, mPad, width / 8, chunk, sumAt);
    else {
      STRASSEN.forEach((p, t) => {
        const xo = operand(xqAt, nh / R, R, xPanel, p.x, xSumAt + t * nh * wh * 2);
        const yo = yOps[t] ?? { at: 0, panel: 0 };
        kn.dot(xo.at, xo.panel, nh, yo.at, yo.panel, mh, wh / 8, chunk, prodAt + t * nh * mh * 8);
      });
      for (const [q, terms] of QUADRANT_TERMS.entries()) {
        // Missing terms are product 0 with sign 0: the products are finite integers, 0·p is 0.
        const [t0 = 0, s0 = 0] = terms[0] ?? [];
        const [t1 = 0, s1 = 0] = terms[1] ?? [];
        const [t2 = 0, s2 = 0] = terms[2] ?? [];
        const [t3 = 0, s3 = 0] = terms[3] ?? [];
        const prod = (t: number) => prodAt + t * nh * mh * 8;
        const dst = sumAt + ((q >> 1) * nh * mPad + (q & 1) * mh) * 8;
        kn.combine(prod(t0), prod(t1), prod(t2), prod(t3), s0, s1, s2, s3, nh, mh, mh * 8, dst, mPad * 8);
      }
    }
    kn.scale(sumAt, rows, m, mPad * 8, fxAt, fyAt, outAt);
    out.set(new Float32Array(buf, outAt, rows * m), i0 * m);
  }
}
