import { openCheckpoint } from "../formats/open.js";
import type { Checkpoint } from "../formats/types.js";
import type { ModelView } from "../model/types.js";
import { type ArchitectureMapping, buildModelView } from "../model/view.js";
import { computeSketches, type LayerSketch, type Sketches } from "./sketch/index.js";
import type { TokenizerSignature } from "./types.js";

/**
 * Sketches split by layer across the pool (DESIGN §6): each layer's sketch depends only on that
 * layer and the embedding anchors, so computeSketches on a view restricted to some layers gives
 * exactly those layers' entries. The main thread computes the layer-free part, workers the layers
 * (round-robin), and the merge keeps view order, so the result equals one in-process call — the
 * 1-vs-2-thread identity tests check that it does.
 */
export interface SketchLayersRequest {
  spec: string;
  mapping: ArchitectureMapping | null;
  tokenizer: TokenizerSignature | null;
  layers: number[];
  /** Sketch byte budget (undefined = the default); the fraction is taken over the whole view. */
  budgetBytes?: number | undefined;
}

/** Worker side: opens the checkpoint itself (handles cannot cross threads) and sketches `layers`. */
export async function sketchLayersFromSpec(req: SketchLayersRequest): Promise<LayerSketch[]> {
  const ckpt = await openCheckpoint(req.spec);
  try {
    const view = buildModelView(ckpt, req.mapping ? { mapping: req.mapping } : {});
    const sub = restrict(view, req.layers);
    // The neuron budget counts every layer of the model, not just this worker's share.
    const opts = { budgetBytes: req.budgetBytes, budgetLayers: view.layers };
    return (await computeSketches({ ckpt, view: sub, tokenizer: req.tokenizer, ...opts })).layers;
  } finally {
    await ckpt.close();
  }
}

function restrict(view: ModelView, layers: number[]): ModelView {
  const keep = new Set(layers);
  return { ...view, layers: view.layers.filter((l) => keep.has(l.index)) };
}

export type LayerSketcher = (req: SketchLayersRequest, worker: number) => Promise<LayerSketch[]>;

/** Main side: the layer-free part here, layers on `workers` workers through `run`. */
export async function sketchesInParallel(
  ckpt: Checkpoint,
  view: ModelView,
  base: Omit<SketchLayersRequest, "layers">,
  workers: number,
  run: LayerSketcher,
): Promise<Sketches> {
  const head = await computeSketches({ ckpt, view: restrict(view, []), tokenizer: base.tokenizer });
  const groups: number[][] = Array.from({ length: workers }, () => []);
  view.layers.forEach((l, i) => {
    groups[i % workers]?.push(l.index);
  });
  const parts = await Promise.all(
    groups.map((layers, w) => (layers.length ? run({ ...base, layers }, w) : [])),
  );
  const byIndex = new Map(parts.flat().map((s) => [s.index, s]));
  const layers = view.layers
    .map((l) => byIndex.get(l.index))
    .filter((s): s is LayerSketch => s !== undefined);
  return { ...head, layers };
}
