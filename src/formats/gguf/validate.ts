import { PedigreeError } from "../../errors.js";
import { own } from "../lookup.js";
import { GGUF_DEFAULT_ALIGNMENT, type GgufValueTypeName, MAX_ALIGNMENT } from "./constants.js";
import type { GgufValue } from "./types.js";

/** What a known key must hold: a scalar type set, or an array whose items are of a type set. */
interface KeyRule {
  scalar?: readonly GgufValueTypeName[];
  array?: readonly GgufValueTypeName[];
}

const UINT: readonly GgufValueTypeName[] = ["uint8", "uint16", "uint32", "uint64"];
const INT: readonly GgufValueTypeName[] = [...UINT, "int8", "int16", "int32", "int64"];
const FLOAT: readonly GgufValueTypeName[] = ["float32", "float64"];

/**
 * Types of the keys Pedigree and llama.cpp read (gguf.md "Standardized key-value pairs"). A key of the
 * wrong type is how a crafted file turns into an out-of-bounds read in parsers that trust it
 * (e.g. tokens read as strings when stored as ints): refuse it instead.
 */
const GENERAL_RULES: Record<string, KeyRule> = {
  "general.architecture": { scalar: ["string"] },
  "general.alignment": { scalar: ["uint32"] },
  "general.name": { scalar: ["string"] },
  "general.file_type": { scalar: UINT },
  "general.quantization_version": { scalar: UINT },
  "tokenizer.ggml.model": { scalar: ["string"] },
  "tokenizer.ggml.pre": { scalar: ["string"] },
  "tokenizer.ggml.tokens": { array: ["string"] },
  "tokenizer.ggml.scores": { array: ["float32"] },
  "tokenizer.ggml.token_type": { array: ["int32"] },
  "tokenizer.ggml.merges": { array: ["string"] },
  "tokenizer.ggml.added_tokens": { array: ["string"] },
  "tokenizer.ggml.bos_token_id": { scalar: UINT },
  "tokenizer.ggml.eos_token_id": { scalar: UINT },
  "tokenizer.ggml.unknown_token_id": { scalar: UINT },
  "tokenizer.ggml.padding_token_id": { scalar: UINT },
  "tokenizer.chat_template": { scalar: ["string"] },
  // gguf-split writes uint16 / uint16 / int32; any integer type is accepted.
  "split.no": { scalar: INT },
  "split.count": { scalar: INT },
  "split.tensors.count": { scalar: INT },
};

/** `{arch}.*` keys: counts may be per-layer arrays (llama.cpp's `get_key_or_arr`). */
const ARCH_RULES: Record<string, KeyRule> = {
  context_length: { scalar: UINT },
  embedding_length: { scalar: UINT },
  block_count: { scalar: UINT },
  feed_forward_length: { scalar: UINT, array: INT },
  expert_feed_forward_length: { scalar: UINT },
  expert_count: { scalar: UINT },
  expert_used_count: { scalar: UINT },
  expert_shared_count: { scalar: UINT },
  vocab_size: { scalar: UINT },
  "attention.head_count": { scalar: UINT, array: INT },
  "attention.head_count_kv": { scalar: UINT, array: INT },
  "attention.key_length": { scalar: UINT },
  "attention.value_length": { scalar: UINT },
  "attention.layer_norm_rms_epsilon": { scalar: FLOAT },
  "attention.layer_norm_epsilon": { scalar: FLOAT },
  "rope.freq_base": { scalar: FLOAT },
  "rope.dimension_count": { scalar: UINT },
};

function describeType(v: GgufValue): string {
  return v.type === "array" ? `array of ${v.itemType}` : v.type;
}

function ruleFor(key: string, arch: string | null): KeyRule | undefined {
  const general = own(GENERAL_RULES, key);
  if (general) return general;
  if (arch && key.startsWith(`${arch}.`)) return own(ARCH_RULES, key.slice(arch.length + 1));
  return undefined;
}

function matches(v: GgufValue, rule: KeyRule): boolean {
  if (v.type === "array") return rule.array?.includes(v.itemType) ?? false;
  return rule.scalar?.includes(v.type) ?? false;
}

/** Every known key has its documented type; tokenizer tables agree in length. */
export function checkKnownKeys(metadata: Map<string, GgufValue>, file: string): void {
  const archValue = metadata.get("general.architecture");
  const arch = archValue?.type === "string" ? archValue.value : null;
  for (const [key, v] of metadata) {
    const rule = ruleFor(key, arch);
    if (rule && !matches(v, rule)) {
      const expected = [...(rule.scalar ?? []), ...(rule.array ?? []).map((t) => `array of ${t}`)];
      throw new PedigreeError(
        "GGUF_BAD_METADATA_TYPE",
        `${file}: metadata "${key}" is ${describeType(v)}, expected ${expected.join(" or ")}`,
        {
          details: { file, key, type: describeType(v), expected },
          hint: "The GGUF file is corrupt or was written by a faulty converter",
        },
      );
    }
  }
  checkTokenizerLengths(metadata, file);
}

function checkTokenizerLengths(metadata: Map<string, GgufValue>, file: string): void {
  const tokens = metadata.get("tokenizer.ggml.tokens");
  if (tokens?.type !== "array") return;
  for (const key of ["tokenizer.ggml.scores", "tokenizer.ggml.token_type"]) {
    const v = metadata.get(key);
    if (v?.type === "array" && v.value.length !== tokens.value.length) {
      throw new PedigreeError(
        "GGUF_BAD_METADATA",
        `${file}: "${key}" has ${v.value.length} entries for ${tokens.value.length} tokens`,
        {
          details: { file, key, length: v.value.length, tokens: tokens.value.length },
          hint: "Per-token tables must have one entry per token; the file is corrupt",
        },
      );
    }
  }
}

/** `general.alignment`: a power of two in [1, MAX_ALIGNMENT] (0 would divide by zero; others misplace data). */
export function readAlignment(metadata: Map<string, GgufValue>, file: string): number {
  const v = metadata.get("general.alignment");
  if (v === undefined) return GGUF_DEFAULT_ALIGNMENT;
  const a = v.type === "uint32" ? v.value : Number.NaN;
  if (!(a >= 1 && a <= MAX_ALIGNMENT && (a & (a - 1)) === 0)) {
    throw new PedigreeError(
      "GGUF_BAD_ALIGNMENT",
      `${file}: general.alignment ${a} is not a power of two in [1, ${MAX_ALIGNMENT}]`,
      {
        details: { file, alignment: a, max: MAX_ALIGNMENT },
        hint: "The GGUF file is corrupt or hostile",
      },
    );
  }
  return a;
}
