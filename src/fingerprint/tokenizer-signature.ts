import { createHash } from "node:crypto";
import type { Vocabulary } from "../tokenizer/vocab.js";
import type { TokenizerSignature } from "./types.js";

/**
 * Tokenizer signature (E1): the canonical vocabulary and its SHA-256, computed over, for each id in
 * order, one tag byte (0 = unused id, 1 = token) then, for tokens, u32le byte length and the
 * token's canonical bytes (one byte per char of the binary string, see src/tokenizer/vocab.ts).
 */
export function tokenizerSignature(vocab: Vocabulary): TokenizerSignature {
  const h = createHash("sha256");
  const len = Buffer.alloc(4);
  for (const tok of vocab.tokens) {
    if (tok === null) {
      h.update(Uint8Array.of(0));
      continue;
    }
    const bytes = Buffer.from(tok, "latin1");
    len.writeUInt32LE(bytes.length, 0);
    h.update(Uint8Array.of(1));
    h.update(len);
    h.update(bytes);
  }
  return {
    kind: vocab.kind,
    vocabSize: vocab.tokens.length,
    sha256: h.digest("hex"),
    tokens: [...vocab.tokens],
  };
}
