import { PedigreeError } from "../../errors.js";
import { type BlockGrid, decodeBlockScaled, scaleBlocks } from "../../formats/block-scales.js";
import { scaleRows } from "../../formats/channel-scales.js";
import { DTYPE_BYTES, decodeToFloat32, type ElementDType, isElementDType } from "../../formats/dtypes.js";
import { e4m3Table, e5m2Table } from "../../formats/fp8.js";
import {
  DIRECTION_LEVELS,
  dotRowsQuantized,
  type QuantizedRows,
  quantizeRows16,
  WEIGHT_LEVELS,
} from "../../kernels/dot-rows-int.js";
import { rowSummer } from "./attention.js";
import { keptNeurons, type NeuronBudget, selectRows } from "./budget.js";
import {
  addColumnSquares,
  float16Array,
  projectRows,
  quantizeRows,
  rowNorms,
  scaleColumns,
} from "./project.js";

/**
 * What one matrix contributes to the sketches, as a task that sees the matrix's rows once, in order,
 * in blocks (sketch/build.ts plans the tasks and assembles their parts). A task is plain data, so it
 * can be sent to a scan worker: the one-pass fingerprint (scan.ts) feeds each task the same chunks it
 * hashes, and a reader-driven build feeds it blocks read from the checkpoint — the same code computes
 * the same bytes either way.
 *
 * Blocks: every task cuts its matrix into blocks of blockRows(cols) rows from row 0, as the reads of
 * sketch version 8 did; only the non-gated down features depend on it (their float32 accumulator
 * adds one partial product per block), the other results are per row or summed in row order.
 */

/** Values per block (4 MiB as float32), so memory per task stays the same for any matrix width. */
export const BLOCK_VALUES = 1 << 20;
export const blockRows = (cols: number) => Math.max(1, Math.floor(BLOCK_VALUES / Math.max(1, cols)));

/** The directions every row is projected on: [feature anchors (kf); native (native); id anchors (ki)] × d. */
export interface SketchBasis {
  d: number;
  kf: number;
  native: number;
  ki: number;
  all: Float32Array;
}

/**
 * The scale tensor of a streamed FP8 matrix (formats/block-scales.ts, channel-scales.ts), applied to
 * the decoded chunks as Checkpoint.readTensorFloat32 applies it: every decoded float32 times its
 * float32 scale, rounded once, so the values are the ones a reader gets. `scales` is read before the
 * scan reaches the matrix (fingerprint/build.ts); null until then.
 */
export type StoredScales =
  /** DeepSeek-style `weight_scale_inv`: one scale per grid.b0 × grid.b1 block, [sRows, sCols]. */
  | { kind: "block"; grid: BlockGrid; scales: Float32Array | null }
  /** `weight_scale`: one value per row (`perRow`), or one for the whole matrix. */
  | { kind: "channel"; perRow: boolean; scales: Float32Array | null };

export type SketchTask = SketchWork & {
  /** Streamed FP8 matrices with a scale tensor: how their decoded codes become values. */
  scales?: StoredScales;
};

type SketchWork =
  /** Gate/up rows (or transposed down columns): features on basis.all ⊙ g of the kept rows, row norms. */
  | { kind: "features"; rows: number; cols: number; budget: NeuronBudget; g: Float32Array | null }
  /** Non-gated down [d, n]: features of its kept columns on basis.all, column norms. */
  | { kind: "downFeatures"; rows: number; cols: number; budget: NeuronBudget }
  /** Gated down [d, n]: column norms (float16, all columns). */
  | { kind: "columnNorms"; rows: number; cols: number }
  /**
   * q or k: row norms, E·Wᵀ for the first m feature anchors ⊙ gIn (m ≥ 2), and the attention units'
   * row sums (`sums[u]`: the rows summed into unit u; null without units).
   */
  | {
      kind: "attention";
      rows: number;
      cols: number;
      m: number;
      gIn: Float32Array | null;
      sums: number[][] | null;
    }
  /** v: the units' row sums. */
  | { kind: "unitRows"; rows: number; cols: number; sums: number[][] }
  /** o [d, inner]: for each unit, the sum of its columns (units × d). */
  | { kind: "unitColumns"; rows: number; cols: number; sums: number[][] };

