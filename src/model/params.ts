import type { Checkpoint } from "../formats/types.js";
import type { LayerView, MlpView, ModelView, TensorRef } from "./types.js";

export interface ParameterCounts {
  /** Every stored parameter (auxiliary tensors such as FP8 scales and mask buffers excluded). */
  total: number;
  /**
   * Parameters one token uses in the main model: everything except the routed experts a token does
   * not reach (expertsPerToken of `experts`; shared experts always count) and the MTP modules.
   * Equals `total` for dense models without MTP.
   */
  activePerToken: number;
}

function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function addRef(names: Set<string>, ref: TensorRef | null | undefined): void {
  if (!ref) return;
  names.add(ref.tensor);
  if (ref.bias) names.add(ref.bias.tensor);
}

function addMlp(names: Set<string>, m: MlpView | null): void {
  if (!m) return;
  addRef(names, m.gate);
  addRef(names, m.up);
  addRef(names, m.down);
}

/** Every stored tensor a layer references (a fused tensor shared by several refs counts once). */
function layerTensors(l: LayerView): Set<string> {
  const s = new Set<string>();
  const a = l.attention;
  for (const r of [a.q, a.k, a.v, a.o, a.qNorm, a.kNorm]) addRef(s, r);
  if (a.mla) for (const r of Object.values(a.mla)) addRef(s, r);
  addMlp(s, l.mlp);
  if (l.moe) {
    addRef(s, l.moe.router);
    addMlp(s, l.moe.shared);
    for (const e of l.moe.experts) addMlp(s, e);
  }
  for (const r of Object.values(l.norms)) addRef(s, r);
  for (const r of Object.values(l.extras ?? {})) addRef(s, r);
  return s;
}

function routedTensors(l: LayerView): Set<string> {
  const s = new Set<string>();
  for (const e of l.moe?.experts ?? []) addMlp(s, e);
  return s;
}

/**
 * Parameter counts from tensor shapes (never from config arithmetic), so padded vocabularies, biases
 * and odd layouts are counted as stored. Experts are assumed equally sized (true of every supported
 * family): active routed parameters = routed × expertsPerToken / experts.
 */
export function countParameters(ckpt: Checkpoint, view: ModelView): ParameterCounts {
  const size = (name: string) => elements(ckpt.tensors.get(name)?.shape ?? []);
  const aux = new Set(view.auxiliary ?? []);
  let total = 0;
  for (const t of ckpt.tensors.values()) if (!aux.has(t.name)) total += elements(t.shape);
  let inactive = 0;
  const { experts, expertsPerToken } = view.dims;
  if (experts > 0) {
    for (const l of view.layers) {
      let routed = 0;
      for (const n of routedTensors(l)) routed += size(n);
      inactive += routed - (routed * Math.min(expertsPerToken, experts)) / experts;
    }
  }
  const mtp = new Set<string>();
  for (const l of view.mtpLayers) for (const n of layerTensors(l)) mtp.add(n);
  for (const n of mtp) inactive += size(n);
  return { total, activePerToken: Math.round(total - inactive) };
}
