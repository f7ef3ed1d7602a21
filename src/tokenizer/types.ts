import type { TokenizerKind } from "../formats/types.js";

/**
 * A vocabulary in canonical form: each token id's string with byte-level (Ġ…), metaspace (▁),
 * byte-fallback (<0xNN>) and base64 (tiktoken) spellings normalised to the token's raw bytes, held as
 * a "binary string" (one char per byte, code 0–255; see bytes.ts), so tokens from different tokenizer
 * families compare equal exactly when their bytes do. Special/added tokens are the UTF-8 bytes of
 * their content. WordPiece: "##x" is the continuation "x"; a word-initial piece "x" is " x".
 */
export interface Vocabulary {
  kind: TokenizerKind;
  /** Canonical token by id; null where an id is unused. */
  tokens: (string | null)[];
  /** Ids of special / added control tokens. */
  specialIds: number[];
}

/** How a family spells token bytes in its files. */
export type PieceSpelling = "byte-level" | "metaspace" | "wordpiece" | "base64" | "plain";

export type TokenizerModelType = "BPE" | "Unigram" | "WordPiece";

export interface AddedTokenInfo {
  id: number;
  /** Content as written in the file (plain text, not byte-level spelled). */
  content: string;
  special: boolean;
}

/** Two or more pieces claiming one id (a collision) — only visible while loading. */
export interface IdCollision {
  id: number;
  pieces: string[];
}

/**
 * Everything a loader read from a tokenizer, kept close to the file so `audit` can check it and
 * `compare` can explain differences. `tokens` are canonical; `pieces` are spelled as in the file.
 */
export interface LoadedTokenizer extends Vocabulary {
  /** Display name: path or built-in name. */
  name: string;
  model: TokenizerModelType;
  spelling: PieceSpelling;
  /** Pieces by id as the file spells them (model vocabulary plus added tokens). */
  pieces: (string | null)[];
  /** BPE merges in priority order, as pairs of pieces spelled as in the file; null when the model has none. */
  merges: [string, string][] | null;
  /** Unigram / SentencePiece scores by id (log probabilities); null when absent. */
  scores: Float32Array | null;
  added: AddedTokenInfo[];
  collisions: IdCollision[];
  /** Ids whose piece could not be turned into bytes (e.g. a byte-level piece with a char outside the table). */
  undecodableIds: number[];
  /** tokenizer.json `normalizer` / `pre_tokenizer` / `decoder` objects, or their equivalent; null when none. */
  normalizer: unknown;
  preTokenizer: unknown;
  decoder: unknown;
  /** tokenizer_config.json and config.json found next to the tokenizer, for consistency checks. */
  tokenizerConfig: Record<string, unknown> | null;
  modelConfig: Record<string, unknown> | null;
  /** What the encoder is built from (see encode.ts). */
  encoderSource: EncoderSource;
}

export type EncoderSource =
  | { kind: "hf-json"; json: Record<string, unknown> }
  | { kind: "tiktoken"; pattern: string | null; ranks: Map<string, number>; specials: Record<string, number> }
  | { kind: "none"; reason: string };
