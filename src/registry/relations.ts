import type { Relation } from "../compare/types.js";
import { PedigreeError } from "../errors.js";
import { RELATIONS } from "./types.js";

/**
 * The relation vocabulary of declared lineage (the same words `compare` reports) with what each
 * means, and the other names people and model cards use for them. `declare` accepts both.
 */
export const RELATION_MEANINGS: Readonly<Record<Relation, string>> = {
  identical: "the same weights (a copy, possibly renamed)",
  continued_training:
    "trained further from the parent: fine-tuning, continued pre-training, adapters merged in",
  depth_upscale: "layers duplicated or inserted (depth up-scaling)",
  width_expand: "hidden or FFN width grown around the parent's units",
  prune: "layers, heads or neurons removed",
  vocab_swap: "the tokenizer and embeddings changed, the body kept",
  obfuscation: "units permuted, rescaled or rotated without changing the function",
  partial_freeze: "some layers kept bit-identical while others trained",
  moe_upcycle: "dense FFNs copied into the experts of a mixture-of-experts",
  merge: "an element-wise mix of this parent and another model",
  quantize: "stored at lower precision (int8, fp8, GGUF block types)",
  format_convert: "the same values in another file format or float type",
};

/**
 * Common names for the relations: Hugging Face's `base_model_relation` values (adapter, merge,
 * quantized, finetune) and the spellings people write. Distillation is absent on purpose: a
 * distilled student has new weights, so its lineage is not in the weights.
 */
export const RELATION_ALIASES: Readonly<Record<string, Relation>> = {
  finetune: "continued_training",
  fine_tune: "continued_training",
  fine_tuned: "continued_training",
  finetuned: "continued_training",
  sft: "continued_training",
  adapter: "continued_training",
  lora: "continued_training",
  continued_pretraining: "continued_training",
  continual_pretraining: "continued_training",
  copy: "identical",
  upscale: "depth_upscale",
  depth_upscaling: "depth_upscale",
  widen: "width_expand",
  pruned: "prune",
  pruning: "prune",
  vocab_expansion: "vocab_swap",
  obfuscated: "obfuscation",
  permuted: "obfuscation",
  frozen: "partial_freeze",
  upcycle: "moe_upcycle",
  upcycled: "moe_upcycle",
  merged: "merge",
  quantized: "quantize",
  quantised: "quantize",
  quantization: "quantize",
  converted: "format_convert",
  conversion: "format_convert",
};

/** Hugging Face model-card `base_model_relation` values and the relation each declares. */
export const HF_BASE_MODEL_RELATIONS = ["adapter", "merge", "quantized", "finetune"] as const;

/** A relation or an alias, in any case and with "-" or " " for "_", as its vocabulary word. */
export function parseRelation(input: string): Relation {
  const word = input
    .trim()
    .toLowerCase()
    .replace(/[-\s]+/g, "_");
  if ((RELATIONS as readonly string[]).includes(word)) return word as Relation;
  const alias = RELATION_ALIASES[word];
  if (alias) return alias;
  throw new PedigreeError("USAGE_BAD_RELATION", `Unknown relation "${input}"`, {
    details: { relation: input, known: RELATIONS, aliases: Object.keys(RELATION_ALIASES) },
    hint: `Use one of: ${RELATIONS.join(", ")} (or an alias such as finetune, adapter, quantized)`,
  });
}

/** The vocabulary with meanings and aliases, one relation a line (for --help and docs). */
export function describeRelations(): string {
  const width = Math.max(...RELATIONS.map((r) => r.length));
  return RELATIONS.map((r) => {
    const aliases = Object.entries(RELATION_ALIASES)
      .filter(([, to]) => to === r)
      .map(([a]) => a);
    return `  ${r.padEnd(width)}  ${RELATION_MEANINGS[r]}${aliases.length ? ` (also: ${aliases.join(", ")})` : ""}`;
  }).join("\n");
}
