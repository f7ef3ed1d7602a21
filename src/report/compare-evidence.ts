import {
  type CompareResult,
  type Evidence,
  type EvidenceOf,
  evidenceOf,
  type Reuse,
} from "../compare/types.js";

/**
 * The reports read compare's evidence rows only through these accessors: which method a row is,
 * what its statistic measures, and the per-layer details the plots need. A change to how a row names
 * its method then touches this file alone.
 */

/** The method family of a row: "E5" for both E5-rescale and E5-merge. */
export type EvidenceFamily = "E0" | "E1" | "E2" | "E3" | "E4" | "E5" | "E6" | "E7";

const FAMILIES: readonly EvidenceFamily[] = ["E0", "E1", "E2", "E3", "E4", "E5", "E6", "E7"];

export function evidenceId(e: Evidence): EvidenceFamily | null {
  const id = e.id.slice(0, 2);
  return FAMILIES.find((x) => x === id) ?? null;
}

/** Rows in method order E0 … E7; rows of one method keep the order compare gave them. */
export function evidenceInOrder(r: CompareResult): Evidence[] {
  const rank = (e: Evidence) => {
    const id = evidenceId(e);
    return id === null ? FAMILIES.length : FAMILIES.indexOf(id);
  };
  return r.evidence
    .map((e, i) => ({ e, i }))
    .sort((x, y) => rank(x.e) - rank(y.e) || x.i - y.i)
    .map((x) => x.e);
}

/** How a row's statistic is measured, so a reader does not compare a count with a fraction. */
export interface StatisticUnit {
  /** What the number is, in words. */
  means: string;
  /** How to print it. */
  format: (v: number) => string;
}

const fraction = (v: number) => `${(100 * v).toFixed(1)}%`;
const plain = (v: number) => String(Number(v.toPrecision(3)));

export function statisticUnit(e: Evidence): StatisticUnit {
  switch (evidenceId(e)) {
    case "E0":
      return { means: "count of non-constant tensors bit-identical in A and B", format: (v) => v.toFixed(0) };
    case "E1":
      return { means: "fraction of distinct tokens the vocabularies share (Jaccard)", format: fraction };
    case "E2":
      return {
        means: "mean |cosine| of each hidden unit with its matched unit of A (0 to 1)",
        format: plain,
      };
    case "E3":
      return { means: "fraction of compared neurons whose two matchings agree", format: fraction };
    case "E4":
      return { means: "fraction of B's layers mapped to a layer of A", format: fraction };
    case "E5":
      return e.id === "E5-merge"
        ? {
            means:
              "residual of the best mix ÷ residual of the best single parent (below 1: a merge fits better)",
            format: plain,
          }
        : {
            means: "standard deviation of log norm ratios of matched neurons (0: a pure rescaling)",
            format: plain,
          };
    case "E6":
      return { means: "correlation coefficient (−1 to 1)", format: plain };
    case "E7":
      return { means: "fraction of compared attention units whose two matchings agree", format: fraction };
    default:
      return { means: "see detail", format: plain };
  }
}

/** One B layer's E3 test against its chosen A layer. */
export type NeuronLayer = EvidenceOf<"E3">["detail"]["perLayer"][number];

/** E3's per-layer tests, by B layer. */
export function neuronLayers(r: CompareResult): NeuronLayer[] {
  return (evidenceOf(r.evidence, "E3")?.detail.perLayer ?? []).slice().sort((x, y) => x.b - y.b);
}

/** E4's screen: agreement of every B layer (rows) with every A layer (columns), when it was run. */
export function layerScreen(r: CompareResult): number[][] {
  return evidenceOf(r.evidence, "E4")?.detail.screen ?? [];
}

/** Best agreement fraction over the layer's MLP pairs. */
export function agreementFraction(p: NeuronLayer): number {
  return p.mlps.reduce((m, t) => Math.max(m, t.compared ? t.agreements / t.compared : 0), 0);
}

export function reuseOf(r: CompareResult): Reuse | null {
  return r.reuse ?? null;
}

/** Layer counts and content ids of the two sides (compare's `models`). */
export interface SideFacts {
  spec: string | null;
  contentId: string | null;
  architecture: string | null;
  layers: number;
}

export function sidesOf(r: CompareResult): { a: SideFacts; b: SideFacts } | null {
  const m = r.models;
  if (!m) return null;
  const side = (o: CompareResult["models"]["a"]): SideFacts => ({
    spec: o.spec ?? null,
    contentId: o.contentId,
    architecture: o.architecture ?? null,
    layers: o.layers,
  });
  return { a: side(m.a), b: side(m.b) };
}

export function notesOf(r: CompareResult): string[] {
  return r.notes ?? [];
}
