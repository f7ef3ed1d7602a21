import { fromFloat16Array } from "../fingerprint/sketch/project.js";
import type { MlpSketch } from "../fingerprint/sketch/types.js";
import type { LayerAlignment } from "./layers.js";
import { storedRowOf } from "./rows.js";

/**
 * Direction as a property of the pair. Every clue below is computed from facts that do not depend on
 * which model was named first (the deeper model's layers aligned onto the shallower one's, the wider
 * FFN's unmatched neurons, a quantisation grid on one side), so `compare A B` and `compare B A` name
 * the same model. A parent is named only when every clue points the same way; clues that disagree,
 * or none, leave it "unknown" with what was checked.
 */

export type Side = "A" | "B";
export interface DirectionClue {
  parent: Side;
  reason: string;
}
export interface Direction {
  parent: Side | "unknown";
  reason: string;
  /**
   * Set when structure shows which side cannot descend from the other (the grown, up-cycled or
   * quantised side is never the other's ancestor) but not that the two are parent and child: the
   * parent IF one of the two descends from the other. A set (`pedigree tree`) that places them as
   * parent and child may use it; the pair alone names no parent from it.
   */
  parentIfLineal?: Side;
}

/**
 * Median norm of the wider FFN's neurons absent from the narrower one, over the median of its matched
 * neurons, at or below which the extra neurons are fresh (a widening initialises them near zero:
 * kinship-dev's `wide`, N(0, 0.002²) then trained, 0.12–0.21 on every layer; a random 75 % prune
 * ≈ 1). Magnitude pruning drops the smallest trained neurons, hence a margin well below 1.
 */
export const FRESH_NEURON_RATIO = 0.35;
/** Fewer unmatched (or matched) neurons than this in a layer and its ratio is not used. */
const MIN_NEURONS_FOR_RATIO = 8;

export function other(s: Side): Side {
  return s === "A" ? "B" : "A";
}

/** Combines clues: one parent when they agree, "unknown" (with both sides' reasons) when they conflict. */
export function decideDirection(clues: DirectionClue[], checked: string): Direction {
  if (clues.length === 0)
    return { parent: "unknown", reason: `no asymmetric evidence (checked: ${checked})` };
  const parents = new Set(clues.map((c) => c.parent));
  const reasons = [...new Set(clues.map((c) => c.reason))];
  const first = clues[0];
  if (parents.size === 1 && first) return { parent: first.parent, reason: reasons.join("; ") };
  return { parent: "unknown", reason: `conflicting asymmetric evidence: ${reasons.join("; ")}` };
}

function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  const hi = s[m] ?? Number.NaN;
  return s.length % 2 ? hi : ((s[m - 1] ?? Number.NaN) + hi) / 2;
}

/** Per-neuron size of a stored row: the up-row norm (both gated and non-gated MLPs store it). */
function neuronNorms(m: MlpSketch): Float32Array {
  return fromFloat16Array(m.norms.up);
}

/**
 * For one layer pair of different widths, the wider FFN's median unmatched/matched neuron-norm ratio.
 * `matchedWide` are the wider FFN's neuron indices that carry a neuron of the narrower one.
 */
export function freshNeuronRatio(wide: MlpSketch, matchedWide: Set<number>): number {
  const norms = neuronNorms(wide);
  const rowOf = storedRowOf(wide);
  const matched: number[] = [];
  const unmatched: number[] = [];
  for (let i = 0; i < wide.neurons; i++) {
    const r = rowOf[i] ?? -1;
    const norm = norms[r];
    if (r < 0 || norm === undefined) continue;
    (matchedWide.has(i) ? matched : unmatched).push(norm);
  }
  if (matched.length < MIN_NEURONS_FOR_RATIO || unmatched.length < MIN_NEURONS_FOR_RATIO) return Number.NaN;
  const mm = median(matched);
  return mm > 0 ? median(unmatched) / mm : Number.NaN;
}

