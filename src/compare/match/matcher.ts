import { at } from "../../checked.js";
import { PedigreeError } from "../../errors.js";
import { dotRows } from "../../kernels/dot-rows.js";
import { assignMaxSimilarity } from "./lap.js";
import { type FeatureMatrix, normalizeRows, rowDot, selectColumns, similarityMatrix } from "./similarity.js";

/**
 * Neuron matcher for layers of any width (DESIGN §4 E3): mutual nearest neighbours on top-T candidate
 * lists, then a greedy assignment of the rest over candidate edges, and the exact assignment on
 * whatever is left if that is small. `exact: true` runs the dense O(n³) assignment instead (the
 * reference).
 * On derived models almost every neuron is a mutual nearest neighbour, so the result equals the
 * optimal assignment there (checked in test/compare/matcher.test.ts and bench/compare.ts); under H0
 * any deterministic matching is valid for the agreement test, optimal or not.
 */

/** Largest leftover solved exactly: 1536³ ≈ 3.6e9 steps worst case, a few seconds. */
export const DENSE_LIMIT = 1536;
/**
 * The leftover after mutual nearest neighbours and the candidate pass is solved exactly when it is at
 * most this fraction of the rows (or EXACT_REMAINDER_MIN rows): derived layers leave a few stragglers,
 * unrelated layers leave most rows, and there an exact assignment would cost O(n³) for nothing.
 */
const EXACT_REMAINDER_FRACTION = 0.1;
const EXACT_REMAINDER_MIN = 64;
/** Prefilter for large layers: pairs above which it runs, subspace width, candidates it keeps per row. */
const PREFILTER_MIN_PAIRS = 4 * 1024 * 1024;
const PREFILTER_COLS = 32;
const PREFILTER_T = 24;
/** Candidates kept per row: enough that the greedy pass rarely runs out on derived models. */
const TOP_T = 8;
/** Rows processed per block when scanning similarities (bounds the scratch memory to BLOCK × nA floats). */
const BLOCK = 32;

export interface MatchResult {
  /** For each row of B, the matched row of A, or −1. */
  bToA: Int32Array;
  /** Similarity of each matched pair (NaN where unmatched). */
  score: Float32Array;
  method: "dense" | "sparse";
  /** Pairs fixed as mutual nearest neighbours (sparse method only). */
  mutual: number;
}

/**
 * Matches B's rows to A's rows (unit-norm features) maximising total similarity, one-to-one; with
 * `abs`, the similarity is |cosine| (rows whose sign can flip without changing the function).
 */
export function matchRows(
  a: FeatureMatrix,
  b: FeatureMatrix,
  opts: { exact?: boolean; abs?: boolean } = {},
): MatchResult {
  const abs = opts.abs ?? false;
  return opts.exact ? denseMatch(a, b, abs) : sparseMatch(a, b, abs);
}

function denseMatch(a: FeatureMatrix, b: FeatureMatrix, abs: boolean): MatchResult {
  const sim = similarityMatrix(b, a);
  if (abs) for (let i = 0; i < sim.length; i++) sim[i] = Math.abs(sim[i] ?? Number.NaN);
  const bToA = assignMaxSimilarity(sim, b.rows, a.rows);
  const score = new Float32Array(b.rows).fill(Number.NaN);
  bToA.forEach((j, i) => {
    if (j >= 0) score[i] = sim[i * a.rows + j] ?? Number.NaN;
  });
  return { bToA, score, method: "dense", mutual: 0 };
}

interface Candidates {
  idx: Int32Array; // rows × TOP_T, −1 padded
  val: Float32Array;
}

/** Top-T most similar A rows for each B row, and the best B row for each A row. */
function scan(a: FeatureMatrix, b: FeatureMatrix, abs: boolean): { cand: Candidates; bestBForA: Int32Array } {
  if (a.rows * b.rows >= PREFILTER_MIN_PAIRS && a.cols >= 2 * PREFILTER_COLS)
    return prefilteredScan(a, b, abs);
  return scanTop(a, b, abs, TOP_T);
}

/**
 * `columns`: also find each A row's best B row (bestBForA); the prefilter does not need it, as it
 * ranks A's rows again on all columns.
 */
function scanTop(a: FeatureMatrix, b: FeatureMatrix, abs: boolean, t: number, columns = true) {
  if (a.cols !== b.cols)
    throw new PedigreeError("INTERNAL_BAD_ARGUMENT", `feature widths differ: ${b.cols} vs ${a.cols}`);
  const na = a.rows;
  const idx = new Int32Array(b.rows * t).fill(-1);
  const val = new Float32Array(b.rows * t).fill(Number.NEGATIVE_INFINITY);
  const bestBForA = new Int32Array(na).fill(-1);
  const bestValForA = new Float32Array(na).fill(Number.NEGATIVE_INFINITY);
  // One block of similarities, reused: a fresh one per block was a megabyte of garbage each time.
  const sim = new Float32Array(Math.min(BLOCK, b.rows) * na);
  const row = abs ? scanRowAbs : scanRowSigned;
  const top = abs ? topOfRowAbs : topOfRowSigned;
  for (let start = 0; start < b.rows; start += BLOCK) {
    const rows = Math.min(BLOCK, b.rows - start);
    dotRows(b.data.subarray(start * b.cols, (start + rows) * b.cols), rows, a.data, na, a.cols, sim);
    if (columns)
      for (let r = 0; r < rows; r++)
        row(sim, r * na, na, idx, val, (start + r) * t, t, bestValForA, bestBForA, start + r);
    else for (let r = 0; r < rows; r++) top(sim, r * na, na, idx, val, (start + r) * t, t);
  }
  return { cand: { idx, val }, bestBForA };
}

