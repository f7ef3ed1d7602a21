import { at } from "../checked.js";
import type { LayerSketch, MlpSketch, Sketches } from "../fingerprint/sketch/types.js";
import type { FeatureSpace } from "./features.js";
import { type LayerPairResult, testLayerPair } from "./layers.js";

/**
 * Diagonal layer tests (A layer i ↔ B layer i) as a message for a worker thread: the listed layers'
 * MLP sketches and what mlpFeatures reads of each side (the feature token lists and native width),
 * nothing else. The embeddings, the attention sketches and the other layers stay behind, so a job is
 * a few megabytes per layer however large the fingerprints are.
 */
export interface LayerJob {
  /** Layer indices; the sketches below hold exactly these layers, in this order. */
  indices: number[];
  a: Sketches;
  b: Sketches;
  space: FeatureSpace;
}

export function layerJob(a: Sketches, b: Sketches, indices: number[], space: FeatureSpace): LayerJob {
  return { indices, a: slimSketches(a, indices), b: slimSketches(b, indices), space };
}

/** testLayerPair(a, b, i, i, space, 1) for each listed layer i, as alignLayers runs it. */
export function runLayerJob(job: LayerJob): (LayerPairResult | null)[] {
  return job.indices.map((index, k) => {
    const r = testLayerPair(job.a, job.b, k, k, job.space, 1);
    return r && { ...r, a: index, b: index };
  });
}

function slimSketches(sk: Sketches, indices: number[]): Sketches {
  return {
    ...sk,
    alignTokens: [],
    alignEmbed: new Float32Array(0),
    idEmbed: new Float32Array(0),
    layers: indices.map((i) => slimLayer(at(sk.layers, i, "layer"))),
  };
}

function slimLayer(l: LayerSketch): LayerSketch {
  return {
    index: l.index,
    kind: l.kind,
    mlps: l.mlps.map(slimMlp),
    qk: null,
    invariantTokens: 0,
    qkNorms: null,
    attn: null,
  };
}

function slimMlp(m: MlpSketch): MlpSketch {
  const out: MlpSketch = {
    ...m,
    rows: own(m.rows),
    gate: own(m.gate),
    up: own(m.up),
    gateNative: own(m.gateNative),
    upNative: own(m.upNative),
    gateId: own(m.gateId),
    upId: own(m.upId),
    norms: { gate: own(m.norms.gate), up: own(m.norms.up), down: own(m.norms.down) },
  };
  // Non-gated MLPs only: the keys stay absent on gated ones, as in the sketch.
  if ("down" in m) out.down = own(m.down ?? null);
  if ("downNative" in m) out.downNative = own(m.downNative ?? null);
  if ("downId" in m) out.downId = own(m.downId ?? null);
  return out;
}

/**
 * The array itself when it spans its whole buffer, else a copy: a structured clone sends a view's
 * entire underlying buffer, and a fingerprint read from a file keeps its arrays as views into the
 * decompressed payload (tens of megabytes, which every job would otherwise carry).
 */
function own<T extends Uint8Array | Uint16Array | Int32Array | null>(x: T): T {
  if (x === null || (x.byteOffset === 0 && x.byteLength === x.buffer.byteLength)) return x;
  return x.slice() as T;
}
