import { PedigreeError } from "../../errors.js";
import type { LayerView, MlpView, ModelView, TensorRef } from "../../model/types.js";
import { type Anchor, selectAnchors } from "./anchors.js";
import { attentionBytesPerLayer, rowSummer, sketchAttentionUnits, unitPlan } from "./attention.js";
import { featureBudget, keepThreshold, keptNeurons, type NeuronBudget, pick, selectRows } from "./budget.js";
import {
  addColumnSquares,
  float16Array,
  gaussianMatrix,
  projectRows,
  qkInvariant,
  quantizeRows,
  rowNorms,
  scaleColumns,
} from "./project.js";
import type { LayerSketch, MlpSketch, Sketches } from "./types.js";

/**
 * Bumped whenever any sketch value would change for the same weights. "6": MLP sketches carry `rows`
 * (a neuron subset above FEATURE_BUDGET_BYTES) and alignment anchors are capped by
 * ALIGN_EMBED_MAX_BYTES; a version-5 reader must refuse such files rather than misread them.
 * "7": non-gated MLPs (gpt2, gpt_neox) also carry down-column features (`down`, `downNative`,
 * `downId`); gated MLPs are unchanged byte for byte.
 * "8": native features are 64 columns wide (32 before: a copy washed with 200 % noise kept too
 * little signal in 32), and every layer carries attention units (`attn`, attention.ts).
 */
export const SKETCH_VERSION = "8";
/** Expected alignment tokens: enough shared rows to fit a d×d map for d up to ~1k, 4 MB at d = 1024. */
export const ALIGN_EXPECTED = 1024;
/**
 * Cap on alignEmbed (alignTokens × d float32): above d = 2048 only a prefix of the hash-sorted
 * alignment anchors is kept (585 tokens at d = 3584, 256 at d = 8192). Prefixes of one hash order
 * keep two models' sets nested, and E2 uses at most 256 shared tokens (compare/align.ts); the
 * feature anchors are always kept whole (they define the anchor feature width).
 */
export const ALIGN_EMBED_MAX_BYTES = 8 * 2 ** 20;
/** Expected feature anchors: the width of the basis-free neuron features (see docs/compare.md). */
export const FEATURE_EXPECTED = 128;
/**
 * Expected id anchors of a tokenized model: half of FEATURE_EXPECTED, so the set is nested in the
 * feature anchors a tokenizer-less model of the same size picks; 64 columns cost 40% more projection
 * than the 160 stored already and keep ≥ 32 shared rows for E2 with high probability (sd ≈ 8).
 */
export const ID_EXPECTED = 64;
/**
 * Native feature width: half the anchor width. At 32 columns a copy of kinship-dev's Ap washed with
 * 200 % Gaussian noise and then trained agreed on 14–32 of 352 neurons per layer (below the 18
 * discounted as convergent), at 64 on 81–145 (raw 128-wide rows: ≈ 330); an independent pair on 0–4.
 */
export const NATIVE_COLS = 64;
export const NATIVE_SEED = 20_240_601;
/** Tokens used by the HuRef-style q·k invariant (m² values per layer). */
export const INVARIANT_TOKENS = 24;
/**
 * Values per read of a matrix (4 MiB as float32): a block is BLOCK_VALUES / columns rows, so memory
 * per worker stays the same for a 2048-wide q and an 18944-wide down_proj. Results do not depend on
 * it: every dot product and every column sum runs over whole rows in row order.
 */
const BLOCK_VALUES = 1 << 20;
const blockRows = (cols: number) => Math.max(1, Math.floor(BLOCK_VALUES / Math.max(1, cols)));

/** Reads rows [rowStart, rowStart+rowCount) of a canonical matrix (or a whole vector) as float32. */
export type MatrixReader = (ref: TensorRef, rowStart?: number, rowCount?: number) => Promise<Float32Array>;