/** A task's result; which fields are set depends on its kind. */
export interface SketchPart {
  /** features / downFeatures: the stored rows (null = all) and their 8-bit features, float16 norms. */
  rows?: Int32Array | null;
  anchor?: Uint8Array;
  native?: Uint8Array;
  id?: Uint8Array | null;
  /** features, downFeatures, columnNorms: float16 norms. */
  norms16?: Uint16Array;
  /** attention: float32 row norms and the projection (m × rows, or null). */
  norms?: Float32Array;
  proj?: Float32Array | null;
  /** attention (with units), unitRows, unitColumns: units × d sums. */
  sums?: Float32Array | null;
}

/** Output of a feature pass over `stored` rows: anchor, native and id column groups, and norms. */
function featureRows(stored: number, basis: SketchBasis) {
  const width = basis.kf + basis.native + basis.ki;
  const anchor = new Uint8Array(stored * basis.kf);
  const native = new Uint8Array(stored * basis.native);
  const id = basis.ki > 0 ? new Uint8Array(stored * basis.ki) : null;
  const norms = new Float32Array(stored);
  /** Stores m projected rows (m × width) from stored row `at` on. */
  const put = (all: Float32Array, m: number, at: number) => {
    anchor.set(quantizeRows(all, m, width, 0, basis.kf), at * basis.kf);
    native.set(quantizeRows(all, m, width, basis.kf, basis.native), at * basis.native);
    id?.set(quantizeRows(all, m, width, basis.kf + basis.native, basis.ki), at * basis.ki);
  };
  const done = (): SketchPart => ({ anchor, native, id, norms16: float16Array(norms) });
  return { width, norms, put, done };
}

/** The per-block work and the result of one task. */
interface Consumer {
  block(w: Float32Array, start: number, count: number): void;
  finish(): SketchPart;
  /** The only rows block() reads (ascending); absent: all. Streamed bytes of other rows are not decoded. */
  reads?: Int32Array | null;
}

