import type { TokenizerRef } from "../formats/types.js";
import type { ModelLocation } from "../io/types.js";
import { loadTokenizerAt } from "./source.js";
import type { Vocabulary } from "./types.js";

/**
 * The canonical form (details in types.ts and bytes.ts): every token is its raw bytes held as a
 * "binary string" (one char per byte, codes 0–255). GPT-2 byte-level spellings (Ġ = 0x20, Ċ = 0x0A…),
 * metaspace (▁ = space), SentencePiece byte fallback (<0xNN>) and tiktoken's base64 all normalise to
 * bytes, so tokens of different families compare equal exactly when their bytes do. Added / special
 * tokens are the UTF-8 bytes of their content.
 */
export type { Vocabulary } from "./types.js";

/** Loads the vocabulary of a model's tokenizer in canonical form. */
export async function loadVocabulary(location: ModelLocation, ref: TokenizerRef): Promise<Vocabulary> {
  const tok = await loadTokenizerAt(location, ref);
  return { kind: tok.kind, tokens: tok.tokens, specialIds: tok.specialIds };
}
