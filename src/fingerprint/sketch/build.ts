import { PedigreeError } from "../../errors.js";
import type { LayerView, MlpView, ModelView, TensorRef } from "../../model/types.js";
import { type Anchor, selectAnchors } from "./anchors.js";
import { attentionBytesPerLayer, projectUnits, unitPlan } from "./attention.js";
import { featureBudget, keepThreshold, type NeuronBudget, pick } from "./budget.js";
import { float16Array, gaussianMatrix, qkInvariant, scaleColumns } from "./project.js";
import { blockRows, type SketchBasis, type SketchPart, type SketchTask, TensorSketcher } from "./tasks.js";
import type { AttentionSketch, LayerSketch, MlpSketch, Sketches } from "./types.js";

/**
 * Bumped whenever any sketch value would change for the same weights. "6": MLP sketches carry `rows`
 * (a neuron subset above FEATURE_BUDGET_BYTES) and alignment anchors are capped by
 * ALIGN_EMBED_MAX_BYTES; a version-5 reader must refuse such files rather than misread them.
 * "7": non-gated MLPs (gpt2, gpt_neox) also carry down-column features (`down`, `downNative`,
 * `downId`); gated MLPs are unchanged byte for byte.
 * "8": native features are 64 columns wide (32 before: a copy washed with 200 % noise kept too
 * little signal in 32), and every layer carries attention units (`attn`, attention.ts).
 * "9": weight rows (gate, up, non-gated up, GPT-2 Conv1D down columns) are projected in integers —
 * rows and directions quantised to ±2047 / ±1023 codes and summed exactly (kernels/dot-rows-int.ts)
 * — so their 8-bit features can differ by a step from version 8's float32 ones; the rest is unchanged.
 */
export const SKETCH_VERSION = "9";
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
/** Reads rows [rowStart, rowStart+rowCount) of a canonical matrix (or a whole vector) as float32. */
export type MatrixReader = (ref: TensorRef, rowStart?: number, rowCount?: number) => Promise<Float32Array>;

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

/** One matrix pass of a sketch plan: the matrix (a canonical [rows, cols] ref) and what it computes. */
export interface PlannedTask {
  ref: TensorRef;
  task: SketchTask;
}

/**
 * A model's sketches split into matrix passes: the small reads (anchor embedding rows, norm weights)
 * are done, `tasks` remain — each sees one matrix once, in row order, so a scan can feed them the
 * bytes it hashes (one pass over the weights) — and `assemble` turns their parts into the sketches.
 */
export interface SketchPlan {
  basis: SketchBasis;
  tasks: PlannedTask[];
  /** parts[i] is the result of tasks[i]. */
  assemble(parts: readonly SketchPart[]): Sketches;
  /**
   * The same sketches from parts handed over one at a time, in any order: a layer is assembled as
   * soon as its last part arrives, and its parts are dropped. A one-pass scan of a 70B model would
   * otherwise hold every layer's attention-unit sums (units × d float32 for q, k, v and o: 16 MB a
   * layer) until the end — 1.3 GB of its 1.9 GB peak RSS.
   */
  collector(): PartCollector;
}

export interface PartCollector {
  /** The result of tasks[task]. */
  add(task: number, part: SketchPart): void;
  /** Most parts held at once, received and not yet assembled: the tasks of a layer or two, at any depth. */
  readonly peakHeld: number;
  /** The sketches, once every part has been added. */
  finish(): Sketches;
}

/** Computes the sketches of one model from its canonical view (tokens: canonical strings by id, or null). */
export async function buildSketches(
  view: ModelView,
  tokens: readonly (string | null)[] | null,
  read: MatrixReader,
  opts: SketchOptions = {},
): Promise<Sketches> {
  const plan = await planSketches(view, tokens, read, opts);
  const parts: SketchPart[] = [];
  for (const t of plan.tasks) parts.push(await runTask(t, plan.basis, read));
  return plan.assemble(parts);
}

