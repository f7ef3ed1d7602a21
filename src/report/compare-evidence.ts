import type { CompareResult, Evidence } from "../compare/types.js";

/**
 * The reports read compare's evidence rows only through these accessors: which method a row is,
 * what its statistic measures, and the per-layer details the plots need. A change to how a row names
 * its method (a string today) then touches this file alone.
 */

export type EvidenceId = "E0" | "E1" | "E2" | "E3" | "E4" | "E5" | "E6" | "E7";

const IDS: readonly EvidenceId[] = ["E0", "E1", "E2", "E3", "E4", "E5", "E6", "E7"];

/** The method's id: "E3" for "E3 neuron matching (…)". */
export function evidenceId(e: Evidence): EvidenceId | null {
  const id = e.method.slice(0, 2);
  return IDS.find((x) => x === id) ?? null;
}

/** Rows in method order E0 … E7; rows of one method keep the order compare gave them. */
export function evidenceInOrder(r: CompareResult): Evidence[] {
  const rank = (e: Evidence) => {
    const id = evidenceId(e);
    return id === null ? IDS.length : IDS.indexOf(id);
  };
  return r.evidence
    .map((e, i) => ({ e, i }))
    .sort((x, y) => rank(x.e) - rank(y.e) || x.i - y.i)
    .map((x) => x.e);
}

export function findEvidence(r: CompareResult, id: EvidenceId): Evidence | undefined {
  return r.evidence.find((e) => evidenceId(e) === id);
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
      return e.method.includes("merge")
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
export interface NeuronLayer {
  b: number;
  a: number;
  log10P: number;
  mlps: { agreements: number; compared: number }[];
}

function isNeuronLayer(x: unknown): x is NeuronLayer {
  if (typeof x !== "object" || x === null) return false;
  const o = x as Record<string, unknown>;
  return (
    typeof o.b === "number" &&
    typeof o.a === "number" &&
    typeof o.log10P === "number" &&
    Array.isArray(o.mlps)
  );
}

/** E3's per-layer tests, by B layer. */
export function neuronLayers(r: CompareResult): NeuronLayer[] {
  const list = findEvidence(r, "E3")?.detail.perLayer;
  return (Array.isArray(list) ? list.filter(isNeuronLayer) : []).sort((x, y) => x.b - y.b);
}

/** E4's screen: agreement of every B layer (rows) with every A layer (columns), when it was run. */
export function layerScreen(r: CompareResult): number[][] {
  const screen = findEvidence(r, "E4")?.detail.screen;
  if (!Array.isArray(screen)) return [];
  return screen.map((row) => (Array.isArray(row) ? row.map((v) => (typeof v === "number" ? v : 0)) : []));
}

/** Best agreement fraction over the layer's MLP pairs. */
export function agreementFraction(p: NeuronLayer): number {
  return p.mlps.reduce((m, t) => Math.max(m, t.compared ? t.agreements / t.compared : 0), 0);
}

/** What B reused from A (compare's `reuse`), read defensively: older results may lack fields. */
export interface ReuseView {
  neuronMaps: { b: number; a: number; neuronsA: number; neuronsB: number; matched: number }[];
  expertMaps: { b: number; expert: number; a: number; agreements: number; compared: number }[];
  identicalTensors: { a: string; b: string; elements: number }[];
  hiddenPermuted: boolean;
}

const list = (v: unknown): Record<string, unknown>[] =>
  Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => typeof x === "object" && x !== null) : [];
const num = (v: unknown): number => (typeof v === "number" ? v : 0);
const str = (v: unknown): string => (typeof v === "string" ? v : "");

export function reuseOf(r: CompareResult): ReuseView | null {
  const reuse = r.reuse;
  if (typeof reuse !== "object" || reuse === null) return null;
  const o = reuse as Record<string, unknown>;
  return {
    neuronMaps: list(o.neuronMaps).map((m) => ({
      b: num(m.b),
      a: num(m.a),
      neuronsA: num(m.neuronsA),
      neuronsB: num(m.neuronsB),
      matched: num(m.matched),
    })),
    expertMaps: list(o.expertMaps).map((m) => ({
      b: num(m.b),
      expert: num(m.expert),
      a: num(m.a),
      agreements: num(m.agreements),
      compared: num(m.compared),
    })),
    identicalTensors: list(o.identicalTensors).map((t) => ({
      a: str(t.a),
      b: str(t.b),
      elements: num(t.elements),
    })),
    hiddenPermuted: typeof o.hiddenPermutation === "object" && o.hiddenPermutation !== null,
  };
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
  if (typeof m !== "object" || m === null) return null;
  const side = (v: unknown): SideFacts => {
    const o = typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {};
    return {
      spec: typeof o.spec === "string" ? o.spec : null,
      contentId: typeof o.contentId === "string" ? o.contentId : null,
      architecture: typeof o.architecture === "string" ? o.architecture : null,
      layers: num(o.layers),
    };
  };
  const o = m as Record<string, unknown>;
  return { a: side(o.a), b: side(o.b) };
}

export function notesOf(r: CompareResult): string[] {
  return Array.isArray(r.notes) ? r.notes.filter((n): n is string => typeof n === "string") : [];
}
