import { PedigreeError } from "../errors.js";
import { SKETCH_VERSION } from "../fingerprint/sketch/build.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { fisherCombineLog10 } from "../stats/index.js";
import { alignHidden, embeddingTest } from "./align.js";
import { alignAttention } from "./attention.js";
import { tokenizerKinship } from "./baselines.js";
import {
  attentionEvidence,
  type ComponentFinding,
  componentFindings,
  untestedClasses,
} from "./components.js";
import {
  contextEvidence,
  hiddenEvidence,
  identityEvidence,
  layerEvidence,
  mergeEvidence,
  neuronEvidence,
  rescaleEvidence,
  round,
} from "./evidence.js";
import { anchorsUsable, type FeatureSpace, featureSpace, viewMismatch } from "./features.js";
import { compareTensors, type IdentityResult } from "./identity.js";
import { alignLayers, type LayerPairResult } from "./layers.js";
import { mergeWithCandidate } from "./merge.js";
import { inferRelations } from "./relations.js";
import { detectRescaling } from "./rescale.js";
import { buildReuse } from "./reuse.js";
import type { CompareResult, Evidence } from "./types.js";
import { verdictOf } from "./verdict.js";

export { mergeAmong } from "./merge-set.js";
export { compareResultSchema, evidenceSchema } from "./schema.js";
export { type LineageForest, lineageForest, type PairResult } from "./tree.js";
export {
  type CompareResult,
  type ComponentFinding,
  type Coverage,
  type Evidence,
  type EvidenceId,
  type EvidenceOf,
  evidenceOf,
  type Relation,
  type Reuse,
  type Verdict,
} from "./types.js";

/** DESIGN §4: related at combined log10 p ≤ −12. */
export const DEFAULT_RELATED_LOG10P = -12;
/**
 * Vocabularies sharing at least this Jaccard fraction are "the same tokenizer" (a GGUF copy may add a
 * few padding or control tokens); below it a related pair is named vocab_swap.
 */
const SAME_VOCAB_JACCARD = 0.98;

export { ID_PAIRING_CONFIRMED, UNRELATED_LOG10P } from "./verdict.js";
export interface CompareOptions {
  /** Combined log10 p at or below which the verdict is "related" (DESIGN §4 default −12). */
  relatedThreshold?: number;
  /**
   * A candidate second parent C: B is also tested as an element-wise merge αA + (1−α)C (merge.ts), and
   * `merge` is named when the mix explains B much better than A or C alone.
   */
  mergeWith?: Fingerprint;
}

/**
 * Parts of a comparison computed before it, elsewhere (compareOnPool, pool.ts): the diagonal layer
 * tests A layer i ↔ B layer i, which alignLayers would otherwise run first, one after the other.
 */
export interface Precomputed {
  diagonal?: readonly (LayerPairResult | null)[];
  identity?: IdentityResult;
  hidden?: ReturnType<typeof alignHidden>;
  embedding?: ReturnType<typeof embeddingTest>;
}

/** The parts of a comparison that do not depend on the layer alignment: E0 and E2. */
export function independentParts(a: Fingerprint, b: Fingerprint, space: FeatureSpace): Precomputed {
  return {
    identity: compareTensors(a, b),
    hidden: alignHidden(a.sketches, b.sketches, space.mode),
    embedding: embeddingTest(a.sketches, b.sketches, space.mode),
  };
}

/** True when compareFingerprints will read these sketches (its checks pass): worth precomputing for. */
export function sketchesReadable(fp: Fingerprint): boolean {
  return fp.sketches?.version === SKETCH_VERSION && fp.sketches.layers.length > 0;
}