/** Runs one planned task by reading its matrix in row blocks. */
export async function runTask(t: PlannedTask, basis: SketchBasis, read: MatrixReader): Promise<SketchPart> {
  const { rows, cols } = t.task;
  const sketcher = new TensorSketcher(t.task, basis);
  for (let start = 0; start < rows; start += blockRows(cols)) {
    const count = Math.min(blockRows(cols), rows - start);
    sketcher.rows(await read(t.ref, start, count), start, count);
  }
  return sketcher.finish();
}

/** Reads the anchors and norm weights and plans the matrix passes (see SketchPlan). */
export async function planSketches(
  view: ModelView,
  tokens: readonly (string | null)[] | null,
  read: MatrixReader,
  opts: SketchOptions = {},
): Promise<SketchPlan> {
  const [rows = 0, d = 0] = view.embed.shape;
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
  const basis: SketchBasis = { d, kf: featureCount, native: NATIVE_COLS, ki: ids.length, all };
  const cols = featureCount + NATIVE_COLS + ids.length;
  // Attention units come out of the same byte budget as the neurons (one head layout per model).
  const { kvHeads, headDim } = view.dims;
  const attnBytes =
    (opts.budgetLayers ?? view.layers).length * attentionBytesPerLayer(kvHeads, headDim, cols);
  const bytes = featureBudget(opts.tensorCount ?? 0, opts.budgetBytes) - attnBytes;
  const budget = keepThreshold(opts.budgetLayers ?? view.layers, cols, bytes);
  const tasks: PlannedTask[] = [];
  const add = (ref: TensorRef, task: SketchTask) => tasks.push({ ref, task }) - 1;
  const layers: ((parts: readonly SketchPart[]) => LayerSketch)[] = [];
  /** The layer each task belongs to. */
  const layerOf: number[] = [];
  for (const layer of view.layers) {
    layers.push(await planLayer(layer, view, basis, budget, read, add));
    while (layerOf.length < tasks.length) layerOf.push(layers.length - 1);
  }
  const sketches = (done: LayerSketch[]): Sketches => ({
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
    layers: done,
  });
  return {
    basis,
    tasks,
    assemble: (parts) => sketches(layers.map((finish) => finish(parts))),
    collector: () => collectParts(layers, layerOf, sketches),
  };
}

/** See SketchPlan.collector. */
function collectParts(
  layers: readonly ((parts: readonly SketchPart[]) => LayerSketch)[],
  layerOf: readonly number[],
  sketches: (done: LayerSketch[]) => Sketches,
): PartCollector {
  const pending = new Map<number, SketchPart>();
  let peakHeld = 0;
  const tasksOf: number[][] = layers.map(() => []);
  layerOf.forEach((l, i) => {
    tasksOf[l]?.push(i);
  });
  const missing = tasksOf.map((t) => t.length);
  const done: (LayerSketch | null)[] = layers.map(() => null);
  const finishLayer = (l: number) => {
    // A sparse array of this layer's parts: a layer reads the parts of its own tasks only.
    const parts: SketchPart[] = [];
    for (const i of tasksOf[l] ?? []) {
      const p = pending.get(i);
      if (p) parts[i] = p;
      pending.delete(i);
    }
    done[l] = (layers[l] as (parts: readonly SketchPart[]) => LayerSketch)(parts);
  };
  return {
    add(task, part) {
      const l = layerOf[task];
      if (l === undefined || pending.has(task))
        throw new PedigreeError("INTERNAL_BAD_ARGUMENT", `unexpected part of sketch task ${task}`);
      pending.set(task, part);
      peakHeld = Math.max(peakHeld, pending.size);
      missing[l] = (missing[l] ?? 0) - 1;
      if (missing[l] === 0) finishLayer(l);
    },
    get peakHeld() {
      return peakHeld;
    },
    finish() {
      layers.forEach((_, l) => {
        if (!done[l]) finishLayer(l); // a layer without tasks, or one missing a part (partOf throws)
      });
      return sketches(done.map((s) => s as LayerSketch));
    },
  };
}

