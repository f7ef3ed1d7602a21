/**
 * Pre-tokenization regular expressions by the names GGUF files use in `tokenizer.ggml.pre`
 * (llama.cpp's names), as published in the corresponding tokenizer.json / tiktoken definitions.
 * Only names whose pre-tokenizer is a single Split regex are listed; others have no encoder.
 */
const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const LLAMA3 =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2 =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

export const PRETOKENIZER_REGEX: Readonly<Record<string, string>> = {
  default: GPT2,
  gpt2: GPT2,
  "llama-bpe": LLAMA3,
  llama3: LLAMA3,
  qwen2: QWEN2,
};
