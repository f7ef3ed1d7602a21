import { at } from "../checked.js";
import type { Sketches } from "../fingerprint/sketch/types.js";
import { dotRows } from "../kernels/dot-rows.js";
import { pearson } from "../stats/correlation.js";
import { fixedPointsLog10UpperBound } from "../stats/index.js";
import { type AnchorMode, idEmbedding } from "./features.js";
import { matchRows } from "./match/matcher.js";
import type { FeatureMatrix } from "./match/similarity.js";

/**
 * E2 hidden-basis alignment (DESIGN §4): recovers a signed permutation between the two residual
 * streams from the embedding rows of tokens both vocabularies share. Each hidden unit is described by
 * its column over the shared tokens (standardised); B's units are matched to A's units or to their
 * negations by the same assignment as neurons. Descriptive evidence (no p-value): it names the
 * permutation behind an obfuscation and measures how well shared-token rows agree after a vocabulary
 * swap. The neuron tests (E3) do not depend on it: their anchor features are basis-free.
 */

/** Fewer shared tokens than this and a d-column correlation is mostly noise. */
const MIN_SHARED_TOKENS = 32;
/**
 * Shared tokens used per column: enough for a clear signed-permutation signal (derived bases
 * correlate > 0.9, independent ones < 0.2) while the d × 2d column match stays O(d²·256).
 */
const MAX_ALIGN_TOKENS = 256;

/** Hidden alignment quality at or above which the recovered permutation is trusted. */
export const HIDDEN_TRUST = 0.5;
/** Fraction of units that must keep their index for a mapping to count as "not permuted". */
export const IDENTITY_KEEP = 0.5;

/**
 * The one definition of "B's hidden units are a permutation of A's": the alignment is trusted and
 * fewer than `keep` of the units map to themselves. The obfuscation relation needs most units moved
 * (the default, IDENTITY_KEEP); reuse maps report any trusted permutation that is not the identity
 * (keep = 1).
 */
export function isHiddenPermuted(h: HiddenAlignment, keep: number = IDENTITY_KEEP): boolean {
  return h.quality >= HIDDEN_TRUST && h.identityFraction < keep;
}

export interface HiddenAlignment {
  sharedTokens: number;
  /** For each hidden unit of B: the unit of A it maps to. */
  perm: Int32Array;
  /** −1 where the unit is negated. */
  sign: Int8Array;
  /** Mean |correlation| of the matched columns (1 = exact signed permutation). */
  quality: number;
  /** Mean |correlation| of column i with column i (the identity alignment). */
  identityQuality: number;
  /** Fraction of units mapped to themselves with a positive sign. */
  identityFraction: number;
  /** Mean cosine between A's and B's rows of the shared tokens after the alignment. */
  rowCosine: number;
  /** "token": tokens matched by string; "id": by token id (a side has no tokenizer). */
  mode: "token" | "id";
  /**
   * Pearson correlation of the two cosine-similarity (Gram) matrices of the shared tokens' rows: basis
   * free (any rotation), so it checks that the paired tokens are the same tokens (≈1 for a copy, ≈0
   * for mismatched ids) even when no signed permutation fits.
   */
  gramCorrelation: number;
}

interface Rows {
  tokens: string[];
  embed: Float32Array;
}

/*
 * The loops below run over typed arrays with indices bounded by the shapes they were built with:
 * `?? NaN` / `?? -1` never fire and only satisfy the checker (src/checked.ts).
 */

/** Column matrix of the shared tokens' embedding rows: d rows (units) × t columns (tokens), standardised. */
function unitColumns(embed: Float32Array, d: number, rows: number[], negate = false): FeatureMatrix {
  const t = rows.length;
  const out = new Float32Array(d * t);
  for (let u = 0; u < d; u++) {
    let mean = 0;
    for (let r = 0; r < t; r++) mean += embed[(rows[r] ?? Number.NaN) * d + u] ?? Number.NaN;
    mean /= t;
    let ss = 0;
    for (let r = 0; r < t; r++) {
      const x = (embed[(rows[r] ?? Number.NaN) * d + u] ?? Number.NaN) - mean;
      out[u * t + r] = x;
      ss += x * x;
    }
    const inv = ss > 0 ? (negate ? -1 : 1) / Math.sqrt(ss) : 0;
    for (let r = 0; r < t; r++) out[u * t + r] = (out[u * t + r] ?? Number.NaN) * inv;
  }
  return { data: out, rows: d, cols: t };
}