interface Basis {
  d: number;
  feature: Float32Array; // kf × d embedding rows of the feature tokens
  kf: number;
  id: Float32Array; // ki × d embedding rows of the id anchors (ki = 0 without a tokenizer)
  ki: number;
  /** [feature; native (NATIVE_COLS × d); id]: every direction a row is projected on, in one pass. */
  all: Float32Array;
}

/** The id name of token i, used for anchors when a model has no tokenizer. */
export function idName(i: number): string {
  return `#id:${i}`;
}

export interface SketchOptions {
  /** Byte budget of all neuron features and norms (default FEATURE_BUDGET_BYTES, see budget.ts). */
  budgetBytes?: number;
  /**
   * The layers whose neurons count towards the budget (default: the view's). A layer-parallel run
   * sketches views restricted to a few layers and passes the whole model's here, so every worker
   * keeps the same fraction of neurons as a single in-process run.
   */
  budgetLayers?: readonly LayerView[];
  /** Tensors in the checkpoint: their records' share of the file comes out of the budget (featureBudget). */
  tensorCount?: number;
}

/** Computes the sketches of one model from its canonical view (tokens: canonical strings by id, or null). */
export async function buildSketches(
  view: ModelView,
  tokens: readonly (string | null)[] | null,
  read: MatrixReader,
  opts: SketchOptions = {},
): Promise<Sketches> {
  const [rows, d] = view.embed.shape as [number, number];
  const idNames = Array.from({ length: rows }, (_, i) => idName(i));
  const names = tokens ?? idNames;
  const anchors = selectAnchors(names, ALIGN_EXPECTED).filter((a) => a.id < rows);
  const featureCount = countBelow(anchors, names, FEATURE_EXPECTED);
  const alignCap = Math.max(featureCount, Math.floor(ALIGN_EMBED_MAX_BYTES / (4 * d)));
  const align = anchors.slice(0, alignCap);
  const alignEmbed = await readRows(read, view.embed, align, d);
  const ids = tokens ? selectAnchors(idNames, ID_EXPECTED) : [];
  const idEmbed = await readRows(read, view.embed, ids, d);
  const feature = alignEmbed.subarray(0, featureCount * d);
  const all = new Float32Array((featureCount + NATIVE_COLS + ids.length) * d);
  all.set(feature);
  all.set(gaussianMatrix(NATIVE_COLS, d, NATIVE_SEED), feature.length);
  all.set(idEmbed, feature.length + NATIVE_COLS * d);
  const basis: Basis = { d, feature, kf: featureCount, id: idEmbed, ki: ids.length, all };
  const cols = featureCount + NATIVE_COLS + ids.length;
  // Attention units come out of the same byte budget as the neurons (one head layout per model).
  const { kvHeads, headDim } = view.dims;
  const attnBytes =
    (opts.budgetLayers ?? view.layers).length * attentionBytesPerLayer(kvHeads, headDim, cols);
  const bytes = featureBudget(opts.tensorCount ?? 0, opts.budgetBytes) - attnBytes;
  const budget = keepThreshold(opts.budgetLayers ?? view.layers, cols, bytes);
  const layers: LayerSketch[] = [];
  for (const layer of view.layers) layers.push(await sketchLayer(layer, view, basis, budget, read));
  return {
    version: SKETCH_VERSION,
    hidden: d,
    vocabSize: rows,
    tokenized: tokens !== null,
    idTokens: ids.map((a) => a.token),
    idEmbed,
    alignTokens: align.map((a) => a.token),
    alignEmbed,
    featureTokens: align.slice(0, featureCount).map((a) => a.token),
    nativeCols: NATIVE_COLS,
    nativeSeed: NATIVE_SEED,
    layers,
  };
}

