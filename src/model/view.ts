import { PedigreeError } from "../errors.js";
import { setOwn } from "../formats/lookup.js";
import type { Checkpoint } from "../formats/types.js";
import { type AssembleContext, buildLayer, refOf } from "./assemble.js";
import { type ArchConfig, archConfigOf } from "./config.js";
import { checkAttentionShapes, computeDims, requireConfig } from "./dims.js";
import { FAMILIES, familyOf, rulesFor } from "./families.js";
import { type ArchitectureMapping, parseMapping } from "./mapping.js";
import { MAX_INDEX, type Placement, placeTensors } from "./place.js";
import { stripPrefix } from "./rules.js";
import type { LayerView, ModelView, TensorRef } from "./types.js";

export type { ArchitectureMapping } from "./mapping.js";

/** How many missing parts one error lists in its message (all are in details). */
const MISSING_SHOWN = 8;

/** Layout facts that are not in the tensor names. */
export interface AssembleOptions {
  gated: boolean;
  tiedDefault: boolean;
  ropePermuted: boolean;
  hasMtp: boolean;
}

/**
 * Builds the canonical view from config + tensor names (headers only; no tensor data is read).
 * With `mapping`, the user's rules replace the built-in ones (for architectures Pedigree does not know).
 */
export function buildModelView(ckpt: Checkpoint, opts: { mapping?: ArchitectureMapping } = {}): ModelView {
  if (opts.mapping) {
    const m = parseMapping(opts.mapping, ckpt);
    return assembleView(placeTensors(ckpt.tensors, m.rules), m.config, m.options);
  }
  const cfg = archConfigOf(ckpt);
  const family = familyOf(cfg.modelType);
  if (!family) {
    throw new PedigreeError(
      "MODEL_UNKNOWN_ARCHITECTURE",
      `architecture "${cfg.sourceArchitecture || "(none)"}" is not one Pedigree knows`,
      {
        details: { architecture: cfg.sourceArchitecture, supported: Object.keys(FAMILIES) },
        hint:
          "Write a mapping file (regexes from tensor names to canonical roles, plus dims) and pass it " +
          "with --mapping; the format is in docs/architectures.md",
      },
    );
  }
  const rules = rulesFor(family, cfg.modelType, cfg.fromGguf);
  const placement = placeTensors(ckpt.tensors, rules, cfg.fromGguf ? undefined : stripPrefix);
  return assembleView(placement, cfg, {
    gated: family.gated,
    tiedDefault: family.tiedDefault,
    ropePermuted: cfg.fromGguf && family.ggufRopePermuted,
    hasMtp: family.hasMtp,
  });
}

function missingError(missing: string[]): PedigreeError {
  const shown = missing.slice(0, MISSING_SHOWN).join(", ");
  const more = missing.length > MISSING_SHOWN ? ` and ${missing.length - MISSING_SHOWN} more` : "";
  return new PedigreeError("MODEL_MISSING_TENSORS", `required tensors are missing: ${shown}${more}`, {
    details: { missing },
    hint: "The checkpoint is incomplete (a shard missing?) or config.json belongs to another model",
  });
}

/** Splits layer indices into the main stack [0, layers) and MTP modules [layers, …). */
function stackIndices(p: Placement, cfg: ArchConfig, opts: AssembleOptions, missing: string[]) {
  const found = [...p.layers.keys()].sort((a, b) => a - b);
  const count = cfg.layers ?? (found.at(-1) ?? -1) + 1;
  if (!Number.isInteger(count) || count < 0 || count > MAX_INDEX) {
    throw new PedigreeError("MODEL_CONFIG_MISMATCH", `the config states ${count} layers`, {
      details: { layers: count, max: MAX_INDEX },
      hint: "config.json (or the GGUF block_count) is corrupt",
    });
  }
  const extra = found.filter((i) => i >= count);
  if (extra.length > 0 && !opts.hasMtp) {
    throw new PedigreeError(
      "MODEL_CONFIG_MISMATCH",
      `tensors exist for layer ${extra[0]} but the config says ${count} layers`,
      { details: { layers: count, extraLayers: extra }, hint: "config.json may belong to another model" },
    );
  }
  for (let i = 0; i < count; i++) if (!p.layers.has(i)) missing.push(`layer ${i} (no tensors at all)`);
  return { main: Array.from({ length: count }, (_, i) => i).filter((i) => p.layers.has(i)), mtp: extra };
}

/** Turns placed tensors into the ModelView, checking completeness and shapes. */
export function assembleView(p: Placement, cfg: ArchConfig, opts: AssembleOptions): ModelView {
  const missing: string[] = [];
  const embedSlot = p.model.get("embed");
  if (!embedSlot) throw missingError(["embed (token embeddings)"]);
  const embed = refOf(embedSlot);
  const headSlot = p.model.get("head");
  // Tied when the config says so (some exports also store the tied copy as lm_head), or when no
  // head is stored and the family (or GGUF, where llama.cpp falls back to token_embd) ties by default.
  const tied = headSlot
    ? cfg.tiedEmbeddings === true
    : (cfg.tiedEmbeddings ?? (cfg.fromGguf || opts.tiedDefault));
  if (!headSlot && !tied) missing.push("head (lm_head: the config says embeddings are not tied)");
  const heads = requireConfig(cfg.heads, "num_attention_heads", cfg);
  const hidden = embed.shape[1] ?? 0;
  const isMla = [...p.layers.values()].some((b) => b.roles.has("mla.kv_a"));
  const headDim = cfg.headDim ?? hidden / heads;
  if (!Number.isInteger(headDim)) requireConfig(null, "head_dim", cfg);
  const kvHeads = isMla ? heads : (cfg.kvHeads ?? heads);
  const ctx: AssembleContext = {
    heads,
    kvHeads,
    headDim,
    gated: opts.gated,
    ropePermuted: opts.ropePermuted,
    missing,
  };
  const { main, mtp } = stackIndices(p, cfg, opts, missing);
  const build = (i: number): LayerView =>
    buildLayer(i, p.layers.get(i) ?? { roles: new Map(), experts: new Map() }, ctx);
  const layers = main.map(build);
  const mtpLayers = mtp.map(build);
  if (missing.length > 0) throw missingError(missing);
  const dims = computeDims(cfg, embed, layers, { heads, kvHeads, headDim }, tied);
  checkAttentionShapes([...layers, ...mtpLayers], dims);
  const finalNorm = p.model.get("final_norm");
  const view: ModelView = {
    dims,
    embed,
    head: headSlot ? refOf(headSlot) : embed,
    finalNorm: finalNorm ? refOf(finalNorm) : null,
    layers,
    mtpLayers,
    unmapped: p.unmapped,
    auxiliary: p.auxiliary,
  };
  const extras: Record<string, TensorRef> = {};
  for (const [role, slot] of p.model)
    if (role.startsWith("extra.")) setOwn(extras, role.slice(6), refOf(slot));
  if (Object.keys(extras).length > 0) view.extras = extras;
  return view;
}
