import { displayToken } from "./bytes.js";
import { mergeOrder, mergeOrderAgreement, type TokenizerLike } from "./merge-order.js";
import { decideRelation, type RelationDecision } from "./relation.js";

export type { TokenizerLike } from "./merge-order.js";

/** Blocks shorter than this are coincidences of alphabet order, not shared history; not listed. */
export const MIN_LISTED_BLOCK = 8;
/** Longest blocks listed in the result (the totals cover all of them). */
export const MAX_LISTED_BLOCKS = 20;

export interface IdBlock {
  aStart: number;
  bStart: number;
  length: number;
  /** Tokens of the block longer than one byte (single bytes are every byte-level BPE's alphabet). */
  mergedTokens: number;
}

export interface TokenizerComparison {
  a: SideSummary;
  b: SideSummary;
  /** Distinct non-special canonical token strings: shared count, and the fraction of each side found in the other. */
  overlap: { shared: number; aInB: number; bInA: number; aDistinct: number; bDistinct: number };
  /** Maximal runs of identical tokens at consecutive ids in both, longest first (≥ MIN_LISTED_BLOCK). */
  sharedIdBlocks: IdBlock[];
  /** Tokens covered by all blocks ≥ MIN_LISTED_BLOCK; tokens with the very same id in both. */
  blockTotals: { blocks: number; tokens: number; sameIdTokens: number };
  mergeOrder: { sharedMerges: number; spearman: number | null };
  specialTokens: {
    sameId: string[];
    differentId: { content: string; aId: number; bId: number }[];
    onlyA: { content: string; id: number }[];
    onlyB: { content: string; id: number }[];
  };
  pipeline: { normalizerEqual: boolean | null; preTokenizerEqual: boolean | null; differences: string[] };
  relation: RelationDecision["relation"];
  evidence: string[];
  caveat: string;
}

export interface SideSummary {
  name: string | null;
  kind: string;
  vocabSize: number;
  model: string | null;
  spelling: string | null;
}

/**
 * Compares two tokenizers (or bare vocabularies from fingerprints) for lineage evidence E1.
 * Linear in the vocabulary sizes plus one sort of the shared merges.
 */
export function compareTokenizers(a: TokenizerLike, b: TokenizerLike): TokenizerComparison {
  const specialA = new Set(a.specialIds ?? []);
  const specialB = new Set(b.specialIds ?? []);
  const idInB = firstIds(b.tokens, specialB);
  const idInA = firstIds(a.tokens, specialA);
  let shared = 0;
  for (const t of idInA.keys()) if (idInB.has(t)) shared++;
  const { blocks, totals } = idBlocks(a.tokens, specialA, idInB, b.tokens);
  const overlap = {
    shared,
    aInB: idInA.size ? shared / idInA.size : 0,
    bInA: idInB.size ? shared / idInB.size : 0,
    aDistinct: idInA.size,
    bDistinct: idInB.size,
  };
  const merge = mergeOrderAgreement(a.tokens, mergeOrder(a), mergeOrder(b), idInB);
  const specialTokens = compareSpecials(a, b);
  const pipeline = comparePipelines(a, b);
  const identical = sameTokens(a, b);
  const decision = decideRelation({
    identical,
    overlap,
    blocks,
    merge,
    aRegular: idInA.size,
    bRegular: idInB.size,
  });
  return {
    a: summary(a),
    b: summary(b),
    overlap,
    sharedIdBlocks: blocks.slice(0, MAX_LISTED_BLOCKS),
    blockTotals: totals,
    mergeOrder: merge,
    specialTokens,
    pipeline,
    relation: decision.relation,
    evidence: decision.evidence,
    caveat:
      "Tokenizer kinship is a prior about the tokenizers, never proof about the weights: unrelated models " +
      "often share a tokenizer (Llama 3 and Qwen both start from cl100k_base), and a related model may change it.",
  };
}

/** Canonical token → first id, over non-special tokens. */
function firstIds(tokens: (string | null)[], special: Set<number>): Map<string, number> {
  const m = new Map<string, number>();
  tokens.forEach((t, id) => {
    if (t !== null && !special.has(id) && !m.has(t)) m.set(t, id);
  });
  return m;
}