/** The feature anchors are the prefix of the (hash-sorted) alignment anchors below the smaller threshold. */
function countBelow(align: Anchor[], names: readonly (string | null)[], expected: number): number {
  const present = names.filter((t) => t !== null).length;
  const limit = present <= expected ? 2 ** 32 : (expected / present) * 2 ** 32;
  let n = 0;
  while (n < align.length && align[n]!.hash < limit) n++;
  return n;
}

async function readRows(
  read: MatrixReader,
  ref: TensorRef,
  anchors: Anchor[],
  d: number,
): Promise<Float32Array> {
  const out = new Float32Array(anchors.length * d);
  for (let i = 0; i < anchors.length; i++) out.set(await read(ref, anchors[i]!.id, 1), i * d);
  return out;
}

async function sketchLayer(
  layer: LayerView,
  view: ModelView,
  basis: Basis,
  budget: NeuronBudget,
  read: MatrixReader,
) {
  const normRef = layer.norms.post_attention ?? layer.norms.pre_feedforward ?? null;
  const g = normRef ? await read(normRef) : null;
  const mlpViews: MlpView[] = layer.mlp ? [layer.mlp] : layer.moe ? layer.moe.experts : [];
  const directions = scaleColumns(basis.all, basis.all.length / basis.d, basis.d, g);
  const mlps: MlpSketch[] = [];
  for (const m of mlpViews) mlps.push(await sketchMlp(m, directions, basis, budget, read));
  const kind: LayerSketch["kind"] = layer.mlp ? "dense" : layer.moe ? "moe" : "other";
  const m = Math.min(INVARIANT_TOKENS, basis.kf);
  return {
    index: layer.index,
    kind,
    mlps,
    ...(await sketchAttention(layer, view, basis, m, read)),
    invariantTokens: m,
  };
}

/** `directions`: basis.all with the pre-MLP norm weight folded in (see scaleColumns). */
async function sketchMlp(
  m: MlpView,
  directions: Float32Array,
  basis: Basis,
  budget: NeuronBudget,
  read: MatrixReader,
): Promise<MlpSketch> {
  const neurons = m.up.shape[0]!;
  const rows = keptNeurons(neurons, budget);
  const up = await features(m.up, directions, basis, rows, read);
  if (!m.gate) {
    // Non-gated MLP: the down column is the neuron's second view (E3 matches it against the up row).
    // Projected on the plain directions (basis.all), with no norm weight folded in: the column is
    // written straight into the residual stream, the space the embedding rows themselves live in.
    // The next layer's norm weight shapes what that layer reads, not the stream; a copy whose hidden
    // basis was rotated has that weight folded into the next layer's matrices (set to 1), so folding
    // it here would make the feature depend on the basis. ⟨down column, e⟩ is rotation-invariant as is.
    const down = await downFeatures(m.down, basis, rows, read);
    return {
      neurons,
      rows,
      gate: null,
      up: up.anchor,
      gateNative: null,
      upNative: up.native,
      gateId: null,
      upId: up.id,
      down: down.anchor,
      downNative: down.native,
      downId: down.id,
      norms: { gate: null, up: up.norms, down: down.norms },
    };
  }
  const gate = await features(m.gate, directions, basis, rows, read);
  const down = await columnNorms(m.down, read);
  return {
    neurons,
    rows,
    gate: gate.anchor,
    up: up.anchor,
    gateNative: gate.native,
    upNative: up.native,
    gateId: gate.id,
    upId: up.id,
    norms: { gate: gate.norms, up: up.norms, down: rows ? pick(down, rows) : down },
  };
}

/**
 * Features of the stored rows of a gate or up matrix: all rows, or the ascending subset `rows`.
 * Blocks are still read whole (sequential reads), but only the kept rows are projected, which is
 * where the time goes.
 */