/** The feature anchors are the prefix of the (hash-sorted) alignment anchors below the smaller threshold. */
function countBelow(align: Anchor[], names: readonly (string | null)[], expected: number): number {
  const present = names.filter((t) => t !== null).length;
  const limit = present <= expected ? 2 ** 32 : (expected / present) * 2 ** 32;
  let n = 0;
  while (n < align.length && (align[n]?.hash ?? Number.POSITIVE_INFINITY) < limit) n++;
  return n;
}

/**
 * Embedding rows of the anchors, read in ascending row order as runs (rows at most RUN_GAP_ROWS
 * apart share one read) with up to ROW_READS_IN_FLIGHT reads at a time: a remote source answers each
 * read with one Range request, and a thousand of them one after another would cost a thousand
 * round trips.
 */
async function readRows(
  read: MatrixReader,
  ref: TensorRef,
  anchors: Anchor[],
  d: number,
): Promise<Float32Array> {
  const out = new Float32Array(anchors.length * d);
  const order = anchors.map((a, i) => ({ id: a.id, at: i })).sort((a, b) => a.id - b.id);
  const runs: { from: number; rows: { id: number; at: number }[] }[] = [];
  for (const r of order) {
    const last = runs.at(-1);
    const prev = last?.rows.at(-1);
    if (last && prev && r.id - prev.id <= RUN_GAP_ROWS) last.rows.push(r);
    else runs.push({ from: r.id, rows: [r] });
  }
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < runs.length; i = next++) {
      const run = runs[i];
      if (!run) continue;
      const count = (run.rows.at(-1)?.id ?? run.from) - run.from + 1;
      const block = await read(ref, run.from, count);
      for (const r of run.rows)
        out.set(block.subarray((r.id - run.from) * d, (r.id - run.from + 1) * d), r.at * d);
    }
  };
  await Promise.all(Array.from({ length: Math.min(ROW_READS_IN_FLIGHT, runs.length) }, worker));
  return out;
}

const ROW_READS_IN_FLIGHT = 16;
const RUN_GAP_ROWS = 8;

type AddTask = (ref: TensorRef, task: SketchTask) => number;

/** A task's part, which must be there once the plan's tasks have run. */
function partOf(parts: readonly SketchPart[], i: number): SketchPart {
  const p = parts[i];
  if (!p) throw new PedigreeError("INTERNAL_BAD_ARGUMENT", `sketch task ${i} has no result`);
  return p;
}

/** Plans one layer's passes; the returned function assembles its sketch from their parts. */
async function planLayer(
  layer: LayerView,
  view: ModelView,
  basis: SketchBasis,
  budget: NeuronBudget,
  read: MatrixReader,
  add: AddTask,
): Promise<(parts: readonly SketchPart[]) => LayerSketch> {
  const normRef = layer.norms.post_attention ?? layer.norms.pre_feedforward ?? null;
  const g = normRef ? await read(normRef) : null;
  const mlpViews: MlpView[] = layer.mlp ? [layer.mlp] : layer.moe ? layer.moe.experts : [];
  const mlps = mlpViews.map((m) => planMlp(m, g, basis, budget, add));
  const kind: LayerSketch["kind"] = layer.mlp ? "dense" : layer.moe ? "moe" : "other";
  const m = Math.min(INVARIANT_TOKENS, basis.kf);
  const attention = await planAttention(layer, view, basis, m, read, add);
  return (parts) => ({
    index: layer.index,
    kind,
    mlps: mlps.map((finish) => finish(parts)),
    ...attention(parts),
    invariantTokens: m,
  });
}

