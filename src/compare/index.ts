import { PedigreeError } from "../errors.js";
import { SKETCH_VERSION } from "../fingerprint/sketch/build.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { fisherCombineLog10 } from "../stats/index.js";
import { alignHidden, idPairingCorrelation } from "./align.js";
import { tokenizerKinship } from "./baselines.js";
import {
  contextEvidence,
  hiddenEvidence,
  identityEvidence,
  layerEvidence,
  neuronEvidence,
  round,
} from "./evidence.js";
import { anchorsUsable, type FeatureSpace, featureSpace } from "./features.js";
import { compareTensors } from "./identity.js";
import { alignLayers } from "./layers.js";
import { type MergeTest, testMerge } from "./merge.js";
import { inferRelations } from "./relations.js";
import { detectRescaling } from "./rescale.js";
import { buildReuse } from "./reuse.js";
import type { CompareResult, Verdict } from "./types.js";

export type { CompareResult, Evidence, Relation, Verdict } from "./types.js";

/** DESIGN §4: related at combined log10 p ≤ −12. */
export const DEFAULT_RELATED_LOG10P = -12;
/**
 * Vocabularies sharing at least this Jaccard fraction are "the same tokenizer" (a GGUF copy may add a
 * few padding or control tokens); below it a related pair is named vocab_swap.
 */
const SAME_VOCAB_JACCARD = 0.98;
/** DESIGN §4: unrelated when every test stays at or above log10 p −2. */
export const UNRELATED_LOG10P = -2;
/**
 * An id pairing (a side without tokenizer) counts as confirmed when the Gram correlation of the
 * id-paired embedding rows reaches this: mismatched pairings score 0 ± 0.05 at the 32-token minimum
 * (3 sd), a rotated copy 1.0, kinship-dev's independent same-tokenizer bases 0.32.
 */
export const ID_PAIRING_CONFIRMED = 0.15;

export interface CompareOptions {
  /** Combined log10 p at or below which the verdict is "related" (DESIGN §4 default −12). */
  relatedThreshold?: number;
  /**
   * A candidate second parent C: B is also tested as an element-wise merge αA + (1−α)C (merge.ts), and
   * `merge` is named when the mix explains B much better than A or C alone.
   */
  mergeWith?: Fingerprint;
}

function checkSketches(fp: Fingerprint, side: "A" | "B"): void {
  if (fp.sketches?.version !== SKETCH_VERSION)
    throw new PedigreeError(
      "COMPARE_SKETCH_VERSION",
      `${side} (${fp.source?.spec ?? "?"}) carries sketches version ${fp.sketches?.version ?? "none"}, this build reads ${SKETCH_VERSION}`,
      {
        details: { side, found: fp.sketches?.version ?? null, expected: SKETCH_VERSION },
        hint: "Fingerprint the model again with this version of pedigree",
      },
    );
  if (fp.sketches.layers.length === 0)
    throw new PedigreeError("COMPARE_NO_LAYERS", `${side} has no transformer layers to compare`, {
      details: { side },
      hint: "Check that the model view recognised the architecture (pedigree inspect)",
    });
}

/** Compares two fingerprints (DESIGN §4, §5): verdict, combined log10 p, relations, layer map, evidence. */
export function compareFingerprints(
  a: Fingerprint,
  b: Fingerprint,
  opts: CompareOptions = {},
): CompareResult {
  checkSketches(a, "A");
  checkSketches(b, "B");
  const threshold = opts.relatedThreshold ?? DEFAULT_RELATED_LOG10P;
  if (!(threshold < 0))
    throw new PedigreeError(
      "USAGE_INVALID_OPTION",
      `threshold must be a negative log10 p, got ${threshold}`,
      {
        hint: "e.g. --threshold -12",
      },
    );
  const space = featureSpace(a.sketches, b.sketches);
  const identity = compareTensors(a, b);
  const layers = alignLayers(a.sketches, b.sketches, space);
  const reverse =
    b.sketches.layers.length < a.sketches.layers.length
      ? alignLayers(b.sketches, a.sketches, featureSpace(b.sketches, a.sketches))
      : null;
  const hidden = alignHidden(a.sketches, b.sketches, space.mode);
  const tok = tokenizerKinship(a, b);
  const e3 = neuronEvidence(layers, space);
  const e0 = identityEvidence(identity);
  const pValues = [...layers.pairs.map((p) => p.log10P), identity.log10P];
  const log10P = round(fisherCombineLog10(pValues));
  const evidence = [
    e0,
    e3,
    layerEvidence(layers),
    hiddenEvidence(hidden),
    ...contextEvidence(a, b, layers, tok),
  ];
  const pairing = space.mode === "id" ? idPairingCorrelation(a.sketches, b.sketches) : null;
  if (space.mode === "id") e3.detail.idPairingGramCorrelation = pairing === null ? null : round(pairing);
  // The pairing must be confirmed when it replaces a real tokenizer's strings (one side has one); two
  // tokenizer-less models have nothing else to pair by, and random embeddings carry no Gram structure.
  const fallback = space.mode === "id" && (a.sketches.tokenized || b.sketches.tokenized);
  const ran = invariantTestRan(space, layers, fallback ? pairing : 1);
  const { verdict, reason } = decide(log10P, evidence, threshold, ran);
  const rescale = detectRescaling(a.sketches, b.sketches, layers);
  evidence.push(rescaleEvidence(rescale));
  const facts = inferRelations({
    rescale,
    a,
    b,
    identity,
    layers,
    reverse,
    hidden,
    tokenizersDiffer: tok ? tok.jaccard < SAME_VOCAB_JACCARD : false,
  });
  const related = verdict === "related";
  if (opts.mergeWith) {
    const merge = mergeCheck(a, b, opts.mergeWith, layers, space);
    evidence.push(mergeEvidence(merge));
    if (related && merge?.merge && !facts.relations.includes("merge")) {
      facts.relations.push("merge");
      facts.notes.push(
        `B ≈ ${round(merge.alpha)}·A + ${round(1 - merge.alpha)}·C (residual ×${round(merge.ratio)} of the best single parent)`,
      );
    }
  }
  return {
    verdict,
    log10P,
    relations: related ? facts.relations : [],
    layerMap: related ? layers.layerMap : null,
    evidence,
    direction: related ? facts.direction : { parent: "unknown", reason: "not related" },
    threshold,
    drift: related ? round(facts.drift) : null,
    notes: related ? facts.notes : reason ? [reason] : [],
    coverage: identity.coverage,
    reuse: related ? buildReuse(a, b, layers, identity, hidden) : null,
    models: { a: describe(a), b: describe(b) },
  };
}

