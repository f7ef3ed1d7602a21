import type { NameRule } from "./roles.js";
import { GPT2_RULES, ggufRules, HF_DECODER_RULES, NEOX_RULES } from "./rules.js";

/** What the view needs to know about one architecture beyond its tensor names. */
export interface Family {
  /** Gated MLP (SwiGLU/GeGLU): gate + up + down. gpt2 and gpt_neox have up + down only. */
  gated: boolean;
  /** Tied embeddings when config.json does not say (the transformers default of the model class). */
  tiedDefault: boolean;
  /**
   * GGUF stores q/k rows permuted for llama.cpp's interleaved RoPE (convert_hf_to_gguf.py applies
   * `LlamaModel.permute` only to these; qwen2, gemma, phi3, deepseek2 … use NeoX-style RoPE unpermuted).
   */
  ggufRopePermuted: boolean;
  /** DeepSeek: layers at index ≥ num_hidden_layers are multi-token-prediction modules. */
  hasMtp: boolean;
  hfRules: NameRule[];
}

const decoder = (over: Partial<Family> = {}): Family => ({
  gated: true,
  tiedDefault: false,
  ggufRopePermuted: false,
  hasMtp: false,
  hfRules: HF_DECODER_RULES,
  ...over,
});

/** Supported Hugging Face model_types. */
export const FAMILIES: Readonly<Record<string, Family>> = {
  llama: decoder({ ggufRopePermuted: true }),
  mistral: decoder({ ggufRopePermuted: true }),
  mixtral: decoder({ ggufRopePermuted: true }),
  qwen2: decoder(),
  qwen2_moe: decoder(),
  qwen3: decoder(),
  qwen3_moe: decoder(),
  gemma: decoder({ tiedDefault: true }),
  gemma2: decoder({ tiedDefault: true }),
  phi3: decoder(),
  deepseek_v2: decoder({ hasMtp: true }),
  deepseek_v3: decoder({ hasMtp: true }),
  gpt2: decoder({ gated: false, tiedDefault: true, hfRules: GPT2_RULES }),
  gpt_neox: decoder({ gated: false, hfRules: NEOX_RULES }),
};

export function familyOf(modelType: string): Family | null {
  return Object.hasOwn(FAMILIES, modelType) ? (FAMILIES[modelType] as Family) : null;
}

/** The naming rules for a family in a format. */
export function rulesFor(family: Family, modelType: string, gguf: boolean): NameRule[] {
  return gguf ? ggufRules(modelType) : family.hfRules;
}
