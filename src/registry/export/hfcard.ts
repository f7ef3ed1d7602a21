import type { Relation } from "../../compare/types.js";
import { toHfRelation } from "../modelcard.js";
import type { ExportData, ExportModel } from "./data.js";

/**
 * Hugging Face model-card metadata: `base_model` (repo ids, else registry names) and
 * `base_model_relation` in the Hub's vocabulary (adapter | merge | quantized | finetune). The Hub's
 * vocabulary is coarser than Pedigree's, so each card says in a YAML comment what the mapping lost.
 * `adapter` is never written: from merged weights Pedigree cannot tell an adapter from a fine-tune.
 */

export interface HfCard {
  model: string;
  baseModels: string[];
  baseModelRelation: "merge" | "quantized" | "finetune" | null;
  /** The YAML front-matter block. */
  yaml: string;
}

const LOST: Partial<Record<Relation, string>> = {
  continued_training: "continued training",
  depth_upscale: "depth up-scaling (layers duplicated)",
  width_expand: "width expansion",
  prune: "pruning",
  vocab_swap: "a vocabulary swap",
  obfuscation: "obfuscation (permuted or rescaled weights)",
  partial_freeze: "training with frozen layers",
  moe_upcycle: "mixture-of-experts up-cycling",
  format_convert: "a format conversion without quantization",
  identical: "identical weights (a re-upload)",
};

function relationOf(relations: Relation[]): HfCard["baseModelRelation"] {
  const hf = relations.map(toHfRelation);
  if (hf.includes("merge")) return "merge";
  return hf[0] ?? null;
}

export function hfCard(m: ExportModel, byId: Map<string, ExportModel>): HfCard {
  const bases = m.parents.map((p) => byId.get(p.contentId)?.displayName ?? p.contentId);
  const relations = [...new Set(m.parents.flatMap((p) => p.relations))];
  const rel = m.parents.length > 1 && relations.length === 0 ? "merge" : relationOf(relations);
  const lost = relations.map((r) => LOST[r]).filter((x): x is string => x !== undefined);
  const lines = ["---"];
  if (bases.length === 1) lines.push(`base_model: ${bases[0]}`);
  else if (bases.length > 1) lines.push("base_model:", ...bases.map((b) => `- ${b}`));
  if (rel) lines.push(`base_model_relation: ${rel}`);
  lines.push(`# pedigree: declared relation ${relations.join(", ") || "none"}`);
  if (lost.length) lines.push(`# pedigree: "${rel}" does not say ${lost.join("; ")}`);
  for (const p of m.parents)
    lines.push(
      `# pedigree: ${byId.get(p.contentId)?.displayName ?? p.contentId} — weights ${p.status}${p.log10P === null ? "" : ` (log10 p ${p.log10P.toFixed(1)})`}`,
    );
  lines.push("---");
  return { model: m.displayName, baseModels: bases, baseModelRelation: rel, yaml: `${lines.join("\n")}\n` };
}

export function toHfCards(d: ExportData): HfCard[] {
  const byId = new Map(d.models.map((m) => [m.contentId, m]));
  return d.models.filter((m) => m.parents.length > 0).map((m) => hfCard(m, byId));
}
