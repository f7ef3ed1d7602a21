import { displayToken } from "../bytes.js";
import type { LoadedTokenizer } from "../types.js";
import { laterDuplicates } from "./vocab-index.js";

/** Examples listed per finding; counts always cover everything. */
export const MAX_EXAMPLES = 20;

export interface IdRange {
  start: number;
  /** Exclusive. */
  end: number;
}

export interface StructureFindings {
  vocabSize: number;
  usedIds: number;
  /** Unused ids below the highest used id. */
  idGaps: { count: number; ranges: IdRange[] };
  /** Ids claimed by two different pieces (only the first claim is kept). */
  collisions: { count: number; examples: { id: number; pieces: string[] }[] };
  /** Pieces that do not spell bytes in the tokenizer's own scheme. */
  undecodable: { count: number; examples: { id: number; piece: string }[] };
  /** Regular tokens whose bytes equal another regular token's (byte-fallback twins excluded). */
  duplicates: { count: number; examples: { token: string; ids: number[] }[] };
}

export function checkStructure(tok: LoadedTokenizer): StructureFindings {
  const ranges: IdRange[] = [];
  let gapCount = 0;
  let start = -1;
  tok.tokens.forEach((t, id) => {
    if (t === null && start < 0) start = id;
    if (t !== null && start >= 0) {
      ranges.push({ start, end: id });
      gapCount += id - start;
      start = -1;
    }
  });
  return {
    vocabSize: tok.tokens.length,
    usedIds: tok.tokens.length - gapCount,
    idGaps: { count: gapCount, ranges: ranges.slice(0, MAX_EXAMPLES) },
    collisions: { count: tok.collisions.length, examples: tok.collisions.slice(0, MAX_EXAMPLES) },
    undecodable: {
      count: tok.undecodableIds.length,
      examples: tok.undecodableIds.slice(0, MAX_EXAMPLES).map((id) => ({ id, piece: tok.pieces[id] ?? "" })),
    },
    duplicates: findDuplicates(tok),
  };
}

function findDuplicates(tok: LoadedTokenizer): StructureFindings["duplicates"] {
  const pairs = laterDuplicates(tok);
  const groups = new Map<number, number[]>(); // lowest id → every id of those bytes
  for (const [first, id] of pairs) {
    const ids = groups.get(first);
    if (ids) ids.push(id);
    else groups.set(first, [first, id]);
  }
  const examples = [...groups.keys()]
    .sort((a, b) => a - b)
    .slice(0, MAX_EXAMPLES)
    .map((first) => ({ token: displayToken(tok.tokens[first] ?? ""), ids: groups.get(first) as number[] }));
  return { count: pairs.length, examples };
}