/**
 * Width clue over the layer pairs whose FFN widths differ (first MLP: dense layers). The ratio is
 * the median over layers; the wider side is the child when its extra neurons are fresh.
 */
export function widthClue(
  aMlp: (i: number) => MlpSketch | undefined,
  bMlp: (j: number) => MlpSketch | undefined,
  layers: LayerAlignment,
): { clue: DirectionClue | null; ratio: number; wider: Side | null } {
  const ratios: number[] = [];
  let wider: Side | null = null;
  for (const p of layers.pairs) {
    const t = p.tests[0];
    const ma = aMlp(p.a);
    const mb = bMlp(p.b);
    if (!t || p.tests.length !== 1 || !ma || !mb || ma.neurons === mb.neurons || p.log10P > -4) continue;
    wider = mb.neurons > ma.neurons ? "B" : "A";
    const matched = new Set<number>();
    t.test.bToA.forEach((j, i) => {
      if (j >= 0) matched.add(wider === "B" ? i : j);
    });
    const r = freshNeuronRatio(wider === "B" ? mb : ma, matched);
    if (Number.isFinite(r)) ratios.push(r);
  }
  const ratio = median(ratios);
  if (!wider || !Number.isFinite(ratio)) return { clue: null, ratio, wider };
  const narrow = other(wider);
  if (ratio <= FRESH_NEURON_RATIO)
    return {
      clue: {
        parent: narrow,
        reason: `${wider}'s extra FFN neurons are fresh (median norm ${ratio.toFixed(2)} of the neurons ${narrow} also has): ${wider} was widened from ${narrow}`,
      },
      ratio,
      wider,
    };
  // Extra neurons as large as the kept ones fit a prune, but also a widening at the trained scale:
  // no parent is named from them.
  return { clue: null, ratio, wider };
}

/**
 * Depth clue from the deeper model's layers aligned onto the shallower one's (`deepMap`: for each
 * deeper layer, its source layers in the shallower model): a source used twice means the deeper model
 * repeats layers, i.e. it was up-scaled from the shallower one.
 */
export function depthClue(deepMap: { a: number[] }[], deeper: Side): DirectionClue | null {
  const sources = deepMap.flatMap((e) => e.a);
  if (sources.length === new Set(sources).size) return null;
  const shallow = other(deeper);
  return {
    parent: shallow,
    reason: `${deeper} repeats ${shallow}'s layers (duplicated for depth up-scaling)`,
  };
}

/**
 * A structural clue says which side is not the other's descendant; it names that side the parent only
 * when the other still holds its weights up to what the storage explains (`allowance`: the cast, or
 * the quantiser's error). A sibling cannot produce that: both sides trained on after the split, and the
 * weights they share differ by both trainings. Measured on kinship-dev (docs/compare.md "Direction"):
 * a trained grown child and a sibling of it are not told apart by drift — the obfuscated sibling
 * (itself 0.0075 from Ap) is nearer to `deep` and `wide` than Ap is, about as near to `moe_upcycle`, and the copies of
 * a duplicated layer drift together (0.016–0.025 apart, 0.025–0.038 from Ap) — so beyond the
 * allowance the parent is "unknown" and the clue is kept as `parentIfLineal`.
 */
export function confirmParent(d: Direction, drift: number, allowance: number): Direction {
  if (d.parent === "unknown" || drift <= allowance) return d;
  const parent = d.parent;
  const child = other(parent);
  return {
    parent: "unknown",
    parentIfLineal: parent,
    reason: `${d.reason} — so ${child} is not ${parent}'s ancestor; but the weights they share differ by drift ${Number.isFinite(drift) ? drift.toFixed(4) : "unmeasured"} (> ${allowance.toFixed(4)}, what the storage explains): ${parent} may be ${child}'s parent or a relative that trained on (a sibling shows the same), which the pair alone cannot tell; the relations say how B differs from A, not that B derives from A`,
  };
}