function consumerOf(task: SketchTask, basis: SketchBasis): Consumer {
  const d = basis.d;
  switch (task.kind) {
    case "features": {
      const keep = keptNeurons(task.rows, task.budget);
      const out = featureRows(keep ? keep.length : task.rows, basis);
      // The directions are quantised once per basis and norm weight (directionsOf); each block's rows
      // are quantised as they come (integer projection, kernels/dot-rows-int.ts: exact sums, so any
      // blocking gives the same bytes).
      const directions = directionsOf(basis, task.g);
      let at = 0;
      return {
        block(block, start, count) {
          const { w, count: m } = keep
            ? selectRows(block, d, keep, start, count, (n) => scratch("rows", n))
            : { w: block, count };
          if (m === 0) return;
          out.norms.set(rowNorms(w, m, d), at);
          const all = scratch("projected", m * out.width).subarray(0, m * out.width);
          dotRowsQuantized(w, m, d, WEIGHT_LEVELS, directions, all);
          out.put(all, m, at);
          at += m;
        },
        finish: () => ({ rows: keep, ...out.done() }),
        reads: keep,
      };
    }
    case "downFeatures": {
      const n = task.cols;
      const keep = keptNeurons(n, task.budget);
      const stored = keep ? keep.length : n;
      const out = featureRows(stored, basis);
      const k = out.width;
      const acc = new Float32Array(stored * k);
      const squares = new Float64Array(stored);
      return {
        block(block, start, count) {
          // The stored columns as rows (stored × count) and the directions' matching columns (k × count).
          const cols = new Float32Array(stored * count);
          for (let h = 0; h < count; h++)
            for (let r = 0; r < stored; r++) {
              const v = block[h * n + (keep ? (keep[r] ?? 0) : r)] ?? 0;
              cols[r * count + h] = v;
              squares[r] = (squares[r] ?? 0) + v * v;
            }
          const p = new Float32Array(k * count);
          for (let c = 0; c < k; c++)
            p.set(basis.all.subarray(c * d + start, c * d + start + count), c * count);
          const part = projectRows(cols, stored, count, p, k);
          for (let i = 0; i < acc.length; i++) acc[i] = (acc[i] ?? 0) + (part[i] ?? 0);
        },
        finish() {
          out.norms.set(squares.map(Math.sqrt));
          out.put(acc, stored, 0);
          return { rows: keep, ...out.done() };
        },
      };
    }
    case "columnNorms": {
      const acc = new Float64Array(task.cols);
      return {
        block: (w, _start, count) => addColumnSquares(w, count, task.cols, acc),
        finish: () => ({ norms16: float16Array(acc.map(Math.sqrt)) }),
      };
    }
    case "attention": {
      const { rows, cols, m } = task;
      const e = m >= 2 ? scaleColumns(basis.all.subarray(0, m * d), m, d, task.gIn) : null;
      const norms = new Float32Array(rows);
      const proj = e ? new Float32Array(m * rows) : null;
      const summer = task.sums ? summerOf(task.sums, cols) : null;
      return {
        block(w, start, count) {
          norms.set(rowNorms(w, count, cols), start);
          summer?.collect(w, start, count);
          if (!proj || !e) return;
          const part = projectRows(e, m, cols, w, count); // m × count
          for (let i = 0; i < m; i++) proj.set(part.subarray(i * count, (i + 1) * count), i * rows + start);
        },
        finish: () => ({ norms, proj, sums: summer ? summer.out : null }),
      };
    }
    case "unitRows": {
      const summer = summerOf(task.sums, task.cols);
      return { block: summer.collect, finish: () => ({ sums: summer.out }) };
    }
    case "unitColumns": {
      const { rows, cols, sums } = task;
      const units = sums.length;
      const out = new Float32Array(units * rows);
      return {
        block(w, start, count) {
          for (let h = 0; h < count; h++)
            for (let u = 0; u < units; u++) {
              let s = 0;
              for (const c of sums[u] ?? []) s += w[h * cols + c] ?? 0;
              out[u * rows + start + h] = s;
            }
        },
        finish: () => ({ sums: out }),
      };
    }
  }
}

/**
 * basis.all ⊙ g (scaleColumns) quantised for the integer kernel, kept for the next features task with the same basis and norm
 * weight: the experts of an MoE layer (256 in DeepSeek-V3, gate and up each) share one g, and
 * rebuilding 7 MB of directions per expert matrix cost a copy each and left that much off-heap
 * garbage per matrix, which is collected late and raised the peak RSS.
 */
let lastDirections: { all: Float32Array; g: Float32Array | null; out: QuantizedRows } | null = null;

function directionsOf(basis: SketchBasis, g: Float32Array | null): QuantizedRows {
  const last = lastDirections;
  if (last && last.all === basis.all && sameBits(last.g, g)) return last.out;
  const k = basis.all.length / basis.d;
  const out = quantizeRows16(scaleColumns(basis.all, k, basis.d, g), k, basis.d, DIRECTION_LEVELS);
  lastDirections = { all: basis.all, g: g ? g.slice() : null, out };
  return out;
}

