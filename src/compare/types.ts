/** The JSON contract of `pedigree compare --json` (DESIGN §5). Other tools parse it: extend, never break. */

export type Verdict = "related" | "unrelated" | "inconclusive";

export type Relation =
  | "identical"
  | "continued_training"
  | "depth_upscale"
  | "width_expand"
  | "prune"
  | "vocab_swap"
  | "obfuscation"
  | "partial_freeze"
  | "moe_upcycle"
  | "merge"
  | "quantize"
  | "format_convert";

export interface Evidence {
  method: string;
  log10P: number | null;
  statistic: number;
  detail: Record<string, unknown>;
}

export interface CompareResult {
  verdict: Verdict;
  /** Combined log10 p under H0 "independently initialised and trained"; ≤ 0, never -Infinity. */
  log10P: number;
  relations: Relation[];
  /** For each layer j of B, its source layer(s) in A ([] = new layer); null when not established. */
  layerMap: { b: number; a: number[] }[] | null;
  evidence: Evidence[];
  /**
   * Which model is the parent, when it can be told; `parentIfLineal`: the parent if one of the two
   * descends from the other (structure rules out the reverse, but a sibling would look the same).
   */
  direction: { parent: "A" | "B" | "unknown"; reason: string; parentIfLineal?: "A" | "B" };
  [key: string]: unknown;
}
