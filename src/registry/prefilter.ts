import { createHash } from "node:crypto";
import type { Fingerprint } from "../fingerprint/types.js";

/**
 * The compact per-model index that lets `identify` scan 10,000 registered models in well under a
 * second before running the full comparison on a short list. Every feature is cheap, survives the
 * usual derivations, and is stored at `add` time (a few hundred bytes of JSON per model):
 *  - `tensors`: 64-bit prefixes of tensor SHA-256 digests (frozen reuse, identical copies; E0);
 *  - `vocab`: a MinHash of the token strings (Jaccard estimate; vocabulary kinship, a prior; E1);
 *  - `profile`: per-layer std profiles by role, which continued training moves slowly (E6, weak);
 *  - `dims`: width/depth/vocabulary, for a mild same-family bonus.
 * It only ranks; the verdict always comes from the full comparison.
 */

export const PREFILTER_VERSION = 1;
/** MinHash size: standard error of the Jaccard estimate ≈ 1/sqrt(64) = 0.125. */
const MINHASH_SIZE = 64;
/** Tensor digests kept; beyond this the prefix set stops growing (large models, same signal). */
const MAX_TENSOR_DIGESTS = 512;
/** Digits of each tensor digest kept: 64 bits, collisions negligible at registry scale. */
const DIGEST_PREFIX = 16;

export interface Prefilter {
  v: number;
  dims: [hidden: number, layers: number, ffn: number, vocab: number];
  tensors: string[];
  vocab: number[] | null;
  profile: number[];
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
  };
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
      if (v < (mins[i] as number)) mins[i] = v;
    }
  }
  return mins;
}

/** Roles sorted by name, each profile z-scored so scale changes (e.g. q/k rescaling) do not matter. */
function flattenProfiles(profiles: Record<string, number[]>): number[] {
  const out: number[] = [];
  for (const role of Object.keys(profiles).sort()) out.push(...zscore(profiles[role] ?? []));
  return out.map((x) => Math.round(x * 1000) / 1000);
}

function zscore(xs: readonly number[]): number[] {
  const finite = xs.filter(Number.isFinite);
  if (finite.length < 2) return xs.map(() => 0);
  const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
  const sd = Math.sqrt(finite.reduce((a, b) => a + (b - mean) ** 2, 0) / finite.length) || 1;
  return xs.map((x) => (Number.isFinite(x) ? (x - mean) / sd : 0));
}

/**
 * Similarity in [0, ~3]: shared-digest fraction (a single shared non-trivial tensor is already strong),
 * vocabulary Jaccard, profile correlation when the profiles line up, and a small bonus for equal dims.
 */
export function prefilterScore(q: Prefilter, c: Prefilter, qDigests?: ReadonlySet<string>): number {
  const digests = qDigests ?? new Set(q.tensors);
  let shared = 0;
  for (const t of c.tensors) if (digests.has(t)) shared++;
  const reuse = shared / Math.max(1, Math.min(q.tensors.length, c.tensors.length));
  const vocab = q.vocab && c.vocab ? jaccard(q.vocab, c.vocab) : 0;
  const profile =
    q.profile.length === c.profile.length && q.profile.length > 2
      ? Math.max(0, pearson(q.profile, c.profile))
      : 0;
  const dims = q.dims.filter((x, i) => x === c.dims[i]).length / q.dims.length;
  return 1.5 * reuse + vocab + profile + 0.25 * dims;
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
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}
