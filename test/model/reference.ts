import type { TensorTransform } from "../../src/model/types.js";

/**
 * A naive, whole-tensor implementation of the TensorRef transforms, written independently of
 * src/model/transforms.ts (explicit array reshuffles), to check readMatrix against.
 */
export interface Mat {
  rows: number;
  cols: number;
  data: Float32Array;
}

export function mat(rows: number, cols: number, f: (r: number, c: number) => number): Mat {
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[r * cols + c] = f(r, c);
  return { rows, cols, data };
}

export function transpose(m: Mat): Mat {
  return mat(m.cols, m.rows, (r, c) => m.data[c * m.cols + r] as number);
}

export function pickRows(m: Mat, rows: number[]): Mat {
  return mat(rows.length, m.cols, (r, c) => m.data[(rows[r] as number) * m.cols + c] as number);
}

export function concatRows(...ms: Mat[]): Mat {
  const cols = ms[0]?.cols ?? 0;
  const data = new Float32Array(ms.reduce((a, m) => a + m.data.length, 0));
  let at = 0;
  for (const m of ms) {
    data.set(m.data, at);
    at += m.data.length;
  }
  return { rows: data.length / cols, cols, data };
}

/**
 * llama.cpp's converter permutation, as its numpy code reads:
 * `w.reshape(heads, 2, d/2, cols).swapaxes(1, 2).reshape(rows, cols)`.
 */
export function llamaCppPermute(m: Mat, heads: number): Mat {
  const d = m.rows / heads;
  const half = d / 2;
  const out = new Float32Array(m.data.length);
  // Source index (h, i, j, :) lands at (h, j, i, :) in the swapped array.
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < half; j++) {
        const src = (h * d + i * half + j) * m.cols;
        const dst = (h * d + j * 2 + i) * m.cols;
        out.set(m.data.subarray(src, src + m.cols), dst);
      }
  return { rows: m.rows, cols: m.cols, data: out };
}

/** Inverse of llamaCppPermute: reshape(heads, d/2, 2, cols).swapaxes(1, 2). */
function llamaCppUnpermute(m: Mat, heads: number): Mat {
  const d = m.rows / heads;
  const half = d / 2;
  const out = new Float32Array(m.data.length);
  for (let h = 0; h < heads; h++)
    for (let j = 0; j < half; j++)
      for (let i = 0; i < 2; i++) {
        const src = (h * d + j * 2 + i) * m.cols;
        const dst = (h * d + i * half + j) * m.cols;
        out.set(m.data.subarray(src, src + m.cols), dst);
      }
  return { rows: m.rows, cols: m.cols, data: out };
}

/** Applies transforms to a whole stored tensor (shape as stored, data row-major). */
export function applyNaive(shape: number[], data: Float32Array, transforms: TensorTransform[]): Mat {
  let dims = [...shape];
  let flat = data;
  let rest = transforms;
  if (transforms[0]?.kind === "index0") {
    const inner = dims.slice(1).reduce((a, b) => a * b, 1);
    flat = flat.slice(transforms[0].index * inner, (transforms[0].index + 1) * inner);
    dims = dims.slice(1);
    rest = transforms.slice(1);
  }
  let m: Mat = { rows: dims[0] ?? 0, cols: dims.length === 2 ? (dims[1] ?? 0) : 1, data: flat };
  for (const t of rest) {
    if (t.kind === "transpose") m = transpose(m);
    else if (t.kind === "rows")
      m = pickRows(
        m,
        Array.from({ length: t.count }, (_, i) => t.start + i),
      );
    else if (t.kind === "gatherRows") m = pickRows(m, t.rows);
    else if (t.kind === "unpermuteRope") m = llamaCppUnpermute(m, t.heads);
  }
  return m;
}
