import type { Sketches } from "../fingerprint/sketch/types.js";
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
}

/** Column matrix of the shared tokens' embedding rows: d rows (units) × t columns (tokens), standardised. */
function unitColumns(embed: Float32Array, d: number, rows: number[], negate = false): FeatureMatrix {
  const t = rows.length;
  const out = new Float32Array(d * t);
  for (let u = 0; u < d; u++) {
    let mean = 0;
    for (let r = 0; r < t; r++) mean += embed[rows[r]! * d + u]!;
    mean /= t;
    let ss = 0;
    for (let r = 0; r < t; r++) {
      const x = embed[rows[r]! * d + u]! - mean;
      out[u * t + r] = x;
      ss += x * x;
    }
    const inv = ss > 0 ? (negate ? -1 : 1) / Math.sqrt(ss) : 0;
    for (let r = 0; r < t; r++) out[u * t + r] = out[u * t + r]! * inv;
  }
  return { data: out, rows: d, cols: t };
}

export function alignHidden(a: Sketches, b: Sketches): HiddenAlignment | null {
  if (a.hidden !== b.hidden) return null;
  const d = a.hidden;
  const indexB = new Map(b.alignTokens.map((t, i) => [t, i] as const));
  const rowsA: number[] = [];
  const rowsB: number[] = [];
  a.alignTokens.forEach((t, i) => {
    const j = indexB.get(t);
    if (j === undefined || rowsA.length >= MAX_ALIGN_TOKENS) return;
    rowsA.push(i);
    rowsB.push(j);
  });
  if (rowsA.length < MIN_SHARED_TOKENS) return null;
  const ca = unitColumns(a.alignEmbed, d, rowsA);
  const cn = unitColumns(a.alignEmbed, d, rowsA, true);
  const both = { data: new Float32Array(2 * d * ca.cols), rows: 2 * d, cols: ca.cols };
  both.data.set(ca.data);
  both.data.set(cn.data, d * ca.cols);
  const cb = unitColumns(b.alignEmbed, d, rowsB);
  const m = matchRows(both, cb);
  const perm = new Int32Array(d);
  const sign = new Int8Array(d);
  let quality = 0;
  let identityQuality = 0;
  let identity = 0;
  for (let u = 0; u < d; u++) {
    const j = m.bToA[u]!;
    perm[u] = j >= d ? j - d : j;
    sign[u] = j >= d ? -1 : 1;
    quality += Math.abs(m.score[u]!) || 0;
    let s = 0;
    for (let r = 0; r < ca.cols; r++) s += ca.data[u * ca.cols + r]! * cb.data[u * ca.cols + r]!;
    identityQuality += Math.abs(s);
    if (perm[u] === u && sign[u] === 1) identity++;
  }
  const rowCosine = alignedRowCosine(a, b, rowsA, rowsB, perm, sign);
  return {
    sharedTokens: rowsA.length,
    perm,
    sign,
    quality: quality / d,
    identityQuality: identityQuality / d,
    identityFraction: identity / d,
    rowCosine,
  };
}

function alignedRowCosine(
  a: Sketches,
  b: Sketches,
  rowsA: number[],
  rowsB: number[],
  perm: Int32Array,
  sign: Int8Array,
) {
  const d = a.hidden;
  let total = 0;
  rowsA.forEach((ra, k) => {
    const rb = rowsB[k]!;
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let u = 0; u < d; u++) {
      const x = a.alignEmbed[ra * d + perm[u]!]!;
      const y = sign[u]! * b.alignEmbed[rb * d + u]!;
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    total += na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
  });
  return total / rowsA.length;
}
