import { dequantizeRows } from "../fingerprint/sketch/project.js";
import type { MlpSketch, Sketches } from "../fingerprint/sketch/types.js";
import { type FeatureMatrix, normalizeRows, selectColumns } from "./match/similarity.js";
import { storedCount } from "./rows.js";

/**
 * Puts the two models' neuron features in one coordinate system: anchor features restricted to the
 * feature tokens both vocabularies contain (same order on both sides), native features as stored
 * (valid only when both models used the same projection seed and hidden size).
 *
 * When a side has no tokenizer there are no token strings to share. If both embedding tables have the
 * same number of rows, the space falls back to id anchors: token id i on one side is assumed to be
 * token id i on the other (true for a re-packaged copy, e.g. a GGUF written without tokenizer). The
 * assumption cannot make unrelated models look related (under H0 any fixed pairing of tokens gives
 * independent features), it only decides whether the test has power; `idConfirmation` measures it.
 */

/** Fewer shared feature tokens than this and anchor features carry too little to match neurons. */
export const MIN_SHARED_ANCHORS = 16;

/** "token": shared token strings; "id": id i ↔ id i (a side lacks a tokenizer); "none": no anchors. */
export type AnchorMode = "token" | "id" | "none";

export interface FeatureSpace {
  /** Column indices into each side's anchor features (see `useIdA/B`), in the same token order. */
  colsA: number[];
  colsB: number[];
  sharedTokens: string[];
  nativeComparable: boolean;
  mode: AnchorMode;
  /** True when that side's anchor columns are its id features (gateId/upId) rather than gate/up. */
  useIdA: boolean;
  useIdB: boolean;
}

/** A side's id-anchor names and, per name, its column in the features it will be read from. */
function idColumns(sk: Sketches): { names: string[]; useId: boolean } {
  return sk.tokenized ? { names: sk.idTokens, useId: true } : { names: sk.featureTokens, useId: false };
}

function intersect(a: readonly string[], b: readonly string[]) {
  const indexB = new Map(b.map((t, i) => [t, i] as const));
  const colsA: number[] = [];
  const colsB: number[] = [];
  const sharedTokens: string[] = [];
  a.forEach((t, i) => {
    const j = indexB.get(t);
    if (j === undefined) return;
    colsA.push(i);
    colsB.push(j);
    sharedTokens.push(t);
  });
  return { colsA, colsB, sharedTokens };
}

export function featureSpace(a: Sketches, b: Sketches): FeatureSpace {
  const nativeComparable =
    a.hidden === b.hidden && a.nativeSeed === b.nativeSeed && a.nativeCols === b.nativeCols;
  if (a.tokenized && b.tokenized) {
    const s = intersect(a.featureTokens, b.featureTokens);
    return { ...s, nativeComparable, mode: "token", useIdA: false, useIdB: false };
  }
  if (a.vocabSize !== b.vocabSize)
    return {
      colsA: [],
      colsB: [],
      sharedTokens: [],
      nativeComparable,
      mode: "none",
      useIdA: false,
      useIdB: false,
    };
  const ia = idColumns(a);
  const ib = idColumns(b);
  const s = intersect(ia.names, ib.names);
  return { ...s, nativeComparable, mode: "id", useIdA: ia.useId, useIdB: ib.useId };
}

/** True when the space can run the basis-free (anchor) neuron test. */
export function anchorsUsable(space: FeatureSpace): boolean {
  return space.colsA.length >= MIN_SHARED_ANCHORS;
}

export type Family = "anchor" | "native";

/**
 * Unit-row features of one MLP's gate or up rows, in the shared space; null when unavailable. One row
 * per stored neuron (rows.ts maps a row to its neuron index when the sketch keeps a subset).
 */
export function mlpFeatures(
  sk: Sketches,
  mlp: MlpSketch,
  which: "gate" | "up",
  family: Family,
  space: FeatureSpace,
  side: "a" | "b",
): FeatureMatrix | null {
  if (family === "anchor") {
    const cols = side === "a" ? space.colsA : space.colsB;
    const useId = side === "a" ? space.useIdA : space.useIdB;
    const q = useId ? (which === "gate" ? mlp.gateId : mlp.upId) : which === "gate" ? mlp.gate : mlp.up;
    if (!q || cols.length < MIN_SHARED_ANCHORS) return null;
    const width = useId ? sk.idTokens.length : sk.featureTokens.length;
    const full = { data: dequantizeRows(q), rows: storedCount(mlp), cols: width };
    return normalizeRows(selectColumns(full, cols));
  }
  const q = which === "gate" ? mlp.gateNative : mlp.upNative;
  if (!q) return null;
  return normalizeRows({ data: dequantizeRows(q), rows: storedCount(mlp), cols: sk.nativeCols });
}

/** Embedding rows of a side's id anchors (for E2 in id mode): names and rows × d values. */
export function idEmbedding(sk: Sketches): { tokens: string[]; embed: Float32Array } {
  return sk.tokenized
    ? { tokens: sk.idTokens, embed: sk.idEmbed }
    : { tokens: sk.alignTokens, embed: sk.alignEmbed };
}
