import type { ByteSource, ModelLocation } from "../io/types.js";

/** Element types of safetensors, PyTorch and GGUF, under one naming (safetensors' where it has one). */
export type DType =
  | "BOOL"
  | "U8"
  | "I8"
  | "I16"
  | "I32"
  | "I64"
  | "U16"
  | "U32"
  | "U64"
  | "F16"
  | "BF16"
  | "F32"
  | "F64"
  | "F8_E4M3"
  | "F8_E5M2"
  // GGUF block-quantised types (dequantised on read)
  | "Q4_0"
  | "Q4_1"
  | "Q5_0"
  | "Q5_1"
  | "Q8_0"
  | "Q2_K"
  | "Q3_K"
  | "Q4_K"
  | "Q5_K"
  | "Q6_K"
  // GGUF types listed (inspect shows them) but not decoded: reading them is UNSUPPORTED_DTYPE
  | UndecodedGgufType;

/** ggml types Pedigree recognises by name but cannot dequantise. */
export type UndecodedGgufType =
  | "Q8_1"
  | "Q8_K"
  | "IQ1_S"
  | "IQ1_M"
  | "IQ2_XXS"
  | "IQ2_XS"
  | "IQ2_S"
  | "IQ3_XXS"
  | "IQ3_S"
  | "IQ4_NL"
  | "IQ4_XS"
  | "TQ1_0"
  | "TQ2_0"
  | "MXFP4";

export type CheckpointFormat = "safetensors" | "gguf" | "pytorch";

/** Where one tensor's bytes are. Shapes are row-major, outermost first (PyTorch/HF order, also for GGUF). */
export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** File (relative path in the location) holding the bytes. */
  file: string;
  /** Absolute byte offset of the first element in that file. */
  offset: number;
  byteLength: number;
}

export type TokenizerKind = "hf-tokenizer-json" | "sentencepiece" | "tiktoken" | "gguf-embedded";

export interface TokenizerRef {
  kind: TokenizerKind;
  /** File in the location (for gguf-embedded: the GGUF file). */
  file: string;
}

/** A role for each file of a location. */
export interface CheckpointFile {
  path: string;
  size: number;
  role: "weights" | "index" | "config" | "tokenizer" | "other";
}

/**
 * An opened checkpoint: the tensor index (from headers only) and lazy access to tensor data.
 * Decoding is per element range, so callers can stream huge tensors row block by row block.
 */
export interface Checkpoint {
  readonly location: ModelLocation;
  readonly format: CheckpointFormat;
  readonly files: CheckpointFile[];
  /** Tensors in file order. */
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** config.json, or for GGUF the equivalent built from `general.architecture` metadata. */
  readonly config: Record<string, unknown> | null;
  /** Format metadata: safetensors `__metadata__`, GGUF key/values (arrays summarised), pickle-free. */
  readonly metadata: Record<string, unknown>;
  readonly tokenizer: TokenizerRef | null;
  /** Raw stored bytes of a tensor, or of [byteStart, byteEnd) within it. */
  readTensorBytes(name: string, byteStart?: number, byteEnd?: number): Promise<Uint8Array>;
  /**
   * Decoded values of elements [elementStart, elementStart+count) in row-major order, as float32.
   * Applies dequantisation (GGUF blocks, FP8 with `*_scale_inv` block scales).
   */
  readTensorFloat32(name: string, elementStart?: number, count?: number): Promise<Float32Array>;
  /**
   * The ByteSource of one file of the checkpoint (for streaming scans and hashing). It is owned by the
   * checkpoint: callers never close it; `close()` closes them all.
   */
  openFile(path: string): Promise<ByteSource>;
  close(): Promise<void>;
}
