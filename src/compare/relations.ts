import { at } from "../checked.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { HIDDEN_TRUST, type HiddenAlignment, IDENTITY_KEEP, isHiddenPermuted } from "./align.js";
import type { Direction } from "./direction.js";
import { confirmParent, type DirectionClue, decideDirection, depthClue, widthClue } from "./direction.js";
import type { IdentityResult } from "./identity.js";
import { LAYER_MATCH_LOG10P, type LayerAlignment } from "./layers.js";
import { isNearCopy } from "./neurons.js";
import { quantisationDrift, quantisationNote, quantisationOf } from "./quantisation.js";
import type { RescaleFacts } from "./rescale.js";
import type { Relation } from "./types.js";

/**
 * E5 structure → relations (DESIGN §4). Relations describe what would turn A into B; they are only
 * named for a related pair. Each rule states the structural fact it rests on, and the same facts give
 * the direction when the structure is asymmetric (growth, up-cycling, quantisation).
 */

/** Drift (1 − mean cosine of matched neuron features) explained by 8-bit sketch quantisation and bf16/f16 casts. */
export const CAST_DRIFT = 2e-3;
/** Drift explained by weight quantisation (GGUF Q4–Q8, int8): measured rows keep cosine ≥ 0.98. */
export const QUANT_DRIFT = 2e-2;

export interface StructureFacts {
  relations: Relation[];
  direction: Direction;
  drift: number;
  notes: string[];
}

export interface RelationInput {
  a: Fingerprint;
  b: Fingerprint;
  identity: IdentityResult;
  layers: LayerAlignment;
  /** Layers of A aligned to B (only computed when B has fewer layers). */
  reverse: LayerAlignment | null;
  hidden: HiddenAlignment | null;
  tokenizersDiffer: boolean;
  /** Function-preserving norm pattern (rescale.ts), or null when not computed. */
  rescale?: RescaleFacts | null;
}

function dtypes(fp: Fingerprint): Set<string> {
  return new Set(fp.tensors.filter((t) => t.shape.length === 2).map((t) => t.dtype));
}

/** Over the layer pairs that matched (a layer with no source, e.g. one a prune dropped, is not drift). */
function meanDrift(layers: LayerAlignment): number {
  const cos: number[] = [];
  for (const p of layers.pairs) {
    if (p.log10P > LAYER_MATCH_LOG10P) continue;
    for (const t of p.tests) if (t.test.agreements > 0) cos.push(t.test.meanCosine);
  }
  return cos.length ? Math.max(0, 1 - cos.reduce((s, x) => s + x, 0) / cos.length) : Number.NaN;
}

/**
 * The same over each test's median cosine: the drift of the carried-over neurons, which a widening's
 * chance agreements among its new neurons do not inflate (an exact widening: mean 0.0029, median 0.0000
 * on a neuron-subset sketch). Used to confirm a parent (direction.ts `confirmParent`).
 */
function keptDrift(layers: LayerAlignment): number {
  const cos: number[] = [];
  for (const p of layers.pairs) {
    if (p.log10P > LAYER_MATCH_LOG10P) continue;
    for (const t of p.tests) if (t.test.agreements > 0) cos.push(t.test.medianCosine);
  }
  return cos.length ? Math.max(0, 1 - cos.reduce((s, x) => s + x, 0) / cos.length) : Number.NaN;
}

