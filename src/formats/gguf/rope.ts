/**
 * llama.cpp's RoPE row permutation of q and k (convert_hf_to_gguf.py `LlamaModel.permute`).
 *
 * Hugging Face llama-family checkpoints apply rotary embeddings "rotate_half" style: inside each head
 * of `headDim = rows / heads` rows, row i (i < headDim/2) pairs with row i + headDim/2. ggml's RoPE
 * pairs adjacent rows (2i, 2i+1) instead, so the converter reorders the rows of attn_q (heads =
 * num_attention_heads) and attn_k (heads = num_key_value_heads) as
 *
 *     w.reshape(heads, 2, headDim/2, cols).swapaxes(1, 2).reshape(rows, cols)
 *
 * i.e. GGUF row  h·headDim + 2i + p  holds HF row  h·headDim + p·headDim/2 + i   (p ∈ {0,1}, i < headDim/2).
 * Both functions return gather indices: `out[r] = in[index[r]]`.
 */

import { at } from "../../checked.js";
import { PedigreeError } from "../../errors.js";

function checkGeometry(rows: number, heads: number): number {
  const headDim = rows / heads;
  if (!Number.isInteger(heads) || heads < 1 || !Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new PedigreeError(
      "MODEL_BAD_ROPE_GEOMETRY",
      `${rows} rows cannot be split into ${heads} heads of even size`,
      {
        details: { rows, heads },
        hint: "Check attention.head_count / head_count_kv against the q/k tensor shapes",
      },
    );
  }
  return headDim;
}

/** HF → GGUF: row r of the GGUF tensor is row `index[r]` of the HF tensor. */
export function ropePermutationRows(rows: number, heads: number): Int32Array {
  const headDim = checkGeometry(rows, heads);
  const half = headDim / 2;
  const index = new Int32Array(rows);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let p = 0; p < 2; p++) index[h * headDim + 2 * i + p] = h * headDim + p * half + i;
    }
  }
  return index;
}

/** GGUF → HF (what the model view applies): row r of the HF tensor is row `index[r]` of the GGUF tensor. */
export function ropeUnpermutationRows(rows: number, heads: number): Int32Array {
  const forward = ropePermutationRows(rows, heads);
  const index = new Int32Array(rows);
  forward.forEach((to, r) => {
    index[to] = r;
  });
  return index;
}

/** Gathers whole rows of `rowBytes` bytes: out row r = in row index[r]. Works on any encoding, quantised too. */
export function gatherRowBytes(data: Uint8Array, rowBytes: number, index: Int32Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let r = 0; r < index.length; r++) {
    const src = at(index, r, "row index") * rowBytes;
    out.set(data.subarray(src, src + rowBytes), r * rowBytes);
  }
  return out;
}