/**
 * Whether a neuron test that survives the transformations compare considers (hidden permutation or
 * rotation, neuron permutation) ran: the anchor family on enough shared tokens, on at least one layer
 * pair. Native features and E0 are basis-dependent: finding nothing with them proves nothing.
 */
function invariantTestRan(
  space: FeatureSpace,
  layers: ReturnType<typeof alignLayers>,
  idPairing: number | null,
): boolean {
  // With tokens paired by id, the test only has power when the pairing is right: check it.
  const pairingOk = space.mode !== "id" || (idPairing ?? 0) >= ID_PAIRING_CONFIRMED;
  return anchorsUsable(space) && layers.pairs.length > 0 && pairingOk;
}

function decide(
  log10P: number,
  evidence: CompareResult["evidence"],
  threshold: number,
  invariantRan: boolean,
): { verdict: Verdict; reason: string | null } {
  if (log10P <= threshold) return { verdict: "related", reason: null };
  const all = [log10P, ...evidence.map((e) => e.log10P).filter((p): p is number => p !== null)];
  if (!all.every((p) => p >= UNRELATED_LOG10P))
    return {
      verdict: "inconclusive",
      reason: "some test is below log10 p −2 but the combination does not reach the threshold",
    };
  // "unrelated" claims that a test able to see through a re-based copy ran and found nothing.
  if (!invariantRan)
    return {
      verdict: "inconclusive",
      reason:
        "no basis-invariant test could run (no shared anchor tokens, an unconfirmed token-id pairing, or no gated MLP): basis-dependent evidence finding nothing does not exclude a rotated or permuted copy",
    };
  return { verdict: "unrelated", reason: null };
}

function rescaleEvidence(r: ReturnType<typeof detectRescaling>): CompareResult["evidence"][number] {
  return {
    method: "E5 function-preserving rescaling (stored norms)",
    log10P: null,
    statistic: round(r.upSpread),
    detail: {
      upLogRatioSd: round(r.upSpread),
      upTimesDownLogRatioSd: round(r.productSpread),
      neurons: r.neurons,
      qkGroupsRescaled: r.qkGroupsRescaled,
      qkGroups: r.qkGroups,
      ffnRescaled: r.ffnRescaled,
      qkRescaled: r.qkRescaled,
      rule: "matched neurons: sd ln(|up_B|/|up_A|) ≥ 0.3 while ln of the up·down product keeps ≤ 0.35 of it; or ≥ 25% of KV groups (≥ 2) with q ×t, k ÷t (|ln t| ≥ ln 1.35)",
    },
  };
}

function mergeCheck(
  a: Fingerprint,
  b: Fingerprint,
  c: Fingerprint,
  layers: ReturnType<typeof alignLayers>,
  space: FeatureSpace,
): MergeTest | null {
  checkSketches(c, "A");
  const spaceC = featureSpace(c.sketches, b.sketches);
  const layersC = alignLayers(c.sketches, b.sketches, spaceC);
  return testMerge(a.sketches, b.sketches, c.sketches, { layers, space }, { layers: layersC, space: spaceC });
}

function mergeEvidence(m: MergeTest | null): CompareResult["evidence"][number] {
  return {
    method: "E5 merge test (B ≈ αA + (1−α)C)",
    log10P: null,
    statistic: m ? round(m.ratio) : 1,
    detail: m
      ? {
          alpha: round(m.alpha),
          residualMix: round(m.residualMix),
          residualA: round(m.residualA),
          residualC: round(m.residualC),
          ratio: round(m.ratio),
          neurons: m.neurons,
          layers: m.layers,
          perLayer: m.perLayer.map((l) => ({ ...l, alpha: round(l.alpha), ratio: round(l.ratio) })),
          merge: m.merge,
          rule: "merge when 0.1 ≤ α ≤ 0.9 and the mix leaves ≤ 0.5 of the better single parent's residual (native gate/up features of neurons matched in both), overall and in ≥ 75% of the layers",
        }
      : {
          note: "not computed: C is not aligned to B (no matched neurons) or the native features are not comparable",
        },
  };
}

function describe(fp: Fingerprint) {
  return {
    spec: fp.source?.spec,
    format: fp.source?.format,
    contentId: fp.contentId,
    architecture: fp.dims?.architecture,
    layers: fp.sketches.layers.length,
    hidden: fp.sketches.hidden,
  };
}
