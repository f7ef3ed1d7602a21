/**
 * Sketches: the evidence features a fingerprint carries so that `compare` runs without the weights
 * (DESIGN §4 E2–E6). Values are plain JSON values and typed arrays (Float32Array, Uint8Array,
 * Int32Array), which the fingerprint file round-trips exactly. Documented in docs/compare.md.
 *
 * Anchor tokens are chosen by a hash of their canonical byte string, below a threshold scaled by the
 * vocabulary size, so two models pick the same anchors for every token string they share, and the
 * anchor sets of different vocabularies are nested (see anchors.ts).
 */
export interface Sketches {
  /** SKETCH_VERSION of the kernels that made them; compare refuses a version it does not know. */
  version: string;
  /** Hidden size d. */
  hidden: number;
  /** Embedding rows (the model's vocabulary size as stored). */
  vocabSize: number;
  /**
   * False when the model came without a tokenizer: its anchor tokens are then id names "#id:<i>"
   * (selected by the hash of that name), and its anchor features double as id features.
   */
  tokenized: boolean;
  /**
   * Id anchors of a tokenized model: "#id:<i>" names selected exactly as a tokenizer-less model of the
   * same vocabulary size selects its feature anchors, at ID_EXPECTED (a subset of that set). They let
   * compare align token id i with id i when the other side has no tokenizer. Empty when !tokenized.
   */
  idTokens: string[];
  /** Embedding rows of idTokens: idTokens.length × d, float32. */
  idEmbed: Float32Array;
  /**
   * Tokens whose embedding rows are kept (alignment set), sorted by anchor hash; for a large hidden size
   * only a prefix (alignEmbed ≤ ALIGN_EMBED_MAX_BYTES), never shorter than featureTokens.
   */
  alignTokens: string[];
  /** Embedding rows of alignTokens: alignTokens.length × d, row-major, float32. */
  alignEmbed: Float32Array;
  /** The first `featureTokens.length` entries of alignTokens (hash below the feature threshold). */
  featureTokens: string[];
  /** Columns of the native (basis-identity) features: a seeded Gaussian projection of each row. */
  nativeCols: number;
  /** Seed of that projection; both sides must use the same one. */
  nativeSeed: number;
  layers: LayerSketch[];
}

/**
 * One MLP (dense FFN or one expert) as per-neuron features, two views of every neuron: a gated MLP
 * stores gate and up rows, a non-gated one (gpt2, gpt_neox: act(x·Wupᵀ)·Wdownᵀ) up rows and down
 * columns. Every per-neuron array below has one row per **stored** neuron: all `neurons` of them, or,
 * for a model above the sketch byte budget (budget.ts), the subset listed in `rows`.
 */
export interface MlpSketch {
  /** The MLP's full width (FFN neurons), whether or not all of them are stored. */
  neurons: number;
  /**
   * The stored neuron indices, strictly ascending, each < neurons; null = all neurons, in order. Chosen
   * by a hash of the index alone (the same fraction for every MLP of the model), so models that keep
   * neuron indices keep the same rows; stored row r describes neuron rows[r].
   */
  rows: Int32Array | null;
  /**
   * Anchor features: row ⊙ (pre-MLP norm weight) projected on each feature token's embedding,
   * stored rows × featureTokens.length, quantised per row to uint8 (x ↦ round(127·x/max|x|) + 128).
   * Basis-free: invariant to any rotation or permutation of the hidden basis.
   */
  gate: Uint8Array | null;
  up: Uint8Array;
  /** Native features, stored rows × nativeCols, same quantisation; valid only when both hidden bases agree. */
  gateNative: Uint8Array | null;
  upNative: Uint8Array;
  /** Gate/up rows projected on the idTokens embeddings (tokenized models only, else null), same quantisation. */
  gateId: Uint8Array | null;
  upId: Uint8Array | null;
  /**
   * Non-gated MLPs only (sketch version 7; the keys are absent on gated MLPs, whose bytes are those of
   * version 6): down column j projected on the same directions as the rows above — anchor (`down`),
   * native (`downNative`) and id (`downId`, tokenized models only, else null) — same layout and
   * quantisation, one row per stored neuron. No norm weight is folded in: the column is written into
   * the residual stream, where the embedding rows live (build.ts). Basis-free like the rows: a hidden
   * rotation R (rows ↦ rows·R) maps the embeddings to E·R and the column to Rᵀ·col, leaving ⟨col, e⟩ unchanged.
   */
  down?: Uint8Array | null;
  downNative?: Uint8Array | null;
  downId?: Uint8Array | null;
  /**
   * Per-neuron Euclidean norms as IEEE float16 bits (the features above keep directions only): gate
   * and up rows, down columns; one per stored neuron. A function-preserving rescaling (up ×s, down ÷s) shows only here.
   */
  norms: { gate: Uint16Array | null; up: Uint16Array; down: Uint16Array };
}

export interface LayerSketch {
  index: number;
  kind: "dense" | "moe" | "other";
  /** Dense: one entry. MoE: one per expert (the shared expert is not included). */
  mlps: MlpSketch[];
  /**
   * HuRef-style invariant (E6 baseline): Σ_heads (E·Wq_hᵀ)(E·Wk_gᵀ)ᵀ over the first `invariantTokens`
   * feature tokens, invariantTokens² values, row-major; null when q/k are not plain projections.
   */
  qk: Float32Array | null;
  invariantTokens: number;
  /** Row norms of q (heads·headDim rows) and k (kvHeads·headDim rows), float16 bits; null without plain q/k. */
  qkNorms: { q: Uint16Array; k: Uint16Array; heads: number; kvHeads: number; headDim: number } | null;
  /**
   * Attention units (sketch version 8; attention.ts): per KV head g and stored dim j, the four views
   * q (summed over the group's query heads), k, v and o (summed columns), projected like MLP rows.
   * Null when q/k/v/o are not plain projections of the expected shapes.
   */
  attn: AttentionSketch | null;
}

/** Anchor, native and id features of some units, stored rows × width each, 8-bit as MLP features. */
export interface UnitFeatures {
  anchor: Uint8Array;
  native: Uint8Array;
  /** Tokenized models only (null otherwise), as MlpSketch.upId. */
  id: Uint8Array | null;
}

/** One layer's attention units: unit u is KV head ⌊u / dims.length⌋, dimension dims[u % dims.length]. */
export interface AttentionSketch {
  heads: number;
  kvHeads: number;
  headDim: number;
  /** The stored dims of every KV head, ascending (evenly spaced when headDim·kvHeads > 128). */
  dims: Int32Array;
  q: UnitFeatures;
  k: UnitFeatures;
  v: UnitFeatures;
  o: UnitFeatures;
}
