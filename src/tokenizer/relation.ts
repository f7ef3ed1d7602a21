import type { IdBlock } from "./compare.js";

export type TokenizerRelation =
  | "identical"
  | "a_extends_b"
  | "b_extends_a"
  | "common_ancestor"
  | "independent";

export interface RelationDecision {
  relation: TokenizerRelation;
  evidence: string[];
}

export interface RelationInput {
  identical: boolean;
  overlap: { shared: number; aInB: number; bInA: number };
  /** Shared id blocks, longest first. */
  blocks: IdBlock[];
  merge: { sharedMerges: number; spearman: number | null };
  /** Distinct regular (non-special) tokens of each side. */
  aRegular: number;
  bRegular: number;
}

/**
 * One id block must hold this share of the smaller vocabulary for "extends": Llama 3 holds all
 * 100,256 regular tokens of cl100k_base at the same ids; a 1% slack tolerates a few removed tokens.
 */
export const EXTENDS_MIN_COVERAGE = 0.99;
/**
 * Merged (multi-byte) tokens in one shared id block that independent training does not produce.
 * Measured: independently trained pairs (cl100k/o200k, DeepSeek-V3 vs Llama 3/Qwen3/cl100k, the
 * kinship-dev T1p/T2p trained on the same data) share blocks holding at most 3 merged tokens; the
 * base alphabet alone forms a block of 256 single bytes, which is why single bytes are not counted.
 */
export const ANCESTOR_MIN_MERGED_BLOCK = 32;
/** …or this share of the smaller vocabulary's merged tokens in one block, whichever is larger. */
export const ANCESTOR_MIN_MERGED_SHARE = 0.01;
/**
 * Spearman correlation of merge order above which two BPE tokenizers share merge history even when
 * ids were renumbered. Independent pairs measured 0.40–0.90 (0.90: same training data).
 */
export const ANCESTOR_MIN_SPEARMAN = 0.98;
/** The merge-order criterion needs this share of the smaller side's tokens to be shared merges. */
export const ANCESTOR_MIN_SHARED_MERGES = 0.5;

/** Decides the tokenizer relation from comparison facts; every rule that fires adds its evidence. */
export function decideRelation(x: RelationInput): RelationDecision {
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const evidence = [
    `${x.overlap.shared} shared token strings: ${pct(x.overlap.aInB)} of A's, ${pct(x.overlap.bInA)} of B's`,
  ];
  if (x.identical)
    return {
      relation: "identical",
      evidence: [...evidence, "same token bytes at every id, same special ids"],
    };
  const longest = x.blocks[0];
  if (longest) {
    const shift = longest.bStart - longest.aStart;
    evidence.push(
      `longest shared id block: ${longest.length} tokens (${longest.mergedTokens} merged) at A ${longest.aStart} / B ${longest.bStart}` +
        (shift ? ` (ids shifted by ${shift})` : " (same ids)"),
    );
  }
  if (x.merge.spearman !== null)
    evidence.push(
      `merge order over ${x.merge.sharedMerges} shared merges: Spearman ${x.merge.spearman.toFixed(3)}`,
    );
  if (longest && longest.length >= EXTENDS_MIN_COVERAGE * x.bRegular && x.aRegular > x.bRegular) {
    evidence.push(
      `A holds B's vocabulary as one block (${pct(longest.length / x.bRegular)} of B) and adds tokens`,
    );
    return { relation: "a_extends_b", evidence };
  }
  if (longest && longest.length >= EXTENDS_MIN_COVERAGE * x.aRegular && x.bRegular > x.aRegular) {
    evidence.push(
      `B holds A's vocabulary as one block (${pct(longest.length / x.aRegular)} of A) and adds tokens`,
    );
    return { relation: "b_extends_a", evidence };
  }
  const minBlock = Math.max(
    ANCESTOR_MIN_MERGED_BLOCK,
    ANCESTOR_MIN_MERGED_SHARE * Math.min(x.aRegular, x.bRegular),
  );
  if (longest && longest.mergedTokens >= minBlock) {
    evidence.push(
      `a block of ${longest.mergedTokens} merged tokens at consecutive ids (≥ ${Math.ceil(minBlock)}): shared merge history`,
    );
    return { relation: "common_ancestor", evidence };
  }
  const spearman = x.merge.spearman ?? 0;
  if (
    spearman >= ANCESTOR_MIN_SPEARMAN &&
    x.merge.sharedMerges >= ANCESTOR_MIN_SHARED_MERGES * Math.min(x.aRegular, x.bRegular)
  ) {
    evidence.push(
      `shared merges happen in the same order (Spearman ≥ ${ANCESTOR_MIN_SPEARMAN}) although ids differ`,
    );
    return { relation: "common_ancestor", evidence };
  }
  evidence.push(
    "no shared id block of merged tokens and no near-identical merge order: no sign of shared history",
  );
  return { relation: "independent", evidence };
}
