import { at } from "../../checked.js";
import { isByteFallbackPiece } from "../bytes.js";
import type { LoadedTokenizer } from "../types.js";
import { MAX_EXAMPLES } from "./structure.js";
import { pieceIds } from "./vocab-index.js";

/**
 * Share of merges whose result id is above both parts' ids for a vocabulary to count as numbered in
 * merge (creation) order, as trained BPE vocabularies are (measured: 100% for DeepSeek-V3, Llama 3,
 * kinship-dev T1p). SentencePiece-converted ones are ordered by score (Gemma 3: most merges
 * violate it) and skip the order checks, which the result says.
 */
export const CREATION_ORDER_MIN_SHARE = 0.99;
/** A run of merged tokens with its own id offset shorter than this is noise, not a shifted block. */
export const MIN_SHIFTED_RUN = 4;

export interface MergeFindings {
  merges: number;
  /** Merges naming a piece that is not in the vocabulary. */
  missingParts: { count: number; examples: { index: number; left: string; right: string }[] };
  /** Merges whose concatenation is not in the vocabulary. */
  missingResult: { count: number; examples: { index: number; left: string; right: string }[] };
  duplicateMerges: number;
  /** Regular multi-symbol pieces no merge produces: BPE can never emit them. */
  noMerge: { count: number; examples: { id: number; piece: string }[] };
  orderedShare: number;
  creationOrdered: boolean;
  /** Merges producing a token with a lower id than a part (only checked when creationOrdered). */
  resultBeforeParts: { count: number; examples: { index: number; resultId: number }[] };
  /** Runs of merged tokens whose id offset from merge order differs from the main one. */
  offsetRuns: { startId: number; endId: number; offset: number; length: number }[];
  mainOffset: number | null;
}

export function checkMerges(tok: LoadedTokenizer): MergeFindings | null {
  if (!tok.merges || tok.model !== "BPE") return null;
  const idOf = pieceIds(tok);
  const f = emptyFindings(tok.merges.length);
  const seenPairs = new Set<string>();
  const produced = new Set<number>();
  const firstOrder: number[] = [];
  const ordered = new Set<number>();
  const firstBad = new Map<number, number>();
  tok.merges.forEach(([l, r], index) => {
    const key = `${l}\u0000${r}`;
    if (seenPairs.has(key)) f.duplicateMerges++;
    seenPairs.add(key);
    const li = idOf.get(l);
    const ri = idOf.get(r);
    if (li === undefined || ri === undefined) {
      push(f.missingParts, { index, left: l, right: r });
      return;
    }
    const res = idOf.get(l + r);
    if (res === undefined) {
      push(f.missingResult, { index, left: l, right: r });
      return;
    }
    // A token counts as ordered when any merge builds it from lower ids (converted tiktoken
    // vocabularies list every split of a token, not only the one that created it).
    if (res > li && res > ri) ordered.add(res);
    else if (!firstBad.has(res)) firstBad.set(res, index);
    if (produced.has(res)) return;
    produced.add(res);
    firstOrder.push(res);
  });
  f.orderedShare = produced.size ? ordered.size / produced.size : 1;
  f.creationOrdered = f.orderedShare >= CREATION_ORDER_MIN_SHARE;
  f.resultBeforeParts.count = produced.size - ordered.size;
  if (f.creationOrdered) {
    for (const [resultId, index] of firstBad) {
      if (ordered.has(resultId)) continue;
      if (f.resultBeforeParts.examples.length >= MAX_EXAMPLES) break;
      f.resultBeforeParts.examples.push({ index, resultId });
    }
    Object.assign(f, offsetRuns(firstOrder));
  }
  f.noMerge = unmergeable(tok, produced);
  return f;
}

function emptyFindings(merges: number): MergeFindings {
  return {
    merges,
    missingParts: { count: 0, examples: [] },
    missingResult: { count: 0, examples: [] },
    duplicateMerges: 0,
    noMerge: { count: 0, examples: [] },
    orderedShare: 1,
    creationOrdered: true,
    resultBeforeParts: { count: 0, examples: [] },
    offsetRuns: [],
    mainOffset: null,
  };
}

function push<T>(bucket: { count: number; examples: T[] }, item: T): void {
  bucket.count++;
  if (bucket.examples.length < MAX_EXAMPLES) bucket.examples.push(item);
}

/**
 * In a vocabulary numbered in creation order, the k-th new merged token has id k + offset, and the
 * offset only grows (single symbols or added tokens interleaved). Runs with another offset are id
 * ranges that were moved or came from elsewhere.
 */
function offsetRuns(ids: number[]): Pick<MergeFindings, "offsetRuns" | "mainOffset"> {
  const runs: MergeFindings["offsetRuns"] = [];
  ids.forEach((id, k) => {
    const last = runs[runs.length - 1];
    if (last && id - k === last.offset && id === last.endId) {
      last.endId = id + 1;
      last.length++;
    } else runs.push({ startId: id, endId: id + 1, offset: id - k, length: 1 });
  });
  const long = runs.filter((r) => r.length >= MIN_SHIFTED_RUN);
  const main = long.reduce<(typeof long)[number] | null>(
    (m, r) => (m === null || r.length > m.length ? r : m),
    null,
  );
  // Healthy: every long run follows the previous one upwards. Report all runs when any goes back.
  const descends = long.some((r, i) => i > 0 && r.startId < at(long, i - 1, "offset runs").endId);
  return {
    offsetRuns: descends || long.length > 1 ? long.slice(0, MAX_EXAMPLES) : [],
    mainOffset: main?.offset ?? null,
  };
}

function unmergeable(tok: LoadedTokenizer, produced: Set<number>): MergeFindings["noMerge"] {
  const special = new Set([...tok.specialIds, ...tok.added.map((a) => a.id)]);
  const out = { count: 0, examples: [] as { id: number; piece: string }[] };
  tok.pieces.forEach((p, id) => {
    if (p === null || special.has(id) || produced.has(id) || isByteFallbackPiece(p)) return;
    if ([...p].length > 1) push(out, { id, piece: p });
  });
  return out;
}
