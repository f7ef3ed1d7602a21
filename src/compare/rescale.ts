import { at } from "../checked.js";
import { fromFloat16Array } from "../fingerprint/sketch/project.js";
import type { LayerSketch, Sketches } from "../fingerprint/sketch/types.js";
import type { LayerAlignment } from "./layers.js";
import { storedRowOf } from "./rows.js";

/**
 * Function-preserving rescaling (DESIGN §4 E5, obfuscation). SwiGLU is linear in up, so up row i ×s
 * with down column i ÷s leaves the function unchanged; attention logits only see q·k, so q ×t with k ÷t
 * on a KV group does too. Sketch features keep directions only, so the scales are read from the
 * stored norms: for the neurons E3 matched, log-ratios ℓ_up = ln(|up_B|/|up_A|) and ℓ_down likewise.
 * A rescaling spreads ℓ_up widely while ℓ_up + ℓ_down stays near 0 (the product is kept); training
 * moves both little and not in opposition; a folded norm weight moves up alone.
 *
 * Non-gated MLPs carry the same norms (up rows, down columns) and are read the same way. There the
 * pattern is function-preserving for ReLU (relu(s·z) = s·relu(z) for s > 0, with the up bias scaled
 * too) and only approximately for GELU; training does not produce it either way, so naming it stays
 * a statement about the weights, not a guess.
 */

/** Spread (sd of ℓ_up) above which neuron scales changed by design: ≈ ×1.35; training moves < ×1.1. */
export const RESCALE_SPREAD = 0.3;
/** ℓ_up + ℓ_down must keep at most this fraction of ℓ_up's spread (the product is preserved). */
export const PRESERVED_FRACTION = 0.35;
/** A KV group counts as rescaled when its q rows scale by ≥ ×1.35 on average … */
const GROUP_SCALE_FACTOR = 1.35;
const GROUP_SCALE = Math.log(GROUP_SCALE_FACTOR);
/** … and its k rows by the inverse, to within this fraction of the q log-scale. */
const GROUP_PRESERVED = 0.25;
/** Attention counts as rescaled when this fraction of the tested groups (and at least MIN_GROUPS) are. */
const GROUP_FRACTION = 0.25;
const MIN_GROUPS = 2;

/** The decision rule in words, built from the constants above (reported with the E5 evidence). */
export const RESCALE_RULE =
  `matched neurons: sd ln(|up_B|/|up_A|) ≥ ${RESCALE_SPREAD} while ln of the up·down product keeps ≤ ${PRESERVED_FRACTION} of it; ` +
  `or ≥ ${GROUP_FRACTION * 100}% of KV groups (≥ ${MIN_GROUPS}) with q ×t, k ÷t (|ln t| ≥ ln ${GROUP_SCALE_FACTOR})`;

export interface RescaleFacts {
  /** FFN: sd of ℓ_up, sd of ℓ_up + ℓ_down, over matched neurons of equal-width layer pairs. */
  upSpread: number;
  productSpread: number;
  neurons: number;
  /** Attention: KV groups (over matched layer pairs) whose q ×t is undone by k ÷t, and groups tested. */
  qkGroupsRescaled: number;
  qkGroups: number;
  ffnRescaled: boolean;
  qkRescaled: boolean;
}

function sd(x: number[]): number {
  if (x.length < 2) return 0;
  const m = x.reduce((s, v) => s + v, 0) / x.length;
  return Math.sqrt(x.reduce((s, v) => s + (v - m) ** 2, 0) / (x.length - 1));
}

function ffnLogRatios(la: LayerSketch, lb: LayerSketch, bToA: Int32Array, up: number[], sum: number[]) {
  const ma = la.mlps[0];
  const mb = lb.mlps[0];
  if (!ma?.norms || !mb?.norms) return;
  const ua = fromFloat16Array(ma.norms.up);
  const ub = fromFloat16Array(mb.norms.up);
  const da = fromFloat16Array(ma.norms.down);
  const db = fromFloat16Array(mb.norms.down);
  // bToA holds neuron indices; norms are stored per stored row (a subset when the sketch has `rows`).
  const rowA = storedRowOf(ma);
  const rowB = storedRowOf(mb);
  // Indices come from the matching and the stored-row maps (bounded); a missing norm reads as 0 and
  // the neuron is skipped like one whose norm is 0.
  bToA.forEach((neuronA, neuronB) => {
    const i = neuronA < 0 ? -1 : (rowA[neuronA] ?? -1);
    const j = rowB[neuronB] ?? -1;
    if (i < 0 || j < 0) return;
    const upA = ua[i] ?? 0;
    const upB = ub[j] ?? 0;
    const downA = da[i] ?? 0;
    const downB = db[j] ?? 0;
    if (!(upA > 0 && upB > 0 && downA > 0 && downB > 0)) return;
    const lu = Math.log(upB / upA);
    up.push(lu);
    sum.push(lu + Math.log(downB / downA));
  });
}

/** Mean log-scale of each KV group's q rows and k rows, B over A (rows in place: heads are not matched). */
function qkGroups(la: LayerSketch, lb: LayerSketch): { lq: number; lk: number }[] {
  const a = la.qkNorms;
  const b = lb.qkNorms;
  if (!a || !b || a.q.length !== b.q.length || a.k.length !== b.k.length) return [];
  const qa = fromFloat16Array(a.q);
  const qb = fromFloat16Array(b.q);
  const ka = fromFloat16Array(a.k);
  const kb = fromFloat16Array(b.k);
  const perGroup = Math.max(1, Math.floor(a.heads / Math.max(1, a.kvHeads))) * a.headDim;
  const meanLog = (x: Float32Array, y: Float32Array, from: number, to: number) => {
    let s = 0;
    let n = 0;
    for (let r = from; r < to; r++) {
      const xr = x[r] ?? 0;
      const yr = y[r] ?? 0;
      if (xr > 0 && yr > 0) {
        s += Math.log(yr / xr);
        n++;
      }
    }
    return n ? s / n : 0;
  };
  return Array.from({ length: a.kvHeads }, (_, g) => ({
    lq: meanLog(qa, qb, g * perGroup, (g + 1) * perGroup),
    lk: meanLog(ka, kb, g * a.headDim, (g + 1) * a.headDim),
  }));
}

export function detectRescaling(a: Sketches, b: Sketches, layers: LayerAlignment): RescaleFacts {
  const up: number[] = [];
  const sum: number[] = [];
  let groups = 0;
  let rescaled = 0;
  for (const p of layers.pairs) {
    const la = at(a.layers, p.a, "aligned layer of A");
    const lb = at(b.layers, p.b, "aligned layer of B");
    const t = p.tests[0];
    if (t && p.tests.length === 1 && la.mlps.length === 1 && lb.mlps.length === 1)
      ffnLogRatios(la, lb, t.test.bToA, up, sum);
    for (const g of qkGroups(la, lb)) {
      groups++;
      if (Math.abs(g.lq) >= GROUP_SCALE && Math.abs(g.lq + g.lk) <= GROUP_PRESERVED * Math.abs(g.lq))
        rescaled++;
    }
  }
  const upSpread = sd(up);
  const productSpread = sd(sum);
  return {
    upSpread,
    productSpread,
    neurons: up.length,
    qkGroupsRescaled: rescaled,
    qkGroups: groups,
    ffnRescaled: upSpread >= RESCALE_SPREAD && productSpread <= PRESERVED_FRACTION * upSpread,
    qkRescaled: rescaled >= Math.max(MIN_GROUPS, GROUP_FRACTION * groups),
  };
}
