/**
 * The canonical model: every supported architecture and file layout is presented as the same
 * tree of 2-D matrices in Hugging Face Llama orientation — rows are output features, columns input
 * features (nn.Linear's [out, in]). Comparison code only ever sees this view.
 */

/** How to turn a stored tensor into the canonical matrix; applied in order. */
export type TensorTransform =
  /** GPT-2 Conv1D stores [in, out]. */
  | { kind: "transpose" }
  /** A contiguous block of rows of a fused tensor (c_attn, qkv_proj, gate_up_proj) — after earlier transforms. */
  | { kind: "rows"; start: number; count: number }
  /** Rows picked by index (gpt_neox per-head interleaved query_key_value). */
  | { kind: "gatherRows"; rows: number[] }
  /** One slice of a fused 3-D tensor (experts stacked on dim 0). */
  | { kind: "index0"; index: number }
  /** Undo llama.cpp's RoPE row permutation of q/k in GGUF files, per head. */
  | { kind: "unpermuteRope"; heads: number };

export interface TensorRef {
  /** Name of the stored tensor in the checkpoint. */
  tensor: string;
  /** Canonical shape after transforms: [rows, cols] for matrices, [n] for vectors. */
  shape: number[];
  transforms: TensorTransform[];
  /** The matching bias vector (`….bias`), with the row transforms of the weight; absent when none is stored. */
  bias?: TensorRef;
}

export interface MlpView {
  /** Absent for non-gated MLPs (gpt2, gpt_neox). */
  gate: TensorRef | null;
  up: TensorRef;
  down: TensorRef;
}

export interface MlaView {
  qA: TensorRef | null; // q_a_proj (null when q_lora_rank is not used: q_proj instead)
  qB: TensorRef | null;
  q: TensorRef | null;
  kvA: TensorRef; // kv_a_proj_with_mqa
  kvB: TensorRef; // kv_b_proj
  qANorm: TensorRef | null;
  kvANorm: TensorRef | null;
}

export interface AttentionView {
  q: TensorRef | null;
  k: TensorRef | null;
  v: TensorRef | null;
  o: TensorRef;
  /** DeepSeek-V2/V3 multi-head latent attention (q/k/v above are then null). */
  mla: MlaView | null;
  qNorm: TensorRef | null;
  kNorm: TensorRef | null;
}

export interface MoeView {
  router: TensorRef;
  experts: MlpView[];
  shared: MlpView | null;
}

export interface LayerView {
  index: number;
  attention: AttentionView;
  /** Dense MLP (null in MoE layers). */
  mlp: MlpView | null;
  moe: MoeView | null;
  /** Norm vectors by canonical role: input, post_attention, pre_feedforward, post_feedforward, … */
  norms: Record<string, TensorRef>;
  /**
   * Placed tensors outside the common tree, by role: `router_bias` (DeepSeek-V3 e_score_correction_bias),
   * `shared_expert_gate` (Qwen2-MoE), MTP `eh_proj` / `shared_head` / `embed_tokens`, …
   */
  extras?: Record<string, TensorRef>;
}

export interface ModelDims {
  /** config.json `model_type` (for GGUF, the equivalent). */
  architecture: string;
  hiddenSize: number;
  intermediateSize: number;
  /** MoE expert FFN width (0 when dense). */
  moeIntermediateSize: number;
  layers: number;
  attentionHeads: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  experts: number;
  expertsPerToken: number;
  sharedExperts: number;
  tiedEmbeddings: boolean;
}

export interface ModelView {
  dims: ModelDims;
  embed: TensorRef;
  /** Output head; equals `embed` when embeddings are tied. */
  head: TensorRef;
  finalNorm: TensorRef | null;
  layers: LayerView[];
  /** DeepSeek-V3 multi-token-prediction layers, kept apart from the main stack. */
  mtpLayers: LayerView[];
  /** Tensors the view did not place (reported, never silently dropped). */
  unmapped: string[];
  /** Placed model-level tensors outside the common tree, by role (`position_embed` for gpt2 / GGUF). */
  extras?: Record<string, TensorRef>;
  /**
   * Stored tensors that are not parameters: FP8 block scales (`*.weight_scale_inv`, consumed by the
   * reader), causal-mask and rotary buffers. Excluded from parameter counts; listed so nothing is hidden.
   */
  auxiliary?: string[];
}
