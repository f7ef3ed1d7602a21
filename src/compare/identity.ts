import type { Fingerprint, TensorFingerprint } from "../fingerprint/types.js";
import type { Coverage } from "./types.js";

/**
 * E0 identity (DESIGN §4): bit-identical tensors found by SHA-256, plus the coverage of the comparison
 * (which tensors exist on both sides with the same shape).
 *
 * p-value of a bit-identical tensor under H0: two independent trainings produce the same bytes for a
 * tensor of N non-constant values with probability far below 2^(−N/BITS_PER_MATCH_DIVISOR); we credit
 * only one bit per BITS_PER_MATCH_DIVISOR values, a deliberately loose bound (many values are low-entropy).
 * Constant tensors (std 0: fresh norms, zero biases) are identical by construction and excluded.
 */
const BITS_PER_MATCH_DIVISOR = 16;

/** Which tensors exist on both sides with the same shape (the contract type, compare/schema.ts). */
export type { Coverage };

export interface IdentityResult {
  coverage: Coverage;
  /** Non-constant tensors whose bytes are equal (matched by digest, so renamed tensors count). */
  identical: { a: string; b: string; elements: number }[];
  /** Non-constant tensors on each side. */
  nonConstantA: number;
  nonConstantB: number;
  /** A and B hold the same multiset of tensor digests (constant tensors included). */
  allIdentical: boolean;
  log10P: number;
}

/** Lists are truncated to keep the JSON small; counts stay exact. */
const MAX_LISTED = 50;

/**
 * Tensors whose bytes are fixed by the architecture, not by training, and so are equal between
 * independent models: rotary inverse frequencies, causal-mask buffers, position ids, FP8 scales.
 */
const DETERMINISTIC_BUFFER = /(inv_freq|rotary_emb|masked_bias|\.attn\.bias$|position_ids|_scale_inv$)/;
/** Smaller tensors carry too little entropy to count (a handful of equal values proves nothing). */
const MIN_E0_ELEMENTS = 1024;

/** A tensor that can testify under E0: trained values, not a constant or a deterministic buffer. */
const cannotTestify = (t: TensorFingerprint) =>
  !(t.stats.std > 0) || t.stats.count < MIN_E0_ELEMENTS || DETERMINISTIC_BUFFER.test(t.name);

export function compareTensors(a: Fingerprint, b: Fingerprint): IdentityResult {
  const byNameB = new Map(b.tensors.map((t) => [t.name, t] as const));
  const namesA = new Set(a.tensors.map((t) => t.name));
  const missingInB = a.tensors.filter((t) => !byNameB.has(t.name)).map((t) => t.name);
  const missingInA = b.tensors.filter((t) => !namesA.has(t.name)).map((t) => t.name);
  const shapeMismatch: Coverage["shapeMismatch"] = [];
  let compared = 0;
  for (const t of a.tensors) {
    const u = byNameB.get(t.name);
    if (!u) continue;
    if (t.shape.join("x") === u.shape.join("x")) compared++;
    else if (shapeMismatch.length < MAX_LISTED) shapeMismatch.push({ name: t.name, a: t.shape, b: u.shape });
  }
  const bByDigest = new Map<string, TensorFingerprint>();
  for (const t of b.tensors) if (!cannotTestify(t)) bByDigest.set(t.sha256, t);
  const identical: IdentityResult["identical"] = [];
  let bits = 0;
  for (const t of a.tensors) {
    const u = cannotTestify(t) ? undefined : bByDigest.get(t.sha256);
    if (!u) continue;
    identical.push({ a: t.name, b: u.name, elements: t.stats.count });
    bits += t.stats.count / BITS_PER_MATCH_DIVISOR;
  }
  // Identical = the same multiset of tensor digests (renamed tensors allowed, duplicated ones not),
  // and no tensor name shared by both holding other bytes: swapping two layers keeps the multiset
  // but is a different model (another content id).
  const sortedA = a.tensors.map((t) => t.sha256).sort();
  const sortedB = b.tensors.map((t) => t.sha256).sort();
  const sameNameDiffers = a.tensors.some((t) => {
    const u = byNameB.get(t.name);
    return u !== undefined && u.sha256 !== t.sha256;
  });
  const allIdentical =
    !sameNameDiffers &&
    sortedA.length > 0 &&
    sortedA.length === sortedB.length &&
    sortedA.every((d, i) => d === sortedB[i]);
  return {
    coverage: {
      compared,
      missingInB: missingInB.slice(0, MAX_LISTED),
      missingInA: missingInA.slice(0, MAX_LISTED),
      missingInBCount: missingInB.length,
      missingInACount: missingInA.length,
      shapeMismatch,
    },
    identical: identical.slice(0, MAX_LISTED),
    nonConstantA: a.tensors.filter((t) => !cannotTestify(t)).length,
    nonConstantB: b.tensors.filter((t) => !cannotTestify(t)).length,
    allIdentical,
    log10P: identical.length ? -bits * Math.log10(2) : 0,
  };
}
