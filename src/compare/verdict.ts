import type { Sketches } from "../fingerprint/sketch/types.js";
import { idPairingCorrelation } from "./align.js";
import { round } from "./evidence.js";
import { anchorsUsable, type FeatureSpace } from "./features.js";
import type { LayerAlignment } from "./layers.js";
import { type Evidence, evidenceOf, type Verdict } from "./types.js";

/** DESIGN §4: unrelated when every test stays at or above log10 p −2. */
export const UNRELATED_LOG10P = -2;
/**
 * An id pairing (a side without tokenizer) counts as confirmed when the Gram correlation of the
 * id-paired embedding rows reaches this: mismatched pairings score 0 ± 0.05 at the 32-token minimum
 * (3 sd), a rotated copy 1.0, kinship-dev's independent same-tokenizer bases 0.32.
 */
export const ID_PAIRING_CONFIRMED = 0.15;

/**
 * Whether a neuron test that survives the transformations compare considers (hidden permutation or
 * rotation, neuron permutation) ran: the anchor family on enough shared tokens, on at least one layer
 * pair. Native features and E0 are basis-dependent: finding nothing with them proves nothing.
 */
export function invariantTestRan(
  space: FeatureSpace,
  layers: LayerAlignment,
  idPairing: number | null,
): boolean {
  // With tokens paired by id, the test only has power when the pairing is right: check it.
  const pairingOk = space.mode !== "id" || (idPairing ?? 0) >= ID_PAIRING_CONFIRMED;
  return anchorsUsable(space) && layers.pairs.length > 0 && pairingOk;
}

function decide(
  log10P: number,
  evidence: Evidence[],
  threshold: number,
  invariantRan: boolean,
  untested: readonly string[],
): { verdict: Verdict; reason: string | null } {
  if (log10P <= threshold) return { verdict: "related", reason: null };
  const all = [log10P, ...evidence.map((e) => e.log10P).filter((p): p is number => p !== null)];
  if (!all.every((p) => p >= UNRELATED_LOG10P))
    return {
      verdict: "inconclusive",
      reason: `some test is below log10 p ${minusSign(UNRELATED_LOG10P)} but the combination does not reach the threshold`,
    };
  // "unrelated" claims that a test able to see through a re-based copy ran and found nothing.
  if (!invariantRan)
    return {
      verdict: "inconclusive",
      reason:
        "no basis-invariant test could run (no shared anchor tokens, an unconfirmed token-id pairing, or no MLPs with a common pair of neuron views): basis-dependent evidence finding nothing does not exclude a rotated or permuted copy",
    };
  // Every component class both models have must have been tested: MLP evidence alone cannot clear a
  // child that kept its parent's attention or embeddings and re-initialised the rest.
  if (untested.length)
    return {
      verdict: "inconclusive",
      reason: `no test with a stated null covered: ${untested.join(", ")}; nothing found elsewhere does not exclude reuse of those`,
    };
  return { verdict: "unrelated", reason: null };
}

/**
 * The verdict (DESIGN §4) and, when it is not "unrelated" for want of a test, why. Adds the id
 * pairing's Gram check to the E3 row when tokens were paired by id.
 */
export function verdictOf(
  a: Sketches,
  b: Sketches,
  space: FeatureSpace,
  layers: LayerAlignment,
  log10P: number,
  evidence: Evidence[],
  threshold: number,
  untested: readonly string[] = [],
): { verdict: Verdict; reason: string | null } {
  const pairing = space.mode === "id" ? idPairingCorrelation(a, b) : null;
  const e3 = evidenceOf(evidence, "E3");
  if (space.mode === "id" && e3)
    e3.detail.idPairingGramCorrelation = pairing === null ? null : round(pairing);
  // The pairing must be confirmed when it replaces a real tokenizer's strings (one side has one); two
  // tokenizer-less models have nothing else to pair by, and random embeddings carry no Gram structure.
  const fallback = space.mode === "id" && (a.tokenized || b.tokenized);
  return decide(
    log10P,
    evidence,
    threshold,
    invariantTestRan(space, layers, fallback ? pairing : 1),
    untested,
  );
}

/** −2 with a typographic minus, as the rest of the report writes negative log10 p. */
function minusSign(x: number): string {
  return String(x).replace("-", "−");
}