/** The shared tokens' rows on each side (at most MAX_ALIGN_TOKENS), paired by string or by id. */
function sharedRows(a: Sketches, b: Sketches, mode: "token" | "id") {
  const src = (sk: Sketches): Rows =>
    mode === "id" ? idEmbedding(sk) : { tokens: sk.alignTokens, embed: sk.alignEmbed };
  const ea = src(a);
  const eb = src(b);
  const indexB = new Map(eb.tokens.map((t, i) => [t, i] as const));
  const rowsA: number[] = [];
  const rowsB: number[] = [];
  ea.tokens.forEach((t, i) => {
    const j = indexB.get(t);
    if (j === undefined || rowsA.length >= MAX_ALIGN_TOKENS) return;
    rowsA.push(i);
    rowsB.push(j);
  });
  return { ea, eb, rowsA, rowsB };
}

/**
 * Basis-free check of an id pairing (any hidden sizes): the Gram correlation of the id-paired rows,
 * or null when fewer than MIN_SHARED_TOKENS ids are shared.
 */
export function idPairingCorrelation(a: Sketches, b: Sketches): number | null {
  const { ea, eb, rowsA, rowsB } = sharedRows(a, b, "id");
  if (rowsA.length < MIN_SHARED_TOKENS) return null;
  return gramCorrelation(ea.embed, a.hidden, eb.embed, b.hidden, rowsA, rowsB);
}

export function alignHidden(a: Sketches, b: Sketches, mode: AnchorMode = "token"): HiddenAlignment | null {
  if (a.hidden !== b.hidden || mode === "none") return null;
  const d = a.hidden;
  const { ea, eb, rowsA, rowsB } = sharedRows(a, b, mode);
  if (rowsA.length < MIN_SHARED_TOKENS) return null;
  const ca = unitColumns(ea.embed, d, rowsA);
  const cn = unitColumns(ea.embed, d, rowsA, true);
  const both = { data: new Float32Array(2 * d * ca.cols), rows: 2 * d, cols: ca.cols };
  both.data.set(ca.data);
  both.data.set(cn.data, d * ca.cols);
  const cb = unitColumns(eb.embed, d, rowsB);
  const m = matchRows(both, cb);
  const perm = new Int32Array(d);
  const sign = new Int8Array(d);
  let quality = 0;
  let identityQuality = 0;
  let identity = 0;
  for (let u = 0; u < d; u++) {
    const j = m.bToA[u] ?? -1;
    perm[u] = j >= d ? j - d : j;
    sign[u] = j >= d ? -1 : 1;
    quality += Math.abs(m.score[u] ?? Number.NaN) || 0;
    let s = 0;
    for (let r = 0; r < ca.cols; r++)
      s += (ca.data[u * ca.cols + r] ?? Number.NaN) * (cb.data[u * ca.cols + r] ?? Number.NaN);
    identityQuality += Math.abs(s);
    if (perm[u] === u && sign[u] === 1) identity++;
  }
  const rowCosine = alignedRowCosine(ea.embed, eb.embed, d, rowsA, rowsB, perm, sign);
  return {
    sharedTokens: rowsA.length,
    perm,
    sign,
    quality: quality / d,
    identityQuality: identityQuality / d,
    identityFraction: identity / d,
    rowCosine,
    mode,
    gramCorrelation: gramCorrelation(ea.embed, d, eb.embed, d, rowsA, rowsB),
  };
}

/** Hidden units discounted as possibly convergent in the embedding test (as E3's neurons). */
export const CONVERGENT_UNIT_FRACTION = 0.05;

export interface EmbeddingTest {
  /** Shared tokens used, split into two disjoint halves (alternate tokens in anchor-hash order). */
  sharedTokens: number;
  units: number;
  agreements: number;
  discounted: number;
  log10P: number;
}

