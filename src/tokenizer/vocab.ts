import { PedigreeError } from "../errors.js";
import type { TokenizerRef } from "../formats/types.js";
import type { ModelLocation } from "../io/types.js";

/**
 * A vocabulary in canonical form: each token id's string with byte-level (Ġ…) and metaspace (▁)
 * spellings normalised to the token's raw bytes, held as a "binary string" (one char per byte,
 * code 0–255), so tokens from different tokenizer families compare equal exactly when their bytes do.
 */
export interface Vocabulary {
  kind: TokenizerRef["kind"];
  /** Canonical token by id; null where an id is unused. */
  tokens: (string | null)[];
  /** Ids of special / added control tokens. */
  specialIds: number[];
}

/** Loads the vocabulary of a model's tokenizer. (Placeholder; implemented by the tokenizer work.) */
export async function loadVocabulary(_location: ModelLocation, _ref: TokenizerRef): Promise<Vocabulary> {
  throw new PedigreeError("TOKENIZER_NOT_YET", "tokenizer loading is not implemented yet");
}
