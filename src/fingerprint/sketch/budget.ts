import type { LayerView } from "../../model/types.js";
import { mix32 } from "./anchors.js";

/**
 * The neuron budget: a fingerprint must stay ≤ 64 MB and ≤ 2 % of the checkpoint for any
 * model, and the per-neuron features are what grows with the model (layers × FFN width × experts).
 * Above the budget every MLP (dense FFN and each expert) stores the same deterministic subset of its
 * neuron indices: neuron i is kept iff neuronHash(i) < fraction·2³², with one fraction for the whole
 * model (budget / need). The rule sees only the index, never the layer or the weights, so an
 * unpermuted derived model keeps exactly its parent's neurons (or a nested subset when it is larger:
 * thresholds of one hash are nested), and a permuted one still overlaps in ≈ fraction² of the neurons,
 * which E3 detects: its null, P(agreements ≥ k) ≤ 1/k!, holds for any candidate sets.
 */

/**
 * Byte budget of all neuron features, norms and stored indices of one model, uncompressed.
 * Arithmetic for the whole file (decimal MB, measured on the qwen2.5-7b shape): the 8-bit features
 * barely deflate (48.0 → 45.1), float32 embeddings of bf16 weights do (alignment rows 8.4 → 3.7).
 * The file is ≈ 45.1 for the features + ≤ 8.4 alignment rows (ALIGN_EMBED_MAX_BYTES) + 64·d·4
 * id-anchor rows (2.1 at d = 8192) + q/k row norms (1.5 for 80 layers at d = 8192) + q·k invariants
 * (2.3 kB a layer) + tokenizer strings (≈ 1–2) + tensor records (≈ 110 bytes each): ≈ 59 for a
 * 70B-shaped dense model even if the embeddings did not deflate; the 126-layer d = 16384 shape is
 * ≈ 64.5 before and ≈ 57 after they deflate as measured. Measured whole file of the 7.8 GB model: 49.
 * Tensor records only matter for MoE checkpoints with 10⁵ tensors; featureBudget takes them out of
 * this budget.
 */
export const FEATURE_BUDGET_BYTES = 48_000_000;

/** Deflated bytes of one tensor record (name, dtype, shape, SHA-256, statistics): measured 108. */
export const TENSOR_RECORD_BYTES = 120;
/** Records any model may have before they eat into the neuron budget: ≈ 16,700 tensors. */
const RECORD_ALLOWANCE_BYTES = 2_000_000;

/**
 * The neuron budget of a checkpoint with `tensors` tensors: `budgetBytes` less what the tensor records
 * take beyond RECORD_ALLOWANCE_BYTES, so a DeepSeek-V3-sized MoE (≈ 92k tensors with FP8 scales: 9 MB
 * less) or a 384-expert one (≈ 140k: 15 MB less) stays ≤ 64 MB too. Dense models keep the whole budget.
 */
export function featureBudget(tensors: number, budgetBytes = FEATURE_BUDGET_BYTES): number {
  return budgetBytes - Math.max(0, tensors * TENSOR_RECORD_BYTES - RECORD_ALLOWANCE_BYTES);
}

/** Bytes of an index in `rows` (Int32Array), counted against the budget once a subset is stored. */
const INDEX_BYTES = 4;

/** Which neurons every MLP of one model keeps: hash(i) < limit; limit = 2³² keeps all (rows = null). */
export interface NeuronBudget {
  /** Threshold on neuronHash, in [0, 2³²]. */
  limit: number;
  /** limit / 2³²: the expected fraction of each MLP's neurons stored. */
  fraction: number;
}

/**
 * Stored bytes per neuron of one MLP: two feature views of `cols` uint8 columns each (anchor + native
 * + id) — gate and up rows for a gated MLP, up rows and down columns for a non-gated one (sketch
 * version 7) — and float16 norms: gate, up and down for a gated MLP, up and down otherwise.
 */
export function featureBytesPerNeuron(gated: boolean, cols: number): number {
  return 2 * cols + (gated ? 3 : 2) * 2;
}

/** The model's neuron budget: all neurons when they fit, else fraction = budget / need for every MLP. */
export function keepThreshold(
  layers: readonly LayerView[],
  cols: number,
  budgetBytes = FEATURE_BUDGET_BYTES,
): NeuronBudget {
  let need = 0;
  let neurons = 0;
  for (const layer of layers) {
    const mlps = layer.mlp ? [layer.mlp] : (layer.moe?.experts ?? []);
    for (const m of mlps) {
      const [n = 0] = m.up.shape;
      need += n * featureBytesPerNeuron(m.gate !== null, cols);
      neurons += n;
    }
  }
  if (need <= budgetBytes) return { limit: 2 ** 32, fraction: 1 };
  // The indices are only stored once a subset is, so they count only here.
  const fraction = Math.max(0, budgetBytes) / (need + INDEX_BYTES * neurons);
  const limit = Math.floor(fraction * 2 ** 32);
  return { limit, fraction: limit / 2 ** 32 };
}

/** Seed of the neuron hash: fixed forever for a sketch version (two models must share it). */
const NEURON_SEED = 0x5eed_0003;

/**
 * 32-bit hash of a neuron index: the murmur3 finaliser of the seeded, golden-ratio-spread index. A
 * bijection of 32-bit integers, so the kept indices look like a uniform random subset of each width.
 */
export function neuronHash(i: number): number {
  return mix32((Math.imul(i + 1, 0x9e3779b1) ^ NEURON_SEED) >>> 0);
}

/** The stored neuron indices of an MLP of width n, ascending; null when the budget keeps all of them. */
export function keptNeurons(n: number, budget: NeuronBudget): Int32Array | null {
  if (budget.limit >= 2 ** 32) return null;
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (neuronHash(i) < budget.limit) out.push(i);
  return Int32Array.from(out);
}

/** First position p in ascending `rows` with rows[p] ≥ x (binary search). */
function lowerBound(rows: Int32Array, x: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((rows[mid] ?? -1) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The kept rows of a block holding matrix rows [start, start+count), each `d` wide, packed in order:
 * the stored subset of the block, ready to project. Written into `into(values)` when given (a
 * caller's reused scratch of at least that length: `w` is then a view of it), else a new array.
 */
export function selectRows(
  block: Float32Array,
  d: number,
  rows: Int32Array,
  start: number,
  count: number,
  into?: (values: number) => Float32Array,
): { w: Float32Array; count: number } {
  const from = lowerBound(rows, start);
  const to = lowerBound(rows, start + count);
  const n = (to - from) * d;
  const w = into ? into(n).subarray(0, n) : new Float32Array(n);
  for (let p = from; p < to; p++) {
    const r = (rows[p] ?? -1) - start;
    w.set(block.subarray(r * d, (r + 1) * d), (p - from) * d);
  }
  return { w, count: to - from };
}

/** Values at the stored indices (e.g. the down-column norms of the kept neurons). */
export function pick(values: Uint16Array, rows: Int32Array): Uint16Array {
  const out = new Uint16Array(rows.length);
  for (let p = 0; p < rows.length; p++) out[p] = values[rows[p] ?? -1] ?? 0;
  return out;
}