/** `g`: the pre-MLP norm weight, folded into the directions of gate and up rows (see scaleColumns). */
function planMlp(
  m: MlpView,
  g: Float32Array | null,
  basis: SketchBasis,
  budget: NeuronBudget,
  add: AddTask,
): (parts: readonly SketchPart[]) => MlpSketch {
  const [neurons = 0] = m.up.shape;
  const up = add(m.up, featureTask(m.up, g, basis, budget));
  if (!m.gate) {
    // Non-gated MLP: the down column is the neuron's second view (E3 matches it against the up row).
    // Projected on the plain directions (basis.all), with no norm weight folded in: the column is
    // written straight into the residual stream, the space the embedding rows themselves live in.
    // The next layer's norm weight shapes what that layer reads, not the stream; a copy whose hidden
    // basis was rotated has that weight folded into the next layer's matrices (set to 1), so folding
    // it here would make the feature depend on the basis. ⟨down column, e⟩ is rotation-invariant as is.
    const down = add(...downTask(m.down, basis, budget));
    return (parts) => {
      const u = partOf(parts, up);
      const dn = partOf(parts, down);
      return {
        neurons,
        rows: u.rows ?? null,
        gate: null,
        up: u.anchor ?? new Uint8Array(0),
        gateNative: null,
        upNative: u.native ?? new Uint8Array(0),
        gateId: null,
        upId: u.id ?? null,
        down: dn.anchor ?? null,
        downNative: dn.native ?? null,
        downId: dn.id ?? null,
        norms: { gate: null, up: u.norms16 ?? new Uint16Array(0), down: dn.norms16 ?? new Uint16Array(0) },
      };
    };
  }
  const gate = add(m.gate, featureTask(m.gate, g, basis, budget));
  const [dRows = 0, dCols = 0] = m.down.shape;
  const down = add(m.down, { kind: "columnNorms", rows: dRows, cols: dCols });
  return (parts) => {
    const u = partOf(parts, up);
    const gt = partOf(parts, gate);
    const all = partOf(parts, down).norms16 ?? new Uint16Array(0);
    const rows = u.rows ?? null;
    return {
      neurons,
      rows,
      gate: gt.anchor ?? null,
      up: u.anchor ?? new Uint8Array(0),
      gateNative: gt.native ?? null,
      upNative: u.native ?? new Uint8Array(0),
      gateId: gt.id ?? null,
      upId: u.id ?? null,
      norms: {
        gate: gt.norms16 ?? null,
        up: u.norms16 ?? new Uint16Array(0),
        down: rows ? pick(all, rows) : all,
      },
    };
  };
}

/**
 * Features of the stored rows of a gate or up matrix: all rows, or the budget's subset. Blocks are
 * still read whole (sequential reads), but only the kept rows are projected, which is where the time goes.
 */
function featureTask(
  ref: TensorRef,
  g: Float32Array | null,
  basis: SketchBasis,
  budget: NeuronBudget,
): SketchTask {
  const [rows = 0, cols = 0] = ref.shape;
  if (cols !== basis.d)
    throw new PedigreeError(
      "MODEL_SHAPE_MISMATCH",
      `${ref.tensor}: ${cols} input columns, hidden size is ${basis.d}`,
    );
  return { kind: "features", rows, cols, budget, g };
}

/**
 * Features of the stored columns of a down matrix (canonical [hidden, neurons]): column j projected
 * on basis.all, F = W_downᵀ·Pᵀ, plus the column norms. A GPT-2 Conv1D down is stored [neurons,
 * hidden], so its columns are stored rows: undoing the transpose reads them as rows, in order, and
 * the up-row pass applies. Otherwise the matrix is read in row blocks (hidden units h) and each
 * block's share P[:, h]·W[h, stored] is summed into a stored × width float32 accumulator, so memory is
 * that result plus one block, whatever the model size.
 */