async function features(
  ref: TensorRef,
  directions: Float32Array,
  basis: Basis,
  rows: Int32Array | null,
  read: MatrixReader,
) {
  const [n, d] = ref.shape as [number, number];
  if (d !== basis.d)
    throw new PedigreeError(
      "MODEL_SHAPE_MISMATCH",
      `${ref.tensor}: ${d} input columns, hidden size is ${basis.d}`,
    );
  const out = featureRows(rows ? rows.length : n, basis);
  let at = 0; // stored rows written so far
  for (let start = 0; start < n; start += blockRows(d)) {
    const count = Math.min(blockRows(d), n - start);
    const block = await read(ref, start, count);
    const { w, count: m } = rows ? selectRows(block, d, rows, start, count) : { w: block, count };
    if (m === 0) continue;
    out.norms.set(rowNorms(w, m, d), at);
    out.put(projectRows(w, m, d, directions, out.width), m, at);
    at += m;
  }
  return out.done();
}

/**
 * Output of a feature pass over `stored` neurons: the anchor, native and id column groups of one
 * projection on basis.all, each quantised per row, and the float32 norms (float16 when done).
 */
function featureRows(stored: number, basis: Basis) {
  const width = basis.kf + NATIVE_COLS + basis.ki;
  const anchor = new Uint8Array(stored * basis.kf);
  const native = new Uint8Array(stored * NATIVE_COLS);
  const id = basis.ki > 0 ? new Uint8Array(stored * basis.ki) : null;
  const norms = new Float32Array(stored);
  /** Stores m projected rows (m × width) from stored row `at` on. */
  const put = (all: Float32Array, m: number, at: number) => {
    anchor.set(quantizeRows(all, m, width, 0, basis.kf), at * basis.kf);
    native.set(quantizeRows(all, m, width, basis.kf, NATIVE_COLS), at * NATIVE_COLS);
    id?.set(quantizeRows(all, m, width, basis.kf + NATIVE_COLS, basis.ki), at * basis.ki);
  };
  const done = () => ({ anchor, native, id, norms: float16Array(norms) });
  return { width, norms, put, done };
}

/**
 * Features of the stored columns of a down matrix (canonical [hidden, neurons]): column j projected
 * on basis.all, F = W_downᵀ·Pᵀ, plus the column norms. A GPT-2 Conv1D down is stored [neurons,
 * hidden], so its columns are stored rows: undoing the transpose reads them as rows, in order, and
 * the up-row pass applies. Otherwise the matrix is read in row blocks (hidden units h) and each
 * block's share P[:, h]·W[h, stored] is summed into a stored × width float32 accumulator, so memory is
 * that result plus one block, whatever the model size.
 */
async function downFeatures(ref: TensorRef, basis: Basis, rows: Int32Array | null, read: MatrixReader) {
  const [d, n] = ref.shape as [number, number];
  if (d !== basis.d)
    throw new PedigreeError(
      "MODEL_SHAPE_MISMATCH",
      `${ref.tensor}: ${d} output rows, hidden size is ${basis.d}`,
    );
  if (ref.transforms.length === 1 && ref.transforms[0]!.kind === "transpose")
    return features({ tensor: ref.tensor, shape: [n, d], transforms: [] }, basis.all, basis, rows, read);
  const stored = rows ? rows.length : n;
  const out = featureRows(stored, basis);
  const k = out.width;
  const acc = new Float32Array(stored * k);
  const squares = new Float64Array(stored);
  for (let start = 0; start < d; start += blockRows(n)) {
    const count = Math.min(blockRows(n), d - start);
    const block = await read(ref, start, count); // count × n
    // The stored columns as rows (stored × count) and the directions' matching columns (k × count).
    const cols = new Float32Array(stored * count);
    for (let h = 0; h < count; h++)
      for (let r = 0; r < stored; r++) {
        const v = block[h * n + (rows ? rows[r]! : r)]!;
        cols[r * count + h] = v;
        squares[r] = squares[r]! + v * v;
      }
    const p = new Float32Array(k * count);
    for (let c = 0; c < k; c++) p.set(basis.all.subarray(c * d + start, c * d + start + count), c * count);
    const part = projectRows(cols, stored, count, p, k);
    for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + part[i]!;
  }
  out.norms.set(squares.map(Math.sqrt));
  out.put(acc, stored, 0);
  return out.done();
}

