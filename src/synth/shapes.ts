import { PedigreeError } from "../errors.js";

/** Architecture of a synthetic model (Hugging Face config names in comments). */
export interface SynthArch {
  /** config.json model_type: llama | qwen2 | mixtral | deepseek_v3. */
  modelType: "llama" | "qwen2" | "mixtral" | "deepseek_v3";
  hidden: number; // hidden_size
  intermediate: number; // intermediate_size (dense FFN)
  layers: number; // num_hidden_layers
  heads: number; // num_attention_heads
  kvHeads: number; // num_key_value_heads
  headDim: number;
  vocab: number; // vocab_size
  tied: boolean; // tie_word_embeddings
  qkvBias: boolean; // Qwen2 attention biases
  moe: { experts: number; topK: number; intermediate: number; shared: number; firstDense: number } | null;
  /** DeepSeek-V2/V3 multi-head latent attention. */
  mla: { qLoraRank: number; kvLoraRank: number; nopeDim: number; ropeDim: number; vDim: number } | null;
}

const dense = (a: Omit<SynthArch, "moe" | "mla">): SynthArch => ({ ...a, moe: null, mla: null });

/** Named real shapes (published configs), full size; `scaleArch` shrinks them. */
export const SHAPES: Readonly<Record<string, SynthArch>> = {
  "llama-3.2-1b": dense({
    modelType: "llama",
    hidden: 2048,
    intermediate: 8192,
    layers: 16,
    heads: 32,
    kvHeads: 8,
    headDim: 64,
    vocab: 128256,
    tied: true,
    qkvBias: false,
  }),
  "qwen2.5-0.5b": dense({
    modelType: "qwen2",
    hidden: 896,
    intermediate: 4864,
    layers: 24,
    heads: 14,
    kvHeads: 2,
    headDim: 64,
    vocab: 151936,
    tied: true,
    qkvBias: true,
  }),
  "qwen2.5-7b": dense({
    modelType: "qwen2",
    hidden: 3584,
    intermediate: 18944,
    layers: 28,
    heads: 28,
    kvHeads: 4,
    headDim: 128,
    vocab: 152064,
    tied: false,
    qkvBias: true,
  }),
  "mixtral-8x7b": {
    modelType: "mixtral",
    hidden: 4096,
    intermediate: 14336,
    layers: 32,
    heads: 32,
    kvHeads: 8,
    headDim: 128,
    vocab: 32000,
    tied: false,
    qkvBias: false,
    moe: { experts: 8, topK: 2, intermediate: 14336, shared: 0, firstDense: 0 },
    mla: null,
  },
  "deepseek-v3": {
    modelType: "deepseek_v3",
    hidden: 7168,
    intermediate: 18432,
    layers: 61,
    heads: 128,
    kvHeads: 128,
    headDim: 192,
    vocab: 129280,
    tied: false,
    qkvBias: false,
    moe: { experts: 256, topK: 8, intermediate: 2048, shared: 1, firstDense: 3 },
    mla: { qLoraRank: 1536, kvLoraRank: 512, nopeDim: 128, ropeDim: 64, vDim: 128 },
  },
};

export interface ScaleOptions {
  /** Multiplies widths (hidden, FFN, heads, vocab, ranks); 1 = the real shape. */
  scale?: number;
  /** Layer count (default: the real count × scale, at least 2). */
  layers?: number;
  vocab?: number;
  experts?: number;
}

/**
 * Caps on user-chosen dimensions, checked before any tensor is described: every tensor of every
 * layer is planned up front, so an unbounded count (`--layers 1000000000`) grows memory without
 * end. Each cap is far above any published model: 126 layers (Llama 3.1 405B), ~262k tokens
 * (Gemma), 384 routed experts (Kimi K2).
 */
export const MAX_SYNTH_LAYERS = 1024;
export const MAX_SYNTH_VOCAB = 1 << 21;
export const MAX_SYNTH_EXPERTS = 4096;

function checkCaps(opts: ScaleOptions): void {
  const caps: [keyof ScaleOptions, number][] = [
    ["layers", MAX_SYNTH_LAYERS],
    ["vocab", MAX_SYNTH_VOCAB],
    ["experts", MAX_SYNTH_EXPERTS],
  ];
  for (const [key, limit] of caps) {
    const v = opts[key];
    if (v === undefined) continue;
    if (!(Number.isSafeInteger(v) && v >= 1 && v <= limit)) {
      throw new PedigreeError("USAGE_LIMIT_EXCEEDED", `--${key} ${v} is outside 1–${limit}`, {
        details: { option: `--${key}`, value: v, limit },
        hint: `Synthetic models take at most ${limit} ${key}`,
      });
    }
  }
}

export function shapeNames(): string[] {
  return Object.keys(SHAPES);
}

