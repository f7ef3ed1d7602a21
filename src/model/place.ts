import { must } from "../checked.js";
import { PedigreeError } from "../errors.js";
import type { TensorInfo } from "../formats/types.js";
import { matchRule, type NameRule, type Placed, paramOf, roleLevel } from "./roles.js";

/** A role's weight and (optional) bias. */
export interface Slot {
  weight?: Placed;
  bias?: Placed;
}

export interface LayerBag {
  roles: Map<string, Slot>;
  experts: Map<number, Map<string, Slot>>;
}

/** Every stored tensor sorted into a role, or into `unmapped` / `auxiliary`. */
export interface Placement {
  model: Map<string, Slot>;
  layers: Map<number, LayerBag>;
  unmapped: string[];
  auxiliary: string[];
}

/**
 * Largest layer / expert index accepted from a tensor name or config (bounds the arrays and loops
 * built from them; real models stay far below: ~100 layers, 256 experts in DeepSeek-V3).
 */
export const MAX_INDEX = 65_536;

function index(value: string | undefined, what: string, name: string): number | null {
  if (value === undefined) return null;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n > MAX_INDEX) {
    throw new PedigreeError(
      "MODEL_BAD_TENSOR_NAME",
      `tensor "${name}" has an absurd ${what} index ${value}`,
      {
        details: { tensor: name, [what]: value, max: MAX_INDEX },
      },
    );
  }
  return n;
}

function put(slots: Map<string, Slot>, p: Placed): void {
  const slot = slots.get(p.role) ?? {};
  const prev = slot[p.param];
  if (prev) {
    throw new PedigreeError(
      "MODEL_DUPLICATE_ROLE",
      `tensors "${prev.info.name}" and "${p.info.name}" both map to ${p.role} ${p.param}`,
      {
        details: { role: p.role, layer: p.layer, expert: p.expert, tensors: [prev.info.name, p.info.name] },
        hint: "The checkpoint holds two copies under different prefixes, or a mapping rule is too broad",
      },
    );
  }
  slot[p.param] = p;
  slots.set(p.role, slot);
}

function bagOf(layers: Map<number, LayerBag>, layer: number): LayerBag {
  let bag = layers.get(layer);
  if (!bag) {
    bag = { roles: new Map(), experts: new Map() };
    layers.set(layer, bag);
  }
  return bag;
}

/** Places one matched tensor; checks the rule captured the indices its role needs. */
function placeOne(
  out: Placement,
  info: TensorInfo,
  rule: NameRule,
  groups: Record<string, string | undefined>,
) {
  const layer = index(groups.layer, "layer", info.name);
  // `extra.*` roles are model-level when the name has no layer index (gpt2 wpe → extra.position_embed).
  const level = rule.role.startsWith("extra.") && layer === null ? "model" : roleLevel(rule.role);
  const expert = index(groups.expert, "expert", info.name);
  if ((level !== "model" && layer === null) || (level === "expert" && expert === null)) {
    throw new PedigreeError(
      "MODEL_MAPPING_INVALID",
      `the rule for role ${rule.role} matched "${info.name}" without capturing a ${layer === null ? "layer" : "expert"} index`,
      {
        details: { role: rule.role, pattern: rule.re.source, tensor: info.name },
        hint: "Layer roles need a (?<layer>\\d+) group and expert roles an (?<expert>\\d+) group",
      },
    );
  }
  const p: Placed = {
    info,
    role: rule.role,
    param: paramOf(rule, info.name, groups),
    layer,
    expert,
    transpose: rule.transpose === true,
  };
  if (level === "model") return put(out.model, p);
  const bag = bagOf(out.layers, must(layer, "layer index"));
  if (level === "layer") return put(bag.roles, p);
  const e = must(expert, "expert index");
  let ex = bag.experts.get(e);
  if (!ex) {
    ex = new Map();
    bag.experts.set(e, ex);
  }
  put(ex, p);
}

/**
 * Sorts every tensor of a checkpoint into roles. `rename` maps a stored name to the name the rules
 * match (prefix stripping for Hugging Face layouts).
 */
export function placeTensors(
  tensors: ReadonlyMap<string, TensorInfo>,
  rules: readonly NameRule[],
  rename: (name: string) => string = (n) => n,
): Placement {
  const out: Placement = { model: new Map(), layers: new Map(), unmapped: [], auxiliary: [] };
  for (const info of tensors.values()) {
    const m = matchRule(rules, rename(info.name));
    if (!m) out.unmapped.push(info.name);
    else if (m.rule.auxiliary) out.auxiliary.push(info.name);
    else placeOne(out, info, m.rule, m.groups);
  }
  return out;
}