/** Column norms of a canonical [out, in] matrix (down_proj: one per FFN neuron), read by row blocks. */
async function columnNorms(ref: TensorRef, read: MatrixReader): Promise<Uint16Array> {
  const [rows, cols] = ref.shape as [number, number];
  const acc = new Float64Array(cols);
  for (let start = 0; start < rows; start += blockRows(cols)) {
    const count = Math.min(blockRows(cols), rows - start);
    addColumnSquares(await read(ref, start, count), count, cols, acc);
  }
  return float16Array(acc.map(Math.sqrt));
}

/**
 * The q·k invariant and the q/k row norms of a layer, from q and k read once each by row blocks (so
 * memory stays at one block whatever the model's width); both null without separate q/k of the
 * expected shapes, the invariant null with fewer than 2 invariant tokens.
 */
async function sketchAttention(
  layer: LayerView,
  view: ModelView,
  basis: Basis,
  m: number,
  read: MatrixReader,
): Promise<Pick<LayerSketch, "qk" | "qkNorms" | "attn">> {
  const { q, k } = layer.attention;
  const { attentionHeads: heads, kvHeads, headDim } = view.dims;
  if (!q || !k || q.shape[0] !== heads * headDim || k.shape[0] !== kvHeads * headDim)
    return { qk: null, qkNorms: null, attn: null };
  let e: Float32Array | null = null;
  if (m >= 2) {
    const gIn = layer.norms.input ? await read(layer.norms.input) : null;
    e = scaleColumns(basis.feature.subarray(0, m * basis.d), m, basis.d, gIn);
  }
  // Attention units (attention.ts): their q and k sums are collected in the same pass over q and k.
  const plan = unitPlan(layer, view, basis.d);
  const qSum = plan ? rowSummer(plan.units, plan.grouped, basis.d) : null;
  const kSum = plan ? rowSummer(plan.units, plan.own, basis.d) : null;
  const qs = await projectStreamed(q, e, m, read, qSum?.collect);
  const ks = await projectStreamed(k, e, m, read, kSum?.collect);
  const attn =
    plan && qSum && kSum
      ? await sketchAttentionUnits(
          layer,
          plan,
          { q: qSum.out, k: kSum.out },
          view,
          { ...basis, native: NATIVE_COLS },
          read,
        )
      : null;
  return {
    qk: qs.proj && ks.proj ? qkInvariant(qs.proj, ks.proj, m, heads, kvHeads, headDim) : null,
    qkNorms: { q: float16Array(qs.norms), k: float16Array(ks.norms), heads, kvHeads, headDim },
    attn,
  };
}

/**
 * Row norms of a matrix W and, when e (m × d) is given, E·Wᵀ (m × rows), by row blocks of W; each block
 * is also handed to `collect` (the attention units' row sums).
 */
async function projectStreamed(
  ref: TensorRef,
  e: Float32Array | null,
  m: number,
  read: MatrixReader,
  collect?: (block: Float32Array, start: number, count: number) => void,
) {
  const [rows, cols] = ref.shape as [number, number];
  const norms = new Float32Array(rows);
  const proj = e ? new Float32Array(m * rows) : null;
  for (let start = 0; start < rows; start += blockRows(cols)) {
    const count = Math.min(blockRows(cols), rows - start);
    const w = await read(ref, start, count);
    norms.set(rowNorms(w, count, cols), start);
    collect?.(w, start, count);
    if (!proj || !e) continue;
    const part = projectRows(e, m, cols, w, count); // m × count
    for (let i = 0; i < m; i++) proj.set(part.subarray(i * count, (i + 1) * count), i * rows + start);
  }
  return { proj, norms };
}
