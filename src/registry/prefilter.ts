import { createHash } from "node:crypto";
import type { Fingerprint } from "../fingerprint/types.js";

/**
 * The compact per-model index that lets `identify` scan 10,000 registered models in well under a
 * second before running the full comparison on a short list. Every feature is cheap, survives the
 * usual derivations, and is stored at `add` time (a few hundred bytes of JSON per model):
 *  - `tensors`: 64-bit prefixes of tensor SHA-256 digests (frozen reuse, identical copies; E0);
 *  - `vocab`: a MinHash of the token strings (Jaccard estimate; vocabulary kinship, a prior; E1);
 *  - `profile`: per-layer std profiles by role, which continued training moves slowly (E6, weak);
 *  - `gram`: centred cosine similarities between the embeddings of the first GRAM_TOKENS anchor
 *    tokens (sketch alignTokens, matched by token string). Invariant to any rotation or permutation of
 *    the hidden basis and kept by vocabulary swaps; on kinship-dev it correlates 0.74–0.99 between
 *    relatives and 0.18–0.26 between the independent bases (the strongest cheap signal here);
 *  - `dims`: width/depth/vocabulary, for a mild same-family bonus.
 * It only ranks; the verdict always comes from the full comparison.
 */

export const PREFILTER_VERSION = 3;
/** Anchor tokens in the Gram sketch: 48·47/2 = 1128 similarities, 1.1 KB as int8. */
const GRAM_TOKENS = 48;
/** Fewer shared token pairs than this and the Gram correlation is not used (too noisy). */
const MIN_GRAM_PAIRS = 45;
/** MinHash size: standard error of the Jaccard estimate ≈ 1/sqrt(64) = 0.125. */
const MINHASH_SIZE = 64;
/**
 * Tensor digests kept: the smallest ones (a bottom-k sketch of the digest set, so two models keep
 * the same digests for the tensors they share); keeps the index row small for 1,000-tensor models.
 */
const MAX_TENSOR_DIGESTS = 64;
/** Each role's per-layer profile is resampled to this many points, so different depths compare. */
const PROFILE_POINTS = 16;
/** At most this many roles in the profile (sorted by name): bounds the row size. */
const MAX_PROFILE_ROLES = 12;
/** Digits of each tensor digest kept: 64 bits, collisions negligible at registry scale. */
const DIGEST_PREFIX = 16;

export interface Prefilter {
  v: number;
  dims: [hidden: number, layers: number, ffn: number, vocab: number];
  tensors: string[];
  vocab: number[] | null;
  profile: number[];
  gram: { tokens: string[]; sims: string } | null;
}

export function buildPrefilter(fp: Fingerprint): Prefilter {
  const d = fp.dims;
  return {
    v: PREFILTER_VERSION,
    dims: [d?.hiddenSize ?? 0, d?.layers ?? 0, d?.intermediateSize ?? 0, d?.vocabSize ?? 0],
    tensors: [...new Set(fp.tensors.map((t) => t.sha256.slice(0, DIGEST_PREFIX)))]
      .sort()
      .slice(0, MAX_TENSOR_DIGESTS),
    vocab: fp.tokenizer ? minHash(fp.tokenizer.tokens.filter((t): t is string => t !== null)) : null,
    profile: flattenProfiles(fp.layerProfiles ?? {}),
    gram: gramSketch(fp.sketches as unknown as Partial<AnchorSketch> | undefined),
  };
}

interface AnchorSketch {
  hidden: number;
  alignTokens: string[];
  alignEmbed: Float32Array;
}

/** Centred, normalised anchor rows → upper-triangle cosines, int8 (x ↦ round(127x)), base64. */
function gramSketch(s: Partial<AnchorSketch> | undefined): Prefilter["gram"] {
  const g = anchorGram(s);
  return g && { tokens: g.tokens, sims: Buffer.from(g.sims.buffer).toString("base64") };
}

