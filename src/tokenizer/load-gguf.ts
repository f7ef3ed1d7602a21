import { PedigreeError } from "../errors.js";
import { readGgufMetadata } from "../formats/gguf/index.js";
import type { ByteSource } from "../io/types.js";
import { addedTokensJson, checkCount, MAX_MERGES, MAX_VOCAB_AND_MERGES, VocabBuilder } from "./build.js";
import { fromSpModel, SP_TYPE } from "./load-sentencepiece.js";
import { pretokenizerRegex } from "./pretokenizers.js";
import type { AddedTokenInfo, LoadedTokenizer } from "./types.js";

/**
 * Reads the tokenizer embedded in a GGUF file (`tokenizer.ggml.*` keys, GGUF spec "Tokenizer"):
 * `model` ("gpt2" = byte-level BPE, "llama" = SentencePiece), `tokens`, `scores`, `token_type`,
 * `merges`, `pre` (the pre-tokenizer name llama.cpp uses).
 */
export async function loadGgufTokenizer(source: ByteSource): Promise<LoadedTokenizer> {
  const header = await readGgufMetadata(source);
  // Values are tagged {type, value}; arrays carry their items (strings or a typed array) in `value`.
  return ggufMetadataToTokenizer((k) => header.metadata.get(k)?.value, source.name);
}

function arrayOf<T>(v: unknown): T[] | null {
  if (Array.isArray(v)) return v as T[];
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<T>);
  return null;
}

/** Turns `tokenizer.ggml.*` values into a LoadedTokenizer (exported for tests without a GGUF file). */
export function ggufMetadataToTokenizer(get: (key: string) => unknown, name: string): LoadedTokenizer {
  const model = String(get("tokenizer.ggml.model") ?? "");
  const tokens = arrayOf<string>(get("tokenizer.ggml.tokens"));
  if (!tokens || tokens.some((t) => typeof t !== "string")) {
    throw new PedigreeError("TOKENIZER_NOT_FOUND", `${name}: no tokenizer.ggml.tokens string array`, {
      details: { file: name },
      hint: "This GGUF file carries no tokenizer; pass the model's tokenizer.json instead",
    });
  }
  const types = arrayOf<number>(get("tokenizer.ggml.token_type")) ?? [];
  const scores = arrayOf<number>(get("tokenizer.ggml.scores")) ?? [];
  if (model === "llama") {
    const pieces = tokens.map((piece, i) => ({
      piece,
      score: scores[i] ?? 0,
      type: types[i] ?? SP_TYPE.NORMAL,
    }));
    const byteFallback = types.includes(SP_TYPE.BYTE);
    return fromSpModel({ pieces, trainerSpec: { modelType: 2, byteFallback } }, name, "gguf-embedded");
  }
  if (model === "gpt2") return ggufByteLevel(get, tokens, types, name);
  throw new PedigreeError(
    "TOKENIZER_UNSUPPORTED_MODEL",
    `${name}: GGUF tokenizer model "${model}" is not supported`,
    {
      details: { file: name, model },
      hint: 'Supported GGUF tokenizer models: "gpt2" (byte-level BPE) and "llama" (SentencePiece)',
    },
  );
}

function ggufByteLevel(
  get: (k: string) => unknown,
  tokens: string[],
  types: number[],
  name: string,
): LoadedTokenizer {
  const builder = new VocabBuilder("byte-level", { entries: tokens.length }, name);
  const added: AddedTokenInfo[] = [];
  tokens.forEach((piece, id) => {
    const t = types[id] ?? SP_TYPE.NORMAL;
    if (t === SP_TYPE.CONTROL || t === SP_TYPE.USER_DEFINED) {
      const info = { id, content: piece, special: t === SP_TYPE.CONTROL };
      added.push(info);
      builder.addAdded(info);
    } else builder.addPiece(id, piece);
  });
  const mergeList = arrayOf<string>(get("tokenizer.ggml.merges")) ?? [];
  checkCount("merges", mergeList.length, MAX_MERGES, "MAX_MERGES", name);
  const total = tokens.length + mergeList.length;
  checkCount("entries and merges", total, MAX_VOCAB_AND_MERGES, "MAX_VOCAB_AND_MERGES", name);
  const merges = mergeList.map((m): [string, string] => {
    const sp = m.indexOf(" ", 1);
    return sp > 0 ? [m.slice(0, sp), m.slice(sp + 1)] : [m, ""];
  });
  const pre = String(get("tokenizer.ggml.pre") ?? "default");
  const regex = pretokenizerRegex(pre);
  const preTokenizer = regex
    ? {
        type: "Sequence",
        pretokenizers: [
          { type: "Split", pattern: { Regex: regex }, behavior: "Isolated", invert: false },
          { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      }
    : null;
  const vocab = Object.fromEntries(builder.pieces.flatMap((p, i) => (p === null ? [] : [[p, i]])));
  const json = {
    version: "1.0",
    added_tokens: addedTokensJson(added),
    normalizer: null,
    pre_tokenizer: preTokenizer,
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: "BPE", vocab, merges, ignore_merges: pre === "llama-bpe" },
  };
  return {
    kind: "gguf-embedded",
    name,
    model: "BPE",
    spelling: "byte-level",
    tokens: builder.tokens,
    pieces: builder.pieces,
    specialIds: added.filter((a) => a.special).map((a) => a.id),
    merges,
    scores: null,
    added,
    collisions: builder.collisionList(),
    undecodableIds: [...builder.undecodable],
    normalizer: null,
    preTokenizer: preTokenizer ?? { type: "unknown", ggmlPre: pre },
    decoder: json.decoder,
    tokenizerConfig: null,
    modelConfig: null,
    encoderSource: regex
      ? { kind: "hf-json", json }
      : { kind: "none", reason: `GGUF pre-tokenizer "${pre}" has no known regular expression` },
  };
}
