import { TokenizerLoader } from "@lenml/tokenizers";
import { Tiktoken } from "js-tiktoken/lite";
import { PedigreeError } from "../errors.js";
import { patchPipeline, swapNovelPatterns } from "./linear-patterns.js";
import type { LoadedTokenizer } from "./types.js";

/**
 * Text ↔ ids with the reference implementations, never a re-implementation: `@lenml/tokenizers`
 * (the transformers.js tokenizers) for everything expressed as tokenizer.json — including the
 * tokenizer.json that SentencePiece and GGUF tokenizers convert to — and js-tiktoken for tiktoken.
 */
export interface Encoder {
  /** Ids for `text`, without BOS/EOS or other tokens a post-processor would add. */
  encode(text: string): number[];
  decode(ids: number[]): string;
}

const cache = new WeakMap<LoadedTokenizer, Encoder>();

export function createEncoder(tok: LoadedTokenizer): Encoder {
  const hit = cache.get(tok);
  if (hit) return hit;
  const enc = build(tok);
  cache.set(tok, enc);
  return enc;
}

function build(tok: LoadedTokenizer): Encoder {
  const src = tok.encoderSource;
  if (src.kind === "hf-json") {
    // Absent pipeline steps mean "none" in tokenizer.json; the library wants them spelled out.
    const { json, swaps } = swapNovelPatterns(
      {
        added_tokens: [],
        normalizer: null,
        pre_tokenizer: null,
        post_processor: null,
        decoder: null,
        ...src.json,
      },
      tok.name,
    );
    let t: ReturnType<typeof TokenizerLoader.fromPreTrained>;
    try {
      t = TokenizerLoader.fromPreTrained({
        tokenizerJSON: json as never,
        tokenizerConfig: (tok.tokenizerConfig ?? {}) as never,
      });
    } catch (e) {
      throw new PedigreeError(
        "TOKENIZER_ENCODER_FAILED",
        `${tok.name}: the reference tokenizer library rejected it (${(e as Error).message})`,
        {
          details: { tokenizer: tok.name },
          cause: e,
          hint: "The tokenizer.json uses a feature @lenml/tokenizers does not support, or is malformed",
        },
      );
    }
    const lib = t as unknown as { normalizer?: unknown; pre_tokenizer?: unknown; decoder?: unknown };
    patchPipeline([lib.normalizer, lib.pre_tokenizer, lib.decoder], swaps);
    return {
      encode: (text) => t.encode(text, { add_special_tokens: false }),
      decode: (ids) => t.decode(ids, { skip_special_tokens: false }),
    };
  }
  if (src.kind === "tiktoken") {
    if (src.pattern === null) throw noEncoder(tok, "no pre-tokenization pattern");
    const t = new Tiktoken({
      pat_str: src.pattern,
      special_tokens: src.specials,
      bpe_ranks: compressRanks(src.ranks),
    });
    return {
      // Special-token text is encoded as ordinary text: nothing in user text may become a control token.
      encode: (text) => t.encode(text, [], []),
      decode: (ids) => t.decode(ids),
    };
  }
  throw noEncoder(tok, src.reason);
}

/** js-tiktoken's compressed rank table: one line per run of consecutive ranks, "! <first> <b64>…". */
function compressRanks(ranks: Map<string, number>): string {
  const sorted = [...ranks].sort((a, b) => a[1] - b[1]);
  const lines: string[] = [];
  let line: string[] = [];
  let prev = Number.NaN;
  for (const [b64, rank] of sorted) {
    if (rank !== prev + 1) {
      if (line.length) lines.push(line.join(" "));
      line = ["!", String(rank)];
    }
    line.push(b64);
    prev = rank;
  }
  if (line.length) lines.push(line.join(" "));
  return lines.join("\n");
}

function noEncoder(tok: LoadedTokenizer, reason: string): PedigreeError {
  return new PedigreeError("TOKENIZER_NO_ENCODER", `${tok.name}: cannot encode text (${reason})`, {
    details: { tokenizer: tok.name, reason },
    hint: "Vocabulary checks still work; use the model's tokenizer.json for encoding-based checks",
  });
}
