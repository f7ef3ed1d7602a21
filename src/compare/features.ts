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

/** One of a neuron's stored views: gate row, up row, down column. */
export type View = "gate" | "up" | "down";

/**
 * The two views of each neuron E3 matches on, both sides alike. Gated MLPs: gate rows and up rows.
 * Non-gated MLPs (gpt2, gpt_neox): down columns and up rows — what a neuron writes and what it reads.
 */
export interface NeuronViews {
  kind: "gate/up" | "down/up";
  /** First view (its cosine is the drift measure), second view. */
  views: readonly [View, View];
  /**
   * Per view, whether rows are matched on |cosine|: only for a view whose sign can flip without
   * changing the function. In SwiGLU, silu(g)·u is linear in u, so an up row and its down column
   * may flip sign together; silu is not odd, so gate rows keep their sign. In act(x·upᵀ)·downᵀ with
   * GELU or ReLU, act is not odd: negating an up row (with its bias) changes which inputs the neuron
   * fires on, and negating a down column alone changes the output, so both views are signed there.
   * The choice does not touch the null (any fixed rule on independent features); signed cosines
   * only sharpen the match of derived neurons.
   */
  abs: readonly [boolean, boolean];
}

const GATED: NeuronViews = { kind: "gate/up", views: ["gate", "up"], abs: [false, true] };
const NON_GATED: NeuronViews = { kind: "down/up", views: ["down", "up"], abs: [false, false] };

/** The view pair an MLP sketch carries: gate/up when gated, down/up when it stores down columns. */
export function viewsOf(m: MlpSketch): NeuronViews | null {
  if (m.gate) return GATED;
  return m.down ? NON_GATED : null;
}

/** The pair both MLPs carry; null when they differ (a gated MLP against a non-gated one). */
export function commonViews(a: MlpSketch, b: MlpSketch): NeuronViews | null {
  const va = viewsOf(a);
  return va && va === viewsOf(b) ? va : null;
}

/**
 * A note when no MLP of A carries the same view pair as any MLP of B (one model gated, the other
 * not): E3 has no common test then, and the note says why it did not run. Null otherwise.
 */
export function viewMismatch(a: Sketches, b: Sketches): string | null {
  const kinds = (sk: Sketches) =>
    new Set(sk.layers.flatMap((l) => l.mlps.map((m) => viewsOf(m)?.kind).filter((k) => k !== undefined)));
  const ka = kinds(a);
  const kb = kinds(b);
  if (ka.size === 0 || kb.size === 0 || [...ka].some((k) => kb.has(k))) return null;
  const say = (k: Set<string>) => (k.has("gate/up") ? "gated (gate/up views)" : "non-gated (down/up views)");
  return `A's MLPs are ${say(ka)}, B's are ${say(kb)}: a gated and a non-gated MLP share no pair of neuron views, so no E3 neuron test ran`;
}

/** The stored anchor / native / id features of one view of an MLP. */
function viewArrays(m: MlpSketch, which: View) {
  if (which === "gate") return { anchor: m.gate, native: m.gateNative, id: m.gateId };
  if (which === "up") return { anchor: m.up, native: m.upNative, id: m.upId };
  return { anchor: m.down ?? null, native: m.downNative ?? null, id: m.downId ?? null };
}

/**
 * Unit-row features of one view of an MLP's neurons, in the shared space; null when unavailable. One
 * row per stored neuron (rows.ts maps a row to its neuron index when the sketch keeps a subset).
 */
export function mlpFeatures(
  sk: Sketches,
  mlp: MlpSketch,
  which: View,
  family: Family,
  space: FeatureSpace,
  side: "a" | "b",
): FeatureMatrix | null {
  // One comparison asks for the same matrix several times (the layer screen, the test of each B
  // expert against one dense A FFN, the merge fit): small ones are kept for as long as the space
  // object lives. Large ones (a 1B model's layers are 4 MB each) are recomputed, to bound memory.
  const key = `${which}|${family}|${side}`;
  const cached = cacheOf(space, mlp).get(key);
  if (cached !== undefined) return cached;
  const m = computeMlpFeatures(sk, mlp, which, family, space, side);
  if (!m || m.data.length <= CACHE_MAX_VALUES) cacheOf(space, mlp).set(key, m);
  return m;
}

/** Largest feature matrix kept by mlpFeatures' cache (1 MB of float32). */
const CACHE_MAX_VALUES = 1 << 18;
const featureCache = new WeakMap<FeatureSpace, WeakMap<MlpSketch, Map<string, FeatureMatrix | null>>>();

function cacheOf(space: FeatureSpace, mlp: MlpSketch): Map<string, FeatureMatrix | null> {
  let bySpace = featureCache.get(space);
  if (!bySpace) {
    bySpace = new WeakMap();
    featureCache.set(space, bySpace);
  }
  let byMlp = bySpace.get(mlp);
  if (!byMlp) {
    byMlp = new Map();
    bySpace.set(mlp, byMlp);
  }
  return byMlp;
}

/**
 * mlpFeatures of the listed stored rows only, in that order: equal to selectRows(mlpFeatures(…), rows)
 * (every step works row by row), at the cost of those rows. Not cached.
 */
export function mlpFeatureRows(
  sk: Sketches,
  mlp: MlpSketch,
  which: View,
  family: Family,
  space: FeatureSpace,
  side: "a" | "b",
  rows: readonly number[],
): FeatureMatrix | null {
  return computeMlpFeatures(sk, mlp, which, family, space, side, rows);
}

function computeMlpFeatures(
  sk: Sketches,
  mlp: MlpSketch,
  which: View,
  family: Family,
  space: FeatureSpace,
  side: "a" | "b",
  rows: readonly number[] | null = null,
): FeatureMatrix | null {
  const stored = viewArrays(mlp, which);
  if (family === "anchor") {
    const cols = side === "a" ? space.colsA : space.colsB;
    const useId = side === "a" ? space.useIdA : space.useIdB;
    const q = useId ? stored.id : stored.anchor;
    if (!q || cols.length < MIN_SHARED_ANCHORS) return null;
    const width = useId ? sk.idTokens.length : sk.featureTokens.length;
    const picked = pickRows(q, width, storedCount(mlp), rows);
    return normalizeRows(
      selectColumns({ data: dequantizeRows(picked.q), rows: picked.rows, cols: width }, cols),
    );
  }
  if (!stored.native) return null;
  const picked = pickRows(stored.native, sk.nativeCols, storedCount(mlp), rows);
  return normalizeRows({ data: dequantizeRows(picked.q), rows: picked.rows, cols: sk.nativeCols });
}

/** The listed rows of an n × width byte matrix (all of it for null). */
function pickRows(q: Uint8Array, width: number, n: number, rows: readonly number[] | null) {
  if (!rows) return { q, rows: n };
  const out = new Uint8Array(rows.length * width);
  rows.forEach((r, i) => {
    out.set(q.subarray(r * width, (r + 1) * width), i * width);
  });
  return { q: out, rows: rows.length };
}

/** Embedding rows of a side's id anchors (for E2 in id mode): names and rows × d values. */
export function idEmbedding(sk: Sketches): { tokens: string[]; embed: Float32Array } {
  return sk.tokenized
    ? { tokens: sk.idTokens, embed: sk.idEmbed }
    : { tokens: sk.alignTokens, embed: sk.alignEmbed };
}
