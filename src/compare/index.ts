import { PedigreeError } from "../errors.js";
import type { Fingerprint } from "../fingerprint/types.js";
import type { CompareResult } from "./types.js";

export type { CompareResult, Evidence, Relation, Verdict } from "./types.js";

export interface CompareOptions {
  /** Combined log10 p at or below which the verdict is "related" (DESIGN §4 default −12). */
  relatedThreshold?: number;
}

/** Compares two fingerprints. (Placeholder; implemented by the compare work.) */
export function compareFingerprints(
  _a: Fingerprint,
  _b: Fingerprint,
  _opts: CompareOptions = {},
): CompareResult {
  throw new PedigreeError("COMPARE_NOT_YET", "compare is not implemented yet");
}