/**
 * The anchor Gram sketch as numbers: the first GRAM_TOKENS anchor tokens and the int8 cosines of
 * every pair (row-major upper triangle), or null without anchor embeddings. Shared with the kinship
 * index (kinship-index.ts), which hashes the same vector.
 */
export function anchorGram(
  s: Partial<AnchorSketch> | undefined,
): { tokens: string[]; sims: Int8Array } | null {
  const d = s?.hidden ?? 0;
  const E = s?.alignEmbed;
  const all = s?.alignTokens ?? [];
  if (!d || !E || all.length < 2 || E.length < all.length * d) return null;
  const mean = new Float64Array(d);
  for (let i = 0; i < all.length; i++)
    for (let j = 0; j < d; j++) mean[j] = (mean[j] ?? 0) + (E[i * d + j] ?? 0) / all.length;
  const tokens = all.slice(0, GRAM_TOKENS);
  const rows = tokens.map((_, i) => {
    const r = new Float64Array(d);
    for (let j = 0; j < d; j++) r[j] = (E[i * d + j] ?? 0) - (mean[j] ?? 0);
    // Math.hypot as before: index rows are logged by digest, so their bytes must not change.
    const norm = Math.hypot(...r) || 1;
    return r.map((x) => x / norm);
  });
  const sims = new Int8Array((tokens.length * (tokens.length - 1)) / 2);
  let k = 0;
  for (let a = 0; a < rows.length; a++) {
    const ra = rows[a] ?? new Float64Array(d);
    for (let b = a + 1; b < rows.length; b++) {
      const rb = rows[b] ?? new Float64Array(d);
      let dot = 0;
      for (let j = 0; j < d; j++) dot += (ra[j] ?? 0) * (rb[j] ?? 0);
      sims[k++] = Math.round(127 * Math.max(-1, Math.min(1, dot)));
    }
  }
  return { tokens, sims };
}

/** Pearson correlation of the similarities of token pairs both sketches hold. */
export function gramCorrelation(
  q: NonNullable<Prefilter["gram"]>,
  c: NonNullable<Prefilter["gram"]>,
  prepared?: PreparedQuery,
): number {
  const qi = prepared?.gramIndex ?? new Map(q.tokens.map((t, i) => [t, i]));
  const qs = prepared?.gramSims ?? new Int8Array(Buffer.from(q.sims, "base64"));
  const cs = new Int8Array(Buffer.from(c.sims, "base64"));
  // c's anchors that q also has, as (c index, q index), in c order.
  const common: [number, number][] = [];
  c.tokens.forEach((t, i) => {
    const j = qi.get(t);
    if (j !== undefined) common.push([i, j]);
  });
  let n = 0,
    sx = 0,
    sy = 0,
    sxx = 0,
    syy = 0,
    sxy = 0;
  for (let a = 0; a < common.length; a++)
    for (let b = a + 1; b < common.length; b++) {
      const [ca, qa] = common[a] as [number, number];
      const [cb, qb] = common[b] as [number, number];
      const x = cs[triIndex(ca, cb, c.tokens.length)] ?? 0;
      const y = qs[triIndex(Math.min(qa, qb), Math.max(qa, qb), q.tokens.length)] ?? 0;
      n++;
      sx += x;
      sy += y;
      sxx += x * x;
      syy += y * y;
      sxy += x * y;
    }
  if (n < MIN_GRAM_PAIRS) return 0;
  const cov = sxy - (sx * sy) / n;
  const den = Math.sqrt((sxx - (sx * sx) / n) * (syy - (sy * sy) / n));
  return den > 0 ? cov / den : 0;
}

/** Index of (a, b), a < b, in the row-major upper triangle of an n×n matrix without the diagonal. */
function triIndex(a: number, b: number, n: number): number {
  return a * n - (a * (a + 1)) / 2 + (b - a - 1);
}