export function inferRelations(x: RelationInput): StructureFacts {
  const rel = new Set<Relation>();
  const notes: string[] = [];
  const clues: DirectionClue[] = [];
  const drift = meanDrift(deeperAlignment(x));
  const qa = quantisationOf(x.a);
  const qb = quantisationOf(x.b);
  const quantA = qa !== null;
  const quantB = qb !== null;
  const containerDiffers =
    x.a.source.format !== x.b.source.format ||
    [...dtypes(x.a)].sort().join() !== [...dtypes(x.b)].sort().join();
  if (x.identity.allIdentical) {
    rel.add("identical");
    // Same bytes in another container (e.g. a PyTorch .bin copy of a safetensors file).
    if (x.a.source.format !== x.b.source.format) rel.add("format_convert");
    const direction = {
      parent: "unknown" as const,
      reason: "every tensor is bit-identical: nothing tells which came first",
    };
    return { relations: [...rel], direction, drift: 0, notes: ["every tensor is bit-identical"] };
  }
  depthFacts(x, rel, clues);
  widthFacts(x, rel, clues);
  // Exactly one side quantised: that side is the child.
  const how = quantA === quantB ? null : (qb ?? qa);
  if (how) {
    rel.add("quantize");
    const q = quantB ? "B" : "A";
    clues.push({
      parent: quantB ? "A" : "B",
      reason:
        how.how === "stored"
          ? `${q} holds quantised weights (${how.scheme})`
          : `${q}'s values sit on a quantiser's grid (${how.scheme}), the other's do not`,
    });
  }
  if (quantA || quantB) notes.push(quantisationNote("A", x.a, qa), quantisationNote("B", x.b, qb));
  // Drift beyond what the dtypes explain is training; within it, only the container/dtype changed.
  const sameValues = !(drift > (quantA || quantB ? QUANT_DRIFT : CAST_DRIFT));
  // Another container or dtype is a conversion whether or not the values also moved (a .bin of a
  // fine-tuned child is continued_training + format_convert).
  if (containerDiffers && !rel.has("quantize")) rel.add("format_convert");
  if (!sameValues) rel.add("continued_training");
  if (x.tokenizersDiffer) rel.add("vocab_swap");
  if (isObfuscated(x)) rel.add("obfuscation");
  if (x.rescale?.ffnRescaled || x.rescale?.qkRescaled) {
    rel.add("obfuscation");
    notes.push(
      `function-preserving rescaling: ${x.rescale.ffnRescaled ? `up ×s / down ÷s on neurons (sd ln s ${x.rescale.upSpread.toFixed(2)})` : ""}${x.rescale.ffnRescaled && x.rescale.qkRescaled ? "; " : ""}${x.rescale.qkRescaled ? `q ×t / k ÷t on ${x.rescale.qkGroupsRescaled} of ${x.rescale.qkGroups} KV groups` : ""}`,
    );
  }
  if (x.identity.identical.length > 0) {
    rel.add("partial_freeze");
    notes.push(`${x.identity.identical.length} non-constant tensors are bit-identical while others changed`);
  }
  // What the storage explains: the cast, plus the quantiser's error when a side is quantised.
  const allowance = CAST_DRIFT + Math.max(quantisationDrift(qa), quantisationDrift(qb));
  const direction = confirmParent(
    decideDirection(clues, DIRECTION_CHECKED),
    keptDrift(deeperAlignment(x)),
    allowance,
  );
  if (rel.size === 0)
    notes.push(
      `values equal up to the cast (drift ${drift.toFixed(4)} ≤ ${CAST_DRIFT}) in the same container and dtypes, yet the bytes differ; no structural change`,
      quantisationNote("A", x.a, qa),
      quantisationNote("B", x.b, qb),
    );
  return { relations: [...rel], direction, drift, notes };
}

/** What the direction rules look at, stated when none applies. */
const DIRECTION_CHECKED =
  "duplicated layers, experts copied from a dense FFN, quantised storage on one side, fresh or trained extra FFN neurons";

/**
 * The alignment of the deeper model's layers onto the shallower one's (the experts of a mixture onto
 * the dense FFN at equal depth; otherwise B onto A, where agreeing neurons are the same pairs either way): drift is measured on it so it does not depend on
 * the argument order.
 */
function deeperAlignment(x: RelationInput): LayerAlignment {
  const la = x.a.sketches.layers.length;
  const lb = x.b.sketches.layers.length;
  const moe = (fp: Fingerprint) => fp.sketches.layers.some((l) => l.mlps.length > 1);
  const aFirst = la > lb || (la === lb && moe(x.a) && !moe(x.b));
  return aFirst && x.reverse ? x.reverse : x.layers;
}

