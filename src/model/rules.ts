import type { NameRule } from "./roles.js";

/**
 * Built-in tensor naming rules, over names with the common wrapper prefixes removed (see
 * `stripPrefix`). Order matters: the first matching rule wins, so auxiliary buffers come first.
 */

/** `.weight` / `.bias` ending, captured as `param`. */
const WB = "\\.(?<param>weight|bias)$";
const W = "\\.(?<param>weight)$";
const HF_L = "^layers\\.(?<layer>\\d+)\\.";
const GG_L = "^blk\\.(?<layer>\\d+)\\.";

function r(source: string, role: string, extra: Partial<NameRule> = {}): NameRule {
  return { re: new RegExp(source), role, ...extra };
}

/** Block scales of FP8 / quantised exports and other non-parameter tensors in any layout. */
const AUX_COMMON: NameRule[] = [
  r("\\.(?:weight_scale_inv|weight_scale|input_scale|scale_inv)$", "aux", { auxiliary: true }),
  r("\\.rotary_emb\\.inv_freq$", "aux", { auxiliary: true }),
];

/** Hugging Face layouts of llama, mistral, mixtral, qwen2/3(+moe), gemma/2, phi3, deepseek_v2/v3. */
export const HF_DECODER_RULES: NameRule[] = [
  ...AUX_COMMON,
  r(`^embed_tokens${W}`, "embed"),
  r(`^lm_head${W}`, "head"),
  r(`^norm${WB}`, "final_norm"),
  r(`${HF_L}self_attn\\.q_proj${WB}`, "attn.q"),
  r(`${HF_L}self_attn\\.k_proj${WB}`, "attn.k"),
  r(`${HF_L}self_attn\\.v_proj${WB}`, "attn.v"),
  r(`${HF_L}self_attn\\.o_proj${WB}`, "attn.o"),
  r(`${HF_L}self_attn\\.qkv_proj${WB}`, "attn.qkv"),
  r(`${HF_L}self_attn\\.q_norm${W}`, "attn.q_norm"),
  r(`${HF_L}self_attn\\.k_norm${W}`, "attn.k_norm"),
  // DeepSeek-V2/V3 multi-head latent attention (modeling_deepseek.py DeepseekV3Attention).
  r(`${HF_L}self_attn\\.q_a_proj${WB}`, "mla.q_a"),
  r(`${HF_L}self_attn\\.q_b_proj${WB}`, "mla.q_b"),
  r(`${HF_L}self_attn\\.kv_a_proj_with_mqa${WB}`, "mla.kv_a"),
  r(`${HF_L}self_attn\\.kv_b_proj${WB}`, "mla.kv_b"),
  r(`${HF_L}self_attn\\.q_a_layernorm${W}`, "mla.q_a_norm"),
  r(`${HF_L}self_attn\\.kv_a_layernorm${W}`, "mla.kv_a_norm"),
  r(`${HF_L}mlp\\.gate_proj${WB}`, "mlp.gate"),
  r(`${HF_L}mlp\\.up_proj${WB}`, "mlp.up"),
  r(`${HF_L}mlp\\.down_proj${WB}`, "mlp.down"),
  r(`${HF_L}mlp\\.gate_up_proj${WB}`, "mlp.gate_up"),
  // Per-expert tensors: qwen/deepseek names and Mixtral's w1 (gate) / w3 (up) / w2 (down).
  r(`${HF_L}(?:mlp|block_sparse_moe)\\.experts\\.(?<expert>\\d+)\\.(?:gate_proj|w1)${WB}`, "expert.gate"),
  r(`${HF_L}(?:mlp|block_sparse_moe)\\.experts\\.(?<expert>\\d+)\\.(?:up_proj|w3)${WB}`, "expert.up"),
  r(`${HF_L}(?:mlp|block_sparse_moe)\\.experts\\.(?<expert>\\d+)\\.(?:down_proj|w2)${WB}`, "expert.down"),
  // Fused 3-D expert stacks [experts, out, in] (transformers ≥ 5 `experts.gate_up_proj`, no `.weight`).
  r(`${HF_L}(?:mlp|block_sparse_moe)\\.experts\\.gate_up_proj(?:${WB}|$)`, "experts.gate_up"),
  r(`${HF_L}(?:mlp|block_sparse_moe)\\.experts\\.gate_proj(?:${WB}|$)`, "experts.gate"),
  r(`${HF_L}(?:mlp|block_sparse_moe)\\.experts\\.up_proj(?:${WB}|$)`, "experts.up"),
  r(`${HF_L}(?:mlp|block_sparse_moe)\\.experts\\.down_proj(?:${WB}|$)`, "experts.down"),
  r(`${HF_L}(?:mlp|block_sparse_moe)\\.gate${WB}`, "moe.router"),
  r(`${HF_L}mlp\\.gate\\.e_score_correction_bias$`, "extra.router_bias"),
  r(`${HF_L}mlp\\.shared_experts?\\.gate_proj${WB}`, "shared.gate"),
  r(`${HF_L}mlp\\.shared_experts?\\.up_proj${WB}`, "shared.up"),
  r(`${HF_L}mlp\\.shared_experts?\\.down_proj${WB}`, "shared.down"),
  r(`${HF_L}mlp\\.shared_expert_gate${WB}`, "extra.shared_expert_gate"),
  r(`${HF_L}input_layernorm${WB}`, "norm.input"),
  r(`${HF_L}post_attention_layernorm${WB}`, "norm.post_attention"),
  r(`${HF_L}pre_feedforward_layernorm${WB}`, "norm.pre_feedforward"),
  r(`${HF_L}post_feedforward_layernorm${WB}`, "norm.post_feedforward"),
  // DeepSeek-V3 multi-token-prediction module (layer index = num_hidden_layers).
  r(`${HF_L}enorm${W}`, "norm.enorm"),
  r(`${HF_L}hnorm${W}`, "norm.hnorm"),
  r(`${HF_L}shared_head\\.norm${W}`, "norm.shared_head"),
  r(`${HF_L}eh_proj${W}`, "extra.eh_proj"),
  r(`${HF_L}shared_head\\.head${W}`, "extra.shared_head"),
  r(`${HF_L}embed_tokens${W}`, "extra.embed_tokens"),
];