/** 32-bit slices of SHA-256 under MINHASH_SIZE seeds; the minimum per seed over the set. */
function minHash(tokens: readonly string[]): number[] {
  const mins = new Array<number>(MINHASH_SIZE).fill(0xffffffff);
  for (const t of tokens) {
    const h = createHash("sha256").update(t).digest();
    for (let i = 0; i < MINHASH_SIZE; i++) {
      // Eight 32-bit words per digest, mixed with the seed index: a cheap family of hash functions.
      const w = h.readUInt32LE((i % 8) * 4);
      const v = Math.imul(w ^ (i * 0x9e3779b9), 0x85ebca6b) >>> 0;
      if (v < (mins[i] ?? 0xffffffff)) mins[i] = v;
    }
  }
  return mins;
}

/** Roles sorted by name, each profile resampled and z-scored so scale changes (e.g. q/k rescaling) do not matter. */
function flattenProfiles(profiles: Record<string, number[]>): number[] {
  const out: number[] = [];
  for (const role of Object.keys(profiles).sort().slice(0, MAX_PROFILE_ROLES))
    out.push(...zscore(resample(profiles[role] ?? [], PROFILE_POINTS)));
  return out.map((x) => Math.round(x * 100) / 100);
}

/** Linear interpolation of a per-layer profile onto `n` evenly spaced depths (0 … 1). */
function resample(xs: readonly number[], n: number): number[] {
  if (xs.length === 0) return new Array<number>(n).fill(0);
  if (xs.length === 1) return new Array<number>(n).fill(xs[0] ?? 0);
  return Array.from({ length: n }, (_, i) => {
    const at = (i / (n - 1)) * (xs.length - 1);
    const lo = Math.floor(at);
    const hi = Math.min(xs.length - 1, lo + 1);
    return (xs[lo] ?? 0) * (1 - (at - lo)) + (xs[hi] ?? 0) * (at - lo);
  });
}

function zscore(xs: readonly number[]): number[] {
  const finite = xs.filter(Number.isFinite);
  if (finite.length < 2) return xs.map(() => 0);
  const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
  const sd = Math.sqrt(finite.reduce((a, b) => a + (b - mean) ** 2, 0) / finite.length) || 1;
  return xs.map((x) => (Number.isFinite(x) ? (x - mean) / sd : 0));
}

/**
 * Similarity in [0, ~5.75]: the anchor Gram correlation dominates; shared-digest fraction (frozen or
 * copied tensors), vocabulary Jaccard and profile correlation (weak priors), a small bonus for equal dims.
 */
/** The query's decoded parts, built once per scan instead of once per registered model. */
export interface PreparedQuery {
  digests: ReadonlySet<string>;
  gramIndex: Map<string, number>;
  gramSims: Int8Array;
}

export function prepareQuery(q: Prefilter): PreparedQuery {
  return {
    digests: new Set(q.tensors),
    gramIndex: new Map((q.gram?.tokens ?? []).map((t, i) => [t, i])),
    gramSims: new Int8Array(q.gram ? Buffer.from(q.gram.sims, "base64") : []),
  };
}

export function prefilterScore(
  q: Prefilter,
  c: Prefilter,
  prepared: PreparedQuery = prepareQuery(q),
): number {
  const digests = prepared.digests;
  let shared = 0;
  for (const t of c.tensors) if (digests.has(t)) shared++;
  const reuse = shared / Math.max(1, Math.min(q.tensors.length, c.tensors.length));
  const vocab = q.vocab && c.vocab ? jaccard(q.vocab, c.vocab) : 0;
  const profile =
    q.profile.length === c.profile.length && q.profile.length > 2
      ? Math.max(0, pearson(q.profile, c.profile))
      : 0;
  const dims = q.dims.filter((x, i) => x === c.dims[i]).length / q.dims.length;
  const gram = q.gram && c.gram ? Math.max(0, gramCorrelation(q.gram, c.gram, prepared)) : 0;
  return 1.5 * reuse + 3 * gram + 0.5 * vocab + 0.5 * profile + 0.25 * dims;
}

function jaccard(a: readonly number[], b: readonly number[]): number {
  let eq = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) eq++;
  return eq / a.length;
}

function pearson(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  // Profiles are z-scored per role already, so the plain cosine is the correlation.
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}
