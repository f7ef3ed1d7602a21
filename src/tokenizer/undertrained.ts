import { at } from "../checked.js";
import { PedigreeError } from "../errors.js";
import { openCheckpoint } from "../formats/open.js";
import type { Checkpoint } from "../formats/types.js";
import { MAX_READ_ELEMENTS, readMatrix } from "../model/read.js";
import type { TensorRef } from "../model/types.js";
import { buildModelView } from "../model/view.js";
import { displayToken } from "./bytes.js";
import type { LoadedTokenizer } from "./types.js";

/** Candidates listed (the count covers all). */
export const MAX_CANDIDATES = 50;
/**
 * Without known-unused tokens, the reference set is the rows of lowest norm: this share of the
 * vocabulary (at least MIN_REFERENCE rows). Rows that never received gradient stay near their
 * initialisation and end up with the smallest norms.
 */
export const LOW_NORM_REFERENCE_SHARE = 0.001;
export const MIN_REFERENCE = 8;

export interface UnderTrainedReport {
  indicator: string;
  matrix: "head" | "embed";
  tensor: string;
  rows: number;
  reference: { from: "unreachable" | "no-token" | "lowest-norm"; count: number; threshold: number };
  count: number;
  /** Set when the reference is weak (lowest-norm rows: frequent tokens can have small unembedding rows too). */
  caveat: string | null;
  candidates: { id: number; token: string; score: number; norm: number; reference: boolean }[];
}

/**
 * Under-trained token candidates in the spirit of "Fishing for Magikarp" (Land & Bartolo, 2024):
 * unembedding rows (the embedding when tied) with the common mean direction removed, scored by cosine
 * similarity to the mean of reference rows — tokens known to be unused (unreachable, or rows with no
 * token) or, failing those, the lowest-norm rows. Mean removal stands in for the paper's removal of
 * the first principal component (which that mean dominates). Streams row blocks: memory is one block.
 */
export async function findUnderTrained(
  modelSpec: string,
  tok: LoadedTokenizer,
  unreachable: number[],
  opts: { onProgress?: (done: number, total: number) => void } = {},
): Promise<UnderTrainedReport> {
  const ckpt = await openCheckpoint(modelSpec);
  try {
    const view = buildModelView(ckpt);
    const matrix = view.dims.tiedEmbeddings ? "embed" : "head";
    const ref = view[matrix];
    const [rows, cols] = ref.shape as [number, number];
    if (!rows || !cols) throw badShape(ref);
    // Two passes over the rows: progress counts rows read, out of 2 × rows.
    const progress = opts.onProgress ? (done: number) => opts.onProgress?.(done, rows * 2) : undefined;
    const pass1 = await firstPass(ckpt, ref, rows, cols, progress);
    const { ids: refIds, from } = referenceSet(tok, unreachable, rows, pass1.norms);
    const scores = await scoreRows(ckpt, ref, rows, cols, pass1.mean, refIds, progress);
    return summarise(tok, scores, pass1.norms, refIds, from, { matrix, tensor: ref.tensor, rows });
  } finally {
    await ckpt.close();
  }
}

async function forEachBlock(
  ckpt: Checkpoint,
  ref: TensorRef,
  rows: number,
  cols: number,
  fn: (block: Float32Array, start: number, count: number) => void,
  progress?: (rowsDone: number) => void,
  offset = 0,
): Promise<void> {
  const per = Math.max(1, Math.floor(MAX_READ_ELEMENTS / cols));
  for (let start = 0; start < rows; start += per) {
    const count = Math.min(per, rows - start);
    fn(await readMatrix(ckpt, ref, start, count), start, count);
    progress?.(offset + start + count);
  }
}

async function firstPass(
  ckpt: Checkpoint,
  ref: TensorRef,
  rows: number,
  cols: number,
  progress?: (rowsDone: number) => void,
) {
  const sum = new Float64Array(cols);
  const norms = new Float64Array(rows);
  await forEachBlock(
    ckpt,
    ref,
    rows,
    cols,
    (block, start, count) => {
      // Indices stay inside the block (count rows of cols) and the cols-long sums: the `??`
      // fallbacks never apply.
      for (let r = 0; r < count; r++) {
        let n = 0;
        for (let c = 0; c < cols; c++) {
          const v = block[r * cols + c] ?? Number.NaN;
          sum[c] = (sum[c] ?? 0) + v;
          n += v * v;
        }
        norms[start + r] = Math.sqrt(n);
      }
    },
    progress,
  );
  return { mean: sum.map((v) => v / rows), norms };
}

