import type { NameMatcher } from "../formats/linear-regex.js";
import type { TensorInfo } from "../formats/types.js";

/**
 * Canonical roles a stored tensor can play. Built-in architectures and user mapping files both map
 * tensor names to these roles; the assembler turns roles into the ModelView tree.
 *
 * Model level: embed, head, final_norm, extra.<name>.
 * Layer level (the name must capture a layer index): see LAYER_ROLES; `norm.<name>` and `extra.<name>`
 * are open-ended. Expert roles also capture an expert index.
 */
export const MODEL_ROLES = ["embed", "head", "final_norm"] as const;

export const LAYER_ROLES = [
  "attn.q",
  "attn.k",
  "attn.v",
  "attn.o",
  /** Fused [q; k; v] rows (phi3 qkv_proj, GGUF attn_qkv, gpt2 c_attn after transpose). */
  "attn.qkv",
  /** Fused per-head interleaved [h0 q,k,v; h1 q,k,v; …] (gpt_neox query_key_value). */
  "attn.qkv_interleaved",
  "attn.q_norm",
  "attn.k_norm",
  "mla.q_a",
  "mla.q_b",
  "mla.kv_a",
  "mla.kv_b",
  "mla.q_a_norm",
  "mla.kv_a_norm",
  "mlp.gate",
  "mlp.up",
  "mlp.down",
  /** Fused [gate; up] rows (phi3 gate_up_proj). */
  "mlp.gate_up",
  "moe.router",
  "shared.gate",
  "shared.up",
  "shared.down",
] as const;

/** Roles that need an expert index (one tensor per expert). */
export const EXPERT_ROLES = ["expert.gate", "expert.up", "expert.down"] as const;

/** Fused 3-D expert tensors: experts stacked on dim 0. */
export const FUSED_EXPERT_ROLES = ["experts.gate", "experts.up", "experts.down", "experts.gate_up"] as const;

export type LayerRole = (typeof LAYER_ROLES)[number];
export type ExpertRole = (typeof EXPERT_ROLES)[number];
export type FusedExpertRole = (typeof FUSED_EXPERT_ROLES)[number];

const OPEN_PREFIXES = ["norm.", "extra."];

/** True when `role` is a role a mapping may name (used to validate user mapping files). */
export function isKnownRole(role: string): boolean {
  if ((MODEL_ROLES as readonly string[]).includes(role)) return true;
  if ((LAYER_ROLES as readonly string[]).includes(role)) return true;
  if ((EXPERT_ROLES as readonly string[]).includes(role)) return true;
  if ((FUSED_EXPERT_ROLES as readonly string[]).includes(role)) return true;
  return OPEN_PREFIXES.some((p) => role.startsWith(p) && role.length > p.length);
}

/** Which level a role lives at. */
export function roleLevel(role: string): "model" | "layer" | "expert" {
  if ((EXPERT_ROLES as readonly string[]).includes(role)) return "expert";
  if ((MODEL_ROLES as readonly string[]).includes(role)) return "model";
  return "layer";
}

/**
 * One naming rule: a regex over the (prefix-stripped) tensor name. Named groups: `layer` (required
 * for layer/expert roles), `expert` (expert roles), `param` (`weight` | `bias`; when absent the name's
 * last component decides). `transpose`: the stored matrix is [in, out] (GPT-2 Conv1D).
 */
export interface NameRule {
  /** Built-in rules are RegExp; rules from a mapping file run on RE2 (see formats/linear-regex.ts). */
  re: NameMatcher;
  role: string;
  transpose?: boolean;
  /** Not a parameter (causal masks, rotary caches, block scales): listed as auxiliary. */
  auxiliary?: boolean;
  /** Fixed `weight`/`bias` when the name misleads (GGUF `exp_probs_b.bias` is a router weight vector). */
  param?: "weight" | "bias";
}

/** A stored tensor placed in a role. */
export interface Placed {
  info: TensorInfo;
  role: string;
  param: "weight" | "bias";
  layer: number | null;
  expert: number | null;
  transpose: boolean;
}

/** Result of matching one name against a rule list; null when no rule matches. */
export function matchRule(
  rules: readonly NameRule[],
  name: string,
): { rule: NameRule; groups: Record<string, string | undefined> } | null {
  for (const rule of rules) {
    const m = rule.re.exec(name);
    if (m) return { rule, groups: m.groups ?? {} };
  }
  return null;
}

/** `weight` or `bias` for a matched name: the `param` group, else the last dotted component. */
export function paramOf(
  rule: NameRule,
  name: string,
  groups: Record<string, string | undefined>,
): "weight" | "bias" {
  if (rule.param) return rule.param;
  const p = groups.param;
  if (p === "bias") return "bias";
  if (p !== undefined) return "weight";
  return name.endsWith(".bias") ? "bias" : "weight";
}
