import { PedigreeError } from "../errors.js";
import type { ArchConfig } from "./config.js";
import type { LayerView, ModelDims, TensorRef } from "./types.js";

function mismatch(what: string, details: Record<string, unknown>): PedigreeError {
  return new PedigreeError("MODEL_CONFIG_MISMATCH", what, {
    details,
    hint: "config.json (or the GGUF metadata) does not describe these tensors; it may belong to another model",
  });
}

/** A config value the view cannot do without. */
export function requireConfig(value: number | null, key: string, cfg: ArchConfig): number {
  if (value === null || !Number.isInteger(value) || value <= 0) {
    throw new PedigreeError("MODEL_CONFIG_MISSING", `the ${cfg.modelType} config does not state ${key}`, {
      details: { key, architecture: cfg.modelType, value },
      hint: "Add it to config.json, or pass a mapping file with its dims (see docs/architectures.md)",
    });
  }
  return value;
}

/** Checks every q/k/v/o against heads × headDim and the hidden size (non-MLA layers). */
export function checkAttentionShapes(layers: LayerView[], dims: ModelDims): void {
  const expect = (ref: TensorRef | null, rows: number, cols: number, what: string, layer: number) => {
    if (!ref) return;
    if (ref.shape[0] !== rows || ref.shape[1] !== cols)
      throw mismatch(`layer ${layer} ${what} is [${ref.shape.join(", ")}], expected [${rows}, ${cols}]`, {
        tensor: ref.tensor,
        shape: ref.shape,
        expected: [rows, cols],
        heads: dims.attentionHeads,
        kvHeads: dims.kvHeads,
        headDim: dims.headDim,
      });
  };
  const q = dims.attentionHeads * dims.headDim;
  const kv = dims.kvHeads * dims.headDim;
  for (const l of layers) {
    const a = l.attention;
    if (a.mla) continue;
    expect(a.q, q, dims.hiddenSize, "q", l.index);
    expect(a.k, kv, dims.hiddenSize, "k", l.index);
    expect(a.v, kv, dims.hiddenSize, "v", l.index);
    if (a.o.shape[0] !== dims.hiddenSize)
      throw mismatch(
        `layer ${l.index} o has ${a.o.shape[0]} rows, expected the hidden size ${dims.hiddenSize}`,
        {
          tensor: a.o.tensor,
          shape: a.o.shape,
        },
      );
  }
}

/** Model dims: widths from tensor shapes, head counts from the config (shapes cannot tell them apart). */
export function computeDims(
  cfg: ArchConfig,
  embed: TensorRef,
  layers: LayerView[],
  heads: { heads: number; kvHeads: number; headDim: number },
  tied: boolean,
): ModelDims {
  const [vocabSize = 0, hiddenSize = 0] = embed.shape;
  if (cfg.hiddenSize !== null && cfg.hiddenSize !== hiddenSize)
    throw mismatch(
      `the embeddings are ${hiddenSize} wide but the config says hidden size ${cfg.hiddenSize}`,
      {
        embed: embed.shape,
        hiddenSize: cfg.hiddenSize,
      },
    );
  const dense = layers.find((l) => l.mlp);
  const moeLayer = layers.find((l) => l.moe);
  const moe = moeLayer?.moe ?? null;
  const moeWidth = moe?.experts[0]?.up.shape[0] ?? 0;
  const experts = moe?.experts.length ?? 0;
  if (moe && cfg.experts !== null && cfg.experts !== experts)
    throw mismatch(`layer ${moeLayer?.index} has ${experts} experts but the config says ${cfg.experts}`, {
      found: experts,
      config: cfg.experts,
    });
  return {
    architecture: cfg.modelType,
    hiddenSize,
    intermediateSize: dense?.mlp?.up.shape[0] ?? cfg.intermediateSize ?? moeWidth,
    moeIntermediateSize: moeWidth,
    layers: layers.length,
    attentionHeads: heads.heads,
    kvHeads: heads.kvHeads,
    headDim: heads.headDim,
    vocabSize,
    experts,
    expertsPerToken: moe ? requireConfig(cfg.expertsPerToken, "num_experts_per_tok", cfg) : 0,
    sharedExperts: layers.some((l) => l.moe?.shared) ? (cfg.sharedExperts ?? 1) : 0,
    tiedEmbeddings: tied,
  };
}
