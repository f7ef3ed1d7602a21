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
/** DeepSeek-V3's third Split step (tokenizer.json as published). */
const DEEPSEEK_V3 =
  "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";
/** o200k_base (GPT-4o) as written in its tokenizer.json. */
const O200K =
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const PRETOKENIZERS = new Map<string, string>([
  ["default", GPT2],
  ["gpt2", GPT2],
  ["llama-bpe", LLAMA3],
  ["llama3", LLAMA3],
  ["qwen2", QWEN2],
]);

/** The regex of a GGUF `tokenizer.ggml.pre` name, or null (a Map: a name like "__proto__" finds nothing). */
export function pretokenizerRegex(name: string): string | null {
  return PRETOKENIZERS.get(name) ?? null;
}

/**
 * Patterns of published tokenizers that use lookahead (`\s+(?!\S)`), which RE2 cannot run. Each was
 * checked to match in linear time on V8 (no nested or overlapping quantifiers that backtrack beyond
 * one character), so they keep the reference library's exact behaviour; every other pattern a
 * tokenizer.json carries runs on RE2 (see encode.ts).
 */
export const VETTED_PATTERNS: ReadonlySet<string> = new Set([GPT2, LLAMA3, QWEN2, DEEPSEEK_V3, O200K]);