/** A named shape, shrunk: head counts scale, head dims stay (RoPE needs even dims), widths stay multiples of 32. */
export function scaleArch(name: string, opts: ScaleOptions = {}): SynthArch {
  const base = SHAPES[name];
  if (!base) {
    throw new PedigreeError("USAGE_UNKNOWN_SHAPE", `Unknown synthetic shape "${name}"`, {
      details: { shape: name, known: shapeNames() },
      hint: `Use one of: ${shapeNames().join(", ")}`,
    });
  }
  checkCaps(opts);
  const s = opts.scale ?? 1;
  if (!(s > 0 && s <= 1)) {
    throw new PedigreeError("USAGE_INVALID_OPTION", `--scale must be in (0, 1], got ${s}`, {
      details: { scale: s },
    });
  }
  const width = (x: number, q = 32) => Math.max(q, Math.round((x * s) / q) * q);
  const group = base.heads / base.kvHeads;
  const kvHeads = Math.max(1, Math.round(base.kvHeads * s));
  // Head dims stay real down to scale 0.1 (so q/o widths stay multiples of GGUF's 256-wide blocks).
  const headDim = s >= 0.1 ? base.headDim : Math.max(16, Math.round((base.headDim * Math.sqrt(s)) / 8) * 8);
  const heads = kvHeads * group;
  const hidden = s === 1 ? base.hidden : width(base.hidden);
  const scaled: SynthArch = {
    ...base,
    hidden,
    intermediate: width(base.intermediate),
    layers: opts.layers ?? Math.max(2, Math.round(base.layers * s)),
    heads,
    kvHeads,
    headDim,
    vocab: opts.vocab ?? (s === 1 ? base.vocab : width(base.vocab, 64)),
    moe: base.moe && {
      ...base.moe,
      experts: opts.experts ?? Math.max(2, Math.round(base.moe.experts * Math.sqrt(s))),
      intermediate: width(base.moe.intermediate),
      topK: Math.min(base.moe.topK, opts.experts ?? base.moe.experts),
      firstDense: Math.min(base.moe.firstDense, 1),
    },
    mla: base.mla && {
      qLoraRank: width(base.mla.qLoraRank),
      kvLoraRank: width(base.mla.kvLoraRank),
      nopeDim: Math.max(16, Math.round((base.mla.nopeDim * Math.sqrt(s)) / 8) * 8),
      ropeDim: Math.max(8, Math.round((base.mla.ropeDim * Math.sqrt(s)) / 8) * 8),
      vDim: Math.max(16, Math.round((base.mla.vDim * Math.sqrt(s)) / 8) * 8),
    },
  };
  if (scaled.mla) scaled.headDim = scaled.mla.nopeDim + scaled.mla.ropeDim;
  if (s === 1 && opts.experts && scaled.moe) scaled.moe.topK = Math.min(scaled.moe.topK, opts.experts);
  return scaled;
}

/** config.json as transformers writes it for this architecture (the fields readers use). */
export function configJson(a: SynthArch): Record<string, unknown> {
  const archName = {
    llama: "LlamaForCausalLM",
    qwen2: "Qwen2ForCausalLM",
    mixtral: "MixtralForCausalLM",
    deepseek_v3: "DeepseekV3ForCausalLM",
  }[a.modelType];
  const c: Record<string, unknown> = {
    architectures: [archName],
    model_type: a.modelType,
    hidden_size: a.hidden,
    intermediate_size: a.intermediate,
    num_hidden_layers: a.layers,
    num_attention_heads: a.heads,
    num_key_value_heads: a.kvHeads,
    head_dim: a.headDim,
    vocab_size: a.vocab,
    tie_word_embeddings: a.tied,
    rms_norm_eps: 1e-5,
    rope_theta: 500000,
    hidden_act: "silu",
    torch_dtype: "bfloat16",
  };
  if (a.moe && a.modelType === "mixtral")
    Object.assign(c, { num_local_experts: a.moe.experts, num_experts_per_tok: a.moe.topK });
  if (a.moe && a.modelType === "deepseek_v3") {
    Object.assign(c, {
      n_routed_experts: a.moe.experts,
      num_experts_per_tok: a.moe.topK,
      moe_intermediate_size: a.moe.intermediate,
      n_shared_experts: a.moe.shared,
      first_k_dense_replace: a.moe.firstDense,
    });
  }
  if (a.mla) {
    Object.assign(c, {
      q_lora_rank: a.mla.qLoraRank,
      kv_lora_rank: a.mla.kvLoraRank,
      qk_nope_head_dim: a.mla.nopeDim,
      qk_rope_head_dim: a.mla.ropeDim,
      v_head_dim: a.mla.vDim,
    });
  }
  return c;
}
