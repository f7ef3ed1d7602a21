import { PedigreeError } from "../errors.js";
import { VocabBuilder } from "./build.js";
import { base64ToBinary } from "./bytes.js";
import type { LoadedTokenizer } from "./types.js";

/** Built-in encodings shipped by js-tiktoken, by the name a user types after "tiktoken:". */
export const BUILTIN_TIKTOKEN = ["cl100k_base", "o200k_base"] as const;
export type BuiltinTiktoken = (typeof BUILTIN_TIKTOKEN)[number];

interface TiktokenRanksModule {
  pat_str: string;
  special_tokens: Record<string, number>;
  bpe_ranks: string;
}

/** Loads `tiktoken:cl100k_base` / `tiktoken:o200k_base` from js-tiktoken's rank tables. */
export async function loadBuiltinTiktoken(spec: string): Promise<LoadedTokenizer> {
  const enc = spec.slice("tiktoken:".length);
  let mod: { default: TiktokenRanksModule };
  if (enc === "cl100k_base") mod = await import("js-tiktoken/ranks/cl100k_base");
  else if (enc === "o200k_base") mod = await import("js-tiktoken/ranks/o200k_base");
  else
    throw new PedigreeError("USAGE_UNKNOWN_TOKENIZER", `Unknown built-in tokenizer "${spec}"`, {
      details: { spec, known: BUILTIN_TIKTOKEN.map((b) => `tiktoken:${b}`) },
      hint: `Use one of ${BUILTIN_TIKTOKEN.map((b) => `tiktoken:${b}`).join(", ")}, or a path`,
    });
  const ranks: [string, number][] = [];
  // js-tiktoken's compressed table: lines "<tag> <first rank> <b64> <b64> …", ranks consecutive per line.
  for (const line of mod.default.bpe_ranks.split("\n")) {
    if (!line) continue;
    const [, first, ...toks] = line.split(" ");
    const base = Number.parseInt(first ?? "", 10);
    toks.forEach((t, i) => {
      ranks.push([t, base + i]);
    });
  }
  return fromRanks(spec, ranks, mod.default.special_tokens, mod.default.pat_str);
}

/** Parses a `.tiktoken` rank file: one "<base64 token> <rank>" per line. */
export function loadTiktokenFile(text: string, name: string): LoadedTokenizer {
  const ranks: [string, number][] = [];
  const lines = text.split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (!line) continue;
    const [b64, rankStr, extra] = line.split(/\s+/);
    const rank = Number(rankStr);
    if (extra !== undefined || b64 === undefined || !Number.isInteger(rank) || base64ToBinary(b64) === null) {
      throw new PedigreeError("TOKENIZER_MALFORMED", `${name}:${i + 1}: expected "<base64 token> <rank>"`, {
        details: { file: name, line: i + 1, text: line.slice(0, 80) },
        hint: "A .tiktoken file has one base64 token and its integer rank per line",
      });
    }
    ranks.push([b64, rank]); // duplicates stay visible to audit (same bytes at two ranks)
  }
  return fromRanks(name, ranks, {}, null);
}

function fromRanks(
  name: string,
  ranks: [string, number][],
  specials: Record<string, number>,
  pattern: string | null,
): LoadedTokenizer {
  const builder = new VocabBuilder("base64", { entries: ranks.length + Object.keys(specials).length }, name);
  const rankMap = new Map<string, number>();
  for (const [b64, rank] of ranks) {
    builder.addPiece(rank, b64);
    if (!rankMap.has(b64)) rankMap.set(b64, rank);
  }
  const added = Object.entries(specials).map(([content, id]) => ({ id, content, special: true }));
  for (const a of added) builder.addAdded(a);
  return {
    kind: "tiktoken",
    name,
    model: "BPE",
    spelling: "base64",
    tokens: builder.tokens,
    pieces: builder.pieces,
    specialIds: added.map((a) => a.id),
    merges: null, // tiktoken has no merge list: a token's rank is its merge priority
    scores: null,
    added,
    collisions: builder.collisionList(),
    undecodableIds: [...builder.undecodable],
    normalizer: null,
    preTokenizer: pattern === null ? null : { type: "Split", pattern: { Regex: pattern } },
    decoder: null,
    tokenizerConfig: null,
    modelConfig: null,
    encoderSource:
      pattern === null
        ? { kind: "none", reason: "a .tiktoken rank file carries no pre-tokenization pattern" }
        : { kind: "tiktoken", pattern, ranks: rankMap, specials },
  };
}
