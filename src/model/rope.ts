import { PedigreeError } from "../errors.js";

/**
 * llama.cpp's converter (convert_hf_to_gguf.py, `LlamaModel.permute`) stores the q and k rows of
 * llama-family models re-ordered for its interleaved RoPE: within each head of `d` rows, Hugging Face
 * row `i·d/2 + j` (i ∈ {0,1}, j < d/2: the two rotary halves) is stored at row `2j + i`.
 * In numpy terms: `w.reshape(heads, 2, d/2, cols).swapaxes(1, 2).reshape(rows, cols)`.
 *
 * These functions map row indices, so a reader can fetch any subset of rows without materialising
 * the tensor.
 */

function headRows(rows: number, heads: number): number {
  if (!Number.isInteger(heads) || heads <= 0 || rows % heads !== 0 || (rows / heads) % 2 !== 0) {
    throw new PedigreeError(
      "MODEL_ROPE_LAYOUT",
      `cannot undo the RoPE row permutation: ${rows} rows do not split into ${heads} heads of an even size`,
      {
        details: { rows, heads },
        hint: "Check the GGUF attention.head_count / head_count_kv metadata against the q/k tensor shapes",
      },
    );
  }
  return rows / heads;
}

/** Stored (GGUF, permuted) row holding canonical (Hugging Face) row `row` of a `rows`-row q or k matrix. */
export function ggufRowForHfRow(row: number, rows: number, heads: number): number {
  const d = headRows(rows, heads);
  const half = d / 2;
  const head = Math.floor(row / d);
  const off = row - head * d;
  const i = off >= half ? 1 : 0;
  const j = off - i * half;
  return head * d + 2 * j + i;
}

/** Inverse of `ggufRowForHfRow`: the canonical row a stored row came from (used by tests and writers). */
export function hfRowForGgufRow(row: number, rows: number, heads: number): number {
  const d = headRows(rows, heads);
  const half = d / 2;
  const head = Math.floor(row / d);
  const off = row - head * d;
  const j = Math.floor(off / 2);
  const i = off % 2;
  return head * d + i * half + j;
}