/** GPT-2 (modeling_gpt2.py): Conv1D weights stored [in, out]; `attn.bias` is the causal-mask buffer. */
export const GPT2_RULES: NameRule[] = [
  r("^h\\.\\d+\\.attn\\.(?:bias|masked_bias)$", "aux", { auxiliary: true }),
  ...AUX_COMMON,
  r(`^wte${W}`, "embed"),
  r(`^wpe${W}`, "extra.position_embed"),
  r(`^lm_head${W}`, "head"),
  r(`^ln_f${WB}`, "final_norm"),
  r(`^h\\.(?<layer>\\d+)\\.ln_1${WB}`, "norm.input"),
  r(`^h\\.(?<layer>\\d+)\\.ln_2${WB}`, "norm.post_attention"),
  r(`^h\\.(?<layer>\\d+)\\.attn\\.c_attn${WB}`, "attn.qkv", { transpose: true }),
  r(`^h\\.(?<layer>\\d+)\\.attn\\.c_proj${WB}`, "attn.o", { transpose: true }),
  r(`^h\\.(?<layer>\\d+)\\.mlp\\.c_fc${WB}`, "mlp.up", { transpose: true }),
  r(`^h\\.(?<layer>\\d+)\\.mlp\\.c_proj${WB}`, "mlp.down", { transpose: true }),
];

/** GPT-NeoX / Pythia (modeling_gpt_neox.py). */
export const NEOX_RULES: NameRule[] = [
  r(`${HF_L}attention\\.(?:bias|masked_bias)$`, "aux", { auxiliary: true }),
  ...AUX_COMMON,
  r(`^embed_in${W}`, "embed"),
  r(`^embed_out${W}`, "head"),
  r(`^final_layer_norm${WB}`, "final_norm"),
  r(`${HF_L}input_layernorm${WB}`, "norm.input"),
  r(`${HF_L}post_attention_layernorm${WB}`, "norm.post_attention"),
  r(`${HF_L}attention\\.query_key_value${WB}`, "attn.qkv_interleaved"),
  r(`${HF_L}attention\\.dense${WB}`, "attn.o"),
  r(`${HF_L}mlp\\.dense_h_to_4h${WB}`, "mlp.up"),
  r(`${HF_L}mlp\\.dense_4h_to_h${WB}`, "mlp.down"),
];

/**
 * GGUF tensor names (llama.cpp gguf-py/gguf/constants.py TENSOR_NAMES). Where the meaning of a name
 * depends on the architecture (ffn_norm, ffn_up), `ggufRules(arch)` adjusts it.
 */