function downTask(ref: TensorRef, basis: SketchBasis, budget: NeuronBudget): [TensorRef, SketchTask] {
  const [d = 0, n = 0] = ref.shape;
  if (d !== basis.d)
    throw new PedigreeError(
      "MODEL_SHAPE_MISMATCH",
      `${ref.tensor}: ${d} output rows, hidden size is ${basis.d}`,
    );
  const [only] = ref.transforms;
  if (ref.transforms.length === 1 && only?.kind === "transpose") {
    const stored: TensorRef = { tensor: ref.tensor, shape: [n, d], transforms: [] };
    return [stored, featureTask(stored, null, basis, budget)];
  }
  return [ref, { kind: "downFeatures", rows: d, cols: n, budget }];
}

/**
 * The q·k invariant and the q/k row norms of a layer, from q and k read once each (the attention
 * units' q and k sums are collected in the same passes); all null without separate q/k of the
 * expected shapes, the invariant null with fewer than 2 invariant tokens.
 */
async function planAttention(
  layer: LayerView,
  view: ModelView,
  basis: SketchBasis,
  m: number,
  read: MatrixReader,
  add: AddTask,
): Promise<(parts: readonly SketchPart[]) => Pick<LayerSketch, "qk" | "qkNorms" | "attn">> {
  const { q, k, v, o } = layer.attention;
  const { attentionHeads: heads, kvHeads, headDim } = view.dims;
  if (!q || !k || q.shape[0] !== heads * headDim || k.shape[0] !== kvHeads * headDim)
    return () => ({ qk: null, qkNorms: null, attn: null });
  const plan = unitPlan(layer, view, basis.d);
  const gIn = (m >= 2 || plan) && layer.norms.input ? await read(layer.norms.input) : null;
  const lists = (of: (u: number) => number[]) => Array.from({ length: plan?.units ?? 0 }, (_, u) => of(u));
  const attention = (ref: TensorRef, sums: number[][] | null) => {
    const [rows = 0, cols = 0] = ref.shape;
    return add(ref, { kind: "attention", rows, cols, m, gIn: m >= 2 ? gIn : null, sums });
  };
  const qi = attention(q, plan ? lists(plan.grouped) : null);
  const ki = attention(k, plan ? lists(plan.own) : null);
  let units: ((parts: readonly SketchPart[]) => AttentionSketch) | null = null;
  if (plan && v && o) {
    const [vRows = 0, vCols = 0] = v.shape;
    const [oRows = 0, oCols = 0] = o.shape;
    const vi = add(v, { kind: "unitRows", rows: vRows, cols: vCols, sums: lists(plan.own) });
    const oi = add(o, { kind: "unitColumns", rows: oRows, cols: oCols, sums: lists(plan.grouped) });
    const d = basis.d;
    units = (parts) => {
      // Rows that read the residual stream (q, k, v) get the input norm weight folded in; o columns
      // are written into the stream and projected as they are (attention.ts).
      const reading = scaleColumns(basis.all, basis.all.length / d, d, gIn);
      const sums = (i: number) => partOf(parts, i).sums ?? new Float32Array(plan.units * d);
      return {
        heads,
        kvHeads,
        headDim,
        dims: plan.dims,
        q: projectUnits(sums(qi), plan.units, reading, basis),
        k: projectUnits(sums(ki), plan.units, reading, basis),
        v: projectUnits(sums(vi), plan.units, reading, basis),
        o: projectUnits(sums(oi), plan.units, basis.all, basis),
      };
    };
  }
  return (parts) => {
    const qs = partOf(parts, qi);
    const ks = partOf(parts, ki);
    return {
      qk: qs.proj && ks.proj ? qkInvariant(qs.proj, ks.proj, m, heads, kvHeads, headDim) : null,
      qkNorms: {
        q: float16Array(qs.norms ?? new Float32Array(0)),
        k: float16Array(ks.norms ?? new Float32Array(0)),
        heads,
        kvHeads,
        headDim,
      },
      attn: units ? units(parts) : null,
    };
  };
}
