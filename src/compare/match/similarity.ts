import { PedigreeError } from "../../errors.js";
import { dotRows } from "../../kernels/dot-rows.js";

/**
 * Row features as unit vectors and their cosine similarities. Features are small (k ≤ a few hundred
 * columns), so a blocked dot-product loop in float32/float64 is the whole kernel.
 */

/** A row-major feature matrix: `rows` × `cols`. */
export interface FeatureMatrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

/*
 * Loops below run over typed arrays with indices bounded by rows × cols: `?? NaN` never fires and
 * only satisfies the checker (src/checked.ts).
 */

/** Centres each row and scales it to unit length (rows of all zeros stay zero). */
export function normalizeRows(m: FeatureMatrix): FeatureMatrix {
  const out = new Float32Array(m.data.length);
  for (let r = 0; r < m.rows; r++) {
    const base = r * m.cols;
    let mean = 0;
    for (let c = 0; c < m.cols; c++) mean += m.data[base + c] ?? Number.NaN;
    mean /= m.cols || 1;
    let ss = 0;
    for (let c = 0; c < m.cols; c++) {
      const x = (m.data[base + c] ?? Number.NaN) - mean;
      out[base + c] = x;
      ss += x * x;
    }
    const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    for (let c = 0; c < m.cols; c++) out[base + c] = (out[base + c] ?? Number.NaN) * inv;
  }
  return { data: out, rows: m.rows, cols: m.cols };
}

/** Keeps the listed columns, in order. */
export function selectColumns(m: FeatureMatrix, cols: readonly number[]): FeatureMatrix {
  const out = new Float32Array(m.rows * cols.length);
  const first = cols[0] ?? 0;
  if (cols.every((c, i) => c === first + i) && first + cols.length <= m.cols) {
    // A run of adjacent columns (the matcher's prefilter, a space whose tokens line up): row copies.
    for (let r = 0; r < m.rows; r++)
      out.set(m.data.subarray(r * m.cols + first, r * m.cols + first + cols.length), r * cols.length);
    return { data: out, rows: m.rows, cols: cols.length };
  }
  for (let r = 0; r < m.rows; r++) {
    const src = r * m.cols;
    const dst = r * cols.length;
    for (let c = 0; c < cols.length; c++) out[dst + c] = m.data[src + (cols[c] ?? Number.NaN)] ?? Number.NaN;
  }
  return { data: out, rows: m.rows, cols: cols.length };
}

/** Keeps the listed rows, in order. */
export function selectRows(m: FeatureMatrix, rows: readonly number[]): FeatureMatrix {
  const out = new Float32Array(rows.length * m.cols);
  rows.forEach((r, i) => {
    out.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols);
  });
  return { data: out, rows: rows.length, cols: m.cols };
}

/** Dense similarity S[i][j] = ⟨b_i, a_j⟩ for unit rows: nB × nA, row-major. */
export function similarityMatrix(b: FeatureMatrix, a: FeatureMatrix): Float32Array {
  if (a.cols !== b.cols)
    throw new PedigreeError("INTERNAL_BAD_ARGUMENT", `feature widths differ: ${b.cols} vs ${a.cols}`);
  const out = new Float32Array(b.rows * a.rows);
  dotRows(b.data, b.rows, a.data, a.rows, a.cols, out);
  return out;
}

/** Dot product of row i of x with row j of y (same width). */
export function rowDot(x: FeatureMatrix, i: number, y: FeatureMatrix, j: number): number {
  const k = x.cols;
  let s = 0;
  for (let c = 0; c < k; c++) s += (x.data[i * k + c] ?? Number.NaN) * (y.data[j * k + c] ?? Number.NaN);
  return s;
}