/*
 * The hot loops of the scan (rows × na values per block), one pass per row of similarities: the row's
 * top t (its current t-th best stays in a local, so most values cost one comparison) and, for each
 * column, the first row in order with the largest value. Two copies, signed and |cosine|, so that each
 * stays monomorphic. Their indices are bounded by the loops: `?? NaN` / `?? -1` never fire and only
 * satisfy the checker (src/checked.ts).
 */
function scanRowSigned(
  sim: Float32Array,
  off: number,
  na: number,
  idx: Int32Array,
  val: Float32Array,
  base: number,
  t: number,
  best: Float32Array,
  bestRow: Int32Array,
  rowIndex: number,
): void {
  let threshold = val[base + t - 1] ?? Number.NaN;
  for (let j = 0; j < na; j++) {
    const s = sim[off + j] ?? Number.NaN;
    if (s > threshold) {
      insertTop(idx, val, base, t, j, s);
      threshold = val[base + t - 1] ?? Number.NaN;
    }
    if (s > (best[j] ?? Number.NaN)) {
      best[j] = s;
      bestRow[j] = rowIndex;
    }
  }
}

function scanRowAbs(
  sim: Float32Array,
  off: number,
  na: number,
  idx: Int32Array,
  val: Float32Array,
  base: number,
  t: number,
  best: Float32Array,
  bestRow: Int32Array,
  rowIndex: number,
): void {
  let threshold = val[base + t - 1] ?? Number.NaN;
  for (let j = 0; j < na; j++) {
    const s = Math.abs(sim[off + j] ?? Number.NaN);
    if (s > threshold) {
      insertTop(idx, val, base, t, j, s);
      threshold = val[base + t - 1] ?? Number.NaN;
    }
    if (s > (best[j] ?? Number.NaN)) {
      best[j] = s;
      bestRow[j] = rowIndex;
    }
  }
}

/** scanRowSigned / scanRowAbs without the column maxima. */
function topOfRowSigned(
  sim: Float32Array,
  off: number,
  na: number,
  idx: Int32Array,
  val: Float32Array,
  base: number,
  t: number,
): void {
  let threshold = val[base + t - 1] ?? Number.NaN;
  for (let j = 0; j < na; j++) {
    const s = sim[off + j] ?? Number.NaN;
    if (s > threshold) {
      insertTop(idx, val, base, t, j, s);
      threshold = val[base + t - 1] ?? Number.NaN;
    }
  }
}

function topOfRowAbs(
  sim: Float32Array,
  off: number,
  na: number,
  idx: Int32Array,
  val: Float32Array,
  base: number,
  t: number,
): void {
  let threshold = val[base + t - 1] ?? Number.NaN;
  for (let j = 0; j < na; j++) {
    const s = Math.abs(sim[off + j] ?? Number.NaN);
    if (s > threshold) {
      insertTop(idx, val, base, t, j, s);
      threshold = val[base + t - 1] ?? Number.NaN;
    }
  }
}

/**
 * Large layers: candidates from the first PREFILTER_COLS feature columns (a random subspace: anchor
 * tokens are ordered by hash, native columns are random projections), PREFILTER_T per row, then
 * re-scored on all columns. Cuts the n² scan by cols/PREFILTER_COLS; a true partner of a derived
 * neuron stays in the top PREFILTER_T of the subspace (checked against the exact assignment in tests).
 */
function prefilteredScan(a: FeatureMatrix, b: FeatureMatrix, abs: boolean) {
  const cols = Array.from({ length: PREFILTER_COLS }, (_, c) => c);
  const pre = scanTop(
    normalizeRows(selectColumns(a, cols)),
    normalizeRows(selectColumns(b, cols)),
    abs,
    PREFILTER_T,
    false,
  );
  const idx = new Int32Array(b.rows * TOP_T).fill(-1);
  const val = new Float32Array(b.rows * TOP_T).fill(Number.NEGATIVE_INFINITY);
  const bestBForA = new Int32Array(a.rows).fill(-1);
  const bestValForA = new Float32Array(a.rows).fill(Number.NEGATIVE_INFINITY);
  for (let i = 0; i < b.rows; i++) {
    for (let t = 0; t < PREFILTER_T; t++) {
      const j = pre.cand.idx[i * PREFILTER_T + t] ?? -1;
      if (j < 0) continue;
      const d = rowDot(b, i, a, j);
      const s = abs ? Math.abs(d) : d;
      if (s > (bestValForA[j] ?? Number.NaN)) {
        bestValForA[j] = s;
        bestBForA[j] = i;
      }
      insertTop(idx, val, i * TOP_T, TOP_T, j, s);
    }
  }
  return { cand: { idx, val }, bestBForA };
}

