import { at } from "../checked.js";
import { PedigreeError } from "../errors.js";
import type { Checkpoint } from "../formats/types.js";
import { type IndexedLayout, layoutOf } from "./transforms.js";
import type { TensorRef } from "./types.js";

/**
 * Largest decode request, in elements (16 MiB of float32). Bounds the temporary buffers of a read to
 * this plus the output, whatever the tensor size (DESIGN §6: peak memory must not grow with the model).
 */
export const MAX_READ_ELEMENTS = 1 << 22;

/**
 * A transposed read whose canonical rows span at most 1/NARROW_FACTOR of the stored row width fetches
 * only that span of every stored row (one request per stored row) instead of whole stored rows.
 */
const NARROW_FACTOR = 4;

/**
 * Rows [rowStart, rowStart+rowCount) of a canonical matrix (after the ref's transforms), float32,
 * row-major (`rowCount × cols`). A vector ref ([n]) is read as an [n, 1] matrix.
 *
 * Cost: untransposed refs (also rows/gatherRows/unpermuteRope/index0) read exactly the stored rows
 * they need, in runs of consecutive rows. Transposed refs (GPT-2 Conv1D) need one column slice of every
 * stored row: the whole tensor is streamed in blocks, or for a narrow slice only that span of each
 * stored row is read (one request per stored row). Read all rows of a transposed matrix in one call
 * rather than row by row.
 */
export async function readMatrix(
  ckpt: Checkpoint,
  ref: TensorRef,
  rowStart = 0,
  rowCount?: number,
): Promise<Float32Array> {
  const info = ckpt.tensors.get(ref.tensor);
  if (!info) {
    throw new PedigreeError("MODEL_TENSOR_NOT_FOUND", `tensor "${ref.tensor}" is not in the checkpoint`, {
      details: { tensor: ref.tensor },
      hint: "The view and the checkpoint do not belong together; build the view from this checkpoint",
    });
  }
  const l = layoutOf(info.shape, ref.transforms);
  const count = rowCount ?? l.rows - rowStart;
  if (
    !Number.isInteger(rowStart) ||
    !Number.isInteger(count) ||
    rowStart < 0 ||
    count < 0 ||
    rowStart + count > l.rows
  ) {
    throw new PedigreeError(
      "MODEL_ROW_OUT_OF_RANGE",
      `rows ${rowStart}..${rowStart + count} are outside ${ref.tensor} (${l.rows} rows)`,
      { details: { tensor: ref.tensor, rowStart, rowCount: count, rows: l.rows } },
    );
  }
  const out = new Float32Array(count * l.cols);
  if (count === 0 || l.cols === 0) return out;
  const colIdx = Int32Array.from({ length: l.cols }, (_, c) => l.colMap(c));
  if (l.transposed) await readTransposed(ckpt, ref.tensor, l, rowStart, count, colIdx, out);
  else await readDirect(ckpt, ref.tensor, l, rowStart, count, colIdx, out);
  return out;
}

/** Consecutive runs [start, start+length) of a sequence of indices, each at most `maxLength` long. */
function runs(
  indices: ArrayLike<number>,
  maxLength: number,
): { at: number; start: number; length: number }[] {
  const out: { at: number; start: number; length: number }[] = [];
  for (let i = 0; i < indices.length; ) {
    const start = at(indices, i, "row indices");
    let n = 1;
    while (i + n < indices.length && n < maxLength && indices[i + n] === start + n) n++;
    out.push({ at: i, start, length: n });
    i += n;
  }
  return out;
}

function isIdentity(idx: Int32Array, width: number): boolean {
  if (idx.length !== width) return false;
  for (let i = 0; i < idx.length; i++) if (idx[i] !== i) return false;
  return true;
}

async function readDirect(
  ckpt: Checkpoint,
  name: string,
  l: IndexedLayout,
  rowStart: number,
  count: number,
  colIdx: Int32Array,
  out: Float32Array,
): Promise<void> {
  const stored = Int32Array.from({ length: count }, (_, i) => l.rowMap(rowStart + i));
  const plain = isIdentity(colIdx, l.storedCols);
  const maxRows = Math.max(1, Math.floor(MAX_READ_ELEMENTS / l.storedCols));
  for (const run of runs(stored, maxRows)) {
    const data = await ckpt.readTensorFloat32(
      name,
      l.baseOffset + run.start * l.storedCols,
      run.length * l.storedCols,
    );
    if (plain) {
      out.set(data, run.at * l.cols);
      continue;
    }
    for (let i = 0; i < run.length; i++) {
      const src = i * l.storedCols;
      const dst = (run.at + i) * l.cols;
      // c < l.cols = colIdx.length and colIdx holds stored columns: the fallbacks never apply.
      for (let c = 0; c < l.cols; c++) out[dst + c] = data[src + (colIdx[c] ?? -1)] ?? Number.NaN;
    }
  }
}

async function readTransposed(
  ckpt: Checkpoint,
  name: string,
  l: IndexedLayout,
  rowStart: number,
  count: number,
  colIdx: Int32Array,
  out: Float32Array,
): Promise<void> {
  // Canonical row r is stored column rowMap(r); canonical column c is stored row colIdx[c].
  const storedCols = Int32Array.from({ length: count }, (_, i) => l.rowMap(rowStart + i));
  let lo = Number.POSITIVE_INFINITY;
  let hi = -1;
  for (const s of storedCols) {
    lo = Math.min(lo, s);
    hi = Math.max(hi, s);
  }
  const span = hi - lo + 1;
  const narrow = span * NARROW_FACTOR <= l.storedCols;
  const width = narrow ? span : l.storedCols;
  const first = narrow ? lo : 0;
  const maxRows = Math.max(1, Math.floor(MAX_READ_ELEMENTS / width));
  for (const run of runs(colIdx, maxRows)) {
    const block = narrow
      ? await readSpans(ckpt, name, l, run.start, run.length, lo, span)
      : await ckpt.readTensorFloat32(
          name,
          l.baseOffset + run.start * l.storedCols,
          run.length * l.storedCols,
        );
    for (let k = 0; k < run.length; k++) {
      const c = run.at + k;
      const src = k * width - first;
      // i < count = storedCols.length, columns inside the block read: the fallbacks never apply.
      for (let i = 0; i < count; i++) out[i * l.cols + c] = block[src + (storedCols[i] ?? -1)] ?? Number.NaN;
    }
  }
}

/** Columns [col, col+span) of `n` consecutive stored rows from `row`, packed as an n × span block. */
async function readSpans(
  ckpt: Checkpoint,
  name: string,
  l: IndexedLayout,
  row: number,
  n: number,
  col: number,
  span: number,
): Promise<Float32Array> {
  const block = new Float32Array(n * span);
  for (let k = 0; k < n; k++) {
    const part = await ckpt.readTensorFloat32(name, l.baseOffset + (row + k) * l.storedCols + col, span);
    block.set(part, k * span);
  }
  return block;
}