function depthFacts(x: RelationInput, rel: Set<Relation>, clues: DirectionClue[]): void {
  const la = x.a.sketches.layers.length;
  const lb = x.b.sketches.layers.length;
  const kindA = x.a.sketches.layers.map((l) => l.kind);
  const kindB = x.b.sketches.layers.map((l) => l.kind);
  if (kindA.includes("dense") && !kindA.includes("moe") && kindB.includes("moe")) {
    rel.add("moe_upcycle");
    clues.push({
      parent: "A",
      reason: "B's experts each match A's dense FFN (a dense model is up-cycled, not the reverse)",
    });
  } else if (kindB.includes("dense") && !kindB.includes("moe") && kindA.includes("moe")) {
    rel.add("moe_upcycle");
    clues.push({
      parent: "B",
      reason: "A's experts each match B's dense FFN (a dense model is up-cycled, not the reverse)",
    });
  }
  // Relations say what turns A into B, so they invert with the argument order.
  if (lb > la) rel.add("depth_upscale");
  if (lb < la) rel.add("prune");
  if (la === lb) sameDepthSurgery(x, rel);
  // B's layers onto A's: a repeated source means B duplicated A's layers; A's onto B's, the reverse.
  if (lb >= la) {
    const c = depthClue(x.layers.layerMap, "B");
    if (c) clues.push(c);
  }
  if (la >= lb && x.reverse) {
    const c = depthClue(x.reverse.layerMap, "A");
    if (c) clues.push(c);
  }
}

/**
 * Equal depth: layers repeated in B (B's map onto A has a source twice) or A's layers missing from B
 * (net of B's new layers) — and, read from A's map onto B, the inverses — so that swapping the
 * arguments swaps depth_upscale and prune.
 */
function sameDepthSurgery(x: RelationInput, rel: Set<Relation>): void {
  const n = x.a.sketches.layers.length;
  const facts = (map: { a: number[] }[]) => {
    const sources = map.flatMap((e) => e.a);
    const distinct = new Set(sources).size;
    const fresh = map.filter((e) => e.a.length === 0).length;
    return { dup: sources.length !== distinct, dropped: sources.length > 0 && n - distinct > fresh };
  };
  const b = facts(x.layers.layerMap);
  if (b.dup) rel.add("depth_upscale");
  if (b.dropped) rel.add("prune");
  if (!x.reverse) return;
  const a = facts(x.reverse.layerMap);
  if (a.dup) rel.add("prune");
  if (a.dropped) rel.add("depth_upscale");
}

function widthFacts(x: RelationInput, rel: Set<Relation>, clues: DirectionClue[]): void {
  for (const p of x.layers.pairs) {
    if (p.log10P > -4) continue;
    const na = x.a.sketches.layers[p.a]?.mlps[0]?.neurons ?? 0;
    const nb = x.b.sketches.layers[p.b]?.mlps[0]?.neurons ?? 0;
    if (nb > na && na > 0) rel.add("width_expand");
    else if (nb < na && nb > 0) rel.add("prune");
  }
  const w = widthClue(
    (i) => x.a.sketches.layers[i]?.mlps[0],
    (j) => x.b.sketches.layers[j]?.mlps[0],
    x.layers,
  );
  if (w.clue) clues.push(w.clue);
}

/** Hidden units or neurons of equal-width layers mapped by a non-identity permutation. */
function isObfuscated(x: RelationInput): boolean {
  const h = x.hidden;
  if (h && isHiddenPermuted(h)) return true;
  // A rotated basis: no signed permutation fits the embeddings and the identity does not either, yet
  // the basis-free anchor features match (re-initialised embeddings would need the native ones).
  const fams = x.layers.pairs.flatMap((p) => p.tests.map((t) => t.test.family));
  const anchorWins = fams.length > 0 && fams.filter((f) => f === "anchor").length > fams.length / 2;
  if (h && h.quality < HIDDEN_TRUST && h.identityQuality < HIDDEN_TRUST && anchorWins) return true;
  for (const p of x.layers.pairs) {
    for (const t of p.tests) {
      const na = at(at(x.a.sketches.layers, p.a, "layer of A").mlps, t.aMlp, "MLP of A").neurons;
      const nb = at(at(x.b.sketches.layers, p.b, "layer of B").mlps, t.bMlp, "MLP of B").neurons;
      // Widths are the full `neurons`; "most neurons carried over" counts against the expected overlap,
      // which differs from `compared` when a sketch stores a neuron subset (neurons.ts).
      if (na !== nb || !isNearCopy(t.test)) continue;
      let kept = 0;
      t.test.bToA.forEach((j, i) => {
        if (j === i) kept++;
      });
      if (kept < IDENTITY_KEEP * t.test.agreements) return true;
    }
  }
  return false;
}
