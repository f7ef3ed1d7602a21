import { PedigreeError } from "../errors.js";
import { own } from "../formats/lookup.js";
import type { Checkpoint } from "../formats/types.js";

/**
 * The architecture facts the view needs, normalised from config.json (names differ by family) or
 * from GGUF metadata (`<arch>.block_count` …). Null = not stated; the view then derives the value from
 * tensor shapes or reports what is missing.
 */
export interface ArchConfig {
  /** config.json model_type, or the equivalent for GGUF (qwen2moe → qwen2_moe, deepseek2 → deepseek_v2/v3). */
  modelType: string;
  /** Raw architecture name as found (GGUF `general.architecture`, or model_type). */
  sourceArchitecture: string;
  /** Main decoder stack size (without MTP layers). */
  layers: number | null;
  hiddenSize: number | null;
  heads: number | null;
  kvHeads: number | null;
  headDim: number | null;
  intermediateSize: number | null;
  experts: number | null;
  expertsPerToken: number | null;
  sharedExperts: number | null;
  tiedEmbeddings: boolean | null;
  /** DeepSeek-V3 `num_nextn_predict_layers`. */
  mtpLayers: number;
  fromGguf: boolean;
}

function num(v: unknown): number | null {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "bigint") return Number(v);
  // GGUF per-layer arrays (e.g. head_count_kv of hybrid models): the first layer's value.
  if (Array.isArray(v) && v.length > 0) return num(v[0]);
  return null;
}

function first(cfg: Record<string, unknown>, keys: readonly string[]): number | null {
  for (const k of keys) {
    const v = num(cfg[k]);
    if (v !== null) return v;
  }
  return null;
}

function headDimOf(cfg: Record<string, unknown>): number | null {
  const nope = num(cfg.qk_nope_head_dim);
  const rope = num(cfg.qk_rope_head_dim);
  // MLA: a query head is the no-RoPE part plus the RoPE part (DeepSeek-V2 paper §2.1.3).
  if (nope !== null && rope !== null) return nope + rope;
  return num(cfg.head_dim);
}

/** Normalises a config.json object. */
export function archConfigFromHf(cfg: Record<string, unknown>): ArchConfig {
  const modelType = typeof cfg.model_type === "string" ? cfg.model_type : "";
  const tied = cfg.tie_word_embeddings;
  return {
    modelType,
    sourceArchitecture: modelType,
    layers: first(cfg, ["num_hidden_layers", "n_layer", "num_layers"]),
    hiddenSize: first(cfg, ["hidden_size", "n_embd", "d_model"]),
    heads: first(cfg, ["num_attention_heads", "n_head"]),
    kvHeads: first(cfg, ["num_key_value_heads"]),
    headDim: headDimOf(cfg),
    intermediateSize: first(cfg, ["intermediate_size", "n_inner"]),
    experts: first(cfg, ["num_local_experts", "num_experts", "n_routed_experts"]),
    expertsPerToken: first(cfg, ["num_experts_per_tok"]),
    sharedExperts: first(cfg, ["n_shared_experts"]),
    tiedEmbeddings: typeof tied === "boolean" ? tied : null,
    mtpLayers: first(cfg, ["num_nextn_predict_layers"]) ?? 0,
    fromGguf: false,
  };
}

/** llama.cpp architecture names that differ from the Hugging Face model_type. */
const GGUF_ARCH_TO_MODEL_TYPE: Record<string, string> = {
  qwen2moe: "qwen2_moe",
  qwen3moe: "qwen3_moe",
  deepseek2: "deepseek_v2",
  gptneox: "gpt_neox",
};

/** Normalises GGUF metadata (`general.architecture` and the `<arch>.*` keys of the GGUF spec). */
export function archConfigFromGguf(meta: Record<string, unknown>, tensorNames: Iterable<string>): ArchConfig {
  const arch = meta["general.architecture"];
  if (typeof arch !== "string") {
    throw new PedigreeError("MODEL_UNKNOWN_ARCHITECTURE", "GGUF file has no general.architecture key", {
      hint: "Pass a mapping file with --mapping (see docs/architectures.md)",
    });
  }
  const k = (key: string) => num(meta[`${arch}.${key}`]);
  const names = [...tensorNames];
  const experts = k("expert_count");
  let modelType = own(GGUF_ARCH_TO_MODEL_TYPE, arch) ?? arch;
  // llama.cpp converts Mixtral as "llama" with experts, and DeepSeek-V3 as "deepseek2" with the
  // V3-only router bias exp_probs_b; name them as their Hugging Face model_type would.
  if (arch === "llama" && experts !== null && experts > 0) modelType = "mixtral";
  if (arch === "deepseek2" && names.some((n) => n.endsWith(".exp_probs_b.bias"))) modelType = "deepseek_v3";
  const keyLength = k("attention.key_length");
  return {
    modelType,
    sourceArchitecture: arch,
    layers: k("block_count"),
    hiddenSize: k("embedding_length"),
    heads: k("attention.head_count"),
    kvHeads: k("attention.head_count_kv"),
    headDim: keyLength,
    intermediateSize: k("feed_forward_length"),
    experts,
    expertsPerToken: k("expert_used_count"),
    sharedExperts: k("expert_shared_count"),
    tiedEmbeddings: null,
    mtpLayers: k("nextn_predict_layers") ?? 0,
    fromGguf: true,
  };
}

/** The normalised config of a checkpoint, or a coded error when there is none to read. */
export function archConfigOf(ckpt: Checkpoint): ArchConfig {
  const gguf = ckpt.format === "gguf";
  // The GGUF reader translates its metadata into a config.json equivalent (src/formats/gguf/config.ts);
  // the metadata keys are read directly only when it could not.
  if (ckpt.config && typeof ckpt.config.model_type === "string")
    return {
      ...archConfigFromHf(ckpt.config),
      sourceArchitecture: String(ckpt.config.gguf_architecture ?? ckpt.config.model_type),
      fromGguf: gguf,
    };
  if (gguf && typeof ckpt.metadata["general.architecture"] === "string")
    return archConfigFromGguf(ckpt.metadata, ckpt.tensors.keys());
  if (ckpt.config && typeof ckpt.config["general.architecture"] === "string")
    return archConfigFromGguf(ckpt.config, ckpt.tensors.keys());
  throw new PedigreeError("MODEL_UNKNOWN_ARCHITECTURE", "the checkpoint has no config.json model_type", {
    details: { format: ckpt.format, location: ckpt.location.spec },
    hint:
      "Put the model's config.json next to the weights, or pass a mapping file with --mapping " +
      "(see docs/architectures.md)",
  });
}
