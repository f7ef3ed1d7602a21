import type { Checkpoint } from "../formats/types.js";
import { readMatrix } from "../model/read.js";
import type { LayerView, MlpView, ModelView, TensorRef } from "../model/types.js";
import { accumulateFloats, emptyMoments, type Moments, mergeMoments } from "./kernels/stats.js";
import type { TensorStats } from "./types.js";

/** Rows read per block when a role's values must come from the canonical matrix (fused tensors). */
const PROFILE_BLOCK_VALUES = 2 << 20;

/**
 * Per-layer profiles (E6 baselines, plots): for each canonical role, the population std of its
 * values in every layer; NaN where a layer has no such role. MoE experts of a layer are pooled.
 * Roles whose refs keep the stored values as a set (no transform, transpose, RoPE un-permutation)
 * reuse the scan's tensor statistics; slices of fused tensors are read through readMatrix.
 */
export async function layerProfiles(
  ckpt: Checkpoint,
  view: ModelView,
  stats: ReadonlyMap<string, TensorStats>,
): Promise<Record<string, number[]>> {
  const roles = new Map<string, (TensorRef[] | null)[]>();
  view.layers.forEach((layer, i) => {
    for (const [role, refs] of roleRefs(layer)) {
      if (!roles.has(role))
        roles.set(
          role,
          view.layers.map(() => null),
        );
      (roles.get(role) as (TensorRef[] | null)[])[i] = refs;
    }
  });
  const out: Record<string, number[]> = {};
  for (const role of [...roles.keys()].sort()) {
    const perLayer: number[] = [];
    for (const refs of roles.get(role) ?? []) {
      perLayer.push(refs ? stdOf(await pooledMoments(ckpt, refs, stats)) : Number.NaN);
    }
    out[role] = perLayer;
  }
  return out;
}

function roleRefs(layer: LayerView): [string, TensorRef[]][] {
  const out: [string, TensorRef[]][] = [];
  const a = layer.attention;
  for (const [k, r] of [
    ["q", a.q],
    ["k", a.k],
    ["v", a.v],
    ["o", a.o],
  ] as const)
    if (r) out.push([`attn.${k}`, [r]]);
  if (a.mla) {
    for (const [k, r] of Object.entries(a.mla))
      if (r && !k.endsWith("Norm")) out.push([`attn.mla.${k}`, [r as TensorRef]]);
  }
  const mlp = (prefix: string, ms: MlpView[]) => {
    const gates = ms.flatMap((m) => (m.gate ? [m.gate] : []));
    if (gates.length > 0) out.push([`${prefix}.gate`, gates]);
    if (ms.length > 0) {
      out.push([`${prefix}.up`, ms.map((m) => m.up)]);
      out.push([`${prefix}.down`, ms.map((m) => m.down)]);
    }
  };
  if (layer.mlp) mlp("mlp", [layer.mlp]);
  if (layer.moe) {
    out.push(["moe.router", [layer.moe.router]]);
    mlp("moe.experts", layer.moe.experts);
    if (layer.moe.shared) mlp("moe.shared", [layer.moe.shared]);
  }
  for (const [k, r] of Object.entries(layer.norms)) out.push([`norm.${k}`, [r]]);
  return out;
}

const VALUE_PRESERVING = new Set(["transpose", "unpermuteRope"]);

async function pooledMoments(
  ckpt: Checkpoint,
  refs: TensorRef[],
  stats: ReadonlyMap<string, TensorStats>,
): Promise<Moments> {
  let m = emptyMoments();
  const whole = wholeTensorOf(refs, ckpt);
  if (whole) return momentsOfStats(stats.get(whole));
  for (const ref of refs) {
    const s = stats.get(ref.tensor);
    if (s && ref.transforms.every((t) => VALUE_PRESERVING.has(t.kind)))
      m = mergeMoments(m, momentsOfStats(s));
    else m = mergeMoments(m, await readMoments(ckpt, ref));
  }
  return m;
}

/** Experts stacked in one 3-D tensor and all selected: the pooled values are that tensor's values. */
function wholeTensorOf(refs: TensorRef[], ckpt: Checkpoint): string | null {
  const first = refs[0];
  if (!first || refs.length < 2) return null;
  const info = ckpt.tensors.get(first.tensor);
  const seen = new Set<number>();
  for (const r of refs) {
    const t0 = r.transforms[0];
    if (
      r.tensor !== first.tensor ||
      t0?.kind !== "index0" ||
      !r.transforms.slice(1).every((t) => VALUE_PRESERVING.has(t.kind))
    )
      return null;
    seen.add(t0.index);
  }
  return info && info.shape[0] === refs.length && seen.size === refs.length ? first.tensor : null;
}

function momentsOfStats(s: TensorStats | undefined): Moments {
  if (!s) return emptyMoments();
  const n = s.count - s.nanCount - s.infCount;
  if (n === 0) return { ...emptyMoments(), nan: s.nanCount, inf: s.infCount };
  return { n, mean: s.mean, m2: s.std * s.std * n, min: s.min, max: s.max, nan: s.nanCount, inf: s.infCount };
}

async function readMoments(ckpt: Checkpoint, ref: TensorRef): Promise<Moments> {
  const rows = ref.shape[0] ?? 1;
  const cols = ref.shape[1] ?? 1;
  const block = Math.max(1, Math.floor(PROFILE_BLOCK_VALUES / cols));
  let m = emptyMoments();
  for (let r = 0; r < rows; r += block) {
    m = mergeMoments(m, accumulateFloats(await readMatrix(ckpt, ref, r, Math.min(block, rows - r))).moments);
  }
  return m;
}

function stdOf(m: Moments): number {
  return m.n > 0 ? Math.sqrt(m.m2 / m.n) : Number.NaN;
}