/** Keeps the t largest (value, index) pairs of one row sorted descending. */
function insertTop(idx: Int32Array, val: Float32Array, base: number, t: number, j: number, s: number): void {
  if (s <= (val[base + t - 1] ?? Number.NaN)) return;
  let p = t - 1;
  while (p > 0) {
    const prev = val[base + p - 1] ?? Number.NaN;
    if (!(prev < s)) break;
    val[base + p] = prev;
    idx[base + p] = idx[base + p - 1] ?? -1;
    p--;
  }
  val[base + p] = s;
  idx[base + p] = j;
}

function sparseMatch(a: FeatureMatrix, b: FeatureMatrix, abs: boolean): MatchResult {
  const { cand, bestBForA } = scan(a, b, abs);
  const dot = (i: number, j: number) => (abs ? Math.abs(rowDot(b, i, a, j)) : rowDot(b, i, a, j));
  const bToA = new Int32Array(b.rows).fill(-1);
  const aTaken = new Uint8Array(a.rows);
  let mutual = 0;
  for (let i = 0; i < b.rows; i++) {
    const j = cand.idx[i * TOP_T] ?? -1;
    if (j >= 0 && bestBForA[j] === i) {
      bToA[i] = j;
      aTaken[j] = 1;
      mutual++;
    }
  }
  greedyOverCandidates(cand, bToA, aTaken);
  finishRemainder(a, b, bToA, aTaken, dot);
  const score = new Float32Array(b.rows).fill(Number.NaN);
  bToA.forEach((j, i) => {
    if (j >= 0) score[i] = dot(i, j);
  });
  return { bToA, score, method: "sparse", mutual };
}

/** Assigns unmatched rows along candidate edges in order of decreasing similarity. */
function greedyOverCandidates(cand: Candidates, bToA: Int32Array, aTaken: Uint8Array): void {
  const edges: number[] = [];
  for (let i = 0; i < bToA.length; i++) {
    if ((bToA[i] ?? -1) >= 0) continue;
    for (let t = 0; t < TOP_T; t++) if ((cand.idx[i * TOP_T + t] ?? -1) >= 0) edges.push(i * TOP_T + t);
  }
  const value = (e: number) => cand.val[e] ?? Number.NaN;
  edges.sort((x, y) => value(y) - value(x) || x - y);
  for (const e of edges) {
    const i = Math.floor(e / TOP_T);
    const j = cand.idx[e] ?? -1;
    if (j < 0 || (bToA[i] ?? -1) >= 0 || aTaken[j]) continue;
    bToA[i] = j;
    aTaken[j] = 1;
  }
}

/** Rows left without a candidate: exact assignment on the leftover sub-problem when small, else greedy. */
function finishRemainder(
  a: FeatureMatrix,
  b: FeatureMatrix,
  bToA: Int32Array,
  aTaken: Uint8Array,
  dot: (i: number, j: number) => number,
) {
  const rows: number[] = [];
  for (let i = 0; i < b.rows; i++) if ((bToA[i] ?? -1) < 0) rows.push(i);
  const cols: number[] = [];
  for (let j = 0; j < a.rows; j++) if (!aTaken[j]) cols.push(j);
  if (rows.length === 0 || cols.length === 0) return;
  const small = Math.max(EXACT_REMAINDER_MIN, EXACT_REMAINDER_FRACTION * b.rows);
  if (
    Math.min(rows.length, cols.length) <= Math.min(small, DENSE_LIMIT) &&
    Math.max(rows.length, cols.length) <= 2 * DENSE_LIMIT
  ) {
    const sim = new Float32Array(rows.length * cols.length);
    rows.forEach((i, r) => {
      cols.forEach((j, c) => {
        sim[r * cols.length + c] = dot(i, j);
      });
    });
    const sub = assignMaxSimilarity(sim, rows.length, cols.length);
    sub.forEach((c, r) => {
      if (c >= 0) bToA[at(rows, r, "leftover row")] = at(cols, c, "leftover column");
    });
    return;
  }
  // Large leftovers only happen between unrelated layers (where optimality does not matter): each row takes its most similar free column
  // (never an index-order rule, which would make the gate and up matchings agree by construction).
  for (const i of rows) {
    let best = -1;
    let bestVal = Number.NEGATIVE_INFINITY;
    for (const j of cols) {
      if (aTaken[j]) continue;
      const s = dot(i, j);
      if (s > bestVal) {
        bestVal = s;
        best = j;
      }
    }
    if (best < 0) break;
    bToA[i] = best;
    aTaken[best] = 1;
  }
}
