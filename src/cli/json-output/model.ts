import { z } from "zod";
import { relationSchema, verdictSchema } from "../../compare/schema.js";

/**
 * `--json` data of inspect, fingerprint, tree and synth, written down from their result types
 * (InspectData, FingerprintData, TreeData, SynthData; test/schemas/conformance.test.ts keeps them in
 * step) and checked against real runs (test/schemas/cli-json.test.ts). Extend, never break.
 */

export const inspectOutput = z.object({
  source: z.string(),
  format: z.enum(["safetensors", "gguf", "pytorch"]),
  /** config.json model_type (GGUF: the equivalent). */
  architecture: z.string(),
  parameters: z.object({ total: z.number().int(), activePerToken: z.number().int() }),
  layers: z.number().int(),
  mtpLayers: z.number().int(),
  hiddenSize: z.number().int(),
  intermediateSize: z.number().int(),
  moeIntermediateSize: z.number().int(),
  attentionHeads: z.number().int(),
  kvHeads: z.number().int(),
  headDim: z.number().int(),
  /** Routed experts per MoE layer; 0 when dense. */
  experts: z.number().int(),
  expertsPerToken: z.number().int(),
  sharedExperts: z.number().int(),
  vocabSize: z.number().int(),
  tiedEmbeddings: z.boolean(),
  tensors: z.number().int(),
  /** Stored bytes per dtype (scale tensors included). */
  dtypes: z.record(z.string(), z.number().int()),
  tokenizer: z
    .object({
      kind: z.enum(["hf-tokenizer-json", "sentencepiece", "tiktoken", "gguf-embedded"]),
      file: z.string(),
    })
    .nullable(),
  files: z.array(
    z.object({
      path: z.string(),
      /** −1 when a remote size is unknown. */
      size: z.number().int(),
      role: z.enum(["weights", "index", "config", "tokenizer", "other"]),
      /** Hex SHA-256 of the whole file (only with --digests). */
      sha256: z.string().optional(),
    }),
  ),
  /** Tensors the view did not place. */
  unmapped: z.array(z.string()),
  /** Non-parameter tensors (FP8 scales, buffers). */
  auxiliary: z.number().int(),
  /** Network bytes transferred (0 for local sources). */
  bytesTransferred: z.number().int(),
});

export const fingerprintOutput = z.object({
  source: z.string(),
  contentId: z.string(),
  /** The fingerprint file written, and its size in bytes. */
  output: z.string(),
  bytes: z.number().int(),
  /** Size of the model's digested files. */
  modelBytes: z.number().int(),
  /** Bytes read from the source (network bytes for remote sources). */
  bytesRead: z.number().int(),
  seconds: z.number(),
  tensors: z.number().int(),
  architecture: z.string(),
  layers: z.number().int(),
  threads: z.number().int(),
});

/** Several sources at once: one entry per model. */
export const fingerprintBatchOutput = z.object({
  models: z.array(fingerprintOutput),
  bytesRead: z.number().int(),
  seconds: z.number(),
  threads: z.number().int(),
});

export const treeOutput = z.object({
  nodes: z.array(z.object({ source: z.string(), contentId: z.string() })),
  /** parent/child: sources exactly as given; a merge has one edge per parent (with its weight). */
  edges: z.array(
    z.object({
      parent: z.string(),
      child: z.string(),
      relations: z.array(relationSchema),
      log10P: z.number(),
      /** False when nothing tells which of the two came first. */
      directed: z.boolean(),
      reason: z.string(),
      drift: z.number().nullable(),
      weight: z.number().optional(),
      residual: z.number().optional(),
    }),
  ),
  roots: z.array(z.string()),
  merges: z.array(
    z.object({
      child: z.string(),
      parents: z.array(z.string()),
      weights: z.array(z.number()),
      residual: z.number(),
      ratio: z.number(),
    }),
  ),
  /** Pairwise results, indexed like `sources` (null on the diagonal). */
  matrix: z.object({
    sources: z.array(z.string()),
    verdict: z.array(z.array(verdictSchema.nullable())),
    log10P: z.array(z.array(z.number().nullable())),
    drift: z.array(z.array(z.number().nullable())),
  }),
  timing: z.object({
    fingerprintSeconds: z.number(),
    compareSeconds: z.number(),
    treeSeconds: z.number(),
    pairs: z.number().int(),
  }),
});

export const synthOutput = z.object({
  shape: z.string(),
  output: z.string(),
  files: z.array(z.string()),
  format: z.string(),
  dtype: z.string(),
  seed: z.number().int(),
  derive: z.array(z.string()),
  parameters: z.number().int(),
  layers: z.number().int(),
  hidden: z.number().int(),
  seconds: z.number(),
});
