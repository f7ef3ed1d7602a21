import type { Checkpoint, CheckpointFile, CheckpointFormat, TokenizerRef } from "../formats/types.js";
import { countParameters } from "./params.js";
import type { ModelView } from "./types.js";

export interface InspectFile extends CheckpointFile {
  /** Hex SHA-256 of the whole file (only with --digests). */
  sha256?: string;
}

/** What `pedigree inspect --json` returns in `data`. */
export interface InspectData {
  source: string;
  format: CheckpointFormat;
  /** config.json model_type (GGUF: the equivalent). */
  architecture: string;
  parameters: { total: number; activePerToken: number };
  layers: number;
  mtpLayers: number;
  hiddenSize: number;
  intermediateSize: number;
  moeIntermediateSize: number;
  attentionHeads: number;
  kvHeads: number;
  headDim: number;
  /** Routed experts per MoE layer; 0 when dense. */
  experts: number;
  expertsPerToken: number;
  sharedExperts: number;
  vocabSize: number;
  tiedEmbeddings: boolean;
  tensors: number;
  /** Stored bytes per dtype (scale tensors included). */
  dtypes: Record<string, number>;
  tokenizer: TokenizerRef | null;
  files: InspectFile[];
  /** Tensors the view did not place. */
  unmapped: string[];
  /** Non-parameter tensors (FP8 scales, buffers). */
  auxiliary: number;
  /** Network bytes transferred (0 for local sources). */
  bytesTransferred: number;
}

/** Stored bytes per dtype, in dtype name order. */
export function dtypeBytes(ckpt: Checkpoint): Record<string, number> {
  const out = new Map<string, number>();
  for (const t of ckpt.tensors.values()) out.set(t.dtype, (out.get(t.dtype) ?? 0) + t.byteLength);
  return Object.fromEntries([...out].sort(([a], [b]) => a.localeCompare(b)));
}

/** The inspect summary of an opened checkpoint and its view (headers only). */
export function summarize(ckpt: Checkpoint, view: ModelView, source: string): InspectData {
  const d = view.dims;
  return {
    source,
    format: ckpt.format,
    architecture: d.architecture,
    parameters: countParameters(ckpt, view),
    layers: d.layers,
    mtpLayers: view.mtpLayers.length,
    hiddenSize: d.hiddenSize,
    intermediateSize: d.intermediateSize,
    moeIntermediateSize: d.moeIntermediateSize,
    attentionHeads: d.attentionHeads,
    kvHeads: d.kvHeads,
    headDim: d.headDim,
    experts: d.experts,
    expertsPerToken: d.expertsPerToken,
    sharedExperts: d.sharedExperts,
    vocabSize: d.vocabSize,
    tiedEmbeddings: d.tiedEmbeddings,
    tensors: ckpt.tensors.size,
    dtypes: dtypeBytes(ckpt),
    tokenizer: ckpt.tokenizer ? { kind: ckpt.tokenizer.kind, file: ckpt.tokenizer.file } : null,
    files: ckpt.files.map((f) => ({ path: f.path, size: f.size, role: f.role })),
    unmapped: view.unmapped,
    auxiliary: view.auxiliary?.length ?? 0,
    bytesTransferred: ckpt.location.bytesTransferred(),
  };
}
