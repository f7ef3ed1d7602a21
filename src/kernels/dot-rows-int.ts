import { PedigreeError } from "../errors.js";
import { WASM_BASE64 } from "./dot-rows-int.wasm.js";

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
  codes: Int16Array;
  /** 1 / scale of each row: value ≈ code · factor. */
  factor: Float64Array;
}

const PAGE = 65_536;
/** Rows of x quantised and multiplied per kernel call: memory stays ≈ |y| + 12 MB whatever n is. */
const BLOCK_VALUES = 1 << 20;

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
};

interface Kernel {
  memory: WasmMemory;
  quantize: (src: number, n: number, k: number, levels: number, dst: number, factor: number) => void;
  dot: (
    x: number,
    xStride: number,
    n: number,
    y: number,
    yStride: number,
    m: number,
    k: number,
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
  rowBlock: number;
  colBlock: number;
}

let kernel: Kernel | null = null;

function load(): Kernel {
  if (kernel) return kernel;
  const module = new WebAssembly.Module(Buffer.from(WASM_BASE64, "base64"));
  const e = new WebAssembly.Instance(module, {}).exports as unknown as {
    memory: WasmMemory;
    quantize_rows: Kernel["quantize"];
    dot_i16: Kernel["dot"];
    add_rows: Kernel["add"];
    row_block: { value: number };
    col_block: { value: number };
  };
  kernel = {
    memory: e.memory,
    quantize: e.quantize_rows,
    dot: e.dot_i16,
    add: e.add_rows,
    rowBlock: e.row_block.value,
    colBlock: e.col_block.value,
  };
  return kernel;
}

const roundUp = (v: number, q: number) => Math.ceil(v / q) * q;

function ensure(memory: WasmMemory, bytes: number): void {
  if (memory.buffer.byteLength < bytes) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
}

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

/** Quantises n rows of x (k wide) to `levels` (see the module comment). */
export function quantizeRows16(x: Float32Array, n: number, k: number, levels: number): QuantizedRows {
  checkLevels(levels);
  if (x.length < n * k)
    throw new PedigreeError(
      "INTERNAL_BAD_ARGUMENT",
      `quantizeRows16: ${x.length} values, expected ${n}×${k}`,
    );
  const width = roundUp(Math.max(k, 1), 8);
  const codes = new Int16Array(n * width);
  const factor = new Float64Array(n);
  const { memory, quantize } = load();
  const block = Math.max(1, Math.floor(BLOCK_VALUES / width));
  for (let i0 = 0; i0 < n; i0 += block) {
    const rows = Math.min(block, n - i0);
    const srcAt = 0;
    const dstAt = rows * width * 4;
    const facAt = dstAt + rows * width * 2;
    ensure(memory, facAt + rows * 8);
    copyRows(x, i0, rows, k, new Float32Array(memory.buffer), srcAt / 4, width);
    quantize(srcAt, rows, width, levels, dstAt, facAt);
    codes.set(new Int16Array(memory.buffer, dstAt, rows * width), i0 * width);
    factor.set(new Float64Array(memory.buffer, facAt, rows), i0);
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
  const { memory } = kn;
  const strassen = width % 16 === 0 && n >= STRASSEN_MIN_ROWS && m >= STRASSEN_MIN_COLS;
  // Row and column padding: whole register blocks, in each half when the product is split.
  const rq = strassen ? 2 * kn.rowBlock : kn.rowBlock;
  const mPad = roundUp(m, strassen ? 2 * kn.colBlock : kn.colBlock);
  const block = Math.max(rq, Math.min(roundUp(n, rq), Math.floor(BLOCK_VALUES / width / rq) * rq));
  // Products per i32 lane before it is widened: two per instruction, each at most the product of
  // the operands' largest codes (doubled by a Strassen sum on each side).
  const grow = strassen ? 4 : 1;
  const perLane = Math.floor((2 ** 31 - 1) / (2 * grow * levels * y.levels));
  const wh = strassen ? width / 2 : width;
  const chunk = Math.max(1, Math.min(perLane, wh / 8)) * 16;
  const nh = block / (strassen ? 2 : 1);
  const mh = mPad / (strassen ? 2 : 1);
  const yAt = 0;
  const ySumAt = yAt + mPad * width * 2;
  const xfAt = ySumAt + (strassen ? 7 * mh * wh * 2 : 0);
  const xqAt = xfAt + block * width * 4;
  const xSumAt = xqAt + block * width * 2;
  const fxAt = xSumAt + (strassen ? 7 * nh * wh * 2 : 0);
  const outAt = fxAt + block * 8;
  ensure(memory, outAt + (strassen ? 7 : 1) * nh * mh * 8);
  const buf = memory.buffer;
  const yCodes = new Int16Array(buf, yAt, mPad * width);
  yCodes.set(y.codes.subarray(0, m * width));
  yCodes.fill(0, m * width);
  const mem = new Float32Array(buf);
  const fx = new Float64Array(buf, fxAt, block);
  const fy = y.factor;
  // The operand of one side of a Strassen product: a quadrant in place, or a sum written at `at`.
  const operand = (base: number, rows: number, terms: readonly [number, number][], at: number) => {
    const stride = width * 2;
    const quad = (b: number) => base + (b >> 1) * rows * stride + (b & 1) * wh * 2;
    const [first, second] = terms;
    if (!first) throw new PedigreeError("INTERNAL_BAD_ARGUMENT", "empty Strassen operand");
    if (!second) return { at: quad(first[0]), stride };
    if (first[1] < 0) throw new PedigreeError("INTERNAL_BAD_ARGUMENT", "Strassen operand starts negative");
    kn.add(quad(first[0]), stride, quad(second[0]), stride, rows, wh, second[1] < 0 ? 1 : 0, at);
    return { at, stride: wh * 2 };
  };
  const yOps = strassen
    ? STRASSEN.map((p, t) => operand(yAt, mh, p.y, ySumAt + t * mh * wh * 2))
    : [{ at: yAt, stride: width * 2 }];
  for (let i0 = 0; i0 < n; i0 += block) {
    const rows = Math.min(block, n - i0);
    const rowsPad = strassen ? block : roundUp(rows, rq);
    copyRows(x, i0, rows, k, mem, xfAt / 4, width);
    mem.fill(0, xfAt / 4 + rows * width, xfAt / 4 + rowsPad * width);
    kn.quantize(xfAt, rowsPad, width, levels, xqAt, fxAt);
    if (!strassen) {
      kn.dot(xqAt, width * 2, rowsPad, yAt, width * 2, mPad, width, chunk, outAt);
      const sums = new Float64Array(buf, outAt, rowsPad * mPad);
      for (let r = 0; r < rows; r++) {
        const f = fx[r] ?? Number.NaN;
        const o = (i0 + r) * m;
        const s = r * mPad;
        for (let j = 0; j < m; j++) out[o + j] = (sums[s + j] ?? Number.NaN) * f * (fy[j] ?? Number.NaN);
      }
      continue;
    }
    // A last, short block still runs at full height (zero rows): the halves must split evenly.
    STRASSEN.forEach((p, t) => {
      const xo = operand(xqAt, nh, p.x, xSumAt + t * nh * wh * 2);
      const yo = yOps[t] ?? { at: 0, stride: 0 };
      kn.dot(xo.at, xo.stride, nh, yo.at, yo.stride, mh, wh, chunk, outAt + t * nh * mh * 8);
    });
    const prods = new Float64Array(buf, outAt, 7 * nh * mh);
    for (let q = 0; q < 4; q++) {
      // Up to four products add into a quadrant; missing ones are product 0 with sign 0 (the
      // products are finite integers, so 0·p adds an exact 0).
      const terms = STRASSEN.flatMap((p, t) =>
        p.into.filter(([to]) => to === q).map(([, sign]) => [t, sign]),
      );
      const [t0 = 0, s0 = 0] = terms[0] ?? [];
      const [t1 = 0, s1 = 0] = terms[1] ?? [];
      const [t2 = 0, s2 = 0] = terms[2] ?? [];
      const [t3 = 0, s3 = 0] = terms[3] ?? [];
      const size = nh * mh;
      const r0 = (q >> 1) * nh;
      const c0 = (q & 1) * mh;
      const rEnd = Math.min(nh, rows - r0);
      const cEnd = Math.min(mh, m - c0);
      for (let r = 0; r < rEnd; r++) {
        const f = fx[r0 + r] ?? Number.NaN;
        const o = (i0 + r0 + r) * m + c0;
        const at = r * mh;
        for (let j = 0; j < cEnd; j++) {
          const s =
            s0 * (prods[t0 * size + at + j] ?? Number.NaN) +
            s1 * (prods[t1 * size + at + j] ?? Number.NaN) +
            s2 * (prods[t2 * size + at + j] ?? Number.NaN) +
            s3 * (prods[t3 * size + at + j] ?? Number.NaN);
          out[o + j] = s * f * (fy[c0 + j] ?? Number.NaN);
        }
      }
    }
  }
}
