import { dequantizeRows } from "../fingerprint/sketch/project.js";
import type { MlpSketch, Sketches } from "../fingerprint/sketch/types.js";
import { type FeatureMatrix, normalizeRows, selectColumns } from "./match/similarity.js";

/**
 * Puts the two models' neuron features in one coordinate system: anchor features restricted to the
 * feature tokens both vocabularies contain (same order on both sides), native features as stored
 * (valid only when both models used the same projection seed and hidden size).
 */

/** Fewer shared feature tokens than this and anchor features carry too little to match neurons. */
export const MIN_SHARED_ANCHORS = 16;

export interface FeatureSpace {
  /** Column indices into each side's feature tokens, in the same token order. */
  colsA: number[];
  colsB: number[];
  sharedTokens: string[];
  nativeComparable: boolean;
}

export function featureSpace(a: Sketches, b: Sketches): FeatureSpace {
  const indexB = new Map(b.featureTokens.map((t, i) => [t, i] as const));
  const colsA: number[] = [];
  const colsB: number[] = [];
  const sharedTokens: string[] = [];
  a.featureTokens.forEach((t, i) => {
    const j = indexB.get(t);
    if (j === undefined) return;
    colsA.push(i);
    colsB.push(j);
    sharedTokens.push(t);
  });
  const nativeComparable =
    a.hidden === b.hidden && a.nativeSeed === b.nativeSeed && a.nativeCols === b.nativeCols;
  return { colsA, colsB, sharedTokens, nativeComparable };
}

export type Family = "anchor" | "native";

/** Unit-row features of one MLP's gate or up rows, in the shared space; null when unavailable. */
export function mlpFeatures(
  sk: Sketches,
  mlp: MlpSketch,
  which: "gate" | "up",
  family: Family,
  cols: number[],
): FeatureMatrix | null {
  if (family === "anchor") {
    const q = which === "gate" ? mlp.gate : mlp.up;
    if (!q || cols.length < MIN_SHARED_ANCHORS) return null;
    const full = { data: dequantizeRows(q), rows: mlp.neurons, cols: sk.featureTokens.length };
    return normalizeRows(selectColumns(full, cols));
  }
  const q = which === "gate" ? mlp.gateNative : mlp.upNative;
  if (!q) return null;
  return normalizeRows({ data: dequantizeRows(q), rows: mlp.neurons, cols: sk.nativeCols });
}