/** B's hidden units matched to A's units or their negations on one subset of the shared tokens. */
function signedMatch(ea: Float32Array, eb: Float32Array, d: number, rowsA: number[], rowsB: number[]) {
  const ca = unitColumns(ea, d, rowsA);
  const both = { data: new Float32Array(2 * d * ca.cols), rows: 2 * d, cols: ca.cols };
  both.data.set(ca.data);
  both.data.set(unitColumns(ea, d, rowsA, true).data, d * ca.cols);
  return matchRows(both, unitColumns(eb, d, rowsB));
}

/**
 * E2's test with a null: the signed unit matching is computed twice, on two disjoint halves of the
 * shared tokens (two views of each hidden unit: its values on one half of the vocabulary sample and
 * on the other). When B's embeddings descend from A's in the same basis (or a signed permutation of
 * it), both halves map unit u to the same unit and sign; under H0 (independent initialisation and
 * training) the hidden bases have no common meaning, the two matchings are unrelated, and their
 * agreements are at most the fixed points of a random signed permutation: P(≥ k) ≤ 1/k! after
 * discounting CONVERGENT_UNIT_FRACTION of the units (trained residual streams can share a few
 * outlier directions). Null when the hidden sizes differ or fewer than MIN_SHARED_TOKENS are shared.
 * A rotated basis agrees on nothing here (the anchor-feature tests cover it).
 */
export function embeddingTest(a: Sketches, b: Sketches, mode: AnchorMode = "token"): EmbeddingTest | null {
  if (a.hidden !== b.hidden || mode === "none") return null;
  const d = a.hidden;
  const { ea, eb, rowsA, rowsB } = sharedRows(a, b, mode);
  if (rowsA.length < MIN_SHARED_TOKENS) return null;
  const half = (k: number): [number[], number[]] => [
    rowsA.filter((_, i) => i % 2 === k),
    rowsB.filter((_, i) => i % 2 === k),
  ];
  const [a0, b0] = half(0);
  const [a1, b1] = half(1);
  const m0 = signedMatch(ea.embed, eb.embed, d, a0, b0);
  const m1 = signedMatch(ea.embed, eb.embed, d, a1, b1);
  let agreements = 0;
  for (let u = 0; u < d; u++) if ((m0.bToA[u] ?? -1) >= 0 && m0.bToA[u] === m1.bToA[u]) agreements++;
  const discounted = Math.ceil(CONVERGENT_UNIT_FRACTION * d);
  return {
    sharedTokens: rowsA.length,
    units: d,
    agreements,
    discounted,
    log10P: fixedPointsLog10UpperBound(agreements - discounted),
  };
}

/** Cosine-similarity matrix (upper triangle, row by row) of the given embedding rows. */
function gramUpper(embed: Float32Array, d: number, rows: number[]): Float64Array {
  const t = rows.length;
  const x = new Float32Array(t * d);
  rows.forEach((r, i) => {
    x.set(embed.subarray(r * d, (r + 1) * d), i * d);
  });
  const g = new Float32Array(t * t);
  dotRows(x, t, x, t, d, g);
  const norm = (i: number) => Math.sqrt(g[i * t + i] ?? Number.NaN) || 1;
  const out = new Float64Array((t * (t - 1)) / 2);
  let k = 0;
  for (let i = 0; i < t; i++)
    for (let j = i + 1; j < t; j++) out[k++] = (g[i * t + j] ?? Number.NaN) / (norm(i) * norm(j));
  return out;
}

/** Pearson correlation of the two sides' Gram matrices over paired rows (0 when undefined). */
export function gramCorrelation(
  ea: Float32Array,
  da: number,
  eb: Float32Array,
  db: number,
  rowsA: number[],
  rowsB: number[],
): number {
  const r = pearson(gramUpper(ea, da, rowsA), gramUpper(eb, db, rowsB));
  return Number.isNaN(r) ? 0 : r;
}

function alignedRowCosine(
  ea: Float32Array,
  eb: Float32Array,
  d: number,
  rowsA: number[],
  rowsB: number[],
  perm: Int32Array,
  sign: Int8Array,
) {
  let total = 0;
  rowsA.forEach((ra, k) => {
    const rb = at(rowsB, k, "paired row of B");
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let u = 0; u < d; u++) {
      const x = ea[ra * d + (perm[u] ?? Number.NaN)] ?? Number.NaN;
      const y = (sign[u] ?? Number.NaN) * (eb[rb * d + u] ?? Number.NaN);
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    total += na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
  });
  return total / rowsA.length;
}