function ggufBase(ffnNorm: string, ffnUp: string): NameRule[] {
  return [
    r("^rope_freqs\\.weight$", "aux", { auxiliary: true }),
    r(`^token_embd${W}`, "embed"),
    r(`^position_embd${W}`, "extra.position_embed"),
    r(`^output${W}`, "head"),
    r(`^output_norm${WB}`, "final_norm"),
    r(`${GG_L}attn_norm${WB}`, "norm.input"),
    r(`${GG_L}attn_post_norm${WB}`, "norm.post_attention"),
    r(`${GG_L}ffn_norm${WB}`, ffnNorm),
    r(`${GG_L}ffn_post_norm${WB}`, "norm.post_feedforward"),
    r(`${GG_L}attn_q${WB}`, "attn.q"),
    r(`${GG_L}attn_k${WB}`, "attn.k"),
    r(`${GG_L}attn_v${WB}`, "attn.v"),
    r(`${GG_L}attn_qkv${WB}`, "attn.qkv"),
    r(`${GG_L}attn_output${WB}`, "attn.o"),
    r(`${GG_L}attn_q_norm${W}`, "attn.q_norm"),
    r(`${GG_L}attn_k_norm${W}`, "attn.k_norm"),
    r(`${GG_L}attn_q_a${WB}`, "mla.q_a"),
    r(`${GG_L}attn_q_b${WB}`, "mla.q_b"),
    r(`${GG_L}attn_kv_a_mqa${WB}`, "mla.kv_a"),
    r(`${GG_L}attn_kv_b${WB}`, "mla.kv_b"),
    // Newer converters also write kv_b split per head for absorbed MLA (k_b transposed): placed as
    // extras; the canonical kv_b must still be stored (it cannot be rebuilt as one TensorRef).
    r(`${GG_L}attn_k_b${WB}`, "extra.mla_k_b"),
    r(`${GG_L}attn_v_b${WB}`, "extra.mla_v_b"),
    r(`${GG_L}attn_q_a_norm${W}`, "mla.q_a_norm"),
    r(`${GG_L}attn_kv_a_norm${W}`, "mla.kv_a_norm"),
    r(`${GG_L}ffn_gate${WB}`, "mlp.gate"),
    r(`${GG_L}ffn_up${WB}`, ffnUp),
    r(`${GG_L}ffn_down${WB}`, "mlp.down"),
    r(`${GG_L}ffn_gate_inp${WB}`, "moe.router"),
    r(`${GG_L}exp_probs_b\\.bias$`, "extra.router_bias", { param: "weight" }),
    r(`${GG_L}ffn_gate_exps${WB}`, "experts.gate"),
    r(`${GG_L}ffn_up_exps${WB}`, "experts.up"),
    r(`${GG_L}ffn_down_exps${WB}`, "experts.down"),
    r(`${GG_L}ffn_gate_shexp${WB}`, "shared.gate"),
    r(`${GG_L}ffn_up_shexp${WB}`, "shared.up"),
    r(`${GG_L}ffn_down_shexp${WB}`, "shared.down"),
    r(`${GG_L}ffn_gate_inp_shexp${WB}`, "extra.shared_expert_gate"),
    r(`${GG_L}nextn\\.enorm${W}`, "norm.enorm"),
    r(`${GG_L}nextn\\.hnorm${W}`, "norm.hnorm"),
    r(`${GG_L}nextn\\.shared_head_norm${W}`, "norm.shared_head"),
    r(`${GG_L}nextn\\.eh_proj${W}`, "extra.eh_proj"),
    r(`${GG_L}nextn\\.shared_head_head${W}`, "extra.shared_head"),
    r(`${GG_L}nextn\\.embed_tokens${W}`, "extra.embed_tokens"),
  ];
}

/** GGUF rules for one model_type: gemma2 calls its pre-FFN norm ffn_norm; phi3 fuses gate+up in ffn_up. */
export function ggufRules(modelType: string): NameRule[] {
  const ffnNorm = modelType === "gemma2" ? "norm.pre_feedforward" : "norm.post_attention";
  const ffnUp = modelType === "phi3" ? "mlp.gate_up" : "mlp.up";
  return ggufBase(ffnNorm, ffnUp);
}

/**
 * Wrapper prefixes of Hugging Face checkpoints, longest first: multimodal wrappers
 * (`language_model.model.`, `model.language_model.`), the usual `model.` / `transformer.` (gpt2) /
 * `gpt_neox.`. Only one is removed.
 */
export const HF_PREFIXES = [
  "language_model.model.",
  "model.language_model.",
  "language_model.",
  "model.",
  "transformer.",
  "gpt_neox.",
] as const;

export function stripPrefix(name: string): string {
  for (const p of HF_PREFIXES) if (name.startsWith(p)) return name.slice(p.length);
  return name;
}
