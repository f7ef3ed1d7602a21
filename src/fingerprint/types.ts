import type { CheckpointFormat, DType } from "../formats/types.js";
import type { ModelDims } from "../model/types.js";
import type { GridStats } from "./grid.js";
import type { Sketches } from "./sketch/types.js";

/** Summary statistics of one tensor's values (float64 accumulation, Welford/Chan merge). */
export interface TensorStats {
  count: number;
  mean: number;
  std: number;
  rms: number;
  min: number;
  max: number;
  nanCount: number;
  infCount: number;
  /** Approximate quantiles at QUANTILE_LEVELS (see fingerprint docs). */
  quantiles: number[];
}

export interface TensorFingerprint {
  name: string;
  dtype: DType;
  shape: number[];
  /** SHA-256 of the tensor's stored bytes, hex. Equal digests ⇒ bit-identical tensors (E0). */
  sha256: string;
  stats: TensorStats;
}

export interface FileDigest {
  path: string;
  size: number;
  /** SHA-256 of the whole file, hex (OpenSSF model-signing compatible). */
  sha256: string;
}

/** Vocabulary carried in the fingerprint so E1 (tokenizer kinship) and shared-token alignment work without the model. */
export interface TokenizerSignature {
  kind: string;
  vocabSize: number;
  /** SHA-256 over the ordered canonical token strings, hex. */
  sha256: string;
  /** Canonical token strings by id (see src/tokenizer/vocab.ts for the canonical form); null for unused ids. */
  tokens: (string | null)[];
}

/**
 * A model's fingerprint: enough to compare two models without their weights (DESIGN §5).
 * Serialised by src/fingerprint/file.ts in a versioned, documented format (docs/fingerprint-format.md).
 */
export interface Fingerprint {
  formatVersion: number;
  tool: { name: "pedigree"; version: string };
  /** Kernel name → version; a change in any kernel's output bumps its version. */
  kernels: Record<string, string>;
  source: { spec: string; format: CheckpointFormat; files: FileDigest[] };
  /** Merkle root (hex) over per-tensor digests: the model's content id. */
  contentId: string;
  dims: ModelDims;
  tokenizer: TokenizerSignature | null;
  tensors: TensorFingerprint[];
  /** Per-layer profiles by canonical role (e.g. "attn.q" → std per layer), for baselines and plots. */
  layerProfiles: Record<string, number[]>;
  /** Evidence sketches for compare (owned by src/fingerprint/sketch). */
  sketches: Sketches;
  /**
   * Quantisation-grid statistics of sampled MLP rows (kernel "quant-grid", grid.ts); null when no
   * matrix could be sampled, absent in fingerprints written before the kernel existed.
   */
  grid?: GridStats | null;
}