function referenceSet(
  tok: LoadedTokenizer,
  unreachable: number[],
  rows: number,
  norms: Float64Array,
): { ids: number[]; from: UnderTrainedReport["reference"]["from"] } {
  const noToken: number[] = [];
  for (let id = 0; id < rows; id++)
    if (tok.tokens[id] === null || tok.tokens[id] === undefined) noToken.push(id);
  if (unreachable.length >= MIN_REFERENCE)
    return { ids: unreachable.filter((i) => i < rows), from: "unreachable" };
  if (noToken.length >= MIN_REFERENCE) return { ids: noToken, from: "no-token" };
  const k = Math.max(MIN_REFERENCE, Math.round(LOW_NORM_REFERENCE_SHARE * rows));
  const order = Array.from(norms.keys()).sort((a, b) => at(norms, a, "norms") - at(norms, b, "norms"));
  return { ids: order.slice(0, k), from: "lowest-norm" };
}

async function scoreRows(
  ckpt: Checkpoint,
  ref: TensorRef,
  rows: number,
  cols: number,
  mean: Float64Array,
  refIds: number[],
  progress?: (rowsDone: number) => void,
): Promise<Float64Array> {
  const refSet = new Set(refIds);
  const refSum = new Float64Array(cols);
  const centred = new Float64Array(cols);
  // Pass 2a: mean of the centred reference rows (reads only the blocks that hold reference rows).
  const sortedRef = [...refSet].sort((a, b) => a - b);
  for (const id of sortedRef) {
    const row = await readMatrix(ckpt, ref, id, 1);
    for (let c = 0; c < cols; c++)
      refSum[c] = (refSum[c] ?? 0) + ((row[c] ?? Number.NaN) - (mean[c] ?? Number.NaN));
  }
  const dir = unit(refSum);
  const scores = new Float64Array(rows);
  await forEachBlock(
    ckpt,
    ref,
    rows,
    cols,
    (block, start, count) => {
      for (let r = 0; r < count; r++) {
        for (let c = 0; c < cols; c++)
          centred[c] = (block[r * cols + c] ?? Number.NaN) - (mean[c] ?? Number.NaN);
        const u = unit(centred);
        let dot = 0;
        for (let c = 0; c < cols; c++) dot += (u[c] ?? Number.NaN) * (dir[c] ?? Number.NaN);
        scores[start + r] = dot;
      }
    },
    progress,
    rows,
  );
  return scores;
}

function unit(v: Float64Array): Float64Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  return n > 0 ? v.map((x) => x / n) : v.slice();
}

function summarise(
  tok: LoadedTokenizer,
  scores: Float64Array,
  norms: Float64Array,
  refIds: number[],
  from: UnderTrainedReport["reference"]["from"],
  where: { matrix: "head" | "embed"; tensor: string; rows: number },
): UnderTrainedReport {
  // A candidate is closer to the reference rows' typical score than to the bulk's: the threshold
  // is midway between the two medians (empirical, from this matrix; no constant to tune).
  const score = (i: number) => at(scores, i, "token scores");
  const threshold = (median(refIds.map(score)) + median(Array.from(scores))) / 2;
  const refSet = new Set(refIds);
  const above = Array.from(scores.keys())
    .filter((i) => score(i) >= threshold)
    .sort((a, b) => score(b) - score(a));
  return {
    indicator: "cosine of the mean-removed row to the mean of reference rows",
    ...where,
    reference: { from, count: refIds.length, threshold },
    count: above.length,
    caveat:
      from === "lowest-norm"
        ? "no known-unused tokens: the reference is the lowest-norm rows, which can be frequent, well-trained tokens; treat candidates as leads to check by encoding, not findings"
        : null,
    candidates: above.slice(0, MAX_CANDIDATES).map((id) => {
      const t = tok.tokens[id];
      return {
        id,
        token: t === null || t === undefined ? "(no token)" : displayToken(t),
        score: score(id),
        norm: at(norms, id, "norms"),
        reference: refSet.has(id),
      };
    }),
  };
}

function median(v: number[]): number {
  if (v.length === 0) return 1;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  const upper = at(s, m, "median");
  return s.length % 2 ? upper : (at(s, m - 1, "median") + upper) / 2;
}

function badShape(ref: TensorRef): PedigreeError {
  return new PedigreeError(
    "MODEL_BAD_SHAPE",
    `${ref.tensor}: expected a [vocab, hidden] matrix, got [${ref.shape.join(", ")}]`,
    {
      details: { tensor: ref.tensor, shape: ref.shape },
    },
  );
}