function sameBits(a: Float32Array | null, b: Float32Array | null): boolean {
  if (!a || !b) return a === b;
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function summerOf(sums: number[][], cols: number) {
  return rowSummer(sums.length, (u) => sums[u] ?? [], cols);
}

/**
 * Per-block scratch of the features tasks (the kept rows of a block, their projections), one of each
 * per thread and grown to the largest block seen: a block's results are copied out before the next
 * block comes. Fresh arrays per block were ≈ 50 MB of off-heap garbage on each sketch worker at a
 * time in a whole 70B run (a few kept rows × 32 KB, 20,000 blocks): V8 collects ArrayBuffers only
 * after ≈ 64 MB of them, so that much garbage stood in every worker's resident memory.
 */
const scratches = new Map<string, Float32Array>();

function scratch(name: string, length: number): Float32Array {
  const have = scratches.get(name);
  if (have && have.length >= length) return have;
  const fresh = new Float32Array(length);
  scratches.set(name, fresh);
  return fresh;
}

/**
 * Row-block buffers of finished streamed tasks, handed to the next task: a worker runs an MoE
 * layer's expert matrices (768 in DeepSeek-V3) one after another, and a fresh 4 MiB buffer each is
 * off-heap garbage that is collected late (peak RSS). Every buffer holds BLOCK_VALUES (a task uses
 * the first blockRows(cols) × cols of them), so any spare fits any task of a model whose widths
 * differ (8192 and 28672 at 70B): a worker then keeps one buffer, not one per width. Rows a task
 * does not decode keep stale values, which its consumer never reads.
 */
const spareBlocks: ArrayBuffer[] = [];
const SPARE_BLOCKS = 4;

function blockBuffer(length: number): Float32Array {
  const bytes = Math.max(BLOCK_VALUES, length) * 4;
  const i = spareBlocks.findIndex((b) => b.byteLength === bytes);
  const whole = i < 0 ? undefined : spareBlocks.splice(i, 1)[0];
  return new Float32Array(whole ?? new ArrayBuffer(bytes), 0, length);
}

/**
 * Runs one task over its matrix: `rows(block, start, count)` with whole row blocks (a reader), or
 * `bytes(chunk)` with the stored little-endian bytes in order (the scan), then `finish()`.
 */
export class TensorSketcher {
  private readonly consumer: Consumer;
  private readonly width: number;
  private readonly buffer: Float32Array;
  /** Values decoded into `buffer` so far, and the matrix row at its start. */
  private fill = 0;
  private start = 0;
  /** needed[r] = 1 for the rows the consumer reads (null: all rows). */
  private readonly needed: Uint8Array | null = null;

  constructor(
    private readonly task: SketchTask,
    basis: SketchBasis,
    private readonly dtype: ElementDType | null = null,
  ) {
    this.consumer = consumerOf(task, basis);
    this.width = task.cols;
    this.buffer = dtype ? blockBuffer(blockRows(task.cols) * task.cols) : new Float32Array(0);
    const reads = this.consumer.reads;
    if (dtype && reads) {
      this.needed = new Uint8Array(task.rows);
      for (const r of reads) this.needed[r] = 1;
    }
    if (dtype && task.scales && !task.scales.scales)
      throw new PedigreeError(
        "INTERNAL_BAD_ARGUMENT",
        "sketch task of a scaled matrix sent without its scales",
      );
  }

  /** Rows [start, start+count) as float32 (count × cols); blocks must follow blockRows from row 0. */
  rows(block: Float32Array, start: number, count: number): void {
    this.consumer.block(block, start, count);
  }

  /** The next stored bytes of the matrix (whole elements). */
  bytes(chunk: Uint8Array): void {
    const dtype = this.dtype;
    if (!dtype) throw new PedigreeError("INTERNAL_BAD_ARGUMENT", "sketch task fed bytes without a dtype");
    const size = DTYPE_BYTES[dtype];
    if (chunk.length % size !== 0)
      throw new PedigreeError(
        "INTERNAL_MISALIGNED_DECODE",
        `${chunk.length} bytes is not a whole number of ${dtype}`,
      );
    let at = 0;
    while (at < chunk.length) {
      const room = this.buffer.length - this.fill;
      const take = Math.min(room, (chunk.length - at) / size);
      this.decode(dtype, chunk.subarray(at, at + take * size), take);
      this.fill += take;
      at += take * size;
      if (this.fill === this.buffer.length) this.flush();
    }
  }

  finish(): SketchPart {
    if (this.fill > 0) this.flush();
    if (this.dtype && this.start !== this.task.rows)
      throw new PedigreeError(
        "INTERNAL_BAD_ARGUMENT",
        `sketch task saw ${this.start} of ${this.task.rows} rows`,
      );
    const part = this.consumer.finish();
    // No consumer keeps a reference to a block (they copy what they store): the buffer can go back.
    if (this.dtype && spareBlocks.length < SPARE_BLOCKS && this.buffer.buffer instanceof ArrayBuffer)
      spareBlocks.push(this.buffer.buffer);
    return part;
  }

  /**
   * Decodes the next `n` stored elements into the buffer at `fill`: only the rows the consumer reads
   * (a budget keeps a few of an expert's neurons; the rest are never projected), each run of rows
   * decoded and scaled by the matrix's scale tensor if it has one (FP8 block scales in the same sweep).
   */
  private decode(dtype: ElementDType, bytes: Uint8Array, n: number): void {
    const size = DTYPE_BYTES[dtype];
    const cols = this.width;
    const first = this.start * cols + this.fill; // element index in the matrix
    const needed = this.needed;
    let i = 0;
    while (i < n) {
      let end = n;
      let take = true;
      if (needed) {
        // The run of rows from the one holding element first + i with the same flag.
        let r = Math.floor((first + i) / cols);
        take = needed[r] === 1;
        while (++r * cols < first + n && (needed[r] === 1) === take);
        end = Math.min(n, r * cols - first);
      }
      if (take) {
        const out = this.buffer.subarray(this.fill + i, this.fill + end);
        const part = bytes.subarray(i * size, end * size);
        const scaled = this.task.scales;
        const fp8 = dtype === "F8_E4M3" ? e4m3Table() : dtype === "F8_E5M2" ? e5m2Table() : null;
        if (fp8 && scaled?.kind === "block" && scaled.scales)
          decodeBlockScaled(part, out, fp8, first + i, cols, scaled.grid, scaled.scales);
        else {
          decodeToFloat32(dtype, part, out);
          this.applyScales(out, first + i);
        }
      }
      i = end;
    }
  }

  /** Scales decoded values (elements `first`… of the matrix) by the task's scale tensor, in place. */
  private applyScales(values: Float32Array, first: number): void {
    const scaled = this.task.scales;
    const scales = scaled?.scales;
    if (!scaled || !scales) return;
    if (scaled.kind === "block") scaleBlocks(values, first, this.width, scaled.grid, scales);
    else if (scaled.perRow) scaleRows(values, first, this.width, scales);
    else {
      const s = scales[0] ?? Number.NaN;
      for (let i = 0; i < values.length; i++) values[i] = (values[i] ?? Number.NaN) * s;
    }
  }

  private flush(): void {
    const count = this.fill / this.width;
    this.consumer.block(this.buffer.subarray(0, this.fill), this.start, count);
    this.start += count;
    this.fill = 0;
  }
}

/**
 * Whether a task can decode a tensor of `dtype` from its stored bytes: every element dtype, which
 * readMatrix decodes with the same decodeToFloat32 (FP8 ones with their StoredScales).
 */
export function isStreamedDType(dtype: string): dtype is ElementDType {
  return isElementDType(dtype);
}

/** The element dtype of a streamed tensor; other dtypes are not fed to sketch tasks as bytes. */
export function streamedDType(dtype: string): ElementDType {
  if (isStreamedDType(dtype)) return dtype;
  throw new PedigreeError("INTERNAL_BAD_ARGUMENT", `sketch tasks do not decode ${dtype} bytes`);
}
