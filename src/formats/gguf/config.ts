/**
 * A config.json equivalent from GGUF metadata (llama.cpp's `{arch}.*` keys, gguf.md "LLM" section),
 * in Hugging Face terms so the model view treats a GGUF file like its source checkpoint.
 */

import { own } from "../lookup.js";
import type { GgufTensorInfo, GgufValue } from "./types.js";

/** general.architecture → HF model_type where they differ; others pass through unchanged. */
const MODEL_TYPES: Record<string, string> = {
  qwen2moe: "qwen2_moe",
  qwen3moe: "qwen3_moe",
  deepseek2: "deepseek_v2",
  gptneox: "gpt_neox",
  "gpt-neox": "gpt_neox",
};

/** `{arch}.` suffix → HF key, for the keys every architecture shares. */
const COMMON_KEYS: [string, string][] = [
  ["embedding_length", "hidden_size"],
  ["block_count", "num_hidden_layers"],
  ["context_length", "max_position_embeddings"],
  ["attention.layer_norm_rms_epsilon", "rms_norm_eps"],
  ["attention.layer_norm_epsilon", "layer_norm_eps"],
  ["rope.freq_base", "rope_theta"],
  ["attention.key_length", "head_dim"],
  ["expert_count", "num_local_experts"],
  ["expert_used_count", "num_experts_per_tok"],
  ["expert_feed_forward_length", "moe_intermediate_size"],
  ["attention.sliding_window", "sliding_window"],
  ["attn_logit_softcapping", "attn_logit_softcapping"],
  ["final_logit_softcapping", "final_logit_softcapping"],
];

/** A scalar number (64-bit integers converted), or for per-layer arrays their largest entry. */
export function numberOf(v: GgufValue | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (v.type === "array") {
    // A loop, not Math.max(...xs): a hostile file's million-entry array must not blow the stack.
    let max: number | undefined;
    for (const x of v.value as ArrayLike<unknown> & Iterable<unknown>) {
      const n = Number(x);
      if (Number.isFinite(n) && (max === undefined || n > max)) max = n;
    }
    return max;
  }
  if (v.type === "string" || v.type === "bool") return undefined;
  return Number(v.value);
}

/** model_type for a GGUF architecture, using what only the metadata can tell apart. */
export function modelTypeOf(arch: string, get: (k: string) => GgufValue | undefined): string {
  const experts = numberOf(get(`${arch}.expert_count`)) ?? 0;
  // Mixtral (and Mistral) convert to architecture "llama"; only the experts tell Mixtral apart.
  if (arch === "llama" && experts > 0) return "mixtral";
  // DeepSeek-V3 routes with sigmoid gating (expert_gating_func 2); V2 with softmax (1).
  if (arch === "deepseek2" && numberOf(get(`${arch}.expert_gating_func`)) === 2) return "deepseek_v3";
  return own(MODEL_TYPES, arch) ?? arch;
}

export function ggufConfig(
  metadata: Map<string, GgufValue>,
  tensors: GgufTensorInfo[],
): Record<string, unknown> | null {
  const archValue = metadata.get("general.architecture");
  if (archValue?.type !== "string") return null;
  const arch = archValue.value;
  const get = (k: string) => metadata.get(k);
  const a = (k: string) => numberOf(get(`${arch}.${k}`));
  const modelType = modelTypeOf(arch, get);
  const config: Record<string, unknown> = { model_type: modelType, gguf_architecture: arch };
  for (const [suffix, key] of COMMON_KEYS) {
    const v = a(suffix);
    if (v !== undefined) config[key] = v;
  }
  const heads = a("attention.head_count");
  set(config, "intermediate_size", a("feed_forward_length"));
  set(config, "num_attention_heads", heads);
  set(config, "num_key_value_heads", a("attention.head_count_kv") ?? heads);
  set(config, "vocab_size", vocabSize(metadata, tensors, arch));
  set(config, "bos_token_id", numberOf(get("tokenizer.ggml.bos_token_id")));
  set(config, "eos_token_id", numberOf(get("tokenizer.ggml.eos_token_id")));
  config.tie_word_embeddings = !tensors.some((t) => t.name === "output.weight");
  Object.assign(config, archSpecific(modelType, a, get, arch));
  // MLA's key_length is the q/k width (nope + rope), not a per-head size HF configs call head_dim.
  if (modelType.startsWith("deepseek")) delete config.head_dim;
  return config;
}