function idBlocks(
  aTokens: (string | null)[],
  specialA: Set<number>,
  idInB: Map<string, number>,
  bTokens: (string | null)[],
): { blocks: IdBlock[]; totals: TokenizerComparison["blockTotals"] } {
  const blocks: IdBlock[] = [];
  let sameIdTokens = 0;
  let cur: IdBlock | null = null;
  const close = () => {
    if (cur && cur.length >= MIN_LISTED_BLOCK) blocks.push(cur);
    cur = null;
  };
  for (let i = 0; i < aTokens.length; i++) {
    const t = aTokens[i];
    if (t === null || t === undefined || specialA.has(i)) {
      close();
      continue;
    }
    if (bTokens[i] === t) sameIdTokens++;
    const c = cur as IdBlock | null;
    // Extend when B continues the run at the next id (this also follows duplicates inside B).
    if (c && bTokens[c.bStart + c.length] === t) {
      c.length++;
      if (t.length > 1) c.mergedTokens++;
      continue;
    }
    close();
    const j = idInB.get(t);
    if (j !== undefined) cur = { aStart: i, bStart: j, length: 1, mergedTokens: t.length > 1 ? 1 : 0 };
  }
  close();
  blocks.sort((x, y) => y.length - x.length || x.aStart - y.aStart);
  const tokens = blocks.reduce((s, b) => s + b.length, 0);
  return { blocks, totals: { blocks: blocks.length, tokens, sameIdTokens } };
}

function sameTokens(a: TokenizerLike, b: TokenizerLike): boolean {
  if (a.tokens.length !== b.tokens.length) return false;
  for (let i = 0; i < a.tokens.length; i++) if (a.tokens[i] !== b.tokens[i]) return false;
  const sa = [...(a.specialIds ?? [])].sort((x, y) => x - y).join();
  return sa === [...(b.specialIds ?? [])].sort((x, y) => x - y).join();
}

function compareSpecials(a: TokenizerLike, b: TokenizerLike): TokenizerComparison["specialTokens"] {
  const byContent = (t: TokenizerLike) => {
    const m = new Map<string, number>();
    for (const id of t.specialIds ?? []) {
      const tok = t.tokens[id];
      if (tok !== null && tok !== undefined && !m.has(tok)) m.set(tok, id);
    }
    return m;
  };
  const sa = byContent(a);
  const sb = byContent(b);
  const out: TokenizerComparison["specialTokens"] = { sameId: [], differentId: [], onlyA: [], onlyB: [] };
  for (const [tok, aId] of sa) {
    const bId = sb.get(tok);
    const content = displayToken(tok);
    if (bId === undefined) out.onlyA.push({ content, id: aId });
    else if (bId === aId) out.sameId.push(content);
    else out.differentId.push({ content, aId, bId });
  }
  for (const [tok, id] of sb) if (!sa.has(tok)) out.onlyB.push({ content: displayToken(tok), id });
  return out;
}

function comparePipelines(a: TokenizerLike, b: TokenizerLike): TokenizerComparison["pipeline"] {
  const differences: string[] = [];
  const eq = (x: unknown, y: unknown) => JSON.stringify(x ?? null) === JSON.stringify(y ?? null);
  const known = a.normalizer !== undefined && b.normalizer !== undefined;
  const normalizerEqual = known ? eq(a.normalizer, b.normalizer) : null;
  const preTokenizerEqual = known ? eq(a.preTokenizer, b.preTokenizer) : null;
  if (normalizerEqual === false)
    differences.push(`normalizer: ${describeStep(a.normalizer)} vs ${describeStep(b.normalizer)}`);
  if (preTokenizerEqual === false)
    differences.push(`pre-tokenizer: ${describeStep(a.preTokenizer)} vs ${describeStep(b.preTokenizer)}`);
  if (a.spelling && b.spelling && a.spelling !== b.spelling)
    differences.push(`piece spelling: ${a.spelling} vs ${b.spelling}`);
  if (a.model && b.model && a.model !== b.model) differences.push(`model: ${a.model} vs ${b.model}`);
  return { normalizerEqual, preTokenizerEqual, differences };
}

/** A short description of a pipeline step: its type chain and any split regex. */
export function describeStep(step: unknown): string {
  if (step === null || step === undefined) return "none";
  const parts: string[] = [];
  const walk = (n: unknown) => {
    if (Array.isArray(n)) n.forEach(walk);
    else if (n && typeof n === "object") {
      const o = n as Record<string, unknown>;
      const rx = (o.pattern as { Regex?: string } | undefined)?.Regex;
      if (typeof o.type === "string" && o.type !== "Sequence")
        parts.push(rx ? `${o.type}(/${rx.length > 40 ? `${rx.slice(0, 40)}…` : rx}/)` : o.type);
      for (const v of Object.values(o)) if (typeof v === "object") walk(v);
    }
  };
  walk(step);
  return parts.join(" → ") || "none";
}

function summary(t: TokenizerLike): SideSummary {
  return {
    name: t.name ?? null,
    kind: t.kind,
    vocabSize: t.tokens.length,
    model: t.model ?? null,
    spelling: t.spelling ?? null,
  };
}
