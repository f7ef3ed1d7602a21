import type { LayerView, ModelView } from "../../model/types.js";
import { projectRows, quantizeRows } from "./project.js";
import type { AttentionSketch, UnitFeatures } from "./types.js";

/**
 * Attention units (sketch version 8): the per-dimension units of each KV head, described like MLP
 * neurons so compare can match them with the same two-view test (compare/attention.ts).
 *
 * Unit (g, j) is dimension j of KV head g. Its q/k pair: the k row g·headDim + j and the sum of the
 * q rows h·headDim + j over the query heads h of group g (grouped-query attention: query head h
 * reads KV head ⌊h / (heads/kvHeads)⌋); q·k pairs dimension j of q with dimension j of k. Its v/o
 * pair: the v row g·headDim + j and the sum of the o columns h·headDim + j over the same heads (o
 * reads what v wrote in that dimension). Summing over the group keeps a unit's views unchanged when
 * query heads are permuted within their group. Rows that read the residual stream (q, k, v) get the
 * input norm weight folded in, as gate/up rows get the post-attention norm; o columns are written into
 * the stream, so they are projected as they are (like non-gated MLPs' down columns). Each view is
 * projected on the same directions as the MLP rows (anchor embeddings, the native Gaussian matrix, the
 * id anchors), 8-bit per row: the anchor features are invariant to any rotation or permutation of
 * the hidden basis.
 */

/**
 * Most units stored per layer: dims are kept evenly spaced within each KV head, the same dims in every
 * group and every model of the same head layout. 128 units × 4 views × 224 bytes ≈ 115 KB per layer
 * (9 MB for 80 layers), out of the neuron budget; a derived layer still agrees on up to 128 units
 * (log10 p ≈ −200), an unrelated one on ≈ 1.
 */
export const ATTENTION_UNITS_MAX = 128;

/** The directions a unit view is projected on: [anchor (kf); native; id (ki)] rows of d values. */
export interface ProjectionBasis {
  d: number;
  kf: number;
  native: number;
  ki: number;
  all: Float32Array;
}

/** The dims of each KV head that are stored (evenly spaced, ascending). */
export function attentionDims(kvHeads: number, headDim: number): Int32Array {
  const per = Math.max(1, Math.min(headDim, Math.floor(ATTENTION_UNITS_MAX / Math.max(1, kvHeads))));
  return Int32Array.from({ length: per }, (_, s) => Math.floor((s * headDim) / per));
}

/** Bytes one layer's attention units take in the sketch (for the byte budget). */
export function attentionBytesPerLayer(kvHeads: number, headDim: number, cols: number): number {
  return kvHeads * attentionDims(kvHeads, headDim).length * 4 * cols;
}

/** Which rows of q/k/v (and columns of o) make each unit; null when the layer's shapes do not fit. */
export interface UnitPlan {
  dims: Int32Array;
  units: number;
  /** k/v rows of unit u: [g·headDim + j]. */
  own: (u: number) => number[];
  /** q rows (o columns) of unit u: h·headDim + j over the query heads h of group g. */
  grouped: (u: number) => number[];
}

export function unitPlan(layer: LayerView, view: ModelView, d: number): UnitPlan | null {
  const { q, k, v, o } = layer.attention;
  const { attentionHeads: heads, kvHeads, headDim } = view.dims;
  const inner = heads * headDim;
  if (!q || !k || !v || !o || !(kvHeads > 0) || heads % kvHeads !== 0) return null;
  if (q.shape[0] !== inner || k.shape[0] !== kvHeads * headDim || v.shape[0] !== kvHeads * headDim)
    return null;
  if (o.shape[0] !== d || o.shape[1] !== inner || q.shape[1] !== d) return null;
  const dims = attentionDims(kvHeads, headDim);
  const group = heads / kvHeads;
  const per = dims.length;
  return {
    dims,
    units: kvHeads * per,
    own: (u) => [Math.floor(u / per) * headDim + (dims[u % per] ?? 0)],
    grouped: (u) =>
      Array.from(
        { length: group },
        (_, t) => (Math.floor(u / per) * group + t) * headDim + (dims[u % per] ?? 0),
      ),
  };
}

/**
 * Sums rows of a canonical [rows, d] matrix into units × d while the matrix streams past in row
 * blocks (so q and k are read once, by the pass that also computes the q·k invariant).
 */
export function rowSummer(units: number, rowsOf: (u: number) => number[], d: number) {
  const out = new Float32Array(units * d);
  const byRow = new Map<number, number[]>();
  for (let u = 0; u < units; u++) for (const r of rowsOf(u)) byRow.set(r, [...(byRow.get(r) ?? []), u]);
  const collect = (block: Float32Array, start: number, count: number) => {
    for (let r = start; r < start + count; r++)
      for (const u of byRow.get(r) ?? [])
        for (let c = 0; c < d; c++)
          out[u * d + c] = (out[u * d + c] ?? 0) + (block[(r - start) * d + c] ?? 0);
  };
  return { out, collect };
}

/** The anchor, native and id features of units × d vectors (8-bit directions per row). */
export function projectUnits(
  w: Float32Array,
  units: number,
  dirs: Float32Array,
  basis: ProjectionBasis,
): UnitFeatures {
  const width = basis.kf + basis.native + basis.ki;
  const all = projectRows(w, units, basis.d, dirs, width);
  return {
    anchor: quantizeRows(all, units, width, 0, basis.kf),
    native: quantizeRows(all, units, width, basis.kf, basis.native),
    id: basis.ki > 0 ? quantizeRows(all, units, width, basis.kf + basis.native, basis.ki) : null,
  };
}

/** Bytes a sketch spends on attention units (out of its neuron budget). */
export function sketchAttentionBytes(sk: {
  featureTokens: string[];
  nativeCols: number;
  idTokens: string[];
  layers: { attn: AttentionSketch | null }[];
}): number {
  const cols = sk.featureTokens.length + sk.nativeCols + sk.idTokens.length;
  return sk.layers.reduce(
    (s, l) => s + (l.attn ? attentionBytesPerLayer(l.attn.kvHeads, l.attn.headDim, cols) : 0),
    0,
  );
}