function set(config: Record<string, unknown>, key: string, v: unknown): void {
  if (v !== undefined) config[key] = v;
}

/** Embedding rows are the model's vocabulary (may exceed the token list when padded). */
function vocabSize(
  metadata: Map<string, GgufValue>,
  tensors: GgufTensorInfo[],
  arch: string,
): number | undefined {
  const embed = tensors.find((t) => t.name === "token_embd.weight");
  if (embed && embed.shape.length === 2) return embed.shape[0];
  const tokens = metadata.get("tokenizer.ggml.tokens");
  if (tokens?.type === "array") return tokens.value.length;
  return numberOf(metadata.get(`${arch}.vocab_size`));
}

type Num = (k: string) => number | undefined;

function archSpecific(
  modelType: string,
  a: Num,
  get: (k: string) => GgufValue | undefined,
  arch: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => set(out, k, v);
  if (modelType === "qwen2_moe" || modelType === "qwen3_moe") {
    put("num_experts", a("expert_count"));
    put("shared_expert_intermediate_size", a("expert_shared_feed_forward_length"));
  }
  if (modelType === "deepseek_v2" || modelType === "deepseek_v3")
    Object.assign(out, deepseekConfig(a, get, arch));
  if (modelType === "gpt2") {
    put("n_embd", a("embedding_length"));
    put("n_layer", a("block_count"));
    put("n_head", a("attention.head_count"));
    put("n_inner", a("feed_forward_length"));
    put("n_positions", a("context_length"));
    put("layer_norm_epsilon", a("attention.layer_norm_epsilon"));
  }
  if (modelType === "gpt_neox") {
    const hidden = a("embedding_length");
    const heads = a("attention.head_count");
    const rope = a("rope.dimension_count");
    if (hidden && heads && rope) put("rotary_pct", rope / (hidden / heads));
    const parallel = get(`${arch}.use_parallel_residual`);
    if (parallel?.type === "bool") put("use_parallel_residual", parallel.value);
  }
  return out;
}

/** DeepSeek-V2/V3 MLA and MoE keys (convert_hf_to_gguf.py `DeepseekV2Model.set_gguf_parameters`). */
function deepseekConfig(
  a: Num,
  get: (k: string) => GgufValue | undefined,
  arch: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const rope = a("rope.dimension_count");
  // Newer converters store the absorbed-MLA sizes in key_length/value_length and the original ones in *_mla.
  const keyLength = a("attention.key_length_mla") ?? a("attention.key_length");
  const valueLength = a("attention.value_length_mla") ?? a("attention.value_length");
  const entries: [string, number | undefined][] = [
    ["n_routed_experts", a("expert_count")],
    ["n_shared_experts", a("expert_shared_count")],
    ["first_k_dense_replace", a("leading_dense_block_count")],
    ["q_lora_rank", a("attention.q_lora_rank")],
    ["kv_lora_rank", a("attention.kv_lora_rank")],
    ["qk_rope_head_dim", rope],
    ["qk_nope_head_dim", keyLength !== undefined && rope !== undefined ? keyLength - rope : undefined],
    ["v_head_dim", valueLength],
    ["routed_scaling_factor", a("expert_weights_scale")],
    ["n_group", a("expert_group_count")],
    ["topk_group", a("expert_group_used_count")],
    ["num_nextn_predict_layers", a("nextn_predict_layers")],
  ];
  for (const [k, v] of entries) set(out, k, v);
  const norm = get(`${arch}.expert_weights_norm`);
  if (norm?.type === "bool") out.norm_topk_prob = norm.value;
  return out;
}