function checkSketches(fp: Fingerprint, side: "A" | "B" | "C"): void {
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
  precomputed: Precomputed = {},
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
  const identity = precomputed.identity ?? compareTensors(a, b);
  const layers = alignLayers(a.sketches, b.sketches, space, precomputed.diagonal);
  // A's layers onto B's: the deeper side's map is read whichever was named first (direction.ts); at
  // equal depth it is only needed when the in-place map did not hold (a layer may repeat another).
  const la = a.sketches.layers.length;
  const lb = b.sketches.layers.length;
  const reverse =
    lb < la || (lb === la && (layers.screen.length > 0 || expertsOnlyInA(a, b)))
      ? alignLayers(b.sketches, a.sketches, featureSpace(b.sketches, a.sketches))
      : null;
  // Precomputed parts may be null (no E2 in this space): only undefined means "not computed".
  const hidden =
    precomputed.hidden !== undefined ? precomputed.hidden : alignHidden(a.sketches, b.sketches, space.mode);
  const embedding =
    precomputed.embedding !== undefined
      ? precomputed.embedding
      : embeddingTest(a.sketches, b.sketches, space.mode);
  const attention = alignAttention(a.sketches, b.sketches, space, layers);
  const tok = tokenizerKinship(a, b);
  const e3 = neuronEvidence(layers, space);
  const e0 = identityEvidence(identity);
  // Fisher over every test with a stated null: E3 per layer, E0, E7 per layer, E2.
  const pValues = [
    ...layers.pairs.map((p) => p.log10P),
    identity.log10P,
    ...attention.pairs.map((p) => p.log10P),
    ...(embedding ? [embedding.log10P] : []),
  ];
  const log10P = round(fisherCombineLog10(pValues));
  const evidence: Evidence[] = [
    e0,
    e3,
    layerEvidence(layers),
    hiddenEvidence(hidden, embedding),
    attentionEvidence(attention),
    ...contextEvidence(a, b, layers, tok),
  ];
  const components = componentFindings({
    a,
    b,
    layers,
    mlpTested: anchorsUsable(space) && layers.pairs.length > 0,
    attention,
    embedding,
    embeddingRowCosine: hidden ? hidden.rowCosine : null,
  });
  // The MLP class is checked by verdictOf itself (with the id-pairing confirmation).
  const untested = untestedClasses(components).filter((c) => c !== "mlp");
  const { verdict, reason } = verdictOf(
    a.sketches,
    b.sketches,
    space,
    layers,
    log10P,
    evidence,
    threshold,
    untested,
  );
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
  const mismatch = viewMismatch(a.sketches, b.sketches);
  if (opts.mergeWith) {
    checkSketches(opts.mergeWith, "C");
    const merge = mergeWithCandidate(a.sketches, b.sketches, opts.mergeWith.sketches, layers, space);
    evidence.push(mergeEvidence(merge));
    if (related && merge?.merge && !facts.relations.includes("merge")) {
      facts.relations.push("merge");
      facts.notes.push(
        `B ≈ ${round(merge.alpha)}·A + ${round(1 - merge.alpha)}·C (residual ×${round(merge.ratio)} of the best single parent)`,
      );
    }
  }
  const notesOnly = componentNote(components, related);
  return {
    verdict,
    log10P,
    relations: related ? facts.relations : [],
    layerMap: related ? layers.layerMap : null,
    evidence,
    direction: related ? facts.direction : { parent: "unknown", reason: "not related" },
    threshold,
    drift: related ? round(facts.drift) : null,
    notes: [
      ...(mismatch ? [mismatch] : []),
      ...(related ? facts.notes : reason ? [reason] : []),
      ...(notesOnly ? [notesOnly] : []),
    ],
    coverage: identity.coverage,
    components,
    reuse: related ? buildReuse(a, b, layers, identity, hidden) : null,
    models: { a: describe(a), b: describe(b) },
  };
}

/** For a related pair whose MLPs show no kinship: which classes carried it (attention-only reuse). */
function componentNote(components: ComponentFinding[], related: boolean): string | null {
  if (!related) return null;
  const kin = components.filter((c) => c.kinship).map((c) => c.class);
  if (kin.includes("mlp") || kin.length === 0) return null;
  return `kinship found in ${kin.join(" and ")} only: the MLPs show none (re-initialised or replaced); see components and the E7 kvHeadMap`;
}

/** A is a mixture of experts and B is dense: B's map onto A's experts is read in the MoE-as-B order. */
export function expertsOnlyInA(a: Fingerprint, b: Fingerprint): boolean {
  const moe = (fp: Fingerprint) => fp.sketches.layers.some((l) => l.mlps.length > 1);
  return moe(a) && !moe(b);
}

function describe(fp: Fingerprint): CompareResult["models"]["a"] {
  return {
    spec: fp.source?.spec,
    format: fp.source?.format,
    contentId: fp.contentId,
    architecture: fp.dims?.architecture,
    layers: fp.sketches.layers.length,
    hidden: fp.sketches.hidden,
  };
}
