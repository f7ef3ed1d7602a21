import type { Fingerprint } from "../fingerprint/types.js";
import { isQuantisedDType } from "../formats/dtypes.js";
import { HIDDEN_TRUST, type HiddenAlignment, IDENTITY_KEEP, isHiddenPermuted } from "./align.js";
import type { IdentityResult } from "./identity.js";
import type { LayerAlignment } from "./layers.js";
import { isNearCopy } from "./neurons.js";
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
  direction: { parent: "A" | "B" | "unknown"; reason: string };
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

function meanDrift(layers: LayerAlignment): number {
  const cos: number[] = [];
  for (const p of layers.pairs)
    for (const t of p.tests) if (t.test.agreements > 0) cos.push(t.test.meanCosine);
  return cos.length ? Math.max(0, 1 - cos.reduce((s, x) => s + x, 0) / cos.length) : Number.NaN;
}

export function inferRelations(x: RelationInput): StructureFacts {
  const rel = new Set<Relation>();
  const notes: string[] = [];
  let direction: StructureFacts["direction"] = { parent: "unknown", reason: "no asymmetric evidence" };
  const setDir = (parent: "A" | "B", reason: string) => {
    if (direction.parent === "unknown") direction = { parent, reason };
  };
  const drift = meanDrift(x.layers);
  const quantA = [...dtypes(x.a)].some((d) => isQuantisedDType(d));
  const quantB = [...dtypes(x.b)].some((d) => isQuantisedDType(d));
  const containerDiffers =
    x.a.source.format !== x.b.source.format ||
    [...dtypes(x.a)].sort().join() !== [...dtypes(x.b)].sort().join();
  if (x.identity.allIdentical) {
    rel.add("identical");
    // Same bytes in another container (e.g. a PyTorch .bin copy of a safetensors file).
    if (x.a.source.format !== x.b.source.format) rel.add("format_convert");
    return { relations: [...rel], direction, drift: 0, notes: ["every tensor is bit-identical"] };
  }
  depthFacts(x, rel, setDir);
  widthFacts(x, rel, setDir);
  if (quantA !== quantB) {
    rel.add("quantize");
    setDir(
      quantB ? "A" : "B",
      `${quantB ? "B" : "A"} holds quantised weights (${[...dtypes(quantB ? x.b : x.a)].join(", ")})`,
    );
  }
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
  return { relations: [...rel], direction, drift, notes };
}

type SetDir = (parent: "A" | "B", reason: string) => void;

function depthFacts(x: RelationInput, rel: Set<Relation>, setDir: SetDir): void {
  const la = x.a.sketches.layers.length;
  const lb = x.b.sketches.layers.length;
  const kindA = x.a.sketches.layers.map((l) => l.kind);
  const kindB = x.b.sketches.layers.map((l) => l.kind);
  if (kindA.includes("dense") && !kindA.includes("moe") && kindB.includes("moe")) {
    rel.add("moe_upcycle");
    setDir("A", "B's experts each match A's dense FFN (a dense model is up-cycled, not the reverse)");
  } else if (kindB.includes("dense") && !kindB.includes("moe") && kindA.includes("moe")) {
    rel.add("moe_upcycle");
    setDir("B", "A's experts each match B's dense FFN");
  }
  const map = x.layers.layerMap;
  const sources = map.flatMap((e) => e.a);
  const dup = sources.length !== new Set(sources).size;
  const newLayers = map.filter((e) => e.a.length === 0).length;
  const unused = sources.length ? la - new Set(sources).size : 0;
  const reverseSources = (x.reverse?.layerMap ?? []).flatMap((e) => e.a);
  if (lb < la && !dup && reverseSources.length !== new Set(reverseSources).size) {
    rel.add("depth_upscale");
    setDir("B", "A repeats B's layers (duplicated for depth up-scaling)");
    return;
  }
  if (dup || lb > la) {
    rel.add("depth_upscale");
    setDir("A", dup ? "B repeats A's layers (duplicated for depth up-scaling)" : "B adds layers to A's");
  }
  // Net removal of A's layers (layers replaced by new ones are not a prune: the count is kept).
  if (unused > newLayers) {
    rel.add("prune");
    setDir("A", `B keeps ${la - unused} of A's ${la} layers`);
  }
}

function widthFacts(x: RelationInput, rel: Set<Relation>, setDir: SetDir): void {
  for (const p of x.layers.pairs) {
    if (p.log10P > -4) continue;
    const la = x.a.sketches.layers[p.a]!;
    const lb = x.b.sketches.layers[p.b]!;
    const na = la.mlps[0]?.neurons ?? 0;
    const nb = lb.mlps[0]?.neurons ?? 0;
    if (nb > na) {
      rel.add("width_expand");
      setDir("A", "B's FFN contains all of A's neurons plus new ones");
    } else if (nb < na && nb > 0) {
      rel.add("prune");
      setDir("A", "B's FFN keeps a subset of A's neurons");
    }
  }
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
      const na = x.a.sketches.layers[p.a]!.mlps[t.aMlp]!.neurons;
      const nb = x.b.sketches.layers[p.b]!.mlps[t.bMlp]!.neurons;
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
